"""What to run for one submission, and the score it earns: pure, fail-closed.

`plan(source, submission)` takes the instructor's nbgrader source notebook (trusted: solutions,
tests, hidden tests, points) and the trainee's notebook (untrusted) and returns the cells to run:
the submission's cells in the submission's order, except that every cell whose grade_id is a locked
or test cell of the source is replaced by the source's cell (hidden tests included); the
submission's nbgrader metadata is ignored.

Integrity is checked by comparison, not against a list of known tricks. The first cell (SETUP:
graders/sandbox/integrity.py, which says what it compares and what it cannot, and snapshot.py)
imports the modules
the source's setup, locked and test cells import — found here from their source with `ast` — and
snapshots the interpreter state the tests depend on before any trainee code runs. Around every test
cell a probe cell asks the kernel to compare its state with the snapshot: before the test (which
also asks the notebook's classes whether their `__eq__` claims to equal anything) and after it
(what the test's own calls into trainee code changed). The probe answers with an HMAC, under a key
made for this run, of a challenge made for this probe, so only the genuine check can answer; each
probe cell carries a gate (graders/sandbox/pool.py) with the answer expected: when it is missing,
the trusted side does not run the test, or fails the test just run, with the probe's reason.

A design that kept the tests out of the submission's reach altogether (each test in a trusted
fresh interpreter) was not taken: the tests call the submission's functions and objects, so the
submission's code runs wherever the tests run, and whatever holds them is as exposed as this kernel.

`score(plan, runs)` gives every graded cell of the source its points only if its test ran, raised
nothing, the probes before and after it answered as expected, and the kernel answered afterwards; a
test cell missing from the submission, or never reached, scores 0; `why` says why a test scored 0,
with the probe's own signed words when it found tampering. A test's stored log leads with its
verdict (graders/record.py).
"""

from __future__ import annotations

import ast
import builtins
import functools
import hashlib
import hmac
import json
import re
import secrets
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .base import CellScore
from .sandbox.base import GATE, CellRun

INTEGRITY = (Path(__file__).parent / "sandbox" / "integrity.py").read_text(encoding="utf-8")
SNAPSHOT = (Path(__file__).parent / "sandbox" / "snapshot.py").read_text(encoding="utf-8")
KEY_PLACEHOLDER = 'b"__SADARI_KEY__"'
BUILTIN_NAMES = frozenset(dir(builtins))
# a probe's answer line: "sadari-probe ok <mac>" or "sadari-probe fail <mac> <what changed>"
FAIL_LINE = re.compile(r"^sadari-probe fail ([0-9a-f]{32}) (.*)$", re.MULTILINE)


def setup_cell(key: bytes, imports: list[str], bindings: list[list[Any]]) -> str:
    """The first cell: the integrity hook with the run's key, installed by the snapshot module with
    what the trusted cells import. The two modules' source travels as one string literal run with
    `exec` in a dict of its own: IPython then reads the cell as one line and one token instead of
    transforming ~1,000 lines (~60 ms of the kernel's CPU per submission), and no name is left in
    the notebook's namespace. It ends with a statement (nothing is displayed)."""
    if INTEGRITY.count(KEY_PLACEHOLDER) != 1:
        raise RuntimeError("graders/sandbox/integrity.py must hold the key placeholder once")
    config = {"imports": imports, "bindings": bindings}
    source = (
        INTEGRITY.replace(KEY_PLACEHOLDER, repr(key))
        + "\n\n"
        + SNAPSHOT
        + f"\ninstall({config!r}, _hook)\n"
    )
    # two lines: IPython keeps a one-line cell's text (the key's) in `shell._last_input_line`
    return f"# sadari: grading setup\nexec({source!r}, {{'__name__': 'sadari_setup'}})\n"


def probe_cell(expect: str, fails: str, challenge: str, names: list[str], phase: str) -> str:
    """A probe: the gate line the trusted side reads (and never sends), then the call."""
    gate = json.dumps({"expect": expect, "fails": fails})
    call = f"__import__('sys').audit('sadari.probe', {challenge!r}, {tuple(names)!r}, {phase!r})"
    return f"{GATE}{gate}\n{call}"


def answer(key: bytes, challenge: str, text: str | None = None) -> str:
    """The mac a genuine probe prints: for "ok", or for "fail" with `text`."""
    message = f"ok\n{challenge}" if text is None else f"fail\n{challenge}\n{text}"
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).hexdigest()[:32]


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
    # setup | code | probe:<id> | test:<id> | probe:<id>:after
    roles: list[str] = field(default_factory=list)
    origin: list[int | None] = field(default_factory=list)  # the submission cell run, if any
    # probe key (grade_id, or grade_id + ":after") -> the answer a genuine, passing probe prints
    nonces: dict[str, str] = field(default_factory=dict)
    challenges: dict[str, str] = field(default_factory=dict)  # probe key -> its challenge
    key: bytes = b""  # this run's probe key (trusted side only; SETUP hands it to the kernel)
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


# CPython 3.11 builds the AST objects with a recursion counter shared by all threads: two threads
# parsing at once (a worker's grading threads) can fail with "SystemError: AST constructor
# recursion depth mismatch" (python/cpython#106905; seen here in a batch graded two at a time)
_PARSING = threading.Lock()


def _parse(code: str) -> ast.Module | None:
    """The cell as Python, IPython's magics and shell escapes blanked out (None: not Python)."""
    if code.lstrip().startswith("%%"):
        return None
    lines = ["" if line.lstrip().startswith(("%", "!")) else line for line in code.splitlines()]
    try:
        with _PARSING:
            return ast.parse("\n".join(lines))
    except SyntaxError:
        return None


def _imports(tree: ast.Module) -> tuple[set[str], dict[str, tuple[str, str | None]], set[str]]:
    """Modules a cell imports, the names its top level binds by importing them (name -> (module,
    attribute)), and the other names its top level assigns."""
    modules: set[str] = set()
    bound: dict[str, tuple[str, str | None]] = {}
    assigned: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module)

    def top(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        bound[alias.asname] = (alias.name, None)
                    else:
                        first = alias.name.split(".")[0]
                        bound[first] = (first, None)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                for alias in node.names:
                    if alias.name != "*":
                        bound[alias.asname or alias.name] = (node.module, alias.name)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                assigned.add(node.name)
            elif isinstance(node, (ast.If, ast.Try, ast.With, ast.For, ast.While)):
                for inner in ast.iter_child_nodes(node):
                    if isinstance(inner, ast.ExceptHandler):
                        top(inner.body)
                for name in ("body", "orelse", "finalbody"):
                    top(getattr(node, name, []))
                for target in ast.walk(node):
                    if isinstance(target, ast.Name) and isinstance(target.ctx, ast.Store):
                        assigned.add(target.id)
            else:
                for target in ast.walk(node):
                    if isinstance(target, ast.Name) and isinstance(target.ctx, ast.Store):
                        assigned.add(target.id)

    top(tree.body)
    return modules, bound, assigned


def _uses(tree: ast.Module) -> set[str]:
    """Global names a cell reads and never assigns itself."""
    loads, stores = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (loads if isinstance(node.ctx, ast.Load) else stores).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            stores.add(node.name)
        elif isinstance(node, ast.arg):
            stores.add(node.arg)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            stores.update((a.asname or a.name).split(".")[0] for a in node.names)
    return loads - stores


@functools.lru_cache(maxsize=256)
def _test_uses(code: str) -> frozenset[str]:
    """`_uses` of a test cell's source, read once per source cell."""
    tree = _parse(code)
    return frozenset(_uses(tree)) if tree is not None else frozenset()


def _reached(tree: ast.Module, bound: dict[str, tuple[str, str | None]]) -> set[str]:
    """Dotted paths a cell reaches through attributes of imported names (`np.testing.x` ->
    numpy.testing, numpy.testing.x): the submodules among them load lazily, on first use, so SETUP
    imports them before anything else can (those that are not modules fail there, harmlessly)."""
    paths: set[str] = set()
    for node in ast.walk(tree):
        chain: list[str] = []
        while isinstance(node, ast.Attribute):
            chain.append(node.attr)
            node = node.value
        if not chain or not isinstance(node, ast.Name) or node.id not in bound:
            continue
        module, attr = bound[node.id]
        base = module if attr is None else f"{module}.{attr}"
        for depth in range(1, min(len(chain), 3) + 1):
            paths.add(".".join([base, *reversed(chain)][: depth + 1]))
    return paths


def trusted_context(cells: list[str]) -> tuple[list[str], dict[str, tuple[str, str | None]]]:
    """What the source's setup, locked and test cells import — modules, and the paths they reach
    through attributes of imported names — and the names they bind by importing (a name some
    trusted cell also binds otherwise, or to two different things, is left out)."""
    modules, bound = _trusted_context(tuple(cells))
    return list(modules), dict(bound)


@functools.lru_cache(maxsize=64)
def _trusted_context(
    cells: tuple[str, ...],
) -> tuple[tuple[str, ...], dict[str, tuple[str, str | None]]]:
    """`trusted_context` of one source's cells, read once per source (every submission of an
    assessment has the same: parsing and walking them was ~5 ms of each submission's plan)."""
    modules: set[str] = set()
    bound: dict[str, tuple[str, str | None]] = {}
    conflicting: set[str] = set()
    trees = [tree for tree in map(_parse, cells) if tree is not None]
    for tree in trees:
        found, names, assigned = _imports(tree)
        modules |= found
        conflicting |= assigned
        for name, target in names.items():
            if bound.get(name, target) != target:
                conflicting.add(name)
            bound[name] = target
    for tree in trees:
        modules |= _reached(tree, bound)
    if any(line.lstrip().startswith("%matplotlib") for code in cells for line in code.splitlines()):
        # IPython's %matplotlib registers these modules' functions as event callbacks
        modules |= {"matplotlib.pyplot", "matplotlib_inline.backend_inline"}
    for name in conflicting:
        bound.pop(name, None)
    return tuple(sorted(modules)), bound


def plan(notebook_id: str, source: dict[str, Any], submission: dict[str, Any]) -> Plan:
    """The run plan of one submitted notebook against its trusted source."""
    p = Plan(notebook_id, key=secrets.token_bytes(32))
    trusted: dict[str, dict[str, Any]] = {}
    trusted_code: list[str] = []
    for cell in source["cells"]:
        meta = _nb(cell)
        gid = meta.get("grade_id")
        if not gid:
            continue
        trusted[gid] = cell
        if cell.get("cell_type") == "code" and not meta.get("solution"):
            trusted_code.append(_source(cell))
        if meta.get("grade") and meta.get("points"):
            kind = (
                "test"
                if cell.get("cell_type") == "code" and not meta.get("solution")
                else ("manual")
            )
            p.graded.append(Graded(gid, float(meta["points"]), kind))
    modules, bound = trusted_context(trusted_code)

    def add(code: str, role: str, origin: int | None) -> None:
        p.cells.append(code)
        p.roles.append(role)
        p.origin.append(origin)

    def probe(gid: str, names: list[str], phase: str) -> None:
        name = gid if phase == "before" else f"{gid}:after"
        challenge = secrets.token_hex(16)
        p.challenges[name] = challenge
        p.nonces[name] = answer(p.key, challenge)
        fails = "next" if phase == "before" else "previous"
        add(probe_cell(p.nonces[name], fails, challenge, names, phase), f"probe:{name}", None)

    add(
        setup_cell(p.key, modules, [[n, m, a] for n, (m, a) in sorted(bound.items())]),
        "setup",
        None,
    )
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
                    add(_own(_source(cell)), "code", index)
                continue  # a written answer is graded by hand, not run
            if src_cell.get("cell_type") != "code":
                continue
            if meta.get("grade"):
                test = _source(src_cell)
                names = sorted(n for n in _test_uses(test) if n in bound or n in BUILTIN_NAMES)
                probe(str(gid), names, "before")
                add(test, f"test:{gid}", index)
                probe(str(gid), names, "after")
            else:
                add(_source(src_cell), "code", index)
        elif cell.get("cell_type") == "code":
            add(_own(_source(cell)), "code", index)
    p.missing = [g.grade_id for g in p.graded if g.kind == "test" and g.grade_id not in seen]
    return p


def _own(code: str) -> str:
    """A submission's cell as sent: never read as a gate by the trusted side."""
    return "\n" + code if code.startswith(GATE) else code


def _answered(p: Plan, name: str, run: CellRun | None) -> bool:
    return (
        run is not None
        and run.status == "ok"
        and run.alive_after
        and name in p.nonces
        and p.nonces[name] in run.output
    )


def probe_reason(p: Plan, name: str, run: CellRun | None) -> str:
    """What a probe that did not pass said changed: its own signed words when they verify, else
    what the kernel reported."""
    if run is None or run.status == "not-run":
        return "the tamper check did not run"
    if run.status == "timeout":
        return "the tamper check ran out of time"
    if run.status == "dead" or not run.alive_after:
        return "the kernel died during the tamper check"
    challenge = p.challenges.get(name, "")
    for mac, text in reversed(FAIL_LINE.findall(run.output)):
        if p.key and hmac.compare_digest(mac, answer(p.key, challenge, text)):
            return text
    if run.status == "error":
        return f"the tamper check failed: {run.ename}: {run.evalue[:300]}"
    return "the tamper check did not answer (what it runs on was replaced)"


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
        test = by_role.get(f"test:{g.grade_id}")
        after = f"{g.grade_id}:after"
        earned = (
            setup_ok
            and _answered(p, g.grade_id, by_role.get(f"probe:{g.grade_id}"))
            and test is not None
            and test.status == "ok"
            and test.alive_after
            and (
                f"probe:{after}" not in p.roles
                or _answered(p, after, by_role.get(f"probe:{after}"))
            )
        )
        out.append(CellScore(p.notebook, g.grade_id, g.points if earned else 0.0, g.points, "auto"))
    return out


def why(p: Plan, runs: list[CellRun]) -> dict[str, str]:
    """For each autograded cell that scored 0, the reason a trainee can understand."""
    by_role = {role: run for role, run in zip(p.roles, runs, strict=True)}
    setup = by_role.get("setup")
    reasons = {}
    for g in p.graded:
        if g.kind != "test":
            continue
        gid = g.grade_id
        if gid not in p.missing and (setup is None or setup.status != "ok"):
            detail = f"{setup.ename}: {setup.evalue[:200]}" if setup else "it did not run"
            reasons[gid] = f"the grader's checks could not start / 채점 준비 실패: {detail}"
            continue
        probe, test = by_role.get(f"probe:{gid}"), by_role.get(f"test:{gid}")
        after = by_role.get(f"probe:{gid}:after")
        if gid in p.missing:
            reasons[gid] = "test cell deleted from the notebook / 테스트 셀이 삭제됨"
        elif probe is None or test is None or probe.status == "not-run":
            reasons[gid] = "not reached: an earlier cell stopped the run / 실행되지 않음"
        elif not _answered(p, gid, probe) and probe.status in ("ok", "error"):
            reasons[gid] = f"kernel tampering detected / 변조 감지: {probe_reason(p, gid, probe)}"
        elif test.status == "timeout":
            reasons[gid] = "time limit exceeded / 시간 초과"
        elif test.status == "dead" or not test.alive_after:
            reasons[gid] = "the kernel died / 커널이 종료됨"
        elif test.status == "not-run":
            reasons[gid] = "not reached: an earlier cell stopped the run / 실행되지 않음"
        elif test.status == "error" and test.extra.get("verdict") != "tampering":
            reasons[gid] = f"{test.ename}: {test.evalue[:200]}"
        elif (
            f"probe:{gid}:after" in p.roles
            and not _answered(p, f"{gid}:after", after)
            and (after is None or after.status in ("ok", "error", "not-run"))
        ):
            detail = probe_reason(p, f"{gid}:after", after)
            reasons[gid] = (
                f"kernel tampering detected during the test / 테스트 중 변조 감지: {detail}"
            )
        elif probe.status != "ok":
            reasons[gid] = f"kernel tampering detected / 변조 감지: {probe_reason(p, gid, probe)}"
    return reasons
