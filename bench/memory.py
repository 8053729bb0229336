"""P4: peak RSS of an orchestrator process holding many live plans.

A fresh process imports the orchestrator, builds the runtime (``bootstrap.build``, mode paper)
and restores a P3 world (bench/restart.py: the live plans bound to the machine, their jobs
scheduled), then reports its own peak resident set (``/proc/self/status`` VmHWM) and its
current one (VmRSS). Baseline: the same process's RSS after the imports, before the runtime
exists.
"""

from __future__ import annotations

import asyncio
import json
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

from .common import Figure, median

REPO = Path(__file__).resolve().parents[1]


def _status_mb(field: str) -> float:
    """A memory figure of this process from /proc/self/status, in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def _hold(config_path: str) -> dict[str, float]:
    import machines  # noqa: F401
    from orchestrator import bootstrap
    from orchestrator.config import load_config

    before = _status_mb("VmRSS")
    rt = await bootstrap.build(load_config(config_path, {}))
    rt.engine.restore()
    plans = len(rt.engine.live_plans())
    # VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss over execve, so a child started by
    # a big parent reports at least the parent's size at fork (the full bench run read 160 MB)
    out = {"imports_mb": before, "rss_mb": _status_mb("VmRSS"), "peak_mb": _status_mb("VmHWM"),
           "ru_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "plans": plans}
    await rt.engine.jobs.shutdown()
    rt.store.close()
    return out


def point(config: Path, runs: int = 1) -> dict[str, float]:
    """Peak RSS and the RSS after the imports (medians of ``runs`` fresh processes)."""
    results = []
    for _ in range(runs):
        proc = subprocess.run([sys.executable, "-m", "bench.memory", str(config)], cwd=REPO, check=True,
                              capture_output=True, text=True)
        results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    return {k: median([r[k] for r in results]) for k in ("peak_mb", "imports_mb", "rss_mb", "plans")}


def run(config: Path, runs: int = 3) -> tuple[list[Figure], dict[str, Any]]:
    p = point(config, runs)
    figure = Figure(f"P4 peak RSS, {p['plans']:,.0f} live plans in an engine", p["peak_mb"], "MB", p["imports_mb"],
                    note=f"after restore {p['rss_mb']:.0f} MB; baseline: RSS after the imports")
    return [figure.check("<=", 1.3, on="ratio")], {"point": p}


if __name__ == "__main__":
    print(json.dumps(asyncio.run(_hold(sys.argv[1]))))
