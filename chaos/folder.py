"""An episode's folder and what the harness reads and runs on it: its files (config, state.db,
the gateway's journal), the plans in state.db (read-only), and the orchestrator's CLI on it
(a mixin of ``world.World``)."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from . import invariants as inv
from .procs import run_cli
from .tally import Tally

ENDED = ("closed", "cancelled", "rejected")
_CANCEL_ENDED = re.compile(r"plan (\S+) is (\w+)\b.*; nothing to cancel")


class Folder:
    dir: Path
    tally: Tally
    cli_outputs: dict[str, str]

    def violate(self, invariant: str, plan: str | None, detail: str) -> None:
        raise NotImplementedError

    @property
    def config(self) -> Path:
        return self.dir / "config.toml"

    @property
    def db_path(self) -> Path:
        return self.dir / "state.db"

    @property
    def journal_path(self) -> Path:
        return self.dir / "sim-journal.jsonl"

    # ------------------------------------------------------------------ state.db and the CLI
    def plans_now(self) -> dict[str, sqlite3.Row]:
        if not self.db_path.exists():
            return {}
        try:
            return inv.Db.read(self.db_path).plans
        except sqlite3.Error:
            return {}

    def live_plans(self) -> dict[str, sqlite3.Row]:
        return {p: r for p, r in self.plans_now().items() if r["state"] not in ENDED}

    async def cli(self, name: str, *args: str) -> tuple[int, str, str]:
        rc, out, err = await run_cli(*args, "--config", str(self.config), cwd=self.dir, logdir=self.dir,
                                     name=name.replace(" ", "-"))
        self.cli_outputs[name] = out + err
        return rc, out, err

    async def cancel_plan(self, plan_id: str) -> None:
        rc, _out, err = await self.cli(f"cancel {plan_id}", "cancel", plan_id)
        self.tally.cancels += 1
        said = _CANCEL_ENDED.search(err) if rc == 2 else None   # refused: the plan, picked live, ended meanwhile
        row = self.plans_now().get(plan_id) if said else None
        if said and row is not None and said.groups() == (plan_id, row["state"]) and row["state"] in ENDED:
            self.tally.notes["cancels refused because the plan had ended meanwhile"] += 1
        elif rc != 0:
            self.violate("orchestrator_healthy", plan_id, f"orchestrator cancel exited {rc}: {err.strip()}")
