"""The code in docs/write_a_verifier.md runs as written."""
import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "write_a_verifier.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


def test_doc_examples_run(tmp_path):
    module, usage = python_blocks()[:2]
    assert module.startswith("# my_verifiers.py")
    (tmp_path / "my_verifiers.py").write_text(module, encoding="utf-8")
    (tmp_path / "usage.py").write_text(usage + "\nprint('doc example ok')\n", encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO)])}
    run = subprocess.run([sys.executable, "usage.py"], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    assert "doc example ok" in run.stdout


def test_doc_names_the_example_entry_point():
    text = DOC.read_text(encoding="utf-8")
    pyproject = (REPO / "examples" / "custom_verifier" / "pyproject.toml").read_text(encoding="utf-8")
    line = 'exact_match = "rlvr_example_verifier:ExactMatchVerifier"'
    assert line in text and line in pyproject
