"""``orchestrator plans check FILE...``: the plan files' problems, as the daemon would find them."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import TextIO

from .common import EXIT_BAD_INPUT, EXIT_OK


def plans_check(paths: list[str], out: TextIO, at: datetime | None = None, *, err: TextIO | None = None) -> int:
    """One line per problem on stderr, exit 2; else ``ok: ...`` on stdout, exit 0. Plans are
    checked against time as of ``at`` (default: now)."""
    from ..planfile import scan
    err = err or sys.stderr
    if not paths:
        print("plans check: no plan files given", file=err)
        return EXIT_BAD_INPUT
    found = scan(paths, now=at or datetime.now(UTC))
    for problem in found.problems:
        print(problem.format(), file=err)
    if found.problems:
        return EXIT_BAD_INPUT
    n, files = len(found.specs), found.files
    print(f"ok: {n} plan{'' if n == 1 else 's'} in {files} file{'' if files == 1 else 's'}", file=out)
    return EXIT_OK


def cmd_plans(args: argparse.Namespace, out: TextIO) -> int:
    return plans_check(args.files, out, args.at)
