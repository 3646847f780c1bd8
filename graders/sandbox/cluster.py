"""The Kubernetes grading backend: one Job per submission, driven through the Kubernetes API.

The manifests come from graders/sandbox/kubernetes.py (pure functions); this module is the thin
cluster-side adapter that carries them out, as the `Backend` every sandbox fulfils:

1. create the plan's ConfigMap (immutable), then the Job (two containers: the untrusted kernel and
   the trusted runner, graders/sandbox/podrunner.py; no network);
2. wait until the pod's `runner` container has terminated (or the pod failed, or the deadline
   passed);
3. read the runner's log and parse the execution records from it (`podrunner.parse_log`);
4. delete the Job (with its pod) and the ConfigMap, whatever happened.

A cluster that does not answer, refuses a request or never runs the pod raises `ClusterError`: the
grading job stays in the queue and is retried (it is not the trainee's fault). `ClusterAPI` makes
its calls with `kubernetes_asyncio`, the client KubeSpawner runs on (in-cluster: the pod's
service-account token, re-read as the kubelet rotates it, and the cluster's CA), on one event loop
of its own in one thread, so that the grader's threads can call it synchronously; the grading
workers' Role (helm/sadari/templates/grading/rbac.yaml) allows exactly these calls.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import contextlib
import dataclasses
import os
import secrets
import threading
import time
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any, TypeVar

try:
    import aiohttp
    from kubernetes_asyncio import client as kube
    from kubernetes_asyncio.config import ConfigException, load_incluster_config
except ImportError:  # the other backends need no Kubernetes client
    kube = None  # type: ignore[assignment]

from . import kubernetes as k8s
from .base import CellRun, Limits, WorkFile
from .podrunner import parse_log

SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")
T = TypeVar("T")


class ClusterError(RuntimeError):
    """The cluster did not do what grading needs (the message says what and where)."""


class ClusterAPI:
    """The few Kubernetes API calls grading makes, synchronous for the grader's threads.

    The calls run on one event loop in one thread that this object owns (started here, ended by
    `close`); any thread may call, and calls from several threads run concurrently on it.
    `ca_file`: the CA bundle to verify the API server with, True for the system's, False to
    verify nothing (tests only)."""

    def __init__(self, url: str, token: str, ca_file: str | bool = True, timeout: float = 30):
        if kube is None:
            raise ClusterError(
                "the kubernetes grader needs the kubernetes_asyncio package "
                "(pip install sadari[kubernetes])"
            )
        config = kube.Configuration(host=url.rstrip("/"))
        config.api_key["BearerToken"] = f"Bearer {token}"
        config.verify_ssl = bool(ca_file)
        if isinstance(ca_file, str):
            config.ssl_ca_cert = ca_file
        self._start(config, timeout)

    @classmethod
    def in_cluster(cls) -> ClusterAPI:
        """The API server of the cluster this pod runs in, with the pod's service account."""
        token_file = SERVICE_ACCOUNT / "token"
        if not os.environ.get("KUBERNETES_SERVICE_HOST") or not token_file.is_file():
            raise ClusterError(
                "not running in a Kubernetes pod with a service-account token "
                "(KUBERNETES_SERVICE_HOST, " + str(token_file) + "): the kubernetes grader runs in "
                "the chart's grading workers"
            )
        if kube is None:
            raise ClusterError(
                "the kubernetes grader needs the kubernetes_asyncio package "
                "(pip install sadari[kubernetes])"
            )
        config = kube.Configuration()
        try:
            load_incluster_config(client_configuration=config)
        except ConfigException as e:
            raise ClusterError(f"the pod's service account cannot be used: {e}") from None
        api = cls.__new__(cls)
        api._start(config, 30)
        return api

    def _start(self, config: Any, timeout: float) -> None:
        self.timeout = timeout
        self._closed = False
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, daemon=True, name="sadari-kubernetes-api"
        )
        self._thread.start()

        async def open_client() -> Any:  # aiohttp's session is made on the loop it runs on
            return kube.ApiClient(config)

        self._client = asyncio.run_coroutine_threadsafe(open_client(), self._loop).result()
        self.core = kube.CoreV1Api(self._client)
        self.batch = kube.BatchV1Api(self._client)

    def close(self) -> None:
        """Close the connections and end the event loop's thread."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(Exception):  # best effort: the thread ends all the same
            asyncio.run_coroutine_threadsafe(self._client.close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def _run(self, what: str, call: Coroutine[Any, Any, T], missing_ok: bool = False) -> T | None:
        """Run one API call on the loop and wait for it; ClusterError when it fails (None for an
        object already gone, when `missing_ok`)."""
        if self._closed:
            call.close()
            raise ClusterError(f"{what}: the Kubernetes API client is closed")
        future = asyncio.run_coroutine_threadsafe(call, self._loop)
        try:
            # the client's own timeout ends the call; the margin only guards against a stuck loop
            return future.result(self.timeout + 10)
        except kube.ApiException as e:
            if missing_ok and e.status == 404:
                return None
            body = e.body if isinstance(e.body, str) and e.body else str(e.reason)
            raise ClusterError(f"{what}: {e.status} {body[:300]}") from None
        except (aiohttp.ClientError, TimeoutError, concurrent.futures.TimeoutError, OSError) as e:
            future.cancel()
            raise ClusterError(f"{what}: the Kubernetes API did not answer: {e!r}") from None
        except UnicodeDecodeError as e:
            raise ClusterError(f"{what}: the answer is not UTF-8 ({e})") from None

    def create_config_map(self, namespace: str, body: dict[str, Any]) -> None:
        """Create a ConfigMap."""
        self._run(
            f"create configmap {namespace}/{body['metadata']['name']}",
            self.core.create_namespaced_config_map(namespace, body, _request_timeout=self.timeout),
        )

    def create_job(self, namespace: str, body: dict[str, Any]) -> None:
        """Create a Job."""
        self._run(
            f"create job {namespace}/{body['metadata']['name']}",
            self.batch.create_namespaced_job(namespace, body, _request_timeout=self.timeout),
        )

    def pods(self, namespace: str, selector: str) -> list[dict[str, Any]]:
        """The pods `selector` picks, as the API server's JSON objects."""
        found = self._run(
            f"list pods {namespace} {selector}",
            self.core.list_namespaced_pod(
                namespace, label_selector=selector, _request_timeout=self.timeout
            ),
        )
        items = found.items if found is not None else []
        return [self._client.sanitize_for_serialization(p) for p in items or []]

    def runner_log(self, namespace: str, pod: str) -> str:
        """The runner container's log. The API server sends logs as text/plain with no charset;
        the client reads them as UTF-8 (the runner's own lines start with its marker, so none is
        mistaken for JSON by the client)."""
        log = self._run(
            f"read log {namespace}/{pod}",
            self.core.read_namespaced_pod_log(
                pod, namespace, container="runner", _request_timeout=self.timeout
            ),
        )
        return log or ""

    def delete_job(self, namespace: str, name: str) -> None:
        """Delete a Job and its pods; gone already is fine."""
        self._run(
            f"delete job {namespace}/{name}",
            self.batch.delete_namespaced_job(
                name,
                namespace,
                propagation_policy="Background",
                _request_timeout=self.timeout,
            ),
            missing_ok=True,
        )

    def delete_config_map(self, namespace: str, name: str) -> None:
        """Delete a ConfigMap; gone already is fine."""
        self._run(
            f"delete configmap {namespace}/{name}",
            self.core.delete_namespaced_config_map(name, namespace, _request_timeout=self.timeout),
            missing_ok=True,
        )


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
        """Close the API client (nothing is started ahead: every run has its own pod)."""
        self.api.close()

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
        self.api.create_config_map(ns, cm)
        try:
            self.api.create_job(ns, job)
            try:
                log, end = self._wait_and_read(name, limits)
            finally:
                self.api.delete_job(ns, name)
        finally:
            self.api.delete_config_map(ns, name)
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
            pods = self.api.pods(ns, selector)
            done = [p for p in pods if runner_state(p) == "done"]
            if done:
                pod = done[0]["metadata"]["name"]
                log = self.api.runner_log(ns, pod)
                return log, runner_end(done[0])
            if time.monotonic() > deadline:
                where = pods[0]["metadata"]["name"] if pods else "no pod scheduled"
                raise ClusterError(f"job {ns}/{name}: the runner did not finish in time ({where})")
            time.sleep(self.poll_seconds)
