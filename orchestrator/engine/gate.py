"""Whether a new entry may be sent, and why not — per symbol.

- A position in a symbol a live plan trades that the plans do not explain holds new entries in
  that symbol (seen right after connecting, or twice in a row: positions and executions come
  from different moments). The hold lifts by itself once a reconciliation finds the position
  gone or explained (a position report that looks explained asks for one at once: the report
  alone may have overtaken a fill of ours), or when the trader accepts it as their own
  (``orchestrator positions accept SYMBOL``).
- A position in a symbol no live plan trades is the trader's business: reported once, never a
  hold.
- The trader can pause new entries, for every symbol or one (``pause`` / ``resume``).
- A connection to an account the config does not allow stops every entry for good.

Protection of what is already held is never touched by the gate. Pauses, accepted positions and
the trader's shares seen beside the plans (``beside``, see :mod:`.holdings`) outlive a restart
(``meta``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable

import machines
from machines import NotifyKind, Plan

from ..store import Store
from .fills import FillsInFlight
from .notices import Notices

log = logging.getLogger(__name__)
PAUSED_KEY, ACCEPTED_KEY, BESIDE_KEY = "entries_paused", "accepted_positions", "beside_positions"
ALL = "*"


class EntryGate:
    def __init__(self, notices: Notices, fills: FillsInFlight, store: Store) -> None:
        self.notices = notices
        self.fills = fills
        self.store = store
        self.blocked: str | None = None            # every entry stopped, for good (wrong account)
        self.held: dict[str, str] = {}             # symbol → why its new entries are held
        self._seen: dict[str, str] = {}            # symbol → the mismatch seen at the last check
        self.positions: dict[str, int] = {}        # IB's positions at the last check
        self.paused: set[str] = set(json.loads(store.get_meta(PAUSED_KEY) or "[]"))
        self.accepted: dict[str, int] = json.loads(store.get_meta(ACCEPTED_KEY) or "{}")
        # symbol → shares (signed) IB held beyond the plans and the accepted positions, in the plans'
        # direction, at the last settled look: the trader's own, not accepted yet
        self.beside: dict[str, int] = json.loads(store.get_meta(BESIDE_KEY) or "{}")

    def own(self, symbol: str) -> int:
        """The shares (signed) in ``symbol`` that are the trader's: accepted, and seen beside the plans."""
        return self.accepted.get(symbol, 0) + self.beside.get(symbol, 0)

    def saw_beside(self, symbol: str, quantity: int) -> None:
        if self.beside.get(symbol, 0) == quantity:
            return
        if quantity:
            self.beside[symbol] = quantity
        else:
            del self.beside[symbol]
        self.store.set_meta(BESIDE_KEY, json.dumps(self.beside, sort_keys=True))

    # ------------------------------------------------------------------ asking
    def reason(self, symbol: str, plain: str | None = None) -> str | None:
        """Why a new entry in ``symbol`` (a contract key) may not be sent now (None: it may); a
        pause of its ``plain`` symbol pauses it too (``pause ES`` pauses every ES contract)."""
        if self.blocked:
            return self.blocked
        if ALL in self.paused:
            return "new entries are paused (orchestrator pause); resume with orchestrator resume"
        for name in (symbol, plain):
            if name is not None and name in self.paused:
                return f"new entries in {name} are paused (orchestrator pause {name})"
        return self.held.get(symbol)

    def block(self, reason: str) -> None:
        self.blocked = reason

    # ------------------------------------------------------------------ the trader's commands
    def pause(self, symbol: str | None) -> bool:
        key = symbol or ALL
        if key in self.paused:
            return False
        self.paused.add(key)
        self.store.set_meta(PAUSED_KEY, json.dumps(sorted(self.paused)))
        return True

    def resume(self, symbol: str | None) -> bool:
        if symbol is None:
            if not self.paused:
                return False
            self.paused.clear()
        elif symbol in self.paused:
            self.paused.discard(symbol)
        else:
            return False
        self.store.set_meta(PAUSED_KEY, json.dumps(sorted(self.paused)))
        return True

    def contract_of(self, symbol: str) -> str:
        """The contract key a symbol the trader typed names: a plain symbol names the one held
        contract of that symbol (``ES`` for ``ES:FUT:…``)."""
        if symbol not in self.held and symbol not in self.positions:
            named = {k for k in [*self.held, *self.positions] if k.startswith(symbol + ":")}
            if len(named) == 1:
                return named.pop()
        return symbol

    def accept(self, symbol: str, plans: Iterable[Plan], held: int) -> int:
        """Take what IB holds now (``held``, settled) in ``symbol`` (a contract key) beyond the
        plans as the trader's own; returns it."""
        self.positions[symbol] = held
        own = held - _expected(plans).get(symbol, 0)
        self.accepted[symbol] = own
        if not own:
            del self.accepted[symbol]
        self.store.set_meta(ACCEPTED_KEY, json.dumps(self.accepted, sort_keys=True))
        self.saw_beside(symbol, 0)   # what was seen beside the plans is now accepted
        self._release(symbol)
        return own

    # ------------------------------------------------------------------ reconciliation
    def check_positions(self, positions: dict[str, int], plans: Iterable[Plan], *, first: bool) -> None:
        """Compare IB's positions per symbol with what the plans (and the trader's accepted
        positions) hold. Symbols whose plans still have fills to apply are skipped."""
        plans = list(plans)
        self.positions = dict(positions)
        expected = _expected(plans)
        for symbol, own in self.accepted.items():
            expected[symbol] = expected.get(symbol, 0) + own
        traded = {p.key for p in plans if p.state not in machines.TERMINAL_STATES}
        settling = {p.key for p in plans
                    if p.state not in machines.TERMINAL_STATES and self.fills.unapplied(p)}
        for symbol in sorted(set(positions) | set(expected) | set(self.held)):
            if symbol in settling:
                continue
            ib, ours = positions.get(symbol, 0), expected.get(symbol, 0)
            if ib == ours:
                self._seen.pop(symbol, None)
                self._release(symbol)
            elif symbol not in traded:
                self._seen.pop(symbol, None)
                self._release(symbol)
                self.notices.report_once(f"foreign:{symbol}:{ib}:{ours}", NotifyKind.FOREIGN_POSITIONS, {
                    "message": f"IB holds {ib} {symbol}, which no live plan trades: left alone", "symbol": symbol})
            else:
                text = f"IB holds {ib} {symbol}, the plans and accepted positions {ours}"
                seen_before = self._seen.get(symbol) == text
                self._seen[symbol] = text
                if (first or seen_before) and symbol not in self.held:
                    self.held[symbol] = (f"new entries in {symbol} are held: {text} (accept it as your own with "
                                         f"orchestrator positions accept {symbol})")
                    self.notices.report_once(f"positions:{text}", NotifyKind.UNEXPLAINED_POSITION,
                                             {"message": self.held[symbol], "symbol": symbol})

    def explained(self, symbol: str, quantity: int, plans: Iterable[Plan]) -> bool:
        """IB reported a settled position in a held ``symbol`` between reconciliations (the caller
        knows no fill there is still to apply) that the plans would explain. Only a question: the
        report may have overtaken the execution behind it (a fill of ours whose status and
        execution come later leaves the plans' figures stale), so only a reconciliation, which
        reads the executions with the positions, lifts the hold."""
        return symbol in self.held and quantity == _expected(plans).get(symbol, 0) + self.accepted.get(symbol, 0)

    def _release(self, symbol: str) -> None:
        if self.held.pop(symbol, None) is not None:
            log.warning("%s: positions match again; new entries allowed", symbol)
            self.notices.report_once(f"explained:{symbol}:{self.positions.get(symbol, 0)}",
                                     NotifyKind.POSITION_EXPLAINED,
                                     {"message": f"{symbol}: positions match again; new entries allowed",
                                      "symbol": symbol})


def _expected(plans: Iterable[Plan]) -> dict[str, int]:
    """Shares per symbol the plans hold (signed: long positive)."""
    out: dict[str, int] = {}
    for p in plans:
        if p.open_qty:
            out[p.key] = out.get(p.key, 0) + p.open_qty * p.spec.side.sign
    return out
