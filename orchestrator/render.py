"""Pure rendering: rows → JSON-ready dicts, Rich tables and Mermaid text. No I/O here."""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, TypeAlias

from rich.table import Table

from machines import TRANSITIONS, State, guard_names

# Rows are objects with the table's columns as attributes (store.read.Row).
PlanRow: TypeAlias = Any
JournalRow: TypeAlias = Any
OutboxRow: TypeAlias = Any


def _num(text: str | None) -> float | int | None:
    if text is None:
        return None
    d = Decimal(text)
    return int(d) if d == d.to_integral_value() and abs(d) < 10**15 and "." not in text else float(d)


def status_record(r: PlanRow) -> dict[str, Any]:
    """One plan as the ``status --json`` object (design.md §6)."""
    return {
        "id": r.id,
        "symbol": r.symbol,
        "side": r.side,
        "state": r.state,
        "entry_type": r.entry_type,
        "quantity": r.quantity,
        "filled_quantity": r.filled_qty,
        "exited_quantity": r.exited_qty,
        "entry_price": _num(r.entry_price),
        "entry_fill_price": _num(r.avg_entry_price),
        "stop_price": _num(r.stop_price),
        "take_profit": _num(r.target_price),
        "exit_price": _num(r.avg_exit_price),
        "exit_reason": r.exit_reason,
        "realized_pnl": _num(r.realized_pnl) if (r.exited_qty or 0) > 0 else None,
        "risk_amount": _num(r.risk_amount),
        "reason": r.reason,
        "updated_at": r.updated_at,
    }


def _json_lines(records: list[dict[str, Any]]) -> str:
    """A JSON array with one object per line (the C encoder; ``indent`` would use the Python one)."""
    if not records:
        return "[]"
    return "[\n" + ",\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n]"


def status_json(rows: Sequence[PlanRow]) -> str:
    return _json_lines([status_record(r) for r in rows])


_STATE_STYLE = {
    State.CLOSED: "green", State.PROTECTED: "cyan", State.TRAILING: "cyan", State.FILLED: "yellow",
    State.REJECTED: "red", State.ERROR: "bold red", State.CANCELLED: "dim",
}


def _fmt(v: Any) -> str:
    return "" if v is None else str(v)


def _short(text: str | None, limit: int = 90) -> str:
    """A reason cut for the table (the full text is in ``history`` and ``--json``)."""
    if not text:
        return ""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _px(text: str | None) -> str:
    """A stored decimal as a 2-decimal price ('' when unknown)."""
    return "" if text is None else f"{Decimal(text):,.2f}"


def status_table(rows: Sequence[PlanRow], *, pending_notices: int | None = None,
                 dead_notices: int | None = None) -> Table:
    title = f"{len(rows)} plan{'s' if len(rows) != 1 else ''}"
    if pending_notices is not None:
        title += f" · notifications pending {pending_notices}, dead-lettered {dead_notices or 0}"
    t = Table(title=title, title_justify="left")
    for name in ("plan", "symbol", "side", "state", "qty", "filled", "entry", "stop", "target", "exit", "P&L",
                 "reason", "updated (UTC)"):
        t.add_column(name, justify="right" if name in {"qty", "filled", "entry", "stop", "target", "exit", "P&L"}
                     else "left", overflow="fold", no_wrap=name != "reason", min_width=24 if name == "reason" else None)
    for r in rows:
        style = _STATE_STYLE.get(State(r.state), "")
        pnl = _px(r.realized_pnl) if (r.exited_qty or 0) > 0 else ""
        t.add_row(r.id, r.symbol, r.side, f"[{style}]{r.state}[/]" if style else r.state, _fmt(r.quantity),
                  _fmt(r.filled_qty), _px(r.avg_entry_price or r.entry_price), _px(r.stop_price),
                  _px(r.target_price), _px(r.avg_exit_price), pnl,
                  _short(r.reason), (r.updated_at or "")[:19].replace("T", " "))
    return t


def daemon_line(holder: Any, doc: dict[str, Any]) -> str:
    """One line: is a daemon running on this store, what is it connected to, what is held."""
    if holder is None:
        since = f" (last stopped {doc['stopped_at'][:19].replace('T', ' ')} UTC)" if doc.get("stopped_at") else ""
        return f"daemon: not running{since}"
    line = f"daemon: running, {holder.describe()}"
    if doc:
        ib = "connected to IB" if doc.get("connected") else "NOT connected to IB"
        line += f"; {ib} {doc.get('ib_host', '?')}:{doc.get('ib_port', '?')}, account {doc.get('account') or '?'}, " \
                f"client id {doc.get('client_id', '?')}"
        if doc.get("entries_paused"):
            line += "; NEW ENTRIES PAUSED"
        if doc.get("paused_symbols"):
            line += f"; paused: {', '.join(doc['paused_symbols'])}"
        if doc.get("blocked_symbols"):
            line += f"; held: {', '.join(doc['blocked_symbols'])}"
        if doc.get("blocked"):
            line += f"; STOPPED: {doc['blocked']}"
    return line


def history_record(j: JournalRow) -> dict[str, Any]:
    return {"seq": j.seq, "at": j.at, "from": j.from_state, "to": j.to_state, "event": j.event,
            "payload": json.loads(j.payload), "recorded_at": j.recorded_at}


def history_json(rows: Sequence[JournalRow]) -> str:
    return _json_lines([history_record(j) for j in rows])


def history_table(plan_id: str, rows: Sequence[JournalRow]) -> Table:
    t = Table(title=f"history of {plan_id}", title_justify="left")
    for name in ("seq", "at (UTC)", "from", "to", "event", "details"):
        t.add_column(name, overflow="fold")
    for j in rows:
        payload = json.loads(j.payload)
        payload.pop("at", None)
        details = ", ".join(f"{k}={v}" for k, v in payload.items() if k not in {"spec"} and v not in (None, ""))
        t.add_row(str(j.seq), j.at[:23].replace("T", " "), j.from_state or "", j.to_state, j.event, details)
    return t


def outbox_json(rows: Sequence[OutboxRow]) -> str:
    return _json_lines([{
        "id": r.id, "plan_id": r.plan_id, "kind": r.kind, "created_at": r.created_at, "attempts": r.attempts,
        "next_attempt_at": r.next_attempt_at, "sent_at": r.sent_at, "dead_at": r.dead_at,
        "last_error": r.last_error} for r in rows])


def mermaid_diagram(internal: bool = False) -> str:
    """The transition table as a Mermaid ``stateDiagram-v2``.

    Rows that change the state are drawn; with ``internal`` the rows that keep it (benign
    repeats, partial fills, trailing bookkeeping) are drawn too, as self-loops.
    """
    lines = ["stateDiagram-v2", f"    [*] --> {State.PENDING.value}"]
    seen: set[str] = set()
    for r in TRANSITIONS:
        guards = guard_names(r)
        label = r["trigger"] + (f" [{' & '.join(guards)}]" if guards else "")
        if r["dest"] is None and not internal:
            continue
        for src in r["source"]:
            dest = r["dest"] or src
            line = f"    {src} --> {dest}: {label}"
            if line not in seen:
                seen.add(line)
                lines.append(line)
    for s in (State.CLOSED, State.REJECTED, State.CANCELLED):
        lines.append(f"    {s.value} --> [*]")
    return "\n".join(lines) + "\n"
