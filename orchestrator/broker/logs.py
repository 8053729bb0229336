"""IB's routine notices that ib_async logs at ERROR, shown at the level they deserve.

ib_async logs every IB error code at ERROR, including 202 ("Order Canceled"), which is IB's
acknowledgement of a cancel we sent ourselves: an operator reading ERROR lines must see
failures, not confirmations. IB's refusals of market data (354, 10089, 10168, 10197) are handled
by the engine (it falls back to delayed data, holds decisions on that symbol and tells the trader
once), so they are warnings. (2104/2106/2158, the farm "connection is OK" notices, ib_async
already logs at INFO.)
"""

from __future__ import annotations

import logging
import re

_CANCEL_ACK = re.compile(r"^Error (?:202|10147), reqId (-?\d+):")   # cancelled; not found (nothing to cancel)
_MARKET_DATA = re.compile(r"^Error (354|10089|10168|10197), reqId -?\d+:")
_CONNECTIVITY = re.compile(r"^Error (1100|1101|1102), reqId -?\d+:")   # handled: lost is a warning, back is news
IB_LOGGER = "ib_async.wrapper"


class RoutineNotices(logging.Filter):
    """Lowers to INFO the 202 (or 10147, "not found") of a cancel of ours and IB's connectivity
    restored (1101/1102), and
    to WARNING IB's refusals of market data and its connectivity lost (1100)."""

    def __init__(self) -> None:
        super().__init__()
        self.cancelled: set[int] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR:
            m = _CANCEL_ACK.match(record.getMessage())
            if m is not None and int(m[1]) in self.cancelled:
                record.levelno, record.levelname = logging.INFO, "INFO"
            elif _MARKET_DATA.match(record.getMessage()):
                record.levelno, record.levelname = logging.WARNING, "WARNING"
            elif (c := _CONNECTIVITY.match(record.getMessage())) is not None:
                level = logging.WARNING if c[1] == "1100" else logging.INFO
                record.levelno, record.levelname = level, logging.getLevelName(level)
        return True

    def install(self) -> None:
        logging.getLogger(IB_LOGGER).addFilter(self)

    def remove(self) -> None:
        logging.getLogger(IB_LOGGER).removeFilter(self)
