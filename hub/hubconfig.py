"""JupyterHub configuration from sadari's settings: `apply(settings, c)`.

One `update_*` function per concern; each only sets values on the Config object (never appends to
what is there), so applying twice gives the same config and every function is testable against a
bare `Config()` without starting a hub.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from traitlets.config import Config

from . import culler, tls
from .core import permissions as perm
from .settings import SadariSettings

TEMPLATES = Path(__file__).with_name("templates")
EXCHANGE_CONFIG_DIR = str(
    Path(importlib.util.find_spec("sadari.graders").submodule_search_locations[0]) / "exchange"
)
SINGLEUSER_CONFIG_DIR = str(Path(__file__).with_name("singleuser"))
CULLER = "idle-culler"
SUPERVISOR = "sadari-supervisor"
AUTHENTICATORS = {
    "native": "nativeauthenticator.NativeAuthenticator",
    "github": "oauthenticator.github.GitHubOAuthenticator",
    "generic-oauth": "oauthenticator.generic.GenericOAuthenticator",
}


def _bin(name: str) -> str:
    """An executable of this Python environment (the venv's jupyterhub-singleuser, ...)."""
    return str(Path(sys.executable).parent / name)


def update_hub(s: SadariSettings, c: Config) -> None:
    """Where the hub listens and keeps its state."""
    c.JupyterHub.bind_url = s.bind_url
    if s.spawner == "docker":
        # containers reach the hub at the host's address on their network (the firewall of
        # hub/dockerspawner.py keeps them to this port and the service's); the proxy and the
        # service keep using loopback (SadariDockerSpawner.hub_connect_url, below)
        c.JupyterHub.hub_bind_url = f"http://0.0.0.0:{s.hub_port}"
    else:
        c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{s.hub_port}"
    c.JupyterHub.db_url = s.hub_db_url
    c.JupyterHub.cookie_secret_file = str(Path(s.data_dir) / "jupyterhub_cookie_secret")
    # the hub may restart (`sadari restart`, a crash) without stopping anyone's server or the
    # proxy; `sadari run` stops them itself on a full stop (hub/supervisor.py)
    c.JupyterHub.cleanup_servers = False
    c.JupyterHub.cleanup_proxy = False
    c.JupyterHub.template_paths = [str(TEMPLATES / "hub")]
    c.JupyterHub.template_vars = {"sadari_demo": s.authenticator == "demo"}
    # a class starting at once: a few spawns at a time, the others told to retry (error.html)
    c.JupyterHub.concurrent_spawn_limit = s.spawn_concurrency
    retry = max(1, s.spawn_retry_seconds)
    # JupyterHub's spawn_throttle_retry_range trait is not configurable (no config tag, 6.1):
    # set as `JupyterHub.spawn_throttle_retry_range` it was ignored with a warning and people
    # waited JupyterHub's 30-60 s; the handlers read it from the tornado settings, which
    # `tornado_settings` overrides
    c.JupyterHub.tornado_settings = {"spawn_throttle_retry_range": (retry, 2 * retry)}
    c.JupyterHub.active_server_limit = s.max_servers


def update_proxy(s: SadariSettings, c: Config) -> None:
    """The configurable-http-proxy installed from package.json (falls back to the one on PATH)."""
    local = Path(s.project_dir) / "node_modules" / ".bin" / "configurable-http-proxy"
    c.ConfigurableHTTPProxy.command = [str(local) if local.exists() else "configurable-http-proxy"]
    c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{s.proxy_api_port}"
    c.ConfigurableHTTPProxy.pid_file = str(Path(s.data_dir) / "proxy.pid")
    update_tls(s, c)


def update_tls(s: SadariSettings, c: Config) -> None:
    """HTTPS at the proxy when `bind_url` is https: the campus's certificate, else a self-signed
    one made once in <data_dir>/tls/ (with a warning); plain HTTP redirected where asked."""
    url = urlparse(s.bind_url)
    if url.scheme != "https":
        return
    if bool(s.ssl_cert) != bool(s.ssl_key):
        raise RuntimeError("set both ssl_cert and ssl_key (SADARI_SSL_CERT, SADARI_SSL_KEY)")
    cert, key = s.ssl_cert, s.ssl_key
    if not cert:
        made_cert, made_key, new = tls.self_signed(Path(s.data_dir) / "tls", url.hostname or "")
        cert, key = str(made_cert), str(made_key)
        print(
            f"sadari: WARNING: HTTPS with a self-signed certificate ({cert}"
            f"{', made now' if new else ''}): browsers will ask people to accept it. Set "
            "SADARI_SSL_CERT and SADARI_SSL_KEY to the campus's certificate. / 자체 서명 "
            "인증서를 쓰고 있어 브라우저가 경고합니다: 기관 인증서를 설정하세요.",
            file=sys.stderr,
            flush=True,
        )
    c.JupyterHub.ssl_cert = cert
    c.JupyterHub.ssl_key = key
    if s.http_redirect_port:
        # configurable-http-proxy answers plain HTTP there with a redirect to the HTTPS port
        c.ConfigurableHTTPProxy.command = [
            *c.ConfigurableHTTPProxy.command,
            "--redirect-port",
            str(s.http_redirect_port),
            "--redirect-to",
            str(url.port or 443),
        ]


def update_auth(s: SadariSettings, c: Config) -> None:
    """The login: the demo one or a production authenticator; only known users may log in."""
    c.Authenticator.allow_existing_users = True
    c.Authenticator.admin_users = {u.strip() for u in s.hub_admins.split(",") if u.strip()}
    if s.authenticator == "demo":
        c.JupyterHub.authenticator_class = "sadari.hub.auth.DemoAuthenticator"
        c.DemoAuthenticator.password = s.demo_password
        if s.demo_password == "sadari-demo":
            c.JupyterHub.template_vars = {
                **c.JupyterHub.template_vars,
                "sadari_demo_hint": "admin · instructor · trainee001… / password: sadari-demo",
            }
        return
    c.JupyterHub.authenticator_class = AUTHENTICATORS[s.authenticator]
    if s.authenticator == "native":
        try:
            import nativeauthenticator
        except ImportError:
            raise RuntimeError(
                "authenticator 'native' needs NativeAuthenticator: pip install 'sadari[auth]'"
            ) from None
        c.JupyterHub.template_paths = [
            *c.JupyterHub.template_paths,
            str(Path(nativeauthenticator.__file__).parent / "templates"),
        ]


def update_spawner(s: SadariSettings, c: Config) -> None:
    """Trainee servers: sadari's policy on the chosen backend."""
    c.JupyterHub.spawner_class = "sadari.hub.spawner.SadariLocalSpawner"
    local = c.SadariLocalSpawner
    local.homes_dir = s.homes_dir
    local.account_prefix = s.account_prefix
    local.private_dirs = [s.data_dir, s.labs_dir]
    local.legacy_homes_dir = str(Path(s.data_dir) / "homes")
    local.fork_servers = s.fork_servers
    # every backend's policy (the mixin's settings reach the local and the docker spawner)
    c.SadariSpawnerMixin.curriculum_file = str(s.curriculum_file)
    c.SadariSpawnerMixin.labs_dir = s.labs_dir
    c.SadariSpawnerMixin.teams_dir = s.teams_dir
    c.Spawner.cmd = [_bin("jupyterhub-singleuser")]
    c.Spawner.default_url = "/lab"
    c.SadariSpawnerMixin.idle_timeout = s.idle_timeout
    c.Spawner.start_timeout = 120
    # jupyter_server answers SIGINT by asking on its terminal for 5 s: go on with SIGTERM at once,
    # which it takes as a clean shutdown too (kernels stopped)
    c.LocalProcessSpawner.interrupt_timeout = 0
    c.Spawner.http_timeout = s.server_http_timeout
    # The server's own token may act for its user towards the sadari service (the exchange),
    # within what the user may do: the hub keeps only the scopes the user holds.
    c.Spawner.server_token_scopes = [
        "users:activity!user",
        "access:servers!server",
        perm.ACCESS,
        perm.LEARN,
        perm.INSTRUCT,
        perm.ADMIN,
    ]
    c.Spawner.environment = {
        "SADARI_SERVICE_URL": s.service_url,
        # the trainee server's settings (no formgrader or course tools, no news, Korean first)
        # and nbgrader_config.py selecting the HTTP exchange, which nbgrader's lab extension reads
        "JUPYTER_CONFIG_PATH": os.pathsep.join([SINGLEUSER_CONFIG_DIR, EXCHANGE_CONFIG_DIR]),
    }
    c.Spawner.args = []  # servers run as their person's account, never as root
    if s.spawner == "docker":
        update_docker_spawner(s, c)


def update_docker_spawner(s: SadariSettings, c: Config) -> None:
    """Trainee containers (hub/dockerspawner.py): the track images, a volume per trainee, the
    internal network and its firewall; servers run as jovyan (uid 1000) from the image."""
    c.JupyterHub.spawner_class = "sadari.hub.dockerspawner.SadariDockerSpawner"
    d = c.SadariDockerSpawner
    d.image = s.singleuser_image
    d.cmd = ["jupyterhub-singleuser"]
    d.args = []
    d.remove = True  # a fresh container each start (the plan may have changed); the volume stays
    d.network_name = s.docker_network
    d.network_subnet = s.docker_subnet
    d.network_bridge = s.docker_bridge
    d.use_internal_ip = True
    d.allowed_host_ports = [s.hub_port, s.service_port]
    # named after the network, so two hubs on one engine (a test, a demo) never share them
    d.home_volume_template = f"{s.docker_network}-home-{{username}}"
    d.name_template = f"{s.docker_network}-{{username}}"
    d.environment = {"SADARI_SERVICE_URL": s.service_url}
    d.hub_connect_url = f"http://{s.trainee_host}:{s.hub_port}"


def update_services(s: SadariSettings, c: Config) -> None:
    """The sadari service (managed by the hub) and the automation service token."""
    c.JupyterHub.services = [
        {
            "name": perm.SERVICE_NAME,
            "display": True,
            "url": f"http://127.0.0.1:{s.service_port}",
            "command": [sys.executable, "-m", "sadari.hub.service"],
            "environment": s.environment(),
            "oauth_no_confirm": True,
            "oauth_client_allowed_scopes": [perm.LEARN, perm.INSTRUCT, perm.ADMIN],
        },
        {"name": perm.AUTOMATION_SERVICE, "api_token": s.automation_token, "display": False},
        {"name": SUPERVISOR, "api_token": s.supervisor_token, "display": False},
    ]
    if s.idle_timeout > 0:
        if importlib.util.find_spec("jupyterhub_idle_culler") is None:
            raise RuntimeError(
                "idle culling needs jupyterhub-idle-culler: pip install 'sadari[culler]' "
                "(make install does), or set SADARI_IDLE_TIMEOUT=0"
            )
        c.JupyterHub.services.append(
            {
                "name": CULLER,
                "command": culler.command(sys.executable, s.idle_timeout),
                "display": False,
            }
        )


def roles() -> list[dict[str, Any]]:
    """The hub roles sadari declares: one per sadari role (given to its group) and the services'."""
    out: list[dict[str, Any]] = [
        {
            "name": f"sadari-{role}",
            "description": f"sadari {role}",
            "scopes": scopes,
            "groups": [perm.ROLE_GROUPS[role]],
        }
        for role, scopes in perm.ROLE_SCOPES.items()
    ]
    out.append(
        {
            "name": "sadari-service",
            "description": "the sadari service's hub access",
            "scopes": perm.SERVICE_HUB_SCOPES,
            "services": [perm.SERVICE_NAME],
        }
    )
    out.append(
        {
            "name": "sadari-automation",
            "description": "scripts acting as a sadari admin",
            "scopes": perm.ROLE_SCOPES["admin"],
            "services": [perm.AUTOMATION_SERVICE],
        }
    )
    return out


CULLER_ROLE = {
    "name": "sadari-idle-culler",
    "description": "stops servers idle past their limit (jupyterhub-idle-culler)",
    "scopes": [
        "list:users",
        "read:users:activity",
        "read:servers",
        "delete:servers",
        "admin:server_state",  # the stage's idle limit is in the spawner's state
    ],
    "services": [CULLER],
}


SUPERVISOR_ROLE = {
    "name": "sadari-supervisor",
    "description": "`sadari run` stopping every server on a full stop",
    "scopes": ["list:users", "read:servers", "delete:servers"],
    "services": [SUPERVISOR],
}


def staff_server_roles(s: SadariSettings) -> list[dict[str, Any]]:
    """Hub roles letting staff open, start and stop trainees' servers (the trainees pages): admins
    those of every trainee (group sadari-trainees), the instructors of a cohort (the members of
    hub group `instructors:<cohort>`, which admins keep) those of the cohort's trainees (its
    group `cohort:<cohort>`), one role per cohort of the curriculum."""
    from .core.curriculum import parse_curriculum
    from .core.policy import cohort_group
    from .core.trainee_list import instructor_group

    def reach(group: str) -> list[str]:
        return [f"servers!group={group}", f"access:servers!group={group}"]

    out: list[dict[str, Any]] = [
        {
            "name": "sadari-admin-servers",
            "description": "sadari admins: trainees' servers",
            "scopes": reach(perm.ROLE_GROUPS["trainee"]),
            "groups": [perm.ROLE_GROUPS["admin"]],
        }
    ]
    path = Path(s.curriculum_file)
    if path.is_file():
        for cohort in parse_curriculum(path.read_text(encoding="utf-8"), str(path)).cohorts:
            out.append(
                {
                    "name": f"sadari-instructor-{cohort.id}",
                    "description": f"instructors of {cohort.id}: its trainees' servers",
                    "scopes": reach(cohort_group(cohort.id)),
                    "groups": [instructor_group(cohort.id)],
                }
            )
    return out


def update_roles(s: SadariSettings, c: Config) -> None:
    """Custom scopes and roles (JupyterHub RBAC); the idle culler's where it runs; the instructors
    of each cohort (`instructor_cohorts`) in its hub group `instructors:<cohort>`."""
    from .core.trainee_list import instructor_group

    c.JupyterHub.load_groups = {
        instructor_group(cohort): {"users": sorted(users)}
        for cohort, users in sorted(s.teaching.items())
    }
    c.JupyterHub.custom_scopes = perm.CUSTOM_SCOPES
    c.JupyterHub.load_roles = [
        *roles(),
        *staff_server_roles(s),
        SUPERVISOR_ROLE,
        *([CULLER_ROLE] if s.idle_timeout > 0 else []),
    ]


def apply(settings: SadariSettings, c: Config) -> Config:
    """Configure JupyterHub for sadari from `settings`; returns `c`."""
    Path(settings.data_dir).mkdir(parents=True, exist_ok=True)
    for update in (
        update_hub,
        update_proxy,
        update_auth,
        update_spawner,
        update_services,
        update_roles,
    ):
        update(settings, c)
    return c
