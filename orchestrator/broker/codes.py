"""IB's error codes on orders, classified in one place.

ib_async marks a live order ``Cancelled`` locally on almost any error (and ``ValidationError``
on a few), so a code alone never decides an order's fate:

* before IB accepted an order, a **rejection** code is final: the order never existed;
* after IB accepted it, every code refuses a *command* (a modify, a cancel) or warns: nothing
  ends until IB's own views (open orders, completed orders, executions) say so — **verify**;
* only a cancel IB confirmed (202, or a status without an error) is a final cancel;
* **informational** codes change nothing (the order works as IB reports it);
* **100** (pacing) refuses a *message*, whatever it was: an order placement, a modification or a
  cancel that IB's open orders do not show carried out is sent again, a request asked again, and
  the pacer slows down (``refusals.py``); on an order it is verified like any other code.

The table is the documentation: README "IB realities" lists the same codes.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Meaning(Enum):
    REJECTED = "rejected"          # final, before acceptance: the order does not exist at IB
    CANCELLED = "cancelled"        # final: IB confirmed the cancel
    INFORMATIONAL = "informational"  # the order works as IB reports it
    VERIFY = "verify"              # read IB's views before anything changes


@dataclass(frozen=True, slots=True)
class Code:
    new_order: Meaning             # on an order IB had not accepted yet
    what: str                      # what IB means, for the reader of a reason
    hint: str = ""                 # what the trader can do about it


PACING = 100   # IB refused a message: more than 50 a second (``refusals.py`` finds out which)
CANCEL_CONFIRMED = 202   # IB cancelled the order (the only final word on a cancel we sent)

CODES: dict[int, Code] = {
    PACING: Code(Meaning.VERIFY, "IB refused the message: more than 50 messages a second (pacing); what it asked "
                                 "for was not done, IB's views say what stands and it is sent again if needed"),
    103: Code(Meaning.REJECTED, "duplicate order id"),
    104: Code(Meaning.VERIFY, "cannot modify a filled order"),
    105: Code(Meaning.VERIFY, "the modification does not match the original order"),
    110: Code(Meaning.REJECTED, "the price does not conform to the minimum price variation"),
    135: Code(Meaning.VERIFY, "cannot find the order (a modification naming a stale parent)"),
    161: Code(Meaning.VERIFY, "cancel attempted when the order is not in a cancellable state"),
    200: Code(Meaning.REJECTED, "no security definition found", "check the plan's symbol"),
    201: Code(Meaning.REJECTED, "order rejected (precautionary or validation checks)"),
    CANCEL_CONFIRMED: Code(Meaning.CANCELLED, "order cancelled"),
    321: Code(Meaning.REJECTED, "request refused while validating (the API is read-only, or a bad field)",
              "turn off Read-Only API in TWS/IB Gateway: Configure > Settings > API > Settings"),
    399: Code(Meaning.INFORMATIONAL, "order warning (e.g. outside regular trading hours): it works"),
    404: Code(Meaning.INFORMATIONAL, "shares not available for a short sale: held until located"),
    434: Code(Meaning.REJECTED, "the order size cannot be zero"),
    2102: Code(Meaning.VERIFY, "unable to modify: the previous modification is still being processed"),
    10147: Code(Meaning.VERIFY, "the order to cancel was not found"),
    10148: Code(Meaning.VERIFY, "the order to cancel cannot be cancelled (it is done)"),
    10349: Code(Meaning.INFORMATIONAL, "the order's time in force was set by a TWS preset: it works"),
}

# A short sale waiting for a borrow says so in ``whyHeld``: still alive at IB (ib_insync#363).
LOCATE_HELD = "locate"


def meaning(code: int, accepted: bool) -> Meaning | None:
    """What ``code`` on an order means (None: no error, IB's status speaks for itself).
    After acceptance only a confirmed cancel is final; any other code is verified."""
    if code == 0:
        return None
    known = CODES.get(code)
    if accepted:
        if known is not None and known.new_order in (Meaning.CANCELLED, Meaning.INFORMATIONAL):
            return known.new_order
        return Meaning.VERIFY
    return known.new_order if known is not None else Meaning.VERIFY


def explain(code: int, message: str) -> str:
    """IB's message with the table's hint, for a plan's reason."""
    known = CODES.get(code)
    return f"{message} ({known.hint})" if known is not None and known.hint else message
