"""Running ``python -m orchestrator`` as a real process, in a folder of its own."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from ..procs import REPO, STARTED


async def spawn(*argv: str, cwd: Path, timeout: float = 30.0,
                env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """``orchestrator ARGV`` to its end: (exit code, stdout, stderr). No ORCHESTRATOR_* variable
    of the test's environment leaks in."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "orchestrator", *argv, cwd=cwd, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, stdin=asyncio.subprocess.DEVNULL,
        env={**{k: v for k, v in os.environ.items() if not k.startswith("ORCHESTRATOR_")},
             "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1", **(env or {})})
    STARTED.append(proc)
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    assert proc.returncode is not None
    return proc.returncode, out.decode(errors="replace"), err.decode(errors="replace")


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


class ErrLines:
    """The stderr of an ``Orchestrator`` process, awaited line by line (its log)."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.lines: list[str] = []

    async def wait(self, needle: str, timeout: float = 30.0) -> str:
        assert self.proc.stderr is not None

        async def read() -> str:
            while True:
                raw = await self.proc.stderr.readline()  # type: ignore[union-attr]
                if not raw:
                    raise AssertionError(f"stderr ended before {needle!r}; got {self.lines[-10:]}")
                self.lines.append(raw.decode(errors="replace").rstrip("\n"))
                if needle in self.lines[-1]:
                    return self.lines[-1]
        return await asyncio.wait_for(read(), timeout)
