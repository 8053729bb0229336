"""The plan machine as an SVG drawn from ``machines.TRANSITIONS``, with one plan's path marked.

Layout: states in columns by their distance from ``pending`` over state-changing rows; inside a
column, states in the order of the ``State`` enum. Every (source → dest) pair of the table is an
arrow (its triggers in the arrow's tooltip); the arrows the plan took, the states it visited and
its current state are highlighted. No external renderer, no script: plain SVG markup.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from markupsafe import Markup, escape

from machines import TRANSITIONS, State

BOX_W, BOX_H, COL_W, ROW_H, PAD = 112, 34, 170, 58, 12


def edges() -> dict[tuple[str, str], list[str]]:
    """(source, dest) → its triggers, for every state-changing row of the table."""
    out: dict[tuple[str, str], list[str]] = {}
    for row in TRANSITIONS:
        dest = row["dest"]
        for src in row["source"]:
            if dest is None or str(dest) == str(src):
                continue
            triggers = out.setdefault((str(src), str(dest)), [])
            if row["trigger"] not in triggers:
                triggers.append(row["trigger"])
    return out


def layout() -> dict[str, tuple[float, float]]:
    """State → the centre of its box."""
    depth = {State.PENDING.value: 0}
    queue = deque([State.PENDING.value])
    links = edges()
    while queue:
        s = queue.popleft()
        for (src, dest) in links:
            if src == s and dest not in depth:
                depth[dest] = depth[s] + 1
                queue.append(dest)
    order = [s.value for s in State]
    for s in order:  # a state nothing leads to (never in the table) goes last
        depth.setdefault(s, max(depth.values()) + 1)
    columns: dict[int, list[str]] = {}
    for s in order:
        columns.setdefault(depth[s], []).append(s)
    return {s: (PAD + BOX_W / 2 + d * COL_W, PAD + BOX_H / 2 + i * ROW_H)
            for d, states in columns.items() for i, s in enumerate(states)}


def plan_path(transitions: Iterable[tuple[str | None, str]]) -> list[tuple[str, str]]:
    """The state changes of a journal, in order ((from, to) pairs with from != to)."""
    return [(a, b) for a, b in transitions if a is not None and a != b]


def _edge_path(a: tuple[float, float], b: tuple[float, float]) -> str:
    (x1, y1), (x2, y2) = a, b
    if x2 > x1:  # forward: from the right side to the left side
        x1, x2 = x1 + BOX_W / 2, x2 - BOX_W / 2
    elif x2 < x1:
        x1, x2 = x1 - BOX_W / 2, x2 + BOX_W / 2
    else:  # same column: from the bottom or the top
        y1, y2 = (y1 + BOX_H / 2, y2 - BOX_H / 2) if y2 > y1 else (y1 - BOX_H / 2, y2 + BOX_H / 2)
    mx, my = (x1 + x2) / 2, (y1 + y2) / 2
    bend = 18 if x2 <= x1 else 0  # backward and vertical arrows bow out so they do not overlap forward ones
    return f"M{x1:.0f},{y1:.0f} Q{mx + bend:.0f},{my - bend:.0f} {x2:.0f},{y2:.0f}"


def machine_svg(current: str | None = None, path: Iterable[tuple[str, str]] = ()) -> Markup:
    """The diagram; ``current`` is boxed, ``path``'s arrows and states are highlighted."""
    pos = layout()
    taken = set(path)
    visited = {s for pair in taken for s in pair} | ({current} if current else set())
    width = max(x for x, _ in pos.values()) + BOX_W / 2 + PAD
    height = max(y for _, y in pos.values()) + BOX_H / 2 + PAD
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="machine" viewBox="0 0 {width:.0f} {height:.0f}" '
             'role="img" aria-label="plan state machine">',
             '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
             'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#8a94a6"/></marker>'
             '<marker id="arrow-hot" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
             'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#2563eb"/></marker></defs>']
    for (src, dest), triggers in sorted(edges().items(), key=lambda kv: (kv[0] in taken, kv[0])):
        hot = (src, dest) in taken
        parts.append(f'<path class="edge{" taken" if hot else ""}" data-from="{escape(src)}" data-to="{escape(dest)}" '
                     f'd="{_edge_path(pos[src], pos[dest])}" fill="none" stroke="{"#2563eb" if hot else "#c5cbd6"}" '
                     f'stroke-width="{3 if hot else 1}" marker-end="url(#{"arrow-hot" if hot else "arrow"})">'
                     f'<title>{escape(src)} → {escape(dest)}: {escape(", ".join(triggers))}</title></path>')
    for state, (x, y) in pos.items():
        cls = "state" + (" visited" if state in visited else "") + (" current" if state == current else "")
        fill = "#dbeafe" if state in visited else "#ffffff"
        stroke, sw = ("#1d4ed8", 3) if state == current else ("#64748b", 1)
        parts.append(f'<g class="{cls}" data-state="{escape(state)}"><rect x="{x - BOX_W / 2:.0f}" '
                     f'y="{y - BOX_H / 2:.0f}" width="{BOX_W}" height="{BOX_H}" rx="8" fill="{fill}" '
                     f'stroke="{stroke}" stroke-width="{sw}"/><text x="{x:.0f}" y="{y + 5:.0f}" '
                     f'text-anchor="middle" font-size="14" fill="#0f172a">{escape(state)}</text></g>')
    parts.append("</svg>")
    return Markup("".join(parts))
