"""``plans check`` as a trader runs it: problems on stderr and the ok line on stdout; a FIFO or
any other non-regular file refused at once (it used to hang); shape and logic errors of a plan
in one check."""

from __future__ import annotations

import os
from pathlib import Path

from ..engine.harness import plan_toml
from .helpers import call, spawn

TYPES = """\
[[plans]]
id = "T-1"
symbol = "AAPL"
side = "Long"
entry = "MKT"
entry_price = "180.50"
stop_loss = 176.00
take_profit = 188.001
risk = "normal"
"""


async def test_problems_go_to_stderr_and_the_ok_line_to_stdout(tmp_path: Path) -> None:
    (tmp_path / "good.toml").write_text(plan_toml("G-1"))
    (tmp_path / "bad.toml").write_text(plan_toml("B-1", stop=185.00))
    rc, out, err = await spawn("plans", "check", "good.toml", cwd=tmp_path)
    assert (rc, out, err) == (0, "ok: 1 plan in 1 file\n", "")
    rc, out, err = await spawn("plans", "check", "good.toml", "bad.toml", cwd=tmp_path)
    assert rc == 2 and out == ""
    assert err.splitlines() == ["bad.toml: plan B-1: stop_loss: a long plan's stop 185.00 must be below its entry "
                                "180.00"]


async def test_a_fifo_or_a_device_is_refused_at_once(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.toml")
    rc, out, err = await spawn("plans", "check", "pipe.toml", "/dev/zero", cwd=tmp_path, timeout=20)
    assert rc == 2 and out == ""
    assert err.splitlines() == [
        "pipe.toml: plan -: -: is not a regular file (a FIFO, socket or device): refused",
        "/dev/zero: plan -: -: is not a regular file (a FIFO, socket or device): refused"]
    # the same for a config file named on the command line
    rc, _out, err = await spawn("status", "--config", "pipe.toml", cwd=tmp_path, timeout=20)
    assert rc == 2 and err == "orchestrator: pipe.toml: is not a regular file (a FIFO, socket or device): refused\n"
    assert not _has_reader(tmp_path / "pipe.toml")   # nothing was left waiting on it


def _has_reader(fifo: Path) -> bool:
    """Someone holds the FIFO open for reading (else a non-blocking open to write fails: ENXIO)."""
    try:
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    except OSError:
        return False
    os.close(fd)
    return True


def test_shape_and_logic_errors_in_one_check(tmp_path: Path) -> None:
    path = tmp_path / "types.toml"
    path.write_text(TYPES)
    rc, out, err = call("plans", "check", str(path))
    assert rc == 2 and out == ""
    assert [line.replace(str(path), "types.toml") for line in err.splitlines()] == [
        "types.toml: plan T-1: entry_price: must be a number, not a string: write it without quotes, e.g. 180.50",
        "types.toml: plan T-1: side: must be one of long, short (got 'Long')",
        "types.toml: plan T-1: entry: must be one of market, limit, stop (got 'MKT')",
        "types.toml: plan T-1: take_profit: must be a multiple of the tick 0.01 at that price (got 188.001)"]
