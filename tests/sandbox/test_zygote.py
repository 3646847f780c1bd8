"""Kernels forked from a warmed parent (graders/sandbox/zygote.py) keep every sandbox property of a
kernel started from scratch: a child cannot see what an earlier child wrote, imported, patched,
set or left running; it cannot reach the zygote; every child starts from the same state."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sadari.graders.plan import plan
from sadari.graders.sandbox.base import Limits, WorkFile
from sadari.graders.sandbox.local import LocalSandbox, available, zygote_default

pytestmark = [
    pytest.mark.sandbox,
    pytest.mark.skipif(available() is not None, reason=f"local sandbox unavailable: {available()}"),
]
LIMITS = Limits(wall_seconds=60, total_seconds=120, scratch_bytes=16 * 1024**2)

# what one child does to everything it can reach, then what the next child finds
LEAVE = r"""
import ctypes, json, os, subprocess, sys
import numpy
open("left.txt", "w").write("trainee A")
open("/tmp/left.txt", "w").write("trainee A")
open("/tmp/leftmod.py", "w").write("SECRET = 'trainee A'")
sys.path.insert(0, "/tmp")
import leftmod
numpy.mean = lambda *a, **k: 42
os.environ["LEFT_BY_A"] = "1"
libc = ctypes.CDLL(None, use_errno=True)
shm = libc.shmget(0x5ADA, 4096, 0o1666)  # IPC_CREAT | 0666: outlives its creator
print("shm", shm)
subprocess.Popen(["sleep", "600"], start_new_session=True)
pid = os.fork()
if pid == 0:
    os.setsid()
    import time
    while True:
        open("/tmp/still-here", "w").write("x")
        time.sleep(0.1)
print("left", sorted(os.listdir(".")), sorted(os.listdir("/tmp")))
"""

FIND = r"""
import ctypes, json, os, sys
import numpy
mine = os.getpid()
others = []
for entry in os.listdir("/proc"):
    if entry.isdigit() and int(entry) != mine:
        try:
            if os.stat(f"/proc/{entry}").st_uid == os.getuid():
                others.append(open(f"/proc/{entry}/cmdline").read())
        except OSError:
            pass
libc = ctypes.CDLL(None, use_errno=True)
print(json.dumps({
    "scratch": sorted(os.listdir(".")),
    "tmp": sorted(os.listdir("/tmp")),
    "leftmod": "leftmod" in sys.modules,
    "numpy_mean": bool(numpy.mean([1, 2, 3]) == 2.0),
    "json_dumps": json.dumps([1]) == "[1]",
    "env": "LEFT_BY_A" in os.environ,
    "shm": libc.shmget(0x5ADA, 0, 0) != -1,
    "others": others,
    "mark": getattr(numpy, "_sadari_mark", None),
}))
"""


def outputs(sandbox: LocalSandbox, cells: list[str], files: list[WorkFile] = ()) -> list[str]:  # type: ignore[assignment]
    runs = sandbox.run(cells, LIMITS, files)
    for run in runs:
        assert run.status == "ok", (run.ename, run.evalue, run.output)
    return [run.output for run in runs]


@pytest.fixture(scope="module")
def sandbox():  # type: ignore[no-untyped-def]
    # one slot, nothing started ahead: every kernel is forked by the same zygote, one after the
    # other, as the same uid
    box = LocalSandbox(slots=1, pool=0, limits=LIMITS, zygote=True)
    if not box.zygote:
        box.close()
        pytest.skip(
            f"the zygote is off: this Python installation ({sys.prefix}) is under /tmp, over "
            "which each forked child mounts a tmpfs of its own (local.py uses a plain kernel)"
        )
    yield box
    box.close()


def test_a_child_sees_nothing_an_earlier_child_left(sandbox: LocalSandbox) -> None:
    files = [WorkFile("data.csv", b"a,b\n1,2\n", readonly=True)]
    # the last cell patches what the kernel itself writes its messages with: the trusted side
    # can no longer read it and calls it dead
    runs = sandbox.run(
        [LEAVE, "numpy._sadari_mark = 'A'", "json.dumps = lambda *a, **k: 'patched'"],
        LIMITS,
        files,
    )
    assert [r.status for r in runs] == ["ok", "ok", "dead"], runs
    left = runs[0].output
    assert "shm -1" not in left and "left.txt" in left, left
    (found,) = outputs(sandbox, [FIND], files)
    seen = json.loads(found)
    # its scratch holds only its own grading folder (and IPython's folder of its HOME)
    assert seen["scratch"] == [".ipython", "data.csv"], seen
    assert seen["tmp"] == [], seen
    assert not seen["leftmod"], seen
    assert seen["numpy_mean"] and seen["json_dumps"], seen
    assert not seen["env"], seen
    assert not seen["shm"], seen
    assert seen["others"] == [], seen  # the background processes were killed
    assert seen["mark"] is None, seen
    # nothing of the uid runs between submissions
    uid = sandbox.uids[0]
    assert subprocess.run(["pgrep", "-U", str(uid)], capture_output=True).returncode == 1


def test_the_zygote_is_out_of_reach(sandbox: LocalSandbox) -> None:
    probe = r"""
import ctypes, os, signal
zygote = os.getppid()
status = open(f"/proc/{zygote}/status").read()
print("zygote uid", status.split("Uid:")[1].split()[0])
for what, attempt in [
    ("signal", lambda: os.kill(zygote, signal.SIGSTOP)),
    ("mem", lambda: open(f"/proc/{zygote}/mem", "rb").read(1)),
    ("maps", lambda: open(f"/proc/{zygote}/maps").read()),
    ("environ", lambda: open(f"/proc/{zygote}/environ").read()),
]:
    try:
        attempt()
        print(what, "REACHED")
    except PermissionError:
        print(what, "refused")
libc = ctypes.CDLL(None, use_errno=True)
print("ptrace", libc.ptrace(16, zygote, None, None), ctypes.get_errno())  # PTRACE_ATTACH
status = open("/proc/self/status").read()
for key in ("Uid", "Gid", "Groups", "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs"):
    print(key, status.split(key + ":")[1].splitlines()[0].split())
"""
    (out,) = outputs(sandbox, [probe])
    uid = str(sandbox.uids[0])
    assert "zygote uid 0" in out, out
    assert "REACHED" not in out, out
    assert "ptrace -1 1" in out, out  # EPERM
    assert f"Uid ['{uid}', '{uid}', '{uid}', '{uid}']" in out, out
    assert "Groups []" in out, out
    for key in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert f"{key} ['0000000000000000']" in out, out
    assert "NoNewPrivs ['1']" in out, out


def test_every_child_starts_from_the_same_state(sandbox: LocalSandbox) -> None:
    state = r"""
import sys, random, numpy
print(sorted(sys.modules).__len__(), "pandas" in sys.modules, random.random(), numpy.random.rand())
"""
    first = outputs(sandbox, [state])[0].split()
    second = outputs(sandbox, [state])[0].split()
    # the same modules pre-imported (the libraries come from the zygote) ...
    assert first[:2] == second[:2] and first[1] == "True", (first, second)
    # ... but fresh random seeds
    assert first[2:] != second[2:], (first, second)


def test_no_network_and_limits(sandbox: LocalSandbox) -> None:
    probe = r"""
import resource, socket
try:
    socket.create_connection(("1.1.1.1", 53), timeout=3)
    print("network REACHED")
except OSError as e:
    print("network refused", e.errno)
print("as", resource.getrlimit(resource.RLIMIT_AS)[0])
print("nproc", resource.getrlimit(resource.RLIMIT_NPROC)[0])
print("fsize", resource.getrlimit(resource.RLIMIT_FSIZE)[0])
import os
print("tmp", os.statvfs("/tmp").f_blocks * os.statvfs("/tmp").f_frsize)
"""
    (out,) = outputs(sandbox, [probe])
    assert "network refused" in out, out
    assert f"as {LIMITS.memory_bytes}" in out, out
    assert f"nproc {LIMITS.processes}" in out, out
    assert f"fsize {LIMITS.file_bytes}" in out, out
    assert f"tmp {LIMITS.scratch_bytes}" in out, out


def test_the_zygotes_go_with_the_sandbox(tmp_path: Path) -> None:
    box = LocalSandbox(slots=1, pool=1, limits=LIMITS, zygote=True)
    try:
        assert outputs(box, ["print(1 + 1)"]) == ["2\n"]
        jobs = [z.result().job for z in box._zygotes.values()]
        pids = [z.result().proc.pid for z in box._zygotes.values()]
    finally:
        box.close()
    for job, pid in zip(jobs, pids, strict=True):
        assert not job.exists()
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text()


def test_the_setting_reaches_the_sandbox(monkeypatch: pytest.MonkeyPatch) -> None:
    from sadari.hub.settings import SadariSettings

    # set in jupyterhub_config.py, it travels to the service and workers in their environment
    monkeypatch.delenv("SADARI_GRADING_ZYGOTE", raising=False)
    assert SadariSettings().grading_zygote
    env = SadariSettings(grading_zygote=False).environment()
    monkeypatch.setenv("SADARI_GRADING_ZYGOTE", env["SADARI_GRADING_ZYGOTE"])
    assert not zygote_default()
    monkeypatch.setenv("SADARI_GRADING_ZYGOTE", "1")
    assert zygote_default()


AID = "da-basics-check"


def with_patch(answer: str) -> tuple[dict, dict]:  # type: ignore[type-arg]
    """The data-analysis stage-1 source, and a submission of its solutions whose `da-fill` answer
    is `answer` instead."""
    folder = Path(__file__).parents[2] / "labs/data-analysis/basics/assessments" / AID
    source = json.loads((folder / f"{AID}.ipynb").read_text(encoding="utf-8"))
    patched = json.loads(json.dumps(source))
    for cell in patched["cells"]:
        if cell["metadata"].get("nbgrader", {}).get("grade_id") == "da-fill":
            cell["source"] = answer
    return source, patched


def test_the_setup_cell_reuses_the_zygotes_walk_and_still_sees_every_change(
    sandbox: LocalSandbox,
) -> None:
    """The zygote walks the pre-imported libraries once for the integrity snapshot; each child's
    setup cell takes that walk (nothing is left of it for the notebook) and still snapshots the
    kernel as it is: an honest notebook passes every probe, a patch of a pre-imported library's
    class is caught by the probes after it, as without a zygote (tests/attacks: every backend)."""
    source, patched = with_patch(
        "import pandas\npandas.DataFrame.copy = lambda self, deep=True: self\n"
    )
    look = "import sys\nprint(type(getattr(sys, '_sadari_pre', None)).__name__)"
    for notebook, caught in ((source, False), (patched, True)):
        p = plan(AID, source, notebook)
        # (a failed probe keeps the test after it from running: only the probes' answers count)
        out = [run.output for run in sandbox.run([look, *p.cells, look], LIMITS, [])]
        assert out[0] == "tuple\n" and out[-1] == "NoneType\n", (out[0], out[-1])
        roles = zip(p.roles, out[1:-1], strict=True)
        probes = {r.split(":", 1)[1]: o for r, o in roles if r[:6] == "probe:"}
        assert len(probes) == 10
        for name, text in probes.items():
            ok = f"sadari-probe ok {p.nonces[name]}" in text
            after_patch = caught and name not in ("da-test-filter", "da-test-filter:after")
            assert ok is not after_patch, (name, text)
            if after_patch:
                assert "pandas.core.frame.DataFrame.copy added" in text, (name, text)


def test_the_probes_see_the_same_without_dict_version_tags(
    sandbox: LocalSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The probes read each module's and class's dict version tag and compare value by value only
    the dicts whose tag moved; where the tags cannot be read (another interpreter) every dict is
    compared value by value. Both find the same patch and pass the same honest notebook."""
    from sadari.graders import plan as plan_module

    source, patched = with_patch(
        "import pandas.api.types as t\nt.is_integer_dtype = lambda *a: True\n"
    )
    untagged = plan_module.SNAPSHOT.replace(
        "def dict_versions():\n", "def dict_versions():\n    return None\n", 1
    )
    assert untagged != plan_module.SNAPSHOT
    seen = {}
    for tags in (True, False):
        if not tags:
            monkeypatch.setattr(plan_module, "SNAPSHOT", untagged)
        for notebook, caught in ((source, False), (patched, True)):
            p = plan(AID, source, notebook)
            out = [run.output for run in sandbox.run(p.cells, LIMITS, [])]
            probes = {
                r.split(":", 1)[1]: o
                for r, o in zip(p.roles, out, strict=True)
                if r.startswith("probe:")
            }
            passed = {n for n, text in probes.items() if f"sadari-probe ok {p.nonces[n]}" in text}
            seen[tags, caught] = passed
            if caught:
                failed = [probes[n] for n in probes if n not in passed]
                assert failed and all(
                    "pandas.api.types.is_integer_dtype replaced" in text for text in failed
                ), failed
            else:
                assert passed == set(probes), probes
    assert seen[True, True] == seen[False, True]
    assert seen[True, True] == {"da-test-filter", "da-test-filter:after"}
