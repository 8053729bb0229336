"""The processes of a chaos run: the simulated gateway and the orchestrator, each in its own
process, driven by their output lines and the gateway's JSON-lines control port.

Every output stream is pumped into an owner-only log file as it arrives (so a full pipe never
blocks a child) and kept in memory for the checks; callers await lines or exits, never sleep.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
from datetime import date
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
START_TIMEOUT = 20.0


def owner_only_file(path: Path) -> Any:
    """Open ``path`` for appending, created 0600 (the harness's own logs hold trading data)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    return os.fdopen(fd, "a", encoding="utf-8", errors="replace")


class Stream:
    """One output stream of a child: every line goes to a file and to ``lines``."""

    def __init__(self, reader: asyncio.StreamReader, path: Path) -> None:
        self.reader = reader
        self.path = path
        self.lines: list[str] = []
        self._changed = asyncio.Condition()
        self.closed = False
        self._file = owner_only_file(path)
        self.task = asyncio.get_running_loop().create_task(self._pump(), name=f"pump {path.name}")

    async def _pump(self) -> None:
        try:
            while True:
                raw = await self.reader.readline()
                if not raw:
                    break
                line = raw.decode("utf-8", errors="replace").rstrip("\n")
                self._file.write(line + "\n")
                self._file.flush()
                async with self._changed:
                    self.lines.append(line)
                    self._changed.notify_all()
        finally:
            self._file.close()
            self.closed = True
            async with self._changed:
                self._changed.notify_all()

    async def wait_line(self, pattern: str, timeout: float, start: int = 0) -> str | None:
        """The first line (from index ``start``) matching ``pattern``; None if the stream ends."""
        rx = re.compile(pattern)

        def found() -> str | None:
            return next((ln for ln in self.lines[start:] if rx.search(ln)), None)

        async def until() -> str | None:
            async with self._changed:
                await self._changed.wait_for(lambda: found() is not None or self.closed)
            return found()
        return await asyncio.wait_for(until(), timeout)


def _child_env(extra: dict[str, str] | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORCHESTRATOR_")}
    env.update({"PYTHONUNBUFFERED": "1", "PYTHONPATH": str(REPO), "COLUMNS": "200"})
    env.update(extra or {})
    return env


class Child:
    """An asyncio subprocess with both streams pumped to files."""

    def __init__(self, proc: asyncio.subprocess.Process, out: Stream, err: Stream, name: str) -> None:
        self.proc, self.out, self.err, self.name = proc, out, err, name
        self.stopped = False  # SIGSTOPped by us

    @classmethod
    async def spawn(cls, name: str, args: list[str], *, cwd: Path, logdir: Path,
                    env: dict[str, str] | None = None, stdin: bool = False) -> Child:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, *args, cwd=cwd, env=_child_env(env),
            stdin=asyncio.subprocess.PIPE if stdin else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        assert proc.stdout is not None and proc.stderr is not None
        return cls(proc, Stream(proc.stdout, logdir / f"{name}.out.log"),
                   Stream(proc.stderr, logdir / f"{name}.err.log"), name)

    @property
    def returncode(self) -> int | None:
        return self.proc.returncode

    def alive(self) -> bool:
        return self.proc.returncode is None

    def signal(self, sig: int) -> bool:
        if self.proc.returncode is not None:
            return False
        try:
            self.proc.send_signal(sig)
        except ProcessLookupError:
            return False
        return True

    async def wait(self, timeout: float) -> int:
        rc = await asyncio.wait_for(self.proc.wait(), timeout)
        await asyncio.wait_for(asyncio.gather(self.out.task, self.err.task), timeout)
        return rc

    async def kill(self) -> int:
        if self.stopped:
            self.signal(signal.SIGCONT)
            self.stopped = False
        self.signal(signal.SIGKILL)
        return await self.wait(START_TIMEOUT)

    async def terminate(self, timeout: float) -> int:
        """SIGTERM, then SIGKILL if it does not exit within ``timeout``; returns the exit code."""
        if self.stopped:
            self.signal(signal.SIGCONT)
            self.stopped = False
        self.signal(signal.SIGTERM)
        try:
            return await self.wait(timeout)
        except TimeoutError:
            self.signal(signal.SIGKILL)
            await self.wait(START_TIMEOUT)
            return -999  # did not stop on SIGTERM


class Gateway:
    """``python -m orchestrator.simgw`` in its own process, with its control port; with ``window``,
    ``python -m chaos.tws_gateway`` (the same gateway, plus the TWS window a trader clicks in)."""

    def __init__(self, child: Child, port: int, control_port: int) -> None:
        self.child, self.port, self.control_port = child, port, control_port
        self.control: Control | None = None
        self.window: Control | None = None

    @classmethod
    async def start(cls, workdir: Path, *, prices: Path, journal: Path, account_value: float,
                    partial_fill_max: int | None, port: int = 0, account: str | None = None,
                    window: bool = False, sim_date: date | None = None, clock: list[str] | None = None) -> Gateway:
        """``clock``: the session clock's options (``--clock``, ``--speed``, ``--calendar``)."""
        module = "chaos.tws_gateway" if window else "orchestrator.simgw"
        args = ["-m", module, "--port", str(port), "--tick-seconds", "0", "--control-port", "0",
                "--prices", str(prices), "--journal", str(journal), "--account-value", f"{account_value:g}"]
        if account:
            args += ["--account", account]
        if partial_fill_max:
            args += ["--partial-fill-max", str(partial_fill_max)]
        if sim_date:   # the date decides the futures months listed
            args += ["--date", sim_date.isoformat()]
        args += clock or []
        child = await Child.spawn(f"gateway-{journal.stem}", args, cwd=REPO, logdir=workdir)
        line = await child.out.wait_line(r"^sim-gateway listening on ", START_TIMEOUT)
        ctl = await child.err.wait_line(r"^sim-gateway control on ", START_TIMEOUT)
        if line is None or ctl is None:
            await child.kill()
            raise RuntimeError(f"the simulated gateway did not start: {child.err.lines[-5:]}")
        self = cls(child, int(line.rsplit(":", 1)[1]), int(ctl.rsplit(":", 1)[1]))
        self.control = await Control.open(self.control_port)
        if window:
            where = await child.err.wait_line(r"^tws window on ", START_TIMEOUT)
            if where is None:
                await child.kill()
                raise RuntimeError(f"the TWS window did not open: {child.err.lines[-5:]}")
            self.window = await Control.open(int(where.rsplit(":", 1)[1]))
        return self

    async def click(self, cmd: str, **kw: Any) -> dict[str, Any]:
        """The trader in the TWS window (cancel any order of the account, as a click does)."""
        assert self.window is not None, "the gateway was started without its TWS window"
        reply = await self.window(cmd, **kw)
        if not reply.get("ok"):
            raise RuntimeError(f"TWS window {cmd} {kw}: {reply.get('error')}")
        return reply

    async def __call__(self, cmd: str, **kw: Any) -> dict[str, Any]:
        assert self.control is not None
        reply = await self.control(cmd, **kw)
        if not reply.get("ok"):
            raise RuntimeError(f"gateway control {cmd} {kw}: {reply.get('error')}")
        return reply

    async def state(self) -> dict[str, Any]:
        return (await self("state"))["state"]  # type: ignore[no-any-return]

    async def journal(self) -> list[dict[str, Any]]:
        return (await self("journal", since=0))["entries"]  # type: ignore[no-any-return]

    async def stop(self) -> int:
        for ctl in (self.control, self.window):
            if ctl is not None:
                await ctl.close()
        self.control = self.window = None
        return await self.child.terminate(10.0)


class TraderProcess:
    """``python -m chaos.trader``: the trader's clientId-0 API session, one JSON command per line."""

    def __init__(self, child: Child) -> None:
        self.child = child
        self._answered = 1   # stdout line 0 is the ready line
        self._lock = asyncio.Lock()

    @classmethod
    async def start(cls, workdir: Path, port: int) -> TraderProcess:
        child = await Child.spawn("trader", ["-m", "chaos.trader", "--port", str(port)], cwd=REPO, logdir=workdir,
                                  stdin=True)
        if await child.out.wait_line(r'^\{"ready": true\}', START_TIMEOUT) is None:
            await child.kill()
            raise RuntimeError(f"the trader did not start: {child.err.lines[-5:]}")
        return cls(child)

    async def __call__(self, op: str, **kw: Any) -> dict[str, Any]:
        """One command; its answer (the trader gives up on anything after its own bounded waits)."""
        assert self.child.proc.stdin is not None
        async with self._lock:
            self.child.proc.stdin.write(json.dumps({"op": op, **kw}).encode() + b"\n")
            await self.child.proc.stdin.drain()
            line = await self.child.out.wait_line(r"^\{", 60.0, start=self._answered)
            self._answered += 1
        if line is None:
            raise ConnectionError(f"the trader exited: {self.child.err.lines[-5:]}")
        return json.loads(line)  # type: ignore[no-any-return]

    async def stop(self) -> None:
        if self.child.proc.stdin is not None and self.child.alive():
            self.child.proc.stdin.close()
        try:
            await self.child.wait(10.0)
        except TimeoutError:
            await self.child.kill()


class Control:
    """A client of the gateway's control port: one JSON command, one JSON reply (serialised)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, port: int) -> Control:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=64 * 1024 * 1024)
        return cls(reader, writer)

    async def __call__(self, cmd: str, **kw: Any) -> dict[str, Any]:
        async with self._lock:
            self.writer.write(json.dumps({"cmd": cmd, **kw}).encode() + b"\n")
            line = await asyncio.wait_for(self.reader.readline(), START_TIMEOUT)
        if not line:
            raise ConnectionError("the gateway's control port closed")
        return json.loads(line)  # type: ignore[no-any-return]

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except ConnectionError:
            pass


async def run_cli(*args: str, cwd: Path, logdir: Path, name: str, env: dict[str, str] | None = None,
                  timeout: float = 60.0) -> tuple[int, str, str]:
    """``python -m orchestrator ARGS`` to completion: (exit code, stdout, stderr)."""
    child = await Child.spawn(name, ["-m", "orchestrator", *args], cwd=cwd, logdir=logdir, env=env)
    rc = await child.wait(timeout)
    return rc, "\n".join(child.out.lines), "\n".join(child.err.lines)
