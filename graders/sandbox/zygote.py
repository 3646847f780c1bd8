"""The warmed parent (zygote) of the local sandbox's kernels: one per slot, itself walled in.

The trusted side (graders/sandbox/local.py `Zygote`) starts this file's source with `python -c`
inside a bubblewrap of its own (no network; its own PID, IPC and UTS namespaces; only the Python
installation, read-only), as root *inside* those namespaces with the capabilities it needs to wall
its children in further (CAP_SYS_ADMIN, CAP_SETUID, CAP_SETGID, CAP_SETPCAP). It imports the kernel
machinery and the tracks' libraries once (`PRELOAD`), then waits for requests on stdin, one JSON
line each: `{"run": "<folder>", "uid": N, "limits": {...}}`. For each it forks one child, answers
`child <pid>` (the pid in its namespace) on stdout, and goes back to waiting: it never reads,
runs or keeps anything of a submission (a request holds no key and no file), so every child starts
from the same pre-imported state.

Before any submission code runs, the child (still root, in the zygote's namespaces):
  - starts its own session, resets signal handlers, replaces stdin/stdout with /dev/null and
    stderr with its kernel log, and closes every other descriptor (the zygote's control pipe);
  - enters fresh mount, IPC and UTS namespaces and mounts fresh size- and file-count-limited
    tmpfs folders on /tmp and on /job/scratch (its working folder), so it cannot see what an
    earlier child wrote there, nor System V / POSIX IPC objects an earlier child left;
  - sets the limits (address space, processes, file size, CPU, open files, no core files);
  - drops every capability (bounding, inheritable, ambient) and becomes the slot's uid with no
    supplementary groups and no_new_privs, so it can neither signal, ptrace nor read the memory
    of the zygote (root) and can never gain a privilege back;
  - draws fresh random seeds, then runs ipykernel exactly as `python -m ipykernel_launcher` would.

Stdlib only at module level: this source runs outside the package. The trusted side runs it
followed by graders/sandbox/snapshot.py's source and `serve(prepare)`.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import sys

PRELOAD = (
    # the kernel machinery (what `python -m ipykernel_launcher` spends its start-up on)
    "ipykernel.kernelapp",
    "ipykernel.ipkernel",
    "ipykernel.zmqshell",
    "IPython.core.interactiveshell",
    "IPython.core.completer",
    "jupyter_client.session",
    "comm",
    "matplotlib_inline.backend_inline",
    # what the kernel's start imports beyond those (its debugger's debugpy and pydevd, pdb, the
    # object inspector, the store magic): a child would otherwise import them before its first cell
    "ipykernel.debugger",
    "IPython.core.debugger",
    "IPython.core.completerlib",
    "IPython.core.oinspect",
    "IPython.core.logger",
    "IPython.extensions.storemagic",
    "tornado.platform.asyncio",
    "tornado.queues",
    "faulthandler",
    "resource",
    "importlib.resources.readers",
    # the tracks' libraries (labs/*: numpy and pandas; pyplot is left to the cells that use it)
    "numpy",
    "pandas",
)

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
MS_NOSUID, MS_NODEV, MS_REC, MS_PRIVATE = 2, 4, 16384, 1 << 18
PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS, PR_SET_DUMPABLE = 24, 38, 4
PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 47, 4

libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount_tmpfs(target: str, size: int, inodes: int, mode: int, owner: int) -> None:
    options = f"size={size},nr_inodes={inodes},mode={mode:o},uid={owner},gid={owner}"
    _check(
        libc.mount(b"tmpfs", target.encode(), b"tmpfs", MS_NOSUID | MS_NODEV, options.encode()),
        f"mount {target}",
    )


def _clear_capabilities() -> None:
    """Empty the permitted, effective and inheritable sets (after the uid change the first two
    already are; inheritable is what capset must clear)."""

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [
            ("effective", ctypes.c_uint32),
            ("permitted", ctypes.c_uint32),
            ("inheritable", ctypes.c_uint32),
        ]

    header = Header(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3
    data = (Data * 2)()
    _check(libc.capset(ctypes.byref(header), ctypes.byref(data)), "capset")


def child(request: dict) -> None:  # type: ignore[type-arg]
    """Wall this freshly forked process in and run the kernel in it; never returns."""
    uid = int(request["uid"])
    run = str(request["run"])
    limits = request["limits"]
    os.setsid()
    for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    null = os.open(os.devnull, os.O_RDWR)
    log = os.open(f"{run}/kernel.log", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(null, 0)
    os.dup2(null, 1)
    os.dup2(log, 2)
    os.closerange(3, 65536)

    _check(libc.unshare(CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS), "unshare")
    _check(libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None), "make / private")
    scratch = int(limits["scratch_bytes"])
    # the working folder root's and sticky (the released files placed there stay the
    # instructor's), /tmp the slot's: as the sandbox without a zygote has them
    _mount_tmpfs("/job/scratch", scratch, 4096, 0o1777, 0)
    _mount_tmpfs("/tmp", scratch, 4096, 0o1777, uid)
    _check(libc.sethostname(b"sadari", 6), "sethostname")
    os.chdir("/job/scratch")

    import resource

    for rlimit, value in (
        (resource.RLIMIT_AS, int(limits["memory_bytes"])),
        (resource.RLIMIT_NPROC, int(limits["processes"])),
        (resource.RLIMIT_FSIZE, int(limits["file_bytes"])),
        (resource.RLIMIT_CPU, int(limits["cpu_seconds"])),
        (resource.RLIMIT_NOFILE, 256),
        (resource.RLIMIT_CORE, 0),
    ):
        resource.setrlimit(rlimit, (value, value))

    cap = 0
    while libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == 0:
        cap += 1
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    _clear_capabilities()
    _check(libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0), "clear ambient")
    _check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    # as after exec: the kernel's own processes may inspect it, nobody else (other uids, root's
    # zygote) is reachable from it
    _check(libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0), "dumpable")
    if os.getuid() != uid or os.geteuid() != uid or os.getgroups():
        os._exit(70)

    import random

    random.seed()
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed()
    import importlib.util

    spec = importlib.util.find_spec("ipykernel_launcher")
    sys.argv = [
        spec.origin if spec and spec.origin else "ipykernel_launcher",
        "-f",
        f"{run}/kernel.json",
        "--IPKernelApp.no_stdout=False",
        "--HistoryManager.enabled=False",
    ]
    sys.path[0] = os.getcwd()  # as `python -m` has it
    from ipykernel.kernelapp import IPKernelApp

    IPKernelApp.launch_instance()
    os._exit(0)


def serve(prepare: object = None) -> None:
    """Pre-import, walk what was imported with `prepare` (graders/sandbox/snapshot.py's, sent
    with this source), then fork one child per request line until stdin closes."""
    import importlib

    # an audit hook a library adds while it loads could see, or change, what runs later: recorded,
    # and reported by every child's integrity check (as the setup cell does for what it imports)
    early: list[str] = []
    sys.addaudithook(
        lambda event, _args: early.append(event) if event == "sys.addaudithook" else None
    )
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except Exception as e:  # a track without the library: its cells import it themselves
            print(f"preload {name}: {e}", file=sys.stderr, flush=True)
    # The integrity snapshot's walk of these modules, done once here rather than in every child:
    # each child's setup cell reuses what is unchanged (no submission code ever runs here).
    if callable(prepare):
        try:
            sys._sadari_pre = (*prepare(), bool(early))  # type: ignore[attr-defined]
        except Exception as e:  # every child then walks the modules itself, as without a zygote
            print(f"integrity pre-walk: {e}", file=sys.stderr, flush=True)
    # What the zygote holds is never collected (it lives as long as it does): frozen, a child's
    # collections skip it, so they neither spend time on it nor touch (and so copy) its pages.
    import gc

    gc.collect()
    gc.freeze()
    # children are reaped by the kernel; the trusted side watches them through pidfds
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    os.write(1, f"ready {os.getpid()}\n".encode())
    pending = b""
    while True:
        data = os.read(0, 65536)
        if not data:
            return
        pending += data
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            request = json.loads(line)
            pid = os.fork()
            if pid == 0:
                try:
                    child(request)
                except BaseException:
                    import traceback

                    os.write(2, f"zygote child: {traceback.format_exc()}\n".encode())
                finally:
                    os._exit(71)
            os.write(1, f"child {pid}\n".encode())
