"""The ``orchestrator`` command line: parse → call → render. Exit codes: 0 ok, 2 bad input, 1 other."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TextIO

from rich.console import Console

from .errors import ConfigError, OrchestratorError, SchemaTooNew, StoreCorrupt, StoreError, StoreMissing

EXIT_OK, EXIT_FAIL, EXIT_BAD_INPUT = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    """argparse that exits 2 with a one-line message (never a traceback)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        usage = " ".join(self.format_usage().split())  # one line, whatever the terminal width
        self.exit(EXIT_BAD_INPUT, f"{usage}\n{self.prog}: error: {message}\n")


def _common() -> _Parser:
    p = _Parser(add_help=False)
    p.add_argument("--config", metavar="PATH",
                   help="config file (default: $ORCHESTRATOR_CONFIG or ./config.toml)")
    return p


def _since(text: str) -> object:
    from .report import parse_since
    try:
        return parse_since(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD) or ISO 8601 time: {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    common = _common()
    parser = _Parser(prog="orchestrator", description="Trade-plan orchestrator for Interactive Brokers.",
                     parents=[common])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("run", parents=[common], help="run unattended")
    p.add_argument("--exit-when-idle", action="store_true", help="exit 0 once every plan is terminal")
    existing = p.add_mutually_exclusive_group()
    existing.add_argument("--adopt-existing", action="store_true",
                          help="take over plans IB holds orders or executions of that state.db does not know")
    existing.add_argument("--ignore-existing", action="store_true",
                          help="leave such plans' orders alone for good (their ids never run)")

    for name, what in (("pause", "pause new entries (all, or one symbol); protection at IB is untouched"),
                       ("resume", "resume new entries (all, or one symbol)")):
        p = sub.add_parser(name, parents=[common], help=what)
        p.add_argument("symbol", nargs="?", help="only this symbol")

    p = sub.add_parser("positions", parents=[common], help="positions at IB that no plan explains")
    psub_positions = p.add_subparsers(dest="positions_command", required=True, parser_class=_Parser)
    pa = psub_positions.add_parser("accept", parents=[common],
                                   help="accept what IB holds in SYMBOL beyond the plans as your own")
    pa.add_argument("symbol")

    p = sub.add_parser("status", parents=[common], help="every plan's state, from state.db")
    p.add_argument("--json", action="store_true", help="a JSON array, one object per plan")

    p = sub.add_parser("history", parents=[common], help="a plan's transition log, oldest first")
    p.add_argument("plan_id")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("plans", parents=[common], help="plan files")
    psub = p.add_subparsers(dest="plans_command", required=True, parser_class=_Parser)
    pc = psub.add_parser("check", parents=[common], help="validate plan files")
    pc.add_argument("files", nargs="+", metavar="FILE")
    pc.add_argument("--at", type=_moment, metavar="TIME",
                    help="check the plans' times as of TIME (ISO 8601 with offset; default now)")

    p = sub.add_parser("cancel", parents=[common], help="cancel a plan (flatten if filled)")
    p.add_argument("plan_id")

    p = sub.add_parser("diagram", parents=[common], help="the plan machine as a Mermaid state diagram")
    p.add_argument("--internal", action="store_true", help="also draw rows that keep the state")

    p = sub.add_parser("outbox", parents=[common], help="undelivered and dead-lettered notifications")
    p.add_argument("--json", action="store_true")
    p.add_argument("--all", action="store_true", help="include delivered ones")

    p = sub.add_parser("demo", parents=[common], help="a self-contained demo on the embedded simulated gateway")

    p = sub.add_parser("console", parents=[common], help="the operator console: a local web page over state.db")
    p.add_argument("--host", help="address to listen on (default: [console] host or 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default: [console] port or 8765; 0 = any free port)")

    p = sub.add_parser("report", parents=[common], help="closed trades: R multiple, net P&L, win rate, drawdown")
    p.add_argument("--since", type=_since, metavar="DATE", help="only trades closed at or after DATE (YYYY-MM-DD)")
    p.add_argument("--json", action="store_true")

    sub.add_parser("sim-gateway", parents=[common], add_help=False,
                   help="the simulated IB Gateway, standalone (see sim-gateway --help)")
    return parser


def _console(out: TextIO) -> Console:
    return Console(file=out, width=int(os.environ.get("COLUMNS", "170")), soft_wrap=False)


def _config(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from .config import load_config
    return load_config(args.config, os.environ)


def _read_db(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from .store.read import open_readonly
    return open_readonly(_config(args).store.url)


def cmd_status(args: argparse.Namespace, out: TextIO) -> int:
    from . import render
    from .store import read
    try:
        engine = _read_db(args)
    except StoreMissing as exc:
        if args.json:
            out.write("[]\n")
        else:
            out.write(f"no plans yet: {exc}\n")
        return EXIT_OK
    try:
        rows = read.plan_rows(engine)
        if args.json:
            out.write(render.status_json(rows) + "\n")
        else:
            from .store.lock import holder_of
            counts = read.outbox_counts(engine)
            holder = holder_of(read.path_of(engine))
            out.write(render.daemon_line(holder, read.daemon_status(engine)) + "\n")
            _console(out).print(render.status_table(rows, pending_notices=counts.pending, dead_notices=counts.dead))
    finally:
        engine.close()
    return EXIT_OK


def cmd_history(args: argparse.Namespace, out: TextIO) -> int:
    from . import render
    from .store import read
    engine = _read_db(args)
    try:
        if read.plan_row(engine, args.plan_id) is None:
            sys.stderr.write(f"orchestrator: no plan {args.plan_id!r} in the state database\n")
            return EXIT_BAD_INPUT
        rows = read.journal_rows(engine, args.plan_id)
        if args.json:
            out.write(render.history_json(rows) + "\n")
        else:
            _console(out).print(render.history_table(args.plan_id, rows))
    finally:
        engine.close()
    return EXIT_OK


def cmd_outbox(args: argparse.Namespace, out: TextIO) -> int:
    from . import render
    from .store import read
    try:
        engine = _read_db(args)
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
    from .render import mermaid_diagram
    out.write(mermaid_diagram(internal=args.internal))
    return EXIT_OK


def plans_check(paths: list[str], out: TextIO, at: datetime | None = None) -> int:
    """``orchestrator plans check FILE...``: one line per problem, exit 2; else ``ok: ...``, exit 0.
    Plans are checked against time as of ``at`` (default: now)."""
    from .planfile import scan
    if not paths:
        print("plans check: no plan files given", file=out)
        return EXIT_BAD_INPUT
    found = scan(paths, now=at or datetime.now(UTC))
    for problem in found.problems:
        print(problem.format(), file=out)
    if found.problems:
        return EXIT_BAD_INPUT
    n, files = len(found.specs), found.files
    print(f"ok: {n} plan{'' if n == 1 else 's'} in {files} file{'' if files == 1 else 's'}", file=out)
    return EXIT_OK


def cmd_plans(args: argparse.Namespace, out: TextIO) -> int:
    return plans_check(args.files, out, args.at)


def _moment(text: str) -> datetime:
    """An ISO 8601 time with its UTC offset (argparse type)."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from None
    if moment.utcoffset() is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no UTC offset (write e.g. 2026-11-27T09:30:00-05:00)")
    return moment.astimezone(UTC)


def _submit(args: argparse.Namespace, command: str, plan_id: str = "", **cmd_args: Any) -> int:
    from .store.commands import submit_command
    cfg = _config(args)
    return submit_command(cfg.store.url, command, plan_id, {k: v for k, v in cmd_args.items() if v} or None,
                          origin="cli")


def cmd_gate(args: argparse.Namespace, out: TextIO) -> int:
    symbol = args.symbol.upper() if args.symbol else None
    cid = _submit(args, args.command, symbol=symbol)
    what = f"new entries in {symbol}" if symbol else "all new entries"
    out.write(f"{args.command} of {what} requested (command #{cid}); the daemon applies it within a second, "
              "or at its next start\n")
    return EXIT_OK


def cmd_positions(args: argparse.Namespace, out: TextIO) -> int:
    symbol = args.symbol.upper()
    cid = _submit(args, "accept_position", symbol=symbol)
    out.write(f"accepting what IB holds in {symbol} beyond the plans as your own (command #{cid}); new entries in "
              f"{symbol} resume once the daemon applies it\n")
    return EXIT_OK


def cmd_cancel(args: argparse.Namespace, out: TextIO) -> int:
    from .clock import SystemClock
    from .store import Store, open_engine
    cfg = _config(args)
    store = Store(cfg.store.url, engine=open_engine(cfg.store.url, create=False))
    try:
        if store.plan_exists(args.plan_id) is None:
            sys.stderr.write(f"orchestrator: no plan {args.plan_id!r} in the state database\n")
            return EXIT_BAD_INPUT
        cid = store.add_command(args.plan_id, "cancel", at=SystemClock().now(), origin="cli")
    finally:
        store.close()
    out.write(f"cancel of {args.plan_id} requested (command #{cid}); a running orchestrator applies it within a "
              "second, a stopped one at its next start\n")
    return EXIT_OK


def cmd_run(args: argparse.Namespace, out: TextIO) -> int:
    import asyncio
    import logging

    from .bootstrap import run
    cfg = _config(args)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("ib_async", "transitions", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    from .ownership import Existing
    existing = Existing.ADOPT if args.adopt_existing else Existing.IGNORE if args.ignore_existing else Existing.REFUSE
    return asyncio.run(run(cfg, exit_when_idle=args.exit_when_idle, out=out, existing=existing))


def cmd_demo(args: argparse.Namespace, out: TextIO) -> int:
    from .demo import run_demo
    return run_demo(args, out)


def cmd_console(args: argparse.Namespace, out: TextIO) -> int:
    from .console.serve import run
    from .console.settings import load_settings
    if args.port is not None and not 0 <= args.port <= 65535:
        sys.stderr.write("orchestrator console: error: --port must be between 0 and 65535\n")
        return EXIT_BAD_INPUT
    settings = load_settings(args.config, os.environ, host=args.host, port=args.port)
    return run(settings, os.environ, out, sys.stderr)


def cmd_report(args: argparse.Namespace, out: TextIO) -> int:
    import json

    from .console.data import read_report_inputs
    from .report import build_report, report_record, report_text
    plans, fills = read_report_inputs(_config(args).store.url)
    result = build_report(plans, fills, args.since)
    out.write(json.dumps(report_record(result), indent=1) + "\n" if args.json else report_text(result))
    return EXIT_OK


COMMANDS: dict[str, Callable[[argparse.Namespace, TextIO], int]] = {
    "status": cmd_status, "history": cmd_history, "outbox": cmd_outbox, "diagram": cmd_diagram,
    "plans": cmd_plans, "cancel": cmd_cancel, "demo": cmd_demo, "run": cmd_run,
    "pause": cmd_gate, "resume": cmd_gate, "positions": cmd_positions,
    "console": cmd_console, "report": cmd_report,
}


def _sim_gateway(argv: list[str]) -> int:
    """``sim-gateway``: its own options; ``--config`` (or the default config) supplies the [sim]
    and broker port defaults, and explicit options win."""
    from .simgw.command import main as sim_main
    config_path: str | None = None
    rest: list[str] = []
    it = iter(argv)
    for arg in it:
        if arg == "--config":
            config_path = next(it, None)
            if config_path is None:
                sys.stderr.write("orchestrator sim-gateway: error: --config needs a PATH\n")
                return EXIT_BAD_INPUT
        elif arg.startswith("--config="):
            config_path = arg.split("=", 1)[1]
        else:
            rest.append(arg)
    defaults: list[str] = []
    if config_path is not None or os.environ.get("ORCHESTRATOR_CONFIG") or os.path.exists("config.toml"):
        from .config import load_config
        try:
            cfg = load_config(config_path, os.environ)
        except ConfigError as exc:
            for line in exc.lines:
                sys.stderr.write(f"orchestrator: {line}\n")
            return EXIT_BAD_INPUT
        sim = cfg.sim
        defaults = ["--port", str(cfg.broker.port), "--prices", str(sim.prices),
                    "--tick-seconds", str(sim.tick_seconds),
                    "--account-value", str(sim.account_value), "--journal", str(sim.journal)]
        if sim.partial_fill_max:
            defaults += ["--partial-fill-max", str(sim.partial_fill_max)]
    return sim_main(defaults + rest, prog="orchestrator sim-gateway")


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    out = out or sys.stdout
    if argv and argv[0] == "sim-gateway":
        return _sim_gateway(argv[1:])
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # usage errors (2) and --help (0): argparse has printed them
        return int(exc.code or 0)
    try:
        return COMMANDS[args.command](args, out)
    except ConfigError as exc:
        for line in exc.lines:
            sys.stderr.write(f"orchestrator: {line}\n")
        return EXIT_BAD_INPUT
    except (StoreMissing, StoreCorrupt, SchemaTooNew) as exc:
        sys.stderr.write(f"orchestrator: {exc}\n")
        return EXIT_FAIL
    except (StoreError, OrchestratorError) as exc:
        sys.stderr.write(f"orchestrator: {exc}\n")
        return int(getattr(exc, "exit_code", EXIT_FAIL))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
