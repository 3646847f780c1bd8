"""People's notebook servers forked from a warmed parent (the embedded default's fork server).

Starting `jupyterhub-singleuser` from scratch costs about 2 s of CPU on the machines we measured,
most of it importing jupyter_server, JupyterLab, nbgrader and their libraries, and JupyterLab
asking `yarn config` (a node process) at import. When a class starts at 9 a.m., 60 of those at
once on 2 cores take minutes. The fork server is one Python process, started by the hub on the
first start (`ForkServer`), that imports those libraries once and then, per request, forks a
child which becomes the person's server (the zygote pattern, as the grading sandbox's kernels in
graders/sandbox/zygote.py).

The parent never runs anything of a person's and never holds a secret: it is started with only
the environment variables a Python process reads while it starts and imports (`STARTUP_NAMES`,
`STARTUP_PREFIXES`), in `/`, imports library code, and answers each request line (`{"argv",
"env_file", "uid", "gid", "groups", "cwd", "umask"}`, JSON) with `pid N`. A server's environment
holds its hub token, so it never passes through the parent (whose memory every later child
copies, freed remnants included): the hub writes it to a file only root can read, in a folder
only root can enter, and the child reads and deletes it before it leaves root. The child, before
any of the server's code runs:
  - starts a session of its own, restores the signal dispositions a fresh Python has, reads
    /dev/null, writes to the hub's stderr, and closes every other descriptor (the parent's pipes);
  - becomes the person's account as the plain spawner's `preexec_fn` does (group, the team
    groups, uid; umask; home as working folder), and is dumpable again as after exec (so its own
    kernels' tools may inspect it; the root parent stays out of its reach);
  - reads and deletes its environment's file, then replaces its environment with it (time zone
    re-read), then runs `jupyterhub-singleuser` as its script would.

Servers with other start-up variables (another PYTHONPATH, locale, a JUPYTERHUB_SINGLEUSER_APP)
get a parent of their own (`fork_server`); a command other than this environment's
`jupyterhub-singleuser` is not forked: the spawner starts it the plain way (hub/spawner.py).
Honest limits of forking: every forked server shares the parent's hash seed and address-space
layout (as Android's zygote's apps do); each runs as its own uid, so one trainee's server still
cannot read or signal another's.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

# what the servers import while they start (the extensions enabled for trainees and staff)
PRELOAD = (
    "jupyter_server.serverapp",
    "jupyterlab.labapp",
    "jupyterlab",
    "notebook.app",
    "notebook_shim.shim",
    "jupyter_lsp.serverextension",
    "jupyter_server_terminals",
    "nbgrader.server_extensions.validate_assignment",
    "nbgrader.server_extensions.assignment_list",
    "sadari.hub.singleuser.assignment_list",
    "jupyterhub.singleuser",
    "jupyterhub.singleuser.extension",
)
# the variables a Python process reads while it starts and imports the modules above
STARTUP_NAMES = ("PATH", "LANG", "JUPYTERLAB_DIR")
STARTUP_PREFIXES = ("PYTHON", "LC_", "JUPYTERHUB_SINGLEUSER_")
SINGLEUSER = str(Path(sys.executable).with_name("jupyterhub-singleuser"))
PR_SET_DUMPABLE = 4


def startup_env(env: dict[str, str]) -> dict[str, str]:
    """The part of a server's environment that its interpreter's start and imports read."""
    return {k: v for k, v in env.items() if k in STARTUP_NAMES or k.startswith(STARTUP_PREFIXES)}


def _child(request: dict) -> None:  # type: ignore[type-arg]
    """Become the person's server; never returns."""
    os.setsid()
    for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)  # as Python sets it at start
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(2, 1)
    os.closerange(3, 65536)

    with open(request["env_file"], "rb") as f:  # still root: the file is root's alone
        env = json.loads(f.read())
    os.unlink(request["env_file"])
    os.setgid(int(request["gid"]))
    os.setgroups([int(g) for g in request["groups"]])
    os.setuid(int(request["uid"]))
    if os.getuid() != int(request["uid"]) or os.geteuid() != int(request["uid"]):
        os._exit(70)
    os.umask(int(request["umask"]))
    os.chdir(request["cwd"])
    import ctypes

    ctypes.CDLL(None).prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)

    os.environ.clear()
    os.environ.update(env)
    import time

    time.tzset()
    argv = [str(a) for a in request["argv"]]
    sys.argv = argv
    sys.path[0] = os.path.dirname(argv[0])  # as running the script has it
    from jupyterhub.singleuser import main

    sys.exit(main())


def _run_child(request: dict) -> int:  # type: ignore[type-arg]
    """Run the server in this forked child and end as an interpreter would: its exit code, after
    the exit handlers (logging's flush among them) and the standard streams' flush."""
    code = 71
    try:
        _child(request)
    except SystemExit as e:
        if e.code is None or isinstance(e.code, int):
            code = e.code or 0
        else:
            print(e.code, file=sys.stderr)
            code = 1
    except BaseException:
        import traceback

        os.write(2, f"fork server child: {traceback.format_exc()}\n".encode())
    try:
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:  # noqa: S110 - ending anyway
        pass
    return code


def serve() -> None:
    """Pre-import, then fork one server per request line on stdin until it closes."""
    import importlib

    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except Exception as e:  # an extension not installed: the server imports what it needs
            print(f"fork server: preload {name}: {e}", file=sys.stderr, flush=True)
    if threading.active_count() != 1:  # forking a process with threads copies one of them
        print("fork server: a preloaded module started a thread", file=sys.stderr, flush=True)
        return
    import gc

    gc.collect()
    gc.freeze()  # the children's collections skip (and so do not copy) the parent's objects
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # servers are reaped by the kernel
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the hub ends it by closing stdin
    os.write(1, b"ready\n")
    for line in sys.stdin.buffer:
        try:
            request = json.loads(line)
            pid = os.fork()
        except (ValueError, OSError) as e:
            os.write(1, f"error {e}\n".encode())
            continue
        if pid == 0:
            os._exit(_run_child(request))
        os.write(1, f"pid {pid}\n".encode())


class ForkServer:
    """The hub's side: starts the parent on first use, asks it for servers, one at a time."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = startup_env(env)
        self.lock = threading.Lock()
        self.proc: subprocess.Popen[bytes] | None = None
        self.folder: str | None = None  # the servers' environment files (root's, 0700)

    @staticmethod
    def accepts(argv: list[str]) -> bool:
        """Whether a server with this command can be forked (its start-up variables chose the
        parent: `fork_server`)."""
        return bool(argv) and argv[0] == SINGLEUSER

    def _ensure(self) -> subprocess.Popen[bytes]:
        if self.proc is not None and self.alive():
            return self.proc
        self.proc = subprocess.Popen(  # noqa: S603 - this environment's own Python
            [sys.executable, "-m", "sadari.hub.forkserver", SINGLEUSER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=self.env,
            cwd="/",
            start_new_session=True,  # the hub's Ctrl-C is not its; it ends when the hub does
        )
        assert self.proc.stdout is not None
        if self.proc.stdout.readline() != b"ready\n":
            self.close()
            raise RuntimeError("the fork server did not start (see the hub's log)")
        return self.proc

    def spawn(self, argv: list[str], env: dict[str, str], uid: int, gid: int,
              groups: list[int], cwd: str, umask: int) -> int:  # fmt: skip
        """Fork one server; its pid (blocking: call it from a thread)."""
        request = {"argv": argv, "uid": uid, "gid": gid, "groups": groups, "cwd": cwd}
        request["umask"] = umask
        with self.lock:
            proc = self._ensure()
            assert proc.stdin is not None and proc.stdout is not None
            if self.folder is None or not os.path.isdir(self.folder):
                self.folder = tempfile.mkdtemp(prefix="sadari-forkserver-")  # 0700, root's
                atexit.register(shutil.rmtree, self.folder, True)
            fd, env_file = tempfile.mkstemp(dir=self.folder)  # 0600
            with os.fdopen(fd, "w") as f:
                json.dump(env, f)
            request["env_file"] = env_file
            try:
                proc.stdin.write(json.dumps(request).encode() + b"\n")
                proc.stdin.flush()
                answer = proc.stdout.readline().decode().split()
            except OSError as e:
                answer = ["error", str(e)]
        if len(answer) != 2 or answer[0] != "pid":  # noqa: PLR2004
            with contextlib.suppress(FileNotFoundError):  # no child took it
                os.unlink(env_file)
            if not answer or answer[0] == "error" and not self.alive():
                self.close()
            raise RuntimeError(f"the fork server could not start the server: {answer}")
        return int(answer[1])

    def alive(self) -> bool:
        """Whether the parent is running."""
        return self.proc is not None and self.proc.poll() is None

    def close(self) -> None:
        """End the parent (its servers run on)."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


_servers: dict[tuple[tuple[str, str], ...], ForkServer] = {}
_servers_lock = threading.Lock()


def fork_server(env: dict[str, str]) -> ForkServer:
    """This hub's fork server for servers started with `env`'s start-up variables (one, unless a
    setting gives some people another PYTHONPATH or locale)."""
    key = tuple(sorted(startup_env(env).items()))
    with _servers_lock:
        server = _servers.get(key)
        if server is None:
            server = _servers[key] = ForkServer(env)
        return server


if __name__ == "__main__":
    serve()
