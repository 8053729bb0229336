"""The ``orchestrator`` command line: parse → call → render. Exit codes: 0 ok, 2 bad input, 1 other.

One module per family of commands: ``parser`` (the grammar), ``reads`` (status, history,
outbox, diagram, report), ``requests`` (cancel, pause, resume, positions accept), ``plans``
(plans check), ``daemon`` (run, demo, console, sim-gateway); ``common`` holds what they share.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import TextIO

from ..errors import ConfigError, OrchestratorError, SchemaTooNew, StoreCorrupt, StoreError, StoreMissing
from .common import EXIT_BAD_INPUT, EXIT_FAIL, EXIT_OK
from .daemon import cmd_console, cmd_demo, cmd_run, sim_gateway
from .parser import build_parser
from .plans import cmd_plans, plans_check
from .reads import cmd_diagram, cmd_history, cmd_outbox, cmd_report, cmd_status
from .requests import cmd_cancel, cmd_gate, cmd_positions

__all__ = ["EXIT_BAD_INPUT", "EXIT_FAIL", "EXIT_OK", "build_parser", "main", "plans_check"]

COMMANDS: dict[str, Callable[[argparse.Namespace, TextIO], int]] = {
    "status": cmd_status, "history": cmd_history, "outbox": cmd_outbox, "diagram": cmd_diagram,
    "plans": cmd_plans, "cancel": cmd_cancel, "demo": cmd_demo, "run": cmd_run,
    "pause": cmd_gate, "resume": cmd_gate, "positions": cmd_positions,
    "console": cmd_console, "report": cmd_report,
}


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    out = out or sys.stdout
    if argv and argv[0] == "sim-gateway":
        return sim_gateway(argv[1:])
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
