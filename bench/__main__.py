"""``./dev bench``: every benchmark, a table, bench/results.json and docs/p1-latency.png.

Run: ``.venv/bin/python -m bench`` (about 1.5 minutes on 2 cores). Each figure is compared
with a baseline measured in the same run where one makes sense (see docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

from . import latency, memory, plot, restart, simgw_bench, throughput, trailing
from .common import Figure

REPO = Path(__file__).resolve().parents[1]


def machine() -> str:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    load = "/".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{os.cpu_count()} CPUs, {model}, Python {platform.python_version()}, load {load}"


def simgw_figures() -> list[Figure]:
    with contextlib.redirect_stdout(io.StringIO()):
        r = simgw_bench.main([])
    return [
        Figure("sim-gateway ticks to ib_async", r["ticks_ib_async"]["per_second"], "/s",
               note="tick messages/s, gateway in its own process").check(">=", 20_000),
        Figure("sim-gateway ticks to a raw client", r["ticks_raw"]["per_second"], "/s"),
        Figure("sim-gateway order ack (ib_async), median", r["ack_ib_async"]["median_ms"], "ms").check("<=", 1),
        Figure("sim-gateway order ack (ib_async), p99", r["ack_ib_async"]["p99_ms"], "ms"),
    ]


def table(figures: list[Figure]) -> str:
    lines = [f"{'figure':56} {'value':>10} {'unit':5} {'baseline':>10} {'ratio':>7}  {'target':16} met"]
    for f in figures:
        base = "" if f.baseline is None else f"{f.baseline:10.4g}"
        ratio = "" if f.ratio is None else f"{f.ratio:7.3g}"
        met = "" if f.met is None else ("yes" if f.met else "NO")
        lines.append(f"{f.name:56} {f.value:10.4g} {f.unit:5} {base:>10} {ratio:>7}  {f.target:16} {met}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=REPO / "bench" / "results.json")
    p.add_argument("--plot", type=Path, default=REPO / "docs" / "p1-latency.png")
    args = p.parse_args(argv)
    started = time.perf_counter()
    print(f"bench: {machine()}", flush=True)
    figures: list[Figure] = []
    details: dict[str, Any] = {}

    def step(name: str, result: tuple[list[Figure], dict[str, Any]] | list[Figure]) -> None:
        found, extra = result if isinstance(result, tuple) else (result, {})
        figures.extend(found)
        details[name] = extra
        print(f"bench: {name} done at {time.perf_counter() - started:.0f} s", flush=True)

    step("sim-gateway", simgw_figures())
    step("P1/P5 latency", latency.run())
    step("P2 throughput", throughput.run())
    step("P6 trailing", trailing.run())
    with tempfile.TemporaryDirectory(prefix="bench-restart-") as tmp:
        config = restart.build(Path(tmp))
        step("P3 restart", restart.run(config))
        step("P4 memory", memory.run(config))

    p1 = [s * 1000 for s in details["P1/P5 latency"]["p1"]]
    p50, p99 = (next(f.value for f in figures if f.name.startswith(f"P1 fill -> committed, p{q}")) for q in (50, 99))
    plot.histogram(p1, args.plot, title=f"P1 FILL TO COMMITTED, {len(p1)} FILLS, 1000 LIVE PLANS (MS)",
                   p50=p50, p99=p99, target=5)
    tmp = args.out.with_name(args.out.name + ".tmp")
    tmp.write_text(json.dumps([f.to_json() for f in figures], indent=2) + "\n")
    os.replace(tmp, args.out)
    print()
    print(table(figures))
    print(f"\nbench: {machine()}; {time.perf_counter() - started:.0f} s; wrote {args.out} and {args.plot}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
