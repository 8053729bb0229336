"""Plan files: read, validate and convert trade plans.

A plan file is TOML with one or more ``[[plans]]`` tables (design.md §6). Checking happens in
three layers, and every failure becomes a :class:`Problem`, never an exception:

1. the file: readable, at most 1 MiB, UTF-8, valid TOML, a ``plans`` array of tables and no
   other top-level key;
2. each plan's shape (pydantic models below): required keys present, no unknown keys, right
   types, well-formed id, symbol and times;
3. each plan's trading logic: :func:`machines.validate_plan_fields` (sides, prices on the right
   side of the entry, tick size, time order, trail figures).

Then plan ids must be unique within a file and across all files of one check (a plan id is
the key of every order: ``orderRef = "<id>:<leg>"``). Every occurrence of a duplicated id is
reported and none of them is loaded.

Decisions:

* Prices and trail figures must be TOML numbers (``180.5`` or ``180``). Quoted numbers
  (``"180.50"``), booleans, ``nan`` and ``inf`` are refused, and so is anything beyond ±1e9.
  Floats are read exactly as Decimal, so ``180.10`` is ``Decimal("180.10")``.
* ``start_at``/``expire_at`` are TOML offset date-times or RFC 3339 strings with an offset
  (``Z`` or ``±HH:MM``). A time without an offset (TOML local date-time, or a string without
  offset) is refused: exchange time must be explicit. Times are converted to UTC.
* ``[plans.trail]`` needs both ``trigger_r`` and ``distance``.
* Symbols: 1-12 characters of ``A-Z``, ``0-9`` and ``.``, starting with a letter (as the
  simulated gateway's price file).

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
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, PlainValidator, ValidationError
from pydantic_core import PydanticCustomError

from machines import EntryType, PlanSpec, RiskCategory, Side, validate_plan_fields

from .errors import OrchestratorError
from .tomlread import TomlReadError, custom_error, describe_errors, read_toml, toml_type

__all__ = [
    "PLAN_ID_PATTERN", "PlanFileError", "PlanTable", "Problem", "SYMBOL_PATTERN", "Scan", "TrailTable",
    "by_file", "check_files", "file_report", "load_plan_files", "load_plans", "scan",
]

PLAN_ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}"
SYMBOL_PATTERN = r"[A-Z][A-Z0-9.]{0,11}"
MAX_NUMBER = Decimal(1_000_000_000)
EXAMPLE_TIME = "2026-11-27T09:35:00-05:00"
_MAX_MESSAGE = 300
_MAX_FIELD = 80
_ID_RE = re.compile(PLAN_ID_PATTERN)
_SYMBOL_RE = re.compile(SYMBOL_PATTERN)
_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})?")


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


def _clip(value: str, limit: int = 40) -> str:
    return repr(value if len(value) <= limit else value[:limit] + "...")


def _show(value: Decimal | int) -> str:
    text = str(value)
    return text if len(text) <= 20 else f"{Decimal(value):.6g}"


# --------------------------------------------------------------------------- field types

def _plan_id(value: Any) -> str:
    if not isinstance(value, str):
        raise custom_error(f"must be a string (got {toml_type(value)})")
    if not _ID_RE.fullmatch(value):
        raise custom_error(
            "must be 1-64 characters of letters, digits, '.', '_' or '-', starting with a letter "
            f"or digit (got {_clip(value)})")
    return value


def _symbol(value: Any) -> str:
    if not isinstance(value, str):
        raise custom_error(f"must be a string (got {toml_type(value)})")
    if not _SYMBOL_RE.fullmatch(value):
        raise custom_error(
            f"must be 1-12 characters of A-Z, 0-9 or '.', starting with a letter, e.g. AAPL (got {_clip(value)})")
    return value


def _choice(choices: type[Side] | type[EntryType] | type[RiskCategory]) -> PlainValidator:
    """A string field whose allowed values :func:`machines.validate_plan_fields` checks."""
    names = ", ".join(member.value for member in choices)

    def check(value: Any) -> str:
        if not isinstance(value, str):
            raise custom_error(f"must be one of {names} (got {toml_type(value)})")
        return value
    return PlainValidator(check)


def _number(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise custom_error(f"must be a number, not {str(value).lower()}")
    if isinstance(value, str):
        raise custom_error("must be a number, not a string: write it without quotes, e.g. 180.50")
    if isinstance(value, float):
        value = Decimal(repr(value))
    if isinstance(value, Decimal):
        if value.is_nan():
            raise custom_error("must be a number (got nan)")
        if value.is_infinite():
            raise custom_error(f"must be a finite number (got {'-' if value < 0 else ''}inf)")
    elif not isinstance(value, int):
        raise custom_error(f"must be a number (got {toml_type(value)})")
    if abs(value) > MAX_NUMBER:
        raise custom_error(f"is out of range (got {_show(value)}; at most {MAX_NUMBER} either way)")
    return Decimal(value)


def _timestamp(value: Any) -> datetime:
    if isinstance(value, str):
        value = _parse_rfc3339(value)
    elif not isinstance(value, datetime):
        got = "a date without a time" if isinstance(value, date) else (
            "a time without a date" if isinstance(value, time) else f"a {toml_type(value)}")
        raise custom_error(f"must be a date and time with a UTC offset, e.g. {EXAMPLE_TIME} (got {got})")
    if value.tzinfo is None or value.utcoffset() is None:
        raise custom_error(
            f"has no UTC offset; write the exchange time with its offset, e.g. {EXAMPLE_TIME}")
    try:
        converted: datetime = value.astimezone(UTC)
        return converted
    except (OverflowError, ValueError):
        raise custom_error("is out of range") from None


def _parse_rfc3339(text: str) -> datetime:
    match = _RFC3339.fullmatch(text)
    if match is None:
        raise custom_error(
            f"must be a date and time with a UTC offset, e.g. {EXAMPLE_TIME} (got {_clip(text)})")
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    fraction, offset = match.group(7), match.group(8)
    micro = int(fraction[:6].ljust(6, "0")) if fraction else 0
    tz: timezone | None = None
    if offset is not None:
        if offset in {"Z", "z"}:
            tz = UTC
        else:
            hours, minutes = int(offset[1:3]), int(offset[4:6])
            if hours > 23 or minutes > 59:
                raise custom_error(f"has an invalid UTC offset {offset!r}")
            sign = -1 if offset[0] == "-" else 1
            tz = timezone(sign * timedelta(hours=hours, minutes=minutes))
    try:
        return datetime(year, month, day, hour, minute, second, micro, tzinfo=tz)
    except ValueError as exc:
        raise custom_error(f"is not a valid date and time ({exc})") from None


PlanNumber = Annotated[Decimal, PlainValidator(_number)]
Timestamp = Annotated[datetime, PlainValidator(_timestamp)]


class _Table(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TrailTable(_Table):
    """``[plans.trail]``: trail once price moved ``trigger_r`` × R in favour, ``distance`` behind."""

    trigger_r: PlanNumber
    distance: PlanNumber


class PlanTable(_Table):
    """One ``[[plans]]`` table, shape-checked (trading logic is checked by the pure core)."""

    id: Annotated[str, PlainValidator(_plan_id)]
    symbol: Annotated[str, PlainValidator(_symbol)]
    side: Annotated[str, _choice(Side)]
    entry: Annotated[str, _choice(EntryType)]
    entry_price: PlanNumber
    stop_loss: PlanNumber
    take_profit: PlanNumber
    risk: Annotated[str, _choice(RiskCategory)]
    start_at: Timestamp | None = None
    expire_at: Timestamp | None = None
    trail: TrailTable | None = None

    def logic_problems(self, now: datetime | None = None) -> list[tuple[str, str]]:
        """The pure core's trading-logic checks, as (field, message) pairs (with ``now``: against time too)."""
        trail = self.trail
        return validate_plan_fields(
            side=self.side, entry_type=self.entry, entry_price=self.entry_price, stop_loss=self.stop_loss,
            take_profit=self.take_profit, risk=self.risk, start_at=self.start_at, expire_at=self.expire_at,
            trail_trigger_r=trail.trigger_r if trail else None, trail_distance=trail.distance if trail else None,
            at=now)

    def to_spec(self) -> PlanSpec:
        """The validated plan for the machine (call only when :meth:`logic_problems` is empty)."""
        trail = self.trail
        return PlanSpec(
            id=self.id, symbol=self.symbol, side=Side(self.side), entry_type=EntryType(self.entry),
            entry_price=self.entry_price, stop_loss=self.stop_loss, take_profit=self.take_profit,
            risk=RiskCategory(self.risk), start_at=self.start_at, expire_at=self.expire_at,
            trail_trigger_r=trail.trigger_r if trail else None, trail_distance=trail.distance if trail else None)


# --------------------------------------------------------------------------- one file

@dataclass(slots=True)
class _Entry:
    """One ``[[plans]]`` table of a file: its position, usable id and spec (None if invalid)."""

    index: int
    plan_id: str | None
    spec: PlanSpec | None


def _check_plan(label: str, index: int, raw: Any, now: datetime | None) -> tuple[_Entry, list[Problem]]:
    raw_id = raw.get("id") if isinstance(raw, dict) else None
    plan_id = raw_id if isinstance(raw_id, str) and _ID_RE.fullmatch(raw_id) else None
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
    order), how many distinct files were read, and which file each plan came from."""

    specs: list[PlanSpec]
    problems: list[Problem]
    files: int
    sources: dict[str, str] = field(default_factory=dict)


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
    return Scan(specs, all_problems, len(checked), sources)


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
