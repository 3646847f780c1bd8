"""The sadari service: a tornado application that JupyterHub runs at /services/sadari/.

`SadariService` is a traitlets Application with one init step per concern (database, curriculum,
hub API, web app); `Context` is what handlers get: settings, sessions, curriculum, hub API client,
templates and the service clock. Run by the hub as `python -m sadari.hub.service`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse

from jinja2 import Environment, FileSystemLoader, pass_context, select_autoescape
from jinja2.runtime import Context as JinjaContext
from jupyterhub import __version__ as jupyterhub_version
from jupyterhub.services.auth import HubOAuth
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from tornado import ioloop, web
from traitlets import Instance
from traitlets.config import Application

from .core.curriculum import Curriculum, parse_curriculum
from .core.limits import MAX_JSON_BYTES
from .core.yamlsrc import InputError
from .hubapi import HubAPI, sync_membership
from .locale import install as install_i18n
from .settings import SadariSettings
from .storage import BlobStore, LocalBlobStore
from .store import repo
from .store.db import SchemaOutOfDate, make_engine, require_current, session_factory

T = TypeVar("T")

TEMPLATES = Path(__file__).with_name("templates")
STATIC = Path(__file__).with_name("static")
RESYNC_SECONDS = 300
# read this much past the largest upload limit, so that an upload well over its limit still gets the
# endpoint's clear 413 (a body tornado refuses reaches the trainee as the proxy's bare 503)
BODY_SLACK = 32 * 1024 * 1024


def utcnow() -> datetime:
    """The service clock (UTC). Identity and time always come from the server."""
    return datetime.now(UTC)


@dataclass
class Context:
    """What every handler needs, built once at start-up."""

    settings: SadariSettings
    engine: Engine
    sessions: sessionmaker[Session]
    curriculum: Curriculum
    hub: HubAPI | None
    hub_auth: HubOAuth | None
    templates: Environment
    prefix: str
    blobs: BlobStore
    now: Callable[[], datetime] = utcnow
    log: logging.Logger = logging.getLogger("sadari")
    # set by whoever queues grading jobs through the API: the service's worker takes them at once
    grading_wake: asyncio.Event = field(default_factory=asyncio.Event)

    async def sync_hub(self, usernames: Iterable[str] | None = None) -> dict[str, Any]:
        """Bring hub users and groups in line with the database (all members or `usernames`)."""
        if self.hub is None:
            return {"status": "skipped", "message": "no hub API token (not running under a hub)"}
        with self.sessions() as s:
            wanted = repo.wanted_membership(s, usernames)
        try:
            plan = await sync_membership(self.hub, wanted)
        except Exception as e:  # the record is already right; the periodic sync retries
            self.log.warning("hub sync failed: %s", e)
            return {
                "status": "failed",
                "message": f"{e}; sadari retries within {RESYNC_SECONDS // 60} minutes"
                " / 허브 동기화 실패, 자동으로 다시 시도합니다",
            }
        return {
            "status": "ok",
            "created_users": plan.create_users,
            "created_groups": plan.create_groups,
            "added": plan.add,
            "removed": plan.remove,
        }


def max_body_size(settings: SadariSettings) -> int:
    """The largest request body the HTTP server reads: the largest limit of any endpoint
    (submissions, rosters, JSON) plus BODY_SLACK, so that a body over an endpoint's limit gets
    that endpoint's clear 413; beyond it tornado refuses the request with a bare 400."""
    largest = max(settings.max_submission_bytes, settings.max_roster_bytes, MAX_JSON_BYTES)
    return largest + BODY_SLACK


@pass_context
def jupyterhub_static(ctx: JinjaContext, path: str) -> str:
    """The URL of one of JupyterHub's own static files (its Bootstrap 5 stylesheet, dark-mode
    script, favicon), which the service serves at PREFIX/jupyterhub/static/."""
    return f"{ctx.get('prefix', '/')}jupyterhub/static/{path}?v={jupyterhub_version}"


def page_templates() -> Environment:
    """The Jinja environment of the pages (templates/), with gettext in each page's language
    (locale/: `lang` and `zone` of the render choose the language and the time zone)."""
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(["html"])
    )
    env.globals["jupyterhub_static"] = jupyterhub_static
    return install_i18n(env)


def load_curriculum_file(path: Path) -> Curriculum:
    """Read and validate labs/curriculum.yaml (InputError with file:line on problems)."""
    return parse_curriculum(path.read_text(encoding="utf-8"), str(path))


class SadariService(Application):
    """The sadari service process."""

    name = "sadari-service"
    description = "sadari: learning management for JupyterHub lab programs"
    sadari = Instance(SadariSettings)
    classes = [SadariSettings]
    worker: Any = None  # the service's grading Worker (workers.Worker), closed at exit
    runner: threading.Thread | None = None  # the thread grading the jobs in hand, if any

    def initialize(self, argv: list[str] | None = None) -> None:
        """Parse the command line, then build everything the service needs."""
        super().initialize(argv)
        logging.basicConfig(
            level=logging.INFO, format="[%(levelname)s %(asctime)s %(name)s] %(message)s"
        )
        self.sadari = SadariSettings(parent=self)
        self.init_db()
        self.init_curriculum()
        self.init_hub()
        self.init_web()

    def init_db(self) -> None:
        """Connect and check the schema version (refuse an old schema unless told to upgrade)."""
        self.engine = make_engine(self.sadari.db_url)
        status = require_current(self.engine, upgrade_db=self.sadari.upgrade_db)
        self.log.info("database at revision %s", status.current)
        self.sessions = session_factory(self.engine)

    def init_curriculum(self) -> None:
        """Load the manifest and instantiate it for every cohort in the database."""
        self.curriculum = load_curriculum_file(self.sadari.curriculum_file)
        with self.sessions.begin() as s:
            changed = repo.sync_curriculum(s, self.curriculum, utcnow())
        self.log.info(
            "curriculum %s: %d tracks, %d cohorts, %d rows changed",
            self.curriculum.program_id,
            len(self.curriculum.tracks),
            len(self.curriculum.cohorts),
            changed,
        )

    def init_hub(self) -> None:
        """The hub API client and OAuth helper (absent when not run by a hub)."""
        token = os.environ.get("JUPYTERHUB_API_TOKEN")
        api_url = os.environ.get("JUPYTERHUB_API_URL", "http://127.0.0.1:8081/hub/api")
        self.hub = HubAPI(api_url, token) if token else None
        self.hub_auth = HubOAuth(api_token=token, cache_max_age=60) if token else None
        self.prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/services/sadari/")

    def init_web(self) -> None:
        """The tornado application with every handler under the service prefix; static files
        (hub/static/) at PREFIX/static/; any other path a 404; every response with the security
        headers (handlers/base.py)."""
        from .handlers import default_handlers
        from .handlers.base import DefaultHandler, StaticHandler, log_request

        self.ctx = Context(
            settings=self.sadari,
            engine=self.engine,
            sessions=self.sessions,
            curriculum=self.curriculum,
            hub=self.hub,
            hub_auth=self.hub_auth,
            templates=page_templates(),
            prefix=self.prefix,
            blobs=LocalBlobStore(self.sadari.exchange_dir),
            log=self.log,
        )
        routes = [(self.prefix.rstrip("/") + path, handler) for path, handler in default_handlers]
        self.web = web.Application(
            routes,
            sadari=self.ctx,
            cookie_secret=self.sadari.secret("service-cookie-secret", "SADARI_COOKIE_SECRET"),
            xsrf_cookies=False,  # cookie-authenticated writes are XSRF-checked by HubOAuth
            static_path=str(STATIC),
            static_url_prefix=self.prefix + "static/",
            static_handler_class=StaticHandler,
            default_handler_class=DefaultHandler,
            log_function=log_request,
        )

    async def resync_forever(self) -> None:
        """Sync hub users and groups now (retrying while the hub starts) and every few minutes."""
        delay = 1.0
        while True:
            try:
                ok = (await self.ctx.sync_hub())["status"] != "failed"
            except Exception as e:  # e.g. the database away for a moment: never let the loop die
                self.log.warning("hub sync failed: %s", e)
                ok = False
            # right after start the hub may not answer yet: retry soon, then every few minutes
            delay = RESYNC_SECONDS if ok else min(delay * 2, RESYNC_SECONDS)
            await asyncio.sleep(delay)

    async def warm_forever(self) -> None:
        """Start the servers of classes about to begin (hub/warmup.py), every
        `warm_check_seconds`; a failed check is logged and tried again at the next."""
        from .warmup import warm

        warmed: dict[tuple[str, str], set[str]] = {}
        every = self.sadari.warm_check_seconds
        while every > 0 and self.ctx.hub is not None:
            try:
                await warm(
                    self.ctx.hub,
                    self.ctx.curriculum,
                    self.ctx.now(),
                    warmed,
                    self.sadari.max_servers,
                    self.sadari.server_memory_mb,
                    self.sadari.spawn_concurrency,
                )
            except Exception as e:  # the hub away for a moment: never let the loop die
                self.log.warning("warm-up check failed: %s", e)
            await asyncio.sleep(every)

    async def grade_waiting_forever(self) -> None:
        """Grade the jobs left waiting in the queue (see `service_grading`): at start, then every
        `grading_poll_seconds` or when the API wakes it; one run at a time, in a thread of its
        own (`self.runner`) so that stopping can wait for the job in hand or give it back. The
        service's worker is a `workers.Worker` like every other (live from the start, its
        grader made when the first job comes and kept for the service's lifetime)."""
        from datetime import timedelta

        from . import assessments, workers
        from .store import grading

        if not self.sadari.service_grading:
            return
        poll = max(1, self.sadari.grading_poll_seconds)
        wake = self.ctx.grading_wake
        woken = False
        ops = assessments.Ops(
            self.sadari,
            self.ctx.sessions,
            self.ctx.blobs,
            self.ctx.curriculum,
            workers.SERVICE_WORKER,
            self.ctx.now,
        )
        self.worker = workers.Worker(
            ops,
            who=workers.SERVICE_WORKER,
            workers=self.sadari.grading_workers,
            make_grader=lambda: assessments.autograder_for(self.sadari),
        )
        await asyncio.to_thread(self.worker.start)  # a live worker: what the CLI checks
        while not self.worker.stopping.is_set():
            try:
                # jobs the API queued (it woke us) are ours at once; otherwise only those left
                # waiting a poll or longer (fresh ones may belong to a CLI grading with --work)
                before = None if woken else self.ctx.now() - timedelta(seconds=poll)
                with self.ctx.sessions() as s:
                    n = grading.waiting(s, self.ctx.now(), before)
                if n:
                    self.log.info("grading %d job(s) left waiting in the queue", n)
                    counts = await self._in_thread(partial(self.worker.grade, queued_before=before))
                    self.log.info("graded the waiting jobs: %s", counts)
            except Exception as e:  # never let the loop die (database away, grader missing)
                self.log.warning("grading the waiting jobs failed: %s", e)
            try:
                await asyncio.wait_for(wake.wait(), timeout=poll)
                woken = True
            except TimeoutError:
                woken = False
            wake.clear()

    async def _in_thread(self, fn: Callable[[], T]) -> T:
        """`fn()` in a thread of its own (`self.runner`), awaited."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[T] = loop.create_future()

        def settle(result: Any = None, error: BaseException | None = None) -> None:
            if done.done():
                return
            if error is not None:
                done.set_exception(error)
            else:
                done.set_result(result)

        def run() -> None:
            try:
                args: tuple[Any, ...] = (fn(), None)
            except BaseException as e:  # handed to the awaiting coroutine
                args = (None, e)
            with contextlib.suppress(RuntimeError):  # the loop stopped meanwhile
                loop.call_soon_threadsafe(settle, *args)

        self.runner = threading.Thread(target=run, name="sadari-grading", daemon=True)
        self.runner.start()
        return await done

    def start(self) -> None:
        """Listen on the service URL given by the hub and run forever."""
        url = urlparse(
            os.environ.get("JUPYTERHUB_SERVICE_URL", f"http://127.0.0.1:{self.sadari.service_port}")
        )
        host = os.environ.get("SADARI_SERVICE_BIND_IP") or url.hostname or "127.0.0.1"
        self.web.listen(
            url.port or 80, host, xheaders=True, max_body_size=max_body_size(self.sadari)
        )
        self.log.info("sadari service listening on %s%s", url.geturl(), self.prefix)
        loop = ioloop.IOLoop.current()
        loop.add_callback(self.resync_forever)
        loop.add_callback(self.grade_waiting_forever)
        loop.add_callback(self.warm_forever)
        if self.ctx.hub is not None:  # the hub's server states and activity, for the pages
            loop.add_callback(self.ctx.hub.activity.run_forever)

        def stop(signum: int, _frame: object) -> None:
            self.log.info("sadari service stopping (%s)", signal.Signals(signum).name)
            loop.add_callback_from_signal(loop.stop)

        # the hub stops its services with SIGINT, a service manager with SIGTERM: either way
        # the service stops listening and exits (no KeyboardInterrupt traceback in the hub's log)
        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            loop.start()
        finally:
            if self.worker is not None:
                # the job in hand ends within the grace or goes back to the queue; then the
                # grader's sandbox uids, kernels and threads go, and the heartbeat
                self.worker.close(self.runner)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the service process."""
    app = SadariService()
    try:
        app.initialize(argv)
    except SchemaOutOfDate as e:
        print(f"sadari: {e}", file=sys.stderr)
        sys.exit(3)
    except InputError as e:
        print(f"sadari: the curriculum has problems:\n{e}", file=sys.stderr)
        sys.exit(4)
    app.start()


if __name__ == "__main__":
    main()
