"""``status --json``: every plan row as its JSON object, on the standard library alone.

``main`` sends ``status --json`` here before anything heavy is imported: the config file is read
only for where the store is (``configpath.quick_store_url``), state.db with plain sqlite3
``mode=ro`` (``store.read``), and each row becomes JSON through ``statusrecord``, the same
function the full path and the console use. No pydantic, no ``machines``, no config model, no
Rich: the command costs about what a bare Python reading the same rows costs (bench/restart.py,
P3). When the config's store part is not plainly valid, :func:`quick_status_json` declines and
the full ``cmd_status`` runs, which loads the whole config and reports what is wrong.
"""

from __future__ import annotations

import argparse
import os
from typing import TextIO

from ..configpath import quick_store_url
from ..errors import StoreMissing
from ..statusrecord import status_json
from ..store.read import open_readonly, plan_rows
from .parser import EXIT_OK


def write_status_json(url: str, out: TextIO) -> int:
    """The plans of the store at ``url`` as a JSON array, one object per line (``[]`` before any
    store exists). Raises StoreCorrupt or SchemaTooNew for a file that is not a usable store."""
    try:
        conn = open_readonly(url)
    except StoreMissing:
        out.write("[]\n")
        return EXIT_OK
    try:
        rows = plan_rows(conn)
    finally:
        conn.close()
    out.write(status_json(rows) + "\n")
    return EXIT_OK


def quick_status_json(args: argparse.Namespace, out: TextIO) -> int | None:
    """``status --json`` without the config model, or None when the full path must decide."""
    url = quick_store_url(args.config, os.environ)
    return None if url is None else write_status_json(url, out)
