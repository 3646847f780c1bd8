"""The kubernetes grading backend's adapter (graders/sandbox/cluster.py) when the cluster misbehaves.

Against tests/support/fakekube.py (a mock of the Kubernetes API server: no cluster can run here);
these cases need no pod to run, so no Docker engine either. The pods themselves run for real in
tests/sandbox/test_attacks.py (the whole attack corpus through this adapter).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from sadari.graders.sandbox import cluster
from sadari.graders.sandbox.base import Limits
from sadari.hub import assessments
from sadari.hub.settings import SadariSettings
from tests.support.fakekube import FakeCluster


class IdleCluster(FakeCluster):
    """A cluster that accepts Jobs but never runs their pods (no node has room)."""

    def _run_pod(self, pod_name: str, job: dict[str, Any]) -> None:
        return


@pytest.fixture
def idle() -> Iterator[IdleCluster]:
    fake = IdleCluster()
    yield fake
    fake.close()


def test_a_pod_that_never_runs_is_an_error_and_everything_is_deleted(idle: IdleCluster) -> None:
    api = cluster.ClusterAPI(idle.url, idle.token, ca_file=False)
    sandbox = cluster.KubernetesSandbox(api, "grading", "img", start_seconds=1, poll_seconds=0.1)
    with pytest.raises(cluster.ClusterError, match="did not finish in time"):
        sandbox.run(["1 + 1"], Limits(total_seconds=1))
    assert not idle.jobs and not idle.config_maps  # the Job and the plan are gone
    methods = [m for m, _ in idle.calls]
    assert methods[:2] == ["POST", "POST"] and methods[-2:] == ["DELETE", "DELETE"]


def test_a_refused_token_says_so(idle: IdleCluster) -> None:
    api = cluster.ClusterAPI(idle.url, "not-the-token", ca_file=False)
    sandbox = cluster.KubernetesSandbox(api, "grading", "img")
    with pytest.raises(cluster.ClusterError, match="401"):
        sandbox.run(["1 + 1"], Limits())


def test_an_api_server_that_does_not_answer() -> None:
    api = cluster.ClusterAPI("http://127.0.0.1:9", "t", ca_file=False, timeout=2)
    with pytest.raises(cluster.ClusterError, match="did not answer"):
        cluster.KubernetesSandbox(api, "grading", "img").run(["1"], Limits())


def test_outside_a_pod_the_kubernetes_grader_explains_itself(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(cluster.ClusterError, match="not running in a Kubernetes pod"):
        cluster.ClusterAPI.in_cluster()
    settings = SadariSettings(grader="kubernetes")
    with pytest.raises(assessments.OperationError, match="kubernetes grader cannot run here"):
        assessments.autograder_for(settings)


def test_the_runners_end_is_reported() -> None:
    pod = {
        "status": {
            "phase": "Running",
            "containerStatuses": [
                {
                    "name": "runner",
                    "state": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}},
                }
            ],
        }
    }
    assert cluster.runner_state(pod) == "done"
    assert cluster.runner_end(pod) == "runner exit 137 OOMKilled"
    assert cluster.runner_state({"status": {"phase": "Pending"}}) == "waiting"
