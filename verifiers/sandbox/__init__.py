"""A bubblewrap sandbox for running untrusted Python programs, and how it judges them.

Threat model
============
The program is adversarial: written by a policy under RL that is rewarded for passing tests, so
it may try to pass without solving the task (reward hacking) or to harm the host.

Kernel-enforced (holds whatever the program does, ctypes and raw syscalls included):
  * Namespaces (bwrap): new user, pid, ipc, uts, network and (where possible) cgroup namespaces.
    The network namespace is empty (loopback only), so host ports, 127.0.0.1 included, cannot
    be reached. Host processes are invisible and unsignalable; ``--die-with-parent`` and the pid
    namespace's init take every process of the program down with the sandbox, and
    :meth:`Sandbox.run` returns only after the namespace's init (and so every process in it) is gone.
  * Filesystem: a tmpfs root made read-only; read-only binds of /usr/lib, /lib*, /etc/ld.so.cache
    and the interpreter (its prefix for a non-/usr install, e.g. a pyenv directory under /root,
    whose parents are recreated world-readable but empty); the harness's own compiled code at
    /rlvr; a fresh /proc and minimal /dev; size-capped private tmpfs at /tmp and /sandbox (the
    working directory). Nothing of the host is writable; /work, /home, the rest of /root and the
    repository are not there at all.
  * Environment: bwrap itself starts with an empty environment (so /proc/1/environ is empty)
    and the program gets only PATH, LANG, HOME, TMPDIR and PYTHON* settings.
  * Identity: the program runs as uid 65534 with no capabilities and no_new_privs, and cannot
    create nested user namespaces. When the host runs as root (which RLIMIT_NPROC exempts), the
    sandbox's uid 65534 is mapped to host uid 65534, so process limits still hold; the
    supervisor is then the sandbox's uid 0 with only CAP_SETUID/SETGID/KILL/SYS_RESOURCE over
    the sandbox's own namespaces.
  * Limits (rlimits set before the program starts): CPU seconds, address space, processes and
    threads, file size, open files, no core dumps; wall time by the supervisor and, as a
    backstop, by the host; stdout/stderr read through a cap, with the sandbox killed on overflow.

Judging (what a pass needs):
  * Verdicts come from a supervisor process inside the sandbox that never runs program code, over
    a descriptor the program's process closes before the program exists in it. The supervisor is
    the pid namespace's init (the kernel drops signals sent to it from inside the namespace) and
    is either another uid or non-dumpable, so the program can neither kill it nor read its
    memory or descriptors. Stdout is data, never a verdict, so printing "PASSED", nonces or
    expected-looking text does nothing.
  * A pass needs positive evidence: the runner, after the program (and test) returned normally,
    asks for a nonce that the supervisor creates only at that moment and echoes it. sys.exit,
    os._exit, signals, exceptions swallowed by atexit or sys.excepthook (the harness uses
    neither) all end without that echo and fail. The runner can report only failure statuses:
    never "passed" without the nonce, and never an infrastructure error (which would leave the
    item unscored rather than zero).
  * Assert tests are compiled by the supervisor (never by the program's process) and sent only
    after the program has finished. ``assert`` raises the real AssertionError whatever the
    program rebinds; builtin names in the test resolve to a snapshot taken before the program
    ran (so rebinding or shadowing ``sorted``/``len``/``print`` is ignored); and values an assert
    compares, tests for truth or combines must be plain builtin data (numbers, strings, bytes,
    None and lists/tuples/sets/dicts of them), so objects whose ``__eq__`` always says True fail,
    and subclasses of builtins (a Counter, an IntEnum, an int with a lying ``__eq__``) are
    compared as copies of their builtin base.
  * After the program returns, the harness uses only references it took before the program
    started, blocks signals, stops timers, trace hooks and the garbage collector, refuses new
    audit hooks from the start, and requires that no other thread is left running.

Out of scope, stated plainly: code written against this harness's internals that, inside its
own process, finds the control pipes (hidden at random descriptor numbers) and speaks the
protocol itself, or rewrites the runner's frames via tracing or ctypes. It shares the runner's
address space, and no in-process scheme can stop such code; it still cannot touch the host.
Tests that import modules the program has monkeypatched (e.g. ``math.isclose``) see the patch.
"""
from verifiers.sandbox.bubblewrap import Sandbox
from verifiers.sandbox.limits import Limits, SandboxResult, SandboxUnavailable

__all__ = ["Limits", "Sandbox", "SandboxResult", "SandboxUnavailable"]
