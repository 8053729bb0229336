"""PURE: an outbox payload → the JSON body of a Discord webhook execute request.

One embed per message. Every text is cleaned (no lone surrogates, no control characters but
newline and tab), stripped, and shortened with an ellipsis to Discord's limits (libs.md §4):
a message is never rejected for its size. Lengths are counted in UTF-16 code units, which is
never less than the number of code points, so the check holds however Discord counts.
"""

from __future__ import annotations

import re
from typing import Any

from .format import Message, describe

# Discord's limits (characters, counted after trimming leading/trailing whitespace)
CONTENT_MAX = 2000
EMBEDS_MAX = 10
TITLE_MAX = 256
DESCRIPTION_MAX = 4096
FIELDS_MAX = 25
FIELD_NAME_MAX = 256
FIELD_VALUE_MAX = 1024
FOOTER_MAX = 2048
AUTHOR_NAME_MAX = 256
EMBED_TOTAL_MAX = 6000  # title + description + field names and values + footer + author, over all embeds

ELLIPSIS = "…"
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_MARKDOWN = re.compile(r"([\\*_~`|\[\]])")
_LINE_START = re.compile(r"(?m)^(\s*)([>#-])(?=[\s#>])")  # quotes, headings, lists, subtext


def units(s: str) -> int:
    """Length in UTF-16 code units (what a JavaScript ``length`` gives)."""
    return len(s) + sum(1 for c in s if ord(c) > 0xFFFF)


def clean(s: str) -> str:
    """Valid Unicode (lone surrogates → U+FFFD), no control characters but \\n and \\t, stripped."""
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        s = s.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
        s = s.encode("utf-8", "replace").decode("utf-8")
    return _CONTROL.sub("", s).strip()


def clip(s: str, limit: int) -> str:
    """``s`` cleaned and, if longer than ``limit``, cut to fit with a trailing ellipsis."""
    s = clean(s)
    if units(s) <= limit:
        return s
    budget = max(limit - units(ELLIPSIS), 0)
    n = used = 0
    for c in s:
        w = 2 if ord(c) > 0xFFFF else 1
        if used + w > budget:
            break
        used += w
        n += 1
    return (s[:n].rstrip() + ELLIPSIS) if limit >= units(ELLIPSIS) else ""


def escape(s: str) -> str:
    """Markdown-inert text (plan ids like ``AAPL_2025_001`` must not turn italic)."""
    return _LINE_START.sub(r"\1\\\2", _MARKDOWN.sub(r"\\\1", s))


def embed_of(m: Message) -> dict[str, Any]:
    """One embed for a message, within every per-embed limit."""
    embed: dict[str, Any] = {
        "title": clip(escape(m.heading), TITLE_MAX),
        "color": int(m.colour) & 0xFFFFFF,
    }
    description = clip(escape("\n".join(m.summary)), DESCRIPTION_MAX)
    if description:
        embed["description"] = description
    fields = []
    for f in m.fields[:FIELDS_MAX]:
        name, value = clip(f.name, FIELD_NAME_MAX), clip(escape(f.value), FIELD_VALUE_MAX)
        if name and value:
            fields.append({"name": name, "value": value, "inline": bool(f.inline)})
    if fields:
        embed["fields"] = fields
    footer = clip(m.footer, FOOTER_MAX)
    if footer:
        embed["footer"] = {"text": footer}
    if m.at is not None:
        embed["timestamp"] = m.at.isoformat()
    _fit_total(embed)
    return embed


def embed_chars(embed: dict[str, Any]) -> int:
    """What counts toward the 6000-character total of one embed."""
    n = units(embed.get("title", "")) + units(embed.get("description", ""))
    n += sum(units(f["name"]) + units(f["value"]) for f in embed.get("fields", []))
    n += units(embed.get("footer", {}).get("text", "")) + units(embed.get("author", {}).get("name", ""))
    return n


def _fit_total(embed: dict[str, Any]) -> None:
    """Shorten the longest texts until the embed is within the 6000-character total."""
    while (over := embed_chars(embed) - EMBED_TOTAL_MAX) > 0:
        slots: list[tuple[int, Any, str]] = []  # (length, container, key)
        for key in ("description", "title"):
            if key in embed:
                slots.append((units(embed[key]), embed, key))
        for f in embed.get("fields", []):
            slots.extend([(units(f["value"]), f, "value"), (units(f["name"]), f, "name")])
        if "footer" in embed:
            slots.append((units(embed["footer"]["text"]), embed["footer"], "text"))
        length, box, key = max(slots, key=lambda s: s[0])
        target = length - over
        if target < 16:
            target = min(16, length - 1)  # always make progress
        box[key] = clip(box[key], max(target, 1))


def build_payload(outbox_payload: Any) -> dict[str, Any]:
    """The webhook JSON body for one outbox payload: one embed, no pings."""
    return {"embeds": [embed_of(describe(outbox_payload))], "allowed_mentions": {"parse": []}}
