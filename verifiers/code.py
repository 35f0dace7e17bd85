"""The code verifier: runs the response's last Python code block against tests, sandboxed.

Ground truth (a dict, or the same as a JSON string):
    {"tests": [{"stdin": "1 2\\n", "stdout": "3\\n"}, ...]}   # "input"/"output" also accepted
    {"asserts": ["assert f(1) == 2", ...], "setup": "import math"}  # setup is optional
Both keys may appear; every stdin/stdout case and every assert is a separate test, each run in
its own sandbox (program first, then the assert). Reward = fraction of tests passed; correct =
all passed. A stdio test passes when the program finished normally (as seen by the sandbox's
supervisor, see verifiers/sandbox) and its stdout equals the expected one after trailing
whitespace is stripped from every line and from the end; ``sys.exit(0)`` counts as finishing
there, as it does for Python. An assert test passes only when the harness saw the assert
complete, so exiting early never passes.

In assert mode the program runs as module ``solution`` (its ``if __name__ == "__main__":``
block does not run) with empty stdin; in stdio mode it runs as ``__main__``.

Every test runs in bubblewrap (see verifiers/sandbox/__init__.py for the threat model). If
bubblewrap is missing or cannot create namespaces, every call returns reward 0 with an error
saying so: code is never run unsandboxed.
"""
from __future__ import annotations

import concurrent.futures
import dataclasses
import os
import re
import threading
from typing import Any, Sequence

from verifiers.base import VerifierResult, ground_truth_object, register
from verifiers.sandbox import Limits, Sandbox, SandboxResult, SandboxUnavailable

_FENCE = re.compile(r"^[ \t]*```[ \t]*([A-Za-z0-9_+.-]*)[^\n`]*$")
_PYTHON_TAGS = {"", "python", "py", "python3", "py3"}
_SNIPPET = 300


def extract_program(response: str) -> str | None:
    """The last fenced block tagged python/py/python3 or untagged; None if there is none.
    An unclosed fence (a truncated response) is not a block."""
    blocks: list[tuple[str, list[str]]] = []
    current: tuple[str, list[str]] | None = None
    for line in response.splitlines():
        match = _FENCE.match(line)
        if current is None:
            if match:
                current = (match.group(1).lower(), [])
        elif match and match.group(1) == "" and line.strip() == "```":
            blocks.append(current)
            current = None
        else:
            current[1].append(line)
    for tag, lines in reversed(blocks):
        if tag in _PYTHON_TAGS:
            return "\n".join(lines) + "\n"
    return None


def normalize_output(text: str) -> str:
    """Trailing whitespace stripped from every line and from the end (\\r\\n counts as \\n)."""
    return "\n".join(line.rstrip() for line in text.rstrip().splitlines())


@dataclasses.dataclass(frozen=True)
class CodeCase:
    kind: str  # "stdio" or "assert"
    stdin: str = ""
    expected: str = ""
    source: str = ""  # assert mode: setup + the assert


def parse_ground_truth(ground_truth: Any) -> list[CodeCase]:
    """The tests in ``ground_truth``; ValueError naming the bad field otherwise."""
    if isinstance(ground_truth, (bytes, bytearray)):
        try:
            ground_truth = ground_truth.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValueError(f"code ground_truth is bytes but not UTF-8: {exc}") from None
    ground_truth = ground_truth_object(
        ground_truth, error=ValueError, not_json="code ground_truth is a string but not JSON: {exc}",
        not_object="code ground_truth must be a dict with 'tests' and/or 'asserts', got {got}")
    if "tests" not in ground_truth and "asserts" not in ground_truth:
        raise ValueError(f"code ground_truth has neither 'tests' nor 'asserts' (keys: {sorted(ground_truth)})")
    cases: list[CodeCase] = []
    tests = ground_truth.get("tests", [])
    if not isinstance(tests, list):
        raise ValueError(f"code ground_truth 'tests' must be a list, got {type(tests).__name__}")
    for i, test in enumerate(tests):
        if not isinstance(test, dict):
            raise ValueError(f"code ground_truth tests[{i}] must be a dict with 'stdin' and 'stdout'")
        stdin = test.get("stdin", test.get("input"))
        stdout = test.get("stdout", test.get("output"))
        for name, value in (("stdin", stdin), ("stdout", stdout)):
            if not isinstance(value, str):
                raise ValueError(f"code ground_truth tests[{i}].{name} must be a string, got {type(value).__name__}")
        cases.append(CodeCase("stdio", stdin=stdin, expected=stdout))
    asserts = ground_truth.get("asserts", [])
    if isinstance(asserts, str):
        asserts = [asserts]
    if not isinstance(asserts, list):
        raise ValueError(f"code ground_truth 'asserts' must be a list of strings, got {type(asserts).__name__}")
    setup = ground_truth.get("setup", "")
    if not isinstance(setup, str):
        raise ValueError(f"code ground_truth 'setup' must be a string, got {type(setup).__name__}")
    for i, text in enumerate(asserts):
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"code ground_truth asserts[{i}] must be a non-empty string")
        source = f"{setup}\n{text}" if setup.strip() else text
        try:
            compile(source, f"<asserts[{i}]>", "exec", dont_inherit=True)
        except SyntaxError as exc:
            raise ValueError(f"code ground_truth asserts[{i}] does not compile: {exc}") from None
        cases.append(CodeCase("assert", source=source))
    if not cases:
        raise ValueError("code ground_truth has no tests (empty 'tests' and 'asserts')")
    return cases


def _snippet(data: bytes | str) -> str:
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    return text if len(text) <= _SNIPPET else text[:_SNIPPET] + "..."


@register("code")
class CodeVerifier:
    """Options: cpu_time_s, wall_time_s, memory_mb, max_processes (processes and threads of the
    program at once) and max_output_bytes are per test; parallel is how many tests run at once
    (default: os.cpu_count()); bwrap_path and python_executable pick the binaries (the
    interpreter defaults to the one running this code); file_size_mb and tmpfs_mb cap files."""

    def __init__(
        self,
        cpu_time_s: float = 5.0,
        wall_time_s: float = 10.0,
        memory_mb: int = 512,
        max_processes: int = 16,
        max_output_bytes: int = 4 * 1024 * 1024,
        parallel: int | None = None,
        bwrap_path: str = "bwrap",
        python_executable: str | None = None,
        file_size_mb: int = 16,
        tmpfs_mb: int = 64,
    ):
        if parallel is None:
            parallel = os.cpu_count() or 1
        if not isinstance(parallel, int) or isinstance(parallel, bool) or parallel < 1:
            raise ValueError(f"code verifier option parallel must be a positive integer, got {parallel!r}")
        self.limits = Limits(cpu_time_s=cpu_time_s, wall_time_s=wall_time_s, memory_mb=memory_mb,
                             max_processes=max_processes, max_output_bytes=max_output_bytes,
                             file_size_mb=file_size_mb, tmpfs_mb=tmpfs_mb)
        self.parallel = parallel
        self.bwrap_path = bwrap_path
        self.python_executable = python_executable
        self._setup()

    def _setup(self) -> None:
        self.sandbox = Sandbox(self.limits, bwrap=self.bwrap_path, python=self.python_executable)
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    # Picklable for Ray workers: the pool and the sandbox's lock are rebuilt on arrival.
    def __getstate__(self) -> dict[str, Any]:
        return {"limits": self.limits, "parallel": self.parallel, "bwrap_path": self.bwrap_path,
                "python_executable": self.python_executable}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._setup()

    def close(self) -> None:
        with self._pool_lock:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None

    def _executor(self) -> concurrent.futures.ThreadPoolExecutor:
        with self._pool_lock:
            if self._pool is None:
                self._pool = concurrent.futures.ThreadPoolExecutor(self.parallel, thread_name_prefix="rlvr-code")
            return self._pool

    # ------------------------------------------------------------------ scoring

    # Not a TextVerifier: a response that is not a string scores as "no code block", without an error.
    def __call__(self, response: str, ground_truth: Any, prompt: str | None = None,
                 metadata: dict[str, Any] | None = None) -> VerifierResult:
        return self.batch([response], [ground_truth])[0]

    def batch(self, responses: Sequence[str], ground_truths: Sequence[Any]) -> list[VerifierResult]:
        """Score many responses; all their tests share the ``parallel`` workers."""
        if len(responses) != len(ground_truths):
            raise ValueError(f"{len(responses)} responses but {len(ground_truths)} ground truths")
        results: list[VerifierResult | None] = [None] * len(responses)
        pending: list[tuple[int, str, list[CodeCase]]] = []
        for index, (response, truth) in enumerate(zip(responses, ground_truths)):
            try:
                cases = parse_ground_truth(truth)
            except ValueError as exc:
                results[index] = VerifierResult.failure(str(exc))
                continue
            program = extract_program(response) if isinstance(response, str) else None
            if program is None:
                results[index] = VerifierResult(0.0, False, {"reason": "no ```python code block in the response",
                                                             "passed": 0, "total": len(cases)})
                continue
            pending.append((index, program, cases))
        if pending:
            try:
                self.sandbox.ensure_available()
            except SandboxUnavailable as exc:
                for index, _, _ in pending:
                    results[index] = VerifierResult.failure(f"sandbox unavailable: {exc}")
                return results  # type: ignore[return-value]
            pool = self._executor()
            futures = [[pool.submit(self._run_case, program, case) for case in cases] for _, program, cases in pending]
            for (index, program, cases), item_futures in zip(pending, futures):
                outcomes = [future.result() for future in item_futures]
                results[index] = self._score(program, cases, outcomes)
        return results  # type: ignore[return-value]

    def _run_case(self, program: str, case: CodeCase) -> SandboxResult:
        if case.kind == "stdio":
            return self.sandbox.run(program, mode="stdio", stdin=case.stdin)
        return self.sandbox.run(program, mode="assert", test=case.source)

    @staticmethod
    def _score(program: str, cases: list[CodeCase], outcomes: list[SandboxResult]) -> VerifierResult:
        tests = []
        passed = 0
        infrastructure = None
        for i, (case, outcome) in enumerate(zip(cases, outcomes)):
            entry: dict[str, Any] = {"index": i, "kind": case.kind, "wall_s": round(outcome.wall_s, 4)}
            if outcome.cpu_s is not None:
                entry["cpu_s"] = round(outcome.cpu_s, 4)
            ok = outcome.passed
            reason, message = outcome.status, outcome.message
            if ok and case.kind == "stdio":
                got = normalize_output(outcome.stdout.decode("utf-8", "replace"))
                if got != normalize_output(case.expected):
                    ok, reason, message = False, "wrong_output", "stdout differs from the expected output"
                    entry["expected"] = _snippet(case.expected)
                    entry["got"] = _snippet(outcome.stdout)
            if ok:
                reason = "passed"
            elif outcome.stderr:
                entry["stderr"] = _snippet(outcome.stderr[-_SNIPPET:])
            if reason in ("sandbox_error", "test_error"):
                infrastructure = infrastructure or f"test {i}: {reason}: {message}"
            entry.update(passed=ok, reason=reason, message=message)
            passed += ok
            tests.append(entry)
        details = {"passed": passed, "total": len(cases), "tests": tests, "program_chars": len(program)}
        if infrastructure is not None:
            return VerifierResult(0.0, False, details, error=f"could not score: {infrastructure}")
        return VerifierResult(passed / len(cases), passed == len(cases), details)
