"""Helpers for the Helm chart tests (offline: no cluster, no helm binary).

- `render(values)`: the chart helm/sadari rendered by helm-python-sdk (Helm's Go SDK) with
  `values` over values.yaml, as {template path: [manifest dicts]}; empty documents dropped.
- `manifests(values)`: the same, flattened to one list of manifests.
- `DEFAULT`, `EXTERNAL`: the value sets the tests render: the profiles file alone (what the
  chart's README installs), and the profiles plus helm/examples/external-postgresql.yaml
  (external PostgreSQL, two grading workers, a ReadWriteMany volume).
- `merge(a, b)`: Helm's merge of value files (maps merge, anything else is replaced).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

helm_python = pytest.importorskip("helm_python", reason="helm-python-sdk is not installed")

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "sadari"
PROFILES_FILE = CHART / "values-profiles.yaml"
EXTERNAL_FILE = ROOT / "helm" / "examples" / "external-postgresql.yaml"
RELEASE = "sadari"
NAMESPACE = "sadari"
# The Kubernetes minor version whose OpenAPI schemas the manifests must satisfy.
KUBERNETES_VERSION = "1.30"


def load_yaml(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """`over` merged into a copy of `base` the way Helm merges value files."""
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


DEFAULT = load_yaml(PROFILES_FILE)
EXTERNAL = merge(DEFAULT, load_yaml(EXTERNAL_FILE))
VALUE_SETS = {"default": DEFAULT, "external-postgresql-2-workers": EXTERNAL}

_chart = None


def chart() -> Any:
    global _chart
    if _chart is None:
        _chart = helm_python.Chart.load(str(CHART))
    return _chart


def render(values: dict[str, Any], namespace: str = NAMESPACE) -> dict[str, list[dict[str, Any]]]:
    """The rendered templates as {path: [manifest, ...]} (NOTES.txt left out)."""
    out = chart().render(copy.deepcopy(values), name=RELEASE, namespace=namespace)
    return {
        path: [doc for doc in yaml.safe_load_all(text) if doc]
        for path, text in out.items()
        if not path.endswith("NOTES.txt")
    }


def manifests(values: dict[str, Any], namespace: str = NAMESPACE) -> list[dict[str, Any]]:
    return [doc for docs in render(values, namespace).values() for doc in docs]


def find(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    hits = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(hits) == 1, f"{kind}/{name}: {len(hits)} found"
    return hits[0]


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    """A container's env as {name: value or valueFrom}."""
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}
