"""A trainee's notebook rendered read-only for staff pages, with everything the trainee wrote
treated as hostile.

Cells are rendered one by one with nbconvert's filters (markdown, syntax highlighting, ANSI
colours), so each cell can carry the points its test earned. Whatever came from the trainee as
HTML — markdown (which may hold raw HTML) and `text/html` outputs — goes through nh3 with a short
list of tags and attributes: no scripts, styles, SVG, forms, frames or event handlers; links only
to http(s) and mail, images only as inline PNG/JPEG/GIF/WebP data (a relative image URL would make
the staff browser call the hub with its cookies). Highlighted code and ANSI text are escaped by
nbconvert itself. JavaScript, widget and other outputs are not shown; long sources and outputs
are cut (`Limits`), and so is a notebook with too many cells.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from dataclasses import dataclass, field
from typing import Any

import nh3
from markupsafe import Markup, escape

IMAGE_DATA = re.compile(r"^data:image/(png|jpeg|gif|webp);base64,[A-Za-z0-9+/=\s]*$")
LINK = re.compile(r"^(https?:|mailto:)", re.IGNORECASE)
TAGS = set(nh3.ALLOWED_TAGS) - {"area", "map"}
ATTRIBUTES: dict[str, set[str]] = {
    "a": {"href", "title"},
    "img": {"src", "alt", "width", "height", "title"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
    "ol": {"start"},
    "*": {"title", "lang"},
}
IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")


@dataclass(frozen=True)
class Limits:
    """How much of a notebook a page shows."""

    cells: int = 400
    source_chars: int = 20_000
    output_chars: int = 5_000
    outputs_per_cell: int = 20
    image_bytes: int = 1_000_000


def _attribute(tag: str, name: str, value: str) -> str | None:
    if tag == "img" and name == "src":
        return value if IMAGE_DATA.match(value) else None
    if tag == "a" and name == "href":
        return value if LINK.match(value.strip()) else None
    return value


CLEANER = nh3.Cleaner(
    tags=TAGS,
    clean_content_tags={"script", "style", "svg", "math", "template", "noscript"},
    attributes=ATTRIBUTES,
    attribute_filter=_attribute,
    url_schemes={"http", "https", "mailto", "data"},
    url_relative="deny",
    link_rel="noopener noreferrer nofollow",
)


HEADING = re.compile(r"<(/?)h([1-6])\b")
IMG = re.compile(r"<img\b[^>]*>")


def _image(tag: re.Match[str]) -> str:
    """An image tag of cleaned HTML: dropped without a source, given an empty alt without one."""
    html = tag[0]
    if " src=" not in html:
        return ""
    return html if " alt=" in html else html.replace("<img", '<img alt=""', 1)


def sanitise(html: str) -> Markup:
    """Trainee HTML made inert (see the module's docstring), its headings moved three levels
    down (h1 -> h4 …) so that they stay under the page's own."""
    clean = IMG.sub(_image, CLEANER.clean(html))
    return Markup(HEADING.sub(lambda m: f"<{m[1]}h{min(6, int(m[2]) + 3)}", clean))


def markdown(source: str) -> Markup:
    """Markdown (with its raw HTML and math) rendered by nbconvert's renderer, then sanitised."""
    from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath

    renderer = IPythonRenderer(escape=False, exclude_anchor_links=True)
    return sanitise(MarkdownWithMath(renderer=renderer).render(source))


def _cut(text: str, limit: int) -> tuple[str, bool]:
    return (text[:limit], True) if len(text) > limit else (text, False)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _text(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value or "")


@dataclass
class Output:
    """One rendered output: `kind` stream | text | html | image | error | omitted."""

    kind: str
    html: Markup
    cut: bool = False


@dataclass
class Cell:
    """One rendered cell with the nbgrader id its own metadata claims (`grade_id`)."""

    index: int
    kind: str  # markdown | code | raw
    html: Markup
    grade_id: str | None = None
    cut: bool = False
    outputs: list[Output] = field(default_factory=list)


@dataclass
class Notebook:
    """A rendered notebook, or why it could not be shown (`problem`)."""

    name: str
    cells: list[Cell] = field(default_factory=list)
    problem: str | None = None
    more_cells: int = 0

    @property
    def stem(self) -> str:
        """The notebook's name as the gradebook knows it (no folder, no `.ipynb`)."""
        return self.name.rsplit("/", 1)[-1].removesuffix(".ipynb")


def _highlight() -> Any:
    from nbconvert.filters.highlight import Highlight2HTML

    return Highlight2HTML(pygments_lexer="ipython3")  # type: ignore[no-untyped-call]


def _output(out: dict[str, Any], limits: Limits) -> Output:
    from nbconvert.filters import ansi2html

    kind = out.get("output_type")
    if kind == "stream":
        text, cut = _cut(_text(out.get("text")), limits.output_chars)
        return Output("stream", Markup(ansi2html(text)), cut)  # type: ignore[no-untyped-call]
    if kind == "error":
        text, cut = _cut("\n".join(_text(t) for t in out.get("traceback", [])), limits.output_chars)
        return Output("error", Markup(ansi2html(text)), cut)  # type: ignore[no-untyped-call]
    data = out.get("data") or {}
    if not isinstance(data, dict):
        return Output("omitted", Markup(""))
    for mime in IMAGE_TYPES:
        if mime in data:
            payload = _text(data[mime]).replace("\n", "")
            if len(payload) > limits.image_bytes * 4 // 3:
                return Output("omitted", Markup(""), True)
            src = f"data:{mime};base64,{payload}"
            if not IMAGE_DATA.match(src):
                return Output("omitted", Markup(""))
            return Output("image", Markup('<img src="{}" alt="">').format(src))
    if "text/html" in data:
        html, cut = _cut(_text(data["text/html"]), limits.output_chars)
        return Output("html", sanitise(html), cut)
    if "text/markdown" in data:
        md, cut = _cut(_text(data["text/markdown"]), limits.output_chars)
        return Output("html", markdown(md), cut)
    if "text/plain" in data:
        text, cut = _cut(_text(data["text/plain"]), limits.output_chars)
        return Output("text", Markup(ansi2html(text)), cut)  # type: ignore[no-untyped-call]
    return Output("omitted", Markup(""))


def render(name: str, raw: bytes, limits: Limits | None = None) -> Notebook:
    """A notebook's cells rendered (see the module's docstring); a `problem` instead when it is
    not a readable notebook."""
    limits = limits or Limits()
    nb = Notebook(name)
    try:
        doc = json.loads(raw.decode("utf-8"))
        cells = doc["cells"]
        if not isinstance(cells, list):
            raise TypeError("cells is not a list")
    except (UnicodeDecodeError, ValueError, KeyError, TypeError) as e:
        nb.problem = f"{type(e).__name__}: {str(e)[:200]}"
        return nb
    highlight = _highlight()
    nb.more_cells = max(0, len(cells) - limits.cells)
    for i, cell in enumerate(cells[: limits.cells]):
        if not isinstance(cell, dict):
            continue
        source, cut = _cut(_text(cell.get("source")), limits.source_chars)
        grade_id = _dict(_dict(cell.get("metadata")).get("nbgrader")).get("grade_id")
        kind = cell.get("cell_type")
        if kind == "markdown":
            html = markdown(source)
        elif kind == "code":
            html = Markup(highlight(source))
        else:
            kind, html = "raw", Markup("<pre>{}</pre>").format(source)
        rendered = Cell(i, str(kind), html, str(grade_id)[:200] if grade_id else None, cut)
        if kind == "code":
            outputs = _list(cell.get("outputs"))
            for out in outputs[: limits.outputs_per_cell]:
                if isinstance(out, dict):
                    rendered.outputs.append(_output(out, limits))
            if len(outputs) > limits.outputs_per_cell:
                rendered.outputs.append(Output("omitted", Markup(""), True))
        nb.cells.append(rendered)
    return nb


def notebooks(archive: bytes, limits: Limits | None = None) -> list[Notebook]:
    """Every notebook of a submission's archive (a zip), rendered, in name order."""
    out = []
    with zipfile.ZipFile(io.BytesIO(archive)) as zf:
        for info in sorted(zf.infolist(), key=lambda i: i.filename):
            if info.filename.endswith(".ipynb") and not info.is_dir():
                out.append(render(info.filename, zf.read(info), limits))
    return out


def text(value: str, limit: int) -> tuple[Markup, bool]:
    """Plain text (a log) escaped and cut to `limit` characters."""
    cut_text, cut = _cut(value, limit)
    return escape(cut_text), cut
