"""Notifications: message formatting and delivery of the durable outbox (docs/notifications.md).

* ``format``  — an outbox payload → a plain :class:`~.format.Message` (and console text);
* ``embed``   — a message → a Discord webhook body within every Discord limit;
* ``discord`` — :class:`~.discord.DiscordDeliver`, the webhook client and its status policy;
* ``sender``  — :class:`~.sender.OutboxSender`, the task that drains the outbox in order.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, TextIO

from .sender import ConsoleDeliver, Dead, Deliver, Disabled, OutboxSender, Retry, RetryPolicy

if TYPE_CHECKING:
    from ..clock import Clock
    from ..config import DiscordConfig

__all__ = ["ConsoleDeliver", "Dead", "Deliver", "Disabled", "OutboxSender", "Retry", "RetryPolicy", "make_deliver"]

log = logging.getLogger(__name__)


def make_deliver(discord: DiscordConfig, *, clock: Clock, out: TextIO) -> Deliver:
    """Discord when a webhook URL is configured, else the console."""
    if not discord.enabled:
        return ConsoleDeliver(out)
    from .discord import DiscordDeliver
    deliver = DiscordDeliver(discord.webhook_url, clock=clock, timeout=float(discord.timeout_seconds))
    log.info("notifications go to the Discord webhook %s", deliver.redacted)
    return deliver
