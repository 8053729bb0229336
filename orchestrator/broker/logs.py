"""IB's routine notices that ib_async logs at ERROR, shown at the level they deserve.

ib_async logs every IB error code at ERROR, including 202 ("Order Canceled"), which is IB's
acknowledgement of a cancel we sent ourselves: an operator reading ERROR lines must see
failures, not confirmations. (2104/2106/2158, the farm "connection is OK" notices, ib_async
already logs at INFO.)
"""

from __future__ import annotations

import logging
import re

_CANCEL_ACK = re.compile(r"^Error 202, reqId (-?\d+):")
IB_LOGGER = "ib_async.wrapper"


class RoutineNotices(logging.Filter):
    """Lowers to INFO the 202 of a cancel of ours (``ours(order_id)``)."""

    def __init__(self) -> None:
        super().__init__()
        self.cancelled: set[int] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR:
            m = _CANCEL_ACK.match(record.getMessage())
            if m is not None and int(m[1]) in self.cancelled:
                record.levelno, record.levelname = logging.INFO, "INFO"
        return True

    def install(self) -> None:
        logging.getLogger(IB_LOGGER).addFilter(self)

    def remove(self) -> None:
        logging.getLogger(IB_LOGGER).removeFilter(self)
