"""The part of the sandbox that runs INSIDE bubblewrap: a supervisor and the runner it forks.

Started as ``python -S -s -B -c <this file's text> JOB_FD VERDICT_FD`` (the repository is not
mounted in the sandbox, so this file is passed as text and may import only the standard library).

    supervisor (never runs untrusted code; non-dumpable, and uid 0 of the sandbox when the host is root)
      reads the job from JOB_FD, forks the runner, talks to it over a socketpair, waits for it,
      and writes exactly one verdict line to VERDICT_FD, a descriptor the runner closes before
      any untrusted code exists in its memory.
    runner (forked; drops to uid 65534 and sets its rlimits before untrusted code runs)
      runs the program; in "assert" mode then asks for the test, which the supervisor compiled
      (rewritten so compared values must be plain data, builtins resolved to a snapshot taken
      before the program ran) and sends only now; finally asks for a nonce the supervisor creates
      only now, and echoes it. A pass needs that echo, so exits before the harness finishes
      (sys.exit, os._exit, signals, killing the supervisor) can only fail.

Line protocol on the socketpair, runner -> supervisor: ``D`` (program done, send the test),
``F`` (finished, send the nonce), ``P <nonce>`` (passed), ``X <json>`` (failed: status, message).
Supervisor -> runner: length-prefixed frames (config, compiled test) and the nonce line.
"""
import json
import os
import select
import signal
import socket
import struct
import sys
import time

_FRAME_LIMIT = 64 * 1024 * 1024
_MESSAGE_LIMIT = 1024 * 1024


def _write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _read_exact(fd, n):
    chunks = []
    while n:
        chunk = os.read(fd, min(n, 1 << 20))
        if not chunk:
            raise EOFError("peer closed the channel")
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def _send_frame(fd, payload):
    _write_all(fd, struct.pack(">I", len(payload)) + payload)


def _recv_frame(fd):
    (size,) = struct.unpack(">I", _read_exact(fd, 4))
    if size > _FRAME_LIMIT:
        raise ValueError("frame too large")
    return _read_exact(fd, size)


def _read_all(fd):
    chunks = []
    while True:
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def _set_dumpable(flag):
    # A non-dumpable process's /proc entries belong to root and it cannot be ptraced, so a
    # runner with the same uid (unprivileged host) cannot open the supervisor's descriptors.
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(4, 1 if flag else 0, 0, 0, 0) != 0:  # 4 = PR_SET_DUMPABLE
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_DUMPABLE) failed")


# ----------------------------------------------------------------------------- test compilation


def _compile_test(source):
    """Compile one test (statements ending in asserts) into a module that defines
    ``__rlvr_test__``. Runs in the supervisor, which never executed untrusted code.

    Rewrites: every builtin name the test does not bind itself reads from ``__rlvr_b__`` (a
    snapshot of builtins taken before the program ran), and every value an assert tests for
    truth, compares (other than by identity), combines with an operator, or gets back from a
    call (other than a call's arguments and method receivers) goes through ``__rlvr_chk__``,
    which accepts only plain builtin data. So an object whose ``__eq__`` always answers True,
    or a program that rebinds ``sorted``/``len``, cannot make an assert pass.
    """
    import ast
    import builtins

    tree = ast.parse(source, "<test>", "exec")
    bound = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            bound.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.alias):
            bound.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
    builtin_names = (set(dir(builtins)) | {"exit", "quit"}) - bound

    check, neutral, exempt = "check", "neutral", "exempt"

    def wrap(node, active):
        if not active:
            return node
        return ast.Call(func=ast.Name("__rlvr_chk__", ast.Load()), args=[node], keywords=[])

    def rewrite(node, mode, active):
        # mode: whether the value at this position must be plain data (check), only calls
        # are checked (neutral), or nothing is (exempt: call arguments, method receivers).
        # active: inside an assert's test; setup statements only get the builtins rewrite.
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id in builtin_names:
            new = ast.Subscript(ast.Name("__rlvr_b__", ast.Load()), ast.Constant(node.id), ast.Load())
            return wrap(new, active) if mode == check else new
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute):
                func.value = rewrite(func.value, exempt, active)
            else:
                node.func = rewrite(func, exempt, active)
            node.args = [rewrite(a, exempt, active) for a in node.args]
            for kw in node.keywords:
                kw.value = rewrite(kw.value, exempt, active)
            return node if mode == exempt else wrap(node, active)
        if isinstance(node, ast.Compare):
            identity = all(isinstance(op, (ast.Is, ast.IsNot)) for op in node.ops)
            sub = neutral if identity else check
            node.left = rewrite(node.left, sub, active)
            node.comparators = [rewrite(c, sub, active) for c in node.comparators]
            return node
        if isinstance(node, ast.BoolOp):
            node.values = [rewrite(v, check, active) for v in node.values]
            return node
        if isinstance(node, ast.UnaryOp):
            node.operand = rewrite(node.operand, check, active)
            return node
        if isinstance(node, ast.BinOp):
            node.left = rewrite(node.left, check, active)
            node.right = rewrite(node.right, check, active)
            return node
        if isinstance(node, ast.IfExp):
            node.test = rewrite(node.test, check, active)
            node.body = rewrite(node.body, mode, active)
            node.orelse = rewrite(node.orelse, mode, active)
            return node
        if isinstance(node, ast.comprehension):
            node.target = rewrite(node.target, neutral, active)
            node.iter = rewrite(node.iter, neutral, active)
            node.ifs = [rewrite(i, check, active) for i in node.ifs]
            return node
        if isinstance(node, ast.Assert):
            node.test = rewrite(node.test, check, True)
            if node.msg is not None:
                node.msg = rewrite(node.msg, neutral, False)
            return node
        # Everything else: rewrite the children; a value in a checked position is checked whole.
        for field, value in ast.iter_fields(node):
            if isinstance(value, list):
                setattr(node, field, [rewrite(v, neutral, active) if isinstance(v, ast.AST) else v for v in value])
            elif isinstance(value, ast.AST):
                setattr(node, field, rewrite(value, neutral, active))
        if mode == check and isinstance(node, ast.expr):
            return wrap(node, active)
        return node

    body = [rewrite(stmt, neutral, False) for stmt in tree.body] or [ast.Pass()]
    func = ast.FunctionDef(
        name="__rlvr_test__",
        args=ast.arguments(
            posonlyargs=[],
            args=[ast.arg("__rlvr_chk__"), ast.arg("__rlvr_b__")],
            kwonlyargs=[],
            kw_defaults=[],
            defaults=[ast.Name("__rlvr_chk__", ast.Load()), ast.Name("__rlvr_b__", ast.Load())],
        ),
        body=body,
        decorator_list=[],
        returns=None,
    )
    module = ast.Module(body=[func], type_ignores=[])
    ast.fix_missing_locations(module)
    return compile(module, "<test>", "exec", dont_inherit=True, optimize=0)


# ----------------------------------------------------------------------------- supervisor


def _supervise(pid, fd, job):
    import marshal

    limits = job["limits"]
    start = time.monotonic()
    deadline = start + float(limits["wall_time_s"])
    verdict = {"status": None, "message": ""}
    test_blob = None
    if job["mode"] == "assert":
        try:
            test_blob = marshal.dumps(_compile_test(job["test"]))
        except SyntaxError as exc:
            os.kill(pid, signal.SIGKILL)
            return {"status": "test_error", "message": f"the test does not compile: {exc}"}
    config = {key: job[key] for key in ("program", "mode", "limits", "workdir", "nproc", "drop_uid")}
    try:
        _send_frame(fd, json.dumps(config).encode())
    except OSError:
        pass  # the runner died already; its exit status tells why

    nonce = os.urandom(16).hex().encode()  # created after the fork: never in the runner's memory
    got_done = got_finish = claimed = False
    failure = None
    tamper = None
    buf = b""
    received = 0
    pidfd = os.pidfd_open(pid)
    fd_open = True
    timed_out = False

    def handle(line):
        nonlocal got_done, got_finish, claimed, failure, tamper
        if line == b"D" and job["mode"] == "assert" and not got_done:
            got_done = True
            _send_frame(fd, test_blob)
        elif line == b"F" and not got_finish and (got_done or job["mode"] != "assert"):
            got_finish = True
            _write_all(fd, nonce + b"\n")
        elif line.startswith(b"P ") and got_finish and not claimed and line[2:] == nonce:
            claimed = True
        elif line.startswith(b"X ") and failure is None:
            try:
                failure = json.loads(line[2:].decode("utf-8", "replace"))
                failure = {"status": str(failure["status"]), "message": str(failure.get("message", ""))[:4000]}
            except (ValueError, KeyError, TypeError):
                failure = {"status": "exception", "message": "malformed failure report"}
        else:
            tamper = tamper or f"unexpected message on the control channel: {line[:80]!r}"

    def feed(data):
        nonlocal buf, received, tamper
        received += len(data)
        if received > _MESSAGE_LIMIT:
            tamper = tamper or "control channel flooded"
            return
        buf += data
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            try:
                handle(line)
            except OSError:
                pass

    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            timed_out = True
            break
        watch = [pidfd] + ([fd] if fd_open else [])
        ready, _, _ = select.select(watch, [], [], remaining)
        if fd in ready:
            data = os.read(fd, 65536)
            if data:
                feed(data)
            else:
                fd_open = False
        if pidfd in ready:
            break

    if timed_out:
        os.kill(pid, signal.SIGKILL)
        _, status, usage = os.wait4(pid, 0)
        return {
            "status": "timeout",
            "message": f"wall time limit of {limits['wall_time_s']} s exceeded",
            "cpu_s": usage.ru_utime + usage.ru_stime,
            "wall_s": time.monotonic() - start,
        }

    _, status, usage = os.wait4(pid, 0)
    wall = time.monotonic() - start
    # Lines written just before the runner exited may still sit in the socket.
    os.set_blocking(fd, False)
    while fd_open:
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            break
        if not data:
            break
        feed(data)

    cpu = usage.ru_utime + usage.ru_stime
    verdict.update(cpu_s=cpu, wall_s=wall, max_rss_kb=usage.ru_maxrss)
    cpu_limit = float(limits["cpu_time_s"])
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig == signal.SIGXCPU or (sig == signal.SIGKILL and cpu >= cpu_limit - 0.05):
            verdict.update(status="cpu_limit", message=f"CPU time limit of {cpu_limit} s exceeded")
        elif sig == signal.SIGSEGV:
            verdict.update(status="crash", message="segmentation fault (stack overflow or out of memory)")
        else:
            verdict.update(status="signal", message=f"killed by signal {signal.Signals(sig).name}")
    elif tamper is not None:
        verdict.update(status="tampering", message=tamper)
    elif cpu > cpu_limit:
        verdict.update(status="cpu_limit", message=f"CPU time limit of {cpu_limit} s exceeded ({cpu:.2f} s)")
    elif failure is not None:
        verdict.update(failure)
    elif claimed and os.WEXITSTATUS(status) == 0:
        verdict.update(status="passed", message="")
    else:
        verdict.update(
            status="early_exit",
            message=f"the process ended (exit status {os.WEXITSTATUS(status)}) before the harness finished",
        )
    return verdict


# ----------------------------------------------------------------------------- runner


def _runner(ctl):
    """Never returns. Everything used after the program starts is bound to a local first:
    the program may rebind builtins and module attributes, but not this frame's locals."""
    import builtins
    import collections
    import gc
    import marshal
    import resource
    import types

    cfg = json.loads(_recv_frame(ctl))
    hidden = 100 + int.from_bytes(os.urandom(2), "big") % 800
    os.dup2(ctl, hidden, inheritable=False)
    os.close(ctl)
    ctl = hidden

    _write, _read, _exit, _listdir = os.write, os.read, os._exit, os.listdir
    _dumps, _loads_marshal, _exec, _compile = json.dumps, marshal.loads, exec, compile
    _len, _type, _id, _str, _repr = len, type, id, str, repr
    _BaseException, _SystemExit, _MemoryError = BaseException, SystemExit, MemoryError
    _AssertionError, _RecursionError = AssertionError, RecursionError
    _settrace, _setprofile, _gc_disable = sys.settrace, sys.setprofile, gc.disable
    _sigmask, _valid_signals, _setitimer = signal.pthread_sigmask, signal.valid_signals, signal.setitimer
    _sys, _stdout0, _stderr0 = sys, sys.stdout, sys.stderr
    _dict_keys, _dict_values = dict.keys, dict.values

    def report(status, message, *, _w=_write, _fd=ctl, _d=_dumps, _x=_exit):
        try:
            _w(_fd, b"X " + _d({"status": status, "message": message[:4000]}).encode() + b"\n")
        finally:
            _x(1)

    class NotPlain(Exception):
        pass

    _NotPlain = NotPlain
    leaf_ids = frozenset(map(id, (int, float, complex, str, bytes, bytearray, bool, type(None), range, type(...), type)))
    seq_ids = frozenset(map(id, (list, tuple, set, frozenset, collections.deque)))
    map_ids = frozenset(map(id, (dict, collections.OrderedDict, collections.defaultdict)))

    def chk(value, _t=_type, _i=_id, _leaf=leaf_ids, _seq=seq_ids, _map=map_ids, _k=_dict_keys, _v=_dict_values,
            _err=_NotPlain, _l=list):
        # Identity checks on exact types only: `in` on a set of types would call a metaclass's
        # __eq__/__hash__, which the program controls.
        stack = [value]
        seen = set()
        budget = 1_000_000
        while stack:
            item = stack.pop()
            tid = _i(_t(item))
            if tid in _leaf:
                continue
            if _i(item) in seen:
                continue
            seen.add(_i(item))
            budget -= 1
            if budget < 0:
                raise _err("value too large to check")
            if tid in _seq:
                stack.extend(_l(item))
            elif tid in _map:
                stack.extend(_l(_k(item)))
                stack.extend(_l(_v(item)))
            else:
                raise _err(f"a value of type {_t(item).__qualname__!s} is not plain data "
                           "(only builtin numbers, strings, bytes, None and containers of them can be compared)")
        return value

    limits = cfg["limits"]
    mode = cfg["mode"]
    workdir = cfg["workdir"]
    mem = int(limits["memory_mb"]) * 1024 * 1024
    cpu = int(float(limits["cpu_time_s"]) + 0.999)
    fsize = int(limits["file_size_mb"]) * 1024 * 1024
    try:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))
        resource.setrlimit(resource.RLIMIT_NPROC, (int(cfg["nproc"]), int(cfg["nproc"])))
        if cfg["drop_uid"]:
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
        if os.getuid() == 0 or os.geteuid() == 0:
            raise OSError("runner still has uid 0")
        resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    except (OSError, ValueError) as exc:
        report("sandbox_error", f"could not set up the runner: {exc}")

    os.chdir(workdir)
    path = os.path.join(workdir, "solution.py")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(cfg["program"])

    def quitter(code=None):
        raise SystemExit(code)

    builtins.exit = builtins.quit = quitter  # normally added by `site`, which -S skips
    pristine = dict(builtins.__dict__)
    name = "__main__" if mode == "stdio" else "solution"
    module = types.ModuleType(name)
    g = module.__dict__
    g.update(__file__=path, __builtins__=builtins)
    sys.modules[name] = module
    sys.argv = [path]
    del cfg, handle

    try:
        code = _compile(_sys.modules[name].__dict__ is g and _read_source(path), path, "exec", dont_inherit=True)
    except SyntaxError as exc:
        report("syntax_error", f"SyntaxError: {exc}")
    except (ValueError, OverflowError, MemoryError) as exc:
        report("syntax_error", f"the program does not compile: {exc}")

    outcome, detail = "ok", None
    # ---- untrusted code runs from here on ----
    try:
        _exec(code, g)
    except _SystemExit as exc:
        outcome, detail = "exit", exc.code
    except _MemoryError:
        outcome = "memory_limit"
    except _RecursionError as exc:
        outcome, detail = "exception", exc
    except _BaseException as exc:
        outcome, detail = "exception", exc
    _flush(_sys, _stdout0, _stderr0, _BaseException)

    if outcome == "memory_limit":
        report("memory_limit", f"MemoryError (memory limit {limits['memory_mb']} MB)")
    if outcome == "exception":
        report("exception", _describe(detail, _BaseException))
    if outcome == "exit":
        status = 0 if detail is None else detail if _type(detail) is int else 1
        if mode != "stdio":
            report("early_exit", f"the program called sys.exit({_repr(detail)[:100]}) before the tests ran")
        if status != 0:
            report("exit", f"the program exited with status {status}")

    if mode == "assert":
        _write(ctl, b"D\n")
        try:
            blob = _recv_frame_with(ctl, _read)
            test_code = _loads_marshal(blob)
        except _BaseException as exc:
            report("sandbox_error", f"could not receive the test: {exc!r}")
        g["__rlvr_chk__"] = chk
        g["__rlvr_b__"] = pristine
        try:
            _exec(test_code, g)
            test = g.pop("__rlvr_test__")
        except _BaseException as exc:
            report("sandbox_error", f"could not define the test: {exc!r}")
        g.pop("__rlvr_chk__", None)
        g.pop("__rlvr_b__", None)
        try:
            test()
        except _AssertionError as exc:
            msg = _str(exc.args[0])[:200] if exc.args and _type(exc.args[0]) is str else ""
            report("assertion_failed", "assertion failed" + (f": {msg}" if msg else ""))
        except _NotPlain as exc:
            report("not_plain_data", _str(exc.args[0]))
        except _SystemExit as exc:
            report("early_exit", f"sys.exit({_repr(exc.code)[:100]}) was called while the test ran")
        except _MemoryError:
            report("memory_limit", f"MemoryError (memory limit {limits['memory_mb']} MB)")
        except _BaseException as exc:
            report("exception", _describe(exc, _BaseException))
        _flush(_sys, _stdout0, _stderr0, _BaseException)

    _join_threads(_sys, _BaseException)
    # Nothing of the program may run from here on: no signal handlers, timers, trace hooks,
    # garbage-collector callbacks or other threads.
    _sigmask(signal.SIG_BLOCK, _valid_signals())
    for timer in (signal.ITIMER_REAL, signal.ITIMER_VIRTUAL, signal.ITIMER_PROF):
        _setitimer(timer, 0)
    _settrace(None)
    _setprofile(None)
    _gc_disable()
    threads = _len(_listdir("/proc/self/task"))
    if threads != 1:
        report("threads_left", f"the program left {threads - 1} thread(s) running")
    _write(ctl, b"F\n")
    nonce = b""
    while not nonce.endswith(b"\n"):
        chunk = _read(ctl, 64)
        if not chunk:
            _exit(3)
        nonce += chunk
    _write(ctl, b"P " + nonce)
    _exit(0)


def _read_source(path):
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def _recv_frame_with(fd, read):
    def exact(n):
        data = b""
        while len(data) < n:
            chunk = read(fd, n - len(data))
            if not chunk:
                raise EOFError("supervisor closed the channel")
            data += chunk
        return data

    (size,) = struct.unpack(">I", exact(4))
    return exact(size)


def _flush(sys_module, stdout0, stderr0, base_exception):
    for stream in (getattr(sys_module, "stdout", None), getattr(sys_module, "stderr", None), stdout0, stderr0):
        try:
            stream.flush()
        except base_exception:
            pass


def _describe(exc, base_exception):
    """One line for the verdict; the full traceback goes to stderr as Python would print it."""
    try:
        import traceback

        text = "".join(traceback.format_exception(exc))
        _write_all(2, text.encode("utf-8", "replace")[-20000:])
        return traceback.format_exception_only(exc)[-1].strip()
    except base_exception:
        return "an exception was raised (it could not be formatted)"


def _join_threads(sys_module, base_exception):
    # Python's own shutdown waits for non-daemon threads; do the same before judging.
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


def main():
    job_fd, verdict_fd = int(sys.argv[1]), int(sys.argv[2])
    _write_all(verdict_fd, b"READY\n")
    _set_dumpable(False)
    sup, run = socket.socketpair()
    sup_fd, run_fd = sup.detach(), run.detach()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(sup_fd)
            os.close(job_fd)
            os.close(verdict_fd)
            _runner(run_fd)
        finally:
            os._exit(70)
    os.close(run_fd)
    try:
        job = json.loads(_read_all(job_fd))
        os.close(job_fd)
        verdict = _supervise(pid, sup_fd, job)
    except Exception as exc:  # a harness bug must surface as an error, never as a pass
        verdict = {"status": "sandbox_error", "message": f"supervisor failed: {exc!r}"}
    _write_all(verdict_fd, json.dumps(verdict).encode() + b"\n")
    os._exit(0)


if __name__ == "__main__":
    main()
