"""hubconfig.apply against a bare Config: no hub is started."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from traitlets.config import Config

from sadari.hub import culler, hubconfig
from sadari.hub.core import permissions as perm
from sadari.hub.settings import SadariSettings


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SadariSettings:
    for var in (
        "SADARI_AUTHENTICATOR",
        "SADARI_DB_URL",
        "SADARI_DATA_DIR",
        "SADARI_BIND_URL",
        "SADARI_HOMES_DIR",
        "SADARI_SPAWNER",
        "SADARI_IDLE_TIMEOUT",
        "SADARI_SPAWN_CONCURRENCY",
        "SADARI_SPAWN_RETRY_SECONDS",
        "SADARI_FORK_SERVERS",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("SADARI_AUTOMATION_TOKEN", "tok")
    return SadariSettings(project_dir=str(tmp_path), data_dir=str(tmp_path / "data"))


def test_defaults(settings: SadariSettings, tmp_path: Path) -> None:
    c = hubconfig.apply(settings, Config())
    assert c.JupyterHub.bind_url == "http://127.0.0.1:8000"
    assert c.JupyterHub.spawner_class == "sadari.hub.spawner.SadariLocalSpawner"
    # every person under an account of their own, homes beside other users' (as TLJH does), the
    # platform's folders closed to them, servers never as root
    assert c.SadariLocalSpawner.homes_dir == "/home"
    assert c.SadariSpawnerMixin.teams_dir == "/home/sadari_teams"
    assert c.SadariLocalSpawner.private_dirs == [f"{tmp_path}/data", f"{tmp_path}/labs"]
    assert c.SadariLocalSpawner.legacy_homes_dir == f"{tmp_path}/data/homes"
    assert c.Spawner.args == []
    assert c.SadariLocalSpawner.fork_servers is True  # hub/forkserver.py
    off = hubconfig.apply(SadariSettings(fork_servers=False, data_dir=settings.data_dir), Config())
    assert off.SadariLocalSpawner.fork_servers is False
    assert c.JupyterHub.authenticator_class == "sadari.hub.auth.DemoAuthenticator"
    assert c.DemoAuthenticator.password == "sadari-demo"
    assert c.JupyterHub.template_vars["sadari_demo"] is True
    assert settings.db_url == f"sqlite:///{tmp_path}/data/sadari.sqlite"
    service, automation, supervisor, idle_culler = c.JupyterHub.services
    assert service["name"] == "sadari" and service["url"] == "http://127.0.0.1:10101"
    assert service["environment"]["SADARI_DB_URL"] == settings.db_url
    assert set(service["oauth_client_allowed_scopes"]) == set(perm.CUSTOM_SCOPES)
    assert automation == {"name": "sadari-automation", "api_token": "tok", "display": False}
    # `sadari run` may restart the hub alone; on a full stop it stops the servers itself
    assert (c.JupyterHub.cleanup_servers, c.JupyterHub.cleanup_proxy) == (False, False)
    # a class starting at once: those beyond the limit retry within seconds, not JupyterHub's 30-60
    assert c.JupyterHub.tornado_settings["spawn_throttle_retry_range"] == (5, 10)
    assert supervisor["name"] == "sadari-supervisor" and supervisor["api_token"]
    # the embedded default culls servers idle for an hour; the stage's limit is read from state
    assert idle_culler["command"][1:] == [
        "-m",
        "jupyterhub_idle_culler",
        "--timeout=3600",
        "--cull-every=300",
        f"--config={culler.CONFIG_FILE}",
    ]
    roles = {r["name"]: r for r in c.JupyterHub.load_roles}
    assert roles["sadari-idle-culler"]["services"] == ["idle-culler"]
    assert "admin:server_state" in roles["sadari-idle-culler"]["scopes"]
    assert c.JupyterHub.concurrent_spawn_limit == 4 * (os.cpu_count() or 1)


def test_roles_give_scopes_through_groups(settings: SadariSettings) -> None:
    c = hubconfig.apply(settings, Config())
    roles = {r["name"]: r for r in c.JupyterHub.load_roles}
    assert roles["sadari-trainee"]["groups"] == ["sadari-trainees"]
    assert perm.ADMIN not in roles["sadari-instructor"]["scopes"]
    assert perm.ADMIN in roles["sadari-admin"]["scopes"]
    assert roles["sadari-service"]["services"] == ["sadari"]
    assert set(c.JupyterHub.custom_scopes) == {perm.LEARN, perm.INSTRUCT, perm.ADMIN}


def test_instructors_join_the_groups_of_the_cohorts_they_teach(settings: SadariSettings) -> None:
    assert hubconfig.apply(settings, Config()).JupyterHub.load_groups == {}
    settings.instructor_cohorts = "lee:2026-busan-1, kim:2026-seoul-1,instructor:2026-seoul-1,bad"
    assert settings.teaching == {"2026-busan-1": ["lee"], "2026-seoul-1": ["kim", "instructor"]}
    c = hubconfig.apply(settings, Config())
    assert c.JupyterHub.load_groups == {
        "instructors:2026-busan-1": {"users": ["lee"]},
        "instructors:2026-seoul-1": {"users": ["instructor", "kim"]},
    }


def test_apply_twice_is_the_same(settings: SadariSettings) -> None:
    once = hubconfig.apply(settings, Config())
    twice = hubconfig.apply(settings, hubconfig.apply(settings, Config()))
    assert once == twice


def test_config_file_settings_win_over_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SADARI_BIND_URL", "http://0.0.0.0:9999")
    c = Config()
    c.SadariSettings.bind_url = "http://127.0.0.1:7000"
    c.SadariSettings.data_dir = str(tmp_path)
    assert SadariSettings(config=c).bind_url == "http://127.0.0.1:7000"
    assert SadariSettings(data_dir=str(tmp_path)).bind_url == "http://0.0.0.0:9999"


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("native", "nativeauthenticator.NativeAuthenticator"),
        ("github", "oauthenticator.github.GitHubOAuthenticator"),
        ("generic-oauth", "oauthenticator.generic.GenericOAuthenticator"),
    ],
)
def test_production_authenticators_are_a_switch(
    settings: SadariSettings, name: str, cls: str
) -> None:
    settings.authenticator = name
    c = hubconfig.apply(settings, Config())
    assert c.JupyterHub.authenticator_class == cls
    assert c.JupyterHub.template_vars["sadari_demo"] is False
    assert "DemoAuthenticator" not in c
    if name == "native":
        assert any("nativeauthenticator" in p for p in c.JupyterHub.template_paths)


def test_docker_backend(settings: SadariSettings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SADARI_SPAWNER", raising=False)
    # the local default keeps everything on loopback
    local = hubconfig.apply(settings, Config())
    assert local.JupyterHub.hub_bind_url == "http://127.0.0.1:8081"
    assert local.JupyterHub.services[0]["environment"]["SADARI_SERVICE_BIND_IP"] == ""
    monkeypatch.setenv("SADARI_SPAWNER", "docker")
    monkeypatch.setenv("SADARI_DOCKER_SUBNET", "10.77.0.0/24")
    s = SadariSettings(project_dir=settings.project_dir, data_dir=settings.data_dir)
    c = hubconfig.apply(s, Config())
    assert c.JupyterHub.spawner_class == "sadari.hub.dockerspawner.SadariDockerSpawner"
    assert c.SadariDockerSpawner.hub_connect_url == "http://10.77.0.1:8081"
    assert "hub_connect_url" not in c.JupyterHub  # the proxy and the service use loopback
    assert c.JupyterHub.hub_bind_url == "http://0.0.0.0:8081"
    d = c.SadariDockerSpawner
    assert d.network_subnet == "10.77.0.0/24" and d.use_internal_ip is True
    assert d.allowed_host_ports == [8081, 10101]
    assert d.environment == {"SADARI_SERVICE_URL": "http://10.77.0.1:10101/services/sadari"}
    assert d.args == [] and d.remove is True
    service = c.JupyterHub.services[0]
    assert service["environment"]["SADARI_SERVICE_BIND_IP"] == "0.0.0.0"


def test_a_bad_docker_subnet_is_refused(settings: SadariSettings) -> None:
    from traitlets import TraitError

    with pytest.raises((TraitError, ValueError)):
        SadariSettings(docker_subnet="300.1.0.0/24")


def test_the_service_gets_every_setting_from_the_config_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """What jupyterhub_config.py sets reaches the service: its environment, read back by the
    service's own SadariSettings in a clean environment, gives the same value of every setting."""
    c = Config()
    c.SadariSettings.grader = "docker"
    c.SadariSettings.grading_workers = 7
    c.SadariSettings.service_grading = False
    c.SadariSettings.max_submission_bytes = 12345
    c.SadariSettings.leaderboard_cohorts = "2026-seoul-1"
    c.SadariSettings.data_dir = str(tmp_path / "data")
    hub_side = SadariSettings(config=c)
    service_env = hubconfig.apply(hub_side, c).JupyterHub.services[0]["environment"]
    for var in [v for v in os.environ if v.startswith("SADARI_")]:
        monkeypatch.delenv(var)
    for var, value in service_env.items():
        monkeypatch.setenv(var, value)
    service_side = SadariSettings()
    for name in hub_side.traits(config=True):
        assert getattr(service_side, name) == getattr(hub_side, name), name
    assert (service_side.grader, service_side.grading_workers) == ("docker", 7)
    assert service_side.service_grading is False


def test_no_culler_without_a_timeout(settings: SadariSettings) -> None:
    settings.idle_timeout = 0
    c = hubconfig.apply(settings, Config())
    names = [s["name"] for s in c.JupyterHub.services]
    assert names == ["sadari", "sadari-automation", "sadari-supervisor"]
    assert "sadari-idle-culler" not in {r["name"] for r in c.JupyterHub.load_roles}
