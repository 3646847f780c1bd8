"""The umbrella chart helm/sadari, rendered offline and checked for real.

- Lint: Helm's linter finds no error; the JupyterHub dependency (declared, not downloaded here)
  shows as a warning only.
- Every manifest of every value set is validated against the Kubernetes OpenAPI schemas
  (kubernetes-validate, strict: unknown fields fail) for KUBERNETES_VERSION.
- The values handed to the JupyterHub chart (`jupyterhub:`) are validated against z2jh 4.4.0's
  own values schema (tests/helm/z2jh-4.4.0-values.schema.json, copied from the published chart)
  with its `required` lists dropped: z2jh's defaults, which fill the required keys, are not
  available offline, so this checks that every key the chart sets exists there with its type.
- The rest: least-privilege RBAC, network isolation, the external-PostgreSQL wiring, and the
  checks that refuse JupyterHub values that disagree with sadari's.
"""

from __future__ import annotations

import copy
import importlib.util
import json
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest

from sadari.graders.sandbox.kubernetes import grading_network_policy

from .chart import (
    CHART,
    DEFAULT,
    EXTERNAL,
    KUBERNETES_VERSION,
    NAMESPACE,
    PROFILES_FILE,
    ROOT,
    VALUE_SETS,
    env_of,
    find,
    helm_python,
    load_yaml,
    manifests,
    merge,
    render,
)

Z2JH_SCHEMA = Path(__file__).with_name("z2jh-4.4.0-values.schema.json")
SERVICE_POD = {"app.kubernetes.io/name": "sadari", "app.kubernetes.io/component": "service"}


def _without_required(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: _without_required(v) for k, v in schema.items() if k != "required"}
    if isinstance(schema, list):
        return [_without_required(v) for v in schema]
    return schema


def jupyterhub_values(values: dict[str, Any]) -> dict[str, Any]:
    """What the JupyterHub chart gets: values.yaml's `jupyterhub:` with `values` over it."""
    out: dict[str, Any] = merge(load_yaml(CHART / "values.yaml"), values)["jupyterhub"]
    return out


# --- lint and schemas ---------------------------------------------------------------------------


def test_lint_finds_no_error_and_only_warns_of_the_missing_dependency() -> None:
    report = helm_python.lint(str(CHART))
    assert report["errors"] == []
    warnings = [m for m in report["messages"] if m["severity"] >= 2]
    assert [m["error"] for m in warnings] == [
        "chart directory is missing these dependencies: jupyterhub"
    ]


@pytest.mark.parametrize("values", VALUE_SETS.values(), ids=VALUE_SETS.keys())
def test_every_manifest_is_valid_kubernetes(values: dict[str, Any]) -> None:
    docs = manifests(values)
    kinds = sorted({d["kind"] for d in docs})
    assert kinds == [
        "ConfigMap",
        "DaemonSet",
        "Deployment",
        "NetworkPolicy",
        "PersistentVolumeClaim",
        "Role",
        "RoleBinding",
        "Secret",
        "Service",
        "ServiceAccount",
    ]
    for doc in docs:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("values", VALUE_SETS.values(), ids=VALUE_SETS.keys())
def test_values_for_the_jupyterhub_chart_follow_its_schema(values: dict[str, Any]) -> None:
    schema = _without_required(json.loads(Z2JH_SCHEMA.read_text(encoding="utf-8")))
    jsonschema.Draft7Validator(schema).validate(jupyterhub_values(values))


def test_the_z2jh_schema_check_catches_a_typo() -> None:
    schema = _without_required(json.loads(Z2JH_SCHEMA.read_text(encoding="utf-8")))
    bad = jupyterhub_values(merge(DEFAULT, {"jupyterhub": {"singleuser": {"profilelist": []}}}))
    with pytest.raises(jsonschema.ValidationError, match="profilelist"):
        jsonschema.Draft7Validator(schema).validate(bad)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"storage": {"sise": "1Gi"}}, "additional properties 'sise' not allowed"),
        ({"grading": {"backend": "sandbox"}}, "/grading/backend"),
        ({"postgresql": {"enabled": True}}, "/postgresql/host"),
        ({"grading": {"workers": {"replicas": -1}}}, "/grading/workers/replicas"),
    ],
)
def test_the_chart_schema_rejects_bad_values(values: dict[str, Any], message: str) -> None:
    with pytest.raises(helm_python.HelmValuesError, match=message):
        render(values)


def test_the_profiles_file_is_rendered_from_the_current_curriculum() -> None:
    spec = importlib.util.spec_from_file_location(
        "render_profiles", ROOT / "helm" / "render_profiles.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    text = (ROOT / "labs" / "curriculum.yaml").read_text(encoding="utf-8")
    assert PROFILES_FILE.read_text(encoding="utf-8") == module.render(text), (
        "helm/sadari/values-profiles.yaml is out of date: run python helm/render_profiles.py"
    )


# --- RBAC ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("values", VALUE_SETS.values(), ids=VALUE_SETS.keys())
def test_nothing_is_cluster_wide(values: dict[str, Any]) -> None:
    docs = manifests(values)
    assert not [d for d in docs if d["kind"].startswith("Cluster")]
    assert {d["metadata"].get("namespace", NAMESPACE) for d in docs} == {NAMESPACE}


def test_workers_may_only_run_grading_jobs() -> None:
    docs = manifests(DEFAULT)
    role = find(docs, "Role", "sadari-grading-worker")
    assert role["rules"] == [
        {
            "apiGroups": ["batch"],
            "resources": ["jobs"],
            "verbs": ["create", "get", "list", "watch", "delete"],
        },
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]},
        {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]},
        {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["create", "delete"]},
    ]
    binding = find(docs, "RoleBinding", "sadari-grading-worker")
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": "sadari-grading-worker",
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "sadari-grading-worker", "namespace": NAMESPACE}
    ]
    worker = find(docs, "Deployment", "sadari-grading-worker")["spec"]["template"]["spec"]
    assert worker["serviceAccountName"] == "sadari-grading-worker"
    # one long-lived worker per pod, process 1 of its container so a pod's SIGTERM reaches it
    assert worker["containers"][0]["command"][-1].startswith("exec sadari grading work --forever ")
    # the service and the grading pods hold no Kubernetes credentials at all
    service = find(docs, "Deployment", "sadari")["spec"]["template"]["spec"]
    assert service["automountServiceAccountToken"] is False
    assert find(docs, "ServiceAccount", "sadari-grader")["automountServiceAccountToken"] is False
    bound = {s["name"] for d in docs if d["kind"] == "RoleBinding" for s in d["subjects"]}
    assert bound == {"sadari-grading-worker"}


def test_grading_may_use_its_own_namespace() -> None:
    docs = manifests(merge(DEFAULT, {"grading": {"namespace": "sadari-grading"}}))
    in_grading = {
        (d["kind"], d["metadata"]["name"])
        for d in docs
        if d["metadata"].get("namespace") == "sadari-grading"
    }
    assert in_grading == {
        ("Role", "sadari-grading-worker"),
        ("RoleBinding", "sadari-grading-worker"),
        ("ServiceAccount", "sadari-grader"),
        ("NetworkPolicy", "sadari-grading-deny-all"),
    }
    binding = find(docs, "RoleBinding", "sadari-grading-worker")
    assert binding["subjects"][0]["namespace"] == NAMESPACE
    assert find(docs, "ConfigMap", "sadari-env")["data"]["SADARI_GRADING_NAMESPACE"] == (
        "sadari-grading"
    )


def test_no_kubernetes_rights_without_the_kubernetes_backend() -> None:
    docs = manifests(merge(DEFAULT, {"grading": {"backend": "nbgrader"}}))
    assert not [d for d in docs if d["kind"] in ("Role", "RoleBinding")]
    worker = find(docs, "Deployment", "sadari-grading-worker")["spec"]["template"]["spec"]
    assert worker["automountServiceAccountToken"] is False


# --- network ------------------------------------------------------------------------------------


def test_grading_pods_get_no_network_the_same_policy_the_backend_builds() -> None:
    policy = find(manifests(DEFAULT), "NetworkPolicy", "sadari-grading-deny-all")
    built = grading_network_policy(NAMESPACE)
    assert policy["metadata"]["name"] == built["metadata"]["name"]
    assert policy["spec"] == built["spec"]


def test_nothing_connects_to_workers() -> None:
    policy = find(manifests(DEFAULT), "NetworkPolicy", "sadari-grading-worker")
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    assert policy["spec"]["ingress"] == []


def test_only_the_proxy_hub_and_trainee_servers_reach_the_service() -> None:
    docs = manifests(DEFAULT)
    policy = find(docs, "NetworkPolicy", "sadari")
    pod_labels = find(docs, "Deployment", "sadari")["spec"]["template"]["metadata"]["labels"]
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= pod_labels.items()
    [rule] = policy["spec"]["ingress"]
    sources = [p["podSelector"]["matchLabels"]["component"] for p in rule["from"]]
    assert sources == ["proxy", "hub", "singleuser-server"]
    assert rule["ports"] == [{"port": "http", "protocol": "TCP"}]


def test_trainee_servers_reach_only_the_hub_dns_and_the_service() -> None:
    docs = manifests(DEFAULT)
    singleuser = jupyterhub_values(DEFAULT)["singleuser"]["networkPolicy"]
    assert singleuser["enabled"] is True
    assert singleuser["egressAllowRules"] == {
        "cloudMetadataServer": False,
        "dnsPortsCloudMetadataServer": False,
        "dnsPortsKubeSystemNamespace": True,
        "dnsPortsPrivateIPs": True,
        "nonPrivateIPs": False,
        "privateIPs": False,
    }
    # the one extra rule selects the service's pods on the service's port
    [rule] = singleuser["egress"]
    pod_labels = find(docs, "Deployment", "sadari")["spec"]["template"]["metadata"]["labels"]
    [target] = rule["to"]
    assert target["podSelector"]["matchLabels"] == SERVICE_POD
    assert SERVICE_POD.items() <= pod_labels.items()
    port = find(docs, "Service", "sadari")["spec"]["ports"][0]["port"]
    assert rule["ports"] == [{"port": port, "protocol": "TCP"}]
    # and the service's pods may talk to the hub (z2jh admits pods with this label)
    assert pod_labels["hub.jupyter.org/network-access-hub"] == "true"


# --- the service, the hub and the database ------------------------------------------------------


def test_the_service_uses_the_token_z2jh_generates_for_it() -> None:
    container = find(manifests(DEFAULT), "Deployment", "sadari")["spec"]["template"]["spec"][
        "containers"
    ][0]
    env = env_of(container)
    assert env["JUPYTERHUB_API_TOKEN"] == {
        "secretKeyRef": {"name": "hub", "key": "hub.services.sadari.apiToken"}
    }
    assert env["JUPYTERHUB_API_URL"] == "http://hub:8081/hub/api"
    assert env["JUPYTERHUB_SERVICE_PREFIX"] == "/services/sadari/"
    services = jupyterhub_values(DEFAULT)["hub"]["services"]
    assert services["sadari"]["url"] == "http://sadari:8000"
    assert set(services) == {"sadari", "sadari-automation"}


def test_the_hub_extra_config_declares_sadaris_roles() -> None:
    """hub.extraConfig.sadari runs in the hub's config namespace (a traitlets Config `c`)."""
    from traitlets.config import Config

    from sadari.hub import hubconfig

    code = jupyterhub_values(DEFAULT)["hub"]["extraConfig"]["sadari"]
    c = Config()
    c.JupyterHub.load_roles = [{"name": "site-role"}, {"name": "sadari-admin", "scopes": []}]
    exec(compile(code, "hub.extraConfig.sadari", "exec"), {"c": c})
    assert c.JupyterHub.load_roles == [{"name": "site-role"}, *hubconfig.roles()]
    assert set(c.JupyterHub.custom_scopes) == {
        "custom:sadari:learn",
        "custom:sadari:instruct",
        "custom:sadari:admin",
    }
    assert "access:services!service=sadari" in c.Spawner.server_token_scopes
    # every service a role names is registered with the hub
    services = set(jupyterhub_values(DEFAULT)["hub"]["services"])
    assert {s for r in hubconfig.roles() for s in r.get("services", [])} <= services


def test_default_database_is_sqlite_on_the_data_volume() -> None:
    docs = manifests(DEFAULT)
    data = find(docs, "ConfigMap", "sadari-env")["data"]
    assert data["SADARI_DB_URL"] == "sqlite:////srv/sadari/data/sadari.sqlite"
    assert "PGPASSWORD" not in json.dumps(docs)
    pvc = find(docs, "PersistentVolumeClaim", "sadari-data")
    assert pvc["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert "storageClassName" not in pvc["spec"]
    # a ReadWriteOnce volume: the workers run on the service's node
    worker = find(docs, "Deployment", "sadari-grading-worker")["spec"]["template"]["spec"]
    [term] = worker["affinity"]["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert SERVICE_POD.items() <= term["labelSelector"]["matchLabels"].items()


def test_external_postgresql_and_two_workers() -> None:
    docs = manifests(EXTERNAL)
    data = find(docs, "ConfigMap", "sadari-env")["data"]
    assert data["SADARI_DB_URL"] == (
        "postgresql+psycopg://sadari@postgres.db.svc.cluster.local:5432/sadari"
    )
    assert data["PGSSLMODE"] == "require"
    password = {"secretKeyRef": {"name": "sadari-postgresql", "key": "password"}}
    service = find(docs, "Deployment", "sadari")["spec"]["template"]["spec"]
    worker_deployment = find(docs, "Deployment", "sadari-grading-worker")
    worker = worker_deployment["spec"]["template"]["spec"]
    for container in (*service["initContainers"], *service["containers"], *worker["containers"]):
        assert env_of(container)["PGPASSWORD"] == password, container["name"]
    assert worker_deployment["spec"]["replicas"] == 2
    assert "affinity" not in worker  # ReadWriteMany: anywhere
    pvc = find(docs, "PersistentVolumeClaim", "sadari-data")
    assert pvc["spec"]["storageClassName"] == "nfs-client"
    assert pvc["spec"]["resources"]["requests"]["storage"] == "100Gi"
    hub = jupyterhub_values(EXTERNAL)["hub"]
    assert hub["db"] == {
        "type": "postgres",
        "url": "postgresql+psycopg://sadari@postgres.db.svc.cluster.local:5432/jupyterhub",
    }
    assert hub["extraEnv"]["PGPASSWORD"] == {"valueFrom": password}


def test_an_existing_claim_replaces_the_volume() -> None:
    docs = manifests(merge(DEFAULT, {"storage": {"existingClaim": "lab-data"}}))
    assert not [d for d in docs if d["kind"] == "PersistentVolumeClaim"]
    volumes = find(docs, "Deployment", "sadari")["spec"]["template"]["spec"]["volumes"]
    assert volumes[0] == {"name": "data", "persistentVolumeClaim": {"claimName": "lab-data"}}


def _with(values: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(values)
    *parents, last = path.split(".")
    node = out
    for key in parents:
        node = node.setdefault(key, {})
    node[last] = value
    return out


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            _with(EXTERNAL, "jupyterhub.hub.db.url", "postgresql://sadari@elsewhere/jupyterhub"),
            "set jupyterhub.hub.db to",
        ),
        (_with(EXTERNAL, "jupyterhub.hub.db.type", "sqlite-pvc"), "set jupyterhub.hub.db to"),
        (
            _with(EXTERNAL, "jupyterhub.hub.extraEnv.PGPASSWORD.valueFrom.secretKeyRef.name", "x"),
            "PGPASSWORD",
        ),
        (_with(DEFAULT, "service.port", 9000), "jupyterhub.hub.services.sadari.url"),
        (
            _with(DEFAULT, "jupyterhub.singleuser.extraEnv.SADARI_SERVICE_URL", "http://x"),
            "SADARI_SERVICE_URL",
        ),
    ],
    ids=["hub-db-url", "hub-db-type", "hub-password-secret", "service-port", "exchange-url"],
)
def test_jupyterhub_values_that_disagree_are_refused(values: dict[str, Any], message: str) -> None:
    with pytest.raises(helm_python.HelmRenderError, match=message):
        render(values)


def test_config_changes_restart_the_pods() -> None:
    def checksums(values: dict[str, Any]) -> list[str]:
        docs = manifests(values)
        return [
            find(docs, "Deployment", name)["spec"]["template"]["metadata"]["annotations"][
                "checksum/config"
            ]
            for name in ("sadari", "sadari-grading-worker")
        ]

    before = checksums(DEFAULT)
    assert before == checksums(DEFAULT)
    after = checksums(merge(DEFAULT, {"grading": {"image": {"tag": "0.2.0"}}}))
    assert all(a != b for a, b in zip(before, after, strict=True))


def test_the_grading_image_is_pre_pulled() -> None:
    docs = render(DEFAULT)["sadari/templates/grading/prepuller.yaml"]
    [daemonset] = docs
    [init] = daemonset["spec"]["template"]["spec"]["initContainers"]
    assert init["image"] == "sadari/grader:0.1.0"
    assert "sadari.io/role" not in daemonset["spec"]["template"]["metadata"]["labels"]
