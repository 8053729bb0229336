"""Whether new entries may be sent, and why not.

Entries stop when IB holds positions the plans cannot explain (seen right after connecting, or
twice in a row: positions and executions come from different moments), and for good when the
connection turned out to be on an account the config does not allow. Protection of what is
already held is never touched by the gate.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import machines
from machines import NotifyKind, Plan

from .fills import FillsInFlight
from .notices import Notices

log = logging.getLogger(__name__)


class EntryGate:
    def __init__(self, notices: Notices, fills: FillsInFlight) -> None:
        self.notices = notices
        self.fills = fills
        self.blocked: str | None = None      # why new entries are stopped (None: allowed)
        self.mismatch: str | None = None     # the last position mismatch seen

    def allows_entries(self) -> bool:
        return self.blocked is None

    def block(self, reason: str) -> None:
        self.blocked = reason

    def check_positions(self, positions: dict[str, int], plans: Iterable[Plan], *, first: bool) -> None:
        """Compare IB's positions per symbol with what the plans hold.

        Symbols whose plans still have fills to apply are skipped. A mismatch blocks new entries
        when seen right after connecting, or twice in a row; it unblocks once everything matches.
        """
        expected: dict[str, int] = {}
        settling: set[str] = set()
        for plan in plans:
            if plan.open_qty:
                expected[plan.spec.symbol] = expected.get(plan.spec.symbol, 0) + plan.open_qty * plan.spec.side.sign
            if plan.state not in machines.TERMINAL_STATES and self.fills.unapplied(plan):
                settling.add(plan.spec.symbol)
        mismatches = {sym: (positions.get(sym, 0), expected.get(sym, 0))
                      for sym in set(positions) | set(expected)
                      if sym not in settling and positions.get(sym, 0) != expected.get(sym, 0)}
        if not mismatches:
            self.mismatch = None
            if self.blocked:
                log.warning("positions match again; new entries allowed")
                self.blocked = None
            return
        text = "; ".join(f"{s}: IB holds {ib}, plans hold {ours}" for s, (ib, ours) in sorted(mismatches.items()))
        seen_before = self.mismatch == text
        self.mismatch = text
        if (first or seen_before) and self.blocked != text:
            self.blocked = text
            self.notices.report_once(f"positions:{text}", NotifyKind.UNEXPLAINED_POSITION, {"message": text})
