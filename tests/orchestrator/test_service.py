"""The service recipe in deploy/ says what the README says it does."""

from __future__ import annotations

import configparser
from pathlib import Path

UNIT = Path(__file__).resolve().parents[2] / "deploy" / "orchestrator.service"


def test_the_unit_runs_one_daemon_restarts_crashes_but_not_refusals_and_stops_with_sigterm() -> None:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]  (systemd keys are case-sensitive)
    unit.read(UNIT)
    service = unit["Service"]
    assert service["Type"] == "simple"
    assert service["ExecStart"].split()[1:3] == ["run", "--config"]
    assert service["Restart"] == "on-failure" and service["RestartPreventExitStatus"] == "2"
    assert service["KillSignal"] == "SIGTERM" and int(service["TimeoutStopSec"]) >= 35  # > the 30 s step limit
    assert service["StandardError"] == "journal" and service["UMask"] == "0077"
    assert "network-online.target" in unit["Unit"]["After"]
