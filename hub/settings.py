"""sadari's settings: one traitlets object read by the hub config, the service and the CLI.

Every setting is a trait with a help string. Environment variables are read only in `@default`
methods, so `c.SadariSettings.<name> = ...` in a config file always wins, and the hub hands the
service its settings through the same variables.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from traitlets import Bool, CaselessStrEnum, Integer, Unicode, default, validate
from traitlets.config import LoggingConfigurable

from .core.accounts import ACCOUNT_PREFIX, check_prefix, teams_folder

# secrets read from the environment by `secret()` (else from files in data_dir)
SECRET_VARIABLES = (
    "SADARI_AUTOMATION_TOKEN",
    "SADARI_PSEUDONYM_KEY",
    "SADARI_COOKIE_SECRET",
    "SADARI_SUPERVISOR_TOKEN",
)


def _env(name: str, fallback: str) -> str:
    return os.environ.get(name) or fallback


def _spell(value: object) -> str:
    """A setting's value as its environment variable is read back ('1'/'0' for yes/no)."""
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


class SadariSettings(LoggingConfigurable):
    """Settings shared by the hub config, the sadari service and the `sadari` CLI."""

    project_dir = Unicode(
        help="""Folder holding labs/ and node_modules/ (the project checkout).
        Default: $SADARI_PROJECT_DIR, else the current directory.""",
    ).tag(config=True, env="SADARI_PROJECT_DIR")

    @default("project_dir")
    def _default_project_dir(self) -> str:
        return _env("SADARI_PROJECT_DIR", os.getcwd())

    data_dir = Unicode(
        help="""Folder for databases, trainee homes, secrets and logs.
        Default: $SADARI_DATA_DIR, else <project_dir>/data.""",
    ).tag(config=True, env="SADARI_DATA_DIR")

    @default("data_dir")
    def _default_data_dir(self) -> str:
        return _env("SADARI_DATA_DIR", str(Path(self.project_dir) / "data"))

    @validate("data_dir", "project_dir", "labs_dir", "homes_dir")
    def _absolute(self, proposal: dict[str, str]) -> str:
        return str(Path(proposal["value"]).expanduser().resolve())

    db_url = Unicode(
        help="""SQLAlchemy URL of sadari's database of record (SQLite or PostgreSQL).
        Default: $SADARI_DB_URL, else sqlite:///<data_dir>/sadari.sqlite.""",
    ).tag(config=True, env="SADARI_DB_URL")

    @default("db_url")
    def _default_db_url(self) -> str:
        return _env("SADARI_DB_URL", f"sqlite:///{self.data_dir}/sadari.sqlite")

    hub_db_url = Unicode(
        help="""Database URL of JupyterHub's own state. Default: $SADARI_HUB_DB_URL, else
        sqlite:///<data_dir>/jupyterhub.sqlite.""",
    ).tag(config=True, env="SADARI_HUB_DB_URL")

    @default("hub_db_url")
    def _default_hub_db_url(self) -> str:
        return _env("SADARI_HUB_DB_URL", f"sqlite:///{self.data_dir}/jupyterhub.sqlite")

    upgrade_db = Bool(
        help="""Migrate sadari's database to the newest schema at start-up instead of refusing
        to start on an old one. Default: $SADARI_UPGRADE_DB ('1' for yes), else no.""",
    ).tag(config=True, env="SADARI_UPGRADE_DB")

    @default("upgrade_db")
    def _default_upgrade_db(self) -> bool:
        return os.environ.get("SADARI_UPGRADE_DB", "") in ("1", "true", "yes")

    labs_dir = Unicode(
        help="Folder of the curriculum (curriculum.yaml and notebooks). Default: "
        "$SADARI_LABS_DIR, else <project_dir>/labs.",
    ).tag(config=True, env="SADARI_LABS_DIR")

    @default("labs_dir")
    def _default_labs_dir(self) -> str:
        return _env("SADARI_LABS_DIR", str(Path(self.project_dir) / "labs"))

    @property
    def curriculum_file(self) -> Path:
        """The manifest, labs/curriculum.yaml."""
        return Path(self.labs_dir) / "curriculum.yaml"

    bind_url = Unicode(
        help="Public URL the hub's proxy listens on. Default: $SADARI_BIND_URL, else "
        "http://127.0.0.1:8000.",
    ).tag(config=True, env="SADARI_BIND_URL")

    @default("bind_url")
    def _default_bind_url(self) -> str:
        return _env("SADARI_BIND_URL", "http://127.0.0.1:8000")

    hub_port = Integer(
        help="Port of the hub's own process (behind the proxy). Default: $SADARI_HUB_PORT, else 8081.",
    ).tag(config=True, env="SADARI_HUB_PORT")

    @default("hub_port")
    def _default_hub_port(self) -> int:
        return int(_env("SADARI_HUB_PORT", "8081"))

    proxy_api_port = Integer(
        help="Port of the proxy's REST API. Default: $SADARI_PROXY_API_PORT, else 8001.",
    ).tag(config=True, env="SADARI_PROXY_API_PORT")

    @default("proxy_api_port")
    def _default_proxy_api_port(self) -> int:
        return int(_env("SADARI_PROXY_API_PORT", "8001"))

    service_port = Integer(
        help="Port the sadari service listens on (loopback). Default: $SADARI_SERVICE_PORT, "
        "else 10101.",
    ).tag(config=True, env="SADARI_SERVICE_PORT")

    @default("service_port")
    def _default_service_port(self) -> int:
        return int(_env("SADARI_SERVICE_PORT", "10101"))

    authenticator = CaselessStrEnum(
        ["demo", "native", "github", "generic-oauth"],
        help="""How people log in. 'demo' (the default of `make run`): every roster member with the
        shared demo password, clearly marked as a demo. 'native': NativeAuthenticator (sign-up
        with admin approval). 'github' / 'generic-oauth': OAuthenticator, configured through its
        own traits (client id, secret, callback URL). Default: $SADARI_AUTHENTICATOR, else demo.""",
    ).tag(config=True, env="SADARI_AUTHENTICATOR")

    @default("authenticator")
    def _default_authenticator(self) -> str:
        return _env("SADARI_AUTHENTICATOR", "demo")

    demo_password = Unicode(
        help="Shared password of the demo login. Default: $SADARI_DEMO_PASSWORD, else "
        "'sadari-demo'.",
    ).tag(config=True, env="SADARI_DEMO_PASSWORD")

    @default("demo_password")
    def _default_demo_password(self) -> str:
        return _env("SADARI_DEMO_PASSWORD", "sadari-demo")

    spawner = CaselessStrEnum(
        ["local", "docker"],
        help="""Where trainee servers run. 'local': one process per person on this machine, each
        under a unix account of their own with a private home under `homes_dir` (the embedded
        default; needs root to create the accounts). 'docker': one container per trainee from their
        track's image (images/lab) on this machine's Docker engine, a named volume per trainee,
        memory and CPU limits, on an internal network that reaches only the hub and the service
        (needs root for the host firewall). Default: $SADARI_SPAWNER, else local.""",
    ).tag(config=True, env="SADARI_SPAWNER")

    @default("spawner")
    def _default_spawner(self) -> str:
        return _env("SADARI_SPAWNER", "local")

    docker_network = Unicode(
        help="Docker network of the trainee containers (internal, no traffic between "
        "containers). Default: $SADARI_DOCKER_NETWORK, else sadari-trainees.",
    ).tag(config=True, env="SADARI_DOCKER_NETWORK")

    @default("docker_network")
    def _default_docker_network(self) -> str:
        return _env("SADARI_DOCKER_NETWORK", "sadari-trainees")

    docker_subnet = Unicode(
        help="Subnet of the trainee network; the host is its first address, where containers "
        "reach the hub and the service. Default: $SADARI_DOCKER_SUBNET, else 172.30.0.0/24.",
    ).tag(config=True, env="SADARI_DOCKER_SUBNET")

    @default("docker_subnet")
    def _default_docker_subnet(self) -> str:
        return _env("SADARI_DOCKER_SUBNET", "172.30.0.0/24")

    @validate("docker_subnet")
    def _valid_subnet(self, proposal: Any) -> str:
        from .core.containers import gateway

        gateway(proposal["value"])  # raises ValueError on a bad subnet
        return str(proposal["value"])

    docker_bridge = Unicode(
        help="Host bridge of the trainee network (at most 15 characters). "
        "Default: $SADARI_DOCKER_BRIDGE, else sadari0.",
    ).tag(config=True, env="SADARI_DOCKER_BRIDGE")

    @default("docker_bridge")
    def _default_docker_bridge(self) -> str:
        return _env("SADARI_DOCKER_BRIDGE", "sadari0")

    singleuser_image = Unicode(
        help="Image of servers with no track (staff) in the docker backend; trainees get their "
        "track's image from the curriculum. Default: $SADARI_SINGLEUSER_IMAGE, else "
        "sadari/singleuser:<version>.",
    ).tag(config=True, env="SADARI_SINGLEUSER_IMAGE")

    @default("singleuser_image")
    def _default_singleuser_image(self) -> str:
        from importlib.metadata import version

        return _env("SADARI_SINGLEUSER_IMAGE", f"sadari/singleuser:{version('sadari')}")

    hub_admins = Unicode(
        help="Comma-separated usernames with JupyterHub admin rights (the hub's admin page). "
        "Default: $SADARI_HUB_ADMINS, else none.",
    ).tag(config=True, env="SADARI_HUB_ADMINS")

    @default("hub_admins")
    def _default_hub_admins(self) -> str:
        return _env("SADARI_HUB_ADMINS", "")

    leaderboard_cohorts = Unicode(
        help="""Comma-separated cohort ids whose trainees see the pseudonymous selection
        leaderboard (GET /api/v1/cohorts/<id>/leaderboard: the top ranks and their own neighbours,
        no names). Cohorts opt in; default: $SADARI_LEADERBOARD_COHORTS, else none.""",
    ).tag(config=True, env="SADARI_LEADERBOARD_COHORTS")

    @default("leaderboard_cohorts")
    def _default_leaderboard_cohorts(self) -> str:
        return _env("SADARI_LEADERBOARD_COHORTS", "")

    @property
    def leaderboard_cohort_ids(self) -> set[str]:
        """`leaderboard_cohorts` as a set of cohort ids."""
        return {c.strip() for c in self.leaderboard_cohorts.split(",") if c.strip()}

    instructor_cohorts = Unicode(
        help="""Who teaches which cohort, as comma-separated `username:cohort` pairs
        (`kim:2026-seoul-1,lee:2026-busan-1`): at every hub start each instructor is added to the
        hub group `instructors:<cohort>`, which lets them see and help that cohort's trainees (the
        trainees pages, their servers). Admins may also add members to those groups by hand; sadari
        never removes any. `make run` gives the demo `instructor` every demo cohort. Default:
        $SADARI_INSTRUCTOR_COHORTS, else none.""",
    ).tag(config=True, env="SADARI_INSTRUCTOR_COHORTS")

    @default("instructor_cohorts")
    def _default_instructor_cohorts(self) -> str:
        return _env("SADARI_INSTRUCTOR_COHORTS", "")

    @property
    def teaching(self) -> dict[str, list[str]]:
        """`instructor_cohorts` as cohort -> the usernames teaching it."""
        out: dict[str, list[str]] = {}
        for pair in self.instructor_cohorts.split(","):
            user, _, cohort = pair.strip().partition(":")
            if user.strip() and cohort.strip():
                out.setdefault(cohort.strip(), []).append(user.strip())
        return out

    max_submission_bytes = Integer(
        help="Largest submission (zip upload, and its unpacked content) accepted, in bytes. "
        "Default: $SADARI_MAX_SUBMISSION_BYTES, else 20 MiB.",
    ).tag(config=True, env="SADARI_MAX_SUBMISSION_BYTES")

    @default("max_submission_bytes")
    def _default_max_submission_bytes(self) -> int:
        return int(_env("SADARI_MAX_SUBMISSION_BYTES", str(20 * 1024 * 1024)))

    grader = CaselessStrEnum(
        ["sandbox", "docker", "kubernetes", "nbgrader"],
        help="""How submissions are autograded.
        'sandbox' (the default): single-use kernels in the local sandbox (bubblewrap: no network,
        an unprivileged uid, resource limits), scored fail-closed from execution messages; needs
        root and the bubblewrap package.
        'docker': the same, each kernel in a fresh container of the grader image (`grader_image`),
        with no network; needs a Docker engine.
        'kubernetes': the same, each submission in a Job of the grader image in
        `grading_namespace` (no network); for the Helm chart's grading workers (in-cluster).
        Both write the autograded notebooks and gradebook entries formgrader and nbgrader's
        feedback read.
        'nbgrader': stock `nbgrader autograde` in a subprocess, WITHOUT a sandbox (trusted code
        only: the submission runs with the grader's permissions).
        Default: $SADARI_GRADER, else sandbox.""",
    ).tag(config=True, env="SADARI_GRADER")

    @default("grader")
    def _default_grader(self) -> str:
        return _env("SADARI_GRADER", "sandbox")

    grader_image = Unicode(
        help="The grading image of the docker grader (images/grader, built by images/build.py). "
        "Default: $SADARI_GRADER_IMAGE, else sadari/grader:<version>.",
    ).tag(config=True, env="SADARI_GRADER_IMAGE")

    @default("grader_image")
    def _default_grader_image(self) -> str:
        from importlib.metadata import version

        return _env("SADARI_GRADER_IMAGE", f"sadari/grader:{version('sadari')}")

    grading_namespace = Unicode(
        help="Namespace of the kubernetes grader's Jobs. Default: $SADARI_GRADING_NAMESPACE, "
        "else the namespace of the pod this runs in.",
    ).tag(config=True, env="SADARI_GRADING_NAMESPACE")

    @default("grading_namespace")
    def _default_grading_namespace(self) -> str:
        own = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
        fallback = own.read_text().strip() if own.is_file() else "default"
        return _env("SADARI_GRADING_NAMESPACE", fallback)

    grading_workers = Integer(
        help="Submissions graded at once. Default: $SADARI_GRADING_WORKERS, else the CPU count.",
    ).tag(config=True, env="SADARI_GRADING_WORKERS")

    @default("grading_workers")
    def _default_grading_workers(self) -> int:
        return int(_env("SADARI_GRADING_WORKERS", str(os.cpu_count() or 1)))

    grading_zygote = Bool(
        help="""The local sandbox ('sandbox' grader) forks each submission's fresh, single-use
        kernel from a warmed parent per slot that has already imported ipykernel and the tracks'
        libraries (graders/sandbox/zygote.py), instead of starting Python from scratch: the same
        walls (no network, the slot's own uid, limits, a private scratch and /tmp), a fraction
        of the start-up CPU. Off: every kernel starts from scratch under its own bubblewrap.
        Default: $SADARI_GRADING_ZYGOTE (0 or 1), else on.""",
    ).tag(config=True, env="SADARI_GRADING_ZYGOTE")

    @default("grading_zygote")
    def _default_grading_zygote(self) -> bool:
        return _env("SADARI_GRADING_ZYGOTE", "1") not in ("0", "false", "no", "off")

    fork_servers = Bool(
        help="""The embedded default forks people's notebook servers from a parent that has
        already imported jupyter_server, JupyterLab and nbgrader (hub/forkserver.py) instead of
        starting Python from scratch for each: each still runs as its person's account, about a
        tenth of the start-up CPU (what a class's 9 a.m. storm is made of). Off: every server
        starts from scratch. Default: $SADARI_FORK_SERVERS (0 or 1), else on.""",
    ).tag(config=True, env="SADARI_FORK_SERVERS")

    @default("fork_servers")
    def _default_fork_servers(self) -> bool:
        return _env("SADARI_FORK_SERVERS", "1") not in ("0", "false", "no", "off")

    service_grading = Bool(
        help="""The service grades what its API queues (autograde, regrade: at once) and jobs left
        waiting in the queue: queued before it (re)started, queued with `--queue-only`, or leased
        by a worker that stopped; checked at start and every `grading_poll_seconds`, taking jobs
        queued at least that long ago, unless woken (the API's queueing and a following
        `sadari assessment autograde` wake it; fresh jobs of a CLI run with `--work` are its own).
        Turn off where separate grading workers run (the Helm chart).
        Default: $SADARI_SERVICE_GRADING (0 or 1), else on.""",
    ).tag(config=True, env="SADARI_SERVICE_GRADING")

    @default("service_grading")
    def _default_service_grading(self) -> bool:
        return _env("SADARI_SERVICE_GRADING", "1") not in ("0", "false", "no", "off")

    grading_poll_seconds = Integer(
        help="How often (seconds) the service looks for jobs left waiting in the grading queue. "
        "Default: $SADARI_GRADING_POLL_SECONDS, else 60.",
    ).tag(config=True, env="SADARI_GRADING_POLL_SECONDS")

    @default("grading_poll_seconds")
    def _default_grading_poll_seconds(self) -> int:
        return int(_env("SADARI_GRADING_POLL_SECONDS", "60"))

    max_submission_files = Integer(
        help="Most files one submission may hold. Default: $SADARI_MAX_SUBMISSION_FILES, else 200."
    ).tag(config=True, env="SADARI_MAX_SUBMISSION_FILES")

    @default("max_submission_files")
    def _default_max_submission_files(self) -> int:
        return int(_env("SADARI_MAX_SUBMISSION_FILES", "200"))

    @property
    def exchange_dir(self) -> Path:
        """Where releases, submissions and feedback are stored (the local blob store)."""
        return Path(self.data_dir) / "exchange"

    max_roster_bytes = Integer(
        help="Largest roster upload accepted, in bytes. Default: $SADARI_MAX_ROSTER_BYTES, else "
        "5 MiB.",
    ).tag(config=True, env="SADARI_MAX_ROSTER_BYTES")

    @default("max_roster_bytes")
    def _default_max_roster_bytes(self) -> int:
        return int(_env("SADARI_MAX_ROSTER_BYTES", str(5 * 1024 * 1024)))

    @property
    def service_url(self) -> str:
        """The sadari service as trainee servers reach it (the exchange's base URL): on loopback
        for local servers, at the host's address on the trainee network for containers."""
        return f"http://{self.trainee_host}:{self.service_port}/services/sadari"

    @property
    def trainee_host(self) -> str:
        """The address trainee servers reach the hub and the service at."""
        if self.spawner == "docker":
            from .core.containers import gateway

            return gateway(self.docker_subnet)
        return "127.0.0.1"

    homes_dir = Unicode(
        help="""Folder of the people's homes on the embedded default, one per unix account
        (`<homes_dir>/sadari-<name>`, 0700); every folder above it must be passable by other
        users. Default: $SADARI_HOMES_DIR, else /home (as on any Linux machine).""",
    ).tag(config=True, env="SADARI_HOMES_DIR")

    @default("homes_dir")
    def _default_homes_dir(self) -> str:
        return _env("SADARI_HOMES_DIR", "/home")

    account_prefix = Unicode(
        help="""Start of the name of every person's unix account on the embedded default
        (`sadari-` gives `sadari-trainee001`): a lowercase letter, up to 11 more of a-z 0-9, then
        '-'. Two platforms on one machine need different prefixes. Default:
        $SADARI_ACCOUNT_PREFIX, else sadari-.""",
    ).tag(config=True, env="SADARI_ACCOUNT_PREFIX")

    @default("account_prefix")
    def _default_account_prefix(self) -> str:
        return _env("SADARI_ACCOUNT_PREFIX", ACCOUNT_PREFIX)

    @validate("account_prefix")
    def _valid_account_prefix(self, proposal: Any) -> str:
        return check_prefix(proposal["value"])

    idle_timeout = Integer(
        help="""Seconds without activity after which the idle culler (jupyterhub-idle-culler, a
        hub-managed service) stops a person's server; saved files stay, and the next visit says
        why the server was stopped. A stage's `idle_minutes` in the curriculum overrides it for its
        trainees. 0: no culling. Default: $SADARI_IDLE_TIMEOUT, else 3600.""",
    ).tag(config=True, env="SADARI_IDLE_TIMEOUT")

    @default("idle_timeout")
    def _default_idle_timeout(self) -> int:
        return int(_env("SADARI_IDLE_TIMEOUT", "3600"))

    spawn_concurrency = Integer(
        help="""Servers that may be starting at once (JupyterHub's concurrent_spawn_limit):
        people beyond it see a page that retries by itself a few seconds later instead of a spawn
        that times out when a whole class presses start at 9 a.m. Default:
        $SADARI_SPAWN_CONCURRENCY, else 4 per CPU core.""",
    ).tag(config=True, env="SADARI_SPAWN_CONCURRENCY")

    @default("spawn_concurrency")
    def _default_spawn_concurrency(self) -> int:
        return int(_env("SADARI_SPAWN_CONCURRENCY", str(4 * (os.cpu_count() or 1))))

    spawn_retry_seconds = Integer(
        help="""Seconds a person refused by `spawn_concurrency` waits before their page retries:
        a random wait between this and twice it (JupyterHub's spawn_throttle_retry_range, whose
        own 30 to 60 s left the starting slots idle: at 9 a.m. on 2 cores each start takes a few
        seconds). Default: $SADARI_SPAWN_RETRY_SECONDS, else 5.""",
    ).tag(config=True, env="SADARI_SPAWN_RETRY_SECONDS")

    @default("spawn_retry_seconds")
    def _default_spawn_retry_seconds(self) -> int:
        return int(_env("SADARI_SPAWN_RETRY_SECONDS", "5"))

    max_servers = Integer(
        help="""Servers that may run at once (JupyterHub's active_server_limit; 0: no limit):
        set it from the memory the machine has for them. Default: $SADARI_MAX_SERVERS, else 0.""",
    ).tag(config=True, env="SADARI_MAX_SERVERS")

    @default("max_servers")
    def _default_max_servers(self) -> int:
        return int(_env("SADARI_MAX_SERVERS", "0"))

    server_http_timeout = Integer(
        help="""Seconds the hub waits for a started server to answer (JupyterHub's
        Spawner.http_timeout) before it gives up, stops that server and tells the person why; a
        server that hangs while starting never stays pending. Default:
        $SADARI_SERVER_HTTP_TIMEOUT, else 60.""",
    ).tag(config=True, env="SADARI_SERVER_HTTP_TIMEOUT")

    @default("server_http_timeout")
    def _default_server_http_timeout(self) -> int:
        return int(_env("SADARI_SERVER_HTTP_TIMEOUT", "60"))

    warm_check_seconds = Integer(
        help="""How often (seconds) the service looks for classes starting soon, to start their
        trainees' servers `warm_minutes` before (the cohort's `classes` in the curriculum). 0:
        never. Default: $SADARI_WARM_CHECK_SECONDS, else 60.""",
    ).tag(config=True, env="SADARI_WARM_CHECK_SECONDS")

    @default("warm_check_seconds")
    def _default_warm_check_seconds(self) -> int:
        return int(_env("SADARI_WARM_CHECK_SECONDS", "60"))

    server_memory_mb = Integer(
        help="""Memory to keep free for each server warmed before class (MB): servers are warmed
        only while MemAvailable holds another one. An idle forked server takes ~35 MB (PSS,
        benchmarks/storm.py); the default leaves room for the kernel it will run. Default:
        $SADARI_SERVER_MEMORY_MB, else 300.""",
    ).tag(config=True, env="SADARI_SERVER_MEMORY_MB")

    @default("server_memory_mb")
    def _default_server_memory_mb(self) -> int:
        return int(_env("SADARI_SERVER_MEMORY_MB", "300"))

    ssl_cert = Unicode(
        help="""The campus's TLS certificate (PEM, with its chain) when `bind_url` is https.
        Empty: a self-signed one is made at first start in <data_dir>/tls/ (browsers warn).
        Default: $SADARI_SSL_CERT.""",
    ).tag(config=True, env="SADARI_SSL_CERT")

    @default("ssl_cert")
    def _default_ssl_cert(self) -> str:
        return _env("SADARI_SSL_CERT", "")

    ssl_key = Unicode(
        help="The private key of `ssl_cert` (PEM). Default: $SADARI_SSL_KEY.",
    ).tag(config=True, env="SADARI_SSL_KEY")

    @default("ssl_key")
    def _default_ssl_key(self) -> str:
        return _env("SADARI_SSL_KEY", "")

    http_redirect_port = Integer(
        help="""With https: a port (80 on a campus server) where plain HTTP is answered with a
        redirect to HTTPS. 0: none. Default: $SADARI_HTTP_REDIRECT_PORT, else 0.""",
    ).tag(config=True, env="SADARI_HTTP_REDIRECT_PORT")

    @default("http_redirect_port")
    def _default_http_redirect_port(self) -> int:
        return int(_env("SADARI_HTTP_REDIRECT_PORT", "0"))

    @property
    def teams_dir(self) -> str:
        """Parent of the project teams' shared folders: beside the homes for local servers (open
        to each team's unix group), in the data folder for containers (bind-mounted)."""
        if self.spawner == "local":
            return str(Path(self.homes_dir) / teams_folder(self.account_prefix))
        return str(Path(self.data_dir) / "teams")

    def secret(self, name: str, env: str) -> str:
        """A secret from $`env`, else from <data_dir>/<name> (created 0600 on first use)."""
        if os.environ.get(env):
            return os.environ[env]
        path = Path(self.data_dir) / name
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32))
        return path.read_text().strip()

    @property
    def automation_token(self) -> str:
        """Token of the `sadari-automation` service (scripts, CI): $SADARI_AUTOMATION_TOKEN or a
        generated one in <data_dir>/automation-token."""
        return self.secret("automation-token", "SADARI_AUTOMATION_TOKEN")

    @property
    def supervisor_token(self) -> str:
        """Token of `sadari run`'s supervisor service (lists and stops servers on a full stop):
        $SADARI_SUPERVISOR_TOKEN or a generated one in <data_dir>/supervisor-token."""
        return self.secret("supervisor-token", "SADARI_SUPERVISOR_TOKEN")

    @property
    def pseudonym_key(self) -> bytes:
        """Key of the leaderboard's pseudonyms: $SADARI_PSEUDONYM_KEY or a generated one in
        <data_dir>/pseudonym-key."""
        return self.secret("pseudonym-key", "SADARI_PSEUDONYM_KEY").encode()

    def environment(self) -> dict[str, str]:
        """The variables that give another process (the service, a grading worker) these same
        settings: every trait tagged with its `env` variable, spelled as that variable is read,
        whether it was set in jupyterhub_config.py or the environment; plus the secrets given in
        this process's environment (else each process reads the same files in data_dir)."""
        out = {
            trait.metadata["env"]: _spell(getattr(self, name))
            for name, trait in sorted(self.traits(env=lambda var: bool(var)).items())
        }
        out.update({var: os.environ[var] for var in SECRET_VARIABLES if os.environ.get(var)})
        # containers reach the service at the host's trainee-network address
        out["SADARI_SERVICE_BIND_IP"] = "0.0.0.0" if self.spawner == "docker" else ""
        return out
