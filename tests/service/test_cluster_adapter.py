"""The kubernetes grading backend's adapter (graders/sandbox/cluster.py) when the cluster misbehaves.

Against tests/support/fakekube.py (a mock of the Kubernetes API server: no cluster can run here);
these cases need no pod to run, so no Docker engine either (a pod here ends at once with the log
the test gives it). The pods themselves run for real in tests/sandbox/test_attacks.py (the whole
attack corpus through this adapter).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from sadari.graders.sandbox import cluster
from sadari.graders.sandbox.base import Limits
from sadari.graders.sandbox.podrunner import MARKER
from sadari.hub import assessments
from sadari.hub.settings import SadariSettings
from tests.support.fakekube import FakeCluster


class IdleCluster(FakeCluster):
    """A cluster that accepts Jobs but never runs their pods (no node has room)."""

    def _run_pod(self, pod_name: str, job: dict[str, Any]) -> None:
        return


class InstantCluster(FakeCluster):
    """A cluster whose pods end at once, the runner's log being `log`; it records the full path
    (with the query) of every DELETE."""

    log = ""

    def __init__(self) -> None:
        super().__init__()
        self.deletes: list[str] = []

    def _run_pod(self, pod_name: str, job: dict[str, Any]) -> None:
        self._set(pod_name, phase="Running", exit_code=0, log=self.log)

    def _handler(self) -> Any:
        base = super()._handler()
        fake = self

        class Handler(base):  # type: ignore[valid-type, misc]
            def do_DELETE(self) -> None:
                fake.deletes.append(self.path)
                super().do_DELETE()

        return Handler


def api_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "sadari-kubernetes-api"]


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


def test_a_korean_log_is_read_as_utf_8() -> None:
    """The API server sends logs as text/plain without a charset; read as Latin-1, UTF-8 Korean
    text turns into other characters, some of them (0x85) line breaks that cut the result line."""
    fake = InstantCluster()
    output = "안녕하세요, 사다리 — 녕\n"
    assert b"\x85" in output.encode()  # the byte Latin-1 reads as NEXT LINE
    run = {"index": 0, "status": "ok", "output": output, "alive_after": True}
    fake.log = "경고: 러너의 한국어 줄\n" + MARKER + json.dumps({"runs": [run]}, ensure_ascii=False)
    sandbox = cluster.KubernetesSandbox(
        cluster.ClusterAPI(fake.url, fake.token, ca_file=False), "grading", "img", poll_seconds=0.05
    )
    try:
        (result,) = sandbox.run(["print('안녕하세요')"], Limits())
    finally:
        sandbox.close()
        fake.close()
    assert (result.status, result.output) == ("ok", output)


def test_one_event_loop_thread_serves_every_call_and_close_ends_it() -> None:
    """The client runs on one loop in one thread of the ClusterAPI's own, whichever thread calls
    and however many calls run at once; close() ends it; a Job is deleted with its pods."""
    fake = InstantCluster()
    run = {"index": 0, "status": "ok", "output": "2\n", "alive_after": True}
    fake.log = MARKER + json.dumps({"runs": [run]})
    before = len(api_threads())
    api = cluster.ClusterAPI(fake.url, fake.token, ca_file=False)
    sandbox = cluster.KubernetesSandbox(api, "grading", "img", poll_seconds=0.05)
    try:
        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(lambda _: sandbox.run(["1 + 1"], Limits()), range(8)))
        assert all(r[0].output == "2\n" for r in results)
        assert len(api_threads()) == before + 1
        assert not fake.jobs and not fake.config_maps
        job_deletes = [p for p in fake.deletes if "/jobs/" in p]
        assert len(job_deletes) == 8
        assert all("propagationPolicy=Background" in p for p in job_deletes), job_deletes
    finally:
        sandbox.close()
        fake.close()
    assert len(api_threads()) == before
    with pytest.raises(cluster.ClusterError, match="closed"):
        sandbox.run(["1"], Limits())
    sandbox.close()  # twice is fine
