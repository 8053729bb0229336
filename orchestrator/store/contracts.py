"""IB's contract details, cached per contract in state.db with the time they were read.

The engine asks IB for every contract a plan names (``reqContractDetails``) before sizing it and
refreshes the row at every start; the row is what sizing, rounding and the console show when
they need the contract's multiplier, currency, minimum tick, market rules (the price ladder the
rule ids name), trading and liquid hours, time zone and long name. ``key`` is the engine's name
of the contract (``machines.instruments.contract_key``).
"""

from __future__ import annotations

from datetime import datetime

from ..contractinfo import ContractDetails
from .codec import iso, parse_iso
from .tx import Tables

CONTRACT_DDL = """CREATE TABLE contracts (
    key VARCHAR PRIMARY KEY,
    con_id INTEGER NOT NULL,
    details VARCHAR NOT NULL,
    fetched_at VARCHAR NOT NULL
)"""


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

    def cached_details(self, key: str) -> ContractDetails | None:
        """The cached details of ``key`` alone (None: never looked up)."""
        cached = self.load_contract(key)
        return cached[0] if cached is not None else None
