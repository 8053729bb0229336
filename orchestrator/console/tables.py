"""The plans table as HTML, built in Python: the one part of a page that grows with the store.

A Jinja macro spends most of its time in attribute lookups and filters per cell; for a table of
a thousand live plans this renderer is several times faster (``bench/console_bench.py``). Every
value goes through :func:`html.escape` (quotes included); the tests feed it markup.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from html import escape
from typing import Any
from urllib.parse import quote

from markupsafe import Markup

HEAD = ('<thead><tr><th>plan</th><th>symbol</th><th>side</th><th>state</th><th class="num">qty</th>'
        '<th class="num">position</th><th class="num">entry</th><th class="num">stop (IB)</th>'
        '<th class="num">target</th><th class="num">last</th><th class="num">unrealised</th>'
        '<th class="num">realised net</th><th class="hide-phone">reason</th>'
        '<th class="hide-phone">updated (UTC)</th></tr></thead>')
EMPTY = '<tr><td colspan="14" class="muted">none</td></tr>'


def px(value: Any) -> str:
    """A stored decimal price as text with at least two decimals ('' when unknown)."""
    if value is None or value == "":
        return ""
    d = Decimal(str(value))
    return f"{d:,.2f}" if d == d.quantize(Decimal("0.01")) else f"{d:,}"


def money(value: Any) -> str:
    return "" if value is None else f"{value:,.2f}"


def _signed(value: Any) -> str:
    return "" if value is None else (" ok" if value >= 0 else " bad")


def _row(line: dict[str, Any]) -> str:
    r = line["row"]
    pid = escape(str(r.id))
    stop = px(line["stop"])
    wanted = line["wanted_stop"]
    if wanted and line["stop"] and Decimal(str(wanted)) != Decimal(str(line["stop"])):
        stop += (' <span class="warn" title="the stop the plan wants, not yet confirmed by IB">→ '
                 f'{px(wanted)}</span>')
    realised = money(line["realised"])
    if line["realised"] is not None and not line["commissions_complete"]:
        realised += '<span class="muted" title="commissions not recorded for every fill">*</span>'
    state = escape(str(r.state))
    return (f'<tr data-plan="{pid}"><td><a href="/plan?id={escape(quote(str(r.id), safe=""))}">{pid}</a></td>'
            f'<td>{escape(str(r.symbol))}</td><td>{escape(str(r.side))}</td>'
            f'<td class="state state-{state}">{state}</td><td class="num">{r.quantity}</td>'
            f'<td class="num">{line["open_qty"]}</td><td class="num">{px(r.avg_entry_price or r.entry_price)}</td>'
            f'<td class="num">{stop}</td><td class="num">{px(r.target_price)}</td>'
            f'<td class="num">{px(line["last"])}</td>'
            f'<td class="num{_signed(line["unrealised"])}">{money(line["unrealised"])}</td>'
            f'<td class="num{_signed(line["realised"])}">{realised}</td>'
            f'<td class="wrap hide-phone">{escape(str(r.reason or ""))}</td>'
            f'<td class="hide-phone">{escape(str(r.updated_at or "")[:19].replace("T", " "))}</td></tr>')


def plan_table(lines: Sequence[dict[str, Any]], table_id: str = "") -> Markup:
    ident = f' id="{escape(table_id)}"' if table_id else ""
    body = "".join(_row(line) for line in lines) or EMPTY
    return Markup(f'<div class="scroll"><table{ident}>{HEAD}<tbody>{body}</tbody></table></div>')
