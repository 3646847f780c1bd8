"""Adding assessments to the text of labs/curriculum.yaml, keeping its comments and layout.

`add_assessments(text, track, stage, new, rescale)` inserts the new assessments after the last
one of the track's stage (making the stage's `assessments:` or the stage itself when absent), in
the manifest's own style, and may rescale the weights of the stage's other assessments so the
stage's weights still add up to 1. It edits text, never re-dumps YAML: everything else in the file
stays byte for byte. `assessment_id` and `plan_weights` are the rules `sadari course import`
names its assessments and shares weights by.

Pure: text in, text out; parse_curriculum validates the result.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import yaml

from .curriculum_schema import ID

ID_PATTERN = re.compile(str(ID["pattern"]))


class EditError(ValueError):
    """The manifest cannot be edited as asked (the message says why and what to do)."""


@dataclass(frozen=True)
class NewAssessment:
    """An assessment to add: the fields `sadari course import` writes."""

    id: str
    title_ko: str
    title_en: str
    weight: float
    points: float
    due: str
    notebooks: tuple[str, ...]


def assessment_id(name: str) -> str:
    """nbgrader's assignment name as a curriculum id: lower-cased, spaces and `_` to `-`
    (EditError when the result is still not an id)."""
    aid = re.sub(r"[\s_]+", "-", name.strip().lower())
    if not ID_PATTERN.match(aid):
        raise EditError(
            f"{name!r} gives the id {aid!r}, which is not a curriculum id (2-40 of a-z, 0-9 and "
            "'-', not starting or ending with '-'): choose one with --id"
        )
    return aid


def _round(values: Sequence[float], total: float) -> list[float]:
    """`values` rounded to 4 decimals, the last taking the rounding so they add up to `total`."""
    out = [round(v, 4) for v in values]
    if out:
        out[-1] = round(total - sum(out[:-1]), 4)
    return out


def plan_weights(
    existing: Mapping[str, float], new: Sequence[float | None], rescale: bool
) -> tuple[list[float], dict[str, float], str | None]:
    """The weights of the new assessments (None: not given), the rescaled weights of the stage's
    `existing` ones (empty unless `rescale`), and what is wrong with the stage's weights after
    the import if anything (worded with what to do)."""
    given = [w for w in new if w is not None]
    if len(given) != len(new):
        if given:
            raise EditError("give --weight for every imported assignment or for none")
        if existing and not rescale:
            raise EditError(
                f"the stage already has assessments ({', '.join(existing)}): give --weight, the "
                "new assessment's share of the stage score (0-1), and --rescale to scale the "
                "others to the rest"
            )
        share = 1.0 / (len(new) + (len(existing) if rescale else 0))
        weights = _round([share] * len(new), share * len(new))
    else:
        weights = [float(w) for w in given]
    for w in weights:
        if not 0 < w <= 1:
            raise EditError(f"--weight {w:g}: a weight is more than 0 and at most 1")
    added = sum(weights)
    if not rescale or not existing:
        total = added + sum(existing.values())
        if abs(total - 1) <= 1e-6:
            return weights, {}, None
        others = " + ".join(f"{aid} {w:g}" for aid, w in existing.items())
        return (
            weights,
            {},
            (
                f"the stage's weights would add up to {total:g}, not 1 ({others + ' + ' if others else ''}"
                f"new {added:g}): give --rescale to scale the other assessments to {1 - added:g} in "
                "all, choose --weight so they add up to 1, or edit the weights in the curriculum"
            ),
        )
    rest = 1 - added
    if rest <= 1e-6:
        raise EditError(
            f"--weight adds up to {added:g}: nothing is left for the stage's other assessments "
            f"({', '.join(existing)}) to weigh; --rescale needs the new weights below 1"
        )
    old = sum(existing.values())
    scaled = _round([w * rest / old for w in existing.values()], rest)
    return weights, dict(zip(existing, scaled, strict=True)), None


def _scalar(value: str) -> str:
    """`value` as a YAML scalar in flow and block context: plain when that reads back as the
    same string, else double-quoted (JSON's quoting is YAML's)."""
    plain = value.strip() == value and value != ""
    if plain:
        try:
            plain = yaml.safe_load(f"k: [{value}]") == {"k": [value]}
            plain = plain and yaml.safe_load(f"k: {value}") == {"k": value}
        except yaml.YAMLError:
            plain = False
    return value if plain else json.dumps(value, ensure_ascii=False)


def _number(value: float, decimal: bool = False) -> str:
    if decimal and float(value).is_integer():
        return f"{value:.1f}"
    return f"{value:g}" if float(value) == float(f"{value:g}") else repr(float(value))


def render(a: NewAssessment, dash: int) -> str:
    """The YAML lines of one assessment as an item of a block list whose `-` is at column
    `dash`, in the manifest's style."""
    pad, key = " " * dash, " " * (dash + 2)
    lines = [
        f"{pad}- id: {a.id}",
        f"{key}title: {{ko: {_scalar(a.title_ko)}, en: {_scalar(a.title_en)}}}",
        f"{key}weight: {_number(a.weight, decimal=True)}",
        f"{key}points: {_number(a.points)}",
        f"{key}due: {_scalar(a.due)}",
    ]
    if len(a.notebooks) == 1:
        lines.append(f"{key}notebooks: [{_scalar(a.notebooks[0])}]")
    else:
        lines.append(f"{key}notebooks:")
        lines += [f"{key}  - {_scalar(nb)}" for nb in a.notebooks]
    return "\n".join(lines) + "\n"


def _get(node: yaml.Node | None, key: str) -> yaml.Node | None:
    if not isinstance(node, yaml.MappingNode):
        return None
    for k, v in node.value:
        if isinstance(k, yaml.ScalarNode) and k.value == key:
            return v  # type: ignore[no-any-return]
    return None


def _last_line(node: yaml.Node) -> int:
    """The 0-based line of the last character of `node`'s content (block collections end where
    the next token starts, so this looks at their last scalar or flow collection)."""
    if isinstance(node, yaml.MappingNode | yaml.SequenceNode) and not node.flow_style:
        children = (
            [c for pair in node.value for c in pair]
            if isinstance(node, yaml.MappingNode)
            else list(node.value)
        )
        if children:
            return max(_last_line(c) for c in children)
    end = node.end_mark
    return int(end.line - 1 if end.column == 0 and end.line > node.start_mark.line else end.line)


def _offset_after(text: str, line: int) -> int:
    """The offset where the line after `line` (0-based) starts (the end of the text if none)."""
    pos = 0
    for _ in range(line + 1):
        nl = text.find("\n", pos)
        if nl < 0:
            return len(text)
        pos = nl + 1
    return pos


def _block(node: yaml.Node | None, what: str) -> bool:
    if node is None:
        return False
    if isinstance(node, yaml.MappingNode | yaml.SequenceNode) and not node.flow_style:
        return bool(node.value)
    raise EditError(
        f"{what} is written in flow style ({{...}} or [...]) or empty: write it as a block "
        "(one entry per line) and import again"
    )


def _edit(text: str, edits: list[tuple[int, int, str]]) -> str:
    for start, end, new in sorted(edits, reverse=True):
        text = text[:start] + new + text[end:]
    return text


def add_assessments(
    text: str,
    track: str,
    stage: str,
    new: Sequence[NewAssessment],
    rescale: Mapping[str, float] | None = None,
) -> str:
    """`text` with `new` appended to the assessments of `track`'s `stage` and the weights of the
    stage's assessments named in `rescale` (id -> weight) replaced; EditError when the places to
    edit cannot be found (an unknown track, flow-style blocks)."""
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    tracks = _get(root, "tracks")
    t = next(
        (
            item
            for item in (tracks.value if isinstance(tracks, yaml.SequenceNode) else [])
            if isinstance(_get(item, "id"), yaml.ScalarNode) and _get(item, "id").value == track  # type: ignore[union-attr]
        ),
        None,
    )
    if t is None:
        raise EditError(f"no track {track!r} in the curriculum")
    stages = _get(t, "stages")
    if not _block(stages, f"tracks[{track}].stages") or stages is None:
        raise EditError(f"track {track!r} has no stages block to add to")
    plan = _get(stages, stage)
    edits: list[tuple[int, int, str]] = []
    if plan is not None and _block(plan, f"{track}/{stage}"):
        assessments = _get(plan, "assessments")
        if assessments is not None and _block(assessments, f"{track}/{stage} assessments"):
            dash = assessments.start_mark.column
            at = _offset_after(text, _last_line(assessments))
            body = "".join(render(a, dash) for a in new)
        else:
            keys = plan.start_mark.column
            at = _offset_after(text, _last_line(plan))
            body = " " * keys + "assessments:\n" + "".join(render(a, keys + 2) for a in new)
        for item in assessments.value if assessments is not None else []:
            aid, weight = _get(item, "id"), _get(item, "weight")
            if rescale and aid is not None and aid.value in rescale and weight is not None:
                value = _number(rescale[aid.value], decimal=True)
                edits.append((weight.start_mark.index, weight.end_mark.index, value))
    else:
        keys = stages.start_mark.column
        at = _offset_after(text, _last_line(stages))
        body = f"{' ' * keys}{stage}:\n{' ' * (keys + 2)}assessments:\n" + "".join(
            render(a, keys + 4) for a in new
        )
    if at == len(text) and text and not text.endswith("\n"):
        body = "\n" + body
    edits.append((at, at, body))
    return _edit(text, edits)
