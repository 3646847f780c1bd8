"""The idle culler's decision for sadari: a stage's own idle limit where the curriculum sets one.

jupyterhub-idle-culler runs as a hub-managed service (hubconfig.update_services) with the
platform's `idle_timeout`; it loads `culler_config.py` beside this file, which makes `arbiter` its
`cull_arbiter_hook`. A server's spawner state carries the limit of the trainee's stage
(`sadari_idle_seconds`, from the curriculum's `idle_minutes`), which wins over the platform's.
Culling stops the server only: files the trainee saved stay in their home.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

CONFIG_FILE = Path(__file__).with_name("culler_config.py")


def arbiter(inactive: timedelta, inactive_limit: int, server: dict[str, Any]) -> bool:
    """Cull when the server has been inactive for its stage's limit, else the platform's."""
    state = server.get("state") or {}
    limit = state.get("sadari_idle_seconds") or inactive_limit
    return inactive.total_seconds() >= limit


def command(python: str, timeout: int) -> list[str]:
    """The culler service's command line: check every quarter of the timeout (5 s to 5 min)."""
    every = min(max(timeout // 4, 5), 300)
    return [
        python,
        "-m",
        "jupyterhub_idle_culler",
        f"--timeout={timeout}",
        f"--cull-every={every}",
        f"--config={CONFIG_FILE}",
    ]
