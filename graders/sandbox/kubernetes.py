"""Kubernetes manifests for the grading sandbox: one Job per submission, and its network policy.

This module owns only the *shape* of what the Kubernetes backend creates: `grading_job` builds the
`batch/v1` Job that grades ONE submission in ONE pod, and `grading_network_policy` builds the
`networking.k8s.io/v1` NetworkPolicy that cuts every grading pod off the network. Both are pure
functions of plain values that return plain dicts (ready for `json.dumps`, `kubectl apply -f -` or
a client's `create_namespaced_*(body=...)`); nothing here talks to a cluster, reads files or
imports a Kubernetes client. Creating, watching and deleting the objects, and retrying failed
gradings (the queue's job, hence `backoffLimit: 0`), belong to the backend that calls these.

The pod follows the Pod Security Standards' "restricted" profile: non-root uid/gid, no privilege
escalation, every capability dropped, the runtime's default seccomp profile, a read-only root
filesystem, no service-account token and no service environment variables. The only writable
places are /scratch (a memory-backed emptyDir of `Limits.scratch_bytes`, also `HOME` and the
working directory) and /tmp (a node-disk emptyDir, capped at the same size).
"""

from __future__ import annotations

import math
import re
from typing import Any

from .base import Limits

__all__ = [
    "DEADLINE_MARGIN_SECONDS",
    "GRADING_ROLE_LABEL",
    "grading_job",
    "grading_network_policy",
]

# `activeDeadlineSeconds` = ceil(limits.total_seconds) + this. The worker inside the pod enforces
# the per-cell and per-notebook limits itself; the Job deadline is only the backstop that kills the
# pod when the worker cannot (it hangs, or the kernel wedges it). Kubernetes counts the deadline from
# the Job's start, so the margin also covers scheduling, container and kernel start-up, fetching
# the submission and reporting the result. Grading images are expected to be pre-pulled: a slow
# image pull eats into this minute and can fail the Job with DeadlineExceeded.
DEADLINE_MARGIN_SECONDS = 60

# The label the NetworkPolicy selects on; callers may add labels but never change this one.
GRADING_ROLE_LABEL = "sadari.io/role"

_BASE_LABELS: dict[str, str] = {
    "app.kubernetes.io/name": "sadari",
    "app.kubernetes.io/component": "grader",
    GRADING_ROLE_LABEL: "grading",
}

_COMMAND = ["python", "-m", "sadari.graders.worker", "--one-job"]
_CONTAINER_NAME = "grader"
_SCRATCH_PATH = "/scratch"

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


def grading_job(
    name: str,
    namespace: str,
    image: str,
    submission_url: str,
    limits: Limits,
    *,
    labels: dict[str, str] | None = None,
    service_account: str = "sadari-grader",
    ttl_seconds: int = 600,
    uid: int = 1000,
    cpu: float = 1.0,
) -> dict[str, Any]:
    """The `batch/v1` Job that grades one submission in one pod.

    `name` and `namespace` must be DNS-1123 labels (≤ 63 characters; the Job controller copies
    the name into a pod label, hence the label limit). The container runs
    `python -m sadari.graders.worker --one-job` from `image`, with `SADARI_SUBMISSION_URL` set to
    `submission_url` and `HOME=/scratch`.

    - No retries (`backoffLimit: 0`, `restartPolicy: Never`): retrying is the queue's decision.
    - `activeDeadlineSeconds` = ceil(`limits.total_seconds`) + `DEADLINE_MARGIN_SECONDS`.
    - `ttlSecondsAfterFinished` = `ttl_seconds` (0 deletes the finished Job at once).
    - cpu and memory requests equal the limits (Guaranteed QoS): `cpu` cores, and
      `limits.memory_bytes` bytes. The memory-backed /scratch counts against that memory limit.
    - /scratch is an emptyDir with `medium: Memory` and `sizeLimit` = `limits.scratch_bytes`;
      /tmp is an emptyDir on the node's disk with the same `sizeLimit`.
    - Runs as `uid` (user, group and fsGroup; must not be 0) under the "restricted" pod security
      profile, without a service-account token or service links.
    - Labels: `labels` merged with app.kubernetes.io/name=sadari, app.kubernetes.io/component=grader
      and sadari.io/role=grading, on the Job and on its pod; a caller may repeat those three but a
      different value for any of them raises ValueError (the NetworkPolicy selects on the role).

    Raises ValueError for an invalid name, namespace, label, uid, cpu, ttl or limit.
    """
    _check_dns1123_label("job name", name)
    _check_dns1123_label("namespace", namespace)
    if not image or not isinstance(image, str):
        raise ValueError(f"image must be a non-empty string, got {image!r}")
    if not submission_url or not isinstance(submission_url, str):
        raise ValueError(f"submission_url must be a non-empty string, got {submission_url!r}")
    if (
        not isinstance(service_account, str)
        or len(service_account) > 253
        or not _DNS1123_SUBDOMAIN.fullmatch(service_account)
    ):
        raise ValueError(f"service_account {service_account!r} is not a DNS-1123 subdomain")
    if isinstance(ttl_seconds, bool) or not isinstance(ttl_seconds, int) or ttl_seconds < 0:
        raise ValueError(f"ttl_seconds must be an integer >= 0, got {ttl_seconds!r}")
    _positive_int("uid", uid)
    if not math.isfinite(limits.total_seconds) or limits.total_seconds <= 0:
        raise ValueError(f"limits.total_seconds must be > 0, got {limits.total_seconds!r}")
    memory = str(_positive_int("limits.memory_bytes", limits.memory_bytes))
    scratch = str(_positive_int("limits.scratch_bytes", limits.scratch_bytes))
    cpu_quantity = _cpu_quantity(cpu)
    all_labels = _merged_labels(labels)

    resources = {"cpu": cpu_quantity, "memory": memory}
    container = {
        "name": _CONTAINER_NAME,
        "image": image,
        "command": list(_COMMAND),
        "env": [
            {"name": "SADARI_SUBMISSION_URL", "value": submission_url},
            {"name": "HOME", "value": _SCRATCH_PATH},
        ],
        "workingDir": _SCRATCH_PATH,
        "resources": {"requests": dict(resources), "limits": dict(resources)},
        "securityContext": {
            "runAsNonRoot": True,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [
            {"name": "scratch", "mountPath": _SCRATCH_PATH},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
    }
    pod_spec = {
        "restartPolicy": "Never",
        "serviceAccountName": service_account,
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": uid,
            "runAsGroup": uid,
            "fsGroup": uid,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [container],
        "volumes": [
            {"name": "scratch", "emptyDir": {"medium": "Memory", "sizeLimit": scratch}},
            {"name": "tmp", "emptyDir": {"sizeLimit": scratch}},
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
