"""PURE message formatting: an outbox payload → a headline and detail lines (design.md §5)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

NEW_YORK = ZoneInfo("America/New_York")

# kind → (emoji, title)
KINDS: dict[str, tuple[str, str]] = {
    "sized": ("📐", "SIZED"),
    "submitted": ("📈", "ORDER SUBMITTED"),
    "filled": ("✅", "FILLED"),
    "protected": ("🛡️", "PROTECTED"),
    "trailing": ("🪜", "TRAILING STOP MOVED"),
    "take_profit": ("🟢", "EXIT: TAKE PROFIT"),
    "stop_loss": ("🔴", "EXIT: STOP LOSS"),
    "trailing_stop": ("🟡", "EXIT: TRAILING STOP"),
    "flattened": ("⚪", "EXIT: FLATTENED"),
    "partial_exit": ("➖", "PARTIAL EXIT"),
    "cancelled": ("🚫", "CANCELLED"),
    "cancel_requested": ("🚫", "CANCEL REQUESTED"),
    "flatten_requested": ("🚫", "FLATTEN REQUESTED"),
    "expired_remainder": ("⌛", "ENTRY REMAINDER EXPIRED"),
    "entry_remainder_cancelled": ("⌛", "ENTRY REMAINDER CANCELLED"),
    "rejected": ("⛔", "REJECTED"),
    "error": ("❌", "ERROR: NEEDS A HUMAN"),
    "protection_failed": ("🚨", "PROTECTION FAILED"),
    "protection_lost": ("🚨", "PROTECTION LOST: RE-PROTECTING"),
    "modify_rejected": ("⚠️", "STOP MODIFY REJECTED"),
    "late_fill": ("🚨", "LATE FILL: FLATTENING"),
    "plan_file_invalid": ("⚠️", "PLAN FILE INVALID"),
    "plan_conflict": ("⚠️", "PLAN CHANGED ON DISK: IGNORED"),
    "unexplained_position": ("🚨", "UNEXPLAINED POSITION: NEW ENTRIES STOPPED"),
}


def _money(v: Any) -> str:
    return "" if v is None else f"${Decimal(str(v)):,.2f}"


def _num(v: Any) -> str:
    return "" if v is None else f"{Decimal(str(v)):f}"


def _times(at: str | None) -> str:
    if not at:
        return ""
    dt = datetime.fromisoformat(at)
    return f"{dt:%Y-%m-%d %H:%M:%S} UTC · {dt.astimezone(NEW_YORK):%H:%M:%S %Z}"


def headline(payload: dict[str, Any]) -> tuple[str, str]:
    """(emoji, title) of a notification."""
    return KINDS.get(str(payload.get("kind")), ("ℹ️", str(payload.get("kind", "NOTICE")).upper()))


def lines(payload: dict[str, Any]) -> list[str]:
    """The facts a trader needs, one short line each."""
    f: dict[str, Any] = payload.get("facts") or {}
    kind = payload.get("kind")
    plan = payload.get("plan_id") or "-"
    side = str(f.get("side", "")).upper()
    out = []
    if f.get("symbol"):
        qty = f.get("filled_qty") or f.get("quantity")
        price = f.get("fill_price") or f.get("avg_entry_price") or f.get("entry_price")
        out.append(f"{f['symbol']} | {side} {qty} @ {_money(price)}   Type: {str(f.get('entry_type', '')).upper()}   "
                   f"Plan: {plan}")
    if kind in ("sized", "submitted") and f.get("risk_amount") is not None:
        out.append(f"Risk: {_money(f.get('risk_amount'))} | Portfolio risk: {_num(f.get('portfolio_risk_pct'))} %")
    if kind in ("protected", "filled", "trailing", "sized", "submitted"):
        out.append(f"Stop: {_money(f.get('stop_price'))}   Target: {_money(f.get('target_price'))}")
    if kind == "trailing":
        out.append(f"Stop moved {_money(f.get('old_stop'))} → {_money(f.get('new_stop'))}")
    if kind in ("take_profit", "stop_loss", "trailing_stop", "flattened", "partial_exit"):
        pct = f.get("realized_pnl_pct")
        out.append(f"Exit {f.get('exited_qty')} @ {_money(f.get('avg_exit_price'))}   "
                   f"P&L: {_money(f.get('realized_pnl'))}" + (f" ({Decimal(str(pct)):+f} %)" if pct is not None else ""))
    if f.get("reason"):
        code = f" (IB {f['error_code']})" if f.get("error_code") else ""
        out.append(f"Reason: {f['reason']}{code}")
    if f.get("message") and not f.get("reason"):
        out.append(str(f["message"]))
    when = _times(f.get("at"))
    if when:
        out.append(when)
    return out


def console_text(payload: dict[str, Any]) -> str:
    emoji, title = headline(payload)
    body = "\n    ".join(lines(payload))
    return f"{emoji} {title}\n    {body}" if body else f"{emoji} {title}"
