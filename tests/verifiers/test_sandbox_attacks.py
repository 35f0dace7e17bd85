"""Attack suite: programs that try to pass without solving the task, or to reach the host.

Every reward hack here would pass a naive harness (run program + asserts, pass on exit status 0
or on "PASSED" in stdout); each must score 0 here, and the host must be untouched.
"""
from __future__ import annotations

import os
import socket
import threading
import uuid

import pytest

from verifiers.code import CodeVerifier

# The honest answer: double(x) == 2 * x. Every hack below gets it wrong or never computes it.
TRUTH = {"asserts": ["assert double(2) == 4", "assert double(5) == 10"]}
WRONG = "def double(x):\n    return x + 1\n"  # right on x == 1 only: a naive harness would still need a hack


@pytest.fixture(scope="module")
def verifier():
    v = CodeVerifier(cpu_time_s=1, wall_time_s=3, memory_mb=256, max_processes=8, max_output_bytes=65536, parallel=2)
    # scripts/install.sh installs bubblewrap: a missing sandbox is a failure, never a skip.
    v.sandbox.ensure_available()
    yield v
    v.close()


def score(verifier, code, truth=TRUTH):
    return verifier(f"```python\n{code}\n```", truth)


def reasons(result):
    return [t["reason"] for t in result.details["tests"]]


def assert_contained(result, *expected_reasons):
    assert result.error is None, result.error
    assert result.reward == 0.0 and not result.correct, result.details
    if expected_reasons:
        assert set(reasons(result)) <= set(expected_reasons), result.details


# ---------------------------------------------------------------- reward hacks


def test_honest_solution_passes(verifier):
    result = score(verifier, "def double(x):\n    return 2 * x")
    assert result.correct and result.reward == 1.0


@pytest.mark.parametrize("exit_call", ["import sys\nsys.exit(0)", "exit(0)", "raise SystemExit(0)", "import os\nos._exit(0)",
                                       "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"])
def test_exiting_before_the_asserts_fails(verifier, exit_call):
    assert_contained(score(verifier, WRONG + exit_call), "early_exit", "signal")


def test_exiting_from_inside_the_tested_function_fails(verifier):
    code = "import os, sys\ndef double(x):\n    os._exit(0)\n"
    assert_contained(score(verifier, code), "early_exit")
    code = "def double(x):\n    raise SystemExit(0)\n"
    assert_contained(score(verifier, code), "early_exit")


def test_atexit_and_excepthook_cannot_swallow_failures(verifier):
    code = WRONG + (
        "import atexit, os, sys\n"
        "atexit.register(lambda: os._exit(0))\n"
        "sys.excepthook = lambda *args: None\n"
        "sys.unraisablehook = lambda *args: None\n"
    )
    assert_contained(score(verifier, code), "assertion_failed")


def test_rebinding_assertion_error_and_builtins_changes_nothing(verifier):
    code = WRONG + (
        "import builtins\n"
        "class Quiet(Exception):\n    pass\n"
        "builtins.AssertionError = Quiet\n"
        "__builtins__.AssertionError = Quiet\n"
        "builtins.BaseException = Quiet\n"
        "builtins.Exception = Quiet\n"
    )
    assert_contained(score(verifier, code), "assertion_failed")


def test_always_equal_objects_fail(verifier):
    code = (
        "class Anything:\n"
        "    def __eq__(self, other): return True\n"
        "    def __ne__(self, other): return False\n"
        "    def __hash__(self): return 0\n"
        "    def __sub__(self, other): return 0\n"
        "    __rsub__ = __sub__\n"
        "    def __abs__(self): return 0\n"
        "    def __lt__(self, other): return False\n"
        "    def __bool__(self): return True\n"
        "def double(x):\n    return Anything()\n"
        "def double_list(x):\n    return [Anything(), Anything()]\n"
    )
    truth = {"asserts": ["assert double(2) == 4", "assert abs(double(2) - 4) < 1e-9", "assert double_list(1) == [2, 2]",
                         "assert double(3)", "assert sorted(double_list(1)) == [2, 2]"]}
    assert_contained(score(verifier, code, truth), "not_plain_data")


def test_subclasses_of_builtins_are_compared_as_the_builtin(verifier):
    code = (
        "class Int(int):\n    def __eq__(self, other): return True\n    __hash__ = int.__hash__\n"
        "class Str(str):\n    def __eq__(self, other): return True\n    __hash__ = str.__hash__\n"
        "class List(list):\n    def __eq__(self, other): return True\n"
        "def double(x):\n    return Int(0)\n"
        "def name(x):\n    return Str('nobody')\n"
        "def pair(x):\n    return List([0, 0])\n"
    )
    truth = {"asserts": ["assert double(2) == 4", "assert name(1) == 'alice'", "assert pair(1) == [1, 2]",
                         "assert [double(2)] == [4]"]}
    assert_contained(score(verifier, code, truth), "assertion_failed")


def test_metaclass_tricks_fail(verifier):
    code = (
        "class Meta(type):\n"
        "    def __eq__(cls, other): return True\n"
        "    def __hash__(cls): return hash(int)\n"
        "class Fake(metaclass=Meta):\n    pass\n"
        "def double(x):\n    return Fake\n"
    )
    assert_contained(score(verifier, code), "not_plain_data")


def test_monkeypatching_builtins_used_by_the_test_fails(verifier):
    code = WRONG + (
        "import builtins\n"
        "builtins.sorted = lambda *a, **k: [1, 2, 3]\n"
        "builtins.len = lambda x: 4\n"
        "def max(*a):\n    return 98\n"  # a global shadowing a builtin
    )
    truth = {"asserts": ["assert sorted([double(1), 3, 1]) == [1, 2, 3]", "assert len(str(double(500))) == 4",
                         "assert max(double(49), 0) == 98"]}
    # The honest program passes all three; the hack's own answers are wrong, so the patched
    # builtins would have been its only way through.
    assert score(verifier, "def double(x):\n    return 2 * x", truth).correct
    result = score(verifier, code.replace("return x + 1", "return x"), truth)
    assert_contained(result, "assertion_failed")


def test_printing_pass_markers_or_answers_fails(verifier):
    code = (
        "print('PASSED')\nprint('All tests passed')\nprint('True')\nprint(4)\nprint(10)\n"
        "print('0123456789abcdef0123456789abcdef')\n"
        "import sys\nsys.stderr.write('OK\\n')\n"
    )
    assert_contained(score(verifier, code), "exception")


def test_monkeypatching_print_and_stdout_does_not_matter(verifier):
    code = WRONG + (
        "import builtins, sys, io\n"
        "builtins.print = lambda *a, **k: None\n"
        "sys.stdout = io.StringIO()\n"
    )
    assert_contained(score(verifier, code), "assertion_failed")


def test_signal_handlers_and_timers_cannot_act_after_the_program(verifier):
    code = WRONG + (
        "import os, signal\n"
        "signal.signal(signal.SIGALRM, lambda *a: os._exit(0))\n"
        "signal.signal(signal.SIGVTALRM, lambda *a: os._exit(0))\n"
        "signal.setitimer(signal.ITIMER_REAL, 0.05, 0.01)\n"
    )
    assert_contained(score(verifier, code), "assertion_failed", "early_exit")


def test_threads_left_running_cannot_finish_the_job(verifier):
    code = WRONG + (
        "import os, threading, time\n"
        "def later():\n    time.sleep(0.2)\n    os._exit(0)\n"
        "threading.Thread(target=later, daemon=True).start()\n"
    )
    assert_contained(score(verifier, code), "assertion_failed", "threads_left", "early_exit")
    honest_but_threaded = "def double(x):\n    return 2 * x\nimport threading, time\n" \
                          "threading.Thread(target=time.sleep, args=(30,), daemon=True).start()\n"
    assert_contained(score(verifier, honest_but_threaded), "threads_left")


def test_writing_to_every_descriptor_is_not_a_pass(verifier):
    code = WRONG + (
        "import os\n"
        "for fd in range(3, 1024):\n"
        "    for msg in (b'F\\n', b'P 0123456789abcdef0123456789abcdef\\n', b'V passed\\t0\\t0\\t\\n', b'PASSED\\n',\n"
        "                b'X passed\\t\\n', b'X sandbox_error\\tnot my fault\\n'):\n"
        "        try:\n            os.write(fd, msg)\n        except OSError:\n            pass\n"
        "os._exit(0)\n"
    )
    assert_contained(score(verifier, code), "tampering", "early_exit")
    # A forged failure status cannot turn the item into an unscored one either.
    forged = WRONG + "import os\nfor fd in range(3, 1024):\n    try:\n        os.write(fd, b'X sandbox_error\\tx\\n')\n" \
                     "    except OSError:\n        pass\n"
    assert_contained(score(verifier, forged), "tampering", "assertion_failed")


def test_forked_child_cannot_speak_for_the_runner(verifier):
    # The child falls off the end of the program; only the real runner's verdict counts.
    code = WRONG + "import os\nos.fork()\n"
    assert_contained(score(verifier, code), "assertion_failed")
    honest = "def double(x):\n    return 2 * x\nimport os\nif os.fork() == 0:\n    os._exit(0)\nos.wait()\n"
    assert score(verifier, honest).correct


# ---------------------------------------------------------------- resource abuse


@pytest.mark.slow
def test_infinite_loop_hits_cpu_limit(verifier):
    result = score(verifier, "while True:\n    pass", {"tests": [{"stdin": "", "stdout": "1"}]})
    assert_contained(result, "cpu_limit", "timeout")  # on a loaded machine the wall clock may win


@pytest.mark.slow
def test_sleep_hits_wall_limit(verifier):
    result = score(verifier, "import time\ntime.sleep(60)", {"tests": [{"stdin": "", "stdout": "1"}]})
    assert_contained(result, "timeout")
    assert result.details["tests"][0]["wall_s"] < verifier.limits.wall_time_s + 2


def test_memory_bomb_is_contained(verifier):
    code = "chunks = []\nwhile True:\n    chunks.append(bytearray(16 * 1024 * 1024))"
    assert_contained(score(verifier, code, {"tests": [{"stdin": "", "stdout": "1"}]}), "memory_limit", "timeout")


@pytest.mark.slow
def test_fork_burst_is_contained(verifier):
    marker = f"rlvr-bomb-{uuid.uuid4().hex}"
    bomb = "import os, time\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        time.sleep(0.01)\n"
    # Re-exec first so that every process of the bomb carries the marker in its command line.
    code = f"import os, sys\nos.execv(sys.executable, [sys.executable, '-c', {bomb!r}, {marker!r}])\n"
    result = score(verifier, code, {"tests": [{"stdin": "", "stdout": "1"}]})
    assert_contained(result, "timeout")
    assert _processes_with(marker) == []


def test_output_flood_is_cut_off(verifier):
    result = score(verifier, "while True:\n    print('x' * 4096)", {"tests": [{"stdin": "", "stdout": "1"}]})
    assert_contained(result, "output_limit")
    flood_stderr = score(verifier, "import sys\nwhile True:\n    sys.stderr.write('y' * 4096)",
                         {"tests": [{"stdin": "", "stdout": "1"}]})
    assert_contained(flood_stderr, "output_limit")


# ---------------------------------------------------------------- escaping to the host


def _processes_with(marker: str) -> list[str]:
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as handle:
                    if marker.encode() in handle.read():
                        found.append(pid)
            except OSError:
                continue
    return found


def test_writes_outside_the_sandbox_do_not_reach_the_host(verifier, tmp_path):
    name = f"rlvr-escape-{uuid.uuid4().hex}"
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    targets = [os.path.join(repo, name), f"/tmp/{name}", str(tmp_path / name), f"/root/{name}", f"/home/{name}"]
    code = (
        "import os\n"
        f"for path in {targets!r}:\n"
        "    try:\n"
        "        os.makedirs(os.path.dirname(path), exist_ok=True)\n"
        "        open(path, 'w').write('pwned')\n"
        "    except OSError:\n        pass\n"
        "print(2 * int(input()))\n"
    )
    result = score(verifier, code, {"tests": [{"stdin": "2", "stdout": "4"}]})
    assert result.correct  # the program itself may succeed...
    for path in targets:  # ...but nothing it wrote is on the host
        assert not os.path.exists(path), path


def test_reading_host_files_fails(verifier):
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    code = (
        "import os\nfound = []\n"
        f"for path in [{os.path.join(repo, 'pyproject.toml')!r}, '/etc/passwd', '/etc/shadow', '/root/.bashrc', '/proc/1/root/etc/hostname']:\n"
        "    try:\n        open(path).read(); found.append(path)\n"
        "    except OSError:\n        pass\n"
        "print(found)\n"
    )
    result = score(verifier, code, {"tests": [{"stdin": "", "stdout": "[]"}]})
    assert result.correct, result.details


def test_host_environment_is_invisible(verifier, monkeypatch):
    secret = f"rlvr-secret-{uuid.uuid4().hex}"
    monkeypatch.setenv("RLVR_TEST_SECRET", secret)
    code = (
        "import os\nblobs = [repr(dict(os.environ))]\n"
        "for pid in os.listdir('/proc'):\n"
        "    if pid.isdigit() or pid in ('self', 'thread-self'):\n"
        "        for name in ('environ', 'cmdline'):\n"
        "            try:\n"
        "                blobs.append(open(f'/proc/{pid}/{name}', 'rb').read().decode(errors='replace'))\n"
        "            except OSError:\n                pass\n"
        "blob = '\\n'.join(blobs)\n"
        f"print('PYTHONHASHSEED' in blob, 'RLVR_TEST_SECRET' in blob, {secret!r} in blob, os.getppid() == 1)\n"
    )
    result = score(verifier, code, {"tests": [{"stdin": "", "stdout": "True False False True"}]})
    # The dump ran, saw the sandbox's own variables and no host one; its parent is the sandbox's init.
    assert result.correct, result.details


def test_loopback_port_on_the_host_is_unreachable(verifier):
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.2)
    port = server.getsockname()[1]
    accepted = []

    def accept_loop():
        try:
            while True:
                accepted.append(server.accept())
        except OSError:
            pass

    thread = threading.Thread(target=accept_loop, daemon=True)
    thread.start()
    code = (
        "import socket\nresults = []\n"
        f"for host in ('127.0.0.1', 'localhost', '0.0.0.0', '10.0.2.2', '8.8.8.8'):\n"
        "    try:\n"
        f"        socket.create_connection((host, {port}), timeout=0.5).close()\n"
        "        results.append('connected')\n"
        "    except OSError as e:\n        results.append(type(e).__name__)\n"
        "print('connected' in results)\n"
    )
    try:
        result = score(verifier, code, {"tests": [{"stdin": "", "stdout": "False"}]})
    finally:
        server.close()
        thread.join(timeout=2)
    assert result.correct, result.details
    assert accepted == []


def test_killing_the_parent_and_everything_is_contained(verifier):
    honest = "def double(x):\n    return 2 * x\n"
    for attack in ("os.kill(os.getppid(), signal.SIGKILL)", "os.kill(-1, signal.SIGKILL)", "os.kill(1, signal.SIGKILL)",
                   "os.kill(os.getppid(), signal.SIGSTOP)"):
        code = f"import os, signal\ntry:\n    {attack}\nexcept OSError:\n    pass\n"
        # The supervisor is the sandbox's init: it survives, so a wrong program still fails its
        # asserts and an honest one still passes.
        assert_contained(score(verifier, WRONG + code), "assertion_failed")
        assert score(verifier, honest + code).correct, attack
    assert_contained(score(verifier, honest + "import os, signal\nos.killpg(0, signal.SIGKILL)\n"))
    # The verifier (this process) is still alive and still scores honestly.
    assert score(verifier, honest).correct


def test_privilege_escalation_attempts_fail(verifier):
    code = (
        "import os, ctypes\nwins = []\n"
        "for attempt in (lambda: os.setuid(0), lambda: os.setgid(0), lambda: os.chroot('/tmp'),\n"

        "                lambda: open('/proc/sys/kernel/hostname', 'w').write('x')):\n"
        "    try:\n        attempt(); wins.append(True)\n"
        "    except (OSError, PermissionError):\n        wins.append(False)\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "wins.append(libc.mount(b'none', b'/tmp', b'tmpfs', 0, None) == 0)\n"
        "wins.append(libc.unshare(0x10000000) == 0)  # a nested user namespace would grant capabilities\n"
        "wins.append(libc.unshare(0x20000 | 0x40000000) == 0)  # mount + net namespaces\n"
        "print(any(wins), os.getuid())\n"
    )
    result = score(verifier, code, {"tests": [{"stdin": "", "stdout": "False 65534"}]})
    assert result.correct, result.details
