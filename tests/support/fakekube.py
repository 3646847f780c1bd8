"""A stand-in for the Kubernetes API server, for the kubernetes grading backend's tests.

No cluster can run here (no kind/k3s images), so this is a mock of the API server, and only of
the calls grading makes (graders/sandbox/cluster.py): it keeps ConfigMaps and Jobs in memory,
checks the bearer token, and runs each Job's pod FOR REAL on the Docker engine from the Job's own
manifest: its image, the two containers' commands and users, the plan from the ConfigMap mounted
read-only in the runner alone, the shared memory-backed /job/run (a tmpfs with the pod's fsGroup)
and the other emptyDirs both containers mount (the grading folder), no network. The runner's
output is the pod's log; its exit ends the pod.
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse


def quantity(value: str) -> float | int:
    """A Kubernetes quantity as a number ('128Mi' -> bytes, '250m' -> 0.25, '1' -> 1)."""
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30}
    for suffix, factor in units.items():
        if value.endswith(suffix):
            return int(value[: -len(suffix)]) * factor
    if value.endswith("m"):
        return int(value[:-1]) / 1000
    return int(value)


def remove_leftover_pods() -> None:
    """The pod containers of an earlier run that was killed before it deleted them (the tests
    count what is left of their own pods by this name)."""
    left = subprocess.run(
        ["docker", "ps", "-aq", "--filter", "name=^sadari-fakepod-"],
        capture_output=True,
        text=True,
    ).stdout.split()
    if left:
        subprocess.run(["docker", "rm", "-f", *left], capture_output=True)


class FakeCluster:
    """`url` and `token` to give graders/sandbox/cluster.ClusterAPI; `calls` records requests."""

    def __init__(self) -> None:
        remove_leftover_pods()
        self.token = secrets.token_hex(16)
        self.config_maps: dict[str, dict[str, Any]] = {}
        self.jobs: dict[str, dict[str, Any]] = {}
        self.pods: dict[str, dict[str, Any]] = {}  # pod name -> {job, status, log}
        self.calls: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()

    # --- the pod, on Docker ----------------------------------------------------------------------

    def _run_pod(self, pod_name: str, job: dict[str, Any]) -> None:
        spec = job["spec"]["template"]["spec"]
        containers = {c["name"]: c for c in spec["containers"]}
        kernel, runner = containers["kernel"], containers["runner"]
        fs_group = spec["securityContext"]["fsGroup"]
        k_uid = kernel["securityContext"]["runAsUser"]
        r_uid = runner["securityContext"]["runAsUser"]
        cm_name = next(v["configMap"]["name"] for v in spec["volumes"] if "configMap" in v)
        sizes = {
            v["name"]: v["emptyDir"].get("sizeLimit") for v in spec["volumes"] if "emptyDir" in v
        }
        plan = self.config_maps[cm_name]["data"]["plan.json"]
        root = Path(tempfile.mkdtemp(prefix="sadari-fakepod-"))
        (root / "run").mkdir()
        (root / "plan").mkdir(mode=0o750)
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size=1m,mode=2770,uid={r_uid},gid={fs_group}"]
            + ["tmpfs", str(root / "run")],
            check=True,
        )
        # the other emptyDirs both containers mount (the grading folder): as the kubelet makes
        # them with an fsGroup (0777 with setgid, the fsGroup's), limited to their sizeLimit
        mounts = {
            c: {m["name"]: m["mountPath"] for m in containers[c]["volumeMounts"]}
            for c in containers
        }
        shared = [
            n for n in set(mounts["kernel"]) & set(mounts["runner"]) if n in sizes and n != "run"
        ]
        for name in shared:
            (root / name).mkdir()
            subprocess.run(
                [
                    "mount",
                    "-t",
                    "tmpfs",
                    "-o",
                    f"size={quantity(sizes[name])},mode=2777,gid={fs_group}",
                ]
                + ["tmpfs", str(root / name)],
                check=True,
            )
        (root / "plan" / "plan.json").write_text(plan)
        for path in (root / "plan", root / "plan" / "plan.json"):
            shutil.chown(path, r_uid, fs_group)
        (root / "plan" / "plan.json").chmod(0o440)
        common = ["--network", "none", "--read-only", "--cap-drop", "ALL"]
        common += ["--security-opt", "no-new-privileges"]
        kname = f"sadari-fakepod-{pod_name}"
        # what the kubelet enforces: the containers' resource limits, the emptyDirs' sizes and a
        # pod pids limit (the kubelet's podPidsLimit; a Job manifest cannot set one)
        klimits = kernel["resources"]["limits"]
        memory = str(quantity(klimits["memory"]))
        kernel_flags = ["--memory", memory, "--memory-swap", memory]  # no swap beyond it
        kernel_flags += ["--cpus", str(quantity(klimits["cpu"])), "--pids-limit", "128"]
        kernel_flags += ["--tmpfs", f"/tmp:size={quantity(sizes['tmp'])}"]
        kernel_flags += [
            "--tmpfs",
            f"/job/scratch:size={quantity(sizes['scratch'])},uid={k_uid},gid={fs_group}",
        ]
        rlimits = runner["resources"]["limits"]
        runner_flags = ["--memory", str(quantity(rlimits["memory"])), "--tmpfs", "/tmp"]
        try:
            subprocess.run(
                ["docker", "run", "-d", "--name", kname, *common, *kernel_flags]
                + ["--user", f"{k_uid}:{fs_group}", "-w", "/job/scratch"]
                + ["-e", "HOME=/job/scratch", "-v", f"{root / 'run'}:/job/run"]
                + [a for n in shared for a in ("-v", f"{root / n}:{mounts['kernel'][n]}")]
                + ["--entrypoint", kernel["command"][0], kernel["image"], *kernel["command"][1:]],
                check=True,
                capture_output=True,
            )
            self._set(pod_name, phase="Running")
            out = subprocess.run(
                ["docker", "run", "--rm", "--name", f"{kname}-runner", *common, *runner_flags]
                + ["--user", f"{r_uid}:{r_uid}"]
                + ["--group-add", str(fs_group), "-v", f"{root / 'run'}:/job/run"]
                + ["-v", f"{root / 'plan'}:/job/plan:ro"]
                + [a for n in shared for a in ("-v", f"{root / n}:{mounts['runner'][n]}")]
                + ["--entrypoint", runner["command"][0], runner["image"], *runner["command"][1:]],
                capture_output=True,
                text=True,
                timeout=600,
            )
            self._set(pod_name, phase="Running", exit_code=out.returncode, log=out.stdout)
            if out.returncode:
                print(f"fake pod {pod_name}: runner exit {out.returncode}: {out.stderr[-2000:]}")
        finally:
            subprocess.run(["docker", "rm", "-f", kname], capture_output=True)
            for name in ["run", *shared]:
                subprocess.run(["umount", "-l", str(root / name)], capture_output=True)
            shutil.rmtree(root, ignore_errors=True)

    def _set(self, pod: str, phase: str, exit_code: int | None = None, log: str = "") -> None:
        state: dict[str, Any] = {"running": {}}
        if exit_code is not None:
            state = {"terminated": {"exitCode": exit_code}}
            if exit_code == 137:  # SIGKILL: what the kubelet reports for the memory limit
                state["terminated"]["reason"] = "OOMKilled"
        with self.lock:
            if pod in self.pods:
                # with the fields every API server sends (the client's models require them)
                status = {"name": "runner", "image": "", "imageID": "", "ready": False}
                status |= {"restartCount": 0, "state": state}
                self.pods[pod]["status"] = {"phase": phase, "containerStatuses": [status]}
                self.pods[pod]["log"] = log

    # --- the API -----------------------------------------------------------------------------------

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        cluster = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _reply(self, code: int, body: Any, text: bool = False) -> None:
                data = body.encode() if text else json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "text/plain" if text else "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _authorised(self) -> bool:
                if self.headers.get("Authorization") != f"Bearer {cluster.token}":
                    self._reply(401, {"kind": "Status", "message": "Unauthorized"})
                    return False
                return True

            def _body(self) -> dict[str, Any]:
                n = int(self.headers.get("Content-Length") or 0)
                return json.loads(self.rfile.read(n) or b"{}")

            def do_POST(self) -> None:
                url = urlparse(self.path)
                cluster.calls.append(("POST", url.path))
                if not self._authorised():
                    return
                body = self._body()
                name = body["metadata"]["name"]
                if url.path.endswith("/configmaps"):
                    cluster.config_maps[name] = body
                elif url.path.endswith("/jobs"):
                    cluster.jobs[name] = body
                    pod = f"{name}-{secrets.token_hex(3)}"
                    with cluster.lock:
                        cluster.pods[pod] = {"job": name, "status": {"phase": "Pending"}}
                    threading.Thread(target=cluster._run_pod, args=(pod, body), daemon=True).start()
                else:
                    self._reply(404, {"message": url.path})
                    return
                self._reply(201, body)

            def do_GET(self) -> None:
                url = urlparse(self.path)
                cluster.calls.append(("GET", url.path))
                if not self._authorised():
                    return
                query = parse_qs(url.query)
                if url.path.endswith("/log"):
                    pod = url.path.split("/")[-2]
                    assert query.get("container") == ["runner"], query
                    self._reply(200, cluster.pods[pod].get("log", ""), text=True)
                    return
                job = query["labelSelector"][0].removeprefix("job-name=")
                with cluster.lock:
                    items = [
                        {"metadata": {"name": n}, "status": p["status"]}
                        for n, p in cluster.pods.items()
                        if p["job"] == job
                    ]
                self._reply(200, {"kind": "PodList", "items": items})

            def do_DELETE(self) -> None:
                url = urlparse(self.path)
                cluster.calls.append(("DELETE", url.path))
                if not self._authorised():
                    return
                name = url.path.rsplit("/", 1)[1]
                store = cluster.jobs if "/jobs/" in url.path else cluster.config_maps
                if store.pop(name, None) is None:
                    self._reply(404, {"message": "not found"})
                    return
                if store is cluster.jobs:  # its pod goes with it: the containers are removed
                    with cluster.lock:
                        pods = [n for n, p in cluster.pods.items() if p["job"] == name]
                        for pod in pods:
                            del cluster.pods[pod]
                    for pod in pods:
                        subprocess.run(
                            [
                                "docker",
                                "rm",
                                "-f",
                                f"sadari-fakepod-{pod}",
                                f"sadari-fakepod-{pod}-runner",
                            ],
                            capture_output=True,
                        )
                self._reply(200, {"kind": "Status", "status": "Success"})

        return Handler
