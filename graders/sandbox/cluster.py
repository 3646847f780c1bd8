"""The Kubernetes grading backend: one Job per submission, driven through the Kubernetes REST API.

The manifests come from graders/sandbox/kubernetes.py (pure functions); this module is the thin
cluster-side adapter that carries them out, as the `Backend` every sandbox fulfils:

1. create the plan's ConfigMap (immutable), then the Job (two containers: the untrusted kernel and
   the trusted runner, graders/sandbox/podrunner.py; no network);
2. wait until the pod's `runner` container has terminated (or the pod failed, or the deadline
   passed);
3. read the runner's log and parse the execution records from it (`podrunner.parse_log`);
4. delete the Job (with its pod) and the ConfigMap, whatever happened.

A cluster that does not answer, refuses a request or never runs the pod raises `ClusterError`: the
grading job stays in the queue and is retried (it is not the trainee's fault). `ClusterAPI` speaks
plain HTTPS with the pod's service-account token (in-cluster), so no Kubernetes client library is
needed; the grading workers' Role (helm/sadari/templates/grading/rbac.yaml) allows exactly these
calls.
"""

from __future__ import annotations

import base64
import dataclasses
import os
import secrets
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests

from . import kubernetes as k8s
from .base import CellRun, Limits, WorkFile
from .podrunner import parse_log

SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")


class ClusterError(RuntimeError):
    """The cluster did not do what grading needs (the message says what and where)."""


class ClusterAPI:
    """The few Kubernetes API calls grading makes, over HTTPS with a bearer token."""

    def __init__(self, url: str, token: str, ca_file: str | bool = True, timeout: float = 30):
        self.url = url.rstrip("/")
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"
        self.session.verify = ca_file
        self.timeout = timeout

    @classmethod
    def in_cluster(cls) -> ClusterAPI:
        """The API server of the cluster this pod runs in, with the pod's service account."""
        host = os.environ.get("KUBERNETES_SERVICE_HOST")
        port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
        token_file = SERVICE_ACCOUNT / "token"
        if not host or not token_file.is_file():
            raise ClusterError(
                "not running in a Kubernetes pod with a service-account token "
                "(KUBERNETES_SERVICE_HOST, " + str(token_file) + "): the kubernetes grader runs in "
                "the chart's grading workers"
            )
        if ":" in host:
            host = f"[{host}]"
        return cls(
            f"https://{host}:{port}",
            token_file.read_text().strip(),
            str(SERVICE_ACCOUNT / "ca.crt"),
        )

    def _call(self, method: str, path: str, **kw: Any) -> requests.Response:
        try:
            r = self.session.request(method, self.url + path, timeout=self.timeout, **kw)
        except requests.RequestException as e:
            raise ClusterError(f"{method} {path}: the Kubernetes API did not answer: {e}") from None
        if r.status_code >= 400 and not (method == "DELETE" and r.status_code == 404):
            raise ClusterError(f"{method} {path}: {r.status_code} {r.text[:300]}")
        return r

    def create(self, path: str, body: dict[str, Any]) -> None:
        """POST an object."""
        self._call("POST", path, json=body)

    def get(self, path: str, **params: str) -> dict[str, Any]:
        """GET an object or a list."""
        body: dict[str, Any] = self._call("GET", path, params=params).json()
        return body

    def text(self, path: str, **params: str) -> str:
        """GET a text resource (a container's log), as UTF-8 whatever the response says: the API
        server sends logs as text/plain with no charset, which HTTP clients read as Latin-1."""
        return self._call("GET", path, params=params).content.decode("utf-8", errors="replace")

    def delete(self, path: str) -> None:
        """DELETE an object and what it owns (its pods); gone already is fine."""
        self._call("DELETE", path, json={"propagationPolicy": "Background"})


def runner_state(pod: dict[str, Any]) -> str:
    """'done' once the runner container has terminated or the pod failed, else 'waiting'."""
    status = pod.get("status") or {}
    if status.get("phase") in ("Failed", "Succeeded"):
        return "done"
    for c in status.get("containerStatuses") or []:
        if c.get("name") == "runner" and "terminated" in (c.get("state") or {}):
            return "done"
    return "waiting"


def runner_end(pod: dict[str, Any]) -> str:
    """How the runner container ended, for error messages ('exit 137 OOMKilled', ...)."""
    status = pod.get("status") or {}
    for c in status.get("containerStatuses") or []:
        ended = (c.get("state") or {}).get("terminated")
        if c.get("name") == "runner" and ended:
            return f"runner exit {ended.get('exitCode')} {ended.get('reason', '')}".strip()
    return f"pod {status.get('phase', 'unknown')} {status.get('reason', '')}".strip()


class KubernetesSandbox:
    """Each `run` grades in a fresh Job of the grading image in `namespace`."""

    def __init__(
        self,
        api: ClusterAPI,
        namespace: str,
        image: str,
        *,
        start_seconds: float = k8s.DEADLINE_MARGIN_SECONDS,
        poll_seconds: float = 1.0,
        job_options: dict[str, Any] | None = None,
    ):
        self.api, self.namespace, self.image = api, namespace, image
        self.start_seconds, self.poll_seconds = start_seconds, poll_seconds
        self.job_options = job_options or {}

    def close(self) -> None:
        """Nothing is started ahead: every run has its own pod."""

    def run(
        self, cells: list[str], limits: Limits, files: Sequence[WorkFile] = ()
    ) -> list[CellRun]:
        """Run `cells` in a grading pod whose grading folder holds `files`; one CellRun per
        cell."""
        name = f"sadari-grade-{secrets.token_hex(6)}"
        ns = self.namespace
        plan: dict[str, Any] = {"cells": cells, "limits": dataclasses.asdict(limits)}
        if files:
            plan["files"] = [
                {"path": f.path, "data": base64.b64encode(f.data).decode(), "readonly": f.readonly}
                for f in files
            ]
        cm = k8s.grading_plan_config_map(name, ns, plan)
        job = k8s.grading_job(name, ns, self.image, name, limits, **self.job_options)
        cm_path = f"/api/v1/namespaces/{ns}/configmaps"
        job_path = f"/apis/batch/v1/namespaces/{ns}/jobs"
        self.api.create(cm_path, cm)
        try:
            self.api.create(job_path, job)
            try:
                log, end = self._wait_and_read(name, limits)
            finally:
                self.api.delete(f"{job_path}/{name}")
        finally:
            self.api.delete(f"{cm_path}/{name}")
        try:
            return [CellRun(**r) for r in parse_log(log)]
        except ValueError as e:
            raise ClusterError(f"job {ns}/{name}: {e} ({end})") from None

    def _wait_and_read(self, name: str, limits: Limits) -> tuple[str, str]:
        """The runner's log once it has finished, and how it ended."""
        ns = self.namespace
        deadline = time.monotonic() + limits.total_seconds + self.start_seconds
        selector = f"job-name={name}"
        while True:
            pods = self.api.get(f"/api/v1/namespaces/{ns}/pods", labelSelector=selector)["items"]
            done = [p for p in pods if runner_state(p) == "done"]
            if done:
                pod = done[0]["metadata"]["name"]
                log = self.api.text(
                    f"/api/v1/namespaces/{ns}/pods/{quote(pod)}/log", container="runner"
                )
                return log, runner_end(done[0])
            if time.monotonic() > deadline:
                where = pods[0]["metadata"]["name"] if pods else "no pod scheduled"
                raise ClusterError(f"job {ns}/{name}: the runner did not finish in time ({where})")
            time.sleep(self.poll_seconds)
