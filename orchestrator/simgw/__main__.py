"""``python -m orchestrator.simgw``: the standalone simulated gateway."""

from .command import main

raise SystemExit(main())
