"""Process set-up shared by the verifier pool's workers and the math helper.

Both are children that their parent starts, watches and kills: they must not outlive it, and Ctrl-C
in the terminal is for the parent to handle (it then stops them), not for each child to die on.
"""
from __future__ import annotations

import os
import signal
import sys


def set_parent_death_signal() -> None:
    """Linux: get SIGKILL when the parent goes away, so a child busy in C code never outlives it."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass  # not Linux/glibc: the parent's explicit kill on close still ends the child


def become_child(own_process_group: bool = False) -> None:
    """Call first thing in a child: die with the parent and leave SIGINT to it. With
    ``own_process_group`` the child leads a new process group, so the parent can kill it together
    with anything it starts (``os.killpg``)."""
    if own_process_group:
        os.setpgrp()
    set_parent_death_signal()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
