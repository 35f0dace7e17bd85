"""The package as a user installs it: a built wheel (not editable) must run `rlvr train` and `rlvr verify`
from any directory, so conf/ and datasets/ ship inside it (pyproject.toml maps them to rlvr/_conf and
rlvr/_datasets; rlvr/paths.py finds either layout). The fast tests guard pyproject's explicit lists; the
slow one builds the wheel, installs it into a fresh virtualenv and runs the commands outside the checkout."""
from __future__ import annotations

import glob
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

import rlvr.paths

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
SETUPTOOLS = PYPROJECT["tool"]["setuptools"]
DATA_PACKAGES = {"rlvr._conf": "conf", "rlvr._datasets": "datasets"}
BUILTIN_VERIFIERS = {"math", "code", "ifeval", "random", "format"}


def _files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"}


# -- fast: pyproject's lists match the tree ------------------------------------------------------


def test_every_code_package_is_listed() -> None:
    # A subpackage missing from [tool.setuptools] packages would be silently left out of the wheel.
    found = {".".join(p.parent.relative_to(REPO).parts) for top in ("rlvr", "verifiers")
             for p in (REPO / top).rglob("__init__.py") if "__pycache__" not in p.parts}
    listed = set(SETUPTOOLS["packages"])
    assert listed - set(DATA_PACKAGES) == found, "add/remove in pyproject.toml [tool.setuptools] packages"
    assert SETUPTOOLS["package-dir"] == DATA_PACKAGES


@pytest.mark.parametrize("package", sorted(DATA_PACKAGES))
def test_package_data_globs_cover_every_file(package: str) -> None:
    # A file the globs miss (a new extension under conf/ or datasets/public/) would be missing from the wheel.
    root = REPO / DATA_PACKAGES[package]
    matched = {Path(p).relative_to(root).as_posix() for pattern in SETUPTOOLS["package-data"][package]
               for p in glob.glob(str(root / pattern), recursive=True) if Path(p).is_file()}
    assert _files(root) - matched == set(), f"extend [tool.setuptools.package-data] {package!r}"


def test_checkout_paths() -> None:
    assert rlvr.paths.CONF_DIR == REPO / "conf" and (rlvr.paths.CONF_DIR / "config.yaml").is_file()
    assert rlvr.paths.DATASETS_DIR == REPO / "datasets" and (rlvr.paths.DATASETS_DIR / "arithmetic.py").is_file()


def test_datasets_folder_does_not_shadow_hugging_face_datasets(monkeypatch: pytest.MonkeyPatch) -> None:
    # From the repository root, `import datasets` must still be the library (the folder has no __init__.py).
    monkeypatch.chdir(REPO)
    monkeypatch.syspath_prepend(str(REPO))
    spec = importlib.util.find_spec("datasets")
    assert spec is not None and spec.origin is not None and Path(spec.origin).name == "__init__.py"
    assert REPO / "datasets" not in [Path(p) for p in spec.submodule_search_locations or []]


def test_declared_entry_points_are_installed() -> None:
    # Built-in verifiers are found through these entry points (verifiers/base.py), as plug-ins are;
    # scripts/install.sh installs the checkout so that its metadata carries them.
    from importlib import metadata

    declared = PYPROJECT["project"]["entry-points"]["rlvr.verifiers"]
    assert set(declared) == BUILTIN_VERIFIERS
    installed = {ep.name: ep.value for ep in metadata.entry_points(group="rlvr.verifiers")}
    assert {k: installed.get(k) for k in declared} == declared


# -- slow: build, install into a fresh virtualenv, run from outside the checkout ------------------


def _run(cmd: list[str], cwd: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(cmd, cwd=cwd, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _done(proc: subprocess.Popen[str], what: str) -> str:
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, f"{what} exited {proc.returncode}\nstdout:\n{out}\nstderr:\n{err}"
    return out


@pytest.mark.slow
def test_wheel_install_runs_outside_the_checkout(tmp_path: Path) -> None:
    # Build from a copy: an in-tree build leaves build/lib behind, whose stale files would go into later wheels.
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, src / name)
    for name in ("rlvr", "verifiers", "conf", "datasets"):
        shutil.copytree(REPO / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    # No build isolation: the system's setuptools builds it, with no download.
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp_path / "wheels"), str(src)],
                   check=True, env=env, cwd=tmp_path)
    (wheel,) = (tmp_path / "wheels").glob("rlvr-*.whl")
    # --system-site-packages: torch, vllm, ray... come from the system; pip too (the venv has none).
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)], check=True)
    python, rlvr_bin = venv / "bin" / "python", venv / "bin" / "rlvr"
    subprocess.run([str(python), "-m", "pip", "--disable-pip-version-check", "-q", "install", "--no-deps",
                    "--no-index", "--no-compile", str(wheel)], check=True, env=env, cwd=tmp_path)

    work = tmp_path / "work"
    work.mkdir()
    (work / "some.jsonl").write_text(json.dumps({"response": "So \\boxed{12}.", "ground_truth": "12"}) + "\n"
                                     + json.dumps({"response": "So \\boxed{13}.", "ground_truth": "12"}) + "\n")
    probe = ("import json, rlvr, verifiers, rlvr.paths as p, importlib.metadata as m;"
             "d = m.distribution('rlvr');"
             "print(json.dumps({'rlvr': rlvr.__file__, 'verifiers': verifiers.__file__, 'conf': str(p.CONF_DIR),"
             " 'datasets': str(p.DATASETS_DIR), 'dist': str(d.locate_file('rlvr')),"
             " 'arithmetic': str(__import__('rlvr.data.builtin').data.builtin.find_builtin('arithmetic')),"
             " 'eps': {e.name: e.value for e in d.entry_points if e.group == 'rlvr.verifiers'}}))")
    procs = {  # independent: run at once
        "probe": _run([str(python), "-c", probe], work, env),
        "train": _run([str(rlvr_bin), "train", "--cfg", "job", "algorithm=dapo"], work, env),
        "checkout": _run([sys.executable, "-m", "rlvr.cli", "train", "--cfg", "job", "algorithm=dapo"], work,
                         {**env, "PYTHONPATH": str(REPO)}),
        "verify": _run([str(rlvr_bin), "verify", "math", "some.jsonl", "-o", "out.jsonl", "--workers", "1"], work, env),
        "list": _run([str(rlvr_bin), "verify", "--list"], work, env),
    }
    out = {name: _done(proc, name) for name, proc in procs.items()}

    site = Path(json.loads(out["probe"])["dist"]).parent
    probe = json.loads(out["probe"])
    assert site.is_relative_to(venv), f"rlvr's metadata should be the wheel's in {venv}, got {site}"
    assert Path(probe["rlvr"]) == site / "rlvr" / "__init__.py", "the venv imports the checkout, not the wheel"
    assert Path(probe["verifiers"]) == site / "verifiers" / "__init__.py"
    assert Path(probe["conf"]) == site / "rlvr" / "_conf" and Path(probe["datasets"]) == site / "rlvr" / "_datasets"
    assert _files(Path(probe["conf"])) == _files(REPO / "conf")
    assert _files(Path(probe["datasets"])) == _files(REPO / "datasets")
    assert probe["eps"] == PYPROJECT["project"]["entry-points"]["rlvr.verifiers"]

    composed = yaml.safe_load(out["train"])
    assert composed == yaml.safe_load(out["checkout"])
    dapo = yaml.safe_load((REPO / "conf" / "algorithm" / "dapo.yaml").read_text())
    picked = {k: v for k, v in dapo.items() if not k.startswith("_") and k != "defaults" and not isinstance(v, dict)}
    assert picked and {k: composed["algorithm"][k] for k in picked} == picked
    assert composed["data"]["source"] == "arithmetic"

    rows = [json.loads(line) for line in (work / "out.jsonl").read_text().splitlines()]
    assert [(r["reward"], r["error"]) for r in rows] == [(1.0, None), (0.0, None)]
    assert BUILTIN_VERIFIERS <= {line.split()[0] for line in out["list"].splitlines() if line.strip()}
    # Last, as it needs rlvr/data/builtin.py to search rlvr.paths.DATASETS_DIR (evaldata's branch does).
    assert Path(probe["arithmetic"]) == site / "rlvr" / "_datasets" / "arithmetic.py"
