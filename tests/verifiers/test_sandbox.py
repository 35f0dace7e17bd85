"""The sandbox itself: test hardening, limits, isolation facts, cleanup."""
from __future__ import annotations

import ast
import dataclasses
import os
import uuid

import pytest

from verifiers.sandbox import Limits, Sandbox, SandboxUnavailable
from verifiers.sandbox.testcode import harden_test


@pytest.fixture(scope="module")
def sandbox():
    box = Sandbox(Limits(cpu_time_s=1, wall_time_s=3, memory_mb=256, max_processes=8, max_output_bytes=65536))
    # scripts/install.sh installs bubblewrap: a missing sandbox is a failure, never a skip.
    box.ensure_available()
    return box


def _processes_with(marker: str) -> list[str]:
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                cmdline = handle.read()
        except OSError:
            continue
        if marker.encode() in cmdline:
            found.append(pid)
    return found


# ---------------------------------------------------------------- test hardening (no sandbox)


def test_harden_wraps_compared_and_returned_values_but_not_arguments():
    text = harden_test("assert sorted(f(x)) == [1, 2] and g(y)")
    tree = ast.parse(text)
    function = tree.body[0]
    assert function.name == "__rlvr_test__"
    assert [a.arg for a in function.args.args] == ["__rlvr_chk__", "__rlvr_b__"]
    # sorted's result is checked, f(x) (an argument) is not; g(y) (tested for truth) is.
    assert "__rlvr_chk__(__rlvr_b__['sorted'](f(x)))" in text
    assert "__rlvr_chk__(g(y))" in text
    assert "__rlvr_chk__(f(x))" not in text


def test_harden_leaves_identity_setup_and_bound_names_alone():
    text = harden_test("sol = Solution()\nlen = 3\nassert sol.solve(1) is None\nassert len == 3")
    assert "sol = Solution()" in text  # setup statements get no checks
    assert "__rlvr_b__['len']" not in text  # the test binds len itself
    assert "__rlvr_chk__(sol.solve(1)) is None" not in text and "sol.solve(1) is None" in text


def test_harden_rejects_what_cannot_live_in_a_function():
    with pytest.raises(SyntaxError):
        harden_test("from math import *\nassert pi > 3")
    with pytest.raises(SyntaxError):
        harden_test("assert f(1) ==")


def test_plain_data_check_copies_builtin_subclasses_and_rejects_the_rest():
    import collections
    import enum

    from verifiers.sandbox.inside.plain import plain_data_checker

    check, not_plain = plain_data_checker()

    class Liar(int):
        def __eq__(self, other):
            return True

        __hash__ = int.__hash__

    class Color(enum.IntEnum):
        RED = 3

    point = collections.namedtuple("Point", "x y")(1, 2)
    assert type(check(Liar(5))) is int and check(Liar(5)) == 5 and check(Liar(5)) != 6
    assert type(check(Color.RED)) is int and check(Color.RED) == 3
    assert type(check(point)) is tuple and check(point) == (1, 2)
    assert type(check(collections.Counter("aab"))) is dict and check(collections.Counter("aab")) == {"a": 2, "b": 1}
    nested = check({"k": [Liar(1), (Liar(2),)], Liar(3): {Liar(4)}})
    assert nested == {"k": [1, (2,)], 3: {4}} and type(nested["k"][0]) is int
    cycle = [1]
    cycle.append(cycle)
    copied = check(cycle)
    assert copied[1] is copied and copied is not cycle

    class Anything:
        def __eq__(self, other):
            return True

    for bad in (Anything(), [1, Anything()], {"k": Anything()}, lambda: 1, object()):
        with pytest.raises(not_plain, match="not plain data"):
            check(bad)


def test_limits_are_validated():
    with pytest.raises(ValueError, match="wall_time_s"):
        Limits(wall_time_s=0)
    with pytest.raises(ValueError, match="memory_mb"):
        Limits(memory_mb=8)


def test_missing_bwrap_raises_unavailable(tmp_path):
    box = Sandbox(bwrap=str(tmp_path / "bwrap"))
    with pytest.raises(SandboxUnavailable, match="bubblewrap not found"):
        box.ensure_available()
    with pytest.raises(SandboxUnavailable):
        box.run("print(1)")


# ---------------------------------------------------------------- running


def test_runs_as_unprivileged_user_without_capabilities(sandbox):
    result = sandbox.run(
        "import os\nstatus = open('/proc/self/status').read()\n"
        "print(os.getuid(), os.getgid(), os.getgroups())\n"
        "print([l.split()[1] for l in status.splitlines() if l.startswith(('CapEff', 'CapPrm', 'NoNewPrivs'))])\n"
        "print(os.getpid() < 10, sorted(p for p in os.listdir('/proc') if p.isdigit())[:5])\n"
    )
    assert result.passed, result
    lines = result.stdout.decode().splitlines()
    assert lines[0] == "65534 65534 []"
    assert lines[1] == "['0000000000000000', '0000000000000000', '1']"
    assert lines[2].startswith("True")  # a fresh pid namespace: only the sandbox's few processes


def test_filesystem_is_read_only_except_private_tmpfs(sandbox):
    result = sandbox.run(
        "import os\n"
        "for path in ['/sandbox/a', '/tmp/a', '/a', '/usr/lib/a', '/etc/a']:\n"
        "    try:\n        open(path, 'w').write('x'); print(path, 'ok')\n"
        "    except OSError as e:\n        print(path, type(e).__name__)\n"
        "print(sorted(os.listdir('/')))\n"
        "print(os.getcwd())\n"
    )
    lines = result.stdout.decode().splitlines()
    assert lines[:5] == ["/sandbox/a ok", "/tmp/a ok", "/a OSError", "/usr/lib/a OSError", "/etc/a OSError"]
    top = ast.literal_eval(lines[5])
    assert "work" not in top and "home" not in top
    assert lines[6] == "/sandbox"


def test_stdin_is_fed_and_stdout_captured(sandbox):
    result = sandbox.run("import sys\ndata = sys.stdin.read()\nprint(len(data), data.count('\\n'))",
                         stdin="line\n" * 50000)
    assert result.passed and result.stdout == b"250000 50000\n"


def test_subprocesses_are_gone_when_run_returns(sandbox):
    marker = f"rlvr-stray-{uuid.uuid4().hex}"
    program = (
        "import os, subprocess, sys\n"
        f"subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(1000)', {marker!r}], start_new_session=True)\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        f"    os.execv(sys.executable, [sys.executable, '-c', 'import time; time.sleep(1000)', {marker!r}])\n"
        "print('done')\n"
    )
    result = sandbox.run(program)
    assert result.passed and result.stdout == b"done\n"
    assert _processes_with(marker) == []


def test_grandchild_holding_stdout_does_not_hang_the_run(sandbox):
    marker = f"rlvr-holder-{uuid.uuid4().hex}"
    program = (
        "import subprocess, sys\n"
        f"subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(1000)', {marker!r}])\n"
        "print('ok')\n"
    )
    result = sandbox.run(program)
    assert result.passed and result.wall_s < 2.5
    assert _processes_with(marker) == []


def test_process_limit_holds(sandbox):
    program = (
        "import os, time\nchildren = 0\n"
        "try:\n    for _ in range(100):\n        pid = os.fork()\n"
        "        if pid == 0:\n            time.sleep(2)\n            os._exit(0)\n        children += 1\n"
        "except OSError:\n    pass\nprint(children)\n"
    )
    result = sandbox.run(program)
    assert result.passed, result
    assert int(result.stdout) == sandbox.limits.max_processes - 1  # the program itself counts


def test_memory_limit_raises_memory_error(sandbox):
    result = sandbox.run("x = bytearray(1024 * 1024 * 1024)\nprint('allocated')")
    assert result.status == "memory_limit" and b"allocated" not in result.stdout


def test_file_size_and_tmpfs_are_capped(sandbox):
    result = sandbox.run(
        "import errno\nchunk = b'x' * (1024 * 1024)\n"
        "for path in ('/tmp/big', '/sandbox/big'):\n"
        "    written = 0\n"
        "    try:\n"
        "        with open(path, 'wb') as f:\n"
        "            for _ in range(200):\n                f.write(chunk); f.flush(); written += 1\n"
        "    except OSError as e:\n        print(errno.errorcode[e.errno], written)\n"
    )
    assert result.passed, result
    assert result.stdout.split() == [b"EFBIG", b"16", b"EFBIG", b"16"]  # file_size_mb defaults to 16


@pytest.mark.slow
def test_cpu_limit_is_reported_as_such(sandbox):
    box = Sandbox(dataclasses.replace(sandbox.limits, cpu_time_s=1, wall_time_s=20))
    result = box.run("while True:\n    pass")
    assert result.status == "cpu_limit", result
    assert 0.9 <= result.cpu_s < 3 and result.wall_s < 20
