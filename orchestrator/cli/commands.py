"""Every sub-command's function, by name: what ``main`` calls once the arguments are parsed.

Importing this loads the config model and the command families; ``main`` imports it only after
``status --json`` has had its chance to answer without them (cli/statusjson.py).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TextIO

from .daemon import cmd_console, cmd_demo, cmd_run
from .plans import cmd_plans
from .reads import cmd_diagram, cmd_history, cmd_outbox, cmd_report, cmd_status
from .requests import cmd_cancel, cmd_gate, cmd_positions

COMMANDS: dict[str, Callable[[argparse.Namespace, TextIO], int]] = {
    "status": cmd_status, "history": cmd_history, "outbox": cmd_outbox, "diagram": cmd_diagram,
    "plans": cmd_plans, "cancel": cmd_cancel, "demo": cmd_demo, "run": cmd_run,
    "pause": cmd_gate, "resume": cmd_gate, "positions": cmd_positions,
    "console": cmd_console, "report": cmd_report,
}
