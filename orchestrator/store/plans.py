"""Plan rows, the journal, applied fills and the one-transaction commit of a step.

The columns of ``plans`` are derived from the dataclasses that declare them (``PlanSpec`` and
the figures of ``machines.Plan``): a Decimal travels as exact text, a bool as 0/1, a datetime as
ISO 8601 UTC, an enum as its value. The write path uses raw sqlite3 with prepared statements
(the ORM costs ~10× a raw commit); only the figures a step changed are written.
"""

from __future__ import annotations

import dataclasses
import functools
import sqlite3
import typing
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any

import machines
from machines import Plan, PlanSpec

from ..errors import StoreError
from .codec import dumps, is_broker_effect, iso, parse_iso
from .tx import Tables

Codec = tuple[str, Callable[[Any], Any] | None, Callable[[Any], Any] | None]


class StaleWrite(StoreError):
    """The plan row changed under us (another writer): the step was not committed."""


def _opt(convert: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda v: None if v is None else convert(v)


# A stored decimal's text → one shared Decimal (immutable, so sharing is safe): the same figures
# recur across plans (0 commissions, the same prices and risk), and 22 Decimals a plan were a
# third of a restart's memory with 10,000 live plans (bench/memory.py, P4). Bounded: ~1 MB.
_stored_decimal = functools.lru_cache(maxsize=4096, typed=True)(Decimal)


def _codec(name: str, hint: Any) -> Codec:
    """(column, to column, from column) for a field of this declared type; None: stored as it is."""
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    base = args[0] if len(args) == 1 else hint
    if base is Decimal:
        return name, _opt(str), _opt(_stored_decimal)
    if base is bool:
        return name, lambda v: int(bool(v)), bool
    if base is datetime:
        return name, iso, parse_iso
    if isinstance(base, type) and issubclass(base, Enum):
        return name, _opt(lambda v: v.value), _opt(base)
    return name, None, None


def _codecs(cls: type, names: Iterable[str]) -> list[Codec]:
    hints = typing.get_type_hints(cls)
    return [_codec(name, hints[name]) for name in names]


# the spec's columns keep their historical names: the schema's entry_type is PlanSpec.entry_type
_SPEC_CODECS = _codecs(PlanSpec, [f.name for f in dataclasses.fields(PlanSpec)])
_FIGURE_CODECS = _codecs(Plan, [n for n in machines.FIGURES if n != "updated_at"])
_FIGURE_NAMES = [c[0] for c in _FIGURE_CODECS]
_FULL_UPDATE = ("UPDATE plans SET state=?, version=?, updated_at=?, "
                + ", ".join(f"{n}=?" for n in _FIGURE_NAMES) + " WHERE id=? AND version=?")
_CHANGED_SQL: dict[tuple[str, ...], str] = {}


def _to_columns(obj: Any, codecs: list[Codec]) -> list[Any]:
    return [getattr(obj, name) if to is None else to(getattr(obj, name)) for name, to, _ in codecs]


def _changed_update(plan: Plan, before: dict[str, Any]) -> tuple[str, list[Any]]:
    """The UPDATE of only the figures that differ from ``before`` (few per step), and its values.
    Each distinct set of names is one SQL text, so sqlite3's statement cache still serves it."""
    names: list[str] = []
    values: list[Any] = []
    for name, to_column, _ in _FIGURE_CODECS:
        value = getattr(plan, name)
        if value != before[name] or type(value) is not type(before[name]):
            names.append(name)
            values.append(value if to_column is None else to_column(value))
    sql = _CHANGED_SQL.get(tuple(names))
    if sql is None:
        sql = _CHANGED_SQL[tuple(names)] = (
            "UPDATE plans SET state=?, version=?, updated_at=?" + "".join(f", {n}=?" for n in names)
            + " WHERE id=? AND version=?")
    return sql, values


# a plan's contract besides its symbol: NULL columns for a US stock on SMART (a plain PlanSpec)
_INSTRUMENT_COLUMNS = ("sec_type", "exchange", "primary_exchange", "currency", "contract_month", "local_symbol")


def _instrument_columns(spec: PlanSpec) -> list[Any]:
    i = spec.instrument
    if i.is_default:
        return [None] * len(_INSTRUMENT_COLUMNS)
    return [i.sec_type.value, i.exchange, i.primary_exchange, i.currency, i.contract_month, i.local_symbol]


def spec_from_row(r: sqlite3.Row | dict[str, Any]) -> PlanSpec:
    """The spec as it was stored: an ``InstrumentPlanSpec`` when the row names a contract, so a
    stock plan's spec (and its hash) is what it was before instruments existed."""
    values = {name: r[name] if frm is None else frm(r[name]) for name, _, frm in _SPEC_CODECS}
    sec_type = r["sec_type"] if "sec_type" in r.keys() else None
    if sec_type is None:
        return PlanSpec(**values)
    instrument = machines.Instrument(machines.SecType(sec_type), r["exchange"], r["primary_exchange"],
                                     r["currency"], r["contract_month"], r["local_symbol"])
    return machines.InstrumentPlanSpec(**values, instrument=instrument)


def plan_from_row(r: sqlite3.Row | dict[str, Any]) -> Plan:
    figures: dict[str, Any] = {name: r[name] if frm is None else frm(r[name]) for name, _, frm in _FIGURE_CODECS}
    figures["updated_at"] = parse_iso(r["updated_at"])
    plan = Plan(spec_from_row(r), state=r["state"], **figures)
    plan.version = r["version"]
    return plan


class PlanRows(Tables):
    """Plans, their journal and their applied fills; ``commit_step`` is the unit of work."""

    def plan_exists(self, plan_id: str) -> str | None:
        """The stored spec hash of ``plan_id``, or None if the plan is unknown."""
        row = self.db.execute("SELECT spec_hash FROM plans WHERE id=?", (plan_id,)).fetchone()
        return None if row is None else row[0]

    def plan_source(self, plan_id: str) -> str | None:
        """The plan file a stored plan was loaded from (None: unknown plan, or not recorded)."""
        row = self.db.execute("SELECT source_file FROM plans WHERE id=?", (plan_id,)).fetchone()
        return None if row is None else row[0]

    def insert_plan(self, spec: PlanSpec, *, at: datetime, source_file: str | None = None,
                    spec_hash: str = "") -> Plan:
        """Store a new plan in ``pending`` with journal row 0. Raises StoreError if the id exists."""
        plan = Plan(spec)
        plan.updated_at = at
        cols = [c[0] for c in _SPEC_CODECS] + [*_INSTRUMENT_COLUMNS, "source_file", "spec_hash", "state", "version",
                                              "created_at", "updated_at", *_FIGURE_NAMES]
        vals = [*_to_columns(spec, _SPEC_CODECS), *_instrument_columns(spec), source_file, spec_hash, plan.state, 0,
                iso(at), iso(at), *_to_columns(plan, _FIGURE_CODECS)]
        with self._tx():
            try:
                self.db.execute(f"INSERT INTO plans({','.join(cols)}) VALUES ({','.join('?' * len(cols))})", vals)
            except sqlite3.IntegrityError:
                raise StoreError(f"plan {spec.id} already exists in the store") from None
            self.db.execute(
                "INSERT INTO journal(plan_id, seq, from_state, to_state, event, payload, at, recorded_at) "
                "VALUES (?,?,?,?,?,?,?,?)",
                (spec.id, 0, None, plan.state, "PlanLoaded",
                 dumps({"source_file": source_file, "spec": spec}), iso(at), iso(at)))
        return plan

    def load_plans(self, states: Iterable[str] | None = None) -> list[Plan]:
        """Plans (all, or those in ``states``) with the execIds already applied to them."""
        if states is None:
            cur = self.db.execute("SELECT * FROM plans ORDER BY created_at, id")
        else:
            wanted = sorted(str(s) for s in states)
            cur = self.db.execute(
                f"SELECT * FROM plans WHERE state IN ({','.join('?' * len(wanted))}) ORDER BY created_at, id",
                wanted)
        names = [d[0] for d in cur.description]
        # a dict per row: sqlite3.Row looks names up by scanning the columns (~7 µs of a plan's 19);
        # rows decoded as the cursor yields them, never all fetched at once: the fetched rows of
        # 10,000 plans were most of a restart's peak memory (bench/memory.py, P4)
        plans = [plan_from_row(dict(zip(names, r, strict=True))) for r in cur]
        by_id = {p.id: p for p in plans}
        if by_id:
            for pid, exec_id, commission in self.db.execute("SELECT plan_id, exec_id, commission FROM fills"):
                p = by_id.get(pid)
                if p is not None:
                    p.seen_exec_ids.add(exec_id)
                    if commission is not None:
                        p.seen_commission_ids.add(exec_id)
        return plans

    def load_spec(self, plan_id: str) -> PlanSpec | None:
        """The plan as it was loaded (its spec only), or None if the plan is unknown."""
        row = self.db.execute("SELECT * FROM plans WHERE id=?", (plan_id,)).fetchone()
        return None if row is None else spec_from_row(row)

    def load_plan(self, plan_id: str) -> Plan | None:
        row = self.db.execute("SELECT * FROM plans WHERE id=?", (plan_id,)).fetchone()
        if row is None:
            return None
        plan = plan_from_row(row)
        for exec_id, commission in self.db.execute("SELECT exec_id, commission FROM fills WHERE plan_id=?",
                                                   (plan_id,)):
            plan.seen_exec_ids.add(exec_id)
            if commission is not None:
                plan.seen_commission_ids.add(exec_id)
        return plan

    def update_quietly(self, plan: Plan, *, before: dict[str, Any]) -> None:
        """Write the figures a journal-less step changed (the best price of a price tick)."""
        sql, values = _changed_update(plan, before)
        with self._tx():
            cur = self.db.execute(sql, [plan.state, plan.version, iso(plan.updated_at), *values, plan.id,
                                        plan.version])
            if cur.rowcount != 1:
                raise StaleWrite(f"plan {plan.id}: stored version is not {plan.version}")

    def commit_step(self, plan: Plan, event: Any, from_state: str, effects: Sequence[Any],
                    *, recorded_at: datetime, before: dict[str, Any] | None = None,
                    at: datetime | None = None) -> list[int]:
        """Commit one applied event: plan row, journal row, fill, effects and outbox rows, atomically.

        ``before`` (the plan's snapshot before the step) limits the row update to the figures
        that changed. Returns the ids of the effect rows written for the broker effects, in
        order. Raises StaleWrite or sqlite3.Error; then nothing was written and the caller must
        roll the in-memory plan back.
        """
        version = plan.version
        seq = version + 1
        when = iso(at or event.at)
        now = iso(recorded_at)
        if before is None:
            sql, values = _FULL_UPDATE, _to_columns(plan, _FIGURE_CODECS)
        else:
            sql, values = _changed_update(plan, before)
        with self._tx():
            cur = self.db.execute(sql, [plan.state, seq, iso(plan.updated_at) or when, *values, plan.id, version])
            if cur.rowcount != 1:
                raise StaleWrite(f"plan {plan.id}: stored version is not {version}")
            self.db.execute(
                "INSERT INTO journal(plan_id, seq, from_state, to_state, event, payload, at, recorded_at) "
                "VALUES (?,?,?,?,?,?,?,?)",
                (plan.id, seq, from_state, plan.state, type(event).__name__, dumps(event), when, now))
            if isinstance(event, (machines.EntryFilled, machines.ExitFilled)) and event.exec_id in plan.seen_exec_ids:
                leg = "entry" if isinstance(event, machines.EntryFilled) else machines.Leg(event.leg).value
                self.db.execute(
                    "INSERT OR IGNORE INTO fills(exec_id, plan_id, leg, quantity, price, at) VALUES (?,?,?,?,?,?)",
                    (event.exec_id, plan.id, leg, event.quantity, str(event.price), when))
            if isinstance(event, machines.CommissionCharged) and event.exec_id in plan.seen_commission_ids:
                self.db.execute("UPDATE fills SET commission=? WHERE exec_id=?", (str(event.amount), event.exec_id))
            n = 0
            effect_ids: list[int] = []
            for effect in effects:
                if is_broker_effect(effect):
                    cur = self.db.execute(
                        "INSERT INTO effects(plan_id, seq, kind, payload, created_at) VALUES (?,?,?,?,?)",
                        (plan.id, seq, type(effect).__name__, dumps(effect), now))
                    effect_ids.append(int(cur.lastrowid or 0))
                else:
                    n += 1
                    payload = {"kind": effect.kind, "from_state": effect.from_state, "to_state": effect.to_state,
                               "plan_id": plan.id, "seq": seq, "facts": effect.facts}
                    self.db.execute(
                        "INSERT INTO outbox(dedupe_key, plan_id, seq, kind, payload, created_at, attempts) "
                        "VALUES (?,?,?,?,?,?,0)",
                        (f"{plan.id}:{seq}:{n}", plan.id, seq, str(effect.kind), dumps(payload), now))
        plan.version = seq
        return effect_ids
