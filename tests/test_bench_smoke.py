"""The benchmark code runs and writes every headline figure with its baseline, ratio and verdict.

Nothing is timed here (``./dev bench`` measures; see docs/benchmarks.md): the smallest size runs
every benchmark once, end to end, so a change that breaks one is found by the default suite."""

from __future__ import annotations

import json
from pathlib import Path

from bench.__main__ import main

FIELDS = ["name", "value", "unit", "baseline", "ratio", "target", "met", "note"]
HEADLINES = ("P1 fill -> committed, p99", "P2 persisted transitions/s", "P3 restart to ready,",
             "P3 status --json, subprocess wall", "P4 peak RSS,", "P5 activation -> whole bracket at gateway, p99",
             "P6 25 stops moving at once", "P6 pacing errors", "P6 20 trailing plans")


def test_the_smallest_bench_writes_every_headline_figure_as_a_ratio_with_its_verdict(
        tmp_path: Path, log_guard) -> None:  # type: ignore[no-untyped-def]
    assert main(["--smoke", "--out", str(tmp_path / "results.json")]) == 0
    rows = json.loads((tmp_path / "results.json").read_text())
    assert all(list(r) == FIELDS for r in rows)
    for head in HEADLINES:
        [row] = [r for r in rows if r["name"].startswith(head)]
        assert row["target"] and isinstance(row["met"], bool), row
        assert isinstance(row["value"], (int, float)) and row["value"] >= 0, row
        if head != "P6 pacing errors":   # a count, no baseline
            assert row["baseline"] > 0, row
            assert abs(row["ratio"] - row["value"] / row["baseline"]) <= 0.01 * row["ratio"] + 0.002, row
    pacing = next(r for r in rows if r["name"].startswith("P6 pacing errors"))
    assert pacing["value"] == 0 and pacing["met"] is True     # the pacer kept the gateway's limit
    assert (tmp_path / "p1-latency.png").stat().st_size > 0 and (tmp_path / "scaling.png").stat().st_size > 0
