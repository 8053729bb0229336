"""Shared test machinery.

* ``async def`` tests run in a fresh event loop (``asyncio.run``) with a ceiling; pytest-asyncio
  is not used.
* Hypothesis has no deadline anywhere: a property's verdict never depends on the machine's speed,
  which changes threefold between runs (a 200 ms deadline failed a pure test at load 1.3).
* ``log_guard`` (autouse) fails a test when ib_async, asyncio or the orchestrator logs at ERROR or
  above, unless the test declared it with ``log_guard.expect("regex")``.
"""

from __future__ import annotations

import asyncio
import inspect
import logging

import pytest
from hypothesis import settings

from . import procs
from .logguard import LogGuard

__all__ = ["LogGuard"]

ASYNC_TEST_TIMEOUT = 60.0

settings.register_profile("suite", deadline=None)
settings.load_profile("suite")


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    names = pyfuncitem._fixtureinfo.argnames
    kwargs = {name: pyfuncitem.funcargs[name] for name in names}
    async def runner() -> None:
        await asyncio.wait_for(pyfuncitem.obj(**kwargs), ASYNC_TEST_TIMEOUT)

    asyncio.run(runner())
    return True


@pytest.fixture(autouse=True)
def log_guard() -> LogGuard:
    guard = LogGuard()
    loggers = [logging.getLogger(n) for n in LogGuard.LOGGERS]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.addHandler(guard)
        if lg.getEffectiveLevel() > logging.ERROR:   # the demo and the bench silence ib_async for the
            lg.setLevel(logging.ERROR)               # process they run in: the guard must still hear it
    try:
        yield guard
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.removeHandler(guard)
            lg.setLevel(level)
    bad = guard.unexpected()
    assert not bad, "unexpected ERROR log records:\n" + "\n".join(bad)


@pytest.fixture(autouse=True)
def reaper() -> None:
    """A test that fails half-way leaves no gateway or daemon running (they would hold ports,
    store locks and CPU for the rest of the suite)."""
    yield
    procs.reap()
