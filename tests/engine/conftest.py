"""Engine tests: IB's routine notices that ib_async logs at ERROR are not failures here."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _routine_ib_errors(log_guard) -> None:  # type: ignore[no-untyped-def]
    # 202 is IB's cancel acknowledgement; ib_async logs every error code at ERROR.
    log_guard.expect(r"Error 202, reqId \d+: Order Canceled")
