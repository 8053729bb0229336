"""A logging handler that makes unexpected ERROR records fail a test (see ``log_guard``)."""

from __future__ import annotations

import logging
import re


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
