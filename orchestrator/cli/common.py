"""What every command shares: exit codes, the config, the read-only store, a console to print on."""

from __future__ import annotations

import argparse
import os
import sqlite3
from typing import TextIO

from rich.console import Console

from ..config import Config

EXIT_OK, EXIT_FAIL, EXIT_BAD_INPUT = 0, 1, 2


def console(out: TextIO) -> Console:
    return Console(file=out, width=int(os.environ.get("COLUMNS", "170")), soft_wrap=False)


def config(args: argparse.Namespace) -> Config:
    from ..config import load_config
    return load_config(args.config, os.environ)


def read_db(cfg: Config) -> sqlite3.Connection:
    """state.db opened read-only. Raises StoreMissing, StoreCorrupt or SchemaTooNew."""
    from ..store.read import open_readonly
    return open_readonly(cfg.store.url)
