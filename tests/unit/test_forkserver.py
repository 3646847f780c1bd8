"""hub/forkserver.py: which servers may be forked from the warmed parent, and what the parent is
started with (the forking itself runs against a real hub in tests/integration/test_isolation.py)."""

from __future__ import annotations

from sadari.hub import forkserver as fs

SERVER_ENV = {
    "PATH": "/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "PYTHONPATH": "/opt/extra",
    "HOME": "/home/sadari-trainee001",
    "USER": "sadari-trainee001",
    "JUPYTERHUB_API_TOKEN": "secret-token",
    "JUPYTERHUB_SERVICE_PREFIX": "/user/trainee001/",
    "SADARI_TRACK": "data-analysis",
    "TZ": "Asia/Seoul",
}


def test_the_parent_gets_only_what_a_python_start_and_its_imports_read() -> None:
    assert fs.startup_env(SERVER_ENV) == {
        "PATH": "/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONPATH": "/opt/extra",
    }


def test_forks_only_this_environments_server_one_parent_per_start_up_variables() -> None:
    assert fs.ForkServer.accepts([fs.SINGLEUSER, "--debug"])
    assert not fs.ForkServer.accepts(["/usr/local/bin/jupyterhub-singleuser"])
    assert not fs.ForkServer.accepts([])
    other_person = {**SERVER_ENV, "HOME": "/home/b", "JUPYTERHUB_API_TOKEN": "t2", "TZ": "UTC"}
    assert fs.fork_server(SERVER_ENV) is fs.fork_server(other_person)
    for differs in (
        {"PYTHONPATH": "/elsewhere"},
        {"JUPYTERHUB_SINGLEUSER_APP": "notebook"},
        {"LANG": "ko_KR.UTF-8"},
    ):
        assert fs.fork_server(SERVER_ENV) is not fs.fork_server({**SERVER_ENV, **differs})
    assert fs.fork_server(SERVER_ENV).env == fs.startup_env(SERVER_ENV)
