"""What to run for one submission, and the score it earns: pure, fail-closed.

`plan(source, submission)` takes the instructor's nbgrader source notebook (trusted: solutions,
tests, hidden tests, points) and the trainee's notebook (untrusted) and returns the cells to run:
the submission's cells in the submission's order, except that every cell whose grade_id is a locked
or test cell of the source is replaced by the source's cell (hidden tests included); the
submission's nbgrader metadata is ignored. Before each test cell a probe checks that the kernel has
not been tampered with (builtins replaced, AssertionError rebound, IPython's error display or cell
runner replaced, objects claiming to equal anything).

`score(plan, runs)` gives every graded cell of the source its points only if its test ran, raised
nothing, its probe passed, and the kernel answered afterwards; a test cell missing from the
submission, or never reached, scores 0.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from typing import Any

from .autograde import CellScore
from .sandbox.base import CellRun

# Run first, before any trainee code: remembers the pristine builtins and IPython methods in a
# closure, and defines the probe. (In-process checks cannot stop code that rewrites the kernel's
# messaging itself; they catch the tricks that hide failures, and anything odd fails closed.)
SETUP = r"""
def __sadari_setup():
    import builtins, sys
    from IPython.core.interactiveshell import InteractiveShell
    ip = get_ipython()
    swapped = {"input", "raw_input", "getpass"}  # ipykernel swaps these on every request
    pristine = {k: v for k, v in vars(builtins).items() if k not in swapped}
    hooks = (sys.excepthook, InteractiveShell.showtraceback, InteractiveShell.run_cell,
             InteractiveShell._showtraceback)
    methods = ("showtraceback", "_showtraceback", "run_cell", "run_cell_async",
               "run_ast_nodes", "run_code")
    shell = {name: vars(ip).get(name) for name in methods}
    class Sentinel:
        pass
    def probe(nonce):
        problems = []
        now = vars(builtins)
        for name, value in pristine.items():
            if now.get(name) is not value:
                problems.append("builtins." + name)
        for name in ("AssertionError", "Exception", "BaseException", "print", "isinstance",
                     "type", "abs", "len", "float", "int", "round", "sum", "all", "any"):
            if name in ip.user_ns and ip.user_ns[name] is not pristine.get(name):
                problems.append(name + " rebound")
        for name in methods:
            if vars(ip).get(name) is not shell[name]:
                problems.append("shell." + name)
        if (sys.excepthook, InteractiveShell.showtraceback, InteractiveShell.run_cell,
                InteractiveShell._showtraceback) != hooks:
            problems.append("ipython hooks")
        for value in list(ip.user_ns.values()):
            cls = value if isinstance(value, type) else type(value)
            eq = vars(cls).get("__eq__") if getattr(cls, "__module__", "") == "__main__" else None
            if eq is not None:
                try:
                    if eq(value, Sentinel()) is True:
                        problems.append(cls.__name__ + ".__eq__ claims equality")
                except Exception:
                    pass
        if problems:
            raise RuntimeError("sadari: tampering detected: " + ", ".join(sorted(set(problems))))
        print(nonce)
    return probe
__sadari_probe = __sadari_setup()
del __sadari_setup
"""


@dataclass(frozen=True)
class Graded:
    """A graded cell of the source: its notebook id, grade_id, points, and kind."""

    grade_id: str
    points: float
    kind: str  # test (autograded code) | manual (answer graded by hand)


@dataclass
class Plan:
    """The cells to run and how to read their results."""

    notebook: str
    cells: list[str] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)  # setup | code | probe:<id> | test:<id>
    origin: list[int | None] = field(default_factory=list)  # the submission cell run, if any
    nonces: dict[str, str] = field(default_factory=dict)  # grade_id -> probe nonce
    graded: list[Graded] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # test cells the submission lacks


def _nb(cell: dict[str, Any]) -> dict[str, Any]:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta if isinstance(meta, dict) else {}


def _source(cell: dict[str, Any]) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def parse_notebook(data: bytes, max_bytes: int = 20 * 1024 * 1024) -> dict[str, Any]:
    """The notebook in `data`, or ValueError saying why it cannot be graded."""
    if len(data) > max_bytes:
        raise ValueError(f"the notebook is {len(data)} bytes; at most {max_bytes} are graded")
    try:
        nb = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise ValueError(f"the notebook is not UTF-8 text (byte {e.start})") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"the notebook is not valid JSON (line {e.lineno}: {e.msg})") from None
    if not isinstance(nb, dict) or nb.get("nbformat") != 4 or not isinstance(nb.get("cells"), list):
        raise ValueError("the file is not a Jupyter notebook (nbformat 4)")
    return nb


def plan(notebook_id: str, source: dict[str, Any], submission: dict[str, Any]) -> Plan:
    """The run plan of one submitted notebook against its trusted source."""
    p = Plan(notebook_id)
    trusted: dict[str, dict[str, Any]] = {}
    for cell in source["cells"]:
        meta = _nb(cell)
        gid = meta.get("grade_id")
        if not gid:
            continue
        trusted[gid] = cell
        if meta.get("grade") and meta.get("points"):
            kind = (
                "test"
                if cell.get("cell_type") == "code" and not meta.get("solution")
                else ("manual")
            )
            p.graded.append(Graded(gid, float(meta["points"]), kind))

    def add(code: str, role: str, origin: int | None) -> None:
        p.cells.append(code)
        p.roles.append(role)
        p.origin.append(origin)

    add(SETUP, "setup", None)
    seen: set[str] = set()
    for index, cell in enumerate(submission["cells"]):
        if not isinstance(cell, dict):
            continue
        gid = _nb(cell).get("grade_id")
        src_cell = trusted.get(gid) if isinstance(gid, str) and gid not in seen else None
        if src_cell is not None:
            seen.add(str(gid))
            meta = _nb(src_cell)
            if meta.get("solution"):
                if src_cell.get("cell_type") == "code":
                    add(_source(cell), "code", index)
                continue  # a written answer is graded by hand, not run
            if src_cell.get("cell_type") != "code":
                continue
            if meta.get("grade"):
                nonce = secrets.token_hex(16)
                p.nonces[str(gid)] = nonce
                add(f"__sadari_probe({nonce!r})", f"probe:{gid}", None)
                add(_source(src_cell), f"test:{gid}", index)
            else:
                add(_source(src_cell), "code", index)
        elif cell.get("cell_type") == "code":
            add(_source(cell), "code", index)
    p.missing = [g.grade_id for g in p.graded if g.kind == "test" and g.grade_id not in seen]
    return p


def score(p: Plan, runs: list[CellRun]) -> list[CellScore]:
    """Fail-closed scores of the plan's graded cells from the execution records."""
    by_role = {role: run for role, run in zip(p.roles, runs, strict=True)}
    setup = by_role.get("setup")
    setup_ok = setup is not None and setup.status == "ok"
    out = []
    for g in p.graded:
        if g.kind == "manual":
            out.append(CellScore(p.notebook, g.grade_id, None, g.points, "manual"))
            continue
        probe, test = by_role.get(f"probe:{g.grade_id}"), by_role.get(f"test:{g.grade_id}")
        earned = (
            setup_ok
            and probe is not None
            and test is not None
            and probe.status == "ok"
            and probe.alive_after
            and p.nonces[g.grade_id] in probe.output
            and test.status == "ok"
            and test.alive_after
        )
        out.append(CellScore(p.notebook, g.grade_id, g.points if earned else 0.0, g.points, "auto"))
    return out


def why(p: Plan, runs: list[CellRun]) -> dict[str, str]:
    """For each autograded cell that scored 0, the reason a trainee can understand."""
    by_role = {role: run for role, run in zip(p.roles, runs, strict=True)}
    reasons = {}
    for g in p.graded:
        if g.kind != "test":
            continue
        probe, test = by_role.get(f"probe:{g.grade_id}"), by_role.get(f"test:{g.grade_id}")
        if g.grade_id in p.missing:
            reasons[g.grade_id] = "test cell deleted from the notebook / 테스트 셀이 삭제됨"
        elif probe is None or test is None or test.status == "not-run":
            reasons[g.grade_id] = "not reached: an earlier cell stopped the run / 실행되지 않음"
        elif probe.status != "ok":
            reasons[g.grade_id] = f"kernel tampering detected / 변조 감지: {probe.evalue[:200]}"
        elif test.status == "timeout":
            reasons[g.grade_id] = "time limit exceeded / 시간 초과"
        elif test.status == "dead" or not test.alive_after:
            reasons[g.grade_id] = "the kernel died / 커널이 종료됨"
        elif test.status == "error":
            reasons[g.grade_id] = f"{test.ename}: {test.evalue[:200]}"
    return reasons
