"""Who may do what: sadari's custom scopes, the hub roles that grant them, the role groups.

JupyterHub grants scopes through roles; roles are given to groups, so adding a user to
`sadari-instructors` makes them an instructor. The hub config (hubconfig.py) declares these;
handlers check the scopes of the caller's token against them.
"""

from __future__ import annotations

SERVICE_NAME = "sadari"
AUTOMATION_SERVICE = "sadari-automation"

LEARN = "custom:sadari:learn"
INSTRUCT = "custom:sadari:instruct"
ADMIN = "custom:sadari:admin"

CUSTOM_SCOPES = {
    LEARN: {"description": "Use sadari as a trainee: see your own enrollment, labs and results."},
    INSTRUCT: {"description": "Teach in sadari: see trainees and their results, run assessments."},
    ADMIN: {"description": "Administer sadari: import rosters, move trainees, read the audit log."},
}

ROLE_GROUPS = {
    "trainee": "sadari-trainees",
    "instructor": "sadari-instructors",
    "admin": "sadari-admins",
}

ACCESS = f"access:services!service={SERVICE_NAME}"
ROLE_SCOPES = {
    "trainee": [ACCESS, LEARN],
    "instructor": [ACCESS, INSTRUCT],
    "admin": [ACCESS, INSTRUCT, ADMIN],
}

# What the sadari service itself may do through the hub API: manage users and groups, read servers.
SERVICE_HUB_SCOPES = [
    "admin:users",
    "admin:groups",
    "list:users",
    "read:users",
    "list:groups",
    "read:groups",
    "read:servers",
    "servers",  # start servers before class (hub/warmup.py)
]


def role_of(scopes: set[str]) -> str | None:
    """The highest sadari role the scopes amount to (admin > instructor > trainee), or None."""
    if ADMIN in scopes:
        return "admin"
    if INSTRUCT in scopes:
        return "instructor"
    if LEARN in scopes:
        return "trainee"
    return None
