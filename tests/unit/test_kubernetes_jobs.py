"""Kubernetes manifests of the grading sandbox (graders/sandbox/kubernetes.py), checked offline.

- Golden files: fixed inputs must build exactly tests/unit/golden/*.json (reviewed by eye). After a
  deliberate change, rewrite them with `python -m tests.unit.test_kubernetes_jobs` and review the
  diff before committing.
- Every built manifest is validated against the Kubernetes OpenAPI schemas shipped with
  `kubernetes-validate` (strict: unknown fields fail), for `KUBERNETES_VERSION`. The schemas check
  structure and types only, not values (enums, names), so the property tests below cover those.
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest

from sadari.graders.sandbox.base import Limits
from sadari.graders.sandbox.kubernetes import (
    DEADLINE_MARGIN_SECONDS,
    grading_job,
    grading_network_policy,
)

# The Kubernetes minor version whose schemas the manifests must satisfy (kubernetes-validate ships
# the schemas; it has to be one of `kubernetes_validate.utils.all_versions()`).
KUBERNETES_VERSION = "1.30"

GOLDEN = Path(__file__).parent / "golden"

NAME = "grade-submission-42"
NAMESPACE = "sadari-grading"
IMAGE = "sadari/grader:0.1.0"
URL = "http://sadari.sadari.svc:8000/services/sadari/api/grading/submissions/42"


def golden_job() -> dict[str, Any]:
    return grading_job(
        NAME,
        NAMESPACE,
        IMAGE,
        URL,
        Limits(),
        labels={"sadari.io/submission": "42", "sadari.io/assignment": "week1-numpy"},
    )


def golden_network_policy() -> dict[str, Any]:
    return grading_network_policy(NAMESPACE)


GOLDENS = {
    "grading-job.json": golden_job,
    "grading-network-policy.json": golden_network_policy,
}


def dump(manifest: dict[str, Any]) -> str:
    return json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def validate(manifest: dict[str, Any]) -> None:
    kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)


def job(**kwargs: Any) -> dict[str, Any]:
    limits = kwargs.pop("limits", Limits())
    return grading_job(NAME, NAMESPACE, IMAGE, URL, limits, **kwargs)


def pod_spec(manifest: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = manifest["spec"]["template"]["spec"]
    return spec


def container(manifest: dict[str, Any]) -> dict[str, Any]:
    (only,) = pod_spec(manifest)["containers"]
    c: dict[str, Any] = only
    return c


# --- golden files ---------------------------------------------------------------------------


@pytest.mark.parametrize("filename", sorted(GOLDENS))
def test_matches_golden(filename: str) -> None:
    text = (GOLDEN / filename).read_text(encoding="utf-8")
    built = GOLDENS[filename]()
    assert built == json.loads(text)
    assert dump(built) == text, "golden file is not in canonical form (2-space, sorted keys)"


# --- schema validation ----------------------------------------------------------------------


def test_version_is_shipped() -> None:
    assert KUBERNETES_VERSION in {
        kubernetes_validate.utils.major_minor(v) for v in kubernetes_validate.utils.all_versions()
    }


@pytest.mark.parametrize(
    "manifest",
    [
        pytest.param(golden_job(), id="golden-job"),
        pytest.param(golden_network_policy(), id="golden-network-policy"),
        pytest.param(job(), id="defaults"),
        pytest.param(job(cpu=0.25, uid=65534, ttl_seconds=0), id="small-cpu-nobody-ttl0"),
        pytest.param(
            job(limits=Limits(total_seconds=0.5, memory_bytes=3 * 2**30, scratch_bytes=1)),
            id="odd-limits",
        ),
        pytest.param(job(labels={"example.org/x": "", "plain": "v"}), id="labels"),
    ],
)
def test_validates_against_kubernetes_schema(manifest: dict[str, Any]) -> None:
    validate(manifest)


def _misspell_backoff(m: dict[str, Any]) -> None:
    m["spec"]["backofLimit"] = m["spec"].pop("backoffLimit")


def _string_deadline(m: dict[str, Any]) -> None:
    m["spec"]["activeDeadlineSeconds"] = "360"


def _no_container_name(m: dict[str, Any]) -> None:
    del container(m)["name"]


def _env_as_mapping(m: dict[str, Any]) -> None:
    container(m)["env"] = {"HOME": "/scratch"}


def _unknown_security_field(m: dict[str, Any]) -> None:
    container(m)["securityContext"]["readOnlyRootFileSystem"] = True


@pytest.mark.parametrize(
    "breaker",
    [
        _misspell_backoff,
        _string_deadline,
        _no_container_name,
        _env_as_mapping,
        _unknown_security_field,
    ],
)
def test_validation_rejects_a_broken_job(breaker: Any) -> None:
    broken = copy.deepcopy(golden_job())
    breaker(broken)
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(broken)


def test_validation_rejects_a_broken_network_policy() -> None:
    broken = copy.deepcopy(golden_network_policy())
    broken["spec"]["podSelector"] = {"role": "grading"}  # matchLabels missing
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(broken)


# --- properties -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("memory", "scratch", "cpu", "cpu_quantity"),
    [
        (1024**3, 128 * 1024**2, 1.0, "1"),
        (512 * 1024**2, 1, 0.5, "500m"),
        (3 * 1024**3 + 1, 10**9, 2, "2"),
        (1, 7, 0.001, "1m"),
        (2**40, 2**33, 1.25, "1250m"),
    ],
)
def test_limits_map_to_resources_exactly(
    memory: int, scratch: int, cpu: float, cpu_quantity: str
) -> None:
    m = job(limits=Limits(memory_bytes=memory, scratch_bytes=scratch), cpu=cpu)
    expected = {"cpu": cpu_quantity, "memory": str(memory)}
    assert container(m)["resources"] == {"requests": expected, "limits": expected}
    volumes = {v["name"]: v for v in pod_spec(m)["volumes"]}
    assert volumes["scratch"]["emptyDir"] == {"medium": "Memory", "sizeLimit": str(scratch)}
    assert volumes["tmp"]["emptyDir"] == {"sizeLimit": str(scratch)}
    mounts = {v["name"]: v["mountPath"] for v in container(m)["volumeMounts"]}
    assert mounts == {"scratch": "/scratch", "tmp": "/tmp"}


@pytest.mark.parametrize("total", [300.0, 299.5, 0.1, 1.0, 3600.25])
def test_deadline_is_total_rounded_up_plus_margin(total: float) -> None:
    spec = job(limits=Limits(total_seconds=total), ttl_seconds=37)["spec"]
    assert spec["activeDeadlineSeconds"] == math.ceil(total) + DEADLINE_MARGIN_SECONDS
    assert spec["activeDeadlineSeconds"] > total
    assert spec["ttlSecondsAfterFinished"] == 37
    assert spec["backoffLimit"] == 0
    assert pod_spec(job())["restartPolicy"] == "Never"


def test_default_deadline_is_six_minutes() -> None:
    assert DEADLINE_MARGIN_SECONDS == 60
    assert job()["spec"]["activeDeadlineSeconds"] == 360


def test_pod_is_locked_down() -> None:
    m = job(uid=4242)
    spec = pod_spec(m)
    assert spec["automountServiceAccountToken"] is False
    assert spec["enableServiceLinks"] is False
    assert spec["serviceAccountName"] == "sadari-grader"
    assert spec["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 4242,
        "runAsGroup": 4242,
        "fsGroup": 4242,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    sc = container(m)["securityContext"]
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert container(m)["command"] == ["python", "-m", "sadari.graders.worker", "--one-job"]
    assert container(m)["env"] == [
        {"name": "SADARI_SUBMISSION_URL", "value": URL},
        {"name": "HOME", "value": "/scratch"},
    ]


@pytest.mark.parametrize(
    "bad",
    ["", "A", "Grade", "-grade", "grade-", "grade_1", "grade.1", "grade 1", "é", "a" * 64, None],
)
def test_bad_names_raise(bad: Any) -> None:
    with pytest.raises(ValueError, match="DNS-1123 label"):
        grading_job(bad, NAMESPACE, IMAGE, URL, Limits())
    with pytest.raises(ValueError, match="DNS-1123 label"):
        grading_job(NAME, bad, IMAGE, URL, Limits())
    with pytest.raises(ValueError, match="DNS-1123 label"):
        grading_network_policy(bad)


@pytest.mark.parametrize("good", ["a", "0", "grade-1", "1-2-3", "a" * 63])
def test_good_names_pass(good: str) -> None:
    m = grading_job(good, good, IMAGE, URL, Limits())
    assert (m["metadata"]["name"], m["metadata"]["namespace"]) == (good, good)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"uid": 0},
        {"uid": -1},
        {"uid": True},
        {"cpu": 0},
        {"cpu": 0.0004},
        {"cpu": -1.0},
        {"cpu": float("nan")},
        {"cpu": float("inf")},
        {"ttl_seconds": -1},
        {"ttl_seconds": 1.5},
        {"service_account": ""},
        {"service_account": "Grader"},
        {"limits": Limits(total_seconds=0)},
        {"limits": Limits(total_seconds=float("inf"))},
        {"limits": Limits(memory_bytes=0)},
        {"limits": Limits(memory_bytes=1.5e9)},  # type: ignore[arg-type]
        {"limits": Limits(scratch_bytes=-1)},
        {"labels": {"bad key": "x"}},
        {"labels": {"-x": "x"}},
        {"labels": {"Example.org/x": "x"}},
        {"labels": {"x": "bad value"}},
        {"labels": {"x": "v" * 64}},
        {"labels": {"x": 1}},
    ],
)
def test_bad_arguments_raise(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        job(**kwargs)


def test_labels_merge_onto_job_and_pod() -> None:
    extra = {"sadari.io/submission": "42", "app.kubernetes.io/instance": "prod"}
    before = dict(extra)
    m = job(labels=extra)
    expected = {
        "app.kubernetes.io/name": "sadari",
        "app.kubernetes.io/component": "grader",
        "app.kubernetes.io/instance": "prod",
        "sadari.io/role": "grading",
        "sadari.io/submission": "42",
    }
    assert m["metadata"]["labels"] == expected
    assert m["spec"]["template"]["metadata"]["labels"] == expected
    assert extra == before  # the caller's dict is not touched
    assert m["metadata"]["labels"] is not m["spec"]["template"]["metadata"]["labels"]


@pytest.mark.parametrize(
    "key", ["sadari.io/role", "app.kubernetes.io/name", "app.kubernetes.io/component"]
)
def test_callers_cannot_override_fixed_labels(key: str) -> None:
    with pytest.raises(ValueError, match="is fixed to"):
        job(labels={key: "something-else"})
    with pytest.raises(ValueError):
        job(labels={key: ""})
    # repeating the fixed value is harmless
    assert job(labels={key: job()["metadata"]["labels"][key]}) == job()


def test_network_policy_selects_every_grading_pod_and_allows_nothing() -> None:
    policy = grading_network_policy(NAMESPACE)
    assert policy["metadata"]["namespace"] == NAMESPACE
    spec = policy["spec"]
    assert set(spec["podSelector"]) == {"matchLabels"}
    for labels in [None, {"sadari.io/submission": "1"}, {"sadari.io/role": "grading"}]:
        pod_labels = job(labels=labels)["spec"]["template"]["metadata"]["labels"]
        assert spec["podSelector"]["matchLabels"].items() <= pod_labels.items()
    assert spec["policyTypes"] == ["Ingress", "Egress"]
    assert spec.get("ingress", []) == [] and spec.get("egress", []) == []


def test_builders_return_fresh_objects() -> None:
    first = job()
    container(first)["command"].append("--evil")
    container(first)["resources"]["limits"]["memory"] = "1"
    first["metadata"]["labels"]["sadari.io/role"] = "other"
    pod_spec(first)["volumes"][0]["emptyDir"]["medium"] = ""
    assert job() == golden_job_with_defaults()
    policy = grading_network_policy(NAMESPACE)
    policy["spec"]["policyTypes"].clear()
    assert grading_network_policy(NAMESPACE) == golden_network_policy()


def golden_job_with_defaults() -> dict[str, Any]:
    """The golden Job without the golden's extra labels: what `job()` must keep returning."""
    expected: dict[str, Any] = json.loads((GOLDEN / "grading-job.json").read_text("utf-8"))
    for meta in (expected["metadata"], expected["spec"]["template"]["metadata"]):
        del meta["labels"]["sadari.io/submission"], meta["labels"]["sadari.io/assignment"]
    return expected


if __name__ == "__main__":  # rewrite the golden files (then review the diff!)
    GOLDEN.mkdir(exist_ok=True)
    for filename, build in GOLDENS.items():
        (GOLDEN / filename).write_text(dump(build()), encoding="utf-8")
        print("wrote", GOLDEN / filename)
