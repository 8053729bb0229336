"""P3: restart with 10,000 live plans, and ``orchestrator status --json`` on them.

The world (``build``): 10,000 plans written as ten plan files of 1,000, stored through the store
API (``Store.insert_plan`` with the engine's spec hash, then ``apply_event`` with the real
machine) into mixed live states: pending (start in 2099: an activation job each), sized,
submitted, filled, protected and trailing; half carry an ``expire_at`` (an expiry job each).

* **restore**: a fresh process (imports done) loads the config, builds the runtime with
  ``bootstrap.build`` (store, ib_async adapter, scheduler, sender, engine; mode paper, nothing
  connects) and runs ``Engine.restore()``: every live plan loaded, bound to the machine and its
  jobs rebuilt, the plan files scanned and the scheduler started: what ``Engine.start`` does
  before it connects. Measured twice: with no plan files left (plans run once; their files may
  be gone), and with all ten files still there (all 10,000 specs parsed again and checked
  against state.db). Baseline: raw sqlite3 fetch of the same plan rows.
* **status**: ``orchestrator status --json`` as a subprocess (wall time, Python start and
  imports included) and in-process (``cli.main`` in a fresh process, modules imported).
  Baselines: the same rows as JSON through raw sqlite3, as a subprocess and in-process.

Every figure is the median of ``runs`` fresh processes.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
import time
from datetime import timedelta
from decimal import Decimal as D
from pathlib import Path
from typing import Any

from .common import FAR_FUTURE, Figure, median

REPO = Path(__file__).resolve().parents[1]
SYMBOLS = ("AAPL", "MSFT", "NVDA", "TSLA", "SPY")
STATES = ("pending", "sized", "submitted", "filled", "protected", "trailing")


def _plan_text(i: int) -> str:
    state = STATES[i % len(STATES)]
    text = (f'[[plans]]\nid = "R{i:05d}"\nsymbol = "{SYMBOLS[i % len(SYMBOLS)]}"\nside = "long"\n'
            f'entry = "limit"\nentry_price = 100.00\nstop_loss = 90.00\ntake_profit = 130.00\nrisk = "small"\n')
    if state == "pending":
        text += f'start_at = "{FAR_FUTURE.isoformat()}"\n'
    if i % 2:
        text += f'expire_at = "{(FAR_FUTURE + timedelta(hours=1)).isoformat()}"\n'
    return text + "[plans.trail]\ntrigger_r = 1.0\ndistance = 1.00\n"


def build(tmp: Path, plans: int = 10_000, per_file: int = 1_000) -> Path:
    """Plan files, state.db and config.toml in ``tmp``; returns the config path."""
    import machines
    from orchestrator.clock import SystemClock
    from orchestrator.engine import spec_hash
    from orchestrator.engine.step import apply_event
    from orchestrator.planfile import load_plan_files
    from orchestrator.store import Store

    (tmp / "plans").mkdir(parents=True, exist_ok=True)
    for f in range(0, plans, per_file):
        (tmp / "plans" / f"plans-{f // per_file:02d}.toml").write_text(
            "".join(_plan_text(i) for i in range(f, min(plans, f + per_file))))
    config = tmp / "config.toml"
    for path, files in ((config, "plans/*.toml"), (tmp / "config-no-files.toml", "no-plans/*.toml")):
        path.write_text(textwrap.dedent(f"""\
            [broker]
            mode = "paper"
            port = 1
            [store]
            url = "sqlite:///state.db"
            [plans]
            files = ["{files}"]
            """))
    specs, problems = load_plan_files(sorted((tmp / "plans").glob("*.toml")))
    assert not problems, problems[:3]
    store = Store(f"sqlite:///{tmp / 'state.db'}")
    machine = machines.PlanMachine()
    now = SystemClock().now()
    for i, spec in enumerate(specs):
        plan = machine.bind(store.insert_plan(spec, at=now, spec_hash=spec_hash(spec)))
        target = STATES.index(STATES[int(spec.id[1:]) % len(STATES)])
        events = [
            machines.Activate(now, D(100_000), D(100_000), D(0)),
            machines.EntryAccepted(now, 10 + i, 1000 + i),
            machines.EntryFilled(now, f"e{i}", 40, D("100.00")),
            machines.EntryFilled(now, f"f{i}", 60, D("100.00")),
            machines.ProtectionStatus(now, 100, 100, D("90.00"), D("130.00")),
            machines.PriceUpdate(now, D("111.00")),
        ]
        steps = {0: 0, 1: 1, 2: 2, 3: 3, 4: 5, 5: 6}[target]
        for event in events[:steps]:
            apply_event(machine, store, plan, event, now=now)
        assert plan.state == STATES[target], (plan.id, plan.state)
    store.close()
    return config


# ---------------------------------------------------------------------- measured in child processes
async def _restore(config_path: str) -> dict[str, float]:
    from orchestrator import bootstrap
    from orchestrator.config import load_config

    t0 = time.perf_counter()
    config = load_config(config_path, {})
    rt = await bootstrap.build(config, out=open(os.devnull, "w"))  # noqa: SIM115
    t1 = time.perf_counter()
    phases: dict[str, float] = {}
    engine, load, rescan = rt.engine, rt.store.load_plans, rt.engine.intake.rescan

    def timed(name: str, fn: Any) -> Any:
        def run(*a: Any, **k: Any) -> Any:
            s = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                phases[name] = phases.get(name, 0.0) + time.perf_counter() - s
        return run
    rt.store.load_plans = timed("load_plans", load)  # type: ignore[method-assign]
    engine.intake.rescan = timed("rescan plan files", rescan)
    engine.restore()
    t2 = time.perf_counter()
    out = {"ready": t2 - t0, "build": t1 - t0, "restore": t2 - t1, **phases,
           "plans": len(engine.plans), "jobs": len(engine.jobs.ids())}
    engine.jobs.shutdown()
    rt.store.close()
    return out


def _raw_rows(db_path: str) -> list[Any]:
    import sqlite3
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    rows = db.execute("SELECT * FROM plans ORDER BY created_at, id").fetchall()
    db.close()
    return rows


def _child(mode: str, config_path: str) -> dict[str, Any]:
    if mode == "restore":
        return asyncio.run(_restore(config_path))
    db = str(Path(config_path).parent / "state.db")
    if mode == "raw-load":
        import sqlite3
        t0 = time.perf_counter()
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        rows = conn.execute("SELECT * FROM plans WHERE state NOT IN ('closed','rejected','cancelled')").fetchall()
        return {"seconds": time.perf_counter() - t0, "rows": len(rows)}
    if mode == "status":
        import io

        from orchestrator import cli, render  # noqa: F401  (imported: only the command is timed)
        from orchestrator.store import read  # noqa: F401
        out = io.StringIO()
        t0 = time.perf_counter()
        code = cli.main(["status", "--json", "--config", config_path], out=out)
        return {"seconds": time.perf_counter() - t0, "code": code, "plans": len(json.loads(out.getvalue()))}
    if mode == "raw-status":
        t0 = time.perf_counter()
        text = json.dumps(_raw_rows(db))
        return {"seconds": time.perf_counter() - t0, "bytes": len(text)}
    raise SystemExit(f"unknown mode {mode}")


def _in_child(mode: str, config: Path) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, "-m", "bench.restart", mode, str(config)], cwd=REPO, check=True,
                          capture_output=True, text=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _wall(argv: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(argv, cwd=REPO, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


RAW_STATUS = ("import json, sqlite3, sys; db = sqlite3.connect('file:' + sys.argv[1] + '?mode=ro', uri=True); "
              "json.dump(db.execute('SELECT * FROM plans ORDER BY created_at, id').fetchall(), sys.stdout)")


def run(config: Path, runs: int = 3) -> tuple[list[Figure], dict[str, Any]]:
    orchestrator = str(Path(sys.executable).parent / "orchestrator")
    db = str(config.parent / "state.db")
    _wall([orchestrator, "status", "--json", "--config", str(config)])  # warm the page cache and .pyc files
    restores = [_in_child("restore", config) for _ in range(runs)]
    bare = [_in_child("restore", config.parent / "config-no-files.toml") for _ in range(runs)]
    raw_loads = [_in_child("raw-load", config)["seconds"] for _ in range(runs)]
    status_in = [_in_child("status", config)["seconds"] for _ in range(runs)]
    raw_status_in = [_in_child("raw-status", config)["seconds"] for _ in range(runs)]
    status_wall = [_wall([orchestrator, "status", "--json", "--config", str(config)]) for _ in range(runs)]
    raw_wall = [_wall([sys.executable, "-c", RAW_STATUS, db]) for _ in range(runs)]
    def phases(runs: list[dict[str, Any]]) -> str:
        return ", ".join(f"{k} {median([r[k] for r in runs]) * 1000:.0f}"
                         for k in ("build", "load_plans", "rescan plan files", "restore"))
    n = restores[0]["plans"]
    figures = [
        Figure("P3 restart to ready, 10,000 live plans", median([r["ready"] for r in bare]), "s",
               median(raw_loads), note=f"{n} plans, {bare[0]['jobs']} jobs; ms: {phases(bare)}").check("<=", 1),
        Figure("P3 same, with their 10 plan files still there", median([r["ready"] for r in restores]), "s",
               median(raw_loads), note=f"ms: {phases(restores)}").check("<=", 1),
        Figure("P3 status --json, subprocess wall", median(status_wall), "s", median(raw_wall),
               note=f"{n} plans; baseline: python + sqlite3 + json").check("<=", 0.5),
        Figure("P3 status --json, in-process", median(status_in), "s", median(raw_status_in),
               note="cli.main in a fresh process, modules imported").check("<=", 0.5),
    ]
    return figures, {"restores": restores, "restores_no_files": bare, "status_wall": status_wall,
                     "status_in": status_in,
                     "raw_wall": raw_wall, "raw_status_in": raw_status_in, "raw_loads": raw_loads}


if __name__ == "__main__":
    print(json.dumps(_child(sys.argv[1], sys.argv[2])))
