"""Running ``python -m orchestrator`` as a real process, in a folder of its own."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import sys
from pathlib import Path

from orchestrator.cli import main

from ..procs import REPO, STARTED

TERMINAL = ("COLUMNS", "LINES")


async def spawn(*argv: str, cwd: Path, timeout: float = 30.0,
                env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """``orchestrator ARGV`` to its end: (exit code, stdout, stderr). No ORCHESTRATOR_* variable
    of the test's environment leaks in, nor a terminal's size (the child's output is a pipe: a width
    comes only from ``env``; a pytest-xdist worker has ``COLUMNS`` set)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "orchestrator", *argv, cwd=cwd, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, stdin=asyncio.subprocess.DEVNULL,
        env={**{k: v for k, v in os.environ.items() if not k.startswith("ORCHESTRATOR_") and k not in TERMINAL},
             "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1", **(env or {})})
    STARTED.append(proc)
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    assert proc.returncode is not None
    return proc.returncode, out.decode(errors="replace"), err.decode(errors="replace")


def call(*argv: str) -> tuple[int, str, str]:
    """``orchestrator ARGV`` in this process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            rc = main(list(argv), out=out)
        except SystemExit as exc:  # argparse
            rc = int(exc.code or 0)
    return rc, out.getvalue(), err.getvalue()


def write_config(tmp: Path, port: int, *, client_id: int = 5, files: str | None = None) -> Path:
    """``tmp/config.toml``: paper mode on ``port``, ``./state.db``, and ``plans.files`` if given."""
    cfg = tmp / "config.toml"
    text = f'[broker]\nmode = "paper"\nport = {port}\nclient_id = {client_id}\n[store]\nurl = "sqlite:///state.db"\n'
    text += "[sessions]\nmarket_hours = false\n[maintenance]\nwindows = []\n"  # the clock is real: a closed
    # market or one of IB's reset windows (paper and live) would hold entries at some hours of the day
    cfg.write_text(text + (f'[plans]\nfiles = ["{files}"]\n' if files else ""))
    return cfg


def listing(directory: Path) -> set[str]:
    return {str(p.relative_to(directory)) for p in directory.rglob("*")}


class Silent:
    """A TCP port that accepts connections and never says a word: an IB Gateway whose API is
    off, not logged in, or another program on the port."""

    def __init__(self) -> None:
        self.server: asyncio.Server | None = None
        self.writers: list[asyncio.StreamWriter] = []
        self.port = 0

    async def __aenter__(self) -> Silent:
        async def accept(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.writers.append(writer)
        self.server = await asyncio.start_server(accept, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        for writer in self.writers:
            writer.close()
        await self.server.wait_closed()

