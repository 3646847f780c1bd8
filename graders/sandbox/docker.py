"""The `docker` grading sandbox: a fresh container of the grader image per submission.

Each kernel runs in its own container: no network at all (network mode `none`), a read-only root
file system with a size- and file-count-limited tmpfs for /tmp, a non-root user, no capabilities
and no_new_privs, memory (no swap), CPU, pids, file-size, CPU-time and open-file limits, and a
capped log (the engine keeps at most 1 MB of what the kernel writes to its stdout/stderr). The
container sees nothing of this machine but two tmpfs folders of the trusted side's: /job/run,
holding the kernel's connection file and its IPC sockets (the grader talks to the kernel over
ZeroMQ IPC, since the container has no network), and /job/scratch, the kernel's working folder,
where the trusted side puts the submission's grading folder (the released files read-only, the
trainee's own files) before the first cell runs. Hidden tests and other submissions are never in
the container. Containers are single-use; a small pool is started ahead.
A grader that dies leaves containers labelled with its pid; the next grader removes them.

The engine is driven through the `docker` SDK's low-level `APIClient` (what DockerSpawner and
hub/dockerspawner.py use), not the `docker` command. Each kernel has one thread blocked in the
engine's wait call for its container: it stands where the attached `docker run` client stood
(its end means the kernel is gone) and keeps the container's stderr for error messages.

Needs a Docker engine and the grader image (`python images/build.py grader`); the trusted side
needs root to mount the small tmpfs (the same as the local backend).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

try:
    import docker
except ImportError:  # the local backend needs no Docker SDK
    docker = None  # type: ignore[assignment]

from .base import KERNEL_ENV, Limits, WorkFile, write_work_files
from .pool import Kernel, KernelPool, connect, connection_file

UID = 1000  # the grader image's unprivileged user
LABEL = "org.sadari.grader"
# one connection per kernel waits for its container's end: room for a pool and a few workers
MAX_CONNECTIONS = 32
LOG_BYTES = "1m"  # what the engine keeps of a kernel container's output


def client() -> Any:
    """A low-level client of the engine the environment names (DOCKER_HOST, ...), as DockerSpawner
    makes it; DockerException when no engine answers."""
    if docker is None:
        raise RuntimeError(
            "the docker Python package is not installed (pip install sadari[docker])"
        )
    return docker.APIClient(
        version="auto", max_pool_size=MAX_CONNECTIONS, **docker.utils.kwargs_from_env()
    )


def available(image: str) -> str | None:
    """None when this backend can run here with `image`, else the reason it cannot."""
    if os.geteuid() != 0:
        return "the docker sandbox needs root to mount the kernel's socket folder"
    if docker is None:
        return "the docker Python package is not installed (pip install sadari[docker])"
    try:
        api = client()
    except docker.errors.DockerException as e:
        return f"no Docker engine answers ({e})"
    try:
        api.inspect_image(image)
    except docker.errors.ImageNotFound:
        return f"the grader image {image} is not built (python images/build.py grader)"
    except docker.errors.DockerException as e:
        return f"the Docker engine cannot show the grader image {image} ({e})"
    finally:
        api.close()
    return None


def _owner() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def cleanup_stale_containers(api: Any = None) -> None:
    """Remove grading containers and job folders of graders on this host that are gone."""
    own = api is None
    api = api or client()
    try:
        listed = api.containers(all=True, filters={"label": LABEL})
        host = socket.gethostname()
        for c in listed:
            owner_host, _, pid = (c.get("Labels") or {}).get(LABEL, "").rpartition("-")
            if owner_host == host and pid.isdigit() and not Path(f"/proc/{pid}").exists():
                with contextlib.suppress(docker.errors.NotFound):
                    api.remove_container(c["Id"], force=True)
    finally:
        if own:
            api.close()
    for job in Path(tempfile.gettempdir()).glob("sadari-docker-*-*"):
        pid = job.name.split("-")[2]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            for folder in ("run", "scratch"):
                subprocess.run(["umount", "-l", str(job / folder)], capture_output=True)
            shutil.rmtree(job, ignore_errors=True)


class ContainerWatch:
    """A started kernel container, seen as a process: `poll()` is its exit code once it has
    ended (or can no longer be reached), else None. A thread waits for its end through the
    engine, then writes the container's stderr (its last 200 lines) to `log`."""

    def __init__(self, api: Any, container: str, log: Path):
        self.api, self.container, self.log = api, container, log
        self.returncode: int | None = None
        self._ended = threading.Event()
        self._thread = threading.Thread(
            target=self._wait, daemon=True, name=f"sadari-docker-wait-{container[:12]}"
        )
        self._thread.start()

    def _wait(self) -> None:
        code = -1
        # removed already, or the engine went away: the kernel is gone all the same
        with contextlib.suppress(Exception):
            code = int(self.api.wait(self.container)["StatusCode"])
        with contextlib.suppress(Exception):
            self.log.write_bytes(self.api.logs(self.container, stdout=False, stderr=True, tail=200))
        self.returncode = code
        self._ended.set()

    def poll(self) -> int | None:
        return self.returncode

    def wait(self, timeout: float | None = None) -> int | None:
        self._ended.wait(timeout)
        return self.returncode


class DockerKernel(Kernel):
    """A kernel in a container; `proc` watches the container (`ContainerWatch`)."""

    def __init__(
        self,
        api: Any,
        watch: ContainerWatch,
        client: Any,
        limits: Limits,
        name: str,
        job_dir: Path,
    ):
        # Kernel only ever asks its process poll(): the watch answers it for the container
        super().__init__(cast(subprocess.Popen[bytes], watch), client, limits)
        self.api = api
        self.watch = watch
        self.name = name
        self.job_dir = job_dir

    def kill(self) -> None:
        """Remove the container (killing everything in it) and the job folder."""
        with contextlib.suppress(Exception):
            self.client.stop_channels()
        with contextlib.suppress(Exception):  # gone already (NotFound), or no engine to ask
            self.api.remove_container(self.name, force=True)
        self.watch.wait(10)  # its stderr is written before the folder goes
        for folder in ("run", "scratch"):
            subprocess.run(["umount", "-l", str(self.job_dir / folder)], capture_output=True)
        shutil.rmtree(self.job_dir, ignore_errors=True)


class DockerSandbox(KernelPool):
    """Single-use kernels, each in a fresh container of `image`."""

    def __init__(
        self,
        image: str,
        pool: int = 1,
        limits: Limits | None = None,
        cpus: float = 1.0,
        start_timeout: float = 60.0,
    ):
        reason = available(image)
        if reason:
            raise RuntimeError(reason)
        super().__init__(pool, limits or Limits(), start_timeout)
        self.image = image
        self.cpus = cpus
        self.api = client()
        cleanup_stale_containers(self.api)
        self._start_pool()

    def close(self) -> None:
        """Stop the kernels (KernelPool.close), then the engine's connections."""
        super().close()
        self.api.close()

    def container(self, name: str, job: Path, limits: Limits) -> dict[str, Any]:
        """The create-container arguments of one kernel's container (`APIClient.create_container`),
        host config included."""
        tmpfs = f"size={limits.scratch_bytes},nr_inodes=4096,nosuid,nodev,noexec"
        # The kernel's address space is limited as in the local backend (a memory bomb gets a
        # MemoryError); the container's memory cgroup caps that plus its two tmpfs folders.
        cgroup_memory = limits.memory_bytes + 2 * limits.scratch_bytes + 64 * 1024 * 1024
        ulimits = {
            "fsize": limits.file_bytes,
            "cpu": limits.cpu_seconds,
            "nofile": 256,
            "core": 0,
        }
        host_config = self.api.create_host_config(
            network_mode="none",
            read_only=True,
            tmpfs={"/tmp": f"{tmpfs},mode=1777"},
            # the working folder is this machine's tmpfs (start_kernel), so that the grading
            # folder's files can be put there (place) after the kernel has started
            mounts=[
                docker.types.Mount("/job/scratch", str(job / "scratch"), type="bind"),
                docker.types.Mount("/job/run", str(job / "run"), type="bind"),
            ],
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
            mem_limit=cgroup_memory,
            memswap_limit=cgroup_memory,
            nano_cpus=int(self.cpus * 1e9),
            pids_limit=limits.processes,
            ulimits=[docker.types.Ulimit(name=k, soft=v, hard=v) for k, v in ulimits.items()],
            log_config=docker.types.LogConfig(
                type="json-file", config={"max-size": LOG_BYTES, "max-file": "1"}
            ),
        )
        return {
            "image": self.image,
            "name": name,
            "labels": {LABEL: _owner()},
            "user": f"{UID}:{UID}",
            "environment": dict(KERNEL_ENV),
            "host_config": host_config,
            # docker has no address-space ulimit: util-linux's prlimit sets it for the kernel
            "command": [
                "prlimit",
                f"--as={limits.memory_bytes}",
                "--",
                "python",
                "-m",
                "ipykernel_launcher",
                "-f",
                "/job/run/kernel.json",
                "--IPKernelApp.no_stdout=False",
                "--HistoryManager.enabled=False",
            ],
        }

    def place(self, kernel: Kernel, files: Sequence[WorkFile]) -> None:
        """Write the grading folder's files into the container's working folder: the released
        ones root's and read-only, the trainee's own the kernel user's."""
        assert isinstance(kernel, DockerKernel)
        write_work_files(kernel.job_dir / "scratch", files, owner=0, own_uid=UID)

    def start_kernel(self, limits: Limits | None = None) -> Kernel:
        """Start one kernel container and wait until the kernel answers."""
        from jupyter_client import BlockingKernelClient

        limits = limits or self.limits
        job = Path(tempfile.mkdtemp(prefix=f"sadari-docker-{os.getpid()}-"))
        # the folders the container shares with this machine: its sockets (1 MB and 64 files at
        # most) and its working folder (root's and sticky, like /tmp: the released files put
        # there stay the instructor's)
        mounts = {
            "run": f"size=1m,nr_inodes=64,mode=700,uid={UID},gid={UID}",
            "scratch": f"size={limits.scratch_bytes},nr_inodes=4096,mode=1777,uid=0,gid=0",
        }
        name = f"sadari-grade-{os.getpid()}-{secrets.token_hex(4)}"
        try:
            for folder, options in mounts.items():
                (job / folder).mkdir()
                subprocess.run(
                    ["mount", "-t", "tmpfs", "-o", f"{options},nosuid,nodev,noexec", "tmpfs"]
                    + [str(job / folder)],
                    check=True,
                )
            info = connection_file(job / "run", "/job/run/k")
            os.chown(job / "run" / "kernel.json", UID, UID)
            self.api.create_container(**self.container(name, job, limits))
            self.api.start(name)
        except BaseException:
            with contextlib.suppress(Exception):  # if it was made
                self.api.remove_container(name, force=True)
            for folder in mounts:
                subprocess.run(["umount", "-l", str(job / folder)], capture_output=True)
            shutil.rmtree(job, ignore_errors=True)
            raise
        watch = ContainerWatch(self.api, name, job / "kernel.log")
        kernel = DockerKernel(self.api, watch, BlockingKernelClient(), limits, name, job)
        try:
            connect(
                kernel,
                job / "run",
                info,
                time.monotonic() + self.start_timeout,
                job / "kernel.log",
            )
        except Exception as e:
            # a container that still runs but never answered: what it wrote so far says why
            # (one that ended has had its stderr written to kernel.log already)
            text = ""
            if not kernel.exited():
                with contextlib.suppress(Exception):
                    text = self.api.logs(name, stdout=False, stderr=True, tail=200).decode(
                        errors="replace"
                    )[-2000:]
            self.release(kernel)
            if text:
                raise RuntimeError(f"sandboxed kernel did not start: {text}") from e
            raise
        return kernel
