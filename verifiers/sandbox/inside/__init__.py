"""Code that runs INSIDE the bubblewrap sandbox: a supervisor and the runner it forks.

The repository is not mounted in the sandbox: the host compiles these modules and hands bwrap
their bytes, to appear as the package ``inside`` under /rlvr (code objects named
``<rlvr-harness:...>``, which tracebacks leave out), started as
``python -S -s -B /rlvr/main.pyc JOB_FD VERDICT_FD``. They import only the standard library's
builtin C modules, since every run pays for its imports, and nothing from rlvr.

    supervisor: never runs program code; the pid namespace's init (bwrap --as-pid-1), so the
      program cannot signal it, and non-dumpable (or uid 0 of the sandbox when the host is
      root), so the runner cannot read its memory or descriptors. Forks the runner, reads the
      job from JOB_FD only after that, talks to the runner over two pipes, waits for it, and
      writes exactly one verdict line to VERDICT_FD (which the runner closed at once).
    runner: sets rlimits, drops to uid 65534 when needed, runs the program; in assert mode then
      asks for the test, which the supervisor compiles (from source the host hardened, see
      ../testcode.py) and sends only now; finally asks for a nonce the supervisor creates only
      now, and echoes it. A pass needs that echo, so anything ending the process early fails.

Runner -> supervisor lines: ``D`` (program done, send the test), ``F`` (finished, send the
nonce), ``P <nonce>`` (passed), ``X <status>\\t<message>`` (failed).
Supervisor -> runner: length-prefixed marshal frames (config, compiled test) and the nonce line.
Verdict line: ``READY`` first, then ``V <status>\\t<cpu_s>\\t<wall_s>\\t<message>``.
"""
