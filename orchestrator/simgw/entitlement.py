"""Market-data entitlement: what the account may see, and IB's answer to each request.

The account is entitled to ``live`` data (subscribed), ``delayed`` data only (the common
paper account) or ``none``; a symbol may differ from the gateway's default. A request asks
for the connection's market-data type (``reqMarketDataType``: 1 live, 2 frozen, 3 delayed,
4 delayed-frozen; frozen is treated as its unfrozen type, as the simulated market never
closes):

=============  ==========================  ===============================================
entitlement    type 1/2 requested          type 3/4 requested
=============  ==========================  ===============================================
live           live ticks (type 1)         live ticks (type 1): IB serves live when it can
delayed        error 354, no ticks         10167, then delayed ticks (type 3)
none           error 10089, no ticks       error 354, no ticks
=============  ==========================  ===============================================
"""

from __future__ import annotations

from dataclasses import dataclass

LIVE, DELAYED, NONE = "live", "delayed", "none"
MODES = (LIVE, DELAYED, NONE)

DELAYED_NOTICE = (10167, "Requested market data is not subscribed. Displaying delayed market data.")
COMPETING = (10197, "No market data during competing live session")
FARM_BROKEN = (2103, "Market data farm connection is broken:usfarm")
FARM_OK = (2104, "Market data farm connection is OK:usfarm")
FARM_NOTICES = (FARM_OK, (2106, "HMDS data farm connection is OK:ushmds"),
                (2158, "Sec-def data farm connection is OK:secdefnj"))


@dataclass(frozen=True, slots=True)
class Answer:
    """IB's answer to one request: the data type served (0 = refused) and the error it sends."""

    data_type: int
    code: int = 0
    text: str = ""


def _refusal(mode: str, wants_delayed: bool, symbol: str, exchange: str) -> Answer:
    where = f"{symbol} {exchange}.NMS/TOP/ALL"
    if mode == DELAYED:
        return Answer(0, 354, f"Requested market data is not subscribed. Delayed market data is available.{where}")
    if wants_delayed:
        return Answer(0, 354, f"Requested market data is not subscribed.{where}")
    return Answer(0, 10089, "Requested market data requires additional subscription for API. See link in "
                            f"'Market Data Connections' dialog for more details.{where}")


class Entitlement:
    """The account's market-data entitlement, per gateway and per symbol."""

    def __init__(self, mode: str = LIVE) -> None:
        self.default = check_mode(mode)
        self.by_symbol: dict[str, str] = {}

    def set(self, mode: str, symbol: str | None = None) -> None:
        """Entitle the account (or one symbol) to ``live``, ``delayed`` or ``none``."""
        mode = check_mode(mode)
        if symbol is None:
            self.default = mode
            self.by_symbol.clear()
        else:
            self.by_symbol[symbol] = mode

    def of(self, symbol: str) -> str:
        return self.by_symbol.get(symbol, self.default)

    def answer(self, symbol: str, exchange: str, requested: int) -> Answer:
        """What IB serves a request of type ``requested`` for ``symbol``."""
        mode = self.of(symbol)
        wants_delayed = requested in (3, 4)
        if mode == LIVE:
            return Answer(1)
        if mode == DELAYED and wants_delayed:
            return Answer(3, *DELAYED_NOTICE)
        return _refusal(mode, wants_delayed, symbol, exchange)

    def to_json(self) -> dict[str, object]:
        return {"default": self.default, "by_symbol": dict(self.by_symbol)}


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise ValueError(f"market data mode {mode!r}: use live, delayed or none")
    return mode
