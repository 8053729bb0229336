"""Plan files: read, validate and convert trade plans.

A plan file is TOML with one or more ``[[plans]]`` tables (design.md §6). Checking happens in
three layers, and every failure becomes a :class:`Problem`, never an exception:

1. the file: readable, at most 1 MiB, UTF-8, valid TOML, a ``plans`` array of tables and no
   other top-level key;
2. each plan's shape (the models of :mod:`.plantable`, the value types of :mod:`.planfields`):
   required keys present, no unknown keys, right types, well-formed id, symbol, times and
   contract keys (``[plans.trail]`` needs both ``trigger_r`` and ``distance``);
3. each plan's contract (:mod:`.plancontract`: the keys that go together) and trading logic
   (:func:`machines.validate_plan_fields`: sides, prices on the right side of the entry, a US
   stock's tick, time order, trail figures).

Then plan ids must be unique within a file and across all files of one check (a plan id is
the key of every order: ``orderRef = "<id>:<leg>"``). Every occurrence of a duplicated id is
reported and none of them is loaded. Prices off a tick known offline for a future (ES, MES) are
*warnings* (``Scan.warnings``): the plan loads.

Problem lines (design.md §6) are ``FILE: plan ID: field: message``, where ``ID`` is ``-`` for
a problem with the file itself and ``#N`` (the plan's 1-based position in the file) for a plan
without a usable id, and ``field`` is ``-`` when no single key is at fault. Examples::

    plans/a.toml: plan AAPL-1: stop_loss: a long plan's stop 181 must be below its entry 180.5
    plans/a.toml: plan #2: id: is required
    plans/b.toml: plan -: -: TOML syntax error at line 3, column 9: invalid value
    plans/c.toml: plan -: plans: missing: a plan file needs at least one [[plans]] table
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_core import PydanticCustomError

from machines import PlanSpec, validate_plan_fields

from .errors import OrchestratorError
from .planfields import ID_RE, PLAN_ID_PATTERN, SYMBOL_PATTERN, _number, _timestamp
from .plantable import PlanTable, TrailTable
from .tomlread import TomlReadError, describe_errors, read_toml, toml_type

__all__ = [
    "PLAN_ID_PATTERN", "PlanFileError", "PlanTable", "Problem", "SYMBOL_PATTERN", "Scan", "TrailTable",
    "by_file", "check_files", "file_report", "load_plan_files", "load_plans", "scan",
]

_MAX_MESSAGE = 300
_MAX_FIELD = 80


# --------------------------------------------------------------------------- problems

class PlanFileError(OrchestratorError):
    """One or more plan files are invalid; ``problems`` lists every problem found."""

    exit_code = 2

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems: list[Problem] = list(problems)
        super().__init__("\n".join(p.format() for p in self.problems) or "invalid plan file")


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a plan file. ``plan_id``: the id, ``#N``, or ``-`` (whole file)."""

    file: str
    plan_id: str
    field: str
    message: str

    def format(self) -> str:
        """``FILE: plan ID: field: message`` on one line (control characters escaped)."""
        message = self.message if len(self.message) <= _MAX_MESSAGE else self.message[:_MAX_MESSAGE - 3] + "..."
        field = self.field if len(self.field) <= _MAX_FIELD else self.field[:_MAX_FIELD - 3] + "..."
        return _one_line(f"{self.file}: plan {self.plan_id}: {field}: {message}")


def _one_line(text: str) -> str:
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


# --------------------------------------------------------------------------- one file

@dataclass(slots=True)
class _Entry:
    """One ``[[plans]]`` table of a file: its position, usable id and spec (None if invalid)."""

    index: int
    plan_id: str | None
    spec: PlanSpec | None
    warnings: list[Problem] = field(default_factory=list)


def _check_plan(label: str, index: int, raw: Any, now: datetime | None) -> tuple[_Entry, list[Problem]]:
    raw_id = raw.get("id") if isinstance(raw, dict) else None
    plan_id = raw_id if isinstance(raw_id, str) and ID_RE.fullmatch(raw_id) else None
    name = plan_id or f"#{index}"
    entry = _Entry(index, plan_id, None)
    if not isinstance(raw, dict):
        return entry, [Problem(label, name, "-", f"must be a table under [[plans]] (got {toml_type(raw)})")]
    try:
        table = PlanTable.model_validate(raw)
    except ValidationError as exc:
        shape = describe_errors(exc, PlanTable)
        logic = _logic_of_the_rest(raw, {field.split(".")[0] for field, _ in shape}, now)
        return entry, [Problem(label, name, field, message) for field, message in shape + logic]
    try:
        logic = table.logic_problems(now)
    except ArithmeticError as exc:  # the pure core should not raise; never let it crash a check
        logic = [("-", f"cannot check the prices ({type(exc).__name__})")]
    if logic:
        return entry, [Problem(label, name, field, message) for field, message in logic]
    entry.warnings = [Problem(label, name, field, message) for field, message in table.tick_warnings()]
    entry.spec = table.to_spec()
    return entry, []


def _valid(check: Any, raw: dict[str, Any], key: str, failed: set[str], placeholder: Any) -> Any:
    if key in failed or key not in raw:
        return placeholder
    try:
        return check(raw[key])
    except PydanticCustomError:
        return placeholder


def _logic_of_the_rest(raw: dict[str, Any], failed: set[str], now: datetime | None) -> list[tuple[str, str]]:
    """The trading-logic problems among the fields whose shape is right, so a trader sees them in
    the same check as the shape errors (``side = "Long"`` beside ``entry_price = "180"``). A field
    that failed its shape check stands in as unknown: no logic problem is reported about it."""
    nan = Decimal("NaN")   # an unknown price: the core skips every comparison with it
    given = raw.get("trail")
    trail: dict[str, Any] = given if isinstance(given, dict) and "trail" not in failed else {}
    try:
        logic = validate_plan_fields(
            side=_valid(str, raw, "side", failed, ""), entry_type=_valid(str, raw, "entry", failed, ""),
            risk=_valid(str, raw, "risk", failed, ""),
            entry_price=_valid(_number, raw, "entry_price", failed, nan),
            stop_loss=_valid(_number, raw, "stop_loss", failed, nan),
            take_profit=_valid(_number, raw, "take_profit", failed, nan),
            start_at=_valid(_timestamp, raw, "start_at", failed, None),
            expire_at=_valid(_timestamp, raw, "expire_at", failed, None),
            trail_trigger_r=_valid(_number, trail, "trigger_r", set(), None),
            trail_distance=_valid(_number, trail, "distance", set(), None), at=now)
    except ArithmeticError:
        return []
    missing = {key for key in ("side", "entry", "risk", "entry_price", "stop_loss", "take_profit") if key not in raw}
    return [(field, message) for field, message in logic if field.split(".")[0] not in failed | missing]


def _check_file(label: str, path: Path, now: datetime | None) -> tuple[list[_Entry], list[tuple[int, Problem]]]:
    """The file's plans and its problems, each tagged with its plan's position (0: the file)."""
    try:
        doc = read_toml(path)
    except TomlReadError as exc:
        return [], [(0, Problem(label, "-", "-", exc.message))]
    problems = [Problem(label, "-", str(key), "unknown top-level key (a plan file holds only [[plans]] tables)")
                for key in doc if key != "plans"]
    plans = doc.get("plans")
    if plans is None:
        problems.append(Problem(label, "-", "plans", "missing: a plan file needs at least one [[plans]] table"))
    elif isinstance(plans, dict):
        problems.append(Problem(label, "-", "plans", "must be an array of tables: write [[plans]], not [plans]"))
    elif not isinstance(plans, list):
        problems.append(Problem(label, "-", "plans", f"must be an array of [[plans]] tables (got {toml_type(plans)})"))
    elif not plans:
        problems.append(Problem(label, "-", "plans", "is empty: a plan file needs at least one [[plans]] table"))
    tagged = [(0, problem) for problem in problems]
    entries = []
    for index, raw in enumerate(plans if isinstance(plans, list) else [], start=1):
        entry, found = _check_plan(label, index, raw, now)
        entries.append(entry)
        tagged.extend((index, problem) for problem in found)
    return entries, tagged


# --------------------------------------------------------------------------- many files

@dataclass(frozen=True, slots=True)
class Scan:
    """What a check of plan files found: the plans of every valid file, every problem (file
    order), how many distinct files were read, which file each plan came from, and the warnings
    (prices off a tick known offline: the plan is valid, but IB would refuse those prices as
    written)."""

    specs: list[PlanSpec]
    problems: list[Problem]
    files: int
    sources: dict[str, str] = field(default_factory=dict)
    warnings: list[Problem] = field(default_factory=list)


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.realpath(a) == os.path.realpath(b)
    except (OSError, ValueError):
        return a == b


def scan(paths: Iterable[str | os.PathLike[str]], *, now: datetime | None = None,
         running: Callable[[str], str | None] | None = None) -> Scan:
    """Check every file (never raises). A file with any problem gives no plan at all: a trader
    fixing it must not find half of it already trading. With ``now``, plans whose window is
    already over are problems too.

    ``running`` (the daemon's store) names the file a stored plan id was loaded from: when that
    file and another share the id, the plan's own file is not at fault, only the other one."""
    if isinstance(paths, (str, os.PathLike)):  # one path given bare, not a list of characters
        paths = [paths]
    seen: set[str] = set()
    checked: list[tuple[str, list[_Entry], list[tuple[int, Problem]]]] = []
    for path in paths:
        label = os.fspath(path)
        try:
            key = os.path.realpath(label)
        except (OSError, ValueError):
            key = label
        if key in seen:  # the same file named twice (overlapping globs) is checked once
            continue
        seen.add(key)
        entries, problems = _check_file(label, Path(label), now)
        checked.append((label, entries, problems))

    where: dict[str, list[tuple[str, int]]] = {}
    for label, entries, _ in checked:
        for entry in entries:
            if entry.plan_id is not None:
                where.setdefault(entry.plan_id, []).append((label, entry.index))
    duplicated = {plan_id: places for plan_id, places in where.items() if len(places) > 1}

    specs: list[PlanSpec] = []
    sources: dict[str, str] = {}
    all_problems: list[Problem] = []
    warnings = [w for _, entries, _ in checked for entry in entries for w in entry.warnings]
    owners = {plan_id: found for plan_id in duplicated
              if running is not None and (found := running(plan_id)) is not None}
    for label, entries, problems in checked:
        file_problems = list(problems)
        valid: list[PlanSpec] = []
        for entry in entries:
            owner = owners.get(entry.plan_id or "")
            if entry.plan_id in duplicated and owner is not None and _same_file(owner, label) and \
                    sum(_same_file(owner, other) for other, _ in duplicated[entry.plan_id]) == 1:
                if entry.spec is not None:
                    valid.append(entry.spec)   # the running plan's own file: the other file reused its id
            elif entry.plan_id in duplicated and owner is not None and not _same_file(owner, label):
                file_problems.append((entry.index, Problem(
                    label, entry.plan_id, "id", f"plan {entry.plan_id} already runs from {owner} (a plan id runs "
                                                "once): give this plan a new id")))
            elif entry.plan_id in duplicated:
                others = [f"plan #{i} of this file" if other == label else f"{other} (plan #{i})"
                          for other, i in duplicated[entry.plan_id] if (other, i) != (label, entry.index)]
                file_problems.append((entry.index, Problem(
                    label, entry.plan_id, "id", f"duplicate plan id, also used by {', '.join(others)}")))
            elif entry.spec is not None:
                valid.append(entry.spec)
        if not file_problems:  # all or nothing per file
            specs.extend(valid)
            sources.update((spec.id, label) for spec in valid)
        file_problems.sort(key=lambda item: item[0])  # stable: each plan's lines stay together, in order
        all_problems.extend(problem for _, problem in file_problems)
    return Scan(specs, all_problems, len(checked), sources, warnings)


def load_plan_files(paths: Iterable[str | os.PathLike[str]]) -> tuple[list[PlanSpec], list[Problem]]:
    """Read and check plan files.

    Returns:
        The plans of every file without a problem, and every problem found (in file order). A
        caller that wants all-or-nothing over every file uses :func:`load_plans`.
    """
    found = scan(paths)
    return found.specs, found.problems


def check_files(paths: Iterable[str | os.PathLike[str]]) -> list[Problem]:
    """Every problem in the given plan files; empty means they are all valid. Never raises."""
    return load_plan_files(paths)[1]


def load_plans(paths: Iterable[str | os.PathLike[str]]) -> list[PlanSpec]:
    """All plans of the given files, only if every file is valid.

    Raises:
        PlanFileError: any problem at all; ``.problems`` lists them.
    """
    specs, problems = load_plan_files(paths)
    if problems:
        raise PlanFileError(problems)
    return specs


MAX_LISTED = 20  # problems a file's message lists; the rest are counted (``plans check`` shows them all)


def file_report(file: str, problems: Sequence[Problem]) -> str:
    """One message for one bad file: what it means, then its problems one a line."""
    n = len(problems)
    head = (f"{file}: {n} problem{'' if n == 1 else 's'}; none of its new plans is loaded until it is fixed "
            "(plans already running are not affected)")
    lines = []
    for problem in problems[:MAX_LISTED]:
        line = problem.format()
        lines.append(line[len(file) + 2:] if line.startswith(f"{file}: ") else line)
    if n > MAX_LISTED:
        lines.append(f"… and {n - MAX_LISTED} more: orchestrator plans check {file}")
    return "\n".join([head, *lines])


def by_file(problems: Iterable[Problem]) -> dict[str, list[Problem]]:
    """The problems grouped by file, in the order the files first appear."""
    out: dict[str, list[Problem]] = {}
    for problem in problems:
        out.setdefault(problem.file, []).append(problem)
    return out
