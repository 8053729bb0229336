"""The command line's grammar: every sub-command and option, parsed by an argparse that exits 2
with a one-line message (never a traceback)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

EXIT_OK, EXIT_FAIL, EXIT_BAD_INPUT = 0, 1, 2


class Parser(argparse.ArgumentParser):
    """argparse that exits 2 with a one-line message (never a traceback)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        usage = " ".join(self.format_usage().split())  # one line, whatever the terminal width
        self.exit(EXIT_BAD_INPUT, f"{usage}\n{self.prog}: error: {message}\n")


def _common() -> Parser:
    p = Parser(add_help=False)
    p.add_argument("--config", metavar="PATH",
                   help="config file (default: $ORCHESTRATOR_CONFIG or ./config.toml)")
    return p


def _since(text: str) -> object:
    from ..report import parse_since
    try:
        return parse_since(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD) or ISO 8601 time: {text!r}") from None


def moment(text: str) -> datetime:
    """An ISO 8601 time with its UTC offset (argparse type)."""
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from None
    if when.utcoffset() is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no UTC offset (write e.g. 2026-11-27T09:30:00-05:00)")
    return when.astimezone(UTC)


def build_parser() -> argparse.ArgumentParser:
    common = _common()
    parser = Parser(prog="orchestrator", description="Trade-plan orchestrator for Interactive Brokers.",
                    parents=[common])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    p = sub.add_parser("run", parents=[common], help="run unattended (needs a config file)")
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
    psub_positions = p.add_subparsers(dest="positions_command", required=True, parser_class=Parser)
    pa = psub_positions.add_parser("accept", parents=[common],
                                   help="accept what IB holds in SYMBOL beyond the plans as your own")
    pa.add_argument("symbol")

    p = sub.add_parser("status", parents=[common], help="every plan's state, from state.db")
    p.add_argument("--json", action="store_true", help="a JSON array, one object per plan")
    p.add_argument("--wide", action="store_true", help="every column, whatever the terminal's width")

    p = sub.add_parser("history", parents=[common], help="a plan's transition log, oldest first")
    p.add_argument("plan_id")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("plans", parents=[common], help="plan files")
    psub = p.add_subparsers(dest="plans_command", required=True, parser_class=Parser)
    pc = psub.add_parser("check", parents=[common], help="validate plan files")
    pc.add_argument("files", nargs="+", metavar="FILE")
    pc.add_argument("--at", type=moment, metavar="TIME",
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
