"""The schema of state.db at version 1, as SQLModel tables (DDL for migration 1 only: every read
and write is raw SQL, see plans.py). Later versions are the ALTERs of their migrations in db.py.

Money and prices are TEXT holding exact decimals; times are ISO 8601 UTC TEXT.
"""

from __future__ import annotations

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel


class Meta(SQLModel, table=True):
    __tablename__ = "meta"
    key: str = Field(primary_key=True)
    value: str


class PlanRow(SQLModel, table=True):
    """A plan: its spec, its current state and figures. ``version`` = last journal seq."""

    __tablename__ = "plans"
    id: str = Field(primary_key=True)
    symbol: str
    side: str
    entry_type: str
    entry_price: str
    stop_loss: str
    take_profit: str
    risk: str
    start_at: str | None = None
    expire_at: str | None = None
    trail_trigger_r: str | None = None
    trail_distance: str | None = None
    source_file: str | None = None
    spec_hash: str = ""
    state: str = Field(index=True)
    version: int = 0
    quantity: int = 0
    risk_amount: str = "0"
    portfolio_risk_pct: str = "0"
    filled_qty: int = 0
    avg_entry_price: str | None = None
    exited_qty: int = 0
    avg_exit_price: str | None = None
    realized_pnl: str = "0"
    stop_price: str | None = None
    confirmed_stop_price: str | None = None
    target_price: str | None = None
    protected_stop_qty: int = 0
    protected_target_qty: int = 0
    best_price: str | None = None
    trail_active: bool = False
    entry_done: bool = False
    cancel_requested: bool = False
    flattening: bool = False
    exit_reason: str | None = None
    reason: str | None = None
    error_code: int | None = None
    created_at: str
    updated_at: str


class JournalRow(SQLModel, table=True):
    """Append-only: one row per accepted event (internal ones too, from == to)."""

    __tablename__ = "journal"
    __table_args__ = (UniqueConstraint("plan_id", "seq"),)
    id: int | None = Field(default=None, primary_key=True)
    plan_id: str = Field(foreign_key="plans.id")
    seq: int
    from_state: str | None = None
    to_state: str
    event: str
    payload: str
    at: str
    recorded_at: str


class OrderRow(SQLModel, table=True):
    """An order intent and what IB said about it. Written before placeOrder is called."""

    __tablename__ = "orders"
    order_ref: str = Field(primary_key=True)
    plan_id: str = Field(foreign_key="plans.id", index=True)
    leg: str
    attempt: int = 1
    order_id: int | None = None
    perm_id: int | None = Field(default=None, index=True)
    parent_ref: str | None = None
    oca_group: str | None = None
    action: str
    order_type: str
    quantity: int
    lmt_price: str | None = None
    aux_price: str | None = None
    status: str = "intent"
    filled: int = 0
    remaining: int | None = None
    avg_fill_price: str | None = None
    created_at: str
    updated_at: str


class FillRow(SQLModel, table=True):
    """An execution applied to a plan. ``exec_id`` is unique: a fill is applied once."""

    __tablename__ = "fills"
    exec_id: str = Field(primary_key=True)
    plan_id: str = Field(foreign_key="plans.id", index=True)
    order_ref: str | None = None
    leg: str
    quantity: int
    price: str
    at: str
    commission: str | None = None


class EffectRow(SQLModel, table=True):
    """Broker effects committed with their step; ``done_at`` is set once carried out."""

    __tablename__ = "effects"
    __table_args__ = (Index("ix_effects_pending", "done_at"),)
    id: int | None = Field(default=None, primary_key=True)
    plan_id: str = Field(foreign_key="plans.id")
    seq: int
    kind: str
    payload: str
    created_at: str
    done_at: str | None = None
    result: str | None = None


class OutboxRow(SQLModel, table=True):
    """A notification to deliver, written in the transaction of its transition."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_pending", "sent_at", "dead_at", "next_attempt_at"),)
    id: int | None = Field(default=None, primary_key=True)
    dedupe_key: str = Field(unique=True)
    plan_id: str | None = Field(default=None, index=True)
    seq: int = 0
    kind: str
    payload: str
    created_at: str
    attempts: int = 0
    next_attempt_at: str | None = None
    sent_at: str | None = None
    dead_at: str | None = None
    last_error: str | None = None


class CommandRow(SQLModel, table=True):
    """A request from the CLI to the daemon (e.g. cancel), picked up within a second."""

    __tablename__ = "commands"
    id: int | None = Field(default=None, primary_key=True)
    plan_id: str
    command: str
    created_at: str
    processed_at: str | None = None
    result: str | None = None


# The tables migration 1 creates (schema version 1). Later versions change the schema with the
# SQL of their own migrations in db.py, never by editing these classes.
V1 = [Meta, PlanRow, JournalRow, OrderRow, FillRow, EffectRow, OutboxRow, CommandRow]
