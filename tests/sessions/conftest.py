"""Shared sessions for the tests: real exchange_calendars XNYS data (offline, in the package)."""

from __future__ import annotations

from datetime import date

import pytest

from orchestrator.sessions import Sessions, sessions_from_calendar


@pytest.fixture(scope="session")
def xnys() -> Sessions:
    """XNYS regular sessions for 2026-01-01 to 2027-06-30."""
    return sessions_from_calendar("XNYS", date(2026, 1, 1), date(2027, 6, 30))
