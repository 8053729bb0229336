"""Fault injection for the simulated gateway.

Armed faults fire once (``reject_next``, ``drop_next_order_status``,
``drop_at_tick``) or stay on until changed (``ack_delay``,
``replay_executions_twice``, ``refuse_for``).  Actions (``drop_connections``,
``restart``) need a started gateway.
"""

from __future__ import annotations

import time
from typing import Protocol


class FaultActions(Protocol):
    """The actions some faults trigger; the gateway provides them (``SimGateway``)."""

    def drop_connections(self) -> int: ...

    def restart(self, refuse_seconds: float = 0.0) -> None: ...


class Faults:
    """Faults of one gateway: ``gw.faults``.

    The state of every fault lives here; the actions (``drop_connections``, ``restart``) are
    the gateway's and are reachable from here too, for callers that hold only the faults.
    """

    def __init__(self) -> None:
        self._actions: FaultActions | None = None
        self.ack_delay = 0.0
        self.exec_delay = 0.0
        self._ignore: dict[int, int] = {}
        self.replay_executions_twice = False
        self._refuse_until = 0.0
        self._reject: list[str] = []
        self._reject_modify: list[str] = []
        self._drop_status = 0
        self._drop_ticks: set[int] = set()
        self._cancel_races: list[bool] = []
        self._refuse_cancels: list[tuple[int, str]] = []
        self.sync_delay = 0.0

    def attach(self, actions: FaultActions) -> None:
        """Bind these faults to the gateway whose actions they trigger."""
        self._actions = actions

    def _gateway(self) -> FaultActions:
        if self._actions is None:
            raise RuntimeError("these faults are not attached to a gateway")
        return self._actions

    # ------------------------------------------------------------- actions
    def drop_connections(self) -> int:
        """Close every client connection now; returns how many were closed
        (the same as ``SimGateway.drop_connections``)."""
        return self._gateway().drop_connections()

    def restart(self, refuse_seconds: float = 0.0) -> None:
        """IB's nightly restart (the same as ``SimGateway.restart``)."""
        self._gateway().restart(refuse_seconds)

    # ------------------------------------------------------------- arming
    def drop_at_tick(self, tick: int) -> None:
        """Drop every connection when the price path reaches tick ``tick``
        (before that tick's prices are applied)."""
        self._drop_ticks.add(int(tick))

    def refuse_for(self, seconds: float) -> None:
        """Accept and immediately close new connections for ``seconds``."""
        self._refuse_until = time.monotonic() + float(seconds)

    def reject_next(self, count: int = 1, reason: str = "simulated rejection") -> None:
        """Reject the next ``count`` new orders (error 201, then Inactive)."""
        self._reject.extend([reason] * int(count))

    def reject_next_modify(self, count: int = 1, reason: str = "simulated modify rejection") -> None:
        """Refuse the next ``count`` modifications (error 201); the orders keep working unchanged."""
        self._reject_modify.extend([reason] * int(count))

    def delay_acks(self, seconds: float) -> None:
        """Process each client's order messages (placeOrder, cancelOrder,
        reqGlobalCancel) ``seconds`` after they arrive; acks and the fills
        they cause come that much later.  0 turns it off."""
        self.ack_delay = max(0.0, float(seconds))

    def ignore_next(self, msg_id: int, count: int = 1) -> None:
        """Leave the next ``count`` client requests with message id ``msg_id`` unanswered (e.g.
        99 = reqCompletedOrders, 5 = reqOpenOrders): a request lost at IB."""
        self._ignore[int(msg_id)] = self._ignore.get(int(msg_id), 0) + int(count)

    def take_ignore(self, msg_id: int) -> bool:
        left = self._ignore.get(msg_id, 0)
        if left <= 0:
            return False
        self._ignore[msg_id] = left - 1
        return True

    def delay_executions(self, seconds: float) -> None:
        """Send each live fill's execDetails + commissionReport ``seconds`` after its orderStatus
        (IB does not promise the order of the two). 0 turns it off."""
        self.exec_delay = max(0.0, float(seconds))

    def drop_next_order_status(self, count: int = 1) -> None:
        """Do not send the next ``count`` orderStatus messages (to any client)."""
        self._drop_status += int(count)

    def replay_executions(self, twice: bool = True) -> None:
        """Answer reqExecutions with every execDetails + commissionReport twice."""
        self.replay_executions_twice = bool(twice)

    def race_next_cancel(self, count: int = 1, fill_first: bool = True) -> None:
        """The next ``count`` cancels of a working order lose a race against its fill: the order
        fills in full, and the cancel gets 10148; ``fill_first`` says which the client hears first."""
        self._cancel_races.extend([bool(fill_first)] * int(count))

    def refuse_next_cancel(self, count: int = 1, code: int = 10148, ref_suffix: str = "") -> None:
        """The next ``count`` cancels of a working order (whose orderRef ends in ``ref_suffix``)
        are refused with ``code`` (10148: a cancel already pending; 161, 100 ...): it keeps working."""
        self._refuse_cancels.extend([(int(code), ref_suffix)] * int(count))

    def slow_sync(self, seconds: float) -> None:
        """Answer reqOpenOrders, reqAllOpenOrders and reqExecutions ``seconds`` late (rows and
        end marker): a start-up sync that is still partial when the client gives up. 0 turns it off."""
        self.sync_delay = max(0.0, float(seconds))

    def clear(self) -> None:
        """Disarm everything."""
        self.ack_delay = 0.0
        self.exec_delay = 0.0
        self._ignore.clear()
        self.replay_executions_twice = False
        self._refuse_until = 0.0
        self._reject.clear()
        self._reject_modify.clear()
        self._drop_status = 0
        self._drop_ticks.clear()
        self._cancel_races.clear()
        self._refuse_cancels.clear()
        self.sync_delay = 0.0

    # ------------------------------------------------------------- gateway hooks
    def refusing(self) -> bool:
        return time.monotonic() < self._refuse_until

    def take_reject(self) -> str | None:
        return self._reject.pop(0) if self._reject else None

    def take_reject_modify(self) -> str | None:
        return self._reject_modify.pop(0) if self._reject_modify else None

    def take_cancel_race(self) -> bool | None:
        return self._cancel_races.pop(0) if self._cancel_races else None

    def take_refused_cancel(self, order_ref: str) -> int | None:
        if not self._refuse_cancels or not order_ref.endswith(self._refuse_cancels[0][1]):
            return None
        return self._refuse_cancels.pop(0)[0]

    def take_drop_status(self) -> bool:
        if self._drop_status > 0:
            self._drop_status -= 1
            return True
        return False

    def take_drop_tick(self, tick: int) -> bool:
        if tick in self._drop_ticks:
            self._drop_ticks.discard(tick)
            return True
        return False

    def to_json(self) -> dict[str, object]:
        return {
            "ack_delay": self.ack_delay,
            "exec_delay": self.exec_delay,
            "ignore_next": dict(self._ignore),
            "replay_executions_twice": self.replay_executions_twice,
            "refusing_for": max(0.0, round(self._refuse_until - time.monotonic(), 3)),
            "reject_next": len(self._reject),
            "reject_next_modify": len(self._reject_modify),
            "drop_next_order_status": self._drop_status,
            "drop_at_ticks": sorted(self._drop_ticks),
            "cancel_races": len(self._cancel_races),
            "slow_sync": self.sync_delay,
        }
