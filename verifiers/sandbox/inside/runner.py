"""The runner: the forked process that runs the program, then the test, then proves it finished."""
import _signal
import marshal
import os
import sys

from .channel import one_line, recv_frame, write_all
from .plain import plain_data_checker


def run(ctl_in, ctl):
    """Never returns. Everything used after the program starts is bound to a local first:
    the program may rebind builtins, module attributes and this module's globals, but not
    this frame's locals. ctl_in: what the supervisor writes; ctl: what it reads."""
    import builtins
    import gc

    cfg = marshal.loads(recv_frame(ctl_in))
    # Unpredictable descriptor numbers: a program has to go looking for the channel.
    spots = list(range(100, 900))
    moved = []
    for old in (ctl_in, ctl):
        new = spots.pop(int.from_bytes(os.urandom(2), "big") % len(spots))
        os.dup2(old, new, inheritable=False)
        os.close(old)
        moved.append(new)
    ctl_in, ctl = moved

    _write, _read, _exit, _getpid = os.write, os.read, os._exit, os.getpid
    me = os.getpid()
    _loads, _exec, _compile = marshal.loads, exec, compile
    _type, _repr, _int = type, repr, int
    _BaseException, _SystemExit, _MemoryError, _AssertionError = BaseException, SystemExit, MemoryError, AssertionError
    _sys, _stdout0, _stderr0, _getattr = sys, sys.stdout, sys.stderr, getattr
    _flush_, _describe_, _join_threads_ = _flush, _describe, _join_threads

    def receive_test(_r=_read, _fd=ctl_in, _l=len, _fb=int.from_bytes, _eof=EOFError, _loads=_loads):
        def exact(n):
            data = b""
            while _l(data) < n:
                chunk = _r(_fd, n - _l(data))
                if not chunk:
                    raise _eof("the supervisor closed the channel")
                data += chunk
            return data

        return _loads(exact(_fb(exact(4), "big")))

    def report(status, message, _w=_write, _fd=ctl, _x=_exit, _o=one_line, _p=_getpid, _me=me):
        try:
            if _p() == _me:  # a process the program forked speaks for nobody
                _w(_fd, b"X " + (status + "\t" + _o(message)).encode("utf-8", "replace") + b"\n")
        finally:
            _x(1)

    def finish(_w=_write, _r=_read, _x=_exit, _in=ctl_in, _out=ctl, _p=_getpid, _me=me, _l=len, _ls=os.listdir,
               _mask=_signal.pthread_sigmask, _block=_signal.SIG_BLOCK, _all=_signal.valid_signals,
               _timer=_signal.setitimer, _timers=(_signal.ITIMER_REAL, _signal.ITIMER_VIRTUAL, _signal.ITIMER_PROF),
               _trace=sys.settrace, _profile=sys.setprofile, _gc_off=gc.disable, _report=report):
        """Prove the run finished: nothing of the program may run from here on (no signal
        handlers, timers, trace or profile hooks, garbage-collector callbacks or other threads)."""
        _mask(_block, _all())
        for timer in _timers:
            _timer(timer, 0)
        _trace(None)
        _profile(None)
        _gc_off()
        if _p() != _me:
            _x(0)  # a process the program forked, running off the end: Python would exit here
        threads = _l(_ls("/proc/self/task"))
        if threads != 1:
            _report("threads_left", f"the program left {threads - 1} thread(s) running")
        _w(_out, b"F\n")
        nonce = b""
        while not nonce.endswith(b"\n"):
            chunk = _r(_in, 64)
            if not chunk:
                _x(3)
            nonce += chunk
        _w(_out, b"P " + nonce)
        _x(0)

    chk, NotPlain = plain_data_checker()

    limits = cfg["limits"]
    mode = cfg["mode"]
    workdir = cfg["workdir"]
    try:
        path = _prepare(cfg)
    except (OSError, ValueError) as exc:
        report("harness_error", f"could not set up the runner: {exc}")

    def quitter(code=None):
        raise SystemExit(code)

    builtins.exit = builtins.quit = quitter  # normally added by `site`, which -S skips
    pristine = dict(builtins.__dict__)
    module = type(sys)("__main__" if mode == "stdio" else "solution")
    g = module.__dict__
    g["__file__"] = path
    g["__builtins__"] = builtins
    sys.modules[module.__name__] = module
    sys.argv = [path]
    sys.path[0] = workdir  # as for `python /sandbox/solution.py`
    source = cfg["program"]
    del cfg

    def guard(event, args):
        # Refusing new audit hooks keeps the program from hooking the events the harness
        # itself triggers after the program has returned.
        if event == "sys.addaudithook":
            raise RuntimeError("audit hooks are reserved for the harness")

    sys.addaudithook(guard)
    try:
        code = _compile(source, path, "exec", dont_inherit=True, optimize=0)
    except SyntaxError as exc:
        report("syntax_error", f"SyntaxError: {exc}")
    except (ValueError, OverflowError, MemoryError) as exc:
        report("syntax_error", f"the program does not compile: {exc!r}")
    del source

    outcome, detail = "ok", None
    # ---- program code runs from here on ----
    try:
        _exec(code, g)
    except _SystemExit as exc:
        outcome, detail = "exit", exc.code
    except _MemoryError:
        outcome = "memory_limit"
    except _BaseException as exc:
        outcome, detail = "exception", exc
    _flush_(_sys, _stdout0, _stderr0, _BaseException, _getattr)
    if _getpid() != me:
        _exit(0)  # a forked child that ran off the end of the program: Python would exit here

    if outcome == "memory_limit":
        report("memory_limit", f"MemoryError (memory limit {limits['memory_mb']} MB)")
    if outcome == "exception":
        report("exception", _describe_(detail, _BaseException))
    if outcome == "exit":
        if detail is None:
            status = 0
        elif _type(detail) is int or _type(detail) is bool:
            status = _int(detail)
        else:
            status = 1
        if mode != "stdio":
            report("early_exit", f"the program called sys.exit({_repr(detail)[:80]}) before the test ran")
        if status != 0:
            report("exit", f"the program exited with status {status}")

    if mode == "assert":
        _write(ctl, b"D\n")
        try:
            test_code = receive_test()
        except _BaseException as exc:
            report("harness_error", f"could not receive the test: {exc!r}")
        g["__rlvr_chk__"] = chk
        g["__rlvr_b__"] = pristine
        try:
            _exec(test_code, g)
            test = g.pop("__rlvr_test__")
        except _BaseException as exc:
            report("harness_error", f"could not define the test: {exc!r}")
        g.pop("__rlvr_chk__", None)
        g.pop("__rlvr_b__", None)
        try:
            test()
        except _AssertionError as exc:
            note = exc.args[0] if exc.args and _type(exc.args[0]) is str else ""
            report("assertion_failed", "assertion failed" + (": " + note[:200] if note else ""))
        except NotPlain as exc:
            report("not_plain_data", exc.args[0])
        except _SystemExit as exc:
            report("early_exit", f"sys.exit({_repr(exc.code)[:80]}) was called while the test ran")
        except _MemoryError:
            report("memory_limit", f"MemoryError (memory limit {limits['memory_mb']} MB)")
        except _BaseException as exc:
            report("exception", _describe_(exc, _BaseException))
        _flush_(_sys, _stdout0, _stderr0, _BaseException, _getattr)
        if _getpid() != me:
            _exit(0)

    _join_threads_(_sys, _BaseException)
    finish()


def _prepare(cfg):
    """Limits, identity, working directory and the program's file; returns that file's path."""
    import resource

    limits = cfg["limits"]
    memory_bytes = int(limits["memory_mb"]) * 1024 * 1024
    cpu_seconds = int(float(limits["cpu_time_s"]) + 0.999)
    file_bytes = int(limits["file_size_mb"]) * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
    resource.setrlimit(resource.RLIMIT_FSIZE, (file_bytes, file_bytes))
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))
    resource.setrlimit(resource.RLIMIT_NPROC, (int(cfg["nproc"]), int(cfg["nproc"])))
    if cfg["drop_uid"]:
        os.setgroups([])
        os.setgid(65534)
        os.setuid(65534)
    if 0 in os.getresuid() or 0 in os.getresgid():
        raise OSError("the runner still has uid or gid 0")
    os.chdir(cfg["workdir"])
    path = cfg["workdir"] + "/solution.py"
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(cfg["program"])
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))  # last: the steps above allocate
    return path


def _flush(sys_module, stdout0, stderr0, base_exception, getattr_):
    for stream in (getattr_(sys_module, "stdout", None), getattr_(sys_module, "stderr", None), stdout0, stderr0):
        try:
            stream.flush()
        except base_exception:
            pass


def _describe(exc, base_exception):
    """One line for the verdict; the traceback goes to stderr as Python would print it."""
    try:
        import traceback

        tb = exc.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename.startswith("<rlvr-harness"):  # the harness's own frames
            tb = tb.tb_next
        text = "".join(traceback.format_exception(type(exc), exc, tb))
        write_all(2, text.encode("utf-8", "replace")[-20000:])
        return traceback.format_exception_only(exc)[-1].strip()
    except base_exception:
        return "an exception was raised (it could not be formatted)"


def _join_threads(sys_module, base_exception):
    # Python's own shutdown waits for non-daemon threads; so does the harness before judging.
    threading = sys_module.modules.get("threading")
    if threading is None:
        return
    try:
        current = threading.current_thread()
        for thread in threading.enumerate():
            if thread is not current and not thread.daemon:
                thread.join()
    except base_exception:
        pass
