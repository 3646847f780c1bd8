"""Copies the data generators of labs/datasets/ into the notebooks that use them.

A trainee's server gets only the notebooks of a stage (hub/core/policy.py), and the grading sandbox
runs only the cells of a submission, so no notebook can import labs/datasets/. Instead a notebook
holds a verbatim copy of a generator module in one code cell whose metadata names the module,
`"sadari": {"embed": "commerce"}` (in a graded assessment that cell is also locked, so the data a
submission is graded on always comes from the instructor's source notebook).

    python labs/datasets/embed.py           # rewrite every stale copy under labs/
    python labs/datasets/embed.py --check   # list stale copies, exit 1 if any (tests/labs does this)
"""

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
LABS = HERE.parent
MODULES = ("commerce", "experiments")


def embedded_source(name):
    """The source a notebook cell embedding module `name` must hold."""
    if name not in MODULES:
        raise KeyError(f"unknown generator module {name!r} (known: {', '.join(MODULES)})")
    text = (HERE / f"{name}.py").read_text(encoding="utf-8")
    return (
        f"# 실습 데이터 생성기: labs/datasets/{name}.py 의 사본입니다. 이 셀은 고치지 마세요.\n"
        f"# Data generator: a copy of labs/datasets/{name}.py. Do not edit this cell.\n\n" + text
    ).rstrip("\n")


def embeds(nb):
    """(cell index, module name) of every embedding cell of a notebook (a dict from JSON)."""
    out = []
    for i, cell in enumerate(nb.get("cells", [])):
        name = cell.get("metadata", {}).get("sadari", {}).get("embed")
        if name:
            out.append((i, name))
    return out


def stale(nb):
    """(cell index, module name) of the embedding cells whose copy differs from the module."""
    out = []
    for i, name in embeds(nb):
        src = nb["cells"][i]["source"]
        if ("".join(src) if isinstance(src, list) else src) != embedded_source(name):
            out.append((i, name))
    return out


def main(argv=None):
    """Rewrite (or with --check, only list) the stale copies in the notebooks under labs/."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check, write nothing")
    args = parser.parse_args(argv)
    import nbformat

    bad = 0
    for path in sorted(LABS.rglob("*.ipynb")):
        if ".ipynb_checkpoints" in path.parts:
            continue
        nb = nbformat.read(path, as_version=4)
        cells = stale(nb)
        for i, name in cells:
            print(f"{path.relative_to(LABS.parent)}: cell {i} embeds {name}.py: stale")
            if not args.check:
                nb.cells[i].source = embedded_source(name)
        bad += len(cells)
        if cells and not args.check:
            nbformat.write(nb, path)
    return 1 if bad and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
