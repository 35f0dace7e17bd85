"""bench/vs_peers.py: its arguments, the table it prints, and a --quick run of the rlvr and bare parts.

TRL stays out of CI: it needs a venv of its own (about a minute to build and 1 GB on disk, every fresh machine)
and its runs add minutes of a 2-core machine's time to what rlvr's own tests already take; its driver is the
same few lines of GRPOConfig the shared set-up measured.
"""
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "bench" / "vs_peers.py"
spec = importlib.util.spec_from_file_location("vs_peers", SCRIPT)
vs_peers = importlib.util.module_from_spec(spec)
sys.modules["vs_peers"] = vs_peers  # dataclasses look their module up there
spec.loader.exec_module(vs_peers)


def test_defaults_measure_both_workloads_with_every_system():
    args = vs_peers.parse_args([])
    assert args.workloads == ["varied", "fixed"] and args.systems == ["trl", "gen", "train", "rlvr"]
    assert (args.prompts, args.group, args.reps) == (8, 8, 3)
    assert args.variants == {"rlvr": []}
    assert vs_peers.workload_of("varied", False).max_new_tokens == 256
    assert vs_peers.workload_of("fixed", False) == vs_peers.Workload("fixed", 0, 0, 64)


def test_quick_is_one_small_round():
    args = vs_peers.parse_args(["--quick", "--systems", "gen,rlvr", "--workloads", "fixed"])
    assert (args.reps, args.prompts, args.group) == (1, 4, 4)
    assert args.systems == ["gen", "rlvr"] and args.workloads == ["fixed"]
    assert vs_peers.workload_of("fixed", True).max_new_tokens < vs_peers.workload_of("fixed", False).max_new_tokens


def test_unknown_names_and_bad_variants_are_refused():
    with pytest.raises(SystemExit):
        vs_peers.parse_args(["--systems", "trl,verl"])
    with pytest.raises(SystemExit):
        vs_peers.parse_variants(["no_equals_sign"])
    with pytest.raises(SystemExit):
        vs_peers.parse_variants(["a=", "a=learner.pack=true"])
    assert vs_peers.parse_variants(["base=", "one=learner.num_workers=1 learner.threads_per_worker=2"]) == {
        "base": [], "one": ["learner.num_workers=1", "learner.threads_per_worker=2"]}


def test_the_prompts_are_trls():
    rows = vs_peers.task_rows(50, 0)
    assert all(r["prompt"].startswith("Q: ") and r["prompt"].endswith("=? Answer:") for r in rows)
    a, op, b = rows[0]["prompt"][3:-10].partition("+") if "+" in rows[0]["prompt"] else rows[0]["prompt"][3:-10].partition("-")
    assert rows[0]["answer"] == (int(a) + int(b) if op == "+" else int(a) - int(b))
    assert vs_peers.task_rows(50, 0) == rows != vs_peers.task_rows(50, 1)


def test_rlvr_does_trls_work_per_step():
    wl = vs_peers.workload_of("varied", False)
    o = vs_peers.rlvr_overrides(wl, "/m", "/d.jsonl", "/r", prompts=8, group=8, steps=11, seed=0)
    for want in ("rollout.prompts_per_step=8", "rollout.group_size=8", "rollout.max_tokens=256", "steps=11",
                 "algorithm.filter_zero_std=false", "algorithm.active_sampling=false", "algorithm.overlong=none",
                 "learner.mini_batches=1",
                 "model.path=/m", "data.source=/d.jsonl"):
        assert want in o


def _run(workload, system, step_s, tokens=10.0):
    return {"workload": workload, "system": system, "step_s": step_s, "tokens_per_sample": tokens}


def test_summary_takes_medians_and_both_ratios():
    runs = [_run("varied", "trl", s) for s in (4.0, 5.0, 9.0)] + [_run("varied", "gen", s) for s in (1.0, 1.2)]
    runs += [_run("varied", "train", 0.5), _run("varied", "rlvr", 2.0), _run("varied", "rlvr", 2.2)]
    w = vs_peers.summarize(runs, 64)["varied"]
    assert w["systems"]["trl"]["median_step_s"] == 5.0 and w["systems"]["trl"]["runs"] == 3
    assert w["systems"]["rlvr"]["samples_per_s"] == pytest.approx(64 / 2.1)
    assert w["ratios"]["rlvr"]["vs_trl"] == pytest.approx(5.0 / 2.1)
    assert w["ratios"]["rlvr"]["vs_bare"] == pytest.approx(2.1 / (1.1 + 0.5))
    assert set(w["ratios"]) == {"rlvr"}  # the peers get no ratio of their own


def test_table_has_a_row_per_workload_and_variant_and_dashes_for_what_did_not_run():
    runs = [_run("fixed", "gen", 1.0), _run("fixed", "train", 0.6), _run("fixed", "base", 2.0),
            _run("fixed", "one", 1.6), _run("varied", "trl", 4.0), _run("varied", "base", 3.0)]
    table = vs_peers.format_table(vs_peers.summarize(runs, 64), ["base", "one"])
    lines = table.splitlines()  # varied ran no "one": no row for it
    assert len(lines) == 2 + 3 and lines[1].startswith("| --- |")
    assert all(line.count("|") == lines[0].count("|") for line in lines)
    fixed_one = next(line for line in lines if line.startswith("| fixed | one |"))
    cells = [c.strip() for c in fixed_one.split("|")[1:-1]]
    assert cells[2] == "-" and cells[3] == "64.0" and cells[6] == "-"  # no TRL run: no TRL figure, no ratio
    assert cells[7] == f"{1.6 / 1.6:.2f}x"
    varied_base = next(line for line in lines if line.startswith("| varied | base |"))
    assert [c.strip() for c in varied_base.split("|")[1:-1]][6] == f"{4.0 / 3.0:.2f}x"


def test_phases_split_the_logged_step():
    line = {"time/step_s": 3.0, "time/sync_s": 0.5, "learner/samples_per_s": 64.0, "response/length_mean": 50.0,
            "rollout/tokens_per_s": 1600.0}
    p = vs_peers.rlvr_phases([line], 64)
    assert p["time/learn_s"] == 1.0 and p["time/engine_gen_s"] == 2.0
    assert p["time/collect_s"] == pytest.approx(1.5)


@pytest.mark.slow
@pytest.mark.xdist_group("ray")
def test_quick_run_of_rlvr_and_the_bare_parts(tmp_path):
    """The real thing at its smallest (fixed lengths, 4 x 4 samples, 16 tokens, 2 timed steps), without TRL."""
    out = tmp_path / "out.json"
    proc = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--systems", "gen,train,rlvr", "--workloads",
                           "fixed", "--work-dir", str(tmp_path), "--out", str(out)],
                          capture_output=True, text=True, timeout=900, cwd=REPO)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    row = next(line for line in proc.stdout.splitlines() if line.startswith("| fixed | rlvr |"))
    cells = [c.strip() for c in row.split("|")[1:-1]]
    assert cells[2] == "-" and float(cells[3]) > 0 and float(cells[4]) > 0 and float(cells[5]) > 0
    assert float(cells[7].rstrip("x")) > 0
    result = json.loads(out.read_text())
    gen = next(r for r in result["runs"] if r["system"] == "gen")
    assert gen["samples"] == 2 * 16 and gen["stopped_on_eos"] == gen["stopped"]  # vLLM keeps the EOS, as TRL does
    rlvr = next(r for r in result["runs"] if r["system"] == "rlvr")
    assert len(rlvr["step_s_all"]) == 1 + 2 and rlvr["phases"]["time/learn_s"] > 0
    assert all(p > 0 for p in rlvr["learner_lr"])  # every step trained (no truncated response left out of the loss)
