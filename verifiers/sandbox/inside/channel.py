"""Byte plumbing shared by the supervisor and the runner (before the program runs)."""
import os
import select
import time

FRAME_LIMIT = 64 * 1024 * 1024


def write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def read_exact(fd, n):
    data = b""
    while len(data) < n:
        chunk = os.read(fd, n - len(data))
        if not chunk:
            raise EOFError("the other side closed the channel")
        data += chunk
    return data


def recv_frame(fd):
    """Only before the program runs: afterwards the runner uses its own captured copy."""
    size = int.from_bytes(read_exact(fd, 4), "big")
    if size > FRAME_LIMIT:
        raise ValueError("frame too large")
    return read_exact(fd, size)


def send_until(fd, data, deadline):
    """Write to a non-blocking fd. The runner may be the program pretending to be the harness
    and never reading: a full pipe must not hold the supervisor past its deadline."""
    view = memoryview(data)
    while view:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("the runner does not read its channel")
        _, writable, _ = select.select([], [fd], [], remaining)
        if writable:
            try:
                view = view[os.write(fd, view):]
            except BlockingIOError:
                pass


def read_all(fd):
    chunks = []
    while True:
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def one_line(text, limit=4000):
    return str(text).replace("\t", " ").replace("\r", " ").replace("\n", " | ")[:limit]


def set_undumpable():
    # Non-dumpable: /proc/<pid>/{fd,mem,environ} belong to root and ptrace is refused, so a
    # runner with the same uid (unprivileged host) cannot reach the supervisor's descriptors.
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(4, 0, 0, 0, 0) != 0:  # PR_SET_DUMPABLE
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_DUMPABLE, 0) failed")
