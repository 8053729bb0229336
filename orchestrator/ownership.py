"""Who a store belongs to, and what IB holds that the store does not know (one owner).

- A store is bound to the IB account, client id and orderRef prefix of its first run (``meta``).
  Another account is refused. Another client id is refused while any of our orders works at IB
  under a different client (IB lets only the client that placed an order modify or cancel it),
  and accepted and recorded otherwise. Another prefix is refused while any plan is live (its
  orders at IB carry the old prefix).
- Plan ids IB knows in our namespace (working or completed orders, today's executions) that the
  store does not know mean history is missing (a deleted or moved ``state.db``): running them as
  new plans would repeat it. Such a start is refused unless the trader says what to do: adopt
  them from IB's evidence, or leave them alone for good.

Every check runs before anything is written, so a refused start leaves the store as it was.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from .broker.port import BrokerFill, BrokerOrder, BrokerSnapshot
from .errors import OrchestratorError
from .store import Store

log = logging.getLogger(__name__)

ACCOUNT_KEY, CLIENT_KEY, PREFIX_KEY, IGNORED_KEY = "ib_account", "ib_client_id", "order_ref_prefix", "ignored_plans"


class OwnershipRefused(OrchestratorError):
    """This store, this IB login and this config do not belong together: fix the config."""

    exit_code = 2


class Existing(StrEnum):
    """What to do with plans IB knows that the store does not (``run --adopt-existing`` etc.)."""

    REFUSE = "refuse"
    ADOPT = "adopt"
    IGNORE = "ignore"


@dataclass(frozen=True, slots=True)
class Identity:
    account: str
    client_id: int
    prefix: str

    def describe(self) -> str:
        prefix = f", orderRef prefix {self.prefix!r}" if self.prefix else ""
        return f"account {self.account}, client id {self.client_id}{prefix}"


def stored_identity(store: Store) -> Identity | None:
    account, client = store.get_meta(ACCOUNT_KEY), store.get_meta(CLIENT_KEY)
    if account is None or client is None:
        return None
    return Identity(account, int(client), store.get_meta(PREFIX_KEY) or "")


def record_identity(store: Store, identity: Identity) -> None:
    for key, value in ((ACCOUNT_KEY, identity.account), (CLIENT_KEY, str(identity.client_id)),
                       (PREFIX_KEY, identity.prefix)):
        if store.get_meta(key) != value:
            store.set_meta(key, value)


def check_identity(store_name: str, stored: Identity | None, now: Identity, open_orders: Iterable[BrokerOrder],
                   live_plans: Iterable[str]) -> None:
    """Raises OwnershipRefused when this run must not trade this store."""
    if stored is None:
        return
    if stored.account != now.account:
        raise OwnershipRefused(
            f"{store_name} belongs to IB account {stored.account}, but IB connected us to account {now.account}: "
            "refusing to trade (use the config and state.db of that account)")
    live = sorted(live_plans)
    if stored.prefix != now.prefix and live:
        raise OwnershipRefused(
            f"broker.order_ref_prefix is {now.prefix!r} but {store_name} was run with {stored.prefix!r}, and plans "
            f"{', '.join(live)} are live: their orders at IB carry the old prefix. Set order_ref_prefix = "
            f"{stored.prefix!r} again, or finish or cancel those plans first")
    if stored.client_id != now.client_id:
        held = sorted({o.plan_id for o in open_orders if not o.state.done and o.client_id != now.client_id})
        if held:
            raise OwnershipRefused(
                f"broker.client_id is {now.client_id} but plans {', '.join(held)} have orders working at IB that "
                f"client {stored.client_id} placed, and IB lets only the client that placed an order modify or "
                f"cancel it: set broker.client_id = {stored.client_id} again, or finish or cancel those plans first")
        log.warning("broker.client_id changed from %d to %d with no order of ours working at IB: recorded",
                    stored.client_id, now.client_id)


@dataclass
class Trace:
    """What IB holds of one plan id in our namespace."""

    plan_id: str
    working: list[BrokerOrder] = field(default_factory=list)
    completed: list[BrokerOrder] = field(default_factory=list)
    fills: list[BrokerFill] = field(default_factory=list)

    def describe(self) -> str:
        parts = [f"{len(self.working)} working order(s)" if self.working else "",
                 f"{len(self.completed)} completed order(s)" if self.completed else "",
                 f"{len(self.fills)} execution(s) today" if self.fills else ""]
        return f"{self.plan_id} ({', '.join(p for p in parts if p)})"


def unknown_plans(snapshot: BrokerSnapshot, known: Callable[[str], bool]) -> dict[str, Trace]:
    """Plan ids in our namespace that IB has evidence of and the store does not know."""
    traces: dict[str, Trace] = {}

    def trace(plan_id: str) -> Trace | None:
        if known(plan_id):
            return None
        return traces.setdefault(plan_id, Trace(plan_id))

    for o in snapshot.open_orders:
        if (t := trace(o.plan_id)) is not None:
            (t.completed if o.state.done else t.working).append(o)
    for o in snapshot.completed_orders:
        if (t := trace(o.plan_id)) is not None:
            t.completed.append(o)
    for f in snapshot.fills:
        if (t := trace(f.plan_id)) is not None:
            t.fills.append(f)
    return dict(sorted(traces.items()))


def refusal(store_name: str, traces: dict[str, Trace]) -> OwnershipRefused:
    return OwnershipRefused(
        f"{store_name} does not know plans that IB holds orders or executions of: "
        f"{'; '.join(t.describe() for t in traces.values())}. Running them as new plans would repeat what "
        "happened (state.db deleted or moved?). Start once with --adopt-existing to take them over from IB's "
        "evidence, or with --ignore-existing to leave them alone for good")


def ignored_plans(store: Store) -> set[str]:
    text = store.get_meta(IGNORED_KEY)
    return set(json.loads(text)) if text else set()


def ignore_plans(store: Store, plan_ids: Iterable[str]) -> set[str]:
    ids = ignored_plans(store) | set(plan_ids)
    store.set_meta(IGNORED_KEY, json.dumps(sorted(ids)))
    return ids
