"""IB's error codes on orders, classified in one place.

ib_async marks a live order ``Cancelled`` locally on almost any error, so a code alone never
decides an order's fate: only these are final, and anything else about an order IB had accepted
asks for verification against IB's own views (``evidence.py``).
"""

from __future__ import annotations

# The cancel IB confirmed (202), or a status IB sent without an error.
FINAL_CANCEL_CODES = frozenset({0, 202})
# IB refused the order itself (precautionary or validation checks); final before acceptance.
REJECT_CODES = frozenset({201})
# A short sale waiting for a borrow says so in ``whyHeld``: still alive at IB (ib_insync#363).
LOCATE_HELD = "locate"
