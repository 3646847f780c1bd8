"""Roster import for admins: the preview API and the page (the confirm step is
`POST /api/v1/roster`, handlers/api.py `RosterHandler`, built from the same pieces here).

- `POST /api/v1/roster/preview?filename=&map=HEADER=FIELD&cohort=&value=FIELD:RAW=VALUE`: the
  file as the body (CSV or XLSX) -> every row with what importing it would do (new, updated,
  unchanged, problem), every problem (line, column, value, why), the columns as resolved with
  the distinct values of each (for value mappings); nothing is written. The options are the
  CLI's (`sadari roster import`), each `map` and `value` repeatable.
- `GET /roster`: the page (templates/roster.html, static/roster.js) that uploads, previews,
  maps and confirms through those two endpoints with the page's XSRF token.

The file is read off the event loop (core/roster.py is pure); the mapping remembered from the
last import is laid under the one given.
"""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

from tornado import web

from ..core import permissions as perm
from ..core.roster import Parsed, read_roster
from ..core.roster_mapping import FIELDS, MappingError, RosterMapping
from ..core.roster_preview import Preview
from ..core.yamlsrc import InputError, Problem
from ..store import repo
from .base import ApiError, ApiHandler, BaseHandler
from .pages import PageHandler, program_zone
from .views import text


def upload(handler: BaseHandler) -> tuple[bytes, str, RosterMapping]:
    """The roster of a request: its body (within max_roster_bytes), `filename` and the mapping
    of the query's `map`, `value` and `cohort` (400 naming each bad option)."""
    data = handler.request.body or b""
    limit = handler.ctx.settings.max_roster_bytes
    if len(data) > limit:
        raise ApiError(413, f"roster is {len(data)} bytes; the limit is {limit}", limit=limit)
    filename = handler.text_argument("filename", "roster.csv")
    try:
        mapping = RosterMapping.from_options(
            handler.get_query_arguments("map"),
            handler.get_query_arguments("value"),
            handler.get_query_argument("cohort", None) or None,
        )
    except MappingError as e:
        raise InputError(Problem("mapping", None, w, m) for w, m in e.problems) from None
    return data, filename, mapping


async def read(handler: BaseHandler, data: bytes, filename: str, mapping: RosterMapping) -> Parsed:
    """The file read with `mapping` over the remembered one, off the event loop."""
    with handler.ctx.sessions() as s:
        remembered = repo.remembered_mapping(s)
    curriculum = handler.ctx.curriculum
    return await asyncio.to_thread(read_roster, data, filename, curriculum, mapping, remembered)


def preview_json(
    handler: BaseHandler, data: bytes, parsed: Parsed, preview: Preview, mapping: RosterMapping
) -> dict[str, Any]:
    """The preview as the API sends it (and the page shows it)."""
    file = parsed.file
    with handler.ctx.sessions() as s:
        remembered = repo.remembered_mapping(s)
    return {
        "file": file,
        "sha256": hashlib.sha256(data).hexdigest(),
        "format": parsed.format,
        "encoding": parsed.encoding,
        "columns": [
            {**c.as_dict(), "label": c.label, "samples": list(parsed.samples.get(c.header, ()))}
            for c in parsed.columns
        ],
        "mapping": mapping.as_dict(),
        "remembered": remembered.as_dict(),
        "fields": list(FIELDS),
        "cohorts": [{"id": c.id, "name": text(c.name)} for c in handler.ctx.curriculum.cohorts],
        "rows": [r.as_dict(file) for r in preview.rows],
        "problems": [p.as_dict(file) for p in preview.problems],
        "counts": preview.counts,
        "ok": preview.ok,
    }


class RosterPreviewHandler(ApiHandler):
    """POST /api/v1/roster/preview: what an import would change; nothing is written (admins)."""

    async def post(self) -> None:
        """The preview as JSON (200 with `ok: false` and the problems when the file has some)."""
        self.caller(perm.ADMIN)
        data, filename, mapping = upload(self)
        parsed = await read(self, data, filename, mapping)
        with self.ctx.sessions() as s:
            preview = repo.preview_roster(s, parsed)
        self.write_json(preview_json(self, data, parsed, preview, mapping))


class RosterPage(PageHandler):
    """GET /roster: upload a roster, map its columns and values, preview, confirm (admins)."""

    @web.authenticated
    def get(self) -> None:
        """Render roster.html."""
        who = self.caller(perm.ADMIN)
        with self.ctx.sessions() as s:
            me = self.me(s, who)
            remembered = repo.remembered_mapping(s)
            zone = program_zone(s)
        self.render_page(
            "roster.html",
            me=me,
            zone=zone,
            cohorts=[{"id": c.id, "name": text(c.name)} for c in self.ctx.curriculum.cohorts],
            fields=FIELDS,
            remembered=remembered.as_dict(),
            limit=self.ctx.settings.max_roster_bytes,
        )


roster_handlers = [
    ("/roster", RosterPage),
    ("/api/v1/roster/preview", RosterPreviewHandler),
]
