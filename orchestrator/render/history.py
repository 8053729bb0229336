"""PURE: a plan's journal as ``history`` shows it: one row per transition or figure-changing
event, each with its facts in a few words, and the plan's P&L (gross and net) at the end.

The daemon journals only steps that change something (a price tick that moves no stop, a status
echo after the plan ended are not rows). Stores written before that may hold runs of identical
rows: a run that repeats the same event with the same facts is shown once, with its count.
"""

from __future__ import annotations

import json
import os
import textwrap
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from rich import box
from rich.table import Table

from ..notify.pnl import pnl_text
from .figures import Row, commissions, exact, px

Facts = dict[str, Any]


def history_record(j: Row) -> dict[str, Any]:
    return {"seq": j.seq, "at": j.at, "from": j.from_state, "to": j.to_state, "event": j.event,
            "payload": json.loads(j.payload), "recorded_at": j.recorded_at}


def _ib(f: Facts) -> str:
    code, message = f.get("code"), f.get("message") or ""
    return f"IB {code}: {message}" if code else str(message)


def _qty_at(f: Facts) -> str:
    return f"{f.get('quantity')} @ {px(f.get('price'))}"


def _activate(f: Facts) -> str:
    if f.get("refused"):
        return f"refused: {f['refused']}" + (f" (IB {f['code']})" if f.get("code") else "")
    parts = [f"live price {px(f['market_price'])}"] if f.get("market_price") is not None else []
    parts += [f"account {px(f.get('account_value'))}", f"funds {px(f.get('available_funds'))}",
              f"other plans' open risk {px(f.get('open_risk'))}"]
    return " · ".join(parts)


def _protection(f: Facts) -> str:
    def leg(name: str, q: Any, p: Any) -> str:
        return f"{name} {q}" + (f" @ {px(p)}" if q and p is not None else "")
    return f"IB shows {leg('stop', f.get('stop_quantity'), f.get('stop_price'))}, " \
           f"{leg('target', f.get('target_quantity'), f.get('target_price'))}"


def _adopt(f: Facts) -> str:
    parts = [f"entry of {f.get('quantity')} at IB"]
    if f.get("entry_qty"):
        parts.append(f"filled {f['entry_qty']} @ {px(f.get('entry_price'))}")
    if f.get("exit_qty"):
        parts.append(f"exited {f['exit_qty']} @ {px(f.get('exit_price'))}")
    return " · ".join(parts)


DETAILS: dict[str, Callable[[Facts], str]] = {
    "Activate": _activate,
    "EntryAccepted": lambda f: f"order {f.get('order_id')} working at IB (perm {f.get('perm_id')})",
    "EntryRejected": _ib,
    "EntryCancelled": lambda f: f"IB cancelled the entry{': ' + f['reason'] if f.get('reason') else ''}",
    "EntryFilled": lambda f: f"entry filled {_qty_at(f)} · exec {f.get('exec_id')}",
    "ExitFilled": lambda f: f"{f.get('leg')} {_qty_at(f)} · exec {f.get('exec_id')}",
    "ProtectionStatus": _protection,
    "ProtectionFailed": lambda f: f"{f.get('leg')}: {_ib(f)}",
    "PriceUpdate": lambda f: f"last {px(f.get('price'))}",
    "StopModified": lambda f: f"IB confirmed the stop at {px(f.get('stop_price'))}",
    "StopModifyRejected": lambda f: f"{_ib(f)} · the stop is {'still' if f.get('stop_working') else 'not'} working",
    "CancelRequested": lambda f: str(f.get("reason") or ""),
    "Expire": lambda f: "expire_at reached",
    "FlattenFailed": _ib,
    "PositionShortfall": lambda f: f"IB holds {f.get('held')} of the {f.get('believed')} shares",
    "TrailRetry": lambda f: f"stop not confirmed in time: sent again (at most {f.get('max_attempts')} times)",
    "CommissionCharged": lambda f: f"commission {exact(f.get('amount'))} · exec {f.get('exec_id')}",
    "Hold": lambda f: f"new entries held: {f['reason']}" if f.get("reason") else "new entries allowed again",
    "Adopt": _adopt,
    "Fault": lambda f: str(f.get("reason") or ""),
}


def _shown_path(path: str, base: Path | None) -> str:
    if base is not None:
        try:
            return os.path.relpath(path, base) if Path(path).is_relative_to(base) else path
        except ValueError:
            return path
    return path


def details(j: Row, base: Path | None = None) -> str:
    """The event's facts in a few words (``PlanLoaded``: the file it came from)."""
    facts = json.loads(j.payload)
    if not isinstance(facts, dict):
        return str(facts)
    if j.event == "PlanLoaded":
        source = facts.get("source_file")
        return f"from {_shown_path(source, base)}" if source else "from a plan file (not recorded)"
    describe = DETAILS.get(j.event)
    if describe is not None:
        try:
            return describe(facts)
        except (KeyError, TypeError, ArithmeticError, ValueError):
            pass  # an odd payload is shown raw below, never an error
    return ", ".join(f"{k}={v}" for k, v in facts.items() if k not in {"at", "spec"} and v not in (None, ""))


def _same(a: Row, b: Row) -> bool:
    """Two rows that say the same thing (time aside)."""
    if (a.event, a.from_state, a.to_state) != (b.event, b.from_state, b.to_state) or a.from_state != a.to_state:
        return False
    pa, pb = json.loads(a.payload), json.loads(b.payload)
    if isinstance(pa, dict) and isinstance(pb, dict):
        pa.pop("at", None)
        pb.pop("at", None)
    return bool(pa == pb)


def folded(rows: Sequence[Row]) -> list[tuple[Row, int]]:
    """Each row with how many times it repeated in a row (identical events that changed nothing)."""
    out: list[tuple[Row, int]] = []
    for j in rows:
        if out and _same(out[-1][0], j):
            out[-1] = (out[-1][0], out[-1][1] + 1)
        else:
            out.append((j, 1))
    return out


def pnl_footer(plan: Row) -> str | None:
    """``P&L: +$1,750.00 gross · $1,745.00 net (commissions $5.00)`` once anything exited."""
    if int(plan.exited_qty or 0) <= 0 or plan.realized_pnl is None:
        return None
    return f"P&L: {pnl_text(Decimal(plan.realized_pnl), commissions(plan))}"


def _marks(j: Row, times: int) -> tuple[str, str, str]:
    seq = str(j.seq) if times == 1 else f"{j.seq}…"
    event = j.event if times == 1 else f"{j.event} ×{times}"
    return seq, event, j.at[:23].replace("T", " ")


def history_lines(plan_id: str, rows: Sequence[Row], width: int, base: Path | None = None) -> list[str]:
    """The journal for a narrow terminal: a line per row (seq, time, event, state change) and
    its details wrapped beneath."""
    out = [f"history of {plan_id}"]
    for j, times in folded(rows):
        seq, event, when = _marks(j, times)
        change = f"{j.from_state} → {j.to_state}" if j.from_state and j.from_state != j.to_state else (
            f"in {j.to_state}" if j.from_state else f"→ {j.to_state}")
        out.append(f"{seq:>4}  {when}  {event}  {change}")
        out += textwrap.wrap(details(j, base), max(width - 8, 20), initial_indent=" " * 8,
                             subsequent_indent=" " * 8, break_on_hyphens=False)
    return out


def history_table(plan_id: str, rows: Sequence[Row], base: Path | None = None) -> Table:
    t = Table(title=f"history of {plan_id}", title_justify="left", box=box.SIMPLE_HEAD, show_edge=False,
              pad_edge=False, padding=(0, 1))
    for name in ("seq", "at (UTC)", "from", "to", "event", "details"):
        t.add_column(name, overflow="fold", no_wrap=name != "details")
    for j, times in folded(rows):
        seq, event, when = _marks(j, times)
        moved = j.from_state != j.to_state
        t.add_row(seq, when, j.from_state or "", f"[bold]{j.to_state}[/]" if moved else j.to_state, event,
                  details(j, base))
    return t
