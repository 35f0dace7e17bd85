"""The supervisor: forks the runner, answers it, judges it, writes the one verdict line."""
import marshal
import os
import select
import sys
import time

from .channel import one_line, read_all, send_until, set_undumpable, write_all
from .runner import run

MESSAGE_LIMIT = 1024 * 1024
# What the runner may report. Never "passed" (that needs the nonce) and never an infrastructure
# status (sandbox_error, test_error): those would turn a failure into an unscored item, which a
# policy could learn to prefer to a zero. Those come only from the supervisor and the host.
RUNNER_FAILURES = frozenset({"exception", "exit", "early_exit", "memory_limit", "assertion_failed",
                             "not_plain_data", "threads_left", "syntax_error", "harness_error"})
SIGNAL_NAMES = {6: "SIGABRT", 7: "SIGBUS", 8: "SIGFPE", 9: "SIGKILL", 11: "SIGSEGV", 13: "SIGPIPE",
                15: "SIGTERM", 24: "SIGXCPU", 25: "SIGXFSZ"}


def supervise(pid, fd, out_fd, job):
    """fd: what the runner writes; out_fd: what the runner reads. Returns (status, message, cpu, wall)."""
    limits = job["limits"]
    mode = job["mode"]
    start = time.monotonic()
    deadline = start + float(limits["wall_time_s"])
    test_blob = None
    if mode == "assert":
        try:
            test_blob = marshal.dumps(compile(job["test"], "<test>", "exec", dont_inherit=True, optimize=0))
        except (SyntaxError, ValueError) as exc:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            return "test_error", f"the test does not compile: {exc}", 0.0, 0.0
    os.set_blocking(fd, False)
    os.set_blocking(out_fd, False)
    config = {key: job[key] for key in ("program", "mode", "limits", "workdir", "nproc", "drop_uid")}
    try:
        blob = marshal.dumps(config)
        send_until(out_fd, len(blob).to_bytes(4, "big") + blob, deadline)
    except (OSError, TimeoutError):
        pass  # the runner is gone already; its exit status says why

    nonce = os.urandom(16).hex().encode()  # made after the fork: never in the runner's memory
    state = {"done": False, "finish": False, "claimed": False, "failure": None, "tamper": None}
    buf = bytearray()
    received = 0

    def handle(line):
        if line == b"D" and mode == "assert" and not state["done"]:
            state["done"] = True
            send_until(out_fd, len(test_blob).to_bytes(4, "big") + test_blob, deadline)
        elif line == b"F" and not state["finish"] and (state["done"] or mode != "assert"):
            state["finish"] = True
            send_until(out_fd, nonce + b"\n", deadline)
        elif line.startswith(b"P ") and state["finish"] and not state["claimed"] and line[2:] == nonce:
            state["claimed"] = True
        elif line.startswith(b"X ") and state["failure"] is None:
            status, _, message = line[2:].decode("utf-8", "replace").partition("\t")
            if status in RUNNER_FAILURES:
                state["failure"] = (status, message)
            else:
                state["tamper"] = state["tamper"] or f"the runner reported an unknown status {status[:40]!r}"
        elif state["tamper"] is None:
            state["tamper"] = f"unexpected message on the control channel: {line[:60]!r}"

    def feed(data):
        nonlocal received
        received += len(data)
        if received > MESSAGE_LIMIT:
            state["tamper"] = state["tamper"] or "control channel flooded"
            return
        buf.extend(data)
        while b"\n" in buf:
            cut = buf.index(b"\n")
            line = bytes(buf[:cut])
            del buf[: cut + 1]
            try:
                handle(line)
            except (OSError, TimeoutError):
                pass

    pidfd = os.pidfd_open(pid)
    fd_open = True
    timed_out = False
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            timed_out = True
            break
        ready, _, _ = select.select([pidfd] + ([fd] if fd_open else []), [], [], remaining)
        if fd in ready:
            try:
                data = os.read(fd, 65536)
            except BlockingIOError:
                data = None
            if data == b"":
                fd_open = False
            elif data:
                feed(data)
        if pidfd in ready:
            break

    if timed_out:
        os.kill(pid, 9)
    _, status, usage = os.wait4(pid, 0)
    wall = time.monotonic() - start
    cpu = usage.ru_utime + usage.ru_stime
    if timed_out:
        return "timeout", f"wall time limit of {limits['wall_time_s']} s exceeded", cpu, wall
    while fd_open:  # lines written just before the runner exited
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            break
        if not data:
            break
        feed(data)

    cpu_limit = float(limits["cpu_time_s"])
    failure, tamper = state["failure"], state["tamper"]
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        name = SIGNAL_NAMES.get(sig, f"signal {sig}")
        if sig == 24 or (sig == 9 and cpu >= cpu_limit - 0.05):
            return "cpu_limit", f"CPU time limit of {cpu_limit} s exceeded", cpu, wall
        if sig == 11:
            return "crash", "segmentation fault (stack overflow or out of memory)", cpu, wall
        return "signal", f"killed by {name}", cpu, wall
    if tamper is not None:
        return "tampering", tamper, cpu, wall
    if cpu > cpu_limit:
        return "cpu_limit", f"CPU time limit of {cpu_limit} s exceeded ({cpu:.2f} s)", cpu, wall
    if failure is not None:
        return failure[0], failure[1], cpu, wall
    if state["claimed"] and os.WEXITSTATUS(status) == 0:
        return "passed", "", cpu, wall
    code = os.WEXITSTATUS(status)
    return "early_exit", f"the process ended (exit status {code}) before the harness finished", cpu, wall


def main():
    job_fd, verdict_fd = int(sys.argv[1]), int(sys.argv[2])
    write_all(verdict_fd, b"READY\n")
    try:
        if os.getuid() != 0:
            set_undumpable()
        else:
            # Host-root layout (see bubblewrap.py): no nested user namespaces for the program,
            # which would give it capabilities over namespaces of its own. Unprivileged hosts
            # get the same from bwrap's --disable-userns.
            with open("/proc/sys/user/max_user_namespaces", "w") as handle:
                handle.write("0")
        to_runner_r, to_runner_w = os.pipe()
        from_runner_r, from_runner_w = os.pipe()
        pid = os.fork()
    except Exception as exc:
        write_all(verdict_fd, f"V sandbox_error\t0\t0\tsupervisor setup failed: {one_line(repr(exc))}\n".encode())
        os._exit(0)
    if pid == 0:
        try:
            for fd in (to_runner_w, from_runner_r, job_fd, verdict_fd):
                os.close(fd)
            run(to_runner_r, from_runner_w)
        finally:
            os._exit(70)
    os.close(to_runner_r)
    os.close(from_runner_w)
    try:
        job = marshal.loads(read_all(job_fd))
        os.close(job_fd)
        status, message, cpu, wall = supervise(pid, from_runner_r, to_runner_w, job)
    except Exception as exc:  # a harness bug must surface as an error, never as a pass
        status, message, cpu, wall = "sandbox_error", f"supervisor failed: {exc!r}", 0.0, 0.0
    line = f"V {status}\t{cpu:.4f}\t{wall:.4f}\t{one_line(message)}\n"
    write_all(verdict_fd, line.encode("utf-8", "replace"))
    os._exit(0)
