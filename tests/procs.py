"""Real subprocesses for tests: the simulated gateway and the orchestrator, driven by their
output lines (never by sleeping) and, for the gateway, by its JSON-lines control port."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WAIT = 20.0
STARTED: list[asyncio.subprocess.Process] = []   # killed after each test by conftest's reaper


def reap() -> list[str]:
    """SIGKILL every process a test started and left running; their command lines."""
    left = []
    for proc in STARTED:
        if proc.returncode is None:
            try:
                os.kill(proc.pid, signal.SIGKILL)
                os.waitpid(proc.pid, 0)
                left.append(str(proc.pid))
            except (ProcessLookupError, ChildProcessError):
                pass
    STARTED.clear()
    return left


class Proc:
    """``python -m orchestrator.simgw`` as a subprocess: port from its first stdout line."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.port = 0
        self.control_port = 0

    @classmethod
    async def start(cls, *args: str) -> Proc:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "orchestrator.simgw", *args, cwd=REPO,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        STARTED.append(proc)
        self = cls(proc)
        assert proc.stdout is not None and proc.stderr is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), WAIT)).decode()
        assert line.startswith("sim-gateway listening on 127.0.0.1:"), line
        self.port = int(line.rsplit(":", 1)[1])
        if "--control-port" in args:
            err = (await asyncio.wait_for(proc.stderr.readline(), WAIT)).decode()
            assert err.startswith("sim-gateway control on 127.0.0.1:"), err
            self.control_port = int(err.rsplit(":", 1)[1])
        return self

    async def stop(self, sig: int = signal.SIGTERM) -> tuple[int, str, str]:
        if self.proc.returncode is None:
            self.proc.send_signal(sig)
        out, err = await asyncio.wait_for(self.proc.communicate(), WAIT)
        assert self.proc.returncode is not None
        return self.proc.returncode, out.decode(), err.decode()


class Control:
    """A client of the gateway's control port: one JSON command, one JSON reply."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> Control:
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    async def raw(self, line: bytes) -> dict[str, object]:
        self.writer.write(line + b"\n")
        return json.loads(await asyncio.wait_for(self.reader.readline(), WAIT))

    async def __call__(self, cmd: str, **kw: object) -> dict[str, object]:
        return await self.raw(json.dumps({"cmd": cmd, **kw}).encode())

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


class Orchestrator:
    """``orchestrator <args>`` as a subprocess whose stdout lines can be awaited."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self.err_lines: list[str] = []

    @classmethod
    async def start(cls, *args: str, cwd: Path, env: dict[str, str] | None = None) -> Orchestrator:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "orchestrator", *args, cwd=cwd,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(REPO), **(env or {})},
        )
        STARTED.append(proc)
        return cls(proc)

    async def wait_line(self, pattern: str, timeout: float = WAIT) -> str:
        """Read stdout until a line matches ``pattern`` (regex); returns it."""
        assert self.proc.stdout is not None
        return await _until_line(self.proc.stdout, self.lines, pattern, timeout)

    async def wait_err(self, pattern: str, timeout: float = WAIT) -> str:
        """Read stderr (the log) until a line matches ``pattern`` (regex); returns it."""
        assert self.proc.stderr is not None
        return await _until_line(self.proc.stderr, self.err_lines, pattern, timeout)

    async def finish(self, sig: int | None = None, timeout: float = WAIT) -> tuple[int, str, str]:
        """Signal (optionally) and wait for the end: (exit code, all stdout, all stderr)."""
        if sig is not None and self.proc.returncode is None:
            self.proc.send_signal(sig)
        out, err = await asyncio.wait_for(self.proc.communicate(), timeout)
        assert self.proc.returncode is not None
        return (self.proc.returncode, "\n".join(self.lines) + out.decode(errors="replace"),
                "".join(line + "\n" for line in self.err_lines) + err.decode(errors="replace"))


async def _until_line(stream: asyncio.StreamReader, seen: list[str], pattern: str, timeout: float) -> str:
    rx = re.compile(pattern)

    async def read() -> str:
        while True:
            raw = await stream.readline()
            if not raw:
                raise AssertionError(f"process ended before a line matched {pattern!r}; got {seen[-20:]}")
            seen.append(raw.decode(errors="replace").rstrip("\n"))
            if rx.search(seen[-1]):
                return seen[-1]
    return await asyncio.wait_for(read(), timeout)
