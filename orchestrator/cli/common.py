"""What every command shares: exit codes, the config, the read-only store, a console to print on."""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
from typing import TextIO

from rich.console import Console, RenderableType

from ..config import Config
from .parser import EXIT_BAD_INPUT, EXIT_FAIL, EXIT_OK

__all__ = ["EXIT_BAD_INPUT", "EXIT_FAIL", "EXIT_OK", "UNBOUNDED", "config", "console", "fits", "measured", "read_db",
           "terminal_width"]


UNBOUNDED = 10_000  # a console this wide never cuts a line: the table takes its natural width


def terminal_width() -> int | None:
    """The terminal's width in columns (``COLUMNS`` wins), or None when the output is not a
    terminal (a pipe, a file: nothing to fit)."""
    return shutil.get_terminal_size(fallback=(0, 0)).columns or None


def console(out: TextIO, width: int | None = None) -> Console:
    """A console on ``out`` that fits ``width`` (default: the terminal; unbounded without one)."""
    return Console(file=out, width=width or terminal_width() or UNBOUNDED, soft_wrap=False)


def measured(renderable: RenderableType) -> int:
    """The natural width of ``renderable`` (a table: its widest line)."""
    return Console(width=UNBOUNDED).measure(renderable).maximum


def fits(renderable: RenderableType, width: int) -> bool:
    return measured(renderable) <= width


def config(args: argparse.Namespace) -> Config:
    from ..config import load_config
    return load_config(args.config, os.environ)


def read_db(cfg: Config) -> sqlite3.Connection:
    """state.db opened read-only. Raises StoreMissing, StoreCorrupt or SchemaTooNew."""
    from ..store.read import open_readonly
    return open_readonly(cfg.store.url)
