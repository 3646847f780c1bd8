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
import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest

from sadari.graders.sandbox.base import Limits
from sadari.graders.sandbox.kubernetes import (
    DEADLINE_MARGIN_SECONDS,
    MAX_CONFIG_MAP_BYTES,
    PLAN_KEY,
    PLAN_PATH,
    RUN_PATH,
    RUNNER_COMMAND,
    WORK_PATH,
    grading_job,
    grading_network_policy,
    grading_plan_config_map,
    kernel_command,
)

# The Kubernetes minor version whose schemas the manifests must satisfy (kubernetes-validate ships
# the schemas; it has to be one of `kubernetes_validate.utils.all_versions()`).
KUBERNETES_VERSION = "1.30"

GOLDEN = Path(__file__).parent / "golden"

NAME = "grade-submission-42"
NAMESPACE = "sadari-grading"
IMAGE = "sadari/grader:0.1.0"
PLAN_NAME = "grade-submission-42-plan"
LABELS = {"sadari.io/submission": "42", "sadari.io/assignment": "week1-numpy"}
PLAN: dict[str, Any] = {
    "cells": [
        "import numpy as np\nx = np.arange(4)",
        "def mean(v):\n    return sum(v) / len(v)",
        "assert mean(x) == 1.5, 'moyenne erronée'  # hidden test",
    ],
    "limits": dataclasses.asdict(Limits()),
}
MiB = 1024 * 1024


def golden_job() -> dict[str, Any]:
    return grading_job(NAME, NAMESPACE, IMAGE, PLAN_NAME, Limits(), labels=LABELS)


def golden_plan_config_map() -> dict[str, Any]:
    return grading_plan_config_map(PLAN_NAME, NAMESPACE, PLAN, labels=LABELS)


def golden_network_policy() -> dict[str, Any]:
    return grading_network_policy(NAMESPACE)


GOLDENS = {
    "grading-job.json": golden_job,
    "grading-plan-config-map.json": golden_plan_config_map,
    "grading-network-policy.json": golden_network_policy,
}


def dump(manifest: dict[str, Any]) -> str:
    return json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def validate(manifest: dict[str, Any]) -> None:
    kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)


def job(**kwargs: Any) -> dict[str, Any]:
    limits = kwargs.pop("limits", Limits())
    return grading_job(NAME, NAMESPACE, IMAGE, PLAN_NAME, limits, **kwargs)


def config_map(plan: Any = None, **kwargs: Any) -> dict[str, Any]:
    return grading_plan_config_map(PLAN_NAME, NAMESPACE, PLAN if plan is None else plan, **kwargs)


def pod_spec(manifest: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = manifest["spec"]["template"]["spec"]
    return spec


def containers(manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in pod_spec(manifest)["containers"]}


def kernel(manifest: dict[str, Any]) -> dict[str, Any]:
    return containers(manifest)["kernel"]


def runner(manifest: dict[str, Any]) -> dict[str, Any]:
    return containers(manifest)["runner"]


def volumes(manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {v["name"]: v for v in pod_spec(manifest)["volumes"]}


def mounts(container: dict[str, Any]) -> dict[str, str]:
    return {m["name"]: m["mountPath"] for m in container["volumeMounts"]}


def plan_of_size(size: int) -> dict[str, Any]:
    """A plan whose canonical JSON is exactly `size` UTF-8 bytes (one 2-byte character in it)."""
    empty = len(json.dumps({"cells": [""]}, separators=(",", ":")))
    return {"cells": ["é" + "x" * (size - empty - 2)]}


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
        pytest.param(golden_plan_config_map(), id="golden-plan-config-map"),
        pytest.param(golden_network_policy(), id="golden-network-policy"),
        pytest.param(job(), id="defaults"),
        pytest.param(
            job(cpu=0.25, kernel_uid=65534, runner_uid=65533, ttl_seconds=0),
            id="small-cpu-nobody-ttl0",
        ),
        pytest.param(
            job(limits=Limits(total_seconds=0.5, memory_bytes=3 * 2**30, scratch_bytes=1)),
            id="odd-limits",
        ),
        pytest.param(job(labels={"example.org/x": "", "plain": "v"}), id="labels"),
        pytest.param(config_map({"cells": []}), id="empty-plan"),
        pytest.param(config_map(plan_of_size(MAX_CONFIG_MAP_BYTES)), id="largest-plan"),
        pytest.param(config_map(labels={"example.org/x": ""}), id="plan-labels"),
    ],
)
def test_validates_against_kubernetes_schema(manifest: dict[str, Any]) -> None:
    validate(manifest)


def _misspell_backoff(m: dict[str, Any]) -> None:
    m["spec"]["backofLimit"] = m["spec"].pop("backoffLimit")


def _string_deadline(m: dict[str, Any]) -> None:
    m["spec"]["activeDeadlineSeconds"] = "360"


def _no_container_name(m: dict[str, Any]) -> None:
    del runner(m)["name"]


def _env_as_mapping(m: dict[str, Any]) -> None:
    kernel(m)["env"] = {"HOME": "/job/scratch"}


def _unknown_security_field(m: dict[str, Any]) -> None:
    runner(m)["securityContext"]["readOnlyRootFileSystem"] = True


def _supplemental_groups_in_container(m: dict[str, Any]) -> None:
    runner(m)["securityContext"]["supplementalGroups"] = [1000]


def _string_default_mode(m: dict[str, Any]) -> None:
    volumes(m)["plan"]["configMap"]["defaultMode"] = "0440"


@pytest.mark.parametrize(
    "breaker",
    [
        _misspell_backoff,
        _string_deadline,
        _no_container_name,
        _env_as_mapping,
        _unknown_security_field,
        _supplemental_groups_in_container,
        _string_default_mode,
    ],
)
def test_validation_rejects_a_broken_job(breaker: Any) -> None:
    broken = copy.deepcopy(golden_job())
    breaker(broken)
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(broken)


def test_validation_rejects_a_broken_config_map() -> None:
    broken = copy.deepcopy(golden_plan_config_map())
    broken["data"][PLAN_KEY] = PLAN  # a value must be a string
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(broken)


def test_validation_rejects_a_broken_network_policy() -> None:
    broken = copy.deepcopy(golden_network_policy())
    broken["spec"]["podSelector"] = {"role": "grading"}  # matchLabels missing
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(broken)


# --- the plan ConfigMap ---------------------------------------------------------------------


def test_plan_is_canonical_json_under_the_runners_key() -> None:
    m = config_map()
    assert m["kind"] == "ConfigMap" and m["apiVersion"] == "v1"
    assert m["immutable"] is True
    assert list(m["data"]) == [PLAN_KEY]
    assert f"{PLAN_PATH}/{PLAN_KEY}" in RUNNER_COMMAND
    text = m["data"][PLAN_KEY]
    assert json.loads(text) == PLAN
    assert text == json.dumps(PLAN, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    assert "erronée" in text  # not \u-escaped
    assert "binaryData" not in m


def test_plan_key_order_does_not_matter() -> None:
    reordered = {"limits": dict(reversed(PLAN["limits"].items())), "cells": list(PLAN["cells"])}
    assert config_map(reordered) == config_map()


def test_plan_size_limit_counts_utf8_bytes() -> None:
    largest = plan_of_size(MAX_CONFIG_MAP_BYTES)
    text = config_map(largest)["data"][PLAN_KEY]
    assert len(text.encode("utf-8")) == MAX_CONFIG_MAP_BYTES == MiB
    assert len(text) == MAX_CONFIG_MAP_BYTES - 1  # "é" is two bytes
    with pytest.raises(ValueError, match=r"more than a ConfigMap can hold .*1 MiB"):
        config_map(plan_of_size(MAX_CONFIG_MAP_BYTES + 1))


@pytest.mark.parametrize(
    "plan",
    [
        "print(1)",  # not a dict
        ["print(1)"],
        {},
        {"cells": "print(1)"},
        {"cells": [1]},
        {"cells": [None]},
        {"cells": [], "limits": []},
        {"cells": [], "limits": {"wall_secs": 1}},
        {"cells": [], "limits": {"total_seconds": float("inf")}},
        {"cells": [], "limits": {"total_seconds": float("nan")}},
        {"cells": [], "extra": {1, 2}},
        {"cells": ["\ud800"]},  # a lone surrogate is not UTF-8
    ],
)
def test_bad_plans_raise(plan: Any) -> None:
    with pytest.raises(ValueError):
        grading_plan_config_map(PLAN_NAME, NAMESPACE, plan)


def test_plan_names_and_labels_are_checked_like_the_jobs() -> None:
    with pytest.raises(ValueError, match="DNS-1123 label"):
        grading_plan_config_map("Plan", NAMESPACE, PLAN)
    with pytest.raises(ValueError, match="DNS-1123 label"):
        grading_plan_config_map(PLAN_NAME, "a" * 64, PLAN)
    with pytest.raises(ValueError, match="is fixed to"):
        config_map(labels={"sadari.io/role": "other"})
    with pytest.raises(ValueError):
        config_map(labels={"x": "bad value"})
    labels = config_map(labels=LABELS)["metadata"]["labels"]
    assert labels == golden_job()["metadata"]["labels"]


# --- the pod's two containers ---------------------------------------------------------------


def test_two_containers_from_the_same_image() -> None:
    m = job(limits=Limits(memory_bytes=768 * MiB))
    assert [c["name"] for c in pod_spec(m)["containers"]] == ["kernel", "runner"]
    assert {c["image"] for c in pod_spec(m)["containers"]} == {IMAGE}
    assert kernel(m)["command"] == kernel_command(768 * MiB)
    assert f"--as={768 * MiB}" in kernel(m)["command"][-1]
    assert runner(m)["command"] == RUNNER_COMMAND
    assert kernel(m)["env"] == [{"name": "HOME", "value": "/job/scratch"}]
    assert kernel(m)["workingDir"] == "/job/scratch"
    assert "env" not in runner(m)
    assert "initContainers" not in pod_spec(m)
    assert "submission_url" not in json.dumps(m).lower()
    assert "sadari.graders.worker" not in json.dumps(m)


def test_plan_is_mounted_only_in_the_runner() -> None:
    m = job()
    plan = volumes(m)["plan"]
    assert plan["configMap"] == {"name": PLAN_NAME, "defaultMode": 0o440}
    assert plan["configMap"]["defaultMode"] == 288
    (plan_mount,) = [v for v in runner(m)["volumeMounts"] if v["name"] == "plan"]
    assert plan_mount == {"name": "plan", "mountPath": PLAN_PATH, "readOnly": True}
    assert "plan" not in mounts(kernel(m))
    assert all(not v["mountPath"].startswith(PLAN_PATH) for v in kernel(m)["volumeMounts"])
    assert mounts(runner(m)) == {"run": RUN_PATH, "plan": PLAN_PATH, "work": WORK_PATH}
    assert mounts(kernel(m)) == {
        "run": RUN_PATH,
        "scratch": "/job/scratch",
        "tmp": "/tmp",
        "work": WORK_PATH,
    }
    # every volume is mounted somewhere, every mount names a volume
    mounted = set(mounts(kernel(m))) | set(mounts(runner(m)))
    assert mounted == set(volumes(m))


def test_shared_folder_is_small_and_in_memory() -> None:
    m = job(limits=Limits(scratch_bytes=10**9))
    assert volumes(m)["run"] == {
        "name": "run",
        "emptyDir": {"medium": "Memory", "sizeLimit": "1Mi"},
    }
    assert kernel(m)["command"][-1].count(f"{RUN_PATH}/kernel.json") == 2
    assert RUN_PATH in RUNNER_COMMAND


@pytest.mark.parametrize(("kernel_uid", "runner_uid"), [(1000, 1001), (4242, 7), (65534, 1)])
def test_uids_differ_and_the_runner_joins_the_kernels_group(
    kernel_uid: int, runner_uid: int
) -> None:
    m = job(kernel_uid=kernel_uid, runner_uid=runner_uid)
    k, r = kernel(m)["securityContext"], runner(m)["securityContext"]
    assert (k["runAsUser"], k["runAsGroup"]) == (kernel_uid, kernel_uid)
    assert (r["runAsUser"], r["runAsGroup"]) == (runner_uid, runner_uid)
    assert pod_spec(m)["securityContext"] == {
        "runAsNonRoot": True,
        "fsGroup": kernel_uid,
        "supplementalGroups": [kernel_uid],
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def test_default_uids() -> None:
    m = job()
    assert kernel(m)["securityContext"]["runAsUser"] == 1000
    assert runner(m)["securityContext"]["runAsUser"] == 1001
    assert pod_spec(m)["securityContext"]["fsGroup"] == 1000


def test_pod_is_locked_down() -> None:
    m = job()
    spec = pod_spec(m)
    assert spec["automountServiceAccountToken"] is False
    assert spec["enableServiceLinks"] is False
    assert spec["shareProcessNamespace"] is False
    assert spec["serviceAccountName"] == "sadari-grader"
    assert spec["restartPolicy"] == "Never"
    for forbidden in ("hostNetwork", "hostPID", "hostIPC", "nodeName", "ephemeralContainers"):
        assert forbidden not in spec
    for c in spec["containers"]:
        assert c["securityContext"] | {"runAsUser": 0, "runAsGroup": 0} == {
            "runAsUser": 0,
            "runAsGroup": 0,
            "runAsNonRoot": True,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        }
        assert c["securityContext"]["runAsUser"] > 0
        for key in ("ports", "envFrom", "lifecycle", "stdin", "tty"):
            assert key not in c


def test_no_container_gets_a_service_account_token() -> None:
    m = job()
    assert pod_spec(m)["automountServiceAccountToken"] is False
    for volume in pod_spec(m)["volumes"]:
        assert set(volume) - {"name"} <= {"emptyDir", "configMap"}, volume
    for c in pod_spec(m)["containers"]:
        for mount in c["volumeMounts"]:
            assert not mount["mountPath"].startswith("/var/run/secrets"), mount
    assert "serviceAccountToken" not in json.dumps(m)  # no projected token either


# --- resources, deadline --------------------------------------------------------------------


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
    # the memory-backed /job/scratch and /tmp's page cache count against the container's memory
    expected = {"cpu": cpu_quantity, "memory": str(memory + 3 * scratch + 64 * MiB)}
    assert kernel(m)["resources"] == {"requests": expected, "limits": expected}
    assert runner(m)["resources"] == {
        "requests": {"cpu": "250m", "memory": "128Mi"},
        "limits": {"cpu": "250m", "memory": "512Mi"},
    }
    assert f"--as={memory} " in kernel(m)["command"][-1]
    assert volumes(m)["scratch"]["emptyDir"] == {"medium": "Memory", "sizeLimit": str(scratch)}
    assert volumes(m)["tmp"]["emptyDir"] == {"sizeLimit": str(scratch)}


def test_default_kernel_memory() -> None:
    # 1 GiB address space + 3 x 128 MiB (scratch, grading folder, /tmp) + 64 MiB headroom
    assert kernel(job())["resources"]["limits"]["memory"] == str(1472 * MiB)


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


# --- arguments ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    ["", "A", "Grade", "-grade", "grade-", "grade_1", "grade.1", "grade 1", "é", "a" * 64, None],
)
def test_bad_names_raise(bad: Any) -> None:
    with pytest.raises(ValueError, match="DNS-1123 label"):
        grading_job(bad, NAMESPACE, IMAGE, PLAN_NAME, Limits())
    with pytest.raises(ValueError, match="DNS-1123 label"):
        grading_job(NAME, bad, IMAGE, PLAN_NAME, Limits())
    with pytest.raises(ValueError, match="DNS-1123 label"):
        grading_job(NAME, NAMESPACE, IMAGE, bad, Limits())
    with pytest.raises(ValueError, match="DNS-1123 label"):
        grading_plan_config_map(bad, NAMESPACE, PLAN)
    with pytest.raises(ValueError, match="DNS-1123 label"):
        grading_plan_config_map(PLAN_NAME, bad, PLAN)
    with pytest.raises(ValueError, match="DNS-1123 label"):
        grading_network_policy(bad)


@pytest.mark.parametrize("good", ["a", "0", "grade-1", "1-2-3", "a" * 63])
def test_good_names_pass(good: str) -> None:
    m = grading_job(good, good, IMAGE, good, Limits())
    assert (m["metadata"]["name"], m["metadata"]["namespace"]) == (good, good)
    assert volumes(m)["plan"]["configMap"]["name"] == good
    cm = grading_plan_config_map(good, good, PLAN)
    assert (cm["metadata"]["name"], cm["metadata"]["namespace"]) == (good, good)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"kernel_uid": 0},
        {"kernel_uid": -1},
        {"kernel_uid": True},
        {"runner_uid": 0},
        {"runner_uid": -5},
        {"runner_uid": 1001.0},
        {"runner_uid": 1000},  # == the default kernel_uid
        {"kernel_uid": 1001},  # == the default runner_uid
        {"kernel_uid": 7, "runner_uid": 7},
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


def test_equal_uids_say_why() -> None:
    with pytest.raises(ValueError, match="kernel_uid and runner_uid must differ"):
        job(kernel_uid=2000, runner_uid=2000)


def test_bad_image_raises() -> None:
    for bad in ("", None):
        with pytest.raises(ValueError, match="image"):
            grading_job(NAME, NAMESPACE, bad, PLAN_NAME, Limits())  # type: ignore[arg-type]


# --- labels, network policy -----------------------------------------------------------------


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
    kernel(first)["command"].append("--evil")
    runner(first)["command"].append("--evil")
    kernel(first)["resources"]["limits"]["memory"] = "1"
    runner(first)["resources"]["limits"]["memory"] = "1"
    runner(first)["securityContext"]["capabilities"]["drop"].clear()
    first["metadata"]["labels"]["sadari.io/role"] = "other"
    pod_spec(first)["volumes"][0]["emptyDir"]["medium"] = ""
    pod_spec(first)["securityContext"]["supplementalGroups"].append(0)
    assert job() == golden_job_with_defaults()
    assert RUNNER_COMMAND[-1] == RUN_PATH
    plan = copy.deepcopy(PLAN)
    cm = config_map(plan)
    plan["cells"].append("import os")
    cm["metadata"]["labels"].clear()
    assert config_map() == golden_plan_config_map_with_defaults()
    policy = grading_network_policy(NAMESPACE)
    policy["spec"]["policyTypes"].clear()
    assert grading_network_policy(NAMESPACE) == golden_network_policy()


def _without_golden_labels(path: Path, *metas: tuple[str, ...]) -> dict[str, Any]:
    expected: dict[str, Any] = json.loads(path.read_text("utf-8"))
    for keys in metas:
        meta = expected
        for key in keys:
            meta = meta[key]
        for label in LABELS:
            del meta["labels"][label]
    return expected


def golden_job_with_defaults() -> dict[str, Any]:
    """The golden Job without the golden's extra labels: what `job()` must keep returning."""
    return _without_golden_labels(
        GOLDEN / "grading-job.json", ("metadata",), ("spec", "template", "metadata")
    )


def golden_plan_config_map_with_defaults() -> dict[str, Any]:
    """The golden ConfigMap without the golden's extra labels: what `config_map()` returns."""
    return _without_golden_labels(GOLDEN / "grading-plan-config-map.json", ("metadata",))


if __name__ == "__main__":  # rewrite the golden files (then review the diff!)
    GOLDEN.mkdir(exist_ok=True)
    for filename, build in GOLDENS.items():
        (GOLDEN / filename).write_text(dump(build()), encoding="utf-8")
        print("wrote", GOLDEN / filename)
