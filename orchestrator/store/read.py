"""Read-side queries for the CLI (status, history, outbox). Safe while a daemon writes (WAL)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from .tables import JournalRow, OutboxRow, PlanRow


@dataclass(frozen=True, slots=True)
class OutboxCounts:
    pending: int
    sent: int
    dead: int


def plan_rows(engine: Engine) -> list[PlanRow]:
    with Session(engine) as s:
        return list(s.exec(select(PlanRow).order_by(col(PlanRow.created_at), col(PlanRow.id))))


def plan_row(engine: Engine, plan_id: str) -> PlanRow | None:
    with Session(engine) as s:
        return s.get(PlanRow, plan_id)


def journal_rows(engine: Engine, plan_id: str) -> list[JournalRow]:
    with Session(engine) as s:
        return list(s.exec(select(JournalRow).where(JournalRow.plan_id == plan_id).order_by(col(JournalRow.seq))))


def outbox_counts(engine: Engine) -> OutboxCounts:
    with Session(engine) as s:
        def count(*conds: object) -> int:
            return int(s.exec(select(func.count()).select_from(OutboxRow).where(*conds)).one())
        return OutboxCounts(
            pending=count(col(OutboxRow.sent_at).is_(None), col(OutboxRow.dead_at).is_(None)),
            sent=count(col(OutboxRow.sent_at).is_not(None)),
            dead=count(col(OutboxRow.dead_at).is_not(None)),
        )


def outbox_rows(engine: Engine, include_sent: bool = False) -> list[OutboxRow]:
    with Session(engine) as s:
        q = select(OutboxRow).order_by(col(OutboxRow.id))
        if not include_sent:
            q = q.where(col(OutboxRow.sent_at).is_(None))
        return list(s.exec(q))
