"""The attack corpus (tests/attacks/) through the real local sandbox: every hostile notebook gets the
score and status tests/attacks/expected.json says it deserves, and the grader stays healthy.

Runs only where the sandbox can: as root with bubblewrap installed (the Makefile installs it).
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from sadari.graders.autograde import Job, SandboxAutograder
from sadari.graders.sandbox.base import Limits
from sadari.graders.sandbox.local import LocalSandbox, available
from tests.support.hub import ROOT

ATTACKS = ROOT / "tests" / "attacks"
EXPECTED = json.loads((ATTACKS / "expected.json").read_text())
AID = "attack-check"
# Walking the whole visible file system (read_hidden_tests) takes ~18 s here: the wall limit leaves
# room for a loaded machine, so only the infinite loop times out.
LIMITS = Limits(
    wall_seconds=60,
    total_seconds=240,
    cpu_seconds=120,
    memory_bytes=1024**3,
    processes=64,
    file_bytes=16 * 1024**2,
    scratch_bytes=64 * 1024**2,
)

pytestmark = [
    pytest.mark.sandbox,
    pytest.mark.skipif(available() is not None, reason=f"local sandbox unavailable: {available()}"),
]


@pytest.fixture(scope="module")
def grader():  # type: ignore[no-untyped-def]
    g = SandboxAutograder(LocalSandbox(slots=1, pool=1, limits=LIMITS), LIMITS)
    yield g
    g.close()


def submission_bytes(name: str) -> bytes:
    if name.endswith(".py"):
        spec = importlib.util.spec_from_file_location("attack", ATTACKS / name)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return bytes(module.make())
    return (ATTACKS / name).read_bytes()


def course_with(tmp: Path, student: str, data: bytes) -> Path:
    (tmp / "source" / AID).mkdir(parents=True)
    shutil.copy(ATTACKS / "source" / f"{AID}.ipynb", tmp / "source" / AID)
    folder = tmp / "submitted" / student / AID
    folder.mkdir(parents=True)
    (folder / f"{AID}.ipynb").write_bytes(data)
    return tmp


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_attack(grader: SandboxAutograder, tmp_path: Path, name: str) -> None:
    expected = EXPECTED[name]
    student = name.split(".")[0].replace("_", "-")
    course = course_with(tmp_path, student, submission_bytes(name))
    outcome = grader.grade(Job(course, AID, student))
    earned = sum(c.score or 0 for c in outcome.cells)
    assert (earned, outcome.status) == (expected["score"], expected["status"]), (
        f"{name}: {outcome.reason}"
    )
    assert sum(c.max_score for c in outcome.cells) == 5
    # the grader is healthy afterwards: nothing of the sandbox uids is left running
    left = subprocess.run(
        ["pgrep", "-u", ",".join(str(61000 + i) for i in range(8))], capture_output=True, text=True
    ).stdout.split()
    # only the kernels started ahead may run: one waiting in the pool, one waiting to join it
    assert len(left) <= 2, f"processes left behind after {name}: {left}"
