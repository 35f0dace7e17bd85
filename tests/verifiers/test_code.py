"""The code verifier: extraction, ground truth, scoring, and the no-sandbox error path."""
from __future__ import annotations

import json
import pickle

import pytest

from verifiers import get_verifier
from verifiers.code import CodeVerifier, extract_program, normalize_output, parse_ground_truth

SUM_PROGRAM = "```python\nimport sys\na, b = map(int, sys.stdin.read().split())\nprint(a + b)\n```"
SUM_TESTS = {"tests": [{"stdin": "1 2\n", "stdout": "3\n"}, {"stdin": "40 2", "stdout": "42"}]}


@pytest.fixture(scope="module")
def verifier():
    v = CodeVerifier(cpu_time_s=2, wall_time_s=4, parallel=2)
    # scripts/install.sh installs bubblewrap: a missing sandbox is a failure, never a skip.
    v.sandbox.ensure_available()
    yield v
    v.close()


# ---------------------------------------------------------------- extraction and parsing (no sandbox)


def test_extract_takes_last_python_block():
    response = "First try:\n```python\nprint(1)\n```\nBetter:\n```py\nprint(2)\n```\nShell:\n```bash\nls\n```\n"
    assert extract_program(response) == "print(2)\n"


def test_extract_accepts_untagged_and_python3_and_ignores_unclosed():
    assert extract_program("```\nx = 1\n```") == "x = 1\n"
    assert extract_program("```Python3\nx = 2\n```") == "x = 2\n"
    assert extract_program("```python\nx = 1\n```\n```python\ntruncated = (") == "x = 1\n"
    assert extract_program("no code here") is None
    assert extract_program("```cpp\nint main(){}\n```") is None


def test_extract_keeps_inner_fence_like_lines_and_indentation():
    response = "```python\ndef f():\n    s = '```python'\n    return s\n```"
    assert extract_program(response) == "def f():\n    s = '```python'\n    return s\n"


def test_normalize_output_strips_trailing_whitespace_only():
    assert normalize_output("1 2  \r\n3\t\n\n\n") == "1 2\n3"
    assert normalize_output("  lead\n") == "  lead"
    assert normalize_output("a\n\nb") != normalize_output("a\nb")


def test_parse_ground_truth_accepts_json_string_and_aliases():
    cases = parse_ground_truth(json.dumps({"tests": [{"input": "1", "output": "2"}], "asserts": ["assert f(1) == 2"]}))
    assert [c.kind for c in cases] == ["stdio", "assert"]
    assert cases[0].stdin == "1" and cases[0].expected == "2"
    assert cases[1].source == "assert f(1) == 2"


def test_parse_ground_truth_prepends_setup():
    cases = parse_ground_truth({"asserts": ["assert g(2) == 4"], "setup": "def g(x):\n    return f(x) * 2"})
    assert cases[0].source.startswith("def g(x):") and cases[0].source.endswith("assert g(2) == 4")


@pytest.mark.parametrize(
    ("truth", "fragment"),
    [
        ("not json {", "not JSON"),
        ([1, 2], "must be a dict"),
        ({"answer": 3}, "neither 'tests' nor 'asserts'"),
        ({"tests": [{"stdin": "1"}]}, "tests[0].stdout"),
        ({"tests": [{"stdin": 1, "stdout": "1"}]}, "tests[0].stdin"),
        ({"tests": "x"}, "'tests' must be a list"),
        ({"asserts": ["assert f(1) =="]}, "asserts[0] does not compile"),
        ({"asserts": [""]}, "asserts[0] must be a non-empty string"),
        ({"tests": [], "asserts": []}, "no tests"),
    ],
)
def test_parse_ground_truth_errors_name_the_field(truth, fragment):
    with pytest.raises(ValueError) as info:
        parse_ground_truth(truth)
    assert fragment in str(info.value)


def test_bad_ground_truth_is_an_error_result_not_an_exception():
    result = CodeVerifier(bwrap_path="/nonexistent")("```python\nprint(1)\n```", {"tests": "nope"})
    assert result.reward == 0.0 and not result.correct
    assert "'tests' must be a list" in result.error


def test_missing_bubblewrap_never_runs_code(tmp_path):
    marker = tmp_path / "ran"
    program = f"```python\nopen({str(marker)!r}, 'w').write('x')\n```"
    result = get_verifier("code", bwrap_path=str(tmp_path / "no-such-bwrap"))(program, SUM_TESTS)
    assert result.reward == 0.0 and not result.correct
    assert result.error.startswith("sandbox unavailable: bubblewrap not found")
    assert "never run unsandboxed" in result.error
    assert not marker.exists()


def test_bwrap_that_cannot_sandbox_is_reported(tmp_path):
    fake = tmp_path / "bwrap"
    fake.write_text("#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n")
    fake.chmod(0o755)
    result = CodeVerifier(bwrap_path=str(fake))("```python\nprint(3)\n```", SUM_TESTS)
    assert result.reward == 0.0
    assert "sandbox unavailable" in result.error and "No permissions to create new namespace" in result.error


def test_no_code_block_scores_zero_without_error():
    result = CodeVerifier(bwrap_path="/nonexistent")("I think the answer is 3.", SUM_TESTS)
    assert (result.reward, result.correct, result.error) == (0.0, False, None)
    assert "no ```python code block" in result.details["reason"]


def test_options_are_validated():
    with pytest.raises(ValueError, match="parallel"):
        CodeVerifier(parallel=0)
    with pytest.raises(ValueError, match="cpu_time_s"):
        CodeVerifier(cpu_time_s=-1)


def test_registered_and_picklable():
    v = get_verifier("code", parallel=3, memory_mb=256)
    assert isinstance(v, CodeVerifier)
    clone = pickle.loads(pickle.dumps(v))
    assert clone.parallel == 3 and clone.limits.memory_mb == 256 and clone.sandbox.limits.memory_mb == 256


# ---------------------------------------------------------------- scoring in the sandbox


def test_correct_stdio_program_passes(verifier):
    result = verifier(SUM_PROGRAM, SUM_TESTS)
    assert result.error is None
    assert (result.reward, result.correct) == (1.0, True)
    assert [t["reason"] for t in result.details["tests"]] == ["passed", "passed"]


def test_partial_stdio_program_gets_fraction(verifier):
    program = "```python\na, b = map(int, input().split())\nprint(a + b if a < 10 else 0)\n```"
    result = verifier(program, SUM_TESTS)
    assert result.reward == pytest.approx(0.5) and not result.correct
    failed = result.details["tests"][1]
    assert failed["reason"] == "wrong_output" and failed["expected"] == "42" and failed["got"].strip() == "0"


def test_asserts_score_fraction_and_json_ground_truth(verifier):
    program = "```python\ndef add(a, b):\n    return a + b if a >= 0 else 0\n```"
    truth = json.dumps({"asserts": ["assert add(1, 2) == 3", "assert add(-1, 1) == 0", "assert add(-2, 1) == -1",
                                    "assert add(2, 2) == 4"]})
    result = verifier(program, truth)
    assert result.reward == pytest.approx(0.75)
    assert [t["passed"] for t in result.details["tests"]] == [True, True, False, True]
    assert result.details["tests"][2]["reason"] == "assertion_failed"


def test_humaneval_style_check_and_method_calls(verifier):
    program = ("```python\nclass Solution:\n    def twoSum(self, nums, target):\n"
               "        seen = {}\n        for i, x in enumerate(nums):\n"
               "            if target - x in seen:\n                return [seen[target - x], i]\n"
               "            seen[x] = i\n\ndef candidate(n):\n    return sorted(range(n), reverse=True)\n```")
    truth = {"asserts": [
        "assert Solution().twoSum([2, 7, 11, 15], 9) == [0, 1]",
        "def check(c):\n    assert c(3) == [2, 1, 0]\n    assert len(c(5)) == 5\ncheck(candidate)",
        "assert abs(sum(candidate(4)) - 6.0) < 1e-9 and isinstance(candidate(1), list)",
    ]}
    result = verifier(program, truth)
    assert result.correct, result.details


def test_stdio_sys_exit_zero_and_exit_builtin_count_as_finishing(verifier):
    for tail in ("import sys\nsys.exit(0)", "exit()", "raise SystemExit"):
        program = f"```python\nprint(int(input()) * 2)\n{tail}\n```"
        result = verifier(program, {"tests": [{"stdin": "21", "stdout": "42"}]})
        assert result.correct, (tail, result.details)


def test_stdio_failures_have_reasons(verifier):
    truth = {"tests": [{"stdin": "", "stdout": "1"}]}
    cases = {
        "import sys\nprint(1)\nsys.exit(2)": "exit",
        "print(1)\nraise ValueError('boom')": "exception",
        "print(1\n": "syntax_error",
    }
    for code, reason in cases.items():
        result = verifier(f"```python\n{code}\n```", truth)
        assert result.reward == 0.0 and result.error is None
        assert result.details["tests"][0]["reason"] == reason, result.details
    crashed = verifier("```python\nraise ValueError('boom')\n```", truth).details["tests"][0]
    assert "ValueError: boom" in crashed["message"] and "solution.py" in crashed["stderr"]


def test_batch_matches_single_calls(verifier):
    good = "```python\ndef f(x):\n    return x * 2\n```"
    bad = "```python\ndef f(x):\n    return x\n```"
    truth = {"asserts": ["assert f(2) == 4", "assert f(0) == 0"]}
    results = verifier.batch([good, bad, "no code"], [truth, truth, truth])
    assert [r.reward for r in results] == [1.0, 0.5, 0.0]


def test_stdlib_containers_and_subclasses_compare_by_value(verifier):
    program = ("```python\nfrom collections import Counter, namedtuple, OrderedDict\nfrom enum import IntEnum\n"
               "Point = namedtuple('Point', 'x y')\nclass Color(IntEnum):\n    RED = 1\n"
               "def counts(s):\n    return Counter(s)\ndef origin():\n    return Point(0, 0)\n"
               "def red():\n    return Color.RED\ndef ordered():\n    return OrderedDict(a=1)\n```")
    truth = {"asserts": ["assert counts('aab') == {'a': 2, 'b': 1}", "assert counts('ab') == Counter('ba')",
                         "assert origin() == (0, 0)", "assert red() == 1", "assert ordered() == {'a': 1}",
                         "from collections import Counter\nassert counts('x') == Counter(x=1)"]}
    result = verifier(program, truth)
    assert result.correct, result.details
