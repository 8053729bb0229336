"""Fixtures for the simulated gateway tests.

``async def`` tests and the autouse ``log_guard`` come from ``tests/conftest.py``; helpers
(gateway/connect context managers, waiting, journal reading) live in ``helpers.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def journal_file(tmp_path: Path) -> Path:
    return tmp_path / "journal.jsonl"
