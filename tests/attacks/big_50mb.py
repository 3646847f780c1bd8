"""The big_50mb attack: a ~50 MB submission, generated on demand (never stored in the repo).

`make()` returns the bytes of `correct.ipynb` (next to this file) with one markdown cell of about
50 MiB added after the intro: valid UTF-8, valid JSON, valid nbformat 4 and right answers, so
the only reason to refuse it is its size (over the 20 MB submission limit).
"""

from __future__ import annotations

import json
from pathlib import Path

SIZE = 50 * 1024 * 1024


def make() -> bytes:
    nb = json.loads(Path(__file__).with_name("correct.ipynb").read_text(encoding="utf-8"))
    line = "사다리 ladder " + "x" * 80 + "\n"  # 98 bytes in UTF-8
    filler = line * (SIZE // len(line.encode("utf-8")) + 1)
    cell = {"cell_type": "markdown", "id": "big-50mb", "metadata": {}, "source": filler}
    nb["cells"].insert(1, cell)
    data = json.dumps(nb, ensure_ascii=False, indent=1).encode("utf-8")
    assert len(data) > SIZE
    return data
