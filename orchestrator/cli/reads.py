"""The read-only commands: status, history, outbox, diagram and report, all from state.db."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from ..config import DEFAULT_CONFIG, Config
from ..errors import StoreMissing
from .common import EXIT_BAD_INPUT, EXIT_OK, UNBOUNDED, config, console, fits, measured, read_db, terminal_width
from .statusjson import write_status_json


def _setup_lines(cfg: Config) -> list[str]:
    """What is wrong with the setup itself, before any plan: no config file, plan patterns that
    match nothing (computed as the daemon computes them, from the config's own folder)."""
    lines = []
    if cfg.source is None:
        lines.append(f"config: no config file ({cfg.base_dir / DEFAULT_CONFIG} does not exist); defaults in use")
    warning = cfg.plan_files_warning()
    if warning is not None:
        lines.append(f"warning: {warning}")
    return lines


def cmd_status(args: argparse.Namespace, out: TextIO) -> int:
    from .. import render
    from ..store import read
    cfg = config(args)
    if args.json:
        return write_status_json(cfg.store.url, out)
    out.writelines(line + "\n" for line in _setup_lines(cfg))
    try:
        engine = read_db(cfg)
    except StoreMissing as exc:
        out.write(f"no plans yet: {exc}\n")
        return EXIT_OK
    try:
        rows = read.plan_rows(engine)
        from ..store.lock import holder_of
        counts = read.outbox_counts(engine)
        holder = holder_of(read.path_of(engine))
        doc = read.daemon_status(engine)
    finally:
        engine.close()
    out.write(render.daemon_line(holder, doc, datetime.now(UTC)) + "\n")
    out.write(render.summary_line(rows, counts.pending, counts.dead) + "\n")
    if rows:
        _plans_table(rows, out, wide=args.wide)
    return EXIT_OK


def _plans_table(rows: list[Any], out: TextIO, *, wide: bool) -> None:
    """Every column when asked, when not on a terminal, or when they fit; else the compact table."""
    from .. import render
    width = terminal_width()
    table = render.wide_table(rows)
    if wide or width is None or fits(table, width):
        console(out, UNBOUNDED).print(table)
    else:  # a line is never cut: ids so long that even this does not fit wrap in the terminal
        compact = render.compact_table(rows, width)
        console(out, max(width, measured(compact))).print(compact)


HISTORY_TABLE_WIDTH = 120  # narrower, a row's details go beneath it rather than into a column of a few letters


def cmd_history(args: argparse.Namespace, out: TextIO) -> int:
    from .. import render
    from ..store import read
    cfg = config(args)
    engine = read_db(cfg)
    try:
        plan = read.plan_row(engine, args.plan_id)
        if plan is None:
            sys.stderr.write(f"orchestrator: no plan {args.plan_id!r} in {read.path_of(engine)}\n")
            return EXIT_BAD_INPUT
        rows = read.journal_rows(engine, args.plan_id)
        if args.json:
            out.write(render.history_json(rows) + "\n")
        else:
            width = terminal_width()
            if width is not None and width < HISTORY_TABLE_WIDTH:
                out.writelines(line + "\n" for line in render.history_lines(args.plan_id, rows, width, cfg.base_dir))
            else:
                console(out, width).print(render.history_table(args.plan_id, rows, cfg.base_dir))
            footer = render.pnl_footer(plan)
            if footer:
                out.write(footer + "\n")
    finally:
        engine.close()
    return EXIT_OK


def cmd_outbox(args: argparse.Namespace, out: TextIO) -> int:
    from .. import render
    from ..store import read
    try:
        engine = read_db(config(args))
    except StoreMissing:
        out.write("[]\n" if args.json else "no notifications yet\n")
        return EXIT_OK
    try:
        rows = read.outbox_rows(engine, include_sent=args.all)
        if args.json:
            out.write(render.outbox_json(rows) + "\n")
        else:
            counts = read.outbox_counts(engine)
            out.write(f"notifications: {counts.pending} pending, {counts.dead} dead-lettered, {counts.sent} sent\n")
            for r in rows:
                state = "sent" if r.sent_at else "dead" if r.dead_at else "pending"
                out.write(f"  #{r.id} {state:<7} {r.plan_id or '-'} {r.kind} attempts={r.attempts}"
                          f"{' error=' + r.last_error if r.last_error else ''}\n")
    finally:
        engine.close()
    return EXIT_OK


def cmd_diagram(args: argparse.Namespace, out: TextIO) -> int:
    from ..render import mermaid_diagram
    out.write(mermaid_diagram(internal=args.internal))
    return EXIT_OK


def cmd_report(args: argparse.Namespace, out: TextIO) -> int:
    import json

    from ..console.data import read_report_inputs
    from ..report import build_report, report_record, report_text
    plans, fills = read_report_inputs(config(args).store.url)
    result = build_report(plans, fills, args.since)
    out.write(json.dumps(report_record(result), indent=1) + "\n" if args.json else report_text(result))
    return EXIT_OK
