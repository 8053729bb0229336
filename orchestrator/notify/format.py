"""PURE message formatting: an outbox payload → a :class:`Message` (design.md §5).

One description of a notification, used by both outputs: the Discord embed (``embed.py``)
and the console (:func:`console_text`). The payload is what ``Store.commit_step`` or
``Store.add_notice`` wrote: ``{"kind", "from_state", "to_state", "plan_id", "seq", "facts"}``
with Decimals as strings and times as ISO 8601 UTC. Nothing here raises on odd input: a row
that cannot be read as expected is still shown, as raw text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from machines import NotifyKind

from .pnl import amount, pnl_text

K = NotifyKind

NEW_YORK = ZoneInfo("America/New_York")


class Kind(NamedTuple):
    emoji: str
    title: str
    colour: int


# colours
_BLUE, _BLURPLE, _TEAL, _GREEN, _BRIGHT_GREEN = 0x3498DB, 0x5865F2, 0x1ABC9C, 0x2ECC71, 0x57F287
_YELLOW, _ORANGE, _RED, _DARK_RED, _MAGENTA, _GREY = 0xF1C40F, 0xE67E22, 0xED4245, 0x992D22, 0xE91E63, 0x95A5A6

# kind → (emoji, title, embed colour)
KINDS: dict[NotifyKind, Kind] = {
    K.SIZED: Kind("📐", "SIZED", _BLURPLE),
    K.SUBMITTED: Kind("📈", "ORDER SUBMITTED", _BLUE),
    K.FILLED: Kind("✅", "FILLED", _TEAL),
    K.PROTECTED: Kind("🛡️", "PROTECTED", _GREEN),
    K.TRAILING: Kind("🪜", "TRAILING STOP MOVED", _YELLOW),
    K.TAKE_PROFIT: Kind("🟢", "EXIT: TAKE PROFIT", _BRIGHT_GREEN),
    K.STOP_LOSS: Kind("🔴", "EXIT: STOP LOSS", _RED),
    K.TRAILING_STOP: Kind("🟡", "EXIT: TRAILING STOP", _YELLOW),
    K.FLATTENED: Kind("⚪", "EXIT: FLATTENED", _GREY),
    K.PARTIAL_EXIT: Kind("➖", "PARTIAL EXIT", _GREY),
    K.CANCELLED: Kind("🚫", "CANCELLED", _GREY),
    K.CANCEL_REQUESTED: Kind("🚫", "CANCEL REQUESTED", _GREY),
    K.FLATTEN_REQUESTED: Kind("🚫", "FLATTEN REQUESTED", _ORANGE),
    K.EXPIRED_REMAINDER: Kind("⌛", "ENTRY REMAINDER EXPIRED", _GREY),
    K.ENTRY_REMAINDER_CANCELLED: Kind("⌛", "ENTRY REMAINDER CANCELLED", _GREY),
    K.REJECTED: Kind("⛔", "REJECTED", _ORANGE),
    K.ERROR: Kind("❌", "ERROR: NEEDS A HUMAN", _DARK_RED),
    K.PROTECTION_FAILED: Kind("🚨", "PROTECTION FAILED", _MAGENTA),
    K.PROTECTION_LOST: Kind("🚨", "PROTECTION LOST: RE-PROTECTING", _MAGENTA),
    K.MODIFY_REJECTED: Kind("⚠️", "STOP MODIFY REJECTED", _ORANGE),
    K.LATE_FILL: Kind("🚨", "LATE FILL: FLATTENING", _MAGENTA),
    K.PLAN_FILE_INVALID: Kind("⚠️", "PLAN FILE INVALID", _ORANGE),
    K.PLAN_CONFLICT: Kind("⚠️", "PLAN CHANGED ON DISK: IGNORED", _ORANGE),
    K.UNEXPLAINED_POSITION: Kind("🚨", "UNEXPLAINED POSITION: NEW ENTRIES IN THE SYMBOL HELD", _MAGENTA),
    K.POSITION_EXPLAINED: Kind("✅", "POSITION EXPLAINED: NEW ENTRIES ALLOWED", _GREEN),
    K.FOREIGN_POSITIONS: Kind("ℹ️", "POSITIONS NO PLAN TRADES (LEFT ALONE)", _GREY),
    K.MARKET_DATA_LOST: Kind("📉", "NO USABLE MARKET DATA: TRAILING AND MARKET ENTRIES WAIT", _ORANGE),
    K.MARKET_DATA_RESTORED: Kind("📈", "MARKET DATA USABLE AGAIN", _GREEN),
    K.MARKET_DATA_DELAYED: Kind("⏳", "LIVE MARKET DATA NOT SUBSCRIBED: DELAYED DATA", _ORANGE),
    K.ADOPTED: Kind("🧭", "ADOPTED FROM IB", _BLUE),
    K.CLOSED_OUTSIDE: Kind("🚪", "CLOSED OUTSIDE THE ORCHESTRATOR", _ORANGE),
    K.POSITION_CHANGED: Kind("🚨", "POSITION CHANGED OUTSIDE: NEEDS A HUMAN", _DARK_RED),
    K.EXCESS_PROTECTION: Kind("✂️", "EXTRA EXIT ORDERS CUT DOWN", _ORANGE),
    K.ENTRY_FOUND: Kind("🔎", "ENTRY FOUND AT IB: PLAN CARRIES ON", _BLUE),
    K.SIZED_AGAIN: Kind("🔁", "ENTRY NOT SENT: SIZED AGAIN ON THE LIVE PRICE", _BLUE),
    K.YIELDED_TO_TRADER: Kind("🤝", "THE TRADER'S OWN EXITS: ORCHESTRATOR STEPPED BACK", _DARK_RED),
    K.TRAIL_STUCK: Kind("⚠️", "TRAILING STOP NOT CONFIRMED BY IB", _ORANGE),
    K.DAEMON_STARTED: Kind("▶️", "ORCHESTRATOR STARTED", _BLUE),
    K.DAEMON_STOPPED: Kind("⏹️", "ORCHESTRATOR STOPPED", _GREY),
    K.START_REFUSED: Kind("⛔", "ORCHESTRATOR REFUSED TO START", _DARK_RED),
    K.CONNECTION_LOST: Kind("📵", "IB CONNECTION LOST", _ORANGE),
    K.MAINTENANCE_DISCONNECT: Kind("🛠️", "IB MAINTENANCE: DISCONNECTED AS EXPECTED", _GREY),
    K.CONNECTION_RESTORED: Kind("📶", "IB CONNECTION RESTORED", _GREEN),
    K.PACING_SLOWED: Kind("🐢", "IB REFUSED MESSAGES (PACING): SLOWED DOWN", _ORANGE),
    K.ENTRIES_PAUSED: Kind("⏸️", "NEW ENTRIES PAUSED", _ORANGE),
    K.ENTRIES_RESUMED: Kind("▶️", "NEW ENTRIES RESUMED", _GREEN),
    K.PLAN_FILES_MISSING: Kind("⚠️", "NO PLAN FILES FOUND", _ORANGE),
    K.PLAN_SKIPPED: Kind("⏭️", "PLAN SKIPPED: NO SESSION FOR IT", _GREY),
    K.HOURS_DISAGREE: Kind("🗓️", "IB'S HOURS DIFFER FROM THE CALENDAR: IB'S HOURS WIN", _ORANGE),
    K.HOURS_UNKNOWN: Kind("⚠️", "MARKET HOURS NOT KNOWN: MARKET ENTRIES AND TRAILING WAIT", _ORANGE),
}
UNKNOWN_COLOUR = _GREY

ENTRY_KINDS = frozenset({K.SIZED, K.SUBMITTED})
EXIT_KINDS = frozenset({K.TAKE_PROFIT, K.STOP_LOSS, K.TRAILING_STOP, K.FLATTENED})
RISK_KINDS = ENTRY_KINDS | {K.REJECTED}
FAILURE_KINDS = frozenset({K.REJECTED, K.ERROR, K.PROTECTION_FAILED, K.PROTECTION_LOST, K.MODIFY_REJECTED,
                           K.LATE_FILL, K.UNEXPLAINED_POSITION, K.PLAN_FILE_INVALID, K.PLAN_CONFLICT,
                           K.START_REFUSED, K.POSITION_CHANGED, K.TRAIL_STUCK, K.YIELDED_TO_TRADER,
                           K.MARKET_DATA_LOST})


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    value: str
    inline: bool = True


@dataclass(frozen=True, slots=True)
class Message:
    """Everything a notification says, as plain text (no markup)."""

    kind: str
    emoji: str
    title: str                # e.g. "ORDER SUBMITTED"
    colour: int
    subject: str              # "AAPL · AAPL_20250827_001"
    summary: list[str]        # the headline sentence(s) and the reason
    fields: list[Field] = field(default_factory=list)
    footer: str = ""
    at: datetime | None = None  # when it happened (UTC), if the row says so

    @property
    def heading(self) -> str:
        return " · ".join(p for p in (f"{self.emoji} {self.title}", self.subject) if p)


# --------------------------------------------------------------------------- total formatters

def text(v: Any) -> str:
    """Any JSON value as text ("" for None)."""
    if v is None:
        return ""
    if isinstance(v, str):
        return v
    if isinstance(v, (dict, list)):
        try:
            return json.dumps(v, ensure_ascii=False, default=str)
        except ValueError:
            return str(v)
    return str(v)


_dec = amount  # any figure of a payload as a finite Decimal, or None


def _huge(d: Decimal) -> bool:
    """Too big (or small) for plain notation within Decimal's 28 digits: shown in scientific notation."""
    return d != 0 and abs(d.adjusted()) > 18


def _in(amount_text: str, currency: Any) -> str:
    """``$1.00`` as it is for USD (or no currency known), else ``1.00 EUR``."""
    if not isinstance(currency, str) or currency in ("", "USD"):
        return amount_text
    return amount_text.replace("$", "", 1) + f" {currency}"


def money(v: Any, currency: Any = None) -> str:
    """``$1,234.50``, ``-$12.00`` (another currency: ``1,234.50 EUR``); raw text when it is not a number."""
    d = _dec(v)
    if d is None:
        return text(v)
    if _huge(d):
        return _in(f"${d:.4E}", currency)
    sign = "-" if d < 0 else ""
    return _in(f"{sign}${abs(d):,.2f}", currency)


def price(v: Any, currency: Any = None) -> str:
    """A price: at least 2 and at most 4 decimals (``$180.50``, ``$0.1234``; ``200.05 EUR``)."""
    d = _dec(v)
    if d is None:
        return text(v)
    if _huge(d):
        return _in(f"${d:.4E}", currency)
    q = d.quantize(Decimal("0.0001"))
    s = f"{abs(q):,.4f}"
    s = s.rstrip("0")
    if len(s.partition(".")[2]) < 2:
        s = f"{abs(q):,.2f}"
    return _in(f"{'-' if q < 0 else ''}${s}", currency)


_price, _money = price, money   # ``describe`` shadows both with the plan's currencies


def qty(v: Any) -> str:
    d = _dec(v)
    if d is None:
        return text(v)
    if _huge(d):
        return f"{d:.4E}"
    return f"{d:,.0f}" if d == d.to_integral_value() else f"{d:,f}"


def pct(v: Any, *, signed: bool = False) -> str:
    d = _dec(v)
    if d is None:
        return text(v)
    if _huge(d):
        return f"{d:+.4E} %" if signed else f"{d:.4E} %"
    return f"{d:+.2f} %" if signed else f"{d:.2f} %"


def parse_at(v: Any) -> datetime | None:
    """An aware UTC datetime from an ISO string (a naive one is taken as UTC), or None."""
    if not isinstance(v, str) or not v:
        return None
    try:
        dt = datetime.fromisoformat(v)
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        return dt.astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def times(v: Any) -> str:
    """``2026-11-27 14:35:00 UTC`` and the exchange's wall-clock time (America/New_York, DST-aware)."""
    dt = parse_at(v)
    if dt is None:
        return text(v)
    try:
        ny = dt.astimezone(NEW_YORK)
    except (ValueError, OverflowError):
        return f"{dt:%Y-%m-%d %H:%M:%S} UTC"
    return f"{dt:%Y-%m-%d %H:%M:%S} UTC\n{ny:%Y-%m-%d %H:%M:%S} {ny.tzname()} (New York)"


# --------------------------------------------------------------------------- the message

_BY_VALUE: dict[str, Kind] = {kind.value: look for kind, look in KINDS.items()}


def _kind_of(payload: Any) -> Kind:
    kind = text(payload.get("kind")) if isinstance(payload, dict) else ""
    return _BY_VALUE.get(kind) or Kind("ℹ️", (kind or "NOTICE").upper(), UNKNOWN_COLOUR)


def _side_words(side: str, exiting: bool) -> str:
    side = side.lower()
    if side == "long":
        return "SOLD" if exiting else "BOUGHT"
    if side == "short":
        return "BOUGHT TO COVER" if exiting else "SOLD SHORT"
    return side.upper()


def describe(payload: Any) -> Message:
    """The message for one outbox payload. Total: never raises, whatever the row holds."""
    if not isinstance(payload, dict):
        payload = {"kind": "notice", "facts": {"message": text(payload)}}
    kind = text(payload.get("kind")) or "notice"
    k = _kind_of(payload)
    f = payload.get("facts")
    if not isinstance(f, dict):
        f = {"message": text(f)} if f is not None else {}
    g = f.get

    def price(v: Any) -> str:   # the contract's currency (a future's, a EUR stock's; none: USD)
        return _price(v, g("currency"))

    def money(v: Any) -> str:   # the account's base currency
        return _money(v, g("base_currency"))
    plan = text(payload.get("plan_id"))
    symbol = text(g("symbol"))
    side = text(g("side"))
    entry_type = text(g("entry_type")).upper()
    exiting = kind in EXIT_KINDS or kind == "partial_exit"

    # -- the headline sentence(s)
    summary: list[str] = []
    if kind in ENTRY_KINDS or (kind == "rejected" and g("quantity") is not None):
        q = g("quantity")
        line = f"{side.upper()} {qty(q)}" if q is not None else side.upper()
        how = entry_type or "?"
        line += f" @ {price(g('entry_price'))} · {how}" if g("entry_price") is not None else f" · {how}"
        summary.append(line.strip(" ·"))
    elif kind in ("filled", "late_fill") and g("fill_qty") is not None:
        summary.append(f"{_side_words(side, False)} {qty(g('fill_qty'))} @ {price(g('fill_price'))}"
                       f" · {qty(g('filled_qty'))}/{qty(g('quantity'))} filled")
    elif kind == "protected":
        summary.append(f"{qty(g('open_qty'))} shares protected · stop {price(g('stop_price'))}"
                       f" · target {price(g('target_price'))}")
    elif kind == "trailing":
        sent = " (sent to IB, not confirmed yet)" if g("confirmed") is False else " (confirmed by IB)" \
            if g("confirmed") else ""
        summary.append(f"Stop moved {price(g('old_stop'))} → {price(g('new_stop') or g('stop_price'))}{sent}")
    elif exiting:
        if kind == "partial_exit" and g("fill_qty") is not None:
            line = f"{_side_words(side, True)} {qty(g('fill_qty'))} @ {price(g('fill_price'))}"
        else:
            line = f"{_side_words(side, True)} {qty(g('exited_qty'))} @ {price(g('avg_exit_price'))}"
        if g("realized_pnl") is not None:
            line += f" · P&L: {_pnl(f)}"
        summary.append(line)
    if kind == "protection_lost" and (why := _protection_gone(f)):
        summary.append(f"Why: {why}")
    if g("reason") is not None:
        summary.append(f"{'Error' if kind in FAILURE_KINDS else 'Reason'}: {text(g('reason'))}")
    if g("message") is not None and g("reason") is None and kind != "modify_rejected":
        summary.append(text(g("message")))
    if symbol and summary:
        summary[0] = f"{symbol} | {summary[0]}"

    # -- the fields
    fields: list[Field] = []

    def add(name: str, value: Any, inline: bool = True) -> None:
        if isinstance(value, str) and value.strip():
            fields.append(Field(name, value, inline))

    add("Plan", plan)
    add("Symbol", symbol)
    add("Side", " · ".join(p for p in (side.upper(), entry_type) if p))
    if kind in RISK_KINDS or kind in ("cancelled", "cancel_requested") and not g("filled_qty"):
        if g("quantity") is not None:
            add("Quantity", qty(g("quantity")))
        if g("entry_price") is not None:
            add("Entry", price(g("entry_price")))
        if g("entry_cap") is not None and kind in ENTRY_KINDS:   # a market entry is a limit at its cap
            add("Entry cap", price(g("entry_cap")))
    if g("fill_qty") is not None and kind not in EXIT_KINDS:  # a closing exit shows the whole exit below
        add("Exit fill" if exiting else "Fill", f"{qty(g('fill_qty'))} @ {price(g('fill_price'))}")
    if g("filled_qty") not in (None, 0, "0") and kind not in ENTRY_KINDS:
        add("Position", f"{qty(g('filled_qty'))} filled · {qty(g('exited_qty') or 0)} exited · "
                        f"{qty(g('open_qty') or 0)} open")
    if g("avg_entry_price") is not None and kind not in ENTRY_KINDS:
        add("Avg entry", price(g("avg_entry_price")))
    if kind == "trailing":
        add("Stop", f"{price(g('old_stop'))} → {price(g('new_stop') or g('stop_price'))}")
    elif g("stop_price") is not None:
        add("Stop", price(g("stop_price")))
    if g("target_price") is not None:
        add("Target", price(g("target_price")))
    if exiting or g("exited_qty") not in (None, 0, "0"):
        if g("exited_qty") not in (None, 0, "0"):
            add("Exit", f"{qty(g('exited_qty'))} @ {price(g('avg_exit_price'))}")
        if g("realized_pnl") is not None:
            add("P&L", _pnl(f))
        if kind == "partial_exit" and g("exit_reason") is not None:
            add("Exit via", text(g("exit_reason")))
    if kind in RISK_KINDS:
        if g("risk_amount") is not None:
            add("Risk", money(g("risk_amount")))
        if g("portfolio_risk_pct") is not None:
            add("Portfolio risk", pct(g("portfolio_risk_pct")))
    if g("limit") is not None:
        add("Limit", text(g("limit")))
    code = g("error_code") if g("error_code") is not None else g("code")
    if code is not None or (kind == "modify_rejected" and g("message") is not None):
        ib = text(code) if code is not None else ""
        if kind == "modify_rejected" and g("message") is not None:
            ib = f"{ib}: {text(g('message'))}" if ib else text(g("message"))
        add("IB error", ib, inline=False)
    add("Time", times(g("at")), inline=False)

    seq = payload.get("seq")
    frm, to = text(payload.get("from_state")), text(payload.get("to_state"))
    footer = " · ".join(p for p in (
        plan,
        f"step {text(seq)}" if seq not in (None, 0) else "",
        f"{frm} → {to}" if frm and to and frm != to else (to if to else ""),
    ) if p)
    subject = " · ".join(p for p in (symbol, plan) if p)
    return Message(kind=kind, emoji=k.emoji, title=k.title, colour=k.colour, subject=subject, summary=summary,
                   fields=fields, footer=footer, at=parse_at(g("at")))


def _pnl(f: dict[str, Any]) -> str:
    """The P&L of an exit: gross and net of commissions when the facts have them (older rows
    have only the gross); raw text when the figure is not a number."""
    gross = amount(f.get("realized_pnl"))
    if gross is None:
        return text(f.get("realized_pnl"))
    share = pct(f.get("realized_pnl_pct"), signed=True) if f.get("realized_pnl_pct") is not None else ""
    if "commissions" not in f:
        return f"{money(gross, f.get('base_currency'))}" + (f" ({share})" if share else "")
    pending = f.get("commissions_pending")
    return pnl_text(gross, amount(f.get("commissions")), pending=pending if isinstance(pending, int) else 0,
                    pct=share)


def _protection_gone(f: dict[str, Any]) -> str:
    """Why protection was lost, from what IB showed (the facts of a protection_lost row)."""
    stop, target, held = f.get("stop_quantity"), f.get("target_quantity"), f.get("open_qty")
    if stop is None and target is None:
        return ""
    of = f" of the {qty(held)} shares held" if held is not None else ""

    def leg(name: str, n: Any) -> str:
        return f"no {name} working" if n in (0, "0") else f"a {name} for {qty(n)}"
    return (f"IB shows {leg('stop', stop)} and {leg('take-profit', target)}{of} "
            "(cancelled in TWS or by IB, or rejected)")


def lines(payload: dict[str, Any]) -> list[str]:
    """The facts a trader needs, one short line each (the console body)."""
    m = describe(payload)
    out = [line for sentence in m.summary for line in sentence.split("\n")]  # a listing keeps its lines
    inline = [f for f in m.fields if f.inline and f.name not in ("Plan", "Symbol")]
    for i in range(0, len(inline), 4):
        out.append("   ".join(f"{f.name}: {f.value}" for f in inline[i:i + 4]))
    for f in m.fields:
        if not f.inline:
            out.append(f"{f.name}: " + f.value.replace("\n", " · "))
    return out


def console_text(payload: dict[str, Any]) -> str:
    m = describe(payload)
    body = "\n    ".join(lines(payload))
    return f"{m.heading}\n    {body}" if body else m.heading
