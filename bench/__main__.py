"""``./dev bench``: every benchmark, each headline figure as a ratio to a baseline measured in the
same run, a table, bench/results.json, docs/p1-latency.png and docs/scaling.png.

Run: ``.venv/bin/python -m bench`` (about 3 minutes on 2 cores) or ``--quick`` (a smaller
version, under 40 s; its results go to a temporary directory unless ``--out`` is given). The
gateway enforces IB's pacing (50 messages/s) and the orchestrator runs as in production (its
pacer at 45/s). See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

from . import latency, plot, scaling, throughput
from .common import Figure, pct

REPO = Path(__file__).resolve().parents[1]
FULL = {"plans": 1000, "baseline": 100, "rounds": 10, "p2_plans": 1000, "p2_rounds": 3, "restart_plans": 10_000,
        "runs": 3, "sizes": scaling.SIZES, "active": 40}
QUICK = {"plans": 100, "baseline": 20, "rounds": 3, "p2_plans": 200, "p2_rounds": 1, "restart_plans": 1_000,
         "runs": 1, "sizes": (100, 1_000), "active": 10}
SMOKE = {"plans": 25, "baseline": 3, "rounds": 1, "p2_plans": 20, "p2_rounds": 1, "restart_plans": 100,
         "runs": 1, "sizes": (100,), "active": 5}   # the test suite's check that every figure is written


def machine() -> str:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    load = "/".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{os.cpu_count()} CPUs, {model}, Python {platform.python_version()}, load {load}"


def table(figures: list[Figure]) -> str:
    lines = [f"{'figure':62} {'value':>10} {'unit':5} {'baseline':>10} {'ratio':>7}  {'target':12} met"]
    for f in figures:
        base = "" if f.baseline is None else f"{f.baseline:10.4g}"
        ratio = "" if f.ratio is None else f"{f.ratio:7.3g}"
        met = "" if f.met is None else ("yes" if f.met else "NO")
        lines.append(f"{f.name:62} {f.value:10.4g} {f.unit:5} {base:>10} {ratio:>7}  {f.target:12} {met}")
    return "\n".join(lines)


def draw(p1_ms: list[float], p1: Figure, curve: dict[str, list[dict[str, Any]]], plots: Path, plans: int) -> None:
    plot.histogram(p1_ms, plots / "p1-latency.png", title=f"P1 FILL TO COMMITTED, {len(p1_ms)} FILLS, "
                   f"{plans} LIVE PLANS (MS)", p50=pct(p1_ms, 50), p99=p1.value,
                   target=5 * (p1.baseline or 0))
    xs = [float(p["plans"]) for p in curve["p1"]]
    plot.curves(plots / "scaling.png", xs, [
        ("P1 FILL TO COMMIT, P99", "MS", [("P99", [p["p99_ms"] for p in curve["p1"]], plot.BLUE),
                                          ("P50", [p["p50_ms"] for p in curve["p1"]], plot.ORANGE)]),
        ("P3 RESTART TO READY", "S", [("READY", [p["ready"] for p in curve["p3"]], plot.BLUE),
                                      ("RAW FETCH", [p["raw"] for p in curve["p3"]], plot.GREY)]),
        ("P4 PEAK RSS", "MB", [("PEAK", [p["peak_mb"] for p in curve["p4"]], plot.BLUE),
                               ("AFTER IMPORTS", [p["imports_mb"] for p in curve["p4"]], plot.GREY)]),
    ], title=f"COST PER PLAN: {int(xs[0])} TO {int(xs[-1]) // 1000}K LIVE PLANS")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="a smaller version (under 40 s)")
    p.add_argument("--smoke", action="store_true", help="the smallest version: checks the code runs, measures nothing")
    p.add_argument("--out", type=Path, help="results file (default bench/results.json; --quick: a temp dir)")
    p.add_argument("--plots", type=Path, help="directory of the PNGs (default docs/; --quick: next to --out)")
    args = p.parse_args(argv)
    size = SMOKE if args.smoke else QUICK if args.quick else FULL
    small = args.quick or args.smoke
    scratch = Path(tempfile.mkdtemp(prefix="bench-quick-")) if small and args.out is None else None
    out = args.out or (scratch / "results.json" if scratch else REPO / "bench" / "results.json")
    plots = args.plots or (out.parent if scratch or args.out else REPO / "docs")
    logging.getLogger("ib_async").setLevel(logging.CRITICAL)   # IB's codes are counted, not printed
    started = time.perf_counter()
    print(f"bench: {machine()}{' (smoke)' if args.smoke else ' (quick)' if args.quick else ''}", flush=True)
    figures: list[Figure] = []
    details: dict[str, Any] = {}

    def step(name: str, result: tuple[list[Figure], Any]) -> None:
        found, extra = result
        figures.extend(found)
        details[name] = extra
        print(f"bench: {name} done at {time.perf_counter() - started:.0f} s", flush=True)

    step("P1/P5/P6 live", latency.run(size["plans"], size["baseline"], size["rounds"]))
    step("P2 throughput", throughput.run(size["p2_plans"], size["p2_rounds"]))
    p1 = next(f for f in figures if f.name == "P1 fill -> committed, p99")
    step("P3/P4 and the scaling curves", scaling.run(size["sizes"], size["active"], raw_p99_ms=p1.baseline,
                                                     headline=size["restart_plans"], runs=size["runs"]))
    curve = details["P3/P4 and the scaling curves"]
    draw([s * 1000 for s in details["P1/P5/P6 live"]["p1"]], p1, curve, plots, size["plans"])
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp_out = out.with_name(out.name + ".tmp")
    tmp_out.write_text(json.dumps([f.to_json() for f in figures], indent=2) + "\n")
    os.replace(tmp_out, out)
    (out.parent / "breakdown.json").write_text(json.dumps(curve["p1"], indent=1) + "\n")
    print()
    print(table(figures))
    missed = [f.name for f in figures if f.met is False]
    print(f"\nbench: {machine()}; {time.perf_counter() - started:.0f} s; wrote {out}, {plots}/p1-latency.png "
          f"and {plots}/scaling.png; targets missed: {len(missed)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
