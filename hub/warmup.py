"""The service side of warming servers before class (core/warmup.py decides): every
`warm_check_seconds`, for each cohort whose class starts within its lead, start the servers of its
trainees (the hub group `cohort:<id>`) through the hub API, as far as the machine has room: at
most `max_servers` running, and no more than MemAvailable / `server_memory_mb`.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

from .core.curriculum import Curriculum
from .core.policy import cohort_group
from .core.warmup import class_starting, to_warm
from .hubapi import HubAPI, HubAPIError

log = logging.getLogger("sadari.warmup")


def memory_room(server_mb: int, meminfo: Path = Path("/proc/meminfo")) -> int:
    """How many more servers of `server_mb` the machine's available memory holds."""
    for line in meminfo.read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) // 1024 // max(1, server_mb)
    return 0


async def warm(
    hub: HubAPI,
    curriculum: Curriculum,
    now: datetime,
    warmed: dict[tuple[str, str], set[str]],
    max_servers: int,
    server_mb: int,
    batch: int,
) -> list[str]:
    """Start the servers of the cohorts whose class starts soon; the names started. `warmed`
    remembers, per (cohort, class start), whom this class has started already."""
    starting = [(c, s) for c in curriculum.cohorts if (s := class_starting(c, now)) is not None]
    if not starting:
        return []
    users = await hub.users()
    running = {u["name"] for u in users if u.get("servers")}
    groups = await hub.groups()
    room = memory_room(server_mb)
    if max_servers:
        room = min(room, max_servers - len(running))
    started: list[str] = []
    for cohort, start in starting:
        done = warmed.setdefault((cohort.id, start.isoformat()), set())
        names = to_warm(groups.get(cohort_group(cohort.id), []), running, done, room)
        for i in range(0, len(names), max(1, batch)):  # as many at once as the hub starts
            chunk = names[i : i + max(1, batch)]
            results = await asyncio.gather(*(_start(hub, n) for n in chunk))
            for name, ok in zip(chunk, results, strict=True):
                if ok:
                    done.add(name)
                    running.add(name)
                    started.append(name)
        room -= len(names)
        log.info("warm-up: class of %s at %s: started %s", cohort.id, start, started or "none")
    return started


async def _start(hub: HubAPI, name: str) -> bool:
    """Ask the hub to start a server; False (retried at the next check) if it refuses now."""
    try:
        await hub.request("POST", f"/users/{quote(name)}/server")
        return True
    except HubAPIError as e:
        log.warning("warm-up: could not start %s's server now: %s", name, e)
        return False
