"""JSON Schema of labs/curriculum.yaml: the shape of the manifest, and its documentation.

Semantic rules the schema cannot say (ids that must exist elsewhere, weights adding up, due dates
that must parse) live in curriculum.py.
"""

from __future__ import annotations

from typing import Any

ID = {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]{0,38}[a-z0-9]$"}
TEXT = {
    "description": "User-facing text in Korean and English.",
    "type": "object",
    "required": ["ko", "en"],
    "additionalProperties": False,
    "properties": {
        "ko": {"type": "string", "minLength": 1},
        "en": {"type": "string", "minLength": 1},
    },
}
# What a trainee may submit besides the release when an assessment does not say (extra_files)
DEFAULT_EXTRA_FILES = ("*.py", "*.csv", "*.txt", "*.md", "*.json", "*.png", "*.jpg", "*.html")
NOTEBOOK = {"type": "string", "pattern": r"^[^/\\].*\.ipynb$"}
RESOURCES = {
    "description": "What one trainee server gets.",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "memory": {
            "description": "Memory limit, e.g. 2G or 512M.",
            "type": "string",
            "pattern": "^[0-9]+(\\.[0-9]+)?[KMGT]$",
        },
        "cpu": {"description": "CPU limit in cores.", "type": "number", "exclusiveMinimum": 0},
        "gpu": {"description": "GPUs requested (Kubernetes).", "type": "integer", "minimum": 0},
    },
}
ASSESSMENT = {
    "type": "object",
    "required": ["id", "title", "weight", "points", "due", "notebooks"],
    "additionalProperties": False,
    "properties": {
        "id": ID,
        "title": TEXT,
        "weight": {
            "description": "Share of the stage score; the weights of a stage add up to 1.",
            "type": "number",
            "exclusiveMinimum": 0,
            "maximum": 1,
        },
        "points": {
            "description": "Total points of its graded cells.",
            "type": "number",
            "minimum": 0,
        },
        "due": {
            "description": (
                "When it is due: '+N d HH:MM' (N days after the cohort start, local time of the"
                " cohort) or an ISO 8601 date-time with its UTC offset."
            ),
            "type": "string",
        },
        "late_penalty": {
            "description": (
                "What a late submission costs: none (default), zero, or linear (per_hour percent"
                " per started hour late, at most cap percent)."
            ),
            "type": "object",
            "required": ["policy"],
            "additionalProperties": False,
            "properties": {
                "policy": {"enum": ["none", "zero", "linear"]},
                "per_hour": {"type": "number", "minimum": 0, "maximum": 100},
                "cap": {"type": "number", "minimum": 0, "maximum": 100},
            },
        },
        "notebooks": {
            "description": "nbgrader source notebooks, relative to labs/.",
            "type": "array",
            "minItems": 1,
            "items": NOTEBOOK,
        },
        "extra_files": {
            "description": (
                "What trainees may submit besides the files of the release, as globs relative to"
                " the assessment folder (`*` stays within a folder, `**/` spans folders). Default:"
                " " + " ".join(DEFAULT_EXTRA_FILES) + ". Notebooks may always be submitted."
            ),
            "type": "array",
            "items": {"type": "string", "pattern": r"^[^/\\].*$"},
        },
        "exclude_overwriting": {
            "description": (
                "Released files whose trainee copy counts when grading (nbgrader's"
                " Autograde.exclude_overwriting). Every other released file is graded in the"
                " instructor's version, read-only, whatever the trainee submitted."
            ),
            "type": "array",
            "items": {"type": "string", "pattern": r"^[^/\\].*$"},
        },
        "packages": {
            "description": (
                "Python packages the assessment needs beyond the track image (PEP 508"
                " requirements such as `scikit-image>=0.22`); `sadari curriculum check` checks them"
                " against the grading environment and the track image."
            ),
            "type": "array",
            "items": {"type": "string", "minLength": 1},
        },
    },
}
STAGE_PLAN = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "notebooks": {
            "description": "Practice notebooks provisioned to trainees in this stage (relative to labs/).",
            "type": "array",
            "items": NOTEBOOK,
        },
        "assessments": {"type": "array", "items": ASSESSMENT},
        "resources": RESOURCES,
    },
}
NORMALISE = {
    "description": (
        "percent: percent of points after the late penalty (inputs: the value as given); zscore:"
        " its z-score among the pool's trainees the component applies to."
    ),
    "enum": ["percent", "zscore"],
}
SELECTION = {
    "description": (
        "Who advances INTO this stage, ranked on the stage before it (hub/core/selection.py has"
        " the rules). Not allowed on the first stage."
    ),
    "type": "object",
    "required": ["capacity"],
    "additionalProperties": False,
    "properties": {
        "pool": {
            "description": "Who competes with whom: each track of a cohort, or the whole cohort.",
            "enum": ["track", "cohort"],
            "default": "track",
        },
        "capacity": {
            "description": (
                "Seats per pool: top_n, or top_percent (floor of that percent of the pool);"
                " overrides: seats per track id (pool: track) or cohort id (pool: cohort)."
            ),
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "top_n": {"type": "integer", "minimum": 0},
                "top_percent": {"type": "number", "exclusiveMinimum": 0, "maximum": 100},
                "overrides": {
                    "type": "object",
                    "additionalProperties": {"type": "integer", "minimum": 0},
                },
            },
        },
        "score": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "normalise": {**NORMALISE, "default": "percent"},
                "assessments": {
                    "description": (
                        "curriculum (default): every track's assessments of the stage before,"
                        " with their weights; or a list of assessments of earlier stages."
                    ),
                    "anyOf": [
                        {"const": "curriculum"},
                        {
                            "type": "array",
                            "minItems": 1,
                            "items": {
                                "type": "object",
                                "required": ["id", "weight"],
                                "additionalProperties": False,
                                "properties": {
                                    "id": ID,
                                    "weight": {"type": "number", "minimum": 0},
                                    "normalise": NORMALISE,
                                },
                            },
                        },
                    ],
                },
            },
        },
        "eligibility": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "submitted": {
                    "description": "Assessments that must be submitted: all (default), none, or ids.",
                    "anyOf": [{"enum": ["all", "none"]}, {"type": "array", "items": ID}],
                },
                "min_percent": {
                    "description": "Minimum percent (after penalty): on every assessment, or per id.",
                    "anyOf": [
                        {"type": "number", "minimum": 0},
                        {"type": "object", "additionalProperties": {"type": "number"}},
                    ],
                },
                "min_total": {"type": "number"},
            },
        },
        "inputs": {
            "description": "Participation inputs imported from CSV (e.g. attendance in percent).",
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name"],
                "additionalProperties": False,
                "properties": {
                    "name": ID,
                    "title": TEXT,
                    "weight": {"type": "number", "minimum": 0, "default": 0},
                    "normalise": NORMALISE,
                    "min": {"type": "number"},
                    "required": {"type": "boolean", "default": True},
                },
            },
        },
        "reserved": {
            "description": "At least `seats` selected trainees per pool with attribute = value.",
            "type": "array",
            "items": {
                "type": "object",
                "required": ["attribute", "value", "seats"],
                "additionalProperties": False,
                "properties": {
                    "attribute": ID,
                    "value": {"type": "string", "minLength": 1},
                    "seats": {"type": "integer", "minimum": 1},
                },
            },
        },
        "ties": {
            "description": (
                "Tie-breakers in order (trainee-id is always last): score:<assessment id>,"
                " input:<name>, earliest-final-submission, trainee-id."
            ),
            "type": "array",
            "items": {
                "type": "string",
                "pattern": "^(score:.+|input:.+|earliest-final-submission|trainee-id)$",
            },
        },
    },
}
TEAMS = {
    "description": "How trainees selected into this stage form teams (hub/core/teams.py).",
    "type": "object",
    "required": ["size"],
    "additionalProperties": False,
    "properties": {
        "size": {
            "description": "Team size k (k +- 1 when it does not divide).",
            "type": "integer",
            "minimum": 2,
        },
        "skill": {
            "description": "assessments: mean normalised assessment score; total: selection total.",
            "enum": ["assessments", "total"],
        },
        "max_same": {
            "description": "At most this many members sharing a value of the attribute per team.",
            "type": "object",
            "additionalProperties": {"type": "integer", "minimum": 1},
        },
        "seed": {"type": "integer"},
        "steps": {"type": "integer", "minimum": 0},
    },
}

SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "sadari curriculum manifest",
    "type": "object",
    "required": ["version", "program", "stages", "tracks", "cohorts"],
    "additionalProperties": False,
    "properties": {
        "version": {"const": 1},
        "program": {
            "type": "object",
            "required": ["id", "name"],
            "additionalProperties": False,
            "properties": {"id": ID, "name": TEXT},
        },
        "stages": {
            "description": "The stages of every track, in order.",
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["id", "name"],
                "additionalProperties": False,
                "properties": {
                    "id": ID,
                    "name": TEXT,
                    "selection": SELECTION,
                    "teams": TEAMS,
                    "idle_minutes": {
                        "description": "Minutes without activity after which a trainee's server "
                        "in this stage is stopped (saved work stays); default: the platform's "
                        "idle timeout.",
                        "type": "integer",
                        "minimum": 5,
                    },
                },
            },
        },
        "cohorts": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "name", "starts"],
                "additionalProperties": False,
                "properties": {
                    "id": ID,
                    "name": TEXT,
                    "starts": {"description": "First day (YYYY-MM-DD).", "type": "string"},
                    "timezone": {"type": "string", "default": "Asia/Seoul"},
                    "classes": {
                        "description": "The cohort's timetable: sadari starts its trainees' "
                        "servers `warm_minutes` before class (0: never), so that the 9 a.m. "
                        "logins land on servers already up.",
                        "type": "object",
                        "required": ["start"],
                        "additionalProperties": False,
                        "properties": {
                            "days": {
                                "type": "array",
                                "items": {
                                    "enum": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
                                },
                                "default": ["mon", "tue", "wed", "thu", "fri"],
                            },
                            "start": {
                                "description": "Local time (the cohort's zone), HH:MM.",
                                "type": "string",
                                "pattern": "^[0-2][0-9]:[0-5][0-9]$",
                            },
                            "warm_minutes": {"type": "integer", "minimum": 0, "maximum": 120},
                        },
                    },
                },
            },
        },
        "tracks": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["id", "name", "image", "resources", "stages"],
                "additionalProperties": False,
                "properties": {
                    "id": ID,
                    "name": TEXT,
                    "image": {
                        "description": "Container image of the track's lab servers.",
                        "type": "string",
                    },
                    "resources": {**RESOURCES, "required": ["memory", "cpu"]},
                    "stages": {
                        "description": "Per stage id: what trainees of this track get.",
                        "type": "object",
                        "minProperties": 1,
                        "additionalProperties": STAGE_PLAN,
                    },
                },
            },
        },
    },
}
