"""Shared test machinery.

* ``async def`` tests run in a fresh event loop (``asyncio.run``) with a ceiling; pytest-asyncio
  is not used.
* ``log_guard`` (autouse) fails a test when ib_async, asyncio or the orchestrator logs at ERROR or
  above, unless the test declared it with ``log_guard.expect("regex")``.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import re

import pytest

ASYNC_TEST_TIMEOUT = 60.0


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    names = pyfuncitem._fixtureinfo.argnames
    kwargs = {name: pyfuncitem.funcargs[name] for name in names}
    timeout = ASYNC_TEST_TIMEOUT
    marker = pyfuncitem.get_closest_marker("async_timeout")
    if marker is not None:
        timeout = float(marker.args[0])

    async def runner() -> None:
        await asyncio.wait_for(pyfuncitem.obj(**kwargs), timeout)

    asyncio.run(runner())
    return True


class LogGuard(logging.Handler):
    """Collects ERROR records of ib_async, asyncio and the orchestrator."""

    LOGGERS = ("ib_async", "asyncio", "orchestrator")

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []
        self.expected: list[re.Pattern[str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def expect(self, *patterns: str) -> None:
        """Declare ERROR messages (regular expressions, searched) this test expects."""
        self.expected.extend(re.compile(p) for p in patterns)

    def messages(self) -> list[str]:
        out = []
        for r in self.records:
            text = r.getMessage()
            if r.exc_info:
                text += " | " + logging.Formatter().formatException(r.exc_info).splitlines()[-1]
            out.append(f"{r.name}: {text}")
        return out

    def unexpected(self) -> list[str]:
        return [m for m in self.messages() if not any(p.search(m) for p in self.expected)]


@pytest.fixture(autouse=True)
def log_guard() -> LogGuard:
    guard = LogGuard()
    loggers = [logging.getLogger(n) for n in LogGuard.LOGGERS]
    for lg in loggers:
        lg.addHandler(guard)
    try:
        yield guard
    finally:
        for lg in loggers:
            lg.removeHandler(guard)
    bad = guard.unexpected()
    assert not bad, "unexpected ERROR log records:\n" + "\n".join(bad)
