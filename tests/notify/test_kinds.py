"""Every kind of notification has a format, and the formatter knows no kind that nothing sends."""

from __future__ import annotations

import re
from pathlib import Path

from machines import NotifyKind
from orchestrator.notify.format import KINDS, describe

ROOT = Path(__file__).resolve().parents[2]


def test_every_kind_has_a_format_and_every_format_a_kind() -> None:
    assert set(KINDS) == set(NotifyKind)
    for kind in NotifyKind:
        message = describe({"kind": kind.value, "plan_id": "P", "seq": 1, "facts": {}})
        assert message.title == KINDS[kind].title and not message.title.startswith("ℹ️")


def test_every_kind_is_sent_somewhere() -> None:
    """A kind is named (``K.NAME`` or ``NotifyKind.NAME``) by the machine's table or the shell."""
    sources = "\n".join(p.read_text() for p in [*ROOT.glob("machines/*.py"), *ROOT.glob("orchestrator/**/*.py")]
                        if p.name not in {"values.py", "format.py"})
    named = set(re.findall(r"\b(?:K|NotifyKind)\.([A-Z_]+)\b", sources))
    assert {k.name for k in NotifyKind} <= named
