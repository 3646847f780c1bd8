"""The kernel-side half of grading integrity: a snapshot of what the tests run on, taken before any
trainee code runs, and a check that compares the kernel with it before and after every test cell.

This module is never imported by the grader. graders/plan.py sends its source as the first cell of
every sandboxed kernel (SETUP), with a key of the run's own in place of `__SADARI_KEY__`, together
with graders/sandbox/snapshot.py and a call of its `install` with the modules the instructor's setup
and test cells import (found with `ast` on the trusted side). `install`:

- imports those modules and snapshots, by identity, the interpreter state the tests depend on:
  every module in `sys.modules` (its entry, its class and each attribute that is not a plain int,
  bool or None: functions, classes, C-implemented internals such as
  `numpy._core._multiarray_umath` or `pandas._libs.*`, constants, containers), every mutable class
  those modules hold (attributes, metaclass, MRO), functions' keyword defaults and closure cells,
  the builtins, the names the trusted cells bind (`np`, `pd`, …) and the notebook's
  `__builtins__`, IPython's and ipykernel's objects (shell, kernel, session, streams, display
  hooks, their traits and trait observers, input and AST transformers, event callbacks, message
  handlers), `sys.meta_path`/`path_hooks`, `gc.callbacks`, signal handlers, trace and profile
  functions (threading's too), `sys.excepthook`/`displayhook` and the running threads;
- installs one audit hook (CPython can neither list nor remove audit hooks) that refuses, and
  records as tampering, what would let code change the state behind the comparison's back or read
  the hook's key: another audit hook (`sys.addaudithook` raises the event itself, so the hook sees
  every later one), `sys.settrace`/`setprofile`, `gc.get_referrers/get_referents/get_objects`,
  `sys._current_frames`, a new `__code__`, `__defaults__` or `__kwdefaults__` for a snapshotted
  function or a new `__class__` for a snapshotted object, ctypes objects at raw addresses, Python
  C-API symbols looked up through ctypes, opening `/proc/*/mem`.

A probe cell before each test cell calls the hook with `sys.audit("sadari.probe", challenge, names,
phase)`. The hook first makes sure the probe cell itself called it, run by IPython (every frame
above belongs to a snapshotted library), then (before a test only) asks the notebook's own classes
(those of the notebook's values, and every class whose `__eq__` the notebook defined, found by
walking all subclasses of `object`) whether their `__eq__` claims to equal a fresh object, then —
garbage collector off, signals blocked, no thread switch — compares the whole state with the
snapshot (the ~4,600 module and class dicts and ~1,000 keyword-default dicts through their version
tags: only those whose tag moved are compared value by value; snapshot.py `dict_versions`) and prints
`sadari-probe ok <mac>` or `sadari-probe fail <mac> <what changed>`. The mac is an HMAC of the
challenge under the run's key, so nothing else in the kernel can print an answer the trusted side
accepts: a notebook that replaces the probe (`__import__`, `sys.audit`, IPython's cell runner…) only
gets no answer, and no answer fails the test. The key is a constant of the hook's code object and
nothing else (no variable, global, default or closure holds it), and the hook does not hand out
its code (`__code__`, a frame's `f_code`). The probe after a test catches what the test's own calls
into trainee code changed.

The hook loads no global or builtin name — everything it uses is bound in its defaults when
`install` builds it (graders/sandbox/snapshot.py) — so nothing in the notebook's namespace or the
builtins changes what it does, and it calls no code of the submission while it compares.

Honest limits: in-process checks cannot stop code that rewrites the interpreter's memory (ctypes'
`memmove` and `cast` raise no audit event in CPython 3.11; a C extension) unless what it changed is
in the snapshot; the contents of mutable containers (caches, registries, dispatch tables) are not
compared, except the hooks listed above; and code the submission leaves behind that runs at moments
it does not choose — a finalizer run by the garbage collector, a signal handler installed and
removed between two probes — could switch a patch on only while a test runs; a class whose
`__eq__` claims to equal anything, made only inside a function a test calls, is not there yet to be
asked before that test. The snapshot turns each of these into a deliberate effort instead of a
one-line patch.
"""

# ruff: noqa: PLR0912, PLR0915, C901, PLR0913, E501, SIM105


def _hook(event, args, A=None, R=None, S=None, B=None):
    """The audit hook. It loads no global or builtin name (tests/sandbox check its bytecode):
    `install` rebuilds it with everything in its defaults and a private, empty globals dict."""
    if event not in A[0]:
        return None
    # fmt: off
    (
        _events, rt_error, frame_type, my_globals, my_id, funcs, tracked_ids, _id, _type, _str,
        _bytes, _len, messages, _fspath, BaseException_,
    ) = A
    # fmt: on
    if event == "object.__getattr__":
        if (
            args[1] == "f_code"
            and _type(args[0]) is frame_type
            and _id(args[0].f_globals) == my_globals
        ) or (args[1] == "__code__" and _id(args[0]) == my_id):
            raise rt_error("sadari: the grading probe's code cannot be read")
        return None
    if event == "object.__setattr__":
        if _id(args[0]) == my_id:
            raise rt_error("sadari: the grading probe cannot be changed")
        name = args[1]
        if (name == "__class__" and _id(args[0]) in tracked_ids) or (
            name != "__class__" and _id(args[0]) in funcs
        ):
            if _len(R) < 50:
                R.append(f"{name} of a library object replaced")
            raise rt_error(f"sadari: replacing {name} of a library object is not allowed")
        return None
    if event == "open" or event == "os.symlink":
        path = args[0]
        if _type(path) is not _str and _type(path) is not _bytes and path is not None:
            try:
                path = _fspath(path)  # a path object: its own code may run, nothing here is secret
            except BaseException_:
                path = None
        if _type(path) is _bytes:
            path = path.decode("latin-1")
        if _type(path) is _str and (
            path == "mem" or path[-4:] == "/mem" or (event == "os.symlink" and "/proc" in path)
        ):
            if _len(R) < 50:
                R.append("the kernel's memory opened (" + path[:60] + ")")
            raise rt_error("sadari: the kernel's memory cannot be opened while grading")
        return None
    if event == "ctypes.dlsym" or event == "ctypes.dlsym/handle":
        name = args[1]
        if _type(name) is _str and (
            name[:2] == "Py" or name[:3] == "_Py" or name[:10] == "process_vm" or name == "ptrace"
        ):
            if _len(R) < 50:
                R.append("ctypes looked up " + name[:60])
            raise rt_error("sadari: the Python C API is not available through ctypes while grading")
        return None
    if event != "sadari.probe":
        if _len(R) < 50:
            R.append(messages.get(event, event + " called"))
        raise rt_error("sadari: " + event + " is not allowed while grading")

    # ---- the probe --------------------------------------------------------------------------
    # fmt: off
    (
        _tuple, _all, _map, _is, _repeat, _zip, _isinstance, _repr, _getframe, _digest,
        _gc_isenabled, _gc_disable, _gc_enable, _sigmask, _sig_block, _sig_setmask, _allsigs,
        _getsi, _setsi, _gettrace, _getprofile, _getsignal, _thread_count, _cellget, _getmro,
        _methodtype, _functype, _subclasses, _write, _stdout, _sentinel, _base_exc, _object,
        _missing, _classdict, _callable, descriptors, _issubclass, _qualname,
        _compress, _count, _ne, _tagof, _chain, _not, _dict, _geteq, _range,
    ) = B
    # fmt: on
    # fmt: off
    (
        sysd, sysmods, snames, sobjs, mods, classes, kwds_tags, cells, uns, bind, built, objs, conts,
        hooks, threads, run_code, codes, globs, perm, whole, _kept,
    ) = S
    # fmt: on
    problems = _tuple(perm)
    challenge = ""
    names = ()
    phase = ""
    if _type(args) is _tuple and _len(args) == 3:
        challenge, names, phase = args
    if not (
        _type(challenge) is _str
        and _type(names) is _tuple
        and _type(phase) is _str
        and _all(_map(_is, _map(_type, names), _repeat(_str)))
    ):
        challenge, names, phase = "", (), ""
        problems = problems + ("the tamper check was called with other arguments",)

    # 1. the probe cell itself called the hook, run by IPython's run_code, and every frame above
    #    is a snapshotted library's (no trainee callback, finalizer or nested probe on the stack)
    frame = _getframe(1)
    back = frame.f_back
    if frame.f_globals is not uns or back is None or back.f_code is not run_code:
        problems = problems + ("the tamper check was not called by its own cell",)
    else:
        back = back.f_back
        while back is not None:
            if _id(back.f_code) not in codes or _id(back.f_globals) not in globs:
                problems = problems + ("the tamper check was called from the submission's code",)
                break
            back = back.f_back
    frame = back = None

    # 2. before a test: the notebook's own classes must not claim to equal anything (this calls
    #    the submission's code, so it comes before the comparison)
    if phase == "before" and not problems:
        try:
            # the classes to ask, gathered without running any code of the submission: those of
            # the notebook's values (asked with the value), then every class there is (asked with
            # itself): the subclasses of object, level by level, each once, in C passes
            found = []
            for value in _tuple(uns.values()):
                found.append((value, value if _issubclass(_type(value), _type) else _type(value)))
            seen = {}
            level = (_object,)
            while level:
                subs = _tuple(_chain(_map(_subclasses, level)))
                ids = _tuple(_map(_id, subs))
                fresh = _dict(_compress(_zip(ids, subs), _map(_not, _map(seen.__contains__, ids))))
                seen.update(fresh)
                level = _tuple(fresh.values())
            walked = _tuple(seen.values())
            eqs = _tuple(_map(_geteq, _map(_classdict, walked)))
            for index in _compress(_count(), _map(_is, _map(_type, eqs), _repeat(_functype))):
                found.append((walked[index], walked[index]))
            for value, klass in _tuple(found):
                eq = _classdict(klass).get("__eq__")
                if _type(eq) is _functype and eq.__globals__ is uns:
                    try:
                        claims = eq(value, _sentinel()) is True
                    except _base_exc:
                        claims = False
                    if claims:
                        problems = problems + (
                            f"{_qualname(klass)}.__eq__ claims to equal anything",
                        )
        except _base_exc:
            problems = problems + ("the notebook's classes could not be checked",)
        seen = found = level = subs = ids = fresh = walked = eqs = value = klass = eq = None

    # 3. the comparison: nothing of the submission runs from here to the answer
    gc_was = _gc_isenabled()
    _gc_disable()
    mask = _sigmask(_sig_block, _allsigs)
    interval = _getsi()
    _setsi(100.0)
    try:
        changed = ()
        # recorded refusals (sys.settrace, gc.get_referrers, …)
        for text in _tuple(R):
            if _type(text) is _str:
                changed = changed + (text,)
        # sys.modules
        if sysd.get("modules") is not sysmods:
            changed = changed + ("sys.modules replaced",)
        elif not _all(_map(_is, _map(_type, sysmods), _repeat(_str))):
            changed = changed + ("sys.modules holds a key that is not a string",)
        elif not _all(_map(_is, _map(sysmods.get, snames), sobjs)):
            for name, obj in _zip(snames, sobjs):
                now = sysmods.get(name, _missing)
                if now is not obj:
                    changed = changed + (
                        f"sys.modules[{_repr(name)}] "
                        + ("removed" if now is _missing else "replaced"),
                    )
        # every module and class: class and MRO by identity, then each dict whose version tag moved
        # (every dict when there are no tags) is compared value by value, to say what changed
        wmods, wmtypes, wclasses, wctypes, wmros, wviews, wtags = whole
        kinds = (
            _all(_map(_is, _map(_type, wmods), wmtypes))
            and _all(_map(_is, _map(_type, wclasses), wctypes))
            and _all(_map(_is, _map(_getmro, wclasses), wmros))
        )
        nmods = _len(mods)
        moved = (
            _range(nmods + _len(classes))
            if not kinds or wviews is None
            else _compress(_count(), _map(_ne, _map(_tagof, wviews), wtags))
        )
        wmods = wmtypes = wclasses = wctypes = wmros = wviews = wtags = None
        for index in moved:
            if index < nmods:
                label, mod, mtype, d, nall, vall, keys, vals, _view, _tag = mods[index]
                if _type(mod) is not mtype:
                    changed = changed + (f"module {label} changed its class",)
            else:
                label, klass, ctype, mro, d, nall, vall, keys, vals, known, _view, _tag = classes[
                    index - nmods
                ]
                if _type(klass) is not ctype or _getmro(klass) is not mro:
                    changed = changed + (f"class {label} changed its metaclass or bases",)
            if _len(d) == nall and _all(_map(_is, d.values(), vall)):
                continue
            if index < nmods:
                if not _all(_map(_is, _map(_type, d), _repeat(_str))):
                    changed = changed + (f"module {label} holds a key that is not a string",)
                    continue
            else:
                for key in d:  # a new method or descriptor of a class shadows its bases'
                    if key in known:
                        continue
                    shadows = _callable(d[key])
                    for kind in descriptors:  # by identity: `in` could call a metaclass's __eq__
                        if _type(d[key]) is kind:
                            shadows = True
                    if shadows:
                        changed = changed + (f"{label}.{key} added",)
            if _all(_map(_is, _map(d.get, keys), vals)):
                continue
            for key, obj in _zip(keys, vals):
                now = d.get(key, _missing)
                if now is not obj:
                    changed = changed + (
                        f"{label}.{key} " + ("deleted" if now is _missing else "replaced"),
                    )
        moved = None
        # keyword defaults (a dict, changed in place)
        kwds, kviews, ktags = kwds_tags
        for index in (
            _range(_len(kwds))
            if kviews is None
            else _compress(_count(), _map(_ne, _map(_tagof, kviews), ktags))
        ):
            qual, kwd, nall, keys, vals, _view, _tag = kwds[index]
            if _len(kwd) != nall or not (
                _all(_map(_is, kwd, keys)) and _all(_map(_is, kwd.values(), vals))
            ):
                changed = changed + (f"the keyword defaults of {qual} changed",)
        # closure cells holding functions and classes
        cquals, ccells, cvals = cells
        try:
            same = _all(_map(_is, _map(_cellget, ccells), cvals))
        except _base_exc:
            same = False
        if not same:
            for qual, cell, obj in _zip(cquals, ccells, cvals):
                try:
                    now = _cellget(cell)
                except _base_exc:
                    now = _missing
                if now is not obj:
                    changed = changed + (f"a variable captured by {qual} replaced",)
        # the notebook's namespace: its builtins, the names the trusted cells bound, the builtins
        # this test uses
        if not _all(_map(_is, _map(_type, uns), _repeat(_str))):
            changed = changed + ("the notebook's namespace holds a key that is not a string",)
        else:
            if uns.get("__builtins__") is not built.get("__sadari_builtins_module__"):
                changed = changed + ("the notebook's __builtins__ replaced",)
            for name in names:
                now = uns.get(name, _missing)
                want = bind.get(name, _missing)
                if want is _missing:
                    want = built.get(name, _missing)
                    if now is not _missing and now is not want:
                        changed = changed + (f"{name} shadows the builtin of that name",)
                elif now is not _missing and now is not want:
                    changed = changed + (
                        f"{name} rebound in the notebook (the setup cell imported it)",
                    )
        # IPython's and ipykernel's objects: class, own dict, snapshotted attributes
        for label, obj, otype, dget, d, keys, vals, known in objs:
            if _type(obj) is not otype or (dget is not None and dget(obj) is not d):
                changed = changed + (f"{label} replaced",)
                continue
            if not _all(_map(_is, _map(_type, d), _repeat(_str))):
                changed = changed + (f"{label} holds a key that is not a string",)
                continue
            if not _all(_map(_is, _map(d.get, keys), vals)):
                for key, val in _zip(keys, vals):
                    if d.get(key, _missing) is not val:
                        changed = changed + (f"{label}.{key} replaced",)
            for key in d if known is not None else ():  # a new method shadows its class's
                if key not in known and _callable(d[key]):
                    changed = changed + (f"{label}.{key} added",)
        # hook lists and tables: transformers, event callbacks, handlers, import hooks…
        for label, cont, nall, keys, vals in conts:
            if keys is None:
                same = _len(cont) == nall and _all(_map(_is, cont, vals))
            elif keys == "appendable":
                # event callbacks: libraries the tests use register their own functions (pyplot,
                # matplotlib-inline): those may be added after the ones there before
                same = _len(cont) >= nall and _all(_map(_is, cont, vals))
                for extra in cont[nall:]:
                    if _id(extra) not in funcs:
                        same = False
            else:
                same = (
                    _len(cont) == nall
                    and _all(_map(_is, cont, keys))
                    and _all(_map(_is, cont.values(), vals))
                )
            if not same:
                changed = changed + (f"{label} changed",)
        # trace and profile functions, signal handlers, sys.excepthook
        (trace0, profile0, thd, ttrace0, tprofile0, signums, handlers, exc0, exc_func, exc_self) = (
            hooks
        )
        if _gettrace() is not trace0 or thd.get("_trace_hook") is not ttrace0:
            changed = changed + ("a trace function set",)
        if _getprofile() is not profile0 or thd.get("_profile_hook") is not tprofile0:
            changed = changed + ("a profile function set",)
        for signum, handler in _zip(signums, handlers):
            if _getsignal(signum) is not handler:
                changed = changed + (f"the handler of signal {signum} replaced",)
        hook = sysd.get("excepthook")
        if hook is not exc0 and not (
            _type(hook) is _methodtype and hook.__func__ is exc_func and hook.__self__ is exc_self
        ):
            changed = changed + ("sys.excepthook replaced",)
        hook = None
        # threads: the ones running before any trainee code ran, and those the kernel's own
        # machinery starts lazily (pyzmq's garbage collector), nothing else
        active, avals, count0, kernel_threads, thread_dict = threads
        new = 0
        for thread in _tuple(active.values()):
            known = False
            for old in avals:
                if old is thread:
                    known = True
            if known:
                continue
            new = new + 1
            for cls in kernel_threads:
                if _type(thread) is cls:
                    known = True
            if not known:
                try:
                    own = thread_dict(thread)
                    name = own.get("_name") if _type(own) is _type(bind) else None
                except _base_exc:
                    name = None
                name = name if _type(name) is _str else "?"
                changed = changed + (f"a thread the submission started is running ({name[:60]})",)
        for old in avals:
            known = False
            for thread in _tuple(active.values()):
                if old is thread:
                    known = True
            if not known:
                changed = changed + ("a thread of the kernel stopped",)
        if _thread_count() > count0 + new:
            changed = changed + ("a thread started with _thread is running",)
    except _base_exc:
        changed = ("the state could not be compared",)
    finally:
        _setsi(interval)
        _sigmask(_sig_setmask, mask)
        if gc_was:
            _gc_enable()

    # 4. the answer, signed: the key is a constant of this code and nothing else
    problems = problems + changed
    if problems:
        text = "; ".join(problems[:12])
        if _len(problems) > 12:
            text = text + f"; and {_len(problems) - 12} more"
        text = text.replace("\n", " ")[:1500]
        message = "fail\n" + challenge + "\n" + text
    else:
        text = ""
        message = "ok\n" + challenge
    mac = _digest(b"__SADARI_KEY__", message.encode("utf-8"), "sha256").hex()[:32]
    line = (
        "sadari-probe fail " + mac + " " + text + "\n"
        if problems
        else "sadari-probe ok " + mac + "\n"
    )
    try:
        _write(_stdout, line)
    except _base_exc:
        pass
    return None
