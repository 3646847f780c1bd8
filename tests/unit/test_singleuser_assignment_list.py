"""sadari's Assignment List server extension (hub/singleuser/assignment_list.py) is registered
where trainees' servers read their configuration, loads after nbgrader's and replaces its manager.
What the manager answers against the real service is in tests/service/test_submission_files.py."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from types import SimpleNamespace

import pytest
from jupyter_server.serverapp import ServerApp
from nbgrader.server_extensions.assignment_list.handlers import AssignmentList

from sadari.hub.singleuser import assignment_list as ext
from tests.support.hub import ROOT

NAME = "sadari.hub.singleuser.assignment_list"
CONFIGS = [
    ROOT / "hub/singleuser/jupyter_server_config.json",  # the local spawner's JUPYTER_CONFIG_PATH
    ROOT / "images/singleuser/etc/jupyter_server_config.json",  # the trainee image's
]


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.parent.name)
def test_enabled_in_every_trainee_server_configuration(path) -> None:  # type: ignore[no-untyped-def]
    extensions = json.loads(path.read_text())["ServerApp"]["jpserver_extensions"]
    assert extensions[NAME] is True
    assert ext.__name__ == NAME


def test_loads_after_nbgraders_assignment_list() -> None:
    # jupyter_server loads extensions sorted by name (ExtensionManager.sorted_extensions)
    assert sorted([NAME, ext.NBGRADER_EXTENSION]) == [ext.NBGRADER_EXTENSION, NAME]
    assert ext._jupyter_server_extension_points() == [{"module": NAME}]


def server(settings: dict[str, object], root: Path) -> ServerApp:
    """A ServerApp as extensions see it when they load (not started: its web app's settings)."""
    app = ServerApp(root_dir=str(root))
    app.web_app = SimpleNamespace(settings=settings)
    return app


def test_replaces_nbgraders_manager(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    nbgraders = AssignmentList()
    settings: dict[str, object] = {ext.MANAGER: nbgraders}
    ext._load_jupyter_server_extension(server(settings, tmp_path))
    manager = settings[ext.MANAGER]
    assert isinstance(manager, ext.SadariAssignmentList) and manager is not nbgraders
    assert manager.root_dir == str(tmp_path)

    empty: dict[str, object] = {}
    app = server(empty, tmp_path)
    app.log = logging.getLogger("sadari-test-server")  # ServerApp's own does not propagate
    with caplog.at_level(logging.WARNING, logger=app.log.name):
        ext._load_jupyter_server_extension(app)
    assert empty == {} and "not loaded" in caplog.text
