"""The store: maps plans to rows and commits each step in one SQLite transaction.

The write path uses the engine's raw sqlite3 connection with prepared statements (the ORM costs
~10× a raw commit, libs.md §3); the schema is the SQLModel tables of tables.py. One Store is the
only writer in a process; other processes may read at any time (WAL).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Callable, Iterable, Sequence

from sqlalchemy import Engine

import machines
from machines import Plan, PlanSpec, State

from ..codec import dumps, effect_from_json, is_broker_effect, iso, parse_iso
from ..errors import StoreError
from .checkpoint import Checkpointer
from .db import open_engine

_DEC_FIGURES = {"risk_amount", "portfolio_risk_pct", "avg_entry_price", "avg_exit_price", "realized_pnl",
                "stop_price", "confirmed_stop_price", "target_price", "best_price"}
_BOOL_FIGURES = {"trail_active", "entry_done", "cancel_requested", "flattening"}
_FIGURE_NAMES = [n for n in machines.FIGURES if n != "updated_at"]
_UPDATE_SQL = ("UPDATE plans SET state=?, version=?, updated_at=?, "
               + ", ".join(f"{n}=?" for n in _FIGURE_NAMES) + " WHERE id=? AND version=?")


class StaleWrite(StoreError):
    """The plan row changed under us (another writer): the step was not committed."""


@dataclass(frozen=True, slots=True)
class PendingEffect:
    id: int
    plan_id: str
    seq: int
    effect: Any


@dataclass(frozen=True, slots=True)
class OutboxItem:
    id: int
    dedupe_key: str
    plan_id: str | None
    seq: int
    kind: str
    payload: dict[str, Any]
    attempts: int
    next_attempt_at: datetime | None = None


def _dec(v: Decimal | None) -> str | None:
    return None if v is None else str(v)


def _to_dec(v: str | None) -> Decimal | None:
    return None if v is None else Decimal(v)


def _to_int_bool(v: Any) -> int:
    return int(bool(v))


# (figure, conversion to the column, conversion from it); None: stored as it is
_FIGURE_CODECS = [(name, _dec, _to_dec) if name in _DEC_FIGURES else (name, _to_int_bool, bool)
                  if name in _BOOL_FIGURES else (name, None, None) for name in _FIGURE_NAMES]


def _figure_values(plan: Plan) -> list[Any]:
    return [getattr(plan, name) if to_column is None else to_column(getattr(plan, name))
            for name, to_column, _ in _FIGURE_CODECS]


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


_CHANGED_SQL: dict[tuple[str, ...], str] = {}


def spec_from_row(r: sqlite3.Row | dict[str, Any]) -> PlanSpec:
    return PlanSpec(
        id=r["id"], symbol=r["symbol"], side=machines.Side(r["side"]),
        entry_type=machines.EntryType(r["entry_type"]), entry_price=Decimal(r["entry_price"]),
        stop_loss=Decimal(r["stop_loss"]), take_profit=Decimal(r["take_profit"]),
        risk=machines.RiskCategory(r["risk"]), start_at=parse_iso(r["start_at"]),
        expire_at=parse_iso(r["expire_at"]), trail_trigger_r=_to_dec(r["trail_trigger_r"]),
        trail_distance=_to_dec(r["trail_distance"]))


def plan_from_row(r: sqlite3.Row | dict[str, Any]) -> Plan:
    figures: dict[str, Any] = {name: r[name] if from_column is None else from_column(r[name])
                               for name, _, from_column in _FIGURE_CODECS}
    figures["updated_at"] = parse_iso(r["updated_at"])
    plan = Plan(spec_from_row(r), state=r["state"], **figures)
    plan.version = r["version"]  # type: ignore[attr-defined]
    return plan


class Store:
    """state.db for one orchestrator process (the single writer)."""

    def __init__(self, url: str, engine: Engine | None = None) -> None:
        self.url = url
        self.engine = engine or open_engine(url, create=True)
        self._raw = self.engine.raw_connection()
        self.db: sqlite3.Connection = self._raw.driver_connection  # type: ignore[assignment]
        self.db.row_factory = sqlite3.Row
        self.checkpointer = Checkpointer(self.db.execute("PRAGMA database_list").fetchone()[2])

    def holds_nothing(self) -> bool:
        """No plan, journal row, order, command or notification has been written."""
        return not any(self.db.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone()
                       for table in ("plans", "journal", "orders", "commands", "outbox"))

    def close(self) -> None:
        self.checkpointer.close()
        self._raw.close()
        self.engine.dispose()

    # ------------------------------------------------------------------ transactions
    def _tx(self) -> "_Tx":
        return _Tx(self.db, self.checkpointer.committed)

    # ------------------------------------------------------------------ meta
    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        with self._tx():
            self.db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    # ------------------------------------------------------------------ plans
    def plan_exists(self, plan_id: str) -> str | None:
        """The stored spec hash of ``plan_id``, or None if the plan is unknown."""
        row = self.db.execute("SELECT spec_hash FROM plans WHERE id=?", (plan_id,)).fetchone()
        return None if row is None else row[0]

    def insert_plan(self, spec: PlanSpec, *, at: datetime, source_file: str | None = None,
                    spec_hash: str = "") -> Plan:
        """Store a new plan in ``pending`` with journal row 0. Raises StoreError if the id exists."""
        plan = Plan(spec)
        plan.updated_at = at
        plan.version = 0  # type: ignore[attr-defined]
        cols = ["id", "symbol", "side", "entry_type", "entry_price", "stop_loss", "take_profit", "risk",
                "start_at", "expire_at", "trail_trigger_r", "trail_distance", "source_file", "spec_hash",
                "state", "version", "created_at", "updated_at", *_FIGURE_NAMES]
        vals = [spec.id, spec.symbol, spec.side.value, spec.entry_type.value, str(spec.entry_price),
                str(spec.stop_loss), str(spec.take_profit), spec.risk.value, iso(spec.start_at),
                iso(spec.expire_at), _dec(spec.trail_trigger_r), _dec(spec.trail_distance), source_file,
                spec_hash, plan.state, 0, iso(at), iso(at), *_figure_values(plan)]
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
        # a dict per row: sqlite3.Row looks names up by scanning the columns (~7 µs of a plan's 19)
        plans = [plan_from_row(dict(zip(names, r))) for r in cur.fetchall()]
        by_id = {p.id: p for p in plans}
        if by_id:
            for pid, exec_id in self.db.execute("SELECT plan_id, exec_id FROM fills"):
                p = by_id.get(pid)
                if p is not None:
                    p.seen_exec_ids.add(exec_id)
        return plans

    def load_plan(self, plan_id: str) -> Plan | None:
        row = self.db.execute("SELECT * FROM plans WHERE id=?", (plan_id,)).fetchone()
        if row is None:
            return None
        plan = plan_from_row(row)
        plan.seen_exec_ids.update(r[0] for r in self.db.execute("SELECT exec_id FROM fills WHERE plan_id=?",
                                                                (plan_id,)))
        return plan

    # ------------------------------------------------------------------ the step
    def commit_step(self, plan: Plan, event: Any, from_state: str, effects: Sequence[Any],
                    *, recorded_at: datetime, before: dict[str, Any] | None = None) -> list[int]:
        """Commit one applied event: plan row, journal row, fill, effects and outbox rows, atomically.

        ``before`` (the plan's snapshot before the step) limits the row update to the figures
        that changed. Returns the ids of the effect rows written for the broker effects, in
        order. Raises StaleWrite or sqlite3.Error; then nothing was written and the caller must
        roll the in-memory plan back.
        """
        version: int = getattr(plan, "version", 0)
        seq = version + 1
        at = iso(event.at)
        now = iso(recorded_at)
        if before is None:
            sql, values = _UPDATE_SQL, _figure_values(plan)
        else:
            sql, values = _changed_update(plan, before)
        with self._tx():
            cur = self.db.execute(sql, [plan.state, seq, iso(plan.updated_at) or at, *values, plan.id, version])
            if cur.rowcount != 1:
                raise StaleWrite(f"plan {plan.id}: stored version is not {version}")
            self.db.execute(
                "INSERT INTO journal(plan_id, seq, from_state, to_state, event, payload, at, recorded_at) "
                "VALUES (?,?,?,?,?,?,?,?)",
                (plan.id, seq, from_state, plan.state, type(event).__name__, dumps(event), at, now))
            if isinstance(event, (machines.EntryFilled, machines.ExitFilled)) and event.exec_id in plan.seen_exec_ids:
                leg = "entry" if isinstance(event, machines.EntryFilled) else machines.Leg(event.leg).value
                self.db.execute(
                    "INSERT OR IGNORE INTO fills(exec_id, plan_id, leg, quantity, price, at) VALUES (?,?,?,?,?,?)",
                    (event.exec_id, plan.id, leg, event.quantity, str(event.price), at))
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
                        (f"{plan.id}:{seq}:{n}", plan.id, seq, effect.kind, dumps(payload), now))
        plan.version = seq  # type: ignore[attr-defined]
        return effect_ids

    # ------------------------------------------------------------------ orders
    def record_intents(self, intents: Sequence[dict[str, Any]], *, at: datetime) -> None:
        """Write order intents (before placeOrder) in one transaction. Existing refs are kept."""
        now = iso(at)
        with self._tx():
            for o in intents:
                self.db.execute(
                    "INSERT OR IGNORE INTO orders(order_ref, plan_id, leg, attempt, order_id, parent_ref, oca_group, "
                    "action, order_type, quantity, lmt_price, aux_price, status, filled, created_at, updated_at) "
                    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?, 'intent', 0, ?, ?)",
                    (o["order_ref"], o["plan_id"], o["leg"], o.get("attempt", 1), o.get("order_id"),
                     o.get("parent_ref"), o.get("oca_group"), o["action"], o["order_type"], o["quantity"],
                     _dec(o.get("lmt_price")), _dec(o.get("aux_price")), now, now))

    def update_order(self, order_ref: str, *, at: datetime, **fields: Any) -> None:
        """Record what IB said about one of our orders (status, ids, quantities, prices)."""
        allowed = {"order_id", "perm_id", "status", "filled", "remaining", "avg_fill_price", "quantity",
                   "lmt_price", "aux_price"}
        cols = {k: (_dec(v) if isinstance(v, Decimal) else v) for k, v in fields.items() if k in allowed}
        if not cols:
            return
        sets = ", ".join(f"{k}=?" for k in cols)
        with self._tx():
            self.db.execute(f"UPDATE orders SET {sets}, updated_at=? WHERE order_ref=?",
                            [*cols.values(), iso(at), order_ref])

    def orders_of(self, plan_id: str) -> list[sqlite3.Row]:
        return self.db.execute("SELECT * FROM orders WHERE plan_id=? ORDER BY created_at, order_ref",
                               (plan_id,)).fetchall()

    def next_attempt(self, plan_id: str, leg: str) -> int:
        row = self.db.execute("SELECT max(attempt) FROM orders WHERE plan_id=? AND leg=?", (plan_id, leg)).fetchone()
        return int(row[0] or 0) + 1

    # ------------------------------------------------------------------ effects log
    def pending_effects(self) -> list[PendingEffect]:
        rows = self.db.execute("SELECT id, plan_id, seq, kind, payload FROM effects WHERE done_at IS NULL "
                               "ORDER BY id").fetchall()
        return [PendingEffect(r[0], r[1], r[2], effect_from_json(r[3], r[4])) for r in rows]

    def mark_effect_done(self, effect_id: int, *, at: datetime, result: str = "ok") -> None:
        with self._tx():
            self.db.execute("UPDATE effects SET done_at=?, result=? WHERE id=?", (iso(at), result, effect_id))

    # ------------------------------------------------------------------ outbox
    def add_notice(self, dedupe_key: str, kind: str, payload: dict[str, Any], *, at: datetime,
                   plan_id: str | None = None) -> bool:
        """A notification not tied to a transition (e.g. an invalid plan file). False if a duplicate."""
        with self._tx():
            cur = self.db.execute(
                "INSERT OR IGNORE INTO outbox(dedupe_key, plan_id, seq, kind, payload, created_at, attempts) "
                "VALUES (?,?,0,?,?,?,0)", (dedupe_key, plan_id, kind, dumps(payload), iso(at)))
        return cur.rowcount == 1

    def pending_outbox(self, limit: int = 200) -> list[OutboxItem]:
        """Undelivered and not dead-lettered, oldest first (due or not: the sender keeps per-plan order)."""
        rows = self.db.execute(
            "SELECT id, dedupe_key, plan_id, seq, kind, payload, attempts, next_attempt_at FROM outbox "
            "WHERE sent_at IS NULL AND dead_at IS NULL ORDER BY id LIMIT ?", (limit,)).fetchall()
        return [OutboxItem(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]), r[6], parse_iso(r[7])) for r in rows]

    def mark_sent(self, item_id: int, *, at: datetime) -> None:
        with self._tx():
            self.db.execute("UPDATE outbox SET sent_at=?, attempts=attempts+1, last_error=NULL WHERE id=?",
                            (iso(at), item_id))

    def mark_retry(self, item_id: int, *, error: str, next_attempt_at: datetime, count_attempt: bool = True) -> None:
        with self._tx():
            self.db.execute("UPDATE outbox SET attempts=attempts+?, last_error=?, next_attempt_at=? WHERE id=?",
                            (int(count_attempt), error, iso(next_attempt_at), item_id))

    def mark_dead(self, item_id: int, *, error: str, at: datetime) -> None:
        with self._tx():
            self.db.execute("UPDATE outbox SET dead_at=?, attempts=attempts+1, last_error=? WHERE id=?",
                            (iso(at), error, item_id))

    # ------------------------------------------------------------------ commands from the CLI
    def add_command(self, plan_id: str, command: str, *, at: datetime) -> int:
        with self._tx():
            cur = self.db.execute("INSERT INTO commands(plan_id, command, created_at) VALUES (?,?,?)",
                                  (plan_id, command, iso(at)))
        return int(cur.lastrowid or 0)

    def pending_commands(self) -> list[tuple[int, str, str]]:
        return [(r[0], r[1], r[2]) for r in self.db.execute(
            "SELECT id, plan_id, command FROM commands WHERE processed_at IS NULL ORDER BY id")]

    def mark_command_done(self, command_id: int, *, at: datetime, result: str) -> None:
        with self._tx():
            self.db.execute("UPDATE commands SET processed_at=?, result=? WHERE id=?", (iso(at), result, command_id))


class _Tx:
    """BEGIN IMMEDIATE … COMMIT on a raw connection; ROLLBACK on any exception."""

    def __init__(self, db: sqlite3.Connection, committed: Callable[[], None]) -> None:
        self.db = db
        self.committed = committed

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            try:
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.committed()
            return
        self.db.execute("ROLLBACK")


def is_terminal(state: str) -> bool:
    return State(state) in machines.TERMINAL_STATES
