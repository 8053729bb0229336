"""The ``orchestrator`` command line: parse → call → render. Exit codes: 0 ok, 2 bad input, 1 other.

One module per family of commands: ``parser`` (the grammar), ``reads`` (status, history,
outbox, diagram, report), ``requests`` (cancel, pause, resume, positions accept), ``plans``
(plans check), ``daemon`` (run, demo, console, sim-gateway); ``common`` holds what they share
and ``commands`` the table of them. This module imports none of them up front: ``status --json``
is answered by ``statusjson`` on the standard library alone (a script polling it pays for
neither pydantic nor the machines), every other command loads ``commands``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TextIO

from ..errors import ConfigError, OrchestratorError, SchemaTooNew, StoreCorrupt, StoreError, StoreMissing
from .parser import EXIT_BAD_INPUT, EXIT_FAIL, EXIT_OK, build_parser

if TYPE_CHECKING:
    from .plans import plans_check

__all__ = ["EXIT_BAD_INPUT", "EXIT_FAIL", "EXIT_OK", "build_parser", "main", "plans_check"]


def __getattr__(name: str) -> Any:
    if name == "plans_check":   # loaded on first use: it needs the plan-file reader
        from .plans import plans_check
        return plans_check
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    out = out or sys.stdout
    if argv and argv[0] == "sim-gateway":
        from .daemon import sim_gateway
        return sim_gateway(argv[1:])
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # usage errors (2) and --help (0): argparse has printed them
        return int(exc.code or 0)
    try:
        if args.command == "status" and args.json:
            from .statusjson import quick_status_json
            quick = quick_status_json(args, out)
            if quick is not None:
                return quick
        from .commands import COMMANDS
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
