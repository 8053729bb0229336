"""``orchestrator console`` (and the demo) as real subprocesses, driven by their output lines."""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
WAIT = 30.0


def _line(proc: subprocess.Popen[str], deadline: float) -> str:
    """One stdout line, waiting at most until ``deadline`` (never a bare blocking read)."""
    assert proc.stdout is not None
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if sel.select(timeout=0.2):
                return proc.stdout.readline()
            if proc.poll() is not None:
                return proc.stdout.readline()
    raise AssertionError("no output line in time")


class ConsoleProc:
    def __init__(self, *args: str, env: Mapping[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "orchestrator", "console", *args], cwd=REPO, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})})
        self.first = _line(self.proc, time.monotonic() + WAIT)
        self.url = self.first.split()[-1] if self.first.startswith("console on http://") else ""

    def stop(self) -> tuple[int, str, str]:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        out, err = self.proc.communicate(timeout=WAIT)
        return int(self.proc.returncode), self.first + out, err


def run_demo(folder: Path) -> Path:
    """The real ``orchestrator demo`` with its temporary folder inside ``folder``; its config path.

    The demo makes its folder with ``tempfile.mkdtemp``, which honours ``TMPDIR``, and prints
    ``demo folder: PATH`` first; no change to the demo is needed to run it where a test wants.
    """
    env = {**os.environ, "TMPDIR": str(folder), "PYTHONUNBUFFERED": "1"}
    done = subprocess.run([sys.executable, "-m", "orchestrator", "demo"], cwd=REPO, env=env, text=True,
                          capture_output=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    first = done.stdout.splitlines()[0]
    assert first.startswith("demo folder: "), first
    demo = Path(first.removeprefix("demo folder: "))
    assert demo.parent == folder and (demo / "state.db").exists()
    return demo / "config.toml"
