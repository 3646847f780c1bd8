"""Grading integrity without a kernel: the probe hook's code, what the plan snapshots and probes, the
trusted execution loop's gates, and verdict-first logs (graders/sandbox/integrity.py, plan.py,
sandbox/pool.py, record.py). The attack corpus runs them for real (tests/sandbox/test_attacks.py).
"""

from __future__ import annotations

import ast
import dis
import json
import types
from typing import Any

import pytest

from sadari.graders import record
from sadari.graders.plan import (
    INTEGRITY,
    KEY_PLACEHOLDER,
    answer,
    plan,
    probe_reason,
    score,
    trusted_context,
)
from sadari.graders.sandbox import pool
from sadari.graders.sandbox.base import GATE, CellRun, Limits
from tests.support.hub import ROOT

SOURCE = json.loads((ROOT / "tests/attacks/source/attack-check.ipynb").read_text())
PARTIAL = json.loads((ROOT / "tests/attacks/partial.ipynb").read_text())


def hook_code() -> types.CodeType:
    module = compile(INTEGRITY, "integrity", "exec")
    return next(
        c for c in module.co_consts if isinstance(c, types.CodeType) and c.co_name == "_hook"
    )


def test_the_hook_loads_no_global_builtin_or_closure_name() -> None:
    """Nothing in the notebook's namespace or the builtins can change what the hook does, and it
    holds the key only as a constant of its own code."""
    code = hook_code()
    loads = {
        i.opname
        for i in dis.get_instructions(code)
        if "GLOBAL" in i.opname
        or "NAME" in i.opname
        or "DEREF" in i.opname
        or "CLOSURE" in i.opname
    }
    assert loads == set()
    assert not [c for c in code.co_consts if isinstance(c, types.CodeType)]  # no comprehension
    assert code.co_freevars == code.co_cellvars == ()
    assert INTEGRITY.count(KEY_PLACEHOLDER) == 1
    assert b"__SADARI_KEY__" in code.co_consts


def test_the_plan_snapshots_what_the_trusted_cells_use() -> None:
    modules, bound = trusted_context(
        [
            "%matplotlib inline\nimport math\nimport numpy as np\nfrom pandas import testing as pdt",
            "np.testing.assert_allclose(1, 1)\nimport os.path\nx = 1",
            "np = 3",  # a name a trusted cell binds two ways is not checked
            "%%bash\nnot python",
        ]
    )
    assert {"math", "numpy", "numpy.testing", "pandas", "os.path"} <= set(modules)
    assert {"matplotlib.pyplot", "matplotlib_inline.backend_inline"} <= set(modules)
    assert bound == {"math": ("math", None), "pdt": ("pandas", "testing"), "os": ("os", None)}


def test_every_test_runs_between_two_gated_probes_whose_answers_never_reach_the_kernel() -> None:
    p = plan("attack-check", SOURCE, PARTIAL)
    assert p.roles[0] == "setup"
    # the setup cell runs the integrity and snapshot modules' source, with the run's key, as one
    # string literal
    tree = ast.parse(p.cells[0])
    (call,) = [n.value for n in tree.body if isinstance(n, ast.Expr)]
    assert isinstance(call, ast.Call) and ast.unparse(call.func) == "exec"
    setup = ast.literal_eval(call.args[0])
    assert repr(p.key) in setup and KEY_PLACEHOLDER not in setup
    compile(setup, "setup", "exec")
    assert len(p.cells[0].splitlines()) == 2  # IPython keeps a one-line cell's text
    for gid in ("test-add", "test-mean"):
        at = p.roles.index(f"test:{gid}")
        assert p.roles[at - 1] == f"probe:{gid}" and p.roles[at + 1] == f"probe:{gid}:after"
        for name, fails, cell in (
            (gid, "next", p.cells[at - 1]),
            (f"{gid}:after", "previous", p.cells[at + 1]),
        ):
            gate, sent = pool._gate(cell)
            assert gate == {"expect": p.nonces[name], "fails": fails}
            assert p.nonces[name] not in sent and p.challenges[name] in sent
            assert p.nonces[name] == answer(p.key, p.challenges[name])
    # names the test reads that the setup cell imported, or builtins, are checked by the probe
    assert "('float', 'math', 'np', 'type')" in p.cells[p.roles.index("probe:test-mean")]
    # a submission's cell is never read as a gate
    nb = json.loads(json.dumps(PARTIAL))
    nb["cells"].append({"cell_type": "code", "metadata": {}, "source": GATE + '{"expect": "x"}'})
    assert pool._gate(plan("attack-check", SOURCE, nb).cells[-1])[0] is None


def test_only_the_runs_own_key_verifies_a_probe() -> None:
    p = plan("attack-check", SOURCE, PARTIAL)
    runs = [
        CellRun(i, "ok", output=p.nonces.get(r.split(":", 1)[-1], ""), alive_after=True)
        for i, r in enumerate(p.roles)
    ]
    assert [c.score for c in score(p, runs)] == [2.0, 3.0]
    after = p.roles.index("probe:test-mean:after")
    runs[after].output = "sadari-probe ok " + "0" * 32
    assert [c.score for c in score(p, runs)] == [2.0, 0.0]
    genuine = answer(p.key, p.challenges["test-mean:after"], "math.isclose replaced")
    forged = f"sadari-probe fail {'1' * 32} the grader did it\n"
    runs[after].output = forged + f"sadari-probe fail {genuine} math.isclose replaced\n"
    assert probe_reason(p, "test-mean:after", runs[after]) == "math.isclose replaced"
    runs[after].output = forged
    assert "did not answer" in probe_reason(p, "test-mean:after", runs[after])


class FakeKernel(pool.Kernel):
    def __init__(self) -> None:
        pass

    def kill(self) -> None:
        pass


def run_gated(
    monkeypatch: pytest.MonkeyPatch, cells: list[str], outputs: dict[str, CellRun]
) -> list[CellRun]:
    sent: list[str] = []

    def execute_one(
        kernel: Any, index: int, code: str, budget: float, limits: Limits, confirm: bool = True
    ) -> CellRun:
        # only a gated cell (a probe, whose signed answer shows it ran) skips the kernel_info check
        assert confirm is not any(code == c.partition("\n")[2] for c in cells if c.startswith(GATE))
        sent.append(code)
        run = outputs.get(code, CellRun(index, "ok", alive_after=True))
        run.index = index
        return run

    monkeypatch.setattr(pool, "_execute_one", execute_one)
    runs = pool.execute(FakeKernel(), cells, Limits())
    assert not any(code.startswith(GATE) for code in sent)
    return runs


def gate(expect: str, fails: str, code: str = "probe") -> str:
    return GATE + json.dumps({"expect": expect, "fails": fails}) + "\n" + code


def test_a_failed_gate_fails_the_cell_it_guards(monkeypatch: pytest.MonkeyPatch) -> None:
    fail = CellRun(
        0,
        "ok",
        output="sadari-probe fail abc numpy.testing.assert_allclose replaced\n",
        alive_after=True,
    )
    runs = run_gated(monkeypatch, [gate("good", "next"), "test", "after"], {"probe": fail})
    assert (runs[1].status, runs[1].ename, runs[1].extra) == (
        "error",
        "TamperingDetected",
        {"verdict": "tampering"},
    )
    assert runs[1].evalue == "tampering detected — numpy.testing.assert_allclose replaced"
    assert runs[2].status == "ok"  # later cells still run
    cells = [gate("good", "next"), "test", gate("later", "previous", "after")]
    ok = CellRun(0, "ok", output="sadari-probe ok good\n", alive_after=True)
    ok_after = CellRun(0, "ok", output="sadari-probe ok later\n", alive_after=True)
    runs = run_gated(monkeypatch, cells, {"probe": ok, "after": ok_after})
    assert runs[1].status == "ok"
    silent = CellRun(0, "ok", output="All checks passed\n", alive_after=True)
    runs = run_gated(
        monkeypatch,
        cells,
        {
            "probe": CellRun(0, "ok", output="sadari-probe ok good\n", alive_after=True),
            "after": silent,
        },
    )
    assert runs[1].extra == {"verdict": "tampering"} and "did not answer" in runs[1].evalue


def test_logs_and_feedback_lead_with_the_verdict() -> None:
    claim = "All tests passed! 5/5\n"
    failed = CellRun(0, "error", ename="AssertionError", evalue="", output=claim, alive_after=True)
    assert (
        record.cell_log(failed)
        == f"failed: AssertionError\n--- the cell's own output ---\n{claim.strip()}"
    )
    tampered = CellRun(
        0,
        "error",
        ename="TamperingDetected",
        evalue="tampering detected — math.isclose replaced",
        output=claim,
        alive_after=True,
        extra={"verdict": "tampering"},
    )
    assert record.cell_log(tampered).startswith(
        "failed: tampering detected — math.isclose replaced\n"
    )
    assert record.cell_log(CellRun(0, "ok", alive_after=True)) == "passed"
    assert record.cell_log(CellRun(0, "timeout")) == "timed out"
    assert (
        record.cell_log(CellRun(0, "not-run", extra={"after": "dead"}))
        == "not run: the kernel died"
    )
    long = CellRun(
        0, "error", ename="AssertionError", evalue="x", output="y" * 5000, alive_after=True
    )
    assert (
        record.cell_log(long).startswith("failed: AssertionError: x\n")
        and len(record.cell_log(long)) <= 2000
    )
    outs = record.outputs(failed, test=True)
    assert [o["output_type"] for o in outs] == ["error", "stream"] and claim in outs[1]["text"]
    outs = record.outputs(CellRun(0, "ok", output=claim, alive_after=True), test=True)
    assert outs[0]["text"].startswith("[sadari] passed") and claim in outs[1]["text"]
    assert record.outputs(CellRun(0, "ok", output=claim, alive_after=True)) == [
        {"output_type": "stream", "name": "stdout", "text": claim}
    ]


def test_dict_version_tags_are_read_where_the_layout_is_confirmed() -> None:
    """snapshot.py's `dict_versions` reads CPython's per-dict version tag: here (CPython 3.11) it
    is confirmed and read; a tag moves with each change of its dict and only then."""
    from sadari.graders.plan import SNAPSHOT

    namespace: dict[str, Any] = {}
    exec(compile(SNAPSHOT, "snapshot", "exec"), namespace)  # noqa: S102 - the module's own source
    view = namespace["dict_versions"]()
    assert view is not None
    d = {"a": 1}
    tag = view(d)
    first = tag.value
    assert d["a"] == 1 and tag.value == first
    d["a"] = 1  # the same object again: nothing changed
    assert tag.value == first
    d["a"] = 2
    second = tag.value
    assert second != first
    d.pop("a")
    assert tag.value not in (first, second)
