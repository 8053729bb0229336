"""The order book: IB order semantics and matching, synchronous and socket-free.

Every public method returns the list of events it produced
(:class:`~orchestrator.simgw.orders.OrderEvent` and
:class:`~orchestrator.simgw.orders.PortfolioEvent`), in the order the owner
should hear about them.  Nothing here knows about connections.

Rules (see docs/sim-gateway.md for the user-facing version):

* Orders are keyed by ``(client_id, order_id)``; ``perm_id`` is unique and
  never changes.  A placeOrder for a live key is a modification.
* ``transmit=0`` orders are held silently until an order of the same group
  (the same parentId chain) is placed with ``transmit=1``; then the whole group
  goes out in orderId order.
* Working orders are ``Submitted`` in the book; a stop, stop-limit or trail that
  has not triggered is *reported* ``PreSubmitted`` (IB simulates stops) and turns
  ``Submitted`` when it triggers.  Bracket children wait ``PreSubmitted`` until
  the parent's first fill.  An order sent with no TIF gets the preset (DAY) and
  warning 10349 once it goes out; ``end_session`` cancels every working DAY order.  From then on a child's
  quantity is the bracket's open quantity: parent filled minus what the
  children have filled (capped by the child's own quantity).  When the bracket
  is flat and the parent done, the remaining children are cancelled.
* Explicit OCA groups (same client and ocaGroup): ocaType 1 (and 0) cancels the
  other members on any fill; types 2 and 3 reduce them by the filled quantity.
  Orders of the same bracket are governed by the bracket rule only.
* Matching uses the last trade price (rules in :mod:`.matching`); every
  working order is evaluated once per tick, and ``partial_fill_max`` caps each
  fill.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import UTC, datetime

from . import matching as rules
from .account import Account, commission_of
from .contracts import NO_SECDEF, Catalog, Refusal, SimContract
from .marketclock import GTD_FORMAT, parse_good_till
from .orders import (
    CANCELLED,
    FILLED,
    HELD,
    INACTIVE,
    PENDING_CANCEL,
    PRE_SUBMITTED,
    SUBMITTED,
    Execution,
    OrderEvent,
    OrderRequest,
    PortfolioEvent,
    SimOrder,
)
from .policy import READ_ONLY_TEXT, STILL_PROCESSING_TEXT, OrderPolicy
from .ticks import OFF_TICK_CODE, OFF_TICK_TEXT

Event = OrderEvent | PortfolioEvent

__all__ = ["NO_SECDEF", "Book", "Event"]
CANCEL_TEXT = "Order Canceled - reason:"
TIF_PRESET_TEXT = "Order TIF was set to DAY based on order preset."
SESSION_END = "DAY order expired at the end of the session"
GTD_END = "GTD order expired at its good-till date"
RTH_WARNING = 399  # "your order will not be placed at the exchange until …": held until the open


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Book:
    """Broker truth: orders, executions, the account, and the price of each symbol."""

    def __init__(
        self,
        catalog: Catalog,
        account: Account,
        prices: dict[str, float],
        *,
        commission_per_share: float = 0.005,
        min_commission: float = 1.0,
        partial_fill_max: int | None = None,
        clock: Callable[[], datetime] = _utc_now,
        session_id: int | None = None,
        policy: OrderPolicy | None = None,
    ) -> None:
        self.catalog = catalog
        self.account = account
        self.prices = dict(prices)
        self.commission_per_share = commission_per_share
        self.min_commission = min_commission
        self.partial_fill_max = partial_fill_max
        self.clock = clock
        self.policy = policy or OrderPolicy()
        session = int(time.time() * 1000) if session_id is None else session_id
        self._exec_prefix = f"{session & 0xFFFFFFFF:08x}"
        self._next_perm = 1_000_000_000 + session % 1_000_000_000
        self._exec_seq = 0
        self.orders: dict[tuple[int, int], SimOrder] = {}
        self.executions: list[Execution] = []
        self._highest: dict[int, int] = {}
        self._working: dict[int, SimOrder] = {}  # perm_id -> Submitted orders
        self._kids: dict[int, list[SimOrder]] = {}  # parent perm_id -> children
        self._out: list[Event] = []
        # the session clock (marketclock): None, the market never closes; else whether the market of
        # a contract (by key) is open now, and IB's words for its next open
        self.market_open: Callable[[str], bool] | None = None
        self.next_open_text: Callable[[str], str] = lambda _key: ""
        self._held_for_open: dict[int, SimOrder] = {}  # perm_id -> orders waiting for the open

    # ------------------------------------------------------------ queries
    def next_valid_id(self, client_id: int) -> int:
        return self._highest.get(client_id, 0) + 1

    def open_orders(self, client_id: int | None = None) -> list[SimOrder]:
        """Transmitted, not-done orders (of one client, or of all)."""
        return [
            o for o in self._sorted()
            if o.status not in (HELD, FILLED, CANCELLED, INACTIVE)
            and (client_id is None or o.client_id == client_id)
        ]

    def completed_orders(self) -> list[SimOrder]:
        return [o for o in self._sorted() if o.is_done]

    def order(self, client_id: int, order_id: int) -> SimOrder | None:
        return self.orders.get((client_id, order_id))

    def _sorted(self) -> list[SimOrder]:
        # insertion order is perm_id order (restart() rebuilds the dict sorted)
        return list(self.orders.values())

    def _drain(self) -> list[Event]:
        out, self._out = self._out, []
        return out

    # ------------------------------------------------------------ placing
    def place(
        self, client_id: int, req: OrderRequest, reject: Callable[[], str | None] | None = None,
        reject_modify: Callable[[], str | None] | None = None,
    ) -> list[Event]:
        """Handle a placeOrder: a new order, a modification, or an error.

        ``reject`` is asked, for a new order only, whether to reject it anyway
        (returns a reason or ``None``): the reject-next fault. ``reject_modify`` is asked
        the same for a modification (the reject-next-modify fault): the modification is
        refused with 201 and the order keeps working unchanged, as at IB.
        """
        stock = self.catalog.resolve(req.spec())
        existing = self.orders.get((client_id, req.order_id))
        if isinstance(stock, Refusal):
            self._refuse(client_id, req, stock.code, stock.text)
        elif existing is not None:
            if existing.status == FILLED:
                self._emit("rejected", existing, ("error",), code=104, text="Can't modify a filled order")
            elif existing.is_done:
                self._emit("rejected", existing, ("error",), code=103, text="Duplicate order id")
            elif self._names_done_parent(existing, req):
                # IB no longer knows the filled parent: the modify is refused, the order keeps working
                self._emit("rejected", existing, ("error",), code=135,
                           text=f"Can't find order with id = {req.parent_id}")
            elif self.policy.modify_busy(existing):
                self._emit("rejected", existing, ("error",), code=2102, text=STILL_PROCESSING_TEXT)
            elif reject_modify is not None and (reason := reject_modify()) is not None:
                self._emit("rejected", existing, ("error", "open", "status"), code=201,
                           text=f"Order rejected - reason:{reason}")
            else:
                self._modify(existing, req, stock)
        elif self._foreign(client_id, req, stock.key) is not None:
            # only the client that placed an order may modify it; that order keeps working
            self._refuse(client_id, req, 135, f"Can't find order with id = {req.order_id}")
        elif req.order_id <= self._highest.get(client_id, 0):
            self._refuse(client_id, req, 103, "Duplicate order id")
        elif self.policy.read_only:
            self._highest[client_id] = req.order_id
            self._refuse(client_id, req, 321, READ_ONLY_TEXT)
        elif self._off_tick(stock, req.order_type, req.lmt_price, req.aux_price, req.trail_stop_price):
            self._highest[client_id] = req.order_id  # the id is used: IB saw the order and refused it
            self._refuse(client_id, req, OFF_TICK_CODE, OFF_TICK_TEXT)
        else:
            self._highest[client_id] = req.order_id
            self._new(client_id, req, stock, reject() if reject else None)
        return self._drain()

    def _names_done_parent(self, o: SimOrder, req: OrderRequest) -> bool:
        parent = self.orders.get((o.client_id, req.parent_id)) if req.parent_id else None
        return parent is not None and parent.is_done

    def _foreign(self, client_id: int, req: OrderRequest, key: str) -> SimOrder | None:
        """Another client's working order that this placeOrder tries to modify (same id, orderRef and terms)."""
        for other in self._highest:  # the clients that placed orders (a handful)
            o = self.orders.get((other, req.order_id)) if other != client_id else None
            if (o is not None and not o.is_done and o.status != HELD and o.order_ref == req.order_ref
                    and o.symbol == key and o.action == req.action and o.order_type == req.order_type):
                return o
        return None

    def _working_or_waiting(self) -> list[SimOrder]:
        return [o for o in self.orders.values() if not o.is_done and o.status != HELD]

    def _refuse(self, client_id: int, req: OrderRequest, code: int, text: str) -> None:
        """An order the book does not store (unknown contract, reused id)."""
        ghost = SimOrder(
            client_id, req.order_id, 0, req.symbol, req.con_id, req.action, req.quantity,
            req.order_type, req.quantity, req.lmt_price, req.aux_price, order_ref=req.order_ref,
            parent_id=req.parent_id, status=INACTIVE, reason=text, trail_stop_price=req.trail_stop_price,
        )
        self._emit("rejected", ghost, ("error",), code=code, text=text)

    def _off_tick(self, c: SimContract, order_type: str, lmt: float | None, aux: float | None,
                  trail_stop: float | None) -> bool:
        return rules.off_tick(c.rule, order_type, lmt, aux, trail_stop, self.prices[c.key])

    def _new(self, client_id: int, req: OrderRequest, stock: SimContract, reject_reason: str | None) -> None:
        o = SimOrder(
            client_id=client_id, order_id=req.order_id, perm_id=self._next_perm, symbol=stock.key,
            con_id=stock.con_id, action=req.action, total_qty=req.quantity, order_type=req.order_type,
            requested_qty=req.quantity, lmt_price=req.lmt_price, aux_price=req.aux_price,
            tif=req.tif or "DAY", preset_tif=not req.tif, oca_group=req.oca_group, oca_type=req.oca_type,
            account=req.account or self.account.name, order_ref=req.order_ref, parent_id=req.parent_id,
            outside_rth=req.outside_rth, trail_stop_price=req.trail_stop_price,
            trailing_percent=req.trailing_percent, original_order_id=req.order_id,
        )
        self._next_perm += 1
        self.orders[o.key] = o
        reason = reject_reason or rules.static_problem(
            o.action, o.total_qty, o.order_type, o.lmt_price, o.aux_price, o.trailing_percent, o.tif
        )
        if not reason and o.tif == "GTD":
            o.good_till = parse_good_till(req.good_till)
            reason = "" if o.good_till is not None else GTD_FORMAT
        if not reason:
            reason = self.policy.precaution_problem(o, o.lmt_price, self.prices[o.symbol])
        if not reason and o.account != self.account.name:
            reason = f"account {o.account!r} is not managed by this gateway"
        if not reason and o.parent_id:
            parent = self.orders.get((client_id, o.parent_id))
            if parent is None:
                reason = f"parent order {o.parent_id} not found"
            elif parent.status in (CANCELLED, INACTIVE) and parent.filled == 0:
                reason = f"parent order {o.parent_id} is {parent.status}"
            else:
                o.parent_perm_id = parent.perm_id
                self._kids.setdefault(parent.perm_id, []).append(o)
        if reason:
            self._reject(o, reason)
        elif not req.transmit:
            self._emit("placed", o, ())
        else:
            self._transmit(o, trigger=o)

    def _transmit(self, o: SimOrder, trigger: SimOrder | None) -> None:
        """Send out every held order of ``o``'s group, in orderId order."""
        root = o
        while root.parent_id and (p := self.orders.get((root.client_id, root.parent_id))) is not None:
            root = p
        group = [root, *self._descendants(root)]
        held = sorted((m for m in group if m.status == HELD), key=lambda m: m.order_id)
        started: list[SimOrder] = []
        for m in held:
            if m.status != HELD:  # rejected together with its parent
                continue
            parent = self.orders.get((m.client_id, m.parent_id)) if m.parent_id else None
            waiting = parent is not None and parent.filled == 0
            if not waiting and (problem := self._price_problem(m, m.aux_price, m.trail_stop_price)):
                self._reject(m, problem)
                continue
            kind = "placed" if m is trigger else "transmitted"
            closed = not waiting and not self._may_trade(m)
            if waiting or closed:
                self._set_status(m, PRE_SUBMITTED)
            else:
                self._activate(m)
                started.append(m)
            self._emit(kind, m, ("open", "status"))
            if closed:  # IB queues it for the open and says so
                self._held_for_open[m.perm_id] = m
                self._emit("held_for_open", m, ("error",), code=RTH_WARNING, text=(
                    f"Order Message:\n{m.action} {m.total_qty:g} {m.symbol}\nWarning: your order will not be "
                    f"placed at the exchange until {self.next_open_text(m.symbol)}"))
            if m.preset_tif:
                self._emit("", m, ("error",), code=10349, text=TIF_PRESET_TEXT)
        for m in started:
            if m.parent_id and (parent := self.orders.get((m.client_id, m.parent_id))):
                self._sync_children(parent)
            if m.status == SUBMITTED:
                self._match(m)

    def _activate(self, o: SimOrder) -> None:
        self._set_status(o, SUBMITTED)
        if o.order_type == "TRAIL":
            rules.start_trail(o, self.prices[o.symbol])

    def _reject(self, o: SimOrder, reason: str) -> None:
        self._set_status(o, INACTIVE)
        o.completed_time = self.clock()
        o.reason = reason
        text = f"Order rejected - reason:{reason}"
        self._emit("rejected", o, ("error", "open", "status"), code=201, text=text)
        for child in self._children(o):
            if not child.is_done:
                self._reject(child, f"parent order {o.order_id} rejected")

    # ------------------------------------------------------------ modifying
    def _modify(self, o: SimOrder, req: OrderRequest, stock: SimContract) -> None:
        if stock.key != o.symbol or req.action != o.action or req.order_type != o.order_type:
            self._emit("rejected", o, ("error", "open", "status"), code=105,
                       text="Order being modified does not match the original order")
            return
        if self._off_tick(stock, o.order_type, req.lmt_price, req.aux_price, req.trail_stop_price):
            # refused; the order keeps working at its old price (ib_async: ValidationError); the
            # journal says the prices refused
            self._emit("rejected", o, ("error",), code=OFF_TICK_CODE, text=OFF_TICK_TEXT,
                       refused_lmt_price=req.lmt_price, refused_aux_price=req.aux_price,
                       refused_trail_stop_price=req.trail_stop_price)
            return
        parent = self.orders.get((o.client_id, o.parent_id)) if o.parent_id else None
        requested = req.quantity
        if parent is not None and parent.filled > 0 and req.quantity == o.total_qty:
            requested = o.requested_qty  # the client echoed the quantity we reported
        lmt, aux = req.lmt_price, req.aux_price
        reason = rules.static_problem(
            o.action, requested, o.order_type, lmt, aux, req.trailing_percent, req.tif or o.tif
        )
        if not reason and parent is None and requested <= o.filled:
            reason = f"quantity {requested:g} is not above the filled quantity {o.filled:g}"
        if not reason and o.status == SUBMITTED and not o.triggered:
            reason = self._price_problem(o, aux, req.trail_stop_price)
        if not reason:
            reason = self.policy.precaution_problem(o, lmt, self.prices[o.symbol])
        if reason:
            self._emit("rejected", o, ("error", "open", "status"), code=201,
                       text=f"Order rejected - reason:{reason}")
            return
        trail_changed = (aux != o.aux_price) or (req.trailing_percent != o.trailing_percent)
        o.lmt_price, o.aux_price, o.trailing_percent = lmt, aux, req.trailing_percent
        o.tif = req.tif or o.tif
        o.oca_group, o.oca_type = req.oca_group, req.oca_type
        o.order_ref, o.outside_rth = req.order_ref, req.outside_rth
        o.requested_qty = requested
        if parent is None or parent.filled == 0:
            o.total_qty = requested
        if o.order_type == "TRAIL" and o.status == SUBMITTED:
            # a working trail only ever tightens: a new distance is applied from the
            # best price seen, an explicit trailStopPrice only if it is tighter
            if trail_changed and o.extreme_price is not None:
                o.trail_stop_price = rules.trail_stop_from(o, o.extreme_price)
            if (req.trail_stop_price is not None and o.trail_stop_price is not None
                    and rules.tighter(o, req.trail_stop_price, o.trail_stop_price)):
                o.trail_stop_price = req.trail_stop_price
        elif req.trail_stop_price is not None:
            o.trail_stop_price = req.trail_stop_price
        # A modification is applied at once even with transmit=0 (TWS would hold it
        # until transmitted); transmit=1 also sends out any held orders of the group.
        self._emit("modified", o, () if o.status == HELD else ("open", "status"))
        self.policy.modified(o)
        if req.transmit and (o.status == HELD or any(m.status == HELD for m in self._descendants(o))):
            self._transmit(o, trigger=None)
        if parent is not None:
            self._sync_children(parent)
        if o.status == SUBMITTED:
            self._match(o)

    # ------------------------------------------------------------ cancelling
    def refuse_cancel(self, client_id: int, order_id: int, code: int) -> list[Event] | None:
        """A cancel of a working order refused with ``code`` (the refuse-cancel fault): the order
        keeps working. None when the order is not working (the cancel is handled as usual)."""
        o = self.orders.get((client_id, order_id))
        if o is None or o.is_done:
            return None
        self._emit("cancel_rejected", o, ("error",), code=code,
                   text=f"OrderId {order_id} that needs to be cancelled cannot be cancelled, state: PendingCancel.")
        return self._drain()

    def cancel(self, client_id: int, order_id: int, race: Callable[[], bool | None] | None = None) -> list[Event]:
        """Handle a client's cancelOrder.

        ``race`` is asked, for a working order, whether it filled just before the cancel
        arrived (the cancel-race fault): ``True`` = the fill is reported first, then 10148;
        ``False`` = 10148 first, then the fill; ``None`` = no race.
        """
        o = self.orders.get((client_id, order_id))
        fill_first = race() if race is not None and o is not None and not o.is_done and o.status != HELD else None
        if o is not None and fill_first is not None:
            self._fill(o, o.remaining, self._race_price(o))
            fills = self._drain()
            self._emit("cancel_rejected", o, ("error",), code=10148,
                       text=f"OrderId {order_id} that needs to be cancelled cannot be cancelled, state: {o.status}.")
            refusal = self._drain()
            return fills + refusal if fill_first else refusal + fills
        if o is None:
            ghost = SimOrder(client_id, order_id, 0, "", 0, "", 0.0, "", status="")
            self._emit("cancel_rejected", ghost, ("error",), code=10147,
                       text=f"OrderId {order_id} that needs to be cancelled is not found.")
        elif o.is_done:
            self._emit("cancel_rejected", o, ("error",), code=10148,
                       text=f"OrderId {order_id} that needs to be cancelled cannot be cancelled, state: {o.status}.")
        else:
            self._cancel(o, "", requested=True)
        return self._drain()

    def _race_price(self, o: SimOrder) -> float:
        price = self.prices[o.symbol]
        if o.order_type in ("LMT", "STP LMT") and o.lmt_price is not None:
            return o.lmt_price  # a resting limit fills at its limit
        return price

    def end_session(self) -> list[Event]:
        """The session closes: every working (or waiting) DAY order is cancelled by IB."""
        for o in self._working_or_waiting():
            if o.tif == "DAY" and not o.is_done:
                self._cancel(o, SESSION_END)
        return self._drain()

    def global_cancel(self) -> list[Event]:
        """reqGlobalCancel: cancel every order that is not done, of every client."""
        for o in self._sorted():
            if not o.is_done:
                self._cancel(o, "global cancel", requested=True)
        return self._drain()

    def _cancel(self, o: SimOrder, reason: str, requested: bool = False) -> None:
        if o.is_done:
            return
        was_held = o.status == HELD
        if requested and not was_held:
            o_status = o.status
            o.status = PENDING_CANCEL
            self._emit("", o, ("status",))
            o.status = o_status
        self._set_status(o, CANCELLED)
        o.completed_time = self.clock()
        o.reason = reason
        wire: tuple[str, ...] = ("status", "error") if requested and not was_held else ("status",)
        self._emit("cancelled", o, wire, code=202, text=CANCEL_TEXT, reason=reason)
        self._sync_children(o)
        if o.parent_id and (parent := self.orders.get((o.client_id, o.parent_id))):
            self._sync_children(parent)

    def _cancel_rest(self, o: SimOrder) -> None:
        """IB cancels what is left of a partly filled order on its own (``policy.cancel_market_rest``):
        its 202 reaches the client first, then the fill's execution, then the Cancelled status."""
        fill_events, self._out = self._out, []
        self._set_status(o, CANCELLED)
        o.completed_time = self.clock()
        self._emit("cancelled", o, ("error",), code=202, text=CANCEL_TEXT, reason="no liquidity")
        for e in fill_events:   # the fill's own status (Submitted) would undo the cancel at the client
            if isinstance(e, OrderEvent):
                e = replace(e, wire=tuple(w for w in e.wire if w not in ("status", "open")))
            elif isinstance(e, PortfolioEvent):
                e = replace(e, late=True)
            self._out.append(e)
        self._emit("", o, ("late_status",))   # after the executions, even when those come late

    # ------------------------------------------------------------ prices and matching
    def set_price(self, symbol: str, price: float) -> list[Event]:
        """A trade at ``price``: match that symbol's working orders."""
        self.prices[symbol] = price
        for o in [w for w in self._working.values() if w.symbol == symbol]:
            if o.status == SUBMITTED:
                self._match(o)
        return self._drain()

    def match_all(self) -> list[Event]:
        """Match every working order against its symbol's current price."""
        for o in list(self._working.values()):
            if o.status == SUBMITTED:
                self._match(o)
        return self._drain()

    def _may_trade(self, o: SimOrder) -> bool:
        """The market is open, or the order may work outside regular hours (a market order never)."""
        return self.market_open is None or self.market_open(o.symbol) or (o.outside_rth and o.order_type != "MKT")

    def open_session(self) -> list[Event]:
        """The regular session opens: orders held for it go to the exchange and, like every working
        order, meet the opening price (a gap past a stop fills it at the open, not at the stop)."""
        released = self.release_held()
        return released + self.match_all()

    def release_held(self) -> list[Event]:
        """Orders held for an open whose market is open now go to the exchange and meet the price (a
        future's market opens at 17:00 Chicago, not with the stocks' session); the others stay held."""
        released = False
        for o in sorted(self._held_for_open.values(), key=lambda m: m.perm_id):
            if o.status != PRE_SUBMITTED:
                del self._held_for_open[o.perm_id]
            elif self._may_trade(o):
                del self._held_for_open[o.perm_id]
                self._activate(o)
                self._emit("activated", o, ("status",), reason="the session opened")
                released = True
        return self.match_all() if released else self._drain()

    def expire_gtd(self, now: datetime) -> list[Event]:
        """IB cancels every GTD order whose good-till date has come."""
        for o in self._sorted():
            if o.tif == "GTD" and o.good_till is not None and o.good_till <= now and not o.is_done:
                self._cancel(o, GTD_END)
        return self._drain()

    def _match(self, o: SimOrder) -> None:
        if not self._may_trade(o):
            return  # closed: nothing executes, no stop triggers
        price = self.prices[o.symbol]
        triggered_now, fills = rules.evaluate(o, price)
        if triggered_now:  # elected: the owner hears Submitted (it was PreSubmitted)
            self._emit("triggered", o, ("status",), price=price)
        if fills:
            qty = o.remaining
            if self.partial_fill_max:
                qty = min(qty, float(self.partial_fill_max))
            if qty > 0:
                self._fill(o, qty, price)
                if o.order_type == "MKT" and not o.is_done and self.policy.cancel_market_rest > 0:
                    self.policy.cancel_market_rest -= 1
                    self._cancel_rest(o)

    def _price_problem(self, o: SimOrder, aux: float | None, trail_stop: float | None) -> str:
        return rules.stop_problem(o, self.prices[o.symbol], aux, trail_stop)

    # ------------------------------------------------------------ fills
    def _fill(self, o: SimOrder, qty: float, price: float) -> None:
        value_before = o.avg_fill_price * o.filled
        o.filled += qty
        value = value_before + qty * price
        o.avg_fill_price = value / o.filled
        o.last_fill_price = price
        contract = self.catalog.by_key(o.symbol)
        assert contract is not None  # orders exist only for known contracts
        total_commission = commission_of(contract, o.filled, value, self.commission_per_share, self.min_commission)
        commission = round(total_commission - o.commission_paid, 4)
        o.commission_paid = total_commission
        realized = self.account.apply_fill(o.symbol, o.con_id, o.is_buy, qty, price, commission,
                                           contract=contract)
        self._exec_seq += 1
        now = self.clock()
        execution = Execution(
            exec_id=f"{self._exec_prefix}.{self._exec_seq:08x}.01.01", client_id=o.client_id,
            order_id=o.order_id, perm_id=o.perm_id, symbol=o.symbol, con_id=o.con_id,
            side="BOT" if o.is_buy else "SLD", shares=qty, price=price, cum_qty=o.filled,
            avg_price=o.avg_fill_price, order_ref=o.order_ref, time=now, commission=commission,
            realized_pnl=realized, account=o.account, venue=contract.venue,
        )
        self.executions.append(execution)
        if o.remaining <= 0:
            self._set_status(o, FILLED)
            o.completed_time = now
            wire: tuple[str, ...] = ("exec", "open", "status", "commission")
        else:
            wire = ("exec", "status", "commission")
        self._emit("filled", o, wire, execution=execution)
        self._out.append(PortfolioEvent(o.symbol))
        self._after_fill(o, qty)

    def _after_fill(self, o: SimOrder, qty: float) -> None:
        family = self._family(o)
        if o.oca_group:
            for sib in self._sorted():
                if (sib is o or sib.is_done or sib.client_id != o.client_id
                        or sib.oca_group != o.oca_group or sib.key in family):
                    continue
                if o.oca_type in (2, 3):
                    sib.total_qty = max(sib.filled, sib.total_qty - qty)
                    sib.requested_qty = sib.total_qty
                    if sib.remaining <= 0:
                        self._cancel(sib, f"OCA group {o.oca_group} filled")
                    else:
                        self._emit("resized", sib, ("open", "status"), reason=f"OCA group {o.oca_group}")
                else:
                    self._cancel(sib, f"OCA group {o.oca_group} filled")
        if self._children(o):
            self._sync_children(o)
        if o.parent_id and (parent := self.orders.get((o.client_id, o.parent_id))):
            if parent.is_done and parent.filled > 0:
                self._reduce_siblings(parent, o, qty)
            else:
                self._sync_children(parent)

    def _reduce_siblings(self, parent: SimOrder, o: SimOrder, qty: float) -> None:
        """The children of a filled parent are one OCA group that reduces: a fill of one takes
        the same quantity off the others (their own quantities, however they were modified)."""
        for sib in self._children(parent):
            if sib is o or sib.is_done or sib.status == HELD:
                continue
            sib.total_qty = max(sib.filled, sib.total_qty - qty)
            sib.requested_qty = sib.total_qty
            if sib.remaining <= 0:
                self._cancel(sib, "bracket closed (OCA)")
            else:
                self._emit("resized", sib, ("open", "status"), reason="OCA reduce")

    # ------------------------------------------------------------ brackets
    def _children(self, parent: SimOrder) -> list[SimOrder]:
        return list(self._kids.get(parent.perm_id, ()))

    def _descendants(self, root: SimOrder) -> list[SimOrder]:
        out: list[SimOrder] = []
        todo = [root]
        while todo:
            for child in self._children(todo.pop()):
                if child not in out:
                    out.append(child)
                    todo.append(child)
        return out

    def _family(self, o: SimOrder) -> set[tuple[int, int]]:
        """Keys of o's bracket: its parent, its siblings and its children."""
        keys = {c.key for c in self._children(o)}
        if o.parent_id and (parent := self.orders.get((o.client_id, o.parent_id))):
            keys.add(parent.key)
            keys.update(c.key for c in self._children(parent))
        return keys

    def _sync_children(self, parent: SimOrder) -> None:
        """Bring the bracket children in line with what the parent has filled."""
        kids = [c for c in self._children(parent) if c.status != INACTIVE]
        if not kids:
            return
        if parent.filled == 0:
            if parent.is_done:
                for c in kids:
                    self._cancel(c, f"parent order {parent.order_id} {parent.status.lower()}")
            return
        open_qty = parent.filled - sum(c.filled for c in kids)
        started: list[SimOrder] = []
        for c in kids:
            if c.is_done or c.status == HELD:
                continue
            remaining = max(0.0, min(c.requested_qty - c.filled, open_qty))
            if remaining <= 0:
                if parent.is_done:
                    self._cancel(c, "bracket closed (OCA)")
                elif c.status == SUBMITTED:
                    self._set_status(c, PRE_SUBMITTED)
                    self._emit("resized", c, ("open", "status"), reason="waiting for parent fills")
                continue
            new_total = c.filled + remaining
            if c.status == PRE_SUBMITTED:
                c.total_qty = new_total
                self._activate(c)
                self._emit("activated", c, ("open", "status"))
                started.append(c)
            elif new_total != c.total_qty:
                c.total_qty = new_total
                self._emit("resized", c, ("open", "status"), reason="bracket quantity")
        for c in started:
            if c.status == SUBMITTED:
                self._match(c)

    # ------------------------------------------------------------ restart
    def restart(self, rollback: int = 0) -> list[Event]:
        """IB's nightly restart: order ids start again at 1 for every client.

        Held (untransmitted) orders are lost.  Every other order keeps its
        permId and is re-keyed to ``order_id = -perm_id`` (like orders bound
        from outside the API), so a new order that reuses an old id is a new
        order and never touches the old one.  Executions follow the re-keying.

        With ``rollback`` N > 0 orders keep their ids instead and every client's
        next valid id goes back by N: a new order may then reuse a live order's id.
        """
        for o in self._sorted():
            if o.status == HELD:
                self._cancel(o, "gateway restart")
        if rollback > 0:
            for client_id, highest in self._highest.items():
                self._highest[client_id] = max(0, highest - rollback)
            return self._drain()
        remap: dict[tuple[int, int], int] = {}
        for o in self._sorted():
            if o.order_id > 0:
                remap[o.key] = -o.perm_id
        rekeyed: dict[tuple[int, int], SimOrder] = {}
        for o in sorted(self.orders.values(), key=lambda o: o.perm_id):
            old = o.order_id
            if o.parent_id and (o.client_id, o.parent_id) in remap:
                o.parent_id = remap[(o.client_id, o.parent_id)]
            o.order_id = remap.get(o.key, o.order_id)
            rekeyed[o.key] = o
            if o.order_id != old:
                self._emit("rekeyed", o, (), old_order_id=old)
        self.orders = rekeyed
        self.executions = [
            replace(e, order_id=remap[(e.client_id, e.order_id)]) if (e.client_id, e.order_id) in remap else e
            for e in self.executions
        ]
        self._highest.clear()
        return self._drain()

    # ------------------------------------------------------------ helpers
    def _set_status(self, o: SimOrder, status: str) -> None:
        o.status = status
        if status == SUBMITTED:
            self._working[o.perm_id] = o
        else:
            self._working.pop(o.perm_id, None)

    def _emit(self, kind: str, o: SimOrder, wire: Iterable[str], *, execution: Execution | None = None,
              code: int = 0, text: str = "", **details: object) -> None:
        self._out.append(OrderEvent(kind, o.client_id, o.order_id, o.snapshot(), tuple(wire),
                                    execution, code, text, dict(details)))
