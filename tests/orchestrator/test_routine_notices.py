"""IB's answers to our own cancels are routine (INFO); the same codes for anyone else's order stay ERROR."""

from __future__ import annotations

import logging

import pytest

from orchestrator.broker.logs import RoutineNotices


def _level(notices: RoutineNotices, message: str) -> str:
    record = logging.LogRecord("ib_async.wrapper", logging.ERROR, __file__, 1, message, None, None)
    notices.filter(record)
    return record.levelname


@pytest.mark.parametrize("code", [202, 10147, 10148])
def test_the_answer_to_a_cancel_of_ours_is_info_and_to_another_is_error(code: int) -> None:
    notices = RoutineNotices()
    notices.cancelled.add(14)
    assert _level(notices, f"Error {code}, reqId 14: cancel answered") == "INFO"
    assert _level(notices, f"Error {code}, reqId 15: cancel answered") == "ERROR"
