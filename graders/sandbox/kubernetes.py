"""Kubernetes manifests for the grading sandbox: a Job per submission, its plan, a network policy.

This module owns only the *shape* of what the Kubernetes backend creates, as pure functions of
plain values that return plain dicts (ready for `json.dumps`, `kubectl apply -f -` or a client's
`create_namespaced_*(body=...)`); nothing here talks to a cluster, reads files or imports a
Kubernetes client:

- `grading_plan_config_map`: the v1 ConfigMap that carries the run plan (`plan.json`: the cells to
  run and the limits), built on the trusted side from the instructor's source and the submission.
- `grading_job`: the `batch/v1` Job that grades ONE submission in ONE pod of two containers (the
  design is explained in graders/sandbox/podrunner.py):
  - `kernel` (untrusted, `kernel_uid`) runs ipykernel and sees only the shared /job/run (the
    connection file and the kernel's IPC sockets), its own /job/scratch and /tmp. It never sees
    the plan, hence never the hidden tests before they run.
  - `runner` (trusted, `runner_uid`) runs graders/sandbox/podrunner.py: it reads the plan from its
    own read-only ConfigMap volume, writes the connection file into /job/run, drives the kernel
    over the IPC sockets and prints the execution records on its stdout.
  The containers share no process namespace, nothing but the 1 MiB memory-backed /job/run.
- `grading_network_policy`: the `networking.k8s.io/v1` NetworkPolicy that cuts every grading pod
  off the network. Nothing in the pod needs it: the plan arrives as a volume, the result leaves
  through the runner container's log.

The backend (the cluster-side adapter; NOT written yet: no cluster runs here) creates the
ConfigMap, then the Job; it waits until the `runner` container has terminated, reads that
container's log through the Kubernetes API and parses it with `podrunner.parse_log`, then deletes
the Job (with its pod) and the ConfigMap. It must read the log before deleting anything: the log
goes with the pod. The kernel container does not exit by itself once the runner is done, so the
Job does not complete on its own; if the backend never deletes it, `activeDeadlineSeconds` kills
the pod and `ttlSecondsAfterFinished` removes the failed Job. Retrying failed gradings is the
queue's job, hence `backoffLimit: 0`.

The pod follows the Pod Security Standards' "restricted" profile: non-root uids, no privilege
escalation, every capability dropped, the runtime's default seccomp profile, read-only root
filesystems, no service-account token and no service environment variables.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from typing import Any

from .base import KERNEL_ENV, Limits

__all__ = [
    "DEADLINE_MARGIN_SECONDS",
    "GRADING_ROLE_LABEL",
    "MAX_CONFIG_MAP_BYTES",
    "PLAN_KEY",
    "PLAN_PATH",
    "RUNNER_COMMAND",
    "RUN_PATH",
    "grading_job",
    "grading_network_policy",
    "grading_plan_config_map",
    "kernel_command",
]

# `activeDeadlineSeconds` = ceil(limits.total_seconds) + this. The runner enforces the per-cell and
# per-notebook limits itself; the Job deadline is only the backstop that kills the pod when the
# runner cannot (it hangs, or the kernel wedges it), or when the backend never deletes the Job.
# Kubernetes counts the deadline from the Job's start, so the margin also covers scheduling,
# container and kernel start-up and printing the result. Grading images are expected to be
# pre-pulled: a slow image pull eats into this minute and can fail the Job with DeadlineExceeded.
DEADLINE_MARGIN_SECONDS = 60

# The label the NetworkPolicy selects on; callers may add labels but never change this one.
GRADING_ROLE_LABEL = "sadari.io/role"

_BASE_LABELS: dict[str, str] = {
    "app.kubernetes.io/name": "sadari",
    "app.kubernetes.io/component": "grader",
    GRADING_ROLE_LABEL: "grading",
}

# The pod's two containers (see graders/sandbox/podrunner.py). The kernel waits for the runner's
# connection file, then serves on IPC sockets in the shared /job/run; umask 007 lets the runner
# (another uid in the same group) connect to them. Its address space is limited as in the other
# backends (a memory bomb gets a MemoryError).
RUN_PATH = "/job/run"
PLAN_PATH = "/job/plan"
# The grading folder: an emptyDir both containers mount. The runner makes WORK_DIR in it (sticky,
# like /tmp) and writes the plan's files there before the connection file; the kernel works there.
WORK_PATH = "/job/work"
WORK_DIR = f"{WORK_PATH}/files"


def kernel_command(memory_bytes: int) -> list[str]:
    """The untrusted kernel container's command. tini is the container's PID 1, as in the other
    backends: the kernel is an ordinary process that signals (its own SIGKILL included) reach,
    and what it forks is reaped."""
    return [
        "/usr/bin/tini",
        "--",
        "/bin/sh",
        "-c",
        f"until [ -s {RUN_PATH}/kernel.json ]; do sleep 0.05; done; cd {WORK_DIR}; umask 0007; "
        f"export {' '.join(f'{k}={v}' for k, v in KERNEL_ENV.items())}; "
        f"exec prlimit --as={int(memory_bytes)} -- python -m ipykernel_launcher "
        f"-f {RUN_PATH}/kernel.json --IPKernelApp.no_stdout=False --HistoryManager.enabled=False",
    ]


RUNNER_COMMAND = [
    "python",
    "-m",
    "sadari.graders.sandbox.podrunner",
    "--plan",
    f"{PLAN_PATH}/plan.json",
    "--run",
    RUN_PATH,
]

# The ConfigMap key of the plan, i.e. the file name under PLAN_PATH (RUNNER_COMMAND reads it).
PLAN_KEY = "plan.json"

# What the API server lets a ConfigMap hold: the UTF-8 bytes of all its values together (the key
# names do not count).
MAX_CONFIG_MAP_BYTES = 1024 * 1024

_SCRATCH_PATH = "/job/scratch"
# /job/run holds a connection file and five socket inodes.
_RUN_SIZE = "1Mi"
# The kernel container's memory beyond its address-space limit and its memory-backed volumes:
# the shared /job/run, the shell before it execs, the page cache of the image's files.
_KERNEL_MEMORY_HEADROOM = 64 * 1024 * 1024
# The runner only relays messages; it is not the one being limited. 250m rather than less so that
# CFS throttling does not make it late reading a chatty kernel (it measures the cells' wall time).
# Its memory may burst to 512Mi: a kernel flooding its output faster than the runner drains it
# fills the runner's message queue (a gigabyte of output was OOM-killed at 128Mi on a busy node).
_RUNNER_REQUESTS = {"cpu": "250m", "memory": "128Mi"}
_RUNNER_LIMITS = {"cpu": "250m", "memory": "512Mi"}
_LIMITS_FIELDS = frozenset(f.name for f in dataclasses.fields(Limits))

# https://kubernetes.io/docs/concepts/overview/working-with-objects/names/
_DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
# https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#syntax-and-character-set
_LABEL_NAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")


def _check_dns1123_label(what: str, value: str) -> None:
    if not isinstance(value, str) or len(value) > 63 or not _DNS1123_LABEL.fullmatch(value):
        raise ValueError(
            f"{what} {value!r} is not a DNS-1123 label: 1-63 characters of lower-case letters, "
            "digits and '-', starting and ending with a letter or digit"
        )


def _check_labels(labels: dict[str, str]) -> None:
    for key, value in labels.items():
        if not isinstance(key, str):
            raise ValueError(f"label key {key!r} is not a string")
        prefix, slash, name = key.rpartition("/")
        if (
            len(name) > 63
            or not _LABEL_NAME.fullmatch(name)
            or (slash and (len(prefix) > 253 or not _DNS1123_SUBDOMAIN.fullmatch(prefix)))
        ):
            raise ValueError(f"label key {key!r} is not a valid Kubernetes label key")
        if not isinstance(value, str) or (
            value != "" and (len(value) > 63 or not _LABEL_NAME.fullmatch(value))
        ):
            raise ValueError(
                f"label {key}={value!r}: the value is not a valid Kubernetes label value"
            )


def _merged_labels(labels: dict[str, str] | None) -> dict[str, str]:
    extra = dict(labels or {})
    _check_labels(extra)
    for key, value in _BASE_LABELS.items():
        if key in extra and extra[key] != value:
            raise ValueError(
                f"label {key!r} is fixed to {value!r} for grading pods (got {extra[key]!r}); "
                "the grading NetworkPolicy and the backend select on it"
            )
    return {**extra, **_BASE_LABELS}


def _cpu_quantity(cpu: float) -> str:
    """Cores as a Kubernetes quantity: whole cores as "2", anything else in millicores ("500m")."""
    if isinstance(cpu, bool) or not isinstance(cpu, int | float) or not math.isfinite(cpu):
        raise ValueError(f"cpu must be a finite number of cores, got {cpu!r}")
    millis = round(cpu * 1000)
    if millis < 1:
        raise ValueError(f"cpu must be at least 0.001 cores (1m), got {cpu!r}")
    return str(millis // 1000) if millis % 1000 == 0 else f"{millis}m"


def _positive_int(what: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{what} must be a positive integer, got {value!r}")
    return value


def _check_common(
    kind: str, name: str, namespace: str, labels: dict[str, str] | None
) -> dict[str, str]:
    _check_dns1123_label(f"{kind} name", name)
    _check_dns1123_label("namespace", namespace)
    return _merged_labels(labels)


def _plan_json(plan: dict[str, Any]) -> str:
    if not isinstance(plan, dict):
        raise ValueError(f"the plan must be a dict, got {type(plan).__name__}")
    cells = plan.get("cells")
    if not isinstance(cells, list) or not all(isinstance(c, str) for c in cells):
        raise ValueError("the plan's 'cells' must be a list of strings (the code of each cell)")
    files = plan.get("files", [])
    if not isinstance(files, list) or not all(
        isinstance(f, dict)
        and set(f) == {"path", "data", "readonly"}
        and isinstance(f["path"], str)
        and isinstance(f["data"], str)
        and isinstance(f["readonly"], bool)
        for f in files
    ):
        raise ValueError(
            "the plan's 'files' must be a list of {path, data (base64), readonly} (the grading"
            " folder's files)"
        )
    limits = plan.get("limits", {})
    if not isinstance(limits, dict) or not set(limits) <= _LIMITS_FIELDS:
        fields = ", ".join(sorted(_LIMITS_FIELDS))
        raise ValueError(f"the plan's 'limits' must be a dict of Limits fields ({fields})")
    try:
        text = json.dumps(
            plan, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False
        )
    except (TypeError, ValueError) as e:
        raise ValueError(f"the plan is not plain JSON: {e}") from e
    return text


def grading_plan_config_map(
    name: str,
    namespace: str,
    plan: dict[str, Any],
    *,
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The v1 ConfigMap that carries one grading run's plan to the pod's runner container.

    `plan` is {"cells": [code, ...], "limits": {Limits fields}, "files": [{path, data (base64),
    readonly}, ...]} (graders/sandbox/podrunner.py; `files` optional);
    it is stored under the key `plan.json` as canonical JSON (sorted keys, no spaces, UTF-8 kept
    as is), which the runner reads at `PLAN_PATH`/plan.json. The ConfigMap is immutable: once
    created, nobody can change the plan under a running grading (and the kubelet does not watch it).

    `name` and `namespace` must be DNS-1123 labels; `labels` are merged as for `grading_job`.
    Raises ValueError for an invalid name, namespace or label, a plan that is not of that shape or
    not plain JSON (NaN, infinities, other types), or a plan whose JSON exceeds what a ConfigMap
    can hold: `MAX_CONFIG_MAP_BYTES` (1 MiB) of UTF-8.
    """
    all_labels = _check_common("ConfigMap", name, namespace, labels)
    text = _plan_json(plan)
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError as e:
        raise ValueError(f"the plan is not valid UTF-8 text: {e}") from e
    if size > MAX_CONFIG_MAP_BYTES:
        raise ValueError(
            f"the plan is {size} bytes of JSON, more than a ConfigMap can hold "
            f"({MAX_CONFIG_MAP_BYTES} bytes = 1 MiB); the grading folder's files travel in it: "
            "keep an assessment's released data under about 700 KiB for the kubernetes grader"
        )
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace, "labels": all_labels},
        "immutable": True,
        "data": {PLAN_KEY: text},
    }


def _container_security(uid: int) -> dict[str, Any]:
    return {
        "runAsUser": uid,
        "runAsGroup": uid,
        "runAsNonRoot": True,
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }


def grading_job(
    name: str,
    namespace: str,
    image: str,
    plan_config_map: str,
    limits: Limits,
    *,
    labels: dict[str, str] | None = None,
    service_account: str = "sadari-grader",
    ttl_seconds: int = 600,
    kernel_uid: int = 1000,
    runner_uid: int = 1001,
    cpu: float = 1.0,
) -> dict[str, Any]:
    """The `batch/v1` Job that grades one submission in one pod of two containers.

    `name`, `namespace` and `plan_config_map` (the ConfigMap `grading_plan_config_map` built, which
    must exist before the pod can start) must be DNS-1123 labels (≤ 63 characters; the Job
    controller copies the Job name into a pod label, hence the label limit).

    - Container `kernel` runs `kernel_command(limits.memory_bytes)` from `image` as `kernel_uid`,
      with `HOME` and the working directory /job/scratch. Mounts: /job/run (shared), /job/scratch
      (an emptyDir with `medium: Memory` and `sizeLimit` = `limits.scratch_bytes`) and /tmp (an
      emptyDir on the node's disk with the same `sizeLimit`), and the grading folder `WORK_PATH`
      (shared, memory-backed, the same `sizeLimit`), whose `WORK_DIR` the runner fills with the
      plan's files before the kernel starts there. No plan.
    - Container `runner` runs `RUNNER_COMMAND` from `image` as `runner_uid`. Mounts: /job/run
      and `WORK_PATH` (shared) and the plan ConfigMap at `PLAN_PATH`, read-only, mode 0440.
      Nothing else. The released files it writes stay its own and read-only: the kernel, another
      uid, can read them but not change, replace or remove them (the folders are sticky).
    - /job/run is a 1 MiB memory-backed emptyDir. The pod's `fsGroup` is `kernel_uid`: the kubelet
      gives the shared folder (and the plan's files) that group, with the setgid bit on the folder
      so what either container creates there keeps it. The kernel has it as its primary group; the
      runner gets it through the pod's `supplementalGroups` (which is what lets it read the plan
      and connect to the kernel's group-accessible sockets). `kernel_uid` and `runner_uid` must be
      different positive integers: the kernel must not be able to act as the runner.
    - Resources: the kernel's requests equal its limits. The kernel gets `cpu` cores and
      `limits.memory_bytes + 3 * limits.scratch_bytes + 64 MiB` of memory: its address space is
      limited to `limits.memory_bytes` by prlimit in its command (a memory bomb gets a MemoryError),
      but memory-backed emptyDirs are charged to the container's memory cgroup (/job/scratch and
      the grading folder, each up to `scratch_bytes`), and so is the page cache of what it writes
      to /tmp (up to `scratch_bytes`, reclaimable); the 64 MiB cover /job/run and the rest. The
      cgroup limit is the backstop (an OOM kill). The runner gets a small fixed 250m cpu and
      128Mi of memory, which may burst to 512Mi while it drains a flood of output (so the pod is
      Burstable, not Guaranteed).
    - No retries (`backoffLimit: 0`, `restartPolicy: Never`): retrying is the queue's decision.
    - `activeDeadlineSeconds` = ceil(`limits.total_seconds`) + `DEADLINE_MARGIN_SECONDS`.
    - `ttlSecondsAfterFinished` = `ttl_seconds` (0 deletes the finished Job at once).
    - The "restricted" pod security profile in both containers; `shareProcessNamespace: false`
      (the kernel cannot see or signal the runner); no service-account token
      (`automountServiceAccountToken: false`, and no other projected token) and no service links.
    - Labels: `labels` merged with app.kubernetes.io/name=sadari, app.kubernetes.io/component=grader
      and sadari.io/role=grading, on the Job and on its pod; a caller may repeat those three but a
      different value for any of them raises ValueError (the NetworkPolicy selects on the role).

    Raises ValueError for an invalid name, namespace, ConfigMap name, label, uid, cpu, ttl or limit.
    """
    all_labels = _check_common("job", name, namespace, labels)
    _check_dns1123_label("plan_config_map", plan_config_map)
    if not image or not isinstance(image, str):
        raise ValueError(f"image must be a non-empty string, got {image!r}")
    if (
        not isinstance(service_account, str)
        or len(service_account) > 253
        or not _DNS1123_SUBDOMAIN.fullmatch(service_account)
    ):
        raise ValueError(f"service_account {service_account!r} is not a DNS-1123 subdomain")
    if isinstance(ttl_seconds, bool) or not isinstance(ttl_seconds, int) or ttl_seconds < 0:
        raise ValueError(f"ttl_seconds must be an integer >= 0, got {ttl_seconds!r}")
    _positive_int("kernel_uid", kernel_uid)
    _positive_int("runner_uid", runner_uid)
    if kernel_uid == runner_uid:
        raise ValueError(
            f"kernel_uid and runner_uid must differ (both {kernel_uid}): the untrusted kernel "
            "must not run as the trusted runner"
        )
    if not math.isfinite(limits.total_seconds) or limits.total_seconds <= 0:
        raise ValueError(f"limits.total_seconds must be > 0, got {limits.total_seconds!r}")
    memory_bytes = _positive_int("limits.memory_bytes", limits.memory_bytes)
    scratch_bytes = _positive_int("limits.scratch_bytes", limits.scratch_bytes)
    scratch = str(scratch_bytes)
    kernel_resources = {
        "cpu": _cpu_quantity(cpu),
        "memory": str(memory_bytes + 3 * scratch_bytes + _KERNEL_MEMORY_HEADROOM),
    }

    kernel = {
        "name": "kernel",
        "image": image,
        "command": kernel_command(memory_bytes),
        "env": [{"name": "HOME", "value": _SCRATCH_PATH}],
        "workingDir": _SCRATCH_PATH,
        "resources": {"requests": dict(kernel_resources), "limits": dict(kernel_resources)},
        "securityContext": _container_security(kernel_uid),
        "volumeMounts": [
            {"name": "run", "mountPath": RUN_PATH},
            {"name": "scratch", "mountPath": _SCRATCH_PATH},
            {"name": "tmp", "mountPath": "/tmp"},
            {"name": "work", "mountPath": WORK_PATH},
        ],
    }
    runner = {
        "name": "runner",
        "image": image,
        "command": list(RUNNER_COMMAND),
        "resources": {"requests": dict(_RUNNER_REQUESTS), "limits": dict(_RUNNER_LIMITS)},
        "securityContext": _container_security(runner_uid),
        "volumeMounts": [
            {"name": "run", "mountPath": RUN_PATH},
            {"name": "plan", "mountPath": PLAN_PATH, "readOnly": True},
            {"name": "work", "mountPath": WORK_PATH},
        ],
    }
    pod_spec = {
        "restartPolicy": "Never",
        "serviceAccountName": service_account,
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "shareProcessNamespace": False,
        "securityContext": {
            "runAsNonRoot": True,
            "fsGroup": kernel_uid,
            "supplementalGroups": [kernel_uid],
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [kernel, runner],
        "volumes": [
            {"name": "run", "emptyDir": {"medium": "Memory", "sizeLimit": _RUN_SIZE}},
            {"name": "plan", "configMap": {"name": plan_config_map, "defaultMode": 0o440}},
            {"name": "scratch", "emptyDir": {"medium": "Memory", "sizeLimit": scratch}},
            {"name": "tmp", "emptyDir": {"sizeLimit": scratch}},
            {"name": "work", "emptyDir": {"medium": "Memory", "sizeLimit": scratch}},
        ],
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(all_labels)},
        "spec": {
            "backoffLimit": 0,
            "activeDeadlineSeconds": math.ceil(limits.total_seconds) + DEADLINE_MARGIN_SECONDS,
            "ttlSecondsAfterFinished": ttl_seconds,
            "template": {"metadata": {"labels": dict(all_labels)}, "spec": pod_spec},
        },
    }


def grading_network_policy(namespace: str) -> dict[str, Any]:
    """The `networking.k8s.io/v1` NetworkPolicy that isolates every grading pod in `namespace`.

    It selects pods labelled sadari.io/role=grading and lists both policy types with no rules:
    nothing may connect to them and they may connect to nothing, not even cluster DNS. Two caveats
    the caller must know: it is enforced only by a CNI plugin that implements NetworkPolicy, and
    policies are additive, so any other policy in the namespace that selects these pods and allows
    traffic opens that traffic again.
    """
    _check_dns1123_label("namespace", namespace)
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {
            "name": "sadari-grading-deny-all",
            "namespace": namespace,
            "labels": {
                "app.kubernetes.io/name": "sadari",
                "app.kubernetes.io/component": "grader",
            },
        },
        "spec": {
            "podSelector": {"matchLabels": {GRADING_ROLE_LABEL: _BASE_LABELS[GRADING_ROLE_LABEL]}},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [],
            "egress": [],
        },
    }
