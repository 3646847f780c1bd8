"""The `sadari` command: run, roster import, curriculum check, demo seed, assessments, stage
selection and teams, db upgrade/status.

Commands read the same settings as the hub and the service (environment variables, see
settings.py) and change the database of record directly; when the service is running they ask it
to bring the hub's users and groups in line right away (it also does so on start and every few
minutes).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .assessments import OperationError
from .core.curriculum import Curriculum
from .core.roster import Parsed, read_roster
from .core.roster_mapping import FIELDS as ROSTER_FIELDS
from .core.roster_mapping import MappingError, RosterMapping
from .core.roster_preview import Preview
from .core.yamlsrc import InputError, Problem
from .settings import SadariSettings
from .store import repo
from .store.db import SchemaOutOfDate, make_engine, require_current, schema_status, session_factory
from .store.db import upgrade as db_upgrade

if TYPE_CHECKING:
    from .workers import Worker


def _settings() -> SadariSettings:
    return SadariSettings()


def _load_curriculum(settings: SadariSettings) -> Curriculum:
    from .service import load_curriculum_file

    return load_curriculum_file(settings.curriculum_file)


def _open_db(settings: SadariSettings, upgrade: bool = False):  # type: ignore[no-untyped-def]
    engine = make_engine(settings.db_url)
    require_current(engine, upgrade_db=upgrade)
    return engine, session_factory(engine)


def _post_service(settings: SadariSettings, path: str, timeout: float) -> Any:
    """POST the running service's `api/v1/<path>` with the automation token; its JSON answer.
    Raises URLError/OSError when it cannot be reached."""
    url = settings.bind_url.rstrip("/") + "/services/sadari/api/v1/" + path
    req = urllib.request.Request(
        url,
        method="POST",
        data=b"{}",
        headers={"Authorization": f"token {settings.automation_token}"},
    )
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return json.loads(resp.read() or b"null")


def ask_service_to_sync(settings: SadariSettings) -> str:
    """POST /api/v1/sync with the automation token; a one-line outcome."""
    try:
        body = _post_service(settings, "sync", 30)
        return f"hub synced ({len(body.get('created_users', []))} new hub users)"
    except (urllib.error.URLError, OSError) as e:
        return f"hub not reached ({e}); the service syncs users and groups when it starts"


def cmd_db(args: argparse.Namespace) -> int:
    """`sadari db upgrade|status|scorecards [--rebuild]`."""
    s = _settings()
    if args.action == "scorecards":
        return _scorecards(s, args.rebuild)
    engine = make_engine(s.db_url)
    status = db_upgrade(engine) if args.action == "upgrade" else schema_status(engine)
    print(f"database: {engine.url.render_as_string(hide_password=True)}")
    print(
        f"revision: {status.current or '(empty)'}  head: {status.head}  "
        f"{'up to date' if status.up_to_date else 'UPGRADE NEEDED: sadari db upgrade'}"
    )
    return 0 if status.up_to_date else 1


def _scorecards(settings: SadariSettings, rebuild: bool) -> int:
    """Compare every trainee's scorecard with the history (exit 1 when one differs), or rewrite
    them all from it."""
    from .store import scorecards

    engine, sessions = _open_db(settings)
    with sessions.begin() as db:
        count = scorecards.rebuild(db, datetime.now(UTC)) if rebuild else 0
        stale = [] if rebuild else scorecards.stale(db)
    engine.dispose()
    if rebuild:
        print(f"scorecards rebuilt from the history: {count} trainees")
        return 0
    if stale:
        print(
            f"{len(stale)} scorecards differ from the history (member ids "
            f"{', '.join(map(str, stale[:20]))}{' ...' if len(stale) > 20 else ''}): "
            "sadari db scorecards --rebuild"
        )
        return 1
    print("scorecards agree with the history")
    return 0


def cmd_curriculum_check(args: argparse.Namespace) -> int:
    """`sadari curriculum check [--update] [--install]`: the manifest against its schema and the
    files in labs/, nbgrader's own validation of the assessments' notebooks and the packages they
    declare (hub/courses.py); --update runs nbgrader's metadata update on the notebooks that need
    it, --install pip-installs missing packages where grading runs in this Python."""
    from . import courses

    s = _settings()
    curriculum = _load_curriculum(s)
    files = courses.LabsFiles(Path(s.labs_dir))
    report = courses.check(s, curriculum, files)
    changed: list[str] = []
    if args.update and report.stale:
        changed = courses.update_notebooks(files, report.stale)
        for line in changed:
            print(line)
        report = courses.check(s, curriculum, files)
    refused: list[str] = []
    if args.install and report.packages:
        done, refused = courses.install_packages(report, s.grader)
        for line in done:
            print(line)
        changed += done
        if done:
            report = courses.check(s, curriculum, files)
    for line in courses.package_lines(report, s.grader):
        print(line)
    for line in refused:
        print(f"sadari: refused: {line}", file=sys.stderr)
    if report.problems:
        if not changed:
            raise InputError(report.problems)
        problems = "\n".join(str(p) for p in report.problems)
        print(f"sadari: still to fix / 남은 문제:\n{problems}", file=sys.stderr)
        return 2
    print(f"{s.curriculum_file}: OK — {courses.summary(curriculum)}")
    return 2 if refused else 0


def cmd_course_import(args: argparse.Namespace) -> int:
    """`sadari course import PATH --track T --stage S --due D [--assignment A ...] [--id]
    [--title] [--weight] [--rescale] [--dry-run]`: bring an nbgrader course's assignments into
    labs/ and the curriculum (hub/courses.py)."""
    from . import courses

    opts = courses.ImportOptions(
        track=args.track,
        stage=args.stage,
        due=args.due,
        assignments=args.assignment or [],
        id=args.id,
        title=args.title,
        title_en=args.title_en,
        weight=args.weight,
        rescale=args.rescale,
        dry_run=args.dry_run,
    )
    courses.import_course(_settings(), Path(args.path), opts, print)
    return 0


def print_preview(parsed: Parsed, preview: Preview) -> None:
    """The columns as resolved, every row that would change or has a problem, and the counts
    (unchanged rows only counted)."""
    shown = []
    for c in parsed.columns:
        target = f"attribute {c.attribute}" if c.attribute else c.target
        shown.append(f"{c.header or '?'} -> {target}" + (f" ({c.how})" if c.how != "known" else ""))
    print(
        f"{parsed.file}: {parsed.format.upper()}{f', {parsed.encoding}' if parsed.encoding else ''}"
    )
    if shown:
        print("columns: " + "; ".join(shown))
    for r in preview.rows:
        if r.status == "unchanged":
            continue
        changes = ", ".join(
            f"{c.field}: {c.old} -> {c.new}" if c.old is not None else f"{c.field}={c.new}"
            for c in r.changes
        )
        who = f"{r.username} {r.name}".strip() or "-"
        print(f"  line {r.line:>5}  {r.status:<9}  {who}" + (f"  ({changes})" if changes else ""))
        for p in r.problems:
            print(f"               {p.column + ': ' if p.column else ''}{p.message}")
    n = preview.counts
    print(
        f"preview: {n['new']} new, {n['updated']} updated, {n['unchanged']} unchanged, "
        f"{n['problem']} with problems"
    )


def cmd_roster_import(args: argparse.Namespace) -> int:
    """`sadari roster import FILE [--map H=FIELD] [--cohort C] [--value F:RAW=V] [--dry-run]`:
    the preview, then all rows or none; the mapping is remembered for the next import."""
    s = _settings()
    path = Path(args.file)
    data = path.read_bytes()
    try:
        mapping = RosterMapping.from_options(args.map or (), args.value or (), args.cohort)
    except MappingError as e:
        problems = [Problem("sadari roster import", None, w, m) for w, m in e.problems]
        raise InputError(problems) from None
    curriculum = _load_curriculum(s)
    actor = args.actor or f"cli:{os.environ.get('USER', 'unknown')}"
    _, sessions = _open_db(s)
    now = datetime.now(UTC)
    with sessions() as session:
        repo.sync_curriculum(session, curriculum, now)
        remembered = repo.remembered_mapping(session)
        parsed = read_roster(data, str(path), curriculum, mapping, remembered)
        preview = repo.preview_roster(session, parsed)
        print_preview(parsed, preview)
        if not preview.ok:
            raise InputError(preview.errors())
        report = repo.import_roster(
            session,
            parsed.rows,
            data=data,
            file=path.name,
            actor=actor,
            now=now,
            mapping=mapping,
        )
        if args.dry_run:
            session.rollback()
        else:
            session.commit()
    print(
        f"{path}: {len(parsed.rows)} rows — {len(report.created)} new, {len(report.updated)} "
        f"updated, {len(report.unchanged)} unchanged"
        f"{' (dry run: nothing written)' if args.dry_run else ''}"
    )
    if not args.dry_run and (report.created or report.updated):
        print(ask_service_to_sync(s))
    return 0


def cmd_demo_seed(args: argparse.Namespace) -> int:
    """`sadari demo seed [--trainees N] [--week]`: the demo cohort, and with --week a week of it
    (hub/demo.py); idempotent. Then the running service syncs the hub, as after a roster import."""
    from . import demo

    s = _settings()
    trainees = args.trainees or (demo.WEEK_TRAINEES if args.week else 12)
    _, sessions = _open_db(s)
    roster, week = demo.seed(
        s, _load_curriculum(s), sessions, trainees, week=args.week, progress=ProgressBar()
    )
    print(f"demo cohort: {trainees + 2} people ({len(roster.created)} new)")
    for line in week.lines() if week else ():
        print(line)
    print(
        "DEMO logins / 데모 계정: admin, instructor, "
        f"trainee001 … trainee{trainees:03d}; password / 비밀번호: {s.demo_password}"
    )
    if roster.created or roster.updated:
        print(ask_service_to_sync(s))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """`sadari run`: start JupyterHub (proxy, hub, sadari service) with jupyterhub_config.py."""
    s = _settings()
    if s.spawner == "local":
        from .accounts import can_create_accounts, make_private

        why = can_create_accounts()
        if why:
            print(f"sadari: refusing to serve trainees: {why}", file=sys.stderr)
            return 2
        make_private(Path(s.data_dir), Path(s.labs_dir))
    os.umask(0o077)  # what the platform writes (databases, exchange, courses) is its own
    engine = make_engine(s.db_url)
    require_current(engine, upgrade_db=args.upgrade_db)
    config = Path(s.project_dir) / "jupyterhub_config.py"
    env = dict(os.environ, SADARI_PROJECT_DIR=s.project_dir)
    if args.upgrade_db:
        env["SADARI_UPGRADE_DB"] = "1"
    hub = str(Path(sys.executable).parent / "jupyterhub")
    print(f"sadari: starting JupyterHub on {s.bind_url} (data in {s.data_dir})", flush=True)
    if s.authenticator == "demo":
        print(
            f"DEMO logins / 데모 계정: admin, instructor, trainee001 …; password / 비밀번호: "
            f"{s.demo_password}",
            flush=True,
        )
    print(
        "sadari: Ctrl-C stops everything; `sadari restart` restarts the hub and keeps everyone's "
        "server running / Ctrl-C는 모두 정지, `sadari restart`는 서버를 유지한 채 허브만 재시작",
        flush=True,
    )
    from .supervisor import HubAPI, Supervisor

    api = HubAPI(f"http://127.0.0.1:{s.hub_port}/hub/api", s.supervisor_token)
    supervisor = Supervisor(
        [hub, "-f", str(config)],
        env,
        Path(s.data_dir),
        api,
        log=lambda line: print(f"sadari: {line}", flush=True),
    )
    return supervisor.run()


def cmd_restart(args: argparse.Namespace) -> int:
    """`sadari restart`: restart the hub of the running `sadari run`; servers keep running."""
    from .supervisor import restart

    print(restart(Path(_settings().data_dir)))
    return 0


class ProgressBar:
    """A one-line progress bar on stderr: done/total, rate and ETA (call with done=0 to start)."""

    def __init__(self) -> None:
        self.started = time.monotonic()

    def __call__(self, done: int, total: int, label: str) -> None:
        """Redraw the bar."""
        if done == 0:
            self.started = time.monotonic()
        elapsed = max(time.monotonic() - self.started, 1e-6)
        rate = done / elapsed
        eta = (total - done) / rate if rate else 0
        width = 30
        filled = int(width * done / total) if total else width
        print(
            f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {rate:.2f}/s "
            f"ETA {eta:.0f}s {label:<20}",
            end="" if done < total else "\n",
            file=sys.stderr,
            flush=True,
        )


def _ops(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from .assessments import Ops
    from .storage import LocalBlobStore

    s = _settings()
    _, sessions = _open_db(s)
    curriculum = _load_curriculum(s)
    with sessions.begin() as session:
        repo.sync_curriculum(session, curriculum, datetime.now(UTC))
    actor = args.actor or f"cli:{os.environ.get('USER', 'unknown')}"
    return Ops(s, sessions, LocalBlobStore(s.exchange_dir), curriculum, actor)


def cmd_assessment(args: argparse.Namespace) -> int:
    """`sadari assessment release|collect|autograde|feedback|export ID`."""
    from . import assessments as ops_
    from . import workers as workers_

    ops = _ops(args)
    aid, cohort = args.assessment, args.cohort
    if args.action == "release":
        for r in ops_.release(ops, aid, cohort):
            print(f"released {aid} v{r['version']} to {r['cohort']}: {', '.join(r['notebooks'])}")
    elif args.action == "collect":
        collected = ops_.collect(ops, aid, cohort)
        for c, sid, dest in collected:
            print(f"{c}: submission {sid} -> {dest}")
        print(f"collected {len(collected)} submissions (latest per trainee)")
    elif args.action == "autograde":
        if args.queue_only:
            counts = workers_.autograde(ops, aid, None, cohort, queue_only=True)
        elif args.work:  # this process is a grading worker for these jobs
            worker = workers_.Worker(
                ops,
                ops_.autograder_for(ops.settings),
                who=ops.actor,
                workers=ops.settings.grading_workers,
                lease_seconds=args.lease,
            )
            counts, released = _as_worker(
                worker,
                lambda: workers_.autograde(
                    ops, aid, None, cohort, progress=ProgressBar(), worker=worker
                ),
            )
            if released is not None:
                return _stopped(released)
        else:
            return _autograde_following(ops, aid, cohort)
        print(f"{aid}: " + ", ".join(f"{n} {status}" for status, n in sorted(counts.items())))
    elif args.action == "feedback":
        report = ops_.feedback(ops, aid, cohort)
        print(f"{aid}: feedback released for {len(report['released'])} submissions")
        if report["held"]:
            print(
                f"{aid}: feedback held back from {len(report['held'])} trainee(s) who could still "
                "submit (it shows the hidden tests) / 다시 제출할 수 있는 교육생에게는 보내지 않음:"
            )
        for h in report["held"]:
            until = f"until {h['until']}" if h["until"] else "no date in sight"
            earlier = " (feedback released earlier stays)" if h["earlier_feedback"] else ""
            print(f"  {h['cohort']}/{h['username']} [{h['why']}, {until}]{earlier}: {h['reason']}")
    elif args.action == "export":
        out = Path(args.output or f"{aid}-grades.csv")
        print(f"{out}: {ops_.export(ops, aid, out, cohort)} rows")
    return 0


NO_WORKER = (
    "no grading worker is running, so nobody grades {n} queued job(s) of {aid} yet; they stay "
    "queued. Start one: `sadari grading work --forever` (or `sadari run`, whose service grades), "
    "or grade them in this process: `sadari assessment autograde {aid} --work` / 실행 중인 채점 "
    "워커가 없어 작업이 대기열에 남아 있습니다: `sadari grading work --forever`로 워커를 시작하거나 "
    "--work로 이 프로세스에서 채점하세요"
)


def _wake_service(settings: SadariSettings, aid: str, cohort: str | None) -> None:
    """Ask the running service to grade the assessment's queued jobs now (its worker otherwise
    looks every `grading_poll_seconds`): POST its autograde API, which queues (nothing new
    here) and wakes its worker. Best effort: unreachable, the worker takes them at its next
    look."""
    query = f"?cohort={urllib.parse.quote(cohort)}" if cohort else ""
    with contextlib.suppress(urllib.error.URLError, OSError, ValueError):
        _post_service(settings, f"assessments/{urllib.parse.quote(aid)}/autograde{query}", 10)


def _autograde_following(ops, aid: str, cohort: str | None) -> int:  # type: ignore[no-untyped-def]
    """`sadari assessment autograde`: queue, then follow the workers grading those jobs until
    they are done (Ctrl-C stops the following, not the grading); the summary line."""
    from . import workers as workers_
    from .store import grading

    # Ctrl-C stops the following even where SIGINT came ignored (a command started in the
    # background of a script inherits SIG_IGN, and Python then keeps it)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    _, ids, jobs = workers_.queue(ops, aid, cohort)
    if jobs:
        with ops.sessions() as s:
            workers = grading.live(s, ops.now())
        if not workers:
            print(f"sadari: {NO_WORKER.format(n=len(jobs), aid=aid)}", file=sys.stderr)
            return 3
        if any(w.who == workers_.SERVICE_WORKER for w in workers):
            _wake_service(ops.settings, aid, cohort)
    try:
        counts = workers_.follow(ops, jobs, ids, progress=ProgressBar())
    except KeyboardInterrupt:
        print(
            "\nsadari: stopped following; the jobs not graded yet stay queued and the grading "
            "workers grade them (`sadari assessment autograde` follows them again) / 진행 표시만 "
            "멈췄습니다: 남은 작업은 대기열에 있고 채점 워커가 채점합니다",
            file=sys.stderr,
        )
        return 130
    except workers_.NoWorker as e:
        print(f"\nsadari: {NO_WORKER.format(n=e.waiting, aid=aid)}", file=sys.stderr)
        return 3
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    print(f"{aid}: {summary or 'nothing to grade'}")
    return 0


def _as_worker(
    worker: Worker, task: Callable[[], dict[str, int]]
) -> tuple[dict[str, int], int | None]:
    """Run the worker's grading `task` in a thread while this one waits for it or for SIGINT or
    SIGTERM; either way the worker closes (Worker.close: the job in hand finishes within a short
    grace or is given back, the grader is closed, the heartbeat goes). (the task's counts, None),
    or ({}, how many jobs were given back) when a signal stopped it."""
    import signal
    import threading

    out: dict[str, Any] = {}

    def run() -> None:
        try:
            out["counts"] = task()
        except BaseException as e:  # handed to the main thread
            out["error"] = e

    runner = threading.Thread(target=run, name="sadari-grading", daemon=True)
    stop = threading.Event()
    previous = {
        sig: signal.signal(sig, lambda _signum, _frame: stop.set())
        for sig in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        worker.start()
        runner.start()
        while runner.is_alive() and not stop.wait(0.2):
            pass
        if stop.is_set():
            print(
                "\nsadari: stopping: the job in hand finishes within a few seconds or goes back "
                "to the queue / 중지 중: 진행 중인 작업은 곧 끝나거나 대기열로 돌아갑니다",
                file=sys.stderr,
                flush=True,
            )
    finally:
        released = worker.close(runner)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if stop.is_set():
        return {}, released
    if "error" in out:
        raise out["error"]
    counts: dict[str, int] = out.get("counts", {})
    return counts, None


def _stopped(released: int) -> int:
    print(
        f"sadari: stopped; {released} job(s) given back to the queue for the next worker / "
        f"중지됨: 작업 {released}개를 대기열로 되돌림",
        file=sys.stderr,
    )
    return 130


def cmd_grading(args: argparse.Namespace) -> int:
    """`sadari grading work`: grade every queued job (any assessment) until none is left, as a
    grading worker; with --forever, wait for more (every `grading_poll_seconds`) until SIGINT or
    SIGTERM."""
    from . import assessments as ops_
    from . import workers as workers_

    ops = _ops(args)
    worker = workers_.Worker(
        ops,
        ops_.autograder_for(ops.settings),
        who=ops.actor,
        workers=ops.settings.grading_workers,
        lease_seconds=args.lease,
    )

    def summary(counts: dict[str, int]) -> str:
        return ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))

    if not args.forever:
        counts, released = _as_worker(worker, lambda: worker.grade(progress=ProgressBar()))
        if released is not None:
            return _stopped(released)
        print(f"grading: {summary(counts) or 'nothing queued'}")
        return 0
    poll = max(1, ops.settings.grading_poll_seconds)
    print(
        f"grading: worker {worker.id} ({ops.settings.grader}) takes queued jobs, looking every "
        f"{poll}s; SIGINT or SIGTERM stops it",
        flush=True,
    )
    totals: dict[str, int] = {}

    def report(counts: dict[str, int]) -> None:
        for k, n in counts.items():
            totals[k] = totals.get(k, 0) + n
        print(f"grading: {summary(counts)}", flush=True)

    _, released = _as_worker(worker, lambda: worker.forever(poll, report))
    print(
        f"grading: worker stopped ({summary(totals) or 'nothing graded'}"
        + (f"; {released} job(s) given back to the queue" if released else "")
        + ")",
        flush=True,
    )
    return 0


def cmd_deadline(args: argparse.Namespace) -> int:
    """`sadari deadline set ID WHEN` / `sadari deadline extend ID WHEN --user U` (--reason)."""
    from .core.curriculum import parse_due
    from .store import exchange as ex

    ops = _ops(args)
    due = parse_due(args.when).absolute
    if args.action == "extend" and not args.username:
        raise repo.Invalid("extend needs --user")
    if due is None:
        raise repo.Invalid(
            "give the new due date as an ISO date-time with offset, e.g. 2026-12-05T18:00:00+09:00"
        )
    with ops.sessions.begin() as s:
        for a in ex.cohort_assessments(s, args.assessment, args.cohort):
            if args.action == "set":
                ex.set_due(s, a, due, actor=ops.actor, reason=args.reason, now=ops.now())
            else:
                ex.grant_extension(
                    s, a, args.username, due, actor=ops.actor, reason=args.reason, now=ops.now()
                )
            print(f"{a.stage.track.cohort.slug}/{a.slug}: {args.action} -> {due.isoformat()}")
    return 0


def _selection_env(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """(settings, sessions, curriculum, actor) with the curriculum synced to the database."""
    s = _settings()
    _, sessions = _open_db(s)
    curriculum = _load_curriculum(s)
    with sessions.begin() as session:
        repo.sync_curriculum(session, curriculum, datetime.now(UTC))
    return s, sessions, curriculum, args.actor or f"cli:{os.environ.get('USER', 'unknown')}"


def _export(path: str, rows: list[dict], sheet: str) -> None:  # type: ignore[type-arg]
    from .selection import export_bytes

    out = Path(path)
    out.write_bytes(export_bytes(rows, "xlsx" if out.suffix.lower() == ".xlsx" else "csv", sheet))
    print(f"{out}: {len(rows)} rows")


def cmd_select(args: argparse.Namespace) -> int:
    """`sadari select preview|override|confirm|apply|rollback|show|list|inputs` (hub/selection.py)."""
    from . import selection as workflow
    from .store import selection as sdb

    s, sessions, curriculum, actor = _selection_env(args)
    now, act, changed = datetime.now(UTC), args.action, True
    with sessions.begin() as session:
        if act == "inputs":
            data = Path(args.file).read_bytes()
            r = workflow.import_inputs(session, data, args.file, args.name, actor=actor, now=now)
            print(
                f"{args.file}: {args.name} for {r['rows']} trainees — {r['created']} new, "
                f"{r['updated']} updated, {r['unchanged']} unchanged"
            )
            return 0
        if act == "list":
            for x in sdb.selections(session, args.cohort):
                print(
                    f"{x.id}\t{x.cohort.slug}\t{x.source} -> {x.stage}\t{x.status}\t{x.created_at}"
                )
            return 0
        if act == "preview":
            sel = workflow.preview(
                session, curriculum, args.cohort, args.stage, actor=actor, now=now
            )
        elif act == "override":
            workflow.override(
                session, args.id, args.username, args.decision, args.reason, actor=actor, now=now
            )
            sel = sdb.selection(session, args.id)
        elif act == "confirm":
            sel, changed = workflow.confirm(session, curriculum, args.id, actor=actor, now=now)
        elif act == "apply":
            sel, changed = workflow.apply(session, curriculum, args.id, actor=actor, now=now)
        elif act == "rollback":
            sel, changed, _ = workflow.rollback(
                session, args.id, reason=args.reason, actor=actor, now=now
            )
        else:
            sel = sdb.selection(session, args.id)
        info = workflow.summary(sel)
        rows = workflow.outcome_rows(sel) if getattr(args, "output", None) else []
    print(
        f"selection {info['id']}: {info['cohort']} {info['source']} -> {info['stage']} "
        f"[{info['status']}] {info['candidates']} candidates, {info['advancing']} advancing, "
        f"inputs {info['inputs_hash'][:12]}" + ("" if changed else " (nothing changed)")
    )
    for p in info["pools"]:
        cutoff = "-" if p["cutoff"] is None else f"{p['cutoff']:.2f}"
        reserved = "".join(f", {g} {met}/{n}" for g, n, met in p["reserved"])
        print(
            f"  {p['name']}: {p['size']} trainees, {p['eligible']} eligible, {p['seats']} seats, "
            f"{p['selected']} selected, {p['advancing']} advancing, cutoff {cutoff}{reserved}"
        )
    for w in info["warnings"]:
        print(f"  warning: {w}")
    for o in info["overrides"]:
        print(f"  override {o['username']}: {o['action']} by {o['by']} — {o['reason']}")
    if act in ("apply", "rollback") and changed:
        print(f"  moved: {len(info['moved'])} trainees")
        print(ask_service_to_sync(s))
    if rows:
        _export(args.output, rows, f"selection-{info['id']}")
    return 0


def cmd_teams(args: argparse.Namespace) -> int:
    """`sadari teams form|show|move|export` (the project stage's teams, hub/selection.py)."""
    from . import selection as workflow
    from .store import selection as sdb

    s, sessions, curriculum, actor = _selection_env(args)
    now = datetime.now(UTC)
    if args.action == "move":
        if not (args.username and args.team):
            raise repo.Invalid("usage: sadari teams move USER TEAM --reason R")
        with sessions.begin() as session:
            old, new, warnings = workflow.move_to_team(
                session,
                curriculum,
                args.username,
                args.team,
                reason=args.reason or "",
                actor=actor,
                now=now,
            )
            print(f"{args.username}: {old.name} -> {new.name}")
            for warning in warnings:
                print(f"  warning: {warning}")
        print(ask_service_to_sync(s))  # after the commit: the service syncs what is stored
        return 0
    with sessions.begin() as session:
        if not args.cohort:
            raise repo.Invalid(f"teams {args.action} needs --cohort")
        if args.action == "form":
            rows, result, notes = workflow.form_teams(
                session, curriculum, args.cohort, seed=args.seed, actor=actor, now=now
            )
            print(result.explanation)
            for note in notes:
                print(f"  note: {note}")
        else:
            rows = sdb.teams(session, sdb.cohort_row(session, args.cohort).id)
        for t in rows:
            print(f"{t.name}: {', '.join(m['username'] for m in t.members)}")
            print(f"  {t.explanation}")
        export = workflow.team_rows(rows)
    if args.action == "form":
        print(ask_service_to_sync(s))
    if args.output or args.action == "export":
        _export(args.output or f"teams-{args.cohort}.csv", export, f"teams-{args.cohort}")
    return 0


def parser() -> argparse.ArgumentParser:
    """The argument parser of `sadari`."""
    p = argparse.ArgumentParser(
        prog="sadari",
        description="sadari (사다리): lab programs on "
        "JupyterHub. Settings come from SADARI_* environment variables.",
    )
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="start the hub, proxy and sadari service")
    run.add_argument("--upgrade-db", action="store_true", help="migrate the database first")
    run.set_defaults(func=cmd_run)
    sub.add_parser(
        "restart", help="restart the hub of a running `sadari run`; servers keep running"
    ).set_defaults(func=cmd_restart)
    roster = sub.add_parser("roster", help="trainee rosters").add_subparsers(
        dest="action", required=True
    )
    imp = roster.add_parser(
        "import",
        help="import a roster: CSV (UTF-8, UTF-8 BOM or CP949) or XLSX; shows the preview",
        description="Columns with known headers (English or Korean) map by themselves, others "
        "are kept as attributes of the person (e.g. campus) unless mapped. The mapping is "
        "remembered for the next import (not the default cohort).",
    )
    imp.add_argument("file")
    imp.add_argument(
        "--map",
        action="append",
        metavar="HEADER=FIELD",
        help="what a column holds: one of " + ", ".join(ROSTER_FIELDS) + ", attr:NAME or "
        "ignore (e.g. --map id=username --map 전공=major --map 학번=attr:student_no)",
    )
    imp.add_argument("--cohort", help="the cohort of rows without one (the file has no column)")
    imp.add_argument(
        "--value",
        action="append",
        metavar="FIELD:RAW=VALUE",
        help="translate a value of a field or attribute (e.g. --value major:Y=major "
        "--value major:N=non-major)",
    )
    imp.add_argument("--dry-run", action="store_true", help="validate and report, write nothing")
    imp.add_argument("--actor", help="who is importing (recorded in the audit log)")
    imp.set_defaults(func=cmd_roster_import)
    cur = sub.add_parser("curriculum", help="the curriculum manifest").add_subparsers(
        dest="action", required=True
    )
    chk = cur.add_parser(
        "check",
        help="validate labs/curriculum.yaml, its files, the nbgrader metadata of the assessments "
        "and the packages they declare",
    )
    chk.add_argument(
        "--update",
        action="store_true",
        help="run nbgrader's metadata update (nbgrader update) in place on the assessment "
        "notebooks of an older nbgrader schema",
    )
    chk.add_argument(
        "--install",
        action="store_true",
        help="pip-install the declared packages missing from this Python when grading runs in it "
        "(images are never changed: the message says which requirements file to edit)",
    )
    chk.set_defaults(func=cmd_curriculum_check)
    course = sub.add_parser("course", help="nbgrader courses").add_subparsers(
        dest="action", required=True
    )
    ci = course.add_parser(
        "import",
        help="bring an nbgrader course's assignments (source/<assignment>/) into labs/ and the "
        "curriculum",
        description="Copies each assignment folder (notebooks, data, helper modules) to "
        "labs/<track>/<stage>/assessments/<id>/, updates old nbgrader metadata, reads the points "
        "from the graded cells and adds the assessment to labs/curriculum.yaml (comments and "
        "layout kept); refuses, changing nothing, when the result does not pass `sadari "
        "curriculum check`.",
    )
    ci.add_argument("path", help="the nbgrader course folder (the one holding source/)")
    ci.add_argument("--track", required=True, help="the track id in the curriculum")
    ci.add_argument("--stage", required=True, help="the stage id (basics, advanced, project)")
    ci.add_argument(
        "--due",
        required=True,
        help="'+N d HH:MM' after the cohort start (e.g. '+14d 18:00') or ISO",
    )
    ci.add_argument(
        "--assignment", action="append", help="import only this assignment (repeatable)"
    )
    ci.add_argument("--id", help="the assessment id (default: the assignment name, lower-cased)")
    ci.add_argument("--title", help="its title (default: the assignment name)")
    ci.add_argument("--title-en", help="its English title (default: --title)")
    ci.add_argument(
        "--weight", type=float, help="its share of the stage score (default: equal shares)"
    )
    ci.add_argument(
        "--rescale",
        action="store_true",
        help="scale the stage's other assessments so the weights still add up to 1",
    )
    ci.add_argument("--dry-run", action="store_true", help="show what it would do, change nothing")
    ci.set_defaults(func=cmd_course_import)
    demo = sub.add_parser("demo", help="demo data").add_subparsers(dest="action", required=True)
    seed = demo.add_parser("seed", help="create the demo cohort")
    seed.add_argument("--trainees", type=int, help="how many (default: 12; with --week: 40)")
    seed.add_argument(
        "--week",
        action="store_true",
        help="and a week of it: stage-1 assessments released, submitted, graded, one extension",
    )
    seed.set_defaults(func=cmd_demo_seed)
    assess = sub.add_parser("assessment", help="release, collect, grade, feedback, export")
    assess.add_argument("action", choices=["release", "collect", "autograde", "feedback", "export"])
    assess.add_argument("assessment", help="assessment id from the curriculum")
    assess.add_argument("--cohort", help="one cohort (default: every cohort)")
    assess.add_argument("--output", help="export file (.csv, UTF-8 with BOM, or .xlsx)")
    assess.add_argument("--actor", help="who is acting (recorded in the audit log)")
    assess.add_argument(
        "--queue-only",
        action="store_true",
        help="autograde: queue the submissions and return (the grading workers grade them)",
    )
    assess.add_argument(
        "--work",
        action="store_true",
        help="autograde: grade the queued submissions in this process, as a grading worker "
        "(without it: follow the running workers grading them)",
    )
    assess.add_argument(
        "--lease",
        type=float,
        default=900.0,
        help="seconds a worker holds a job before it counts as dead",
    )
    assess.set_defaults(func=cmd_assessment)
    grade = sub.add_parser("grading", help="the grading queue")
    grade.add_argument("action", choices=["work"])
    grade.add_argument(
        "--forever",
        action="store_true",
        help="keep running as a grading worker: wait for jobs (every grading_poll_seconds) until "
        "SIGINT or SIGTERM",
    )
    grade.add_argument(
        "--lease",
        type=float,
        default=900.0,
        help="seconds a worker holds a job before it counts as dead",
    )
    grade.add_argument("--actor")
    grade.set_defaults(func=cmd_grading)
    deadline = sub.add_parser("deadline", help="move a deadline or grant an extension")
    deadline.add_argument("action", choices=["set", "extend"])
    deadline.add_argument("assessment")
    deadline.add_argument("when", help="ISO date-time with offset, e.g. 2026-12-05T18:00:00+09:00")
    deadline.add_argument("--user", dest="username", help="the trainee (extend)")
    deadline.add_argument("--reason", required=True)
    deadline.add_argument("--cohort")
    deadline.add_argument("--actor")
    deadline.set_defaults(func=cmd_deadline)
    sel = sub.add_parser("select", help="stage selection: preview, override, confirm, apply")
    sel_sub = sel.add_subparsers(dest="action", required=True)
    sp = sel_sub.add_parser("preview", help="rank a cohort for a stage (nobody moves yet)")
    sp.add_argument("--cohort", required=True)
    sp.add_argument("--stage", required=True, help="the stage trainees advance INTO")
    sp.add_argument(
        "--output", "-o", help="also export the decisions (.csv, UTF-8 with BOM, or .xlsx)"
    )
    so = sel_sub.add_parser("override", help="advance or hold one trainee of a preview")
    so.add_argument("id", type=int)
    so.add_argument("username")
    so.add_argument("decision", choices=["advance", "hold"])
    so.add_argument("--reason", required=True)
    for name, text in (("confirm", "confirm a preview (admins)"), ("apply", "move trainees")):
        sel_sub.add_parser(name, help=text).add_argument("id", type=int)
    sr = sel_sub.add_parser("rollback", help="move an applied selection's trainees back")
    sr.add_argument("id", type=int)
    sr.add_argument("--reason", required=True)
    ss = sel_sub.add_parser("show", help="a selection's summary (and export)")
    ss.add_argument("id", type=int)
    ss.add_argument("--output", help="export the decisions (.csv or .xlsx)")
    sel_sub.add_parser("list", help="selections, newest first").add_argument("--cohort")
    si = sel_sub.add_parser("inputs", help="import participation values (e.g. attendance) CSV")
    si.add_argument("file", help="columns username/아이디 and value/값 (UTF-8, BOM or CP949)")
    si.add_argument("--name", required=True, help="the input's name in the policy (attendance)")
    for p_ in sel_sub.choices.values():
        p_.add_argument("--actor", help="who is acting (recorded in the audit log)")
    sel.set_defaults(func=cmd_select)
    teams = sub.add_parser("teams", help="project teams: form, show, move, export")
    teams.add_argument("action", choices=["form", "show", "move", "export"])
    teams.add_argument("username", nargs="?", help="move: the trainee")
    teams.add_argument("team", nargs="?", help="move: the team's number or hub group")
    teams.add_argument("--cohort")
    teams.add_argument("--seed", type=int, help="form: the seed (default: the curriculum's)")
    teams.add_argument("--reason", help="move: why (required)")
    teams.add_argument("--output", help="export to .csv (UTF-8 with BOM) or .xlsx")
    teams.add_argument("--actor", help="who is acting (recorded in the audit log)")
    teams.set_defaults(func=cmd_teams)
    db = sub.add_parser("db", help="the database schema")
    db.add_argument("action", choices=["upgrade", "status", "scorecards"])
    db.add_argument(
        "--rebuild", action="store_true", help="scorecards: rewrite them all from the history"
    )
    db.set_defaults(func=cmd_db)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run one command; clear messages and exit codes for bad input and old schemas."""
    args = parser().parse_args(argv)
    try:
        return int(args.func(args))
    except InputError as e:
        print(
            f"sadari: nothing was changed; fix these problems first / 아무것도 변경하지 "
            f"않았습니다:\n{e}",
            file=sys.stderr,
        )
        return 2
    except SchemaOutOfDate as e:
        print(f"sadari: {e}", file=sys.stderr)
        return 3
    except OperationError as e:
        print(f"sadari: {e}", file=sys.stderr)
        return 1
    except (repo.Invalid, repo.NotFound, ValueError) as e:
        print(f"sadari: nothing was changed: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
