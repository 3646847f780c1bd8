"""The Kubernetes grading pod's two halves, run for real on a Docker engine in the pod's shape.

No cluster can run here, so this test plays the pod with two containers of the grader image that
share only a small tmpfs (the pod's memory-backed emptyDir, group-owned by the kernel's gid as
`fsGroup` makes it): the untrusted `kernel` container with the Job's own kernel command, and the
trusted `runner` container (sadari.graders.sandbox.podrunner) with the plan mounted read-only in
it alone. Neither has a network. The runner's log line is parsed as the backend would parse the
pod's log, and the records are scored by graders/plan.py like every other backend's.
"""

from __future__ import annotations

import base64
import json
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

import pytest

from sadari.graders.plan import parse_notebook, plan, score
from sadari.graders.sandbox import kubernetes as k8s
from sadari.graders.sandbox import podrunner
from sadari.graders.sandbox.base import CellRun, Limits
from tests.sandbox.test_attacks import AID, ATTACKS
from tests.support import docker

pytestmark = pytest.mark.docker
KERNEL_UID, RUNNER_UID = 1000, 1001
LIMITS = Limits(wall_seconds=20, total_seconds=120)


@pytest.fixture(scope="module")
def image() -> str:
    try:
        return docker.ensure_image("grader")
    except docker.Unavailable as e:
        pytest.skip(f"no Docker engine can run here: {e}")  # a failed build fails


@pytest.fixture
def pod_dir() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="sadari-pod-"))
    (root / "run").mkdir()
    subprocess.run(
        [
            "mount",
            "-t",
            "tmpfs",
            "-o",
            f"size=1m,nr_inodes=64,mode=2770,uid={RUNNER_UID},gid={KERNEL_UID}",
            "tmpfs",
            str(root / "run"),
        ],
        check=True,
    )
    (root / "plan").mkdir(mode=0o750)
    # the grading folder: an emptyDir as the kubelet makes it with fsGroup (0777, setgid, the
    # kernel's group); the runner fills it before the kernel starts there
    (root / "work").mkdir()
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size=16m,mode=2777,gid={KERNEL_UID}", "tmpfs"]
        + [str(root / "work")],
        check=True,
    )
    yield root
    subprocess.run(["umount", "-l", str(root / "work")], capture_output=True)
    subprocess.run(["umount", "-l", str(root / "run")], capture_output=True)
    shutil.rmtree(root, ignore_errors=True)


def run_pod(
    image: str, pod: Path, cells: list[str], files: list[dict[str, object]] | None = None
) -> list[CellRun]:
    plan_file = pod / "plan" / "plan.json"
    plan_file.write_text(
        json.dumps({"cells": cells, "limits": asdict(LIMITS), "files": files or []})
    )
    for path in (pod / "plan", plan_file):
        shutil.chown(path, RUNNER_UID, RUNNER_UID)
    plan_file.chmod(0o400)
    name = f"sadari-test-kernel-{secrets.token_hex(4)}"
    kernel = k8s.kernel_command(LIMITS.memory_bytes)  # the Job's command replaces the entrypoint
    common = ["--network", "none", "--read-only", "--cap-drop", "ALL"]
    common += ["--security-opt", "no-new-privileges", "--tmpfs", "/tmp"]
    subprocess.run(
        ["docker", "run", "-d", "--name", name, *common, "--user", f"{KERNEL_UID}:{KERNEL_UID}"]
        + ["--tmpfs", f"/job/scratch:uid={KERNEL_UID},gid={KERNEL_UID}"]
        + ["-v", f"{pod / 'run'}:{k8s.RUN_PATH}", "-v", f"{pod / 'work'}:{k8s.WORK_PATH}"]
        + ["-w", "/job/scratch"]
        + ["-e", "HOME=/job/scratch", "--entrypoint", kernel[0], image, *kernel[1:]],
        check=True,
        capture_output=True,
    )
    try:
        runner = subprocess.run(
            ["docker", "run", "--rm", *common, "--user", f"{RUNNER_UID}:{RUNNER_UID}"]
            + ["--group-add", str(KERNEL_UID), "-v", f"{pod / 'run'}:{k8s.RUN_PATH}"]
            + ["-v", f"{pod / 'work'}:{k8s.WORK_PATH}"]
            + ["-v", f"{pod / 'plan'}:{k8s.PLAN_PATH}:ro", image, *k8s.RUNNER_COMMAND],
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)
    assert runner.returncode == 0, runner.stdout + runner.stderr
    return [CellRun(**r) for r in podrunner.parse_log(runner.stdout)]


def graded(image: str, pod: Path, attack: str) -> dict[str, float | None]:
    source = json.loads((ATTACKS / "source" / f"{AID}.ipynb").read_text())
    p = plan(AID, source, parse_notebook((ATTACKS / attack).read_bytes()))
    return {c.cell: c.score for c in score(p, run_pod(image, pod, p.cells))}


def test_a_correct_submission_scores_full_marks(image: str, pod_dir: Path) -> None:
    assert graded(image, pod_dir, "correct.ipynb") == {"test-add": 2.0, "test-mean": 3.0}


def test_the_kernel_sees_no_plan_and_no_network(image: str, pod_dir: Path) -> None:
    runs = run_pod(
        image,
        pod_dir,
        [
            "import os; print(sorted(os.listdir('/job')))",
            "import socket; socket.create_connection(('10.0.0.1', 80), timeout=2)",
            "open('/job/run/kernel.json').read(); print(os.getuid())",
        ],
    )
    assert runs[0].status == "ok" and "plan" not in runs[0].output, runs[0]
    assert runs[1].status == "error" and runs[1].ename == "OSError", runs[1]
    assert runs[2].status == "ok" and runs[2].output.strip() == str(KERNEL_UID)


def test_an_infinite_loop_times_out_and_the_rest_is_not_run(image: str, pod_dir: Path) -> None:
    assert graded(image, pod_dir, "infinite_loop.ipynb") == {"test-add": 2.0, "test-mean": 0.0}


def test_a_kernel_that_kills_itself_is_seen_dead(image: str, pod_dir: Path) -> None:
    runs = run_pod(image, pod_dir, ["x = 1", "import os; os._exit(0)", "print(x)"])
    assert [r.status for r in runs] == ["ok", "dead", "not-run"], runs


def test_the_grading_folder_holds_the_plans_files(image: str, pod_dir: Path) -> None:
    def b64(text: str) -> str:
        return base64.b64encode(text.encode()).decode()

    files = [
        {"path": "data/released.txt", "data": b64("instructor"), "readonly": True},
        {"path": "mine.txt", "data": b64("trainee"), "readonly": False},
    ]
    runs = run_pod(
        image,
        pod_dir,
        [
            "import os; print(os.getcwd(), open('data/released.txt').read(), open('mine.txt').read())",
            "open('data/released.txt', 'w')",
            "os.remove('data/released.txt')",
            "os.rename('data', 'elsewhere')",
            "open('mine.txt', 'a').write('!'); open('new.txt', 'w').write('new')",
            "print(open('data/released.txt').read(), open('mine.txt').read())",
        ],
        files,
    )
    assert runs[0].status == "ok" and runs[0].output.split() == [
        k8s.WORK_DIR,
        "instructor",
        "trainee",
    ]
    assert [r.ename for r in runs[1:4]] == ["PermissionError"] * 3, runs[1:4]
    assert runs[4].status == "ok", runs[4]
    assert runs[5].output.split() == ["instructor", "trainee!"]
