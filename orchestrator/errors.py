"""The orchestrator's exceptions, named by what the trader or the program should do about them.

The tree (errors of the pure core live in ``machines.errors``)::

    OrchestratorError              base; exit code 1 unless a subclass says otherwise
    ├── ConfigError                config.toml or the environment is wrong: stop, fix it (exit 2)
    ├── PlanFileError              a plan file is wrong: fix the file (exit 2); carries .problems
    │                              (defined in planfile.py, beside the Problem it carries)
    ├── StoreError                 state.db cannot be used as it is: a human must look (exit 1)
    │   ├── SchemaTooNew           state.db was written by a newer version: upgrade, don't downgrade
    │   ├── StoreCorrupt           state.db is unreadable or inconsistent: restore it from a backup
    │   └── StoreMissing           there is no state.db yet: nothing has run with this config
    ├── AccountRefused             IB put us on an account the config does not allow: fix the config
    │                              or the login (exit 2)
    ├── BrokerUnavailable          IB Gateway/TWS cannot be reached: wait and reconnect
    └── UnknownContract            IB has no such instrument (error 200): the plan cannot trade

IB's refusals of orders are not exceptions: they arrive as events, and the plan records them.

Every error carries its facts as attributes, not only as text, and its ``str()`` is a message a
trader can act on. ``exit_code`` is what the command line returns when the error ends a command.
Add new errors under the branch whose remedy they share.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

__all__ = [
    "AccountRefused",
    "BrokerUnavailable",
    "ConfigError",
    "OrchestratorError",
    "SchemaTooNew",
    "StoreCorrupt",
    "StoreError",
    "StoreMissing",
    "UnknownContract",
]


class OrchestratorError(Exception):
    """Base of every error the orchestrator raises on purpose."""

    exit_code: ClassVar[int] = 1


class ConfigError(OrchestratorError):
    """The configuration is unusable: stop and fix it.

    ``lines`` holds one complete message per problem (``FILE: dotted.key: message``); ``str()``
    joins them with newlines, so a single problem is a single line. Never contains a secret.
    """

    exit_code: ClassVar[int] = 2

    def __init__(self, lines: str | Iterable[str]) -> None:
        self.lines: list[str] = [lines] if isinstance(lines, str) else list(lines)
        super().__init__("\n".join(self.lines))


class StoreError(OrchestratorError):
    """state.db cannot be used as it is; a human must look before trading resumes."""


class SchemaTooNew(StoreError):
    """state.db was written by a newer orchestrator: run that version (never downgrade a store)."""


class StoreCorrupt(StoreError):
    """state.db is unreadable or breaks its own invariants: restore it or investigate."""


class StoreMissing(StoreError):
    """There is no state.db yet (read-only commands never create one)."""


class AccountRefused(OrchestratorError):
    """The account at the other end is not one the config allows (paper vs live, or not the
    account this store belongs to)."""

    exit_code: ClassVar[int] = 2


class BrokerUnavailable(OrchestratorError):
    """IB Gateway/TWS cannot be reached or dropped the connection: wait and reconnect."""


class UnknownContract(OrchestratorError):
    """IB has no security definition for the plan's symbol (error 200): retrying cannot help."""

    def __init__(self, symbol: str, detail: str = "", contract: str | None = None) -> None:
        self.symbol = symbol
        what = contract or f"US stock {symbol!r} (SMART/USD)"
        super().__init__(f"IB knows no {what}{': ' + detail if detail else ''}")
