"""IB's contract details, cached per contract in state.db with the time they were read.

The engine asks IB for every contract a plan names (``reqContractDetails``) before sizing it and
refreshes the row at every start; the row is what sizing, rounding and the console show when
they need the contract's multiplier, currency, minimum tick, market rules (the price ladder the
rule ids name), trading and liquid hours, time zone and long name. ``key`` is the engine's name
of the contract (``machines.instruments.contract_key``).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from .codec import iso, parse_iso
from .tx import Tables

CONTRACT_DDL = """CREATE TABLE contracts (
    key VARCHAR PRIMARY KEY,
    con_id INTEGER NOT NULL,
    details VARCHAR NOT NULL,
    fetched_at VARCHAR NOT NULL
)"""


@dataclass(frozen=True, slots=True)
class ContractDetails:
    """What the engine keeps of IB's contract details (prices and money as exact text)."""

    con_id: int
    symbol: str
    sec_type: str
    exchange: str
    currency: str
    local_symbol: str = ""
    multiplier: str = "1"
    min_tick: str = ""
    market_rule_ids: str = ""
    price_rule: list[tuple[str, str]] = field(default_factory=list)  # (low edge, increment), lowest first
    long_name: str = ""
    trading_hours: str = ""
    liquid_hours: str = ""
    time_zone: str = ""
    contract_month: str = ""

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> ContractDetails:
        data: dict[str, Any] = json.loads(text)
        data["price_rule"] = [tuple(level) for level in data.get("price_rule", [])]
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


class Contracts(Tables):
    """The ``contracts`` table."""

    def save_contract(self, key: str, details: ContractDetails, *, at: datetime) -> None:
        with self._tx():
            self.db.execute("INSERT OR REPLACE INTO contracts(key, con_id, details, fetched_at) VALUES (?,?,?,?)",
                            (key, details.con_id, details.to_json(), iso(at)))

    def load_contract(self, key: str) -> tuple[ContractDetails, datetime] | None:
        """The cached details of ``key`` and when IB gave them (None: never looked up)."""
        row = self.db.execute("SELECT details, fetched_at FROM contracts WHERE key=?", (key,)).fetchone()
        if row is None:
            return None
        at = parse_iso(row[1])
        assert at is not None
        return ContractDetails.from_json(row[0]), at
