"""The sandbox's limits and results."""
from __future__ import annotations

import dataclasses


class SandboxUnavailable(RuntimeError):
    """bubblewrap is missing or cannot create the namespaces; nothing was run."""


@dataclasses.dataclass(frozen=True)
class Limits:
    """Per-run limits. cpu_time_s and memory_mb apply to each process of the program;
    max_processes counts the program's processes and threads at once, itself included."""

    cpu_time_s: float = 5.0
    wall_time_s: float = 10.0
    memory_mb: int = 512
    max_processes: int = 16
    max_output_bytes: int = 4 * 1024 * 1024
    file_size_mb: int = 16
    tmpfs_mb: int = 64

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"sandbox limit {field.name} must be a positive number, got {value!r}")
        if self.memory_mb < 32:
            raise ValueError(f"sandbox limit memory_mb must be at least 32 (Python needs it), got {self.memory_mb}")


@dataclasses.dataclass
class SandboxResult:
    """status: "passed" means the harness saw the program (and the test, in assert mode) finish
    normally; for stdio tests the caller still compares ``stdout``. Anything else is a failure
    of the program: timeout, cpu_limit, memory_limit, output_limit, exception, exit, early_exit,
    assertion_failed, not_plain_data, threads_left, crash, signal, tampering, harness_killed,
    harness_error, syntax_error; except test_error (the test itself is broken) and sandbox_error
    (infrastructure), which no program can produce and which mean the run says nothing."""

    status: str
    message: str
    stdout: bytes = b""
    stderr: bytes = b""
    wall_s: float = 0.0
    cpu_s: float | None = None

    @property
    def passed(self) -> bool:
        return self.status == "passed"
