"""The pure core: plan state machine, events, effects and trading rules.

No I/O, no clock, no environment: events in, state and effects out.
"""

from .effects import (
    EFFECT_TYPES, CancelEntry, CancelExits, Effect, Flatten, ModifyStop, Notify, PlaceBracket, Protect,
)
from .errors import InvalidEvent, PlanError, SizingError
from .events import (
    EVENT_BY_TRIGGER, EVENT_TYPES, Activate, CancelRequested, EntryAccepted, EntryCancelled, EntryFilled,
    EntryRejected, Event, ExitFilled, Expire, Fault, FlattenFailed, PriceUpdate, ProtectionFailed,
    ProtectionStatus, StopModified, StopModifyRejected,
)
from .machine import PlanMachine, build_machine
from .plan import FIGURES, Plan, PlanSpec
from .rules import (
    SizingDecision, decide_size, next_trailing_stop, open_risk, plan_risk, position_size, risk_per_share,
    validate_plan_fields,
)
from .table import TRANSITIONS, guard_names, triggers
from .values import (
    LIVE_POSITION, LIVE_STATES, TERMINAL_STATES, UNFILLED_WORKING, US_STOCK_TICK, EntryType, Leg, NotifyKind,
    RiskCategory, RiskLimits, Side, State, order_ref, parse_order_ref, round_to_tick,
)

__all__ = [
    "Activate",
    "CancelEntry",
    "CancelExits",
    "CancelRequested",
    "EFFECT_TYPES",
    "EVENT_BY_TRIGGER",
    "EVENT_TYPES",
    "Effect",
    "EntryAccepted",
    "EntryCancelled",
    "EntryFilled",
    "EntryRejected",
    "EntryType",
    "Event",
    "ExitFilled",
    "Expire",
    "FIGURES",
    "Fault",
    "Flatten",
    "FlattenFailed",
    "InvalidEvent",
    "LIVE_POSITION",
    "LIVE_STATES",
    "Leg",
    "ModifyStop",
    "Notify",
    "NotifyKind",
    "PlaceBracket",
    "Plan",
    "PlanError",
    "PlanMachine",
    "PlanSpec",
    "PriceUpdate",
    "Protect",
    "ProtectionFailed",
    "ProtectionStatus",
    "RiskCategory",
    "RiskLimits",
    "Side",
    "SizingDecision",
    "SizingError",
    "State",
    "StopModified",
    "StopModifyRejected",
    "TERMINAL_STATES",
    "TRANSITIONS",
    "UNFILLED_WORKING",
    "US_STOCK_TICK",
    "build_machine",
    "decide_size",
    "guard_names",
    "next_trailing_stop",
    "open_risk",
    "order_ref",
    "parse_order_ref",
    "plan_risk",
    "position_size",
    "risk_per_share",
    "round_to_tick",
    "triggers",
    "validate_plan_fields",
]
