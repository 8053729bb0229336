"""Plan-file intake: new plans from the plan files become stored ``pending`` plans.

A plan id runs once: a known id is never loaded again, and a file that changes a known plan is
reported (once per change), never applied. The files are fingerprinted (names and the bytes a
scan reads): a scan of unchanged files is skipped, also across restarts (the fingerprint of the
last complete scan is kept in state.db).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import logging
import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from machines import SESSION_FIELDS, NotifyKind, Plan, PlanSpec
from machines.rules import window_over

from ..clock import Clock
from ..planfile import Problem, Scan, by_file, file_report, scan
from ..plansessions import Resolution
from ..sessions.resolve import Skipped
from ..store import Store
from ..store.codec import jsonable
from ..tomlread import MAX_BYTES
from .notices import Notices

log = logging.getLogger(__name__)
Loader = Callable[[list[Path]], Scan]
Resolve = Callable[[PlanSpec, datetime], Resolution | Skipped | list[tuple[str, str]]]
SCAN_KEY = "plan_files_fingerprint"


def spec_hash(spec: PlanSpec) -> str:
    """A digest of the plan as its file gives it (before its session fields are resolved). The
    session fields count only when given, so a plan that does not use them keeps the hash it had
    before they existed."""
    data = jsonable(spec)
    for name, default in SESSION_FIELDS.items():
        if data.get(name, default) == default:
            data.pop(name, None)
    return hashlib.sha256(json.dumps(data, separators=(",", ":"), sort_keys=True).encode()).hexdigest()[:16]


def files_fingerprint(paths: list[Any]) -> bytes | None:
    """A digest of the plan files' names and of the bytes a scan reads from each (None if one
    cannot be read): a scan of files with the same fingerprint finds exactly the same."""
    digest = hashlib.blake2b()
    for path in paths:
        try:
            with open(path, "rb") as fh:
                data = fh.read(MAX_BYTES + 1)  # what tomlread.read_toml reads
        except (OSError, ValueError):
            return None
        name = os.fsencode(path)
        digest.update(len(name).to_bytes(8, "big") + name + len(data).to_bytes(8, "big"))
        digest.update(data)
    return digest.digest()


def changed_message(stored: PlanSpec | None, new: PlanSpec) -> str:
    """What changed in a running plan's file, and what the trader can do instead."""
    # the instants the engine resolved from session fields are not what the file says: not changes
    resolved = {"flatten_due"} | ({"start_at"} if new.start else set()) | ({"expire_at"} if new.expire else set())
    pairs = [(f.name, getattr(stored, f.name), getattr(new, f.name)) for f in dataclasses.fields(new)
             if f.name not in resolved] if stored else []
    changes = [f"{name} {_shown(old)} → {_shown(now)}" for name, old, now in pairs if old != now]
    what = f" ({', '.join(changes)})" if changes else ""
    return (f"plan {new.id} changed on disk{what}; the stored plan is kept: a plan id runs once, with the values it "
            f"was loaded with. To trade the new values, cancel it (orchestrator cancel {new.id}) and give the "
            "changed plan a new id")


def _shown(value: Any) -> str:
    if value is None:
        return "none"
    return value.isoformat() if isinstance(value, datetime) else str(value)


class Intake:
    """``rescan()`` reads the plan files and hands each new plan to ``adopt``."""

    def __init__(self, plan_files: Callable[[], list[Path]], store: Store, clock: Clock, notices: Notices,
                 adopt: Callable[[Plan], None], load: Loader | None = None, resolve: Resolve | None = None) -> None:
        self.plan_files = plan_files
        # the store names the file each running plan came from: a file reusing its id is at fault, not that one
        self.load: Loader = load or functools.partial(scan, running=store.plan_source)
        self.store = store
        self.clock = clock
        self.notices = notices
        self.adopt = adopt
        self.resolve = resolve
        self.scanned: bytes | None = None  # files_fingerprint of the last complete plan-file scan
        self.ignored: set[str] = set()  # plan ids whose history at IB the trader chose to leave alone
        self._waiting = False  # a plan was skipped: scan again even if the files stay the same

    def restore(self) -> None:
        """Take the fingerprint of the last complete scan from state.db (unchanged files need no parse)."""
        stored = self.store.get_meta(SCAN_KEY)
        self.scanned = bytes.fromhex(stored) if stored else None

    def rescan(self) -> None:
        paths = self.plan_files()
        fingerprint = files_fingerprint(paths)
        if fingerprint is not None and fingerprint == self.scanned:
            # The same files with the same bytes as the last complete scan: it would find the same
            # plans (all stored by then) and the same problems (all reported), so nothing to do.
            # Parsing is ~75 µs per plan, and the scan runs every rescan_seconds in the consumer.
            return
        found = self.load(paths)
        now = self.clock.now()
        stored_hashes = {spec.id: self.store.plan_exists(spec.id) for spec in found.specs}
        # a new plan whose window is already over is a problem of its file (plans already
        # stored are running or done: the passing of their window is theirs to handle)
        late = [Problem(found.sources.get(s.id, "?"), s.id, "expire_at", over) for s in found.specs
                if stored_hashes[s.id] is None and (over := window_over(s.expire_at, now)) is not None]
        resolved = self._resolve([s for s in found.specs if stored_hashes[s.id] is None], found, now, late)
        late_files = {p.file for p in late}
        problems = found.problems + late
        for file, theirs in by_file(problems).items():  # one message per file, once until it (or its problems) change
            own = files_fingerprint([file])
            message = file_report(file, theirs)
            said = hashlib.sha256(message.encode()).hexdigest()[:16]
            self.notices.report_once(f"planfile:{own.hex() if own is not None else 'unreadable'}:{said}",
                                     NotifyKind.PLAN_FILE_INVALID, {"message": message})
        for spec in found.specs:
            if found.sources.get(spec.id) in late_files:
                continue  # the whole file waits until it is fixed
            h = spec_hash(spec)
            stored = stored_hashes[spec.id]
            if stored is None and spec.id in self.ignored:
                self.notices.report_once(f"ignored:{spec.id}", NotifyKind.PLAN_CONFLICT, {"message": (
                    f"plan {spec.id} is not run: IB holds history of that id that was left alone at start "
                    "(--ignore-existing); give the plan a new id")}, plan_id=spec.id)
            elif stored is None:
                if spec.id not in resolved:
                    continue  # skipped: no session for it (said once)
                plan = self.store.insert_plan(resolved[spec.id], at=now, spec_hash=h,
                                              source_file=found.sources.get(spec.id))
                log.info("plan %s loaded", spec.id)
                self.adopt(plan)
            elif stored != h:
                self.notices.report_once(f"conflict:{spec.id}:{h}", NotifyKind.PLAN_CONFLICT, {
                    "message": changed_message(self.store.load_spec(spec.id), spec)}, plan_id=spec.id)
        if fingerprint is not None and fingerprint != self.scanned and not self._waiting:
            self.store.set_meta(SCAN_KEY, fingerprint.hex())  # a restart need not parse them again
        self.scanned = None if self._waiting else fingerprint

    def _resolve(self, new: list[PlanSpec], found: Scan, now: datetime, late: list[Problem]) -> dict[str, PlanSpec]:
        """The new plans as they are stored: session fields resolved to UTC instants (a time outside
        the session or an expiry not after the start is a problem of the file, added to ``late``);
        a plan with no session to trade (a holiday under ``skip``, a time already past) is not
        loaded, and said so once. Skipped plans are looked at again at every scan (a ``today``
        plan may find its session on another day)."""
        out: dict[str, PlanSpec] = {}
        self._waiting = False
        for spec in new:
            result = self.resolve(spec, now) if self.resolve is not None and spec.uses_sessions else spec
            if isinstance(result, PlanSpec):
                out[spec.id] = result
            elif isinstance(result, list):
                late.extend(Problem(found.sources.get(spec.id, "?"), spec.id, f, m) for f, m in result)
            elif isinstance(result, Resolution):
                out[spec.id] = result.spec
            else:
                self._waiting = True
                self.notices.report_once(f"skipped:{spec.id}:{result.message}", NotifyKind.PLAN_SKIPPED, {
                    "message": f"plan {spec.id} is not loaded: {result.message}"}, plan_id=spec.id)
        return out
