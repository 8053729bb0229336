"""Tests of the simulated IB Gateway (orchestrator.simgw)."""
