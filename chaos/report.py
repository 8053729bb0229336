"""The summary of a chaos run: faults injected per kind, invariants checked and violated."""

from __future__ import annotations

import statistics
from collections import Counter

from .catalogue import INVARIANTS, SESSION_INVARIANTS
from .known import describe
from .tally import ALL_KINDS, Tally


def _table(rows: list[list[str]], header: list[str], text_columns: tuple[int, ...] = (0,)) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def fmt(r: list[str]) -> str:
        return "  ".join(c.ljust(w) if i in text_columns else c.rjust(w)
                         for i, (c, w) in enumerate(zip(r, widths))).rstrip()
    return [fmt(header), "  ".join("-" * w for w in widths), *(fmt(r) for r in rows)]


def summary(t: Tally, command: str = "") -> str:
    lines = []
    if command:
        lines.append(f"command: {command}")
    states = ", ".join(f"{n} {s}" for s, n in sorted(t.plans.items()))
    if t.interrupted:
        lines.append("INTERRUPTED: the run was stopped before its budget was spent")
    lines.append(f"seed {t.seed}: {t.episodes} episodes, {sum(t.plans.values())} plans ({states}), "
                 f"{t.restarts} orchestrator restarts, {t.cancels} CLI cancels, {t.elapsed:.0f} s")
    lines.append("")
    rows = [[k, str(t.injected[k]), str(t.fired[k])] for k in ALL_KINDS]
    rows.append(["total", str(t.faults), str(sum(t.fired[k] for k in ALL_KINDS))])
    lines += _table(rows, ["fault", "injected", "took effect"])
    lines.append(f"kills: {t.kills}   gateway faults: {t.gateway_faults}   interventions: {t.interventions}")
    lines.append("")
    by: Counter[str] = Counter(v.invariant for v in t.violations)
    known: Counter[str] = Counter(v.invariant for v in t.known)
    rows = []
    for name, text in INVARIANTS.items():
        checked = t.checkpoints if name == "protected_after_connect" else t.checks[name]
        if name in SESSION_INVARIANTS and not checked:
            continue   # not a session run
        rows.append([name, str(checked), str(by[name]), str(known[name]), text])
    lines += _table(rows, ["invariant", "checked", "violations", "known", "what"], (0, 4))
    for name, why in sorted(t.skipped.items()):
        lines.append(f"{name}: {why}")
    if t.sessions:
        lines.append("session events (seen at the gateway): " + ", ".join(f"{k} {n}" for k, n in t.sessions.items()))
    for note, n in t.notes.items():
        lines.append(f"seen and allowed: {note}: {n}")
    if t.cover_seconds:
        c = sorted(t.cover_seconds)
        lines.append(f"checkpoints: {t.checkpoints}; time from connected to every position covered: median "
                     f"{statistics.median(c):.2f} s, max {c[-1]:.2f} s")
    lines.append("")
    lines.append(f"invariant violations: {len(t.violations)}")
    for v in t.violations[:50]:
        lines.append("  " + v.line())
    if len(t.violations) > 50:
        lines.append(f"  ... and {len(t.violations) - 50} more")
    if t.known:
        ids = Counter(v.known for v in t.known)
        lines.append(f"instances of known issues (reported, fix pending; not counted above): {len(t.known)} "
                     f"({', '.join(f'{k} x{n}' for k, n in sorted(ids.items()))})")
        lines += ["  " + d for d in describe(ids)]
    for d in t.kept:
        lines.append(f"kept for inspection: {d}")
    return "\n".join(lines)
