"""A verifier shipped as its own package (examples/custom_verifier) is found by name
through the ``rlvr.verifiers`` entry point group, with no import of its module by rlvr."""
import importlib
import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from verifiers import base
from verifiers.base import ENTRY_POINT_GROUP, get_verifier, list_verifiers

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "custom_verifier"


@pytest.fixture
def clean_registry(monkeypatch):
    """Forget exact_match between tests so each one proves the entry point finds it."""
    monkeypatch.delitem(base._REGISTRY, "exact_match", raising=False)
    yield
    base._REGISTRY.pop("exact_match", None)
    sys.modules.pop("rlvr_example_verifier", None)


def _add_to_path(monkeypatch, path: Path) -> None:
    monkeypatch.syspath_prepend(str(path))
    importlib.invalidate_caches()


def _check_found():
    assert "exact_match" in list_verifiers()
    verifier = get_verifier("exact_match")
    assert verifier("<think>hmm</think>  Paris ", "paris").reward == 1.0
    assert verifier("Lyon", "paris").reward == 0.0
    assert get_verifier("exact_match", case_sensitive=True)("Paris", "paris").reward == 0.0
    assert type(verifier).__module__ == "rlvr_example_verifier"


def test_entry_point_metadata_is_what_finds_it(tmp_path, monkeypatch, clean_registry):
    # Fast variant: the example's source plus the dist-info that `pip install` would write,
    # made from the example's own pyproject table.
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        tomllib = pytest.importorskip("tomli")

    project = tomllib.loads((EXAMPLE / "pyproject.toml").read_text())
    entry_points = project["project"]["entry-points"][ENTRY_POINT_GROUP]
    assert entry_points == {"exact_match": "rlvr_example_verifier:ExactMatchVerifier"}
    site = tmp_path / "site"
    shutil.copytree(EXAMPLE / "src" / "rlvr_example_verifier", site / "rlvr_example_verifier")
    dist = site / "rlvr_example_verifier-0.1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: rlvr-example-verifier\nVersion: 0.1.0\n")
    lines = [f"[{ENTRY_POINT_GROUP}]"] + [f"{k} = {v}" for k, v in entry_points.items()]
    (dist / "entry_points.txt").write_text("\n".join(lines) + "\n")

    from importlib import metadata

    try:  # scripts/install.sh installs the example for real; only a clean env can show the "before"
        metadata.distribution("rlvr-example-verifier")
    except metadata.PackageNotFoundError:
        assert "exact_match" not in list_verifiers()
    _add_to_path(monkeypatch, site)
    _check_found()


@pytest.mark.slow
def test_pip_installed_example_is_found(tmp_path, monkeypatch, clean_registry):
    # Build and install the real package (copied first: a build writes into its source tree).
    src = tmp_path / "src"
    shutil.copytree(EXAMPLE, src, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    target = tmp_path / "site"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index",
         "--disable-pip-version-check", "--quiet", "--target", str(target), str(src)],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert (target / "rlvr_example_verifier").is_dir()
    _add_to_path(monkeypatch, target)
    _check_found()

    # A fresh interpreter (as in a pool worker or `rlvr verify`) finds it the same way.
    rows = tmp_path / "rows.jsonl"
    rows.write_text(json.dumps({"response": "Paris", "ground_truth": "PARIS"}) + "\n")
    env_path = f"{target}:{REPO}"
    run = subprocess.run(
        [sys.executable, "-m", "rlvr.verify_cli", "exact_match", str(rows), "-o", str(tmp_path / "out.jsonl"),
         "--workers", "1"],
        capture_output=True, text=True, timeout=120, env={"PYTHONPATH": env_path, "PATH": "/usr/bin:/bin"},
    )
    assert run.returncode == 0, run.stderr
    assert json.loads((tmp_path / "out.jsonl").read_text())["reward"] == 1.0


def test_example_docs_show_the_entry_point():
    text = textwrap.dedent((EXAMPLE / "README.md").read_text())
    assert 'exact_match = "rlvr_example_verifier:ExactMatchVerifier"' in text


BUILTINS = {"math": "verifiers.math:MathVerifier", "code": "verifiers.code:CodeVerifier",
            "ifeval": "verifiers.ifeval:IFEvalVerifier", "random": "verifiers.random_reward:RandomVerifier",
            "format": "verifiers.format:FormatVerifier"}


@pytest.mark.parametrize("name", sorted(BUILTINS))
def test_builtins_are_found_through_their_entry_points(name, monkeypatch):
    # Built-ins take the plug-ins' path: an empty registry still resolves them, by the entry point alone.
    monkeypatch.setattr(base, "_REGISTRY", {})
    eps = base._entry_points()
    assert eps[name].value == BUILTINS[name]
    assert name in list_verifiers()
    obj = base._lookup(name)
    assert obj is eps[name].load() and obj.verifier_name == name


def test_without_entry_points_the_error_says_to_install(monkeypatch):
    monkeypatch.setattr(base, "_REGISTRY", {})
    monkeypatch.setattr(base, "_entry_points", dict)
    with pytest.raises(KeyError, match="install rlvr"):
        get_verifier("math")


@pytest.mark.parametrize("name", ["math", "ifeval", "format"])
def test_text_verifiers_turn_a_non_string_response_into_a_failure(name):
    result = get_verifier(name)(None, "4")
    assert (result.reward, result.correct) == (0.0, False)
    assert result.error == "response must be a string, got NoneType"
