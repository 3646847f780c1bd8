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


def test_forks_only_this_environments_server_with_the_same_start_up_variables() -> None:
    server = fs.ForkServer(SERVER_ENV)
    argv = [fs.SINGLEUSER, "--debug"]
    other_person = {**SERVER_ENV, "HOME": "/home/b", "JUPYTERHUB_API_TOKEN": "t2", "TZ": "UTC"}
    assert server.accepts(argv, other_person)
    assert not server.accepts(["/usr/local/bin/jupyterhub-singleuser"], SERVER_ENV)
    assert not server.accepts([], SERVER_ENV)
    assert not server.accepts(argv, {**SERVER_ENV, "PYTHONPATH": "/elsewhere"})
    assert not server.accepts(argv, {**SERVER_ENV, "JUPYTERHUB_SINGLEUSER_APP": "notebook"})
    assert not server.accepts(argv, {k: v for k, v in SERVER_ENV.items() if k != "LANG"})
    # one parent per set of start-up variables
    assert fs.fork_server(SERVER_ENV) is fs.fork_server(other_person)
    assert fs.fork_server(SERVER_ENV) is not fs.fork_server({**SERVER_ENV, "LANG": "ko_KR.UTF-8"})
