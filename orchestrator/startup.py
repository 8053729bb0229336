"""What a daemon checks after connecting and before it trades (design.md §7, rule 1).

1. the account matches the mode (``paper`` refuses a live account, ``live`` a paper one);
2. the store belongs to this account, client id and orderRef prefix (``ownership.py``);
3. IB holds no history of plans the store does not know — or the trader said to adopt it or to
   leave it alone;
then the identity is recorded and the start is announced. Every refusal happens before anything
is written to the store.
"""

from __future__ import annotations

import logging

import machines
from machines import NotifyKind

from . import adoption, ownership
from .broker.ib import IBBroker
from .clock import Clock
from .config import Config
from .engine import Engine
from .errors import AccountRefused
from .ownership import Existing, Identity
from .planfile import scan
from .store import Store

log = logging.getLogger(__name__)


def check_account_mode(mode: str, account: str) -> None:
    """``paper`` refuses a live account; ``live`` refuses a paper one (IB paper accounts start DU)."""
    paper = account.upper().startswith("DU")
    if mode == "sim":
        return
    if not account:
        raise AccountRefused("IB reported no managed account: refusing to trade")
    if mode == "paper" and not paper:
        raise AccountRefused(f"broker.mode is paper but IB account {account!r} is a live account: refusing to trade")
    if mode == "live" and paper:
        raise AccountRefused(f"broker.mode is live but IB account {account!r} is a paper account: refusing to start")


def account_check(mode: str, store: Store, account: str) -> None:
    """Run at every reconnect: a gateway may come back logged in to another account."""
    check_account_mode(mode, account)
    stored = ownership.stored_identity(store)
    if stored is not None and stored.account != account:
        raise AccountRefused(f"IB came back on account {account}, but this store belongs to {stored.account}: "
                             "refusing to trade")


async def take_ownership(cfg: Config, store: Store, broker: IBBroker, engine: Engine, clock: Clock,
                         existing: Existing) -> None:
    """Checks 1–3 above; raises OwnershipRefused or AccountRefused (exit 2) with what to do."""
    check_account_mode(cfg.broker.mode, broker.account)
    snapshot = await broker.snapshot()
    now = Identity(broker.account, cfg.broker.client_id, cfg.broker.order_ref_prefix)
    live = [p.id for p in store.load_plans(machines.LIVE_STATES) if p.state != machines.State.PENDING]
    ownership.check_identity(str(store.path), ownership.stored_identity(store), now, snapshot.open_orders, live)
    ignored = ownership.ignored_plans(store)
    traces = ownership.unknown_plans(snapshot, lambda pid: pid in ignored or store.plan_exists(pid) is not None)
    if traces and existing is Existing.REFUSE:
        raise ownership.refusal(str(store.path), traces)
    if traces and existing is Existing.ADOPT:
        specs = {spec.id: spec for spec in scan(cfg.plans.paths()).specs}
        adopted = adoption.adopt(store, traces, specs, at=clock.now())
        log.warning("adopted from IB's evidence: %s", ", ".join(adopted))
    if traces and existing is Existing.IGNORE:
        ignored = ownership.ignore_plans(store, traces)
        log.warning("left alone for good (--ignore-existing): %s", ", ".join(sorted(traces)))
    ownership.record_identity(store, now)
    if ignored:
        broker.ignore(ignored)
    engine.intake.ignored = ignored
    described = (f"IB at {broker.host}:{broker.port} as {now.describe()}; store {store.path}; "
                 f"{len(live)} live plan(s)")
    log.info("connected to %s", described)
    engine.notices.report_once(f"started:{engine.status.started_at}", NotifyKind.DAEMON_STARTED,
                               {"message": f"orchestrator started: {described}"})
