"""``orchestrator plans check FILE...``: the plan files' problems, as the daemon would find them."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TextIO

from .common import EXIT_BAD_INPUT, EXIT_OK

if TYPE_CHECKING:
    from ..planfile import Problem, Scan


def plans_check(paths: list[str], out: TextIO, at: datetime | None = None, *, err: TextIO | None = None) -> int:
    """One line per problem on stderr, exit 2; else ``ok: ...`` on stdout, exit 0. Warnings (a
    future's price off its tick: run rounds it) are ``warning:`` lines on stderr and do not
    change the exit code. Plans are checked against time as of ``at`` (default: now)."""
    from ..planfile import scan
    err = err or sys.stderr
    if not paths:
        print("plans check: no plan files given", file=err)
        return EXIT_BAD_INPUT
    now = at or datetime.now(UTC)
    found = scan(paths, now=now)
    times, problems = _session_times(found, now)
    for problem in found.problems + problems:
        print(problem.format(), file=err)
    for warning in found.warnings:
        print(f"warning: {warning.format()}", file=err)
    if found.problems or problems:
        return EXIT_BAD_INPUT
    for line in times:
        print(line, file=out)
    n, files = len(found.specs), found.files
    print(f"ok: {n} plan{'' if n == 1 else 's'} in {files} file{'' if files == 1 else 's'}", file=out)
    return EXIT_OK


def _session_times(found: Scan, now: datetime) -> tuple[list[str], list[Problem]]:
    """Each session plan's resolved UTC times (``FILE: plan ID: start = open+5m -> … UTC``), and
    the problems that refuse a plan (a time outside its session, an expiry not after its start)."""
    from ..planfile import Problem
    from ..plansessions import Resolution, calendar_sessions, hours_problem, resolve_spec
    lines: list[str] = []
    problems: list[Problem] = []
    for spec in found.specs:
        if not spec.uses_sessions:
            continue
        where = f"{found.sources.get(spec.id, '?')}: plan {spec.id}"
        result = resolve_spec(spec, calendar_sessions(now, spec), now) if spec.instrument.is_us_stock \
            else hours_problem(spec)
        if isinstance(result, Resolution):
            day = f" (session {result.day.isoformat()})" if result.day else ""
            lines.extend(f"{where}: {line}{day}" for line in result.lines)
        elif isinstance(result, list):
            problems.extend(Problem(found.sources.get(spec.id, "?"), spec.id, f, m) for f, m in result)
        else:
            lines.append(f"{where}: skipped: {result.message}")
    return lines, problems


def cmd_plans(args: argparse.Namespace, out: TextIO) -> int:
    return plans_check(args.files, out, args.at)
