"""Base handler: HubOAuth identity, scope checks, JSON errors, Jinja pages.

API errors are always JSON `{status, message}` (plus `problems` for bad input), mapped once here
from domain exceptions; pages render templates/error.html instead.
"""

from __future__ import annotations

import json
import traceback
from http import HTTPStatus
from typing import Any

from jupyterhub.services.auth import HubOAuthenticated
from tornado import web

from ..core.permissions import role_of
from ..core.yamlsrc import InputError
from ..hubapi import HubAPIError
from ..store.repo import Invalid, NotFound


class ApiError(web.HTTPError):
    """An error with a message meant for the caller."""

    def __init__(self, status: int, message: str, **extra: Any):
        super().__init__(status, message)
        self.message = message
        self.extra = extra


class BaseHandler(HubOAuthenticated, web.RequestHandler):  # type: ignore[misc]
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

    def json_body(self) -> dict[str, Any]:
        """The request body as a JSON object (400 if it is not one)."""
        try:
            body = json.loads(self.request.body or b"{}")
        except ValueError as e:
            raise ApiError(400, f"request body is not JSON: {e}") from None
        if not isinstance(body, dict):
            raise ApiError(400, "request body must be a JSON object")
        return body

    def write_json(self, obj: Any, status: int = 200) -> None:
        """Send `obj` as JSON."""
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(json.dumps(obj, ensure_ascii=False, default=str))

    def render_page(self, template: str, **ns: Any) -> None:
        """Render a Jinja page from templates/."""
        page = self.ctx.templates.get_template(template).render(prefix=self.ctx.prefix, **ns)
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
        """Expected errors are logged in one line; the rest with a traceback."""
        if isinstance(value, ApiError | InputError | NotFound | Invalid):
            self.ctx.log.info("%s %s -> %s", self.request.method, self.request.path, value)
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
    """Base of the JSON API: errors as JSON, no redirects to login."""

    is_api = True
