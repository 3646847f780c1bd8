"""Taking the snapshot graders/sandbox/integrity.py compares, and installing its hook.

Like integrity.py, this module is never imported by the grader: graders/plan.py sends both sources
as the kernel's first cell (SETUP), then `install(config, _hook)`, before any trainee code runs.
`install` imports what the instructor's cells use, records by identity everything the tests
depend on (integrity.py's docstring lists it), builds the hook with all of it in its defaults and
a private, empty globals dict, installs it with `sys.addaudithook`, and drops the copies IPython
keeps of the cell's source (which holds the run's key).

Attributes that ipykernel or IPython change on every request, or that libraries fill in lazily
(traits, pyplot's backend), are listed here and left out of the comparison.
"""

# ruff: noqa: PLR0912, PLR0915, C901, E501


def dict_versions():
    """A reader of CPython's per-dict version tag (PEP 509: `ma_version_tag`, a value drawn from one
    counter of the interpreter on every change of a dict's contents), or None where the layout
    cannot be confirmed. `view(d)` is a ctypes word over `d`'s tag, whose `.value` reads it; `d` must
    be kept alive as long as the view is used (the snapshot holds every dict it views).

    Reading a tag costs no call into the dict and no look at its values: a probe reads ~4,600 tags
    instead of comparing ~90,000 values, and compares in detail only the dicts whose tag moved.
    Checked here before use: the word before it holds the dict's size, and the tag takes a new value
    on each kind of change (insert, replace, update, delete, pop, clear, a module's and a class's
    attribute set) and keeps it otherwise."""
    import ctypes
    import sys

    if sys.implementation.name != "cpython" or not (3, 11) <= sys.version_info[:2] <= (3, 13):
        return None
    word = ctypes.c_uint64
    # PyDictObject: ob_refcnt, ob_type, ma_used, ma_version_tag
    offset = 2 * ctypes.sizeof(ctypes.c_void_p) + ctypes.sizeof(ctypes.c_ssize_t)

    def view(d):
        return word.from_address(id(d) + offset)

    try:
        import gc
        import types

        class Probe:
            pass

        mod = types.ModuleType("sadari_probe_module")
        cdict = gc.get_referents(vars(Probe))[0]
        for d, changes in (
            (
                {},
                "set",
            ),
            (vars(mod), "module"),
            (cdict, "class"),
        ):
            used = ctypes.c_ssize_t.from_address(id(d) + offset - ctypes.sizeof(ctypes.c_ssize_t))
            tag = view(d)
            seen = {tag.value}
            if changes == "set":
                steps = (
                    lambda d=d: d.__setitem__("a", 1),
                    lambda d=d: d.__setitem__("a", 2),
                    lambda d=d: d.update(b=3),
                    lambda d=d: d.__delitem__("a"),
                    lambda d=d: d.pop("b"),
                    lambda d=d: d.setdefault("c", 4),
                    lambda d=d: d.clear(),
                )
            elif changes == "module":
                steps = (
                    lambda: setattr(mod, "a", 1),
                    lambda: setattr(mod, "a", 2),
                    lambda: delattr(mod, "a"),
                )
            else:
                steps = (
                    lambda: setattr(Probe, "a", 1),
                    lambda: setattr(Probe, "a", 2),
                    lambda: delattr(Probe, "a"),
                )
            for step in steps:
                before = tag.value
                len(d), d.get("a")  # reads change nothing
                if tag.value != before:
                    return None
                step()
                if used.value != len(d) or tag.value in seen:
                    return None
                seen.add(tag.value)
    except Exception:
        return None
    return view


def prepare():
    """The walk of `_scan` over the modules loaded now, for the kernels' zygote to run once after
    it pre-imported them (graders/sandbox/zygote.py): `install` in each child forked from it checks
    that each module and class walked is unchanged and reuses its entry instead of walking it again.
    The zygote never runs a submission's code, so what it walked is the libraries' own state."""
    mods, classes, funcs, codes, globs, *rest = _scan(None, None)[:9]
    return (mods, classes, funcs.frozen(), codes.frozen(), globs.frozen(), *rest)


def _scan(pre, user_ns):
    """Every module in `sys.modules` (but the notebook's) and every mutable class they hold, by
    identity, with what their functions add: code objects, keyword defaults, closure cells
    (integrity.py's docstring lists what is compared). With `pre` (`prepare`'s walk in the zygote
    this kernel was forked from) an unchanged module or class keeps its entry and all `pre`
    recorded is kept: `install` keeps `pre` referenced, so no id in it can go to a new object.

    Each module and class entry ends with a view of its dict's version tag and the tag's value
    when walked (None, None without `dict_versions`).

    Returns (mods, classes, funcs, codes, globs, kwds, cquals, ccells, cvals, note_value); funcs,
    codes and globs are sets of ids (`Ids`: `frozen()` gives the frozenset)."""
    import gc
    import operator
    import sys
    import types
    from itertools import compress, count, repeat

    is_, is_not, eq, ne, not_ = (
        operator.is_,
        operator.is_not,
        operator.eq,
        operator.ne,
        operator.not_,
    )
    module_type = types.ModuleType

    def tracked(value):
        return value is not None and type(value) not in (bool, int)

    skip_attrs = {
        "builtins": {"input", "raw_input", "getpass"},  # ipykernel swaps these per request
        "getpass": {"getpass"},
        "sys": {
            "excepthook",
            "last_type",
            "last_value",
            "last_traceback",
            "last_exc",
            "ps1",
            "ps2",
        },
        # pyplot resolves its backend lazily; IPython's %matplotlib wraps draw_if_interactive
        "matplotlib.pyplot": {
            "draw_if_interactive",
            "_backend_mod",
            "new_figure_manager",
            "show",
            "_REPL_DISPLAYHOOK",
        },
    }
    version = dict_versions()

    def tag(d):
        if version is None:
            return None, None
        view = version(d)
        return view, view.value

    def same(entry, d, nall, vall):
        """The dict of a walked module or class entry is unchanged: its tag (or every value)."""
        view, value = entry[-2], entry[-1]
        if view is not None:
            return view.value == value
        return len(d) == nall and all(map(is_, d.values(), vall))

    mods, classes_seen, classes, done = [], {}, [], set()
    reused = set()  # the names of the modules taken whole from `pre`
    column = operator.itemgetter

    def tagged(entries):
        return version is not None and all(map(is_not, map(column(-2), entries), repeat(None)))

    if version is not None:
        tag_value = type(version({})).value.__get__

    class Ids:
        """A set of ids: those `pre` holds (frozen, shared by every child of the zygote: never
        copied) and this kernel's own."""

        __slots__ = ("base", "more")

        def __init__(self, base=frozenset()):
            self.base, self.more = base, set()

        def __contains__(self, i):
            return i in self.more or i in self.base

        def add(self, i):
            if i not in self.base:
                self.more.add(i)

        def frozen(self):
            return self.base | self.more if self.more else self.base

    if pre is None:
        funcs, codes, globs, kwds = Ids(), Ids(), Ids(), []
        cquals, ccells, cvals = [], [], []
        mods_pre = {}
    else:
        pmods, pclasses, pfuncs, pcodes, pglobs, pkwds, pquals, pcells, pvals = pre
        funcs, codes, globs, kwds = Ids(pfuncs), Ids(pcodes), Ids(pglobs), list(pkwds)
        cquals, ccells, cvals = list(pquals), list(pcells), list(pvals)
        mods_pre = {m[0]: m for m in pmods}
        # the classes walked before: each unchanged one (metaclass, MRO, its dict by tag, else
        # every value by identity) is reused, the others are walked again below
        mro_of = type.__dict__["__mro__"].__get__
        klasses = tuple(map(column(1), pclasses))
        classes_seen.update(zip(map(id, klasses), klasses, strict=True))
        if tagged(pclasses):
            # in C passes: the usual answer is "all but a dozen unchanged"
            moved = set(
                compress(count(), map(is_not, map(type, klasses), map(column(2), pclasses)))
            )
            moved.update(
                compress(count(), map(is_not, map(mro_of, klasses), map(column(3), pclasses)))
            )
            moved.update(
                compress(
                    count(),
                    map(ne, map(tag_value, map(column(-2), pclasses)), map(column(-1), pclasses)),
                )
            )
            kept = tuple(map(not_, map(moved.__contains__, range(len(pclasses)))))
            classes.extend(compress(pclasses, kept))
            done.update(compress(map(id, klasses), kept))
        else:
            for old in pclasses:
                klass, d = old[1], old[4]
                if (
                    type(klass) is old[2]
                    and mro_of(klass) is old[3]
                    and same(old, d, old[5], old[6])
                ):
                    classes.append(old)
                    done.add(id(klass))
        # the modules walked before, likewise (by their entry in sys.modules, class and tag)
        if tagged(pmods):
            now = tuple(map(sys.modules.get, map(column(0), pmods)))
            kept = tuple(
                map(
                    all,
                    zip(
                        map(is_, now, map(column(1), pmods)),
                        map(is_, map(type, now), map(column(2), pmods)),
                        map(eq, map(tag_value, map(column(-2), pmods)), map(column(-1), pmods)),
                        strict=True,
                    ),
                )
            )
            mods.extend(compress(pmods, kept))
            mods_pre = {}
            reused = set(compress(map(column(0), pmods), kept))

    def note_code(code):
        stack = [code]
        while stack:
            c = stack.pop()
            if id(c) in codes:
                continue
            codes.add(id(c))
            stack.extend(k for k in c.co_consts if isinstance(k, types.CodeType))

    def note_function(qual, f):
        if type(f) is not types.FunctionType or id(f) in funcs:
            return
        funcs.add(id(f))
        note_code(f.__code__)
        if f.__kwdefaults__:
            kwds.append(
                (
                    qual,
                    f.__kwdefaults__,
                    len(f.__kwdefaults__),
                    tuple(f.__kwdefaults__),
                    tuple(f.__kwdefaults__.values()),
                    *tag(f.__kwdefaults__),
                )
            )
        for cell in f.__closure__ or ():
            try:
                content = cell.cell_contents
            except ValueError:
                continue
            if callable(content) or isinstance(content, type):
                cquals.append(qual)
                ccells.append(cell)
                cvals.append(content)

    def note_value(qual, value):
        if type(value) in (staticmethod, classmethod):
            value = value.__func__
        elif type(value) is property:
            for f in (value.fget, value.fset, value.fdel):
                note_function(qual, f)
            return
        note_function(qual, value)
        if isinstance(value, type) and id(value) not in classes_seen:
            for klass in value.__mro__:
                if id(klass) not in classes_seen and not klass.__flags__ & (1 << 8):  # mutable
                    classes_seen[id(klass)] = klass

    for name, mod in list(sys.modules.items()):
        if name in reused or not isinstance(mod, module_type) or name == "__main__":
            continue
        d = vars(mod)
        if d is user_ns:
            continue
        globs.add(id(d))
        old = mods_pre.get(name)
        if (
            old is not None
            and old[1] is mod
            and type(mod) is old[2]
            and old[3] is d
            and same(old, d, old[4], old[5])
        ):
            mods.append(old)  # unchanged since the zygote walked it
            continue
        skip = skip_attrs.get(name, ())
        keys = tuple(k for k, v in d.items() if type(k) is str and k not in skip and tracked(v))
        for k in keys:
            try:
                note_value(f"{name}.{k}", d[k])
            except Exception:  # noqa: S112 - an odd object is left out, the module is still compared
                continue
        mods.append(
            (
                name,
                mod,
                type(mod),
                d,
                len(d),
                tuple(d.values()),
                keys,
                tuple(d[k] for k in keys),
                *tag(d),
            )
        )
    while len(done) < len(classes_seen):
        for klass in list(classes_seen.values()):
            if id(klass) in done:
                continue
            done.add(id(klass))
            try:
                qual = f"{type.__dict__['__module__'].__get__(klass)}.{klass.__qualname__}"
                refs = gc.get_referents(vars(klass))
                mro = type.__dict__["__mro__"].__get__(klass)
            except Exception:  # noqa: S112 - a class that cannot be read is left out
                continue
            d = refs[0] if refs and type(refs[0]) is dict else None
            if d is None:
                continue
            keys = tuple(k for k, v in d.items() if type(k) is str and tracked(v))
            for k in keys:
                try:
                    note_value(f"{qual}.{k}", d[k])
                except Exception:  # noqa: S112
                    continue
            classes.append(
                (
                    qual,
                    klass,
                    type(klass),
                    mro,
                    d,
                    len(d),
                    tuple(d.values()),
                    keys,
                    tuple(d[k] for k in keys),
                    frozenset(d),
                    *tag(d),
                )
            )

    return mods, classes, funcs, codes, globs, kwds, cquals, ccells, cvals, note_value


def install(config, hook_function):
    """Snapshot the kernel and install `hook_function` (integrity.py's `_hook`) as its audit hook;
    run once, first, before any trainee code.

    `config`: {"imports": [module, ...], "bindings": [[name, module, attribute or None], ...]}.
    """
    import _signal
    import _thread
    import builtins
    import functools
    import gc
    import importlib
    import itertools
    import linecache
    import operator
    import os
    import signal
    import sys
    import threading
    import types

    # Record any audit hook added while the modules load (the real hook cannot be armed first: its
    # snapshot is only known afterwards, and nothing may change it once installed).
    early = []
    sys.addaudithook(
        lambda event, args, early=early: (
            early.append(event) if event == "sys.addaudithook" else None
        )
    )
    from IPython import get_ipython

    ip = get_ipython()
    for name in config.get("imports", []):
        try:
            importlib.import_module(name)
        except BaseException:  # noqa: S112 - the instructor's own cell will fail on it, not this one
            continue
    missing = object()
    bind = {}
    for name, module, attr in config.get("bindings", []):
        try:
            obj = importlib.import_module(module)
            if attr is not None:
                obj = (
                    getattr(obj, attr)
                    if hasattr(obj, attr)
                    else importlib.import_module(f"{module}.{attr}")
                )
        except BaseException:  # noqa: S112
            continue
        bind[name] = obj

    user_ns = ip.user_ns
    # the zygote's walk (graders/sandbox/zygote.py), when this kernel was forked from one
    pre = vars(sys).pop("_sadari_pre", None)
    if type(pre) is not tuple or len(pre) != 10:
        pre = None
    mods, classes, funcs, codes, globs, kwds, cquals, ccells, cvals, note_value = _scan(
        None if pre is None else pre[:9], user_ns
    )

    def tracked(value):
        return value is not None and type(value) not in (bool, int)

    # IPython's and ipykernel's objects, their traits and observers, and the hook lists
    objs, conts, tracked_ids = [], [], set()
    churn = {  # set by ipykernel or IPython on every request: not compared
        "shell": {
            "_last_traceback",
            "_last_traceback_during_displayhook",
            "showing_traceback",
            "_parent_header",
            "_parent_header_global",
            "sys_excepthook",
            "_showtraceback",
        },
        "shell traits": {
            "last_execution_result",
            "last_execution_succeeded",
            "execution_count",
            "_post_execute",
        },
        "kernel": {
            "_parent_ident",
            "_shell_parent",
            "_shell_parent_ident",
            "_shell_context",
            "saved_sigint_handler",
            "_control_parent_ident",
            "_save_getpass",
        },
        "kernel traits": {
            "_control_parent",
            "_aborting",
            "_allow_stdin",
            "_sys_raw_input",
            "_sys_eval_input",
            "_parent",
        },
        "sys.stdout": {"_parent_header", "_parent_header_global", "_buffers", "write"},
        "sys.stderr": {"_parent_header", "_parent_header_global", "_buffers", "write"},
        "displayhook": {"_", "__", "___", "_parent_header", "_parent_header_global"},
        "displayhook traits": {"exec_result"},
        "display_pub": {"_parent_header", "_parent_header_global"},
    }

    def dict_getter(obj):
        for klass in type(obj).__mro__:
            desc = vars(klass).get("__dict__")
            if desc is not None and type(desc).__name__ == "getset_descriptor":
                return desc.__get__
        return None

    def watch(label, obj):
        if obj is None or id(obj) in tracked_ids:
            return
        tracked_ids.add(id(obj))
        try:
            d = vars(obj)
        except TypeError:
            return
        skip = churn.get(label, set())
        keys = tuple(k for k, v in d.items() if type(k) is str and k not in skip and tracked(v))
        objs.append(
            (
                label,
                obj,
                type(obj),
                dict_getter(obj),
                d,
                keys,
                tuple(d[k] for k in keys),
                frozenset(d) | skip,
            )
        )
        for k in keys:
            note_value(f"{label}.{k}", d[k])
        traits = d.get("_trait_values")
        if type(traits) is dict:
            skip = churn.get(label + " traits", set())
            keys = tuple(
                k for k, v in traits.items() if type(k) is str and k not in skip and tracked(v)
            )
            # traits fill in lazily: only the ones set now are compared
            objs.append(
                (
                    label + " traits",
                    traits,
                    dict,
                    None,
                    traits,
                    keys,
                    tuple(traits[k] for k in keys),
                    None,
                )
            )
        notifiers = d.get("_trait_notifiers")
        if type(notifiers) is dict:
            container(label + " trait observers", notifiers)
            for inner in notifiers.values():
                if type(inner) is dict:
                    container(label + " trait observers", inner)
                    for handlers in inner.values():
                        if type(handlers) is list:
                            container(label + " trait observers", handlers)

    def container(label, cont):
        if type(cont) is list:
            conts.append((label, cont, len(cont), None, tuple(cont)))
        elif type(cont) is dict:
            conts.append((label, cont, len(cont), tuple(cont), tuple(cont.values())))

    kernel = getattr(ip, "kernel", None)
    for label, obj in (
        ("shell", ip),
        ("kernel", kernel),
        ("kernel.session", getattr(kernel, "session", None)),
        ("kernel.iopub_socket", getattr(kernel, "iopub_socket", None)),
        ("kernel.iopub_thread", getattr(kernel, "iopub_thread", None)),
        ("sys.stdout", sys.stdout),
        ("sys.stderr", sys.stderr),
        ("displayhook", ip.displayhook),
        ("display_pub", ip.display_pub),
        ("display_formatter", ip.display_formatter),
        ("events", ip.events),
        ("input transformers", ip.input_transformer_manager),
        ("compile", ip.compile),
        ("builtin_trap", ip.builtin_trap),
        ("display_trap", ip.display_trap),
    ):
        watch(label, obj)
    container(
        "IPython's input_transformers_cleanup", ip.input_transformer_manager.cleanup_transforms
    )
    container("IPython's line transforms", ip.input_transformer_manager.line_transforms)
    container("IPython's token transformers", ip.input_transformer_manager.token_transformers)
    container("IPython's input_transformers_post", ip.input_transformers_post)
    container("IPython's ast_transformers", ip.ast_transformers)
    container("IPython's custom exception handlers", getattr(ip, "custom_exceptions", None))
    container("IPython's event callbacks", ip.events.callbacks)
    for event, callbacks in ip.events.callbacks.items():
        if type(callbacks) is list:
            conts.append(
                (
                    f"IPython's {event} callbacks",
                    callbacks,
                    len(callbacks),
                    "appendable",
                    tuple(callbacks),
                )
            )
    container("the display formatters", getattr(ip.display_formatter, "formatters", None))
    for label in ("shell_handlers", "control_handlers"):
        container(f"the kernel's {label}", getattr(kernel, label, None))
    container("sys.meta_path", sys.meta_path)
    container("sys.path_hooks", sys.path_hooks)
    container("gc.callbacks", gc.callbacks)
    for _name, mod, *_ in mods:
        tracked_ids.add(id(mod))
    for _qual, klass, *_ in classes:
        tracked_ids.add(id(klass))

    signums = tuple(sorted(int(s) for s in signal.valid_signals()))
    handlers = []
    for s in signums:
        try:
            handlers.append(_signal.getsignal(s))
        except (OSError, ValueError):
            handlers.append(None)
    exc = sys.excepthook
    exc_func = getattr(exc, "__func__", None)
    exc_self = getattr(exc, "__self__", None)
    thd = vars(threading)
    active = threading._active
    hooks = (
        sys.gettrace(),
        sys.getprofile(),
        thd,
        thd.get("_trace_hook"),
        thd.get("_profile_hook"),
        signums,
        tuple(handlers),
        exc,
        exc_func,
        exc_self,
    )
    kernel_threads = []
    try:
        from zmq.utils.garbage import GarbageCollectorThread

        kernel_threads.append(GarbageCollectorThread)
    except ImportError:
        pass
    threads = (
        active,
        tuple(active.values()),
        _thread._count(),
        tuple(kernel_threads),
        threading.Thread.__dict__["__dict__"].__get__,
    )
    built = dict(vars(builtins))
    built["__sadari_builtins_module__"] = user_ns.get("__builtins__")
    run_code = type(ip).run_code.__code__
    frame = sys._getframe(1)  # the frames above IPython's run_code now are the kernel's own
    cell_file = None  # the setup cell's, whose source holds the key
    while frame is not None and frame.f_code is not run_code:
        cell_file = frame.f_code.co_filename
        frame = frame.f_back
    while frame is not None:
        codes.add(id(frame.f_code))
        globs.add(id(frame.f_globals))
        frame = frame.f_back
    # an audit hook some module added while it loaded could see, or change, what runs later
    perm = ("an audit hook was added while the modules the tests use loaded",) if early else ()
    if pre is not None and pre[9]:
        perm = perm + ("an audit hook was added while the kernels' zygote pre-imported them",)
    # every module and class at once, for the probe's first look: their classes, their MROs and
    # their dicts' version tags (`dict_versions`), each in one flat tuple. The usual answer,
    # "nothing changed", then costs three passes in C, and only the dicts whose tag moved (those
    # ipykernel touches on every request: sys, builtins, getpass) are compared value by value.
    # Without tags every module and class is compared value by value.
    views = tuple(e[-2] for e in mods) + tuple(e[-2] for e in classes)
    whole = (
        tuple(m[1] for m in mods),
        tuple(m[2] for m in mods),
        tuple(c[1] for c in classes),
        tuple(c[2] for c in classes),
        tuple(c[3] for c in classes),
        None if None in views else views,
        tuple(e[-1] for e in mods) + tuple(e[-1] for e in classes),
    )
    # the keyword-default dicts' tags, likewise
    kviews = tuple(e[-2] for e in kwds)
    kwd_tags = (None if None in kviews else kviews, tuple(e[-1] for e in kwds))
    sysd = vars(sys)
    snames = tuple(k for k in sys.modules if type(k) is str)
    # fmt: off
    snapshot = (
        sysd, sys.modules, snames, tuple(sys.modules[k] for k in snames), tuple(mods),
        tuple(classes), (tuple(kwds), *kwd_tags), (tuple(cquals), tuple(ccells), tuple(cvals)), user_ns, bind,
        built, tuple(objs), tuple(conts), hooks, threads, run_code, codes.frozen(),
        globs.frozen(), perm, whole, pre,
    )
    # fmt: on

    class Sentinel:
        """A fresh object nothing should claim to equal."""

    import ctypes

    _version_value = ctypes.c_uint64.value.__get__

    write = getattr(type(sys.stdout), "write", None)
    messages = {
        "sys.addaudithook": "an audit hook added",
        "sys.settrace": "sys.settrace called",
        "sys.setprofile": "sys.setprofile called",
        "sys._current_frames": "sys._current_frames called",
        "gc.get_objects": "gc.get_objects called",
        "gc.get_referrers": "gc.get_referrers called",
        "gc.get_referents": "gc.get_referents called",
        "ctypes.cdata": "a ctypes object made at a raw address",
        "sys.monitoring.register_callback": "sys.monitoring used",
    }
    events = frozenset(
        {
            "sadari.probe",
            "object.__getattr__",
            "object.__setattr__",
            "open",
            "ctypes.dlsym",
            "ctypes.dlsym/handle",
            "os.symlink",
            *messages,
        }
    )
    private = {"__builtins__": {}}
    hook = types.FunctionType(hook_function.__code__, private, "sadari_probe")
    record = []
    # fmt: off
    fast = (
        events, RuntimeError, types.FrameType, id(private), id(hook), funcs.frozen(),
        frozenset(tracked_ids), id, type, str, bytes, len, messages, os.fspath, BaseException,
    )
    # fmt: on
    # fmt: off
    tools = (
        tuple, all, map, operator.is_, itertools.repeat, zip, isinstance, repr, sys._getframe,
        __import__("_hashlib").hmac_digest, gc.isenabled, gc.disable, gc.enable,
        signal.pthread_sigmask, signal.SIG_BLOCK, signal.SIG_SETMASK, signal.valid_signals(),
        sys.getswitchinterval, sys.setswitchinterval, sys.gettrace, sys.getprofile,
        _signal.getsignal, _thread._count, types.CellType.cell_contents.__get__,
        type.__dict__["__mro__"].__get__, types.MethodType, types.FunctionType,
        type.__dict__["__subclasses__"], write, sys.stdout, Sentinel, BaseException, object,
        missing, type.__dict__["__dict__"].__get__, callable, (property, classmethod, staticmethod,
        functools.cached_property), issubclass, type.__dict__["__qualname__"].__get__,
        itertools.compress, itertools.count, operator.ne, _version_value,
        itertools.chain.from_iterable, operator.not_, dict, operator.methodcaller("get", "__eq__"), range,
    )
    # fmt: on
    hook.__defaults__ = (fast, record, snapshot, tools)
    sys.addaudithook(hook)

    # The key came in this cell's source: drop the copies IPython keeps of it.
    linecache.cache.pop(cell_file, None)
    getattr(ip.compile, "_filename_map", {}).pop(cell_file, None)

    def scrub(result):
        info = getattr(result, "info", None)
        for attr in ("raw_cell", "transformed_cell"):
            if isinstance(getattr(info, attr, None), str):
                setattr(info, attr, "")
        ip.events.unregister("post_run_cell", scrub)

    ip.events.register("post_run_cell", scrub)
