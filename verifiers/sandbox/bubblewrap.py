"""Host side of the sandbox: the bubblewrap command line, starting it, feeding it, reading it.

One :meth:`Sandbox.run` is one program run (and, in assert mode, one test) in a fresh set of
namespaces. See the package docstring for the threat model.
"""
from __future__ import annotations

import dataclasses
import functools
import json
import marshal
import os
import selectors
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from verifiers.sandbox.limits import Limits, SandboxResult, SandboxUnavailable
from verifiers.sandbox.testcode import harden_test

SANDBOX_UID = 65534  # "nobody": the uid the program runs as, inside and (host root) outside
WORKDIR = "/sandbox"
HARNESS_DIR = "/rlvr"  # where the in-sandbox code appears (not in the program's working dir)
_INSIDE = Path(__file__).with_name("inside")
_INSIDE_MODULES = ("__init__", "channel", "plain", "runner", "supervisor")
_ENTRY = "from inside.supervisor import main\nmain()\n"
_STARTUP_GRACE_S = 5.0  # host-side allowance on top of wall_time_s for namespace setup and teardown
_STDERR_KEEP = 64 * 1024


@functools.lru_cache(maxsize=None)
def _harness_files(python: str) -> tuple[tuple[str, bytes], ...]:
    """(path in the sandbox, contents) of the in-sandbox package and its entry script: .pyc files
    when ``python`` is the interpreter running this code (no compiling in every run), else sources."""
    sources = [(f"inside/{name}", (_INSIDE / f"{name}.py").read_text(encoding="utf-8")) for name in _INSIDE_MODULES]
    sources.append(("main", _ENTRY))
    if os.path.realpath(python) != os.path.realpath(sys.executable):
        return tuple((f"{HARNESS_DIR}/{name}.py", text.encode("utf-8")) for name, text in sources)
    import importlib.util

    header = importlib.util.MAGIC_NUMBER + b"\0" * 12  # flags 0 (timestamp pyc), mtime 0, size 0
    files = []
    for name, text in sources:
        code = compile(text, f"<rlvr-harness:{name}>", "exec", dont_inherit=True)
        files.append((f"{HARNESS_DIR}/{name}.pyc", header + marshal.dumps(code)))
    return tuple(files)


@functools.lru_cache(maxsize=None)
def _interpreter_prefix(python: str) -> str:
    if os.path.realpath(python) == os.path.realpath(sys.executable):
        return sys.base_prefix
    out = subprocess.run(
        [python, "-S", "-c", "import sys; print(sys.base_prefix)"],
        capture_output=True, text=True, timeout=30, env={}, check=True,
    )
    return out.stdout.strip()


def _memfd(name: str, data: bytes) -> int:
    fd = os.memfd_create(name, os.MFD_CLOEXEC)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.lseek(fd, 0, os.SEEK_SET)
    except BaseException:
        os.close(fd)
        raise
    return fd


class Sandbox:
    """Runs Python programs under bubblewrap. Thread-safe; each run is independent."""

    def __init__(self, limits: Limits | None = None, bwrap: str = "bwrap", python: str | None = None):
        self.limits = limits or Limits()
        self.bwrap_spec = bwrap
        self.bwrap = shutil.which(bwrap) if os.sep not in bwrap else (bwrap if os.access(bwrap, os.X_OK) else None)
        self.python = os.path.realpath(python or sys.executable)
        # Host root cannot be limited by RLIMIT_NPROC (the kernel exempts uid 0), so as root we
        # map the sandbox's uid 65534 to host uid 65534 ourselves and the runner drops to it.
        self.host_is_root = os.geteuid() == 0
        self._probe_lock = threading.Lock()
        self._probe_error: str | None = None
        self._probed = False

    # ------------------------------------------------------------------ availability

    def ensure_available(self) -> None:
        """Raise SandboxUnavailable unless a trivial program runs in the sandbox (cached)."""
        with self._probe_lock:
            if not self._probed:
                self._probe_error = self._probe()
                self._probed = True
        if self._probe_error is not None:
            raise SandboxUnavailable(self._probe_error)

    def _probe(self) -> str | None:
        if self.bwrap is None:
            return (f"bubblewrap not found (bwrap={self.bwrap_spec!r}); install it (apt-get install bubblewrap). "
                    "Code is never run unsandboxed.")
        if not os.access(self.python, os.X_OK):
            return f"the sandbox interpreter {self.python!r} is not executable"
        try:
            result = self.run("print(6 * 7)", mode="stdio")
        except SandboxUnavailable as exc:
            return str(exc)
        if result.status == "passed" and result.stdout == b"42\n":
            return None
        detail = result.message or result.stderr.decode("utf-8", "replace").strip()
        return (f"bubblewrap at {self.bwrap} could not run a program in new user/pid/net namespaces "
                f"(status {result.status}): {detail[:2000]}. Unprivileged user namespaces may be disabled "
                "(sysctl kernel.unprivileged_userns_clone / kernel.apparmor_restrict_unprivileged_userns). "
                "Code is never run unsandboxed.")

    # ------------------------------------------------------------------ command line

    @functools.cached_property
    def _binds(self) -> list[str]:
        args: list[str] = []
        bound: list[str] = []

        made: set[str] = set()

        def ro(path: str) -> None:
            if any(path == b or path.startswith(b.rstrip("/") + "/") for b in bound):
                return
            if os.path.islink(path):
                args.extend(["--symlink", os.readlink(path), path])
            elif os.path.exists(path):
                # bwrap copies the host's modes onto the parents it creates, and a parent like
                # /root (0700) would lock the program out of the interpreter bound below it.
                parent = os.path.dirname(path)
                chain = []
                while parent not in ("/", "") and parent not in made:
                    chain.append(parent)
                    parent = os.path.dirname(parent)
                for directory in reversed(chain):
                    args.extend(["--perms", "0755", "--dir", directory])
                    made.add(directory)
                args.extend(["--ro-bind", path, path])
                bound.append(path)

        prefix = _interpreter_prefix(self.python)
        # System libraries (libc, libm, libz...) and, for a /usr install, the stdlib.
        for path in ("/usr/lib", "/usr/lib64", "/lib", "/lib64", "/etc/ld.so.cache"):
            ro(path)
        if prefix not in ("/", "/usr"):
            ro(prefix)  # e.g. a pyenv or conda prefix: bin, lib (stdlib, libpython)
        ro(self.python)
        return args

    def _argv(self, job_fd: int, verdict_fd: int, info_fd: int, block_fd: int | None,
              harness: list[tuple[int, str]]) -> list[str]:
        lim = self.limits
        tmpfs_bytes = str(int(lim.tmpfs_mb) * 1024 * 1024)
        argv = [self.bwrap, "--unshare-user", "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
                "--unshare-cgroup-try", "--info-fd", str(info_fd)]
        if block_fd is not None:
            # Host root: we write the uid/gid maps (0->0 for the supervisor's setup, 65534->65534
            # for the program); the supervisor keeps only the caps it needs to drop the runner's uid
            # and to kill it on timeout, and to forbid nested user namespaces (--disable-userns
            # does that otherwise, but bwrap refuses it with --userns-block-fd); all of them only
            # over the sandbox's own user namespace.
            argv += ["--userns-block-fd", str(block_fd), "--cap-drop", "ALL",
                     "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--cap-add", "CAP_KILL",
                     "--cap-add", "CAP_SYS_RESOURCE"]
        else:
            argv += ["--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID), "--disable-userns"]
        # --as-pid-1: the supervisor is the pid namespace's init, so bwrap's monitor reaps it
        # (bwrap's own init would be orphaned when the monitor exits), and the program cannot
        # signal it (the kernel drops signals to a namespace's init from inside the namespace).
        argv += ["--as-pid-1", "--die-with-parent", "--new-session", "--hostname", "sandbox"]
        argv += self._binds
        argv += ["--proc", "/proc", "--dev", "/dev",
                 "--perms", "1777", "--size", tmpfs_bytes, "--tmpfs", "/tmp",
                 "--perms", "1777", "--size", tmpfs_bytes, "--tmpfs", WORKDIR,
                 "--perms", "0755", "--dir", HARNESS_DIR, "--perms", "0755", "--dir", f"{HARNESS_DIR}/inside"]
        for fd, path in harness:
            argv += ["--perms", "0444", "--ro-bind-data", str(fd), path]
        argv += ["--remount-ro", "/", "--chdir", WORKDIR, "--clearenv"]
        env = {
            "PATH": f"{os.path.dirname(self.python)}:/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONHASHSEED": "0",
            "PYTHONUTF8": "1",
            "HOME": WORKDIR,
            "TMPDIR": "/tmp",
        }
        for key, value in env.items():
            argv += ["--setenv", key, value]
        entry = harness[-1][1]
        argv += [self.python, "-S", "-s", "-B", entry, str(job_fd), str(verdict_fd)]
        return argv

    # ------------------------------------------------------------------ running

    def run(self, program: str, *, mode: str = "stdio", stdin: bytes | str = b"", test: str | None = None) -> SandboxResult:
        """Run ``program``; mode "stdio" feeds ``stdin``, mode "assert" runs ``test`` after it.
        Every process the program started is gone when this returns."""
        if self.bwrap is None:
            raise SandboxUnavailable(f"bubblewrap not found (bwrap={self.bwrap_spec!r}); install it "
                                     "(apt-get install bubblewrap). Code is never run unsandboxed.")
        if mode not in ("stdio", "assert"):
            raise ValueError(f"mode must be 'stdio' or 'assert', got {mode!r}")
        if (mode == "assert") != (test is not None):
            raise ValueError("a test is required in assert mode and only there")
        if isinstance(stdin, str):
            stdin = stdin.encode("utf-8")
        if test is not None:
            try:
                test = harden_test(test)
            except (SyntaxError, ValueError) as exc:
                return SandboxResult("test_error", f"the test does not compile: {exc}")
        lim = self.limits
        job = {
            "program": program,
            "mode": mode,
            "test": test,
            "workdir": WORKDIR,
            "limits": dataclasses.asdict(lim),
            # The runner's uid also counts the supervisor when the host is not root (one uid is
            # all an unprivileged user namespace can map).
            "nproc": int(lim.max_processes) + (0 if self.host_is_root else 1),
            "drop_uid": self.host_is_root,
        }
        started = time.monotonic()
        owned: list[int] = []
        try:
            job_fd = _memfd("rlvr-job", marshal.dumps(job))
            owned.append(job_fd)
            stdin_fd = _memfd("rlvr-stdin", stdin)
            owned.append(stdin_fd)
            harness = []
            for path, data in _harness_files(self.python):
                fd = _memfd("rlvr-harness", data)
                owned.append(fd)
                harness.append((fd, path))
            verdict_r, verdict_w = os.pipe()
            owned += [verdict_r, verdict_w]
            info_r, info_w = os.pipe()
            owned += [info_r, info_w]
            block_r = block_w = None
            if self.host_is_root:
                block_r, block_w = os.pipe()
                owned += [block_r, block_w]
            child_fds = [job_fd, verdict_w, info_w] + [fd for fd, _ in harness]
            child_fds += [block_r] if block_r is not None else []
            argv = self._argv(job_fd, verdict_w, info_w, block_r, harness)
            try:
                proc = subprocess.Popen(argv, stdin=stdin_fd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        pass_fds=child_fds, env={}, close_fds=True)
            except OSError as exc:
                raise SandboxUnavailable(f"could not start bubblewrap at {self.bwrap}: {exc}") from exc
            for fd in child_fds + [stdin_fd]:
                os.close(fd)
                owned.remove(fd)
            return self._drive(proc, verdict_r, info_r, block_w, started)
        finally:
            for fd in owned:
                try:
                    os.close(fd)
                except OSError:
                    pass  # already closed on an error path; closing is best effort here

    def _drive(self, proc: subprocess.Popen, verdict_r: int, info_r: int, block_w: int | None,
               started: float) -> SandboxResult:
        lim = self.limits
        deadline = started + float(lim.wall_time_s) + _STARTUP_GRACE_S
        pidfd = None
        stdout = bytearray()
        stderr = bytearray()
        stderr_total = 0
        verdict = bytearray()
        killed_for: tuple[str, str] | None = None
        child: int | None = None
        finished = False  # all three streams reached EOF: the sandbox is shutting down by itself
        try:
            info = self._read_info(info_r, deadline)
            if info is None:
                proc.kill()
                proc.wait()
                err = proc.stderr.read().decode("utf-8", "replace").strip()
                return SandboxResult("sandbox_error", f"bubblewrap failed before starting the sandbox: {err}",
                                     wall_s=time.monotonic() - started)
            child = int(info["child-pid"])
            try:
                pidfd = os.pidfd_open(child)
            except (AttributeError, OSError):  # gone already, or a kernel without pidfd (< 5.3)
                pidfd = None
            if block_w is not None:
                try:
                    for name in ("uid_map", "gid_map"):
                        with open(f"/proc/{child}/{name}", "w") as handle:
                            handle.write(f"0 0 1\n{SANDBOX_UID} {SANDBOX_UID} 1\n")
                except OSError as exc:
                    proc.kill()
                    proc.wait()
                    raise SandboxUnavailable(
                        f"running as root, but could not map uid {SANDBOX_UID} into the sandbox's user "
                        f"namespace ({exc}); without that the program's process count cannot be limited") from exc
                os.write(block_w, b"1")

            sel = selectors.DefaultSelector()
            sel.register(proc.stdout, selectors.EVENT_READ, "stdout")
            sel.register(proc.stderr, selectors.EVENT_READ, "stderr")
            sel.register(verdict_r, selectors.EVENT_READ, "verdict")
            open_streams = 3
            while open_streams:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    killed_for = ("timeout", f"wall time limit of {lim.wall_time_s} s exceeded")
                    break
                for key, _ in sel.select(remaining):
                    fd = key.fileobj if isinstance(key.fileobj, int) else key.fileobj.fileno()
                    data = os.read(fd, 1 << 16)
                    if not data:
                        sel.unregister(key.fileobj)
                        open_streams -= 1
                        continue
                    if key.data == "stdout":
                        stdout += data
                        if len(stdout) > lim.max_output_bytes:
                            killed_for = ("output_limit", f"stdout exceeded {lim.max_output_bytes} bytes")
                    elif key.data == "stderr":
                        stderr_total += len(data)
                        stderr += data
                        if len(stderr) > _STDERR_KEEP:
                            del stderr[: len(stderr) - _STDERR_KEEP]
                        if stderr_total > lim.max_output_bytes:
                            killed_for = ("output_limit", f"stderr exceeded {lim.max_output_bytes} bytes")
                    elif len(verdict) < 1 << 20:
                        verdict += data
                if killed_for is not None:
                    break
            else:
                finished = True
            sel.close()
        finally:
            # Killing the sandbox's init kills its whole pid namespace (init exits only after
            # every process in it is gone), and bwrap's monitor then reaps it and exits.
            # Killing the monitor instead (the fallback) would work too, via --die-with-parent,
            # but would leave init to be reaped by whoever adopts it.
            if not finished:
                try:
                    if pidfd is None:  # no pidfd: a bare pid could have been reused, so not that
                        raise ProcessLookupError
                    signal.pidfd_send_signal(pidfd, signal.SIGKILL)
                except OSError:  # ProcessLookupError, PermissionError
                    proc.kill()
            try:
                proc.wait(timeout=_STARTUP_GRACE_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            self._wait_gone(child, pidfd)
            for stream in (proc.stdout, proc.stderr):
                stream.close()
        wall = time.monotonic() - started
        return self._result(bytes(verdict), bytes(stdout[: lim.max_output_bytes]), bytes(stderr), killed_for, wall,
                            proc.returncode)

    @staticmethod
    def _wait_gone(child: int | None, pidfd: int | None, limit_s: float = 30.0) -> None:
        import select as _select

        if pidfd is not None:
            _select.select([pidfd], [], [], limit_s)
            os.close(pidfd)
            return
        end = time.monotonic() + limit_s
        while child is not None and time.monotonic() < end:
            try:
                with open(f"/proc/{child}/stat", "rb") as handle:
                    if handle.read().rsplit(b")", 1)[-1].split()[0] == b"Z":
                        return
            except OSError:
                return
            time.sleep(0.005)

    @staticmethod
    def _read_info(info_r: int, deadline: float) -> dict | None:
        import select as _select

        data = b""
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            ready, _, _ = _select.select([info_r], [], [], remaining)
            if not ready:
                return None
            chunk = os.read(info_r, 4096)
            if not chunk:
                break
            data += chunk
        try:
            info = json.loads(data)
        except ValueError:
            return None
        return info if isinstance(info, dict) and "child-pid" in info else None

    @staticmethod
    def _result(verdict: bytes, stdout: bytes, stderr: bytes, killed_for: tuple[str, str] | None, wall: float,
                returncode: int | None) -> SandboxResult:
        lines = verdict.split(b"\n")
        if killed_for is not None:
            return SandboxResult(killed_for[0], killed_for[1], stdout, stderr, wall)
        if not lines or lines[0] != b"READY":
            err = stderr.decode("utf-8", "replace").strip()
            return SandboxResult("sandbox_error", f"the sandbox did not start (bwrap exit status {returncode}): {err}",
                                 stdout, stderr, wall)
        payload = [line for line in lines[1:] if line]
        if len(payload) != 1:
            return SandboxResult("harness_killed", "the supervisor ended without a verdict (the program killed it?)",
                                 stdout, stderr, wall)
        try:
            tag, fields = payload[0][:2], payload[0][2:].decode("utf-8", "replace").split("\t", 3)
            status, cpu, message = fields[0], float(fields[1]), fields[3]
            if tag != b"V " or not status.replace("_", "").isalpha():
                raise ValueError(tag)
        except (ValueError, IndexError):
            return SandboxResult("sandbox_error", "unreadable verdict from the supervisor", stdout, stderr, wall)
        return SandboxResult(status, message, stdout, stderr, wall, cpu)
