"""The Assignment List's answers in a trainee's server: an exchange error as its message.

nbgrader's Assignment List server extension (`nbgrader.server_extensions.assignment_list`)
answers a failed fetch, submit or feedback fetch with `traceback.format_exc()`, which JupyterLab
shows in its "Invalid Submission" dialog: a Python traceback whose last line is the message. This
server extension, loaded after nbgrader's (jupyter_server loads extensions in name order, and
`nbgrader...` sorts before `sadari...`), replaces the panel's manager with `SadariAssignmentList`:
an `ExchangeError` (the sadari exchange's `fail`: the service's message, with each refused file
and why) comes back as just that message; any other exception still comes back, and is logged, as
nbgrader does, with its traceback, since it is a bug to report.

Enabled by `jupyter_server_config.json` in this folder (the local spawner's JUPYTER_CONFIG_PATH)
and by the single-user image's copy of it (images/singleuser/etc/).
"""

from __future__ import annotations

import traceback
from typing import Any

from nbgrader.auth import Authenticator
from nbgrader.coursedir import CourseDirectory
from nbgrader.exchange import ExchangeError, ExchangeFactory
from nbgrader.server_extensions.assignment_list.handlers import AssignmentList

NBGRADER_EXTENSION = "nbgrader.server_extensions.assignment_list"
MANAGER = "assignment_list_manager"  # nbgrader's handlers find their manager in this setting


class SadariAssignmentList(AssignmentList):  # type: ignore[misc]
    """nbgrader's Assignment List manager whose fetch, submit and fetch_feedback answer an
    ExchangeError with its message alone: `{"success": False, "value": message}`."""

    def run_exchange(self, kind: str, course_id: str, assignment_id: str) -> dict[str, Any]:
        """Run the exchange step `kind` (FetchAssignment, Submit, FetchFeedback) as nbgrader's
        manager does (the same configuration, folders and arguments)."""
        with self.get_assignment_dir_config():
            try:
                config = self.load_config()
                config.CourseDirectory.course_id = course_id
                config.CourseDirectory.assignment_id = assignment_id
                coursedir = CourseDirectory(config=config)
                authenticator = Authenticator(config=config)
                step = getattr(ExchangeFactory(config=config), kind)(
                    coursedir=coursedir, authenticator=authenticator, config=config
                )
                step.start()
            except ExchangeError as e:
                self.log.error("%s of %s failed: %s", kind, assignment_id, e)
                return {"success": False, "value": str(e)}
            except Exception:
                self.log.error(traceback.format_exc())
                return {"success": False, "value": traceback.format_exc()}
        return {"success": True}

    def fetch_assignment(self, course_id: str, assignment_id: str) -> dict[str, Any]:
        """Download a released assignment."""
        return self.run_exchange("FetchAssignment", course_id, assignment_id)

    def fetch_feedback(self, course_id: str, assignment_id: str) -> dict[str, Any]:
        """Download the feedback of one's submissions."""
        return self.run_exchange("FetchFeedback", course_id, assignment_id)

    def submit_assignment(self, course_id: str, assignment_id: str) -> dict[str, Any]:
        """Hand in an assignment."""
        return self.run_exchange("Submit", course_id, assignment_id)


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": __name__}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    """Put `SadariAssignmentList` in place of the manager nbgrader's extension installed."""
    settings = serverapp.web_app.settings
    if not isinstance(settings.get(MANAGER), AssignmentList):
        serverapp.log.warning(
            "sadari: nbgrader's Assignment List (%s) is not loaded; nothing to replace",
            NBGRADER_EXTENSION,
        )
        return
    manager = SadariAssignmentList(parent=serverapp)
    manager.root_dir = serverapp.root_dir
    settings[MANAGER] = manager
    serverapp.log.info("sadari: the Assignment List shows exchange errors as their message")
