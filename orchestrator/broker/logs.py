"""IB's routine notices that ib_async logs at ERROR, shown at the level they deserve.

ib_async logs every IB error code at ERROR, including 202 ("Order Canceled"), which is IB's
acknowledgement of a cancel we sent ourselves: an operator reading ERROR lines must see
failures, not confirmations. IB's refusals of market data (354, 10089, 10168, 10197) are handled
by the engine (it falls back to delayed data, holds decisions on that symbol and tells the trader
once), so they are warnings. IB's 100 (pacing) is handled too (the pacer slows down, the engine
says it once per slow-down at WARNING and checks what IB refused): each one is INFO.
(2104/2106/2158, the farm "connection is OK" notices, ib_async already logs at INFO.)

Its client also logs every failed connection attempt at ERROR ("API connection failed:
TimeoutError()", "Make sure API port on TWS/IBG is open"), once per retry, with less than the
adapter's own WARNING line says for the same attempt (``unreachable.py``): those are dropped
unless DEBUG is on. A dropped socket ("Peer closed connection", "Connection reset by peer") is
followed by the engine's WARNING and notification: it is kept, at INFO.
"""

from __future__ import annotations

import logging
import re

_CANCEL_ACK = re.compile(r"^Error (?:202|10147|10148), reqId (-?\d+):")   # cancelled; not found; too late (done)
_MARKET_DATA = re.compile(r"^Error (354|10089|10168|10197), reqId -?\d+:")
_PACING = re.compile(r"^Error 100, reqId -?\d+:")
_CONNECTIVITY = re.compile(r"^Error (1100|1101|1102), reqId -?\d+:")   # handled: lost is a warning, back is news
IB_LOGGER = "ib_async.wrapper"
CLIENT_LOGGER = "ib_async.client"
_RETRY_NOISE = ("API connection failed:", "Make sure API port on TWS/IBG is open")
_SOCKET_GONE = ("Peer closed connection", "[Errno 104]", "Connection reset by peer")


class ConnectionNoise(logging.Filter):
    """ib_async's client lines about connecting and disconnecting, at the level they deserve."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.ERROR:
            return True
        text = record.getMessage()
        if text.startswith(_RETRY_NOISE):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return logging.getLogger(CLIENT_LOGGER).isEnabledFor(logging.DEBUG)
        if any(mark in text for mark in _SOCKET_GONE):
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


class RoutineNotices(logging.Filter):
    """Lowers to INFO the 202 (or 10147 "not found", 10148 "cannot be cancelled": done already) of
    a cancel of ours (``ours(order_id)``) and IB's connectivity restored (1101/1102), and to
    WARNING IB's refusals of market data and its connectivity lost (1100); with it, on
    ib_async's client logger, its :class:`ConnectionNoise`."""

    def __init__(self) -> None:
        super().__init__()
        self.cancelled: set[int] = set()
        self.connection = ConnectionNoise()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR:
            m = _CANCEL_ACK.match(record.getMessage())
            if m is not None and int(m[1]) in self.cancelled:
                record.levelno, record.levelname = logging.INFO, "INFO"
            elif _PACING.match(record.getMessage()):
                record.levelno, record.levelname = logging.INFO, "INFO"
            elif _MARKET_DATA.match(record.getMessage()):
                record.levelno, record.levelname = logging.WARNING, "WARNING"
            elif (c := _CONNECTIVITY.match(record.getMessage())) is not None:
                level = logging.WARNING if c[1] == "1100" else logging.INFO
                record.levelno, record.levelname = level, logging.getLevelName(level)
        return True

    def install(self) -> None:
        logging.getLogger(IB_LOGGER).addFilter(self)
        logging.getLogger(CLIENT_LOGGER).addFilter(self.connection)

    def remove(self) -> None:
        logging.getLogger(IB_LOGGER).removeFilter(self)
        logging.getLogger(CLIENT_LOGGER).removeFilter(self.connection)
