"""P3: restart with many live plans, and ``orchestrator status --json`` on them.

The world (``build``): a state.db of ``plans`` live plans in mixed states (bench/stores.py:
pending with a start in 2099, an activation job each; sized, submitted, filled, protected and
trailing; half with an ``expire_at``, an expiry job each). No plan files are left (plans run
once; their files may be archived: a restart with unchanged files does not parse them again,
the fingerprint of the last scan is kept in state.db).

* **restore**: a fresh process (imports done) loads the config, builds the runtime with
  ``bootstrap.build`` (store, ib_async adapter, scheduler, sender, engine; mode paper, nothing
  connects) and runs ``Engine.restore()``: every live plan loaded, bound to the machine and its
  jobs rebuilt, the plan files scanned and the scheduler started: what ``Engine.start`` does
  before it connects. Baseline: a fresh process's raw sqlite3 fetch of the same plan rows.
* **status**: ``orchestrator status --json`` as a subprocess (wall time, Python start and
  imports included); baseline: a bare ``python`` that reads the same rows with sqlite3 and
  prints them as JSON. And in-process (``cli.main`` in a fresh process, modules imported)
  against the same read in-process.

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
from pathlib import Path
from typing import Any

from . import stores
from .common import Figure, median

REPO = Path(__file__).resolve().parents[1]


def build(tmp: Path, plans: int = 10_000) -> Path:
    """state.db and config.toml in ``tmp``; returns the config path."""
    tmp.mkdir(parents=True, exist_ok=True)
    config = tmp / "config.toml"
    config.write_text(textwrap.dedent("""\
        [broker]
        mode = "paper"
        port = 1
        [store]
        url = "sqlite:///state.db"
        [plans]
        files = ["plans/*.toml"]
        """))
    stores.mixed(tmp / "state.db", plans)
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
    await engine.jobs.shutdown()
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


def restore_point(config: Path, runs: int = 1) -> dict[str, float]:
    """Restart to ready and the raw fetch of the same rows (medians of ``runs``), for the curve."""
    restores = [_in_child("restore", config) for _ in range(runs)]
    raw = [_in_child("raw-load", config)["seconds"] for _ in range(runs)]
    return {"ready": median([r["ready"] for r in restores]), "raw": median(raw), "plans": restores[0]["plans"],
            "jobs": restores[0]["jobs"], **{k: median([r[k] for r in restores])
                                          for k in ("build", "load_plans", "restore")}}


def run(config: Path, runs: int = 3) -> tuple[list[Figure], dict[str, Any]]:
    orchestrator = str(Path(sys.executable).parent / "orchestrator")
    db = str(config.parent / "state.db")
    _wall([orchestrator, "status", "--json", "--config", str(config)])  # warm the page cache and .pyc files
    point = restore_point(config, runs)
    status_in = [_in_child("status", config)["seconds"] for _ in range(runs)]
    raw_status_in = [_in_child("raw-status", config)["seconds"] for _ in range(runs)]
    status_wall, raw_wall = [], []
    for _ in range(runs):   # alternated: a load spike hits both sides alike
        status_wall.append(_wall([orchestrator, "status", "--json", "--config", str(config)]))
        raw_wall.append(_wall([sys.executable, "-c", RAW_STATUS, db]))
    n = point["plans"]
    figures = [
        Figure(f"P3 restart to ready, {n:,} live plans", point["ready"], "s", point["raw"],
               note=f"{point['jobs']} jobs; ms: build {point['build'] * 1000:.0f}, load_plans "
                    f"{point['load_plans'] * 1000:.0f}, restore {point['restore'] * 1000:.0f}; "
                    "baseline: raw sqlite3 fetch of the rows").check("<=", 5, on="ratio"),
        Figure("P3 status --json, subprocess wall", median(status_wall), "s", median(raw_wall),
               note=f"{n} plans; baseline: python + sqlite3 + json of the same rows").check("<=", 1.2, on="ratio"),
        Figure("P3 status --json, in-process", median(status_in), "s", median(raw_status_in),
               note="cli.main in a fresh process, modules imported; baseline: the same read in-process"),
    ]
    return figures, {"restore": point, "status_wall": status_wall, "status_in": status_in,
                     "raw_wall": raw_wall, "raw_status_in": raw_status_in}


if __name__ == "__main__":
    print(json.dumps(_child(sys.argv[1], sys.argv[2])))
