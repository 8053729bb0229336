"""config.toml: typed, frozen, strict settings, and the one function that reads them.

:func:`load_config` is the only reader of config.toml and of the environment variables below.
Every section and key is optional; the defaults are those of design.md §6. Unknown sections and
keys are errors (a typo must not silently fall back to a default).

Where the file comes from, first match wins:

1. the ``path`` argument (``--config PATH``); a missing file is an error;
2. env ``ORCHESTRATOR_CONFIG`` (if not empty); a missing file is an error;
3. ``./config.toml``; if it does not exist, every setting takes its default.

Env ``ORCHESTRATOR_DISCORD_WEBHOOK_URL``, when set and not empty, replaces ``discord.webhook_url``.

Relative paths (``sim.prices``, ``sim.journal``, ``plans.files`` patterns, the SQLite file of
``store.url``) are resolved against the directory of the config file (``Config.base_dir``; the
current directory when there is no file), so the orchestrator behaves the same from any cwd.

Errors are :class:`~orchestrator.errors.ConfigError`, one line per problem:
``config.toml: risk.normal_pct: must be greater than 0``. The webhook URL is a secret: it is a
``SecretStr`` (hidden in ``repr``), it is never echoed in an error, and :func:`redact_url` gives
a form that is safe to log.
"""

from __future__ import annotations

import glob
import math
import os
import re
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    model_validator,
)

from machines import RiskLimits

from .configpath import DEFAULT_CONFIG, DEFAULT_STORE_URL, ENV_CONFIG, RETENTION_DAYS, locate, resolve_sqlite_url
from .errors import ConfigError
from .store.url import MEMORY, sqlite_path
from .tomlread import TomlReadError, custom_error, describe_errors, read_toml, toml_type

__all__ = [
    "BrokerConfig", "Config", "ConsoleConfig", "DEFAULT_CONFIG", "DiscordConfig", "ENV_CONFIG", "ENV_WEBHOOK",
    "PlansConfig", "RiskConfig", "SimConfig", "StoreConfig", "TrailingConfig", "load_config", "redact_url",
]

ENV_WEBHOOK = "ORCHESTRATOR_DISCORD_WEBHOOK_URL"
_NOT_FROM_FILE = ("base_dir", "source")  # Config fields the file itself may not set
_API_VERSION = re.compile(r"v[0-9]{1,3}")


# --------------------------------------------------------------------------- field types

def _base_dir(info: ValidationInfo) -> Path:
    base = (info.context or {}).get("base_dir")
    return Path(base) if base is not None else Path.cwd()


def _to_decimal(value: Any) -> Any:
    """Numbers (not booleans, not strings) to Decimal; anything else fails the strict check."""
    if isinstance(value, bool):
        raise custom_error("must be a number (got boolean)")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, Decimal):
        return value
    raise custom_error(f"must be a number (got {toml_type(value)})")


def _to_float(value: Any) -> Any:
    if isinstance(value, bool):
        raise custom_error("must be a number (got boolean)")
    if isinstance(value, (int, Decimal, float)):
        try:
            number = float(value)
        except OverflowError:
            raise custom_error("is far too large") from None
        if not math.isfinite(number):
            raise custom_error("must be a finite number (not nan or inf)")
        return number
    raise custom_error(f"must be a number (got {toml_type(value)})")


def _to_path(value: Any) -> Any:
    if isinstance(value, Path):
        return value
    if isinstance(value, str):
        if not value.strip():
            raise custom_error("must not be empty")
        if "\x00" in value:
            raise custom_error("must not contain NUL characters")
        return Path(value)
    raise custom_error(f"must be a path string (got {toml_type(value)})")


def _expand(path: Path) -> Path:
    try:
        return path.expanduser()
    except RuntimeError:  # ~user that does not exist, or no home directory
        raise custom_error("starts with ~ but that home directory is unknown") from None


def _resolve(path: Path, info: ValidationInfo) -> Path:
    path = _expand(path)
    return path if path.is_absolute() else _base_dir(info) / path


Number = Annotated[Decimal, BeforeValidator(_to_decimal)]
Percent = Annotated[Number, Field(gt=0, le=100, allow_inf_nan=False)]
Seconds = Annotated[float, BeforeValidator(_to_float), Field(gt=0, allow_inf_nan=False)]
ResolvedPath = Annotated[Path, BeforeValidator(_to_path), AfterValidator(_resolve)]


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


# --------------------------------------------------------------------------- sections

_PREFIX = re.compile(r"[A-Za-z0-9_-]{1,16}")


def _prefix(value: str) -> str:
    if value and not _PREFIX.fullmatch(value):
        raise custom_error("must be 1-16 letters, digits, '_' or '-' (or empty for no prefix)")
    return value


def _client_id(value: int) -> int:
    if value < 1:
        raise custom_error("must be at least 1: client 0 is TWS's own, whose orders placed by hand would count as ours")
    return value


class BrokerConfig(_Section):
    """Where IB lives. ``sim`` starts the embedded simulated gateway on ``host:port``.

    ``order_ref_prefix`` names this orchestrator's orders at IB (``<prefix>/<plan>:<leg>``); two
    orchestrators on one account need different prefixes. Empty: plain ``<plan>:<leg>``.
    """

    mode: Literal["sim", "paper", "live"] = "sim"
    host: Annotated[str, Field(min_length=1)] = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 4002
    client_id: Annotated[int, Field(le=2**31 - 1), AfterValidator(_client_id)] = 7
    order_ref_prefix: Annotated[str, AfterValidator(_prefix)] = ""
    connect_timeout_seconds: Seconds = 4.0
    """How long the first attempt waits for IB's start-up answers (open orders, executions,
    positions); each attempt that times out waits twice as long (up to 60 s)."""
    reconcile_seconds: Seconds = 5.0
    """How often IB's whole state (every client's open orders, the executions, the positions) is
    read again and every plan brought in line with it. IB's events are acted on at once between."""


def _datetime(value: Any) -> Any:
    if isinstance(value, str):
        raise custom_error("must be a TOML date-time, not a string: no quotes (2026-12-02T14:29:00Z)")
    return value


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise custom_error("must be a date-time with its UTC offset (2026-12-02T14:29:00Z)")
    return value


class SimConfig(_Section):
    """The simulated gateway: price path, speed, account size, order journal."""

    prices: ResolvedPath = Field(default=Path("examples/prices.csv"), validate_default=True)
    tick_seconds: Seconds = 0.25
    account_value: Annotated[Number, Field(gt=0, le=10**12, allow_inf_nan=False)] = Decimal(100000)
    journal: ResolvedPath = Field(default=Path("sim-journal.jsonl"), validate_default=True)
    partial_fill_max: Annotated[int, Field(gt=0)] | None = None
    """Optional: the gateway fills at most this many shares per execution (partial fills)."""
    clock: Annotated[datetime, BeforeValidator(_datetime), AfterValidator(_aware)] | None = None
    """The session clock: the simulated start time (a TOML date-time with its offset; unset: now)."""
    speed: Annotated[float, BeforeValidator(_to_float), Field(ge=0, le=100_000, allow_inf_nan=False)] = 1.0
    """Simulated seconds per real second."""
    calendar: Literal["XNYS"] | None = None
    """The exchange calendar whose regular hours the simulated market keeps (unset: never closes)."""


def _sqlite_url(url: str, info: ValidationInfo) -> str:
    try:
        return resolve_sqlite_url(url, _base_dir(info))
    except ValueError as exc:
        raise custom_error(str(exc)) from None


class StoreConfig(_Section):
    """The state database. Only ``sqlite:///FILE`` URLs; a relative FILE is resolved."""

    url: Annotated[str, AfterValidator(_sqlite_url)] = Field(default=DEFAULT_STORE_URL, validate_default=True)
    price_retention_days: Annotated[int, Field(ge=RETENTION_DAYS[0], le=RETENTION_DAYS[1])] = 30
    """How long the price series behind the console's charts is kept."""

    @property
    def path(self) -> Path | None:
        """The database file, or None for ``sqlite:///:memory:``."""
        file = sqlite_path(self.url)
        return None if str(file) == MEMORY else file


def _patterns(patterns: list[str], info: ValidationInfo) -> list[str]:
    out = []
    for i, pattern in enumerate(patterns):
        if not pattern.strip() or "\x00" in pattern:
            raise custom_error(f"pattern {i + 1} must be a non-empty path pattern")
        path = _expand(Path(pattern))
        out.append(str(path if path.is_absolute() else _base_dir(info) / path))
    return out


class PlansConfig(_Section):
    """Where plan files are: glob patterns (``*``, ``?``, ``[..]``, ``**``), rescanned periodically."""

    files: Annotated[list[str], AfterValidator(_patterns)] = Field(
        default_factory=lambda: ["plans/*.toml"], validate_default=True)
    rescan_seconds: Seconds = 5.0

    def paths(self) -> list[Path]:
        """The existing files the patterns match now: sorted, without duplicates."""
        found: set[str] = set()
        for pattern in self.files:
            found.update(_plan_files(pattern))
        return [Path(p) for p in sorted(found)]

    def unmatched(self) -> list[str]:
        """The patterns that match no file now (a typo in a folder name, a service started from
        the wrong folder): the daemon warns at start and ``status`` shows them."""
        return [pattern for pattern in self.files if not _plan_files(pattern)]


def _plan_files(pattern: str) -> list[str]:
    """The regular files one (absolute) ``plans.files`` pattern matches now."""
    return [p for p in glob.glob(pattern, recursive=True) if os.path.isfile(p)]


class RiskConfig(_Section):
    """Risk per plan category and the cap on total open risk, in percent of account value;
    how far (in R) the live price may be from a market entry's ``entry_price``."""

    small_pct: Percent = Decimal(1)
    normal_pct: Percent = Decimal(2)
    large_pct: Percent = Decimal(3)
    max_portfolio_risk_pct: Percent = Decimal(10)
    market_entry_tolerance_r: Annotated[Number, Field(ge=0, le=100, allow_inf_nan=False)] = Decimal("0.5")


class TrailingConfig(_Section):
    """How often the trailing job looks at prices; how long IB may take to confirm a moved stop
    before it is sent again, and how many times."""

    interval_seconds: Seconds = 5.0
    confirm_seconds: Seconds = 5.0
    max_attempts: Annotated[int, Field(ge=1, le=100)] = 5


class MarketDataConfig(_Section):
    """Which market data to ask IB for, and which prices decisions may use.

    ``auto`` asks for live data and falls back to delayed when IB says live is not subscribed
    (with a notification). A price older than ``max_age_seconds`` is not used for any decision;
    delayed prices are used for trailing and for sizing market entries only with
    ``trail_on_delayed``."""

    type: Literal["auto", "live", "delayed"] = "auto"
    max_age_seconds: Seconds = 60.0
    trail_on_delayed: bool = False


def _windows(tables: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
    if tables is None:
        return None
    from .sessions.windowconfig import read_window  # lazy: status need not load the sessions package
    problems = []
    for i, table in enumerate(tables):
        got = read_window(table, f"[{i}]")
        if isinstance(got, list):
            problems += [f"{field}: {message}" for field, message in got]
    if problems:
        raise custom_error("; ".join(problems))
    return tables


def _hhmm(text: str | None) -> str | None:
    if text is not None and not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", text):
        raise custom_error(f"must be a time HH:MM (got {text!r})")
    return text


class MaintenanceConfig(_Section):
    """IB's maintenance windows: no new entries are activated inside them, and a disconnect in one
    is expected (a notice, not an alarm). ``windows`` unset: IB's published North American daily
    reset and weekend windows for paper and live, none for the simulator; ``[]``: none.
    ``gateway_restart``: IB Gateway's daily auto-restart time (New York), a window around it."""

    windows: Annotated[list[dict[str, Any]] | None, AfterValidator(_windows)] = None
    gateway_restart: Annotated[str | None, AfterValidator(_hhmm)] = None


class SessionsConfig(_Section):
    """Exchange sessions (docs/sessions.md). ``market_hours``: a market entry waits for the open
    and trailing rests while the market is closed; unset: on for paper and live, off for the
    simulator (which trades around the clock unless it runs a session clock)."""

    market_hours: bool | None = None


class ClockConfig(_Section):
    """The engine's time: the machine's clock (``system``), or IB's ``reqCurrentTime`` (``broker``,
    polled: a simulator with its own clock then drives the whole orchestrator)."""

    source: Literal["system", "broker"] | None = None


def _webhook(secret: SecretStr) -> SecretStr:
    url = secret.get_secret_value()
    if not url:
        return secret
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        raise custom_error("is not a valid URL") from None
    local = host in {"localhost", "127.0.0.1", "::1"}
    if not host or not (parts.scheme == "https" or (parts.scheme == "http" and local)):
        raise custom_error("must be an https:// URL (Discord: Server Settings > Integrations > Webhooks)")
    if any(c.isspace() for c in url):
        raise custom_error("must not contain spaces")
    return secret


class DiscordConfig(_Section):
    """Discord webhook notifications. An empty URL means messages go to the console."""

    webhook_url: Annotated[SecretStr, AfterValidator(_webhook)] = SecretStr("")
    timeout_seconds: Seconds = 10.0

    @property
    def enabled(self) -> bool:
        return bool(self.webhook_url.get_secret_value())


class ConsoleConfig(_Section):
    """The operator console (``orchestrator console``): where it listens, and whether its
    controls (pause/resume, cancel, flatten) are on. Loopback and read-only by default."""

    controls: bool = False
    host: Annotated[str, Field(min_length=1)] = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 8765
    allowed_hosts: list[Annotated[str, Field(min_length=1)]] = Field(default_factory=list)
    """Extra ``Host`` header values to accept (e.g. ``trader-box:8765`` behind a name)."""


# --------------------------------------------------------------------------- the whole file

class Config(BaseModel):
    """All settings. Build it with :func:`load_config`.

    ``base_dir`` is the directory relative paths were resolved against; ``source`` the file read
    (None when running on defaults). Neither can be set from the file.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    broker: BrokerConfig = Field(default_factory=dict, validate_default=True)
    sim: SimConfig = Field(default_factory=dict, validate_default=True)
    store: StoreConfig = Field(default_factory=dict, validate_default=True)
    plans: PlansConfig = Field(default_factory=dict, validate_default=True)
    risk: RiskConfig = Field(default_factory=dict, validate_default=True)
    trailing: TrailingConfig = Field(default_factory=dict, validate_default=True)
    market_data: MarketDataConfig = Field(default_factory=dict, validate_default=True)
    maintenance: MaintenanceConfig = Field(default_factory=dict, validate_default=True)
    sessions: SessionsConfig = Field(default_factory=dict, validate_default=True)
    clock: ClockConfig = Field(default_factory=dict, validate_default=True)
    discord: DiscordConfig = Field(default_factory=dict, validate_default=True)
    console: ConsoleConfig = Field(default_factory=dict, validate_default=True)
    base_dir: Path
    source: Path | None = None

    @model_validator(mode="before")
    @classmethod
    def _default_base_dir(cls, data: Any, info: ValidationInfo) -> Any:
        if isinstance(data, dict) and "base_dir" not in data:
            data = {**data, "base_dir": _base_dir(info)}
        return data

    def maintenance_windows(self) -> tuple[Any, ...]:
        """The maintenance windows as ``orchestrator.sessions.MaintenanceWindow`` values."""
        from datetime import time

        from .sessions.maintenance import IB_DEFAULT_WINDOWS, MaintenanceWindow, gateway_restart
        from .sessions.windowconfig import read_window
        m = self.maintenance
        if m.windows is None:
            windows: tuple[Any, ...] = () if self.broker.mode == "sim" else IB_DEFAULT_WINDOWS
        else:
            windows = tuple(w for t in m.windows if isinstance(w := read_window(t), MaintenanceWindow))
        if m.gateway_restart is not None:
            hours, minutes = map(int, m.gateway_restart.split(":"))
            windows += (gateway_restart(time(hours, minutes)),)
        return windows

    def market_hours(self) -> bool:
        """Whether market hours hold entries and trailing (``[sessions] market_hours``)."""
        m = self.sessions.market_hours
        return self.broker.mode != "sim" if m is None else m

    def clock_source(self) -> str:
        """``[clock] source``: ``broker`` by default for the simulator, ``system`` otherwise."""
        return self.clock.source or ("broker" if self.broker.mode == "sim" else "system")

    def plan_files_warning(self) -> str | None:
        """One line naming the ``plans.files`` patterns that match no file now (None: all match)."""
        missing = self.plans.unmatched()
        if not missing:
            return None
        base = str(self.base_dir) + os.sep
        shown = ", ".join(p[len(base):] if p.startswith(base) else p for p in missing)
        where = "the config file's folder" if self.source is not None else "the current folder: no config file"
        which = "matches" if len(missing) == 1 else "patterns match"
        return (f"plans.files {which} no file: {shown} (relative to {self.base_dir}, {where}); "
                "no plan is loaded from it")

    def risk_limits(self) -> RiskLimits:
        """The risk settings as the pure core wants them."""
        r = self.risk
        return RiskLimits(small_pct=r.small_pct, normal_pct=r.normal_pct, large_pct=r.large_pct,
                          max_portfolio_risk_pct=r.max_portfolio_risk_pct, entry_tolerance_r=r.market_entry_tolerance_r)


# --------------------------------------------------------------------------- loading

def load_config(path: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Read the config file (see the module docstring for which one) and the environment.

    Args:
        path: an explicit config file (``--config``), or None.
        env: the environment to read; ``os.environ`` when None.

    Raises:
        ConfigError: the file is named but missing, unreadable, not TOML, or has invalid values.
    """
    env = os.environ if env is None else env
    file, label, must_exist = locate(path, env)

    raw: dict[str, Any] = {}
    source: Path | None = None
    problem: str | None = None
    if must_exist or file.exists():
        try:
            raw = read_toml(file)
            source = file.resolve()
        except TomlReadError as exc:
            problem = f"{label}: {exc.message}"
        except OSError as exc:  # resolve() on a strange path
            problem = f"{label}: cannot read file: {exc.strerror or type(exc).__name__}"
    if problem is not None:
        raise ConfigError(problem)
    base_dir = source.parent if source is not None else Path.cwd()

    lines = [f"{label}: {key}: unknown section" for key in _NOT_FROM_FILE if key in raw]
    raw = {key: value for key, value in raw.items() if key not in _NOT_FROM_FILE}
    from_env = bool(env.get(ENV_WEBHOOK))
    if from_env and isinstance(raw.get("discord", {}), dict):
        raw = {**raw, "discord": {**raw.get("discord", {}), "webhook_url": env[ENV_WEBHOOK]}}
    secrets = _secret_strings(raw)

    try:
        config = Config.model_validate({**raw, "base_dir": base_dir, "source": source},
                                       context={"base_dir": base_dir})
    except ValidationError as exc:
        errors = describe_errors(exc, Config, hidden=_NOT_FROM_FILE, top_level_noun="section")
    else:
        if not lines:
            return config
        errors = []
    for key, message in errors:
        if key == "discord.webhook_url" and from_env:
            key = f"{key} (from {ENV_WEBHOOK})"
        lines.append(_scrub(f"{label}: {key}: {message}", secrets))
    raise ConfigError(lines)


def _secret_strings(raw: dict[str, Any]) -> list[str]:
    discord = raw.get("discord")
    url = discord.get("webhook_url") if isinstance(discord, dict) else None
    return [url] if isinstance(url, str) and len(url) >= 8 else []


def _scrub(line: str, secrets: list[str]) -> str:
    """Belt and braces: no message may carry the webhook URL, whatever produced it."""
    for secret in secrets:
        line = line.replace(secret, redact_url(secret))
    return line


def redact_url(url: str | SecretStr) -> str:
    """A webhook URL that is safe to log: scheme and host kept, the secret part replaced.

    ``https://discord.com/api/webhooks/123/abc`` -> ``https://discord.com/api/webhooks/123/****``.
    Other URLs keep only scheme and host (``https://example.com/****``); credentials, query and
    fragment are always dropped. Unparseable input gives ``****``; empty gives ``""``.
    """
    if isinstance(url, SecretStr):
        url = url.get_secret_value()
    if not url:
        return ""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "****"
    if not parts.scheme or not host:
        return "****"
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    segments = parts.path.split("/")
    hook = segments.index("webhooks") if "webhooks" in segments else -1
    if (hook > 0 and hook + 1 < len(segments) and segments[hook + 1].isdigit()
            and all(s == "api" or _API_VERSION.fullmatch(s) for s in segments[1:hook])):
        path = "/".join(segments[:hook + 2]) + "/****"
    elif parts.path.strip("/") or parts.query or parts.fragment:
        path = "/****"
    else:
        path = ""
    return f"{parts.scheme}://{netloc}{path}"
