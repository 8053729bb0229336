"""``orchestrator demo``: for now, validate the example plans, draw the machine, show the status."""

from __future__ import annotations

import argparse
import glob
import os
from typing import TextIO

from rich.console import Console


def run_demo(args: argparse.Namespace, out: TextIO) -> int:
    from .config import load_config
    from .planfile import plans_check_command
    from .render import mermaid_diagram, status_table

    cfg = load_config(args.config, os.environ)
    files = sorted({f for pattern in cfg.plans.files for f in glob.glob(str(pattern))})
    out.write(f"== plan files ({len(files)})\n")
    rc = plans_check_command(files, out) if files else 0
    out.write("\n== the plan machine (Mermaid stateDiagram-v2)\n")
    out.write(mermaid_diagram())
    out.write("\n== status\n")
    Console(file=out, width=140).print(status_table([]))
    return rc
