"""Base handler: HubOAuth identity, scope checks, JSON errors, Jinja pages, security headers.

API errors are always JSON `{status, message}` (plus `problems` for bad input, `field` and
`limit` for a text field too long), mapped once here from domain exceptions; pages render
templates/error.html instead. Every response of the service (pages, API, static files, the OAuth
callback, 404s and errors) carries the security headers of `SECURITY_HEADERS`, API responses also
`Cache-Control: no-store`. JSON bodies are bounded here (core/limits.py: size, nesting, lengths
of text fields) and log lines show at most a short excerpt of what callers sent.
"""

from __future__ import annotations

import json
import traceback
from http import HTTPStatus
from typing import Any

from jupyterhub.services.auth import HubOAuthenticated
from tornado import web
from tornado.log import access_log, app_log, gen_log

from ..core.limits import (
    MAX_JSON_BYTES,
    FieldProblem,
    TooDeep,
    check_fields,
    check_json_depth,
    check_text,
    excerpt,
)
from ..core.permissions import role_of
from ..core.yamlsrc import InputError
from ..hubapi import HubAPIError
from ..store.repo import Invalid, NotFound

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'self'",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
URI_LOG_CHARS = 200  # of a request's path and query in a log line
MESSAGE_LOG_CHARS = 300  # of an error message (it may quote what the caller sent)


def request_summary(handler: web.RequestHandler) -> str:
    """`METHOD URI (ip)` for log lines, the URI cut short."""
    r = handler.request
    return f"{r.method} {excerpt(r.uri, URI_LOG_CHARS, quote=False)} ({r.remote_ip})"


def log_request(handler: web.RequestHandler) -> None:
    """The access log line of a request (the application's `log_function`): tornado's, with
    the URI cut short."""
    status = handler.get_status()
    log = access_log.info if status < 400 else access_log.warning
    if status >= 500:
        log = access_log.error
    log("%d %s %.2fms", status, request_summary(handler), 1000.0 * handler.request.request_time())


class ApiError(web.HTTPError):
    """An error with a message meant for the caller."""

    def __init__(self, status: int, message: str, **extra: Any):
        super().__init__(status, message)
        self.message = message
        self.extra = extra


class Hardened(web.RequestHandler):
    """Mixin of every handler of the service: the security headers (tornado sets the default
    headers again before writing an error, so error pages get them too) and error log lines
    that quote only a short excerpt of the request. It is a RequestHandler: list it after
    jupyterhub's mixins (HubOAuthenticated), which must come before RequestHandler."""

    def set_default_headers(self) -> None:
        """SECURITY_HEADERS on every response."""
        super().set_default_headers()
        for name, value in SECURITY_HEADERS.items():
            self.set_header(name, value)

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        """tornado's log lines, with the request and the error message cut short."""
        if isinstance(value, web.HTTPError):
            if value.log_message:
                message = value.log_message % value.args if value.args else value.log_message
                gen_log.warning(
                    "%d %s: %s",
                    value.status_code,
                    request_summary(self),
                    excerpt(message, MESSAGE_LOG_CHARS, quote=False),
                )
            return
        app_log.error("Uncaught exception %s", request_summary(self), exc_info=(typ, value, tb))


class StaticHandler(Hardened, web.StaticFileHandler):
    """The service's static files (hub/static/ at PREFIX/static/), with the security headers."""


class BaseHandler(HubOAuthenticated, Hardened):  # type: ignore[misc]
    """Common ground of every sadari handler."""

    is_api = False

    @property
    def ctx(self) -> Any:
        """The service Context."""
        return self.settings["sadari"]

    @property
    def hub_auth(self) -> Any:  # type: ignore[override]
        """HubOAuth of the service (None when not run by a hub)."""
        return self.ctx.hub_auth

    async def prepare(self) -> None:
        """Identify the caller without blocking the event loop (HubAuth caches it per request)."""
        if self.hub_auth is not None:
            await self.hub_auth.get_user(self, sync=False)

    def caller(self, *scopes: str) -> dict[str, Any]:
        """The authenticated user or service model, holding one of `scopes`; else 401/403."""
        model = self.hub_auth.get_user(self) if self.hub_auth else None
        if not model:
            raise ApiError(
                401,
                "Log in through JupyterHub or send 'Authorization: token …'. "
                "/ 로그인이 필요합니다.",
            )
        if not self.hub_auth.check_scopes(self.hub_scopes, model):
            raise ApiError(
                403,
                f"{model['name']} may not use the sadari service. / sadari 사용 권한이 없습니다.",
            )
        if scopes and not any(self.hub_auth.check_scopes({s}, model) for s in scopes):
            raise ApiError(
                403,
                f"{model['name']} lacks permission: needs {' or '.join(scopes)}. "
                "/ 권한이 없습니다.",
            )
        model["sadari_role"] = role_of(set(model.get("scopes", [])))
        return model

    def json_body(self, **limits: int) -> dict[str, Any]:
        """The request body as a JSON object, else a 4xx saying why: at most MAX_JSON_BYTES
        (413), nested at most MAX_JSON_DEPTH deep, JSON, an object, and each of its text fields
        within its limit (core/limits.py: reasons, usernames, any other field; `limits` gives
        fields of one endpoint limits of their own)."""
        raw = self.request.body or b"{}"
        if len(raw) > MAX_JSON_BYTES:
            raise ApiError(
                413,
                f"the request body is {len(raw):,} bytes; the limit for JSON is "
                f"{MAX_JSON_BYTES:,} / 요청 본문이 너무 큽니다",
                limit=MAX_JSON_BYTES,
            )
        check_json_depth(raw)
        try:
            body = json.loads(raw)
        except (ValueError, RecursionError) as e:
            raise ApiError(
                400, f"request body is not JSON: {excerpt(e, 200, quote=False)}"
            ) from None
        if not isinstance(body, dict):
            raise ApiError(400, "request body must be a JSON object")
        check_fields(body, limits)
        return body

    def text_argument(self, name: str, default: str, limit: int | None = None) -> str:
        """A query argument within its length limit (core/limits.py `field_limit`), else 400."""
        return check_text(name, self.get_argument(name, default), limit)

    def write_json(self, obj: Any, status: int = 200) -> None:
        """Send `obj` as JSON."""
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(json.dumps(obj, ensure_ascii=False, default=str))

    def render_page(self, template: str, **ns: Any) -> None:
        """Render a Jinja page from templates/ (`static_url` names files in hub/static/)."""
        page = self.ctx.templates.get_template(template).render(
            prefix=self.ctx.prefix, static_url=self.static_url, **ns
        )
        self.finish(page)

    def _error(self, exc: BaseException | None, status: int) -> tuple[int, str, dict[str, Any]]:
        if isinstance(exc, ApiError):
            return exc.status_code, exc.message, exc.extra
        if isinstance(exc, InputError):
            return (
                400,
                "the input has problems / 입력에 문제가 있습니다",
                {"problems": [str(p) for p in exc.problems]},
            )
        if isinstance(exc, FieldProblem):
            return 400, str(exc), {"field": exc.field, "limit": exc.limit}
        if isinstance(exc, TooDeep):
            return 400, str(exc), {"limit": exc.limit}
        if isinstance(exc, NotFound):
            return 404, str(exc), {}
        if isinstance(exc, Invalid):
            return 400, str(exc), {}
        if isinstance(exc, HubAPIError):
            return 502, f"JupyterHub refused: {exc}", {}
        if isinstance(exc, web.HTTPError):
            reason = exc.log_message or HTTPStatus(exc.status_code).phrase
            return exc.status_code, reason % exc.args if exc.args else reason, {}
        return status, HTTPStatus(status).phrase, {}

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        """Expected errors are logged in one line (their message cut short); the rest with a
        traceback."""
        if isinstance(value, ApiError | InputError | NotFound | Invalid | FieldProblem | TooDeep):
            self.ctx.log.info(
                "%s %s -> %s",
                self.request.method,
                excerpt(self.request.path, URI_LOG_CHARS, quote=False),
                excerpt(value, MESSAGE_LOG_CHARS, quote=False),
            )
        else:
            super().log_exception(typ, value, tb)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """JSON for the API, a page for the rest."""
        exc = kwargs.get("exc_info", (None, None, None))[1]
        status, message, extra = self._error(exc, status_code)
        self.set_status(status)
        if self.is_api:
            self.write_json({"status": status, "message": message, **extra}, status)
            return
        if status >= 500 and exc is not None and not isinstance(exc, web.HTTPError):
            self.ctx.log.error("".join(traceback.format_exception(exc)))
        self.render_page("error.html", status=status, message=message, extra=extra)


class ApiHandler(BaseHandler):
    """Base of the JSON API: errors as JSON, no redirects to login, never cached."""

    is_api = True

    def set_default_headers(self) -> None:
        """The security headers, and no caching of answers that are someone's data."""
        super().set_default_headers()
        self.set_header("Cache-Control", "no-store")


class DefaultHandler(BaseHandler):
    """Any path no route matches (the application's `default_handler_class`): 404, as JSON
    under PREFIX/api/, else as a page."""

    @property
    def is_api(self) -> bool:  # type: ignore[override]
        """JSON for API paths."""
        return self.request.path.startswith(self.ctx.prefix + "api/")

    def set_default_headers(self) -> None:
        """Like ApiHandler's for API paths."""
        super().set_default_headers()
        if self.is_api:
            self.set_header("Cache-Control", "no-store")

    def prepare(self) -> None:
        """Always 404, before asking who the caller is."""
        raise ApiError(
            404,
            f"no such page: {self.request.method} "
            f"{excerpt(self.request.path, URI_LOG_CHARS, quote=False)} / 없는 주소입니다",
        )
