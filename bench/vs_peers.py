"""rlvr against its peer and its floor on this machine: TRL's GRPOTrainer, bare vLLM generation, bare packed training.

    python bench/vs_peers.py                        # both workloads, 3 alternating rounds, one table (~30 min, 2 cores)
    python bench/vs_peers.py --quick                # smoke run: tiny steps, one round (~5 min)
    python bench/vs_peers.py --systems gen,train,rlvr --workloads fixed --reps 2
    python bench/vs_peers.py --rlvr base= --rlvr one_worker="learner.num_workers=1 learner.threads_per_worker=2"

Every system runs the same tiny Qwen2 (bench/peer_trl/make_tiny.py), fp32, on the same "Q: 37+45=? Answer:"
prompts, P prompts x G samples per step, one optimizer update per batch, zero-variance filtering off:
  trl    TRL's GRPOTrainer, HF generate (no vLLM: it runs on a CPU that way), 2 threads, in its own pinned venv
         (bench/peer_trl/setup.sh builds it under $TMPDIR; TRL is never a dependency of rlvr)
  gen    bare generation: one `vllm.LLM.generate` of the step's P prompts with n=G, in one process, with the engine
         rlvr builds (rlvr.rollout.vllm_engine.VLLMEngine: the same engine arguments and sampling parameters)
  train  bare packed training: one process, all threads, the tokens `gen` produced packed into rows without padding
         waste, one forward + backward + AdamW step (a plain policy-gradient loss; no Ray, no FSDP)
  rlvr   `rlvr train` on the model (its defaults plus what makes the work the same); step time as logged in
         metrics.jsonl (`time/step_s`), evaluation excluded, the first --rlvr-warmup steps dropped
Two workloads: `varied` (make_tiny --pretrain-steps 200 --answer-len-mean 60: completions end at EOS after a
spread of lengths, 256 new tokens allowed) and `fixed` (random init: every completion runs to the 64-token cap).
The systems alternate (trl gen train rlvr, trl gen train rlvr, ...) and each figure is the median over rounds of
each run's mean step (its timed steps' total time over their count: the rate samples come out at; a median step
would flatter a run whose steps alternate short and long, as rlvr's do when generation calls overlap).

Counting is the same everywhere: a sample is one completion; its tokens run up to and including the EOS that ended
it (TRL keeps exactly those; vLLM's token ids include the EOS; neither counts the prompt).

The table's last columns: rlvr samples/s over TRL's, and rlvr's step time over bare gen + bare train of the same
work, the limit on a 2-core machine where generation and training cannot usefully overlap.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Sequence

REPO = Path(__file__).resolve().parents[1]
PEER = REPO / "bench" / "peer_trl"
SYSTEMS = ("trl", "gen", "train", "rlvr")


@dataclasses.dataclass(frozen=True)
class Workload:
    name: str
    pretrain_steps: int  # make_tiny --pretrain-steps (0: random init)
    answer_len_mean: int  # make_tiny --answer-len-mean (0: short arithmetic answers)
    max_new_tokens: int  # response cap of every system


WORKLOADS = {
    "varied": Workload("varied", pretrain_steps=200, answer_len_mean=60, max_new_tokens=256),
    "fixed": Workload("fixed", pretrain_steps=0, answer_len_mean=0, max_new_tokens=64),
}
# --quick: the same two kinds of model, a few minutes in all
QUICK_WORKLOADS = {
    "varied": Workload("varied", pretrain_steps=20, answer_len_mean=8, max_new_tokens=32),
    "fixed": Workload("fixed", pretrain_steps=0, answer_len_mean=0, max_new_tokens=16),
}


# ---------------------------------------------------------------------------------------------- arguments


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smoke run: small steps, 4 prompts x 4 samples, one round")
    ap.add_argument("--workloads", default="varied,fixed", help="comma-separated: " + ", ".join(WORKLOADS))
    ap.add_argument("--systems", default=",".join(SYSTEMS), help="comma-separated: " + ", ".join(SYSTEMS))
    ap.add_argument("--reps", type=int, default=3, help="alternating rounds (each system once per round)")
    ap.add_argument("--steps", type=int, default=8, help="timed steps (or generate calls) per run")
    ap.add_argument("--rlvr-warmup", type=int, default=3, help="rlvr steps dropped before the timed ones")
    ap.add_argument("--prompts", type=int, default=8, help="prompts per step (P)")
    ap.add_argument("--group", type=int, default=8, help="samples per prompt (G)")
    ap.add_argument("--trl-threads", type=int, default=2, help="torch threads of the TRL run")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rlvr", action="append", default=[], metavar="NAME=OVERRIDES",
                    help="an rlvr variant: extra `rlvr train` overrides (space-separated) under a name; repeat to "
                         "compare variants in the same rounds (default: one variant 'rlvr' with none)")
    ap.add_argument("--work-dir", default=os.path.join(os.environ.get("TMPDIR") or "/tmp", "rlvr-vs-peers"),
                    help="models, the TRL venv's results and run dirs")
    ap.add_argument("--out", help="also write every run's figures and the summary here (JSON)")
    args = ap.parse_args(list(argv))
    args.workloads = _choices(args.workloads, WORKLOADS, "--workloads")
    args.systems = _choices(args.systems, SYSTEMS, "--systems")
    args.variants = parse_variants(args.rlvr)
    if args.quick:
        args.reps, args.steps, args.rlvr_warmup, args.prompts, args.group = 1, 2, 1, 4, 4
    if args.reps < 1 or args.steps < 1 or args.rlvr_warmup < 0:
        ap.error("--reps and --steps must be >= 1, --rlvr-warmup >= 0")
    return args


def _choices(text: str, known: Sequence[str], flag: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        raise SystemExit(f"{flag}: unknown {unknown or 'empty'}; choose from {', '.join(known)}")
    return names


def parse_variants(specs: Sequence[str]) -> dict[str, list[str]]:
    """`NAME=OVERRIDES` strings -> {name: override list}; none given: one variant 'rlvr' without overrides."""
    variants: dict[str, list[str]] = {}
    for spec in specs:
        name, sep, overrides = spec.partition("=")
        if not sep or not name.strip():
            raise SystemExit(f"--rlvr {spec!r}: expected NAME=OVERRIDES (overrides may be empty)")
        if name.strip() in variants:
            raise SystemExit(f"--rlvr: variant {name.strip()!r} given twice")
        variants[name.strip()] = shlex.split(overrides)
    return variants or {"rlvr": []}


def workload_of(name: str, quick: bool) -> Workload:
    return (QUICK_WORKLOADS if quick else WORKLOADS)[name]


# ---------------------------------------------------------------------------------------------- the task


def task_rows(n: int, seed: int) -> list[dict[str, Any]]:
    """The prompts TRL's driver trains on (bench/peer_trl/trl_grpo.py make_dataset, the same draws), as plain rows."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        a, b, op = rng.randint(0, 99), rng.randint(0, 99), rng.choice("+-")
        rows.append({"id": str(i), "prompt": f"Q: {a}{op}{b}=? Answer:", "answer": a + b if op == "+" else a - b})
    return rows


def rlvr_overrides(workload: Workload, model: str, data: str, run_dir: str, *, prompts: int, group: int,
                   steps: int, seed: int) -> list[str]:
    """`rlvr train` with its defaults plus what makes its work TRL's: the model and prompts, P x G per step, the
    response cap, no zero-variance filtering or active sampling, TRL's lr (constant 1e-5: the policy, and so the
    response lengths, drift alike), truncated responses kept in the loss, one update per batch; a small evaluation (excluded from step times anyway)."""
    return [
        f"model.path={model}", f"data.source={data}", "data.eval_size=8", f"seed={seed}", f"steps={steps}",
        f"rollout.prompts_per_step={prompts}", f"rollout.group_size={group}",
        f"rollout.max_tokens={workload.max_new_tokens}", f"rollout.max_model_len={workload.max_new_tokens + 64}",
        "algorithm.filter_zero_std=false", "algorithm.active_sampling=false",
        "algorithm.overlong=none",  # TRL trains on truncated completions too (OlmoRL's mask would skip every fixed step)
        "learner.lr=1e-5", "learner.warmup_steps=0", "learner.mini_batches=1",
        "eval.max_tokens=8", "save_checkpoint=false", "progress=false", "logger=[jsonl]",
        f"output_dir={run_dir}", f"hydra.run.dir={run_dir}",
    ]


# ---------------------------------------------------------------------------------------------- summary


def median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def summarize(runs: Sequence[dict[str, Any]], samples_per_step: int) -> dict[str, dict[str, Any]]:
    """Per workload: each system's median (over runs) of its samples/s and step seconds, and the two ratios.

    A run is {"workload", "system", "step_s" (its mean step or generate call), "tokens_per_sample", ...};
    an rlvr variant's system is its name.
    """
    out: dict[str, dict[str, Any]] = {}
    for run in runs:
        w = out.setdefault(run["workload"], {"systems": {}})
        s = w["systems"].setdefault(run["system"], {"step_s": [], "tokens_per_sample": [], "runs": 0})
        s["step_s"].append(run["step_s"])
        s["tokens_per_sample"].append(run.get("tokens_per_sample") or 0.0)
        s["runs"] += 1
    for w in out.values():
        for s in w["systems"].values():
            s["median_step_s"] = median(s["step_s"])
            s["samples_per_s"] = samples_per_step / s["median_step_s"] if s["median_step_s"] else None
            s["mean_tokens_per_sample"] = statistics.fmean(s["tokens_per_sample"])
        systems = w["systems"]
        trl, gen, train = systems.get("trl"), systems.get("gen"), systems.get("train")
        w["ratios"] = {}
        for name, s in systems.items():
            if name in SYSTEMS[:3]:
                continue
            w["ratios"][name] = {
                "vs_trl": s["samples_per_s"] / trl["samples_per_s"] if trl else None,
                "vs_bare": (s["median_step_s"] / (gen["median_step_s"] + train["median_step_s"])
                            if gen and train else None),
            }
    return out


def _cell(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def format_table(summary: dict[str, dict[str, Any]], variants: Sequence[str]) -> str:
    """One markdown table: a row per workload and rlvr variant; samples/s of each system, the two ratios."""
    head = ("| workload | rlvr variant | TRL samples/s | bare gen samples/s | bare train samples/s | rlvr samples/s "
            "| rlvr / TRL | rlvr step / (gen + train) | step s: TRL / gen / train / rlvr |")
    lines = [head, "|" + " --- |" * (head.count("|") - 1)]
    for workload, w in summary.items():
        systems = w["systems"]

        def sps(name: str) -> float | None:
            return systems[name]["samples_per_s"] if name in systems else None

        def step(name: str) -> str:
            return _cell(systems[name]["median_step_s"], ".3f") if name in systems else "-"

        for variant in [v for v in variants if v in systems] or ["-"]:
            ratio = w["ratios"].get(variant, {})
            vs_bare = ratio.get("vs_bare")
            lines.append(
                f"| {workload} | {variant} | {_cell(sps('trl'), '.1f')} | {_cell(sps('gen'), '.1f')} "
                f"| {_cell(sps('train'), '.1f')} | {_cell(sps(variant) if variant in systems else None, '.1f')} "
                f"| {_cell(ratio.get('vs_trl'), '.2f')}{'x' if ratio.get('vs_trl') else ''} "
                f"| {_cell(vs_bare, '.2f')}{'x' if vs_bare else ''} "
                f"| {step('trl')} / {step('gen')} / {step('train')} / {step(variant)} |")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------- children


def child_gen(argv: Sequence[str]) -> None:
    """Bare generation (runs in a process of its own): one LLM.generate of all P prompts with n=G per step."""
    ap = argparse.ArgumentParser(prog="vs_peers.py _gen")
    for flag in ("--model", "--out"):
        ap.add_argument(flag, required=True)
    for flag in ("--prompts", "--group", "--max-new-tokens", "--calls", "--seed"):
        ap.add_argument(flag, type=int, required=True)
    a = ap.parse_args(list(argv))
    from transformers import AutoTokenizer
    from vllm.inputs import TokensPrompt

    from rlvr.config import RolloutConfig
    from rlvr.data.prompts import DEFAULT_STOP
    from rlvr.rollout.vllm_engine import VLLMEngine

    tok = AutoTokenizer.from_pretrained(a.model)
    cfg = RolloutConfig(group_size=a.group, prompts_per_step=a.prompts, max_tokens=a.max_new_tokens,
                        max_model_len=a.max_new_tokens + 64)
    engine = VLLMEngine(a.model, 0, cfg, a.seed)  # the engine rlvr's actors build, here in this process
    params = engine._sampling_params(a.max_new_tokens, list(DEFAULT_STOP))  # what rlvr's requests carry
    params.n = a.group
    rows = task_rows((a.calls + 1) * a.prompts, a.seed)
    calls, seconds = [], []
    for c in range(a.calls + 1):  # call 0 warms up
        prompts = [tok(r["prompt"], add_special_tokens=False)["input_ids"] for r in rows[c * a.prompts:(c + 1) * a.prompts]]
        started = time.perf_counter()
        outs = engine.llm.generate([TokensPrompt(prompt_token_ids=p) for p in prompts], params, use_tqdm=False)
        if c:
            seconds.append(time.perf_counter() - started)
            calls.append([{"prompt_ids": p, "response_ids": list(o.token_ids), "finish": o.finish_reason}
                          for p, out in zip(prompts, outs) for o in out.outputs])
    samples = [s for call in calls for s in call]
    stopped = [s for s in samples if s["finish"] == "stop"]
    result = {"system": "gen", "step_s": statistics.fmean(seconds), "seconds": seconds,
              "tokens_per_sample": sum(len(s["response_ids"]) for s in samples) / len(samples),
              "stopped": len(stopped), "samples": len(samples),
              # vLLM keeps the EOS that ended a response in its token ids (TRL counts it too)
              "stopped_on_eos": sum(s["response_ids"][-1:] == [tok.eos_token_id] for s in stopped)}
    Path(a.out).write_text(json.dumps({"result": result, "calls": calls}))


def child_train(argv: Sequence[str]) -> None:
    """Bare packed training (a process of its own, all threads): per batch of `_gen`'s samples, pack, one forward +
    backward + AdamW step of a plain policy-gradient loss; the first batch warms up (untimed)."""
    ap = argparse.ArgumentParser(prog="vs_peers.py _train")
    for flag in ("--model", "--samples", "--out"):
        ap.add_argument(flag, required=True)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(list(argv))
    import torch
    from transformers import AutoModelForCausalLM

    from rlvr.learner.batching import pack_policy_batch, policy_tensors
    from rlvr.learner.objectives import token_logprobs
    from rlvr.types import Sample

    torch.set_num_threads(os.cpu_count() or 1)
    torch.manual_seed(a.seed)
    calls = json.loads(Path(a.samples).read_text())["calls"]
    model = AutoModelForCausalLM.from_pretrained(a.model, dtype=torch.float32, attn_implementation="sdpa")
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5)
    model.train()
    seconds, tokens = [], []
    for c, call in enumerate([calls[0]] + calls):  # the first pass warms up
        samples = [Sample(prompt_id=str(i), prompt_ids=s["prompt_ids"], response_ids=s["response_ids"],
                          response_text="", rollout_logprobs=[0.0] * len(s["response_ids"]), finish_reason=s["finish"])
                   for i, s in enumerate(call)]
        started = time.perf_counter()
        # packed where sequences share rows (all of them at once: one process, one micro-batch), else padded
        mb = pack_policy_batch(policy_tensors(samples, 0, torch.randn(len(samples)).tolist()), 0)
        logp = token_logprobs(model, mb)  # forward, log-probs of the targets, back in the padded layout
        mask = mb["loss_mask"].float()
        loss = -(mb["advantages"][:, None] * logp * mask).sum() / mask.sum()
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        if c:
            seconds.append(time.perf_counter() - started)
            tokens.append(sum(len(s.prompt_ids) + len(s.response_ids) for s in samples))
    result = {"system": "train", "step_s": statistics.fmean(seconds), "seconds": seconds,
              "threads": torch.get_num_threads(),
              "tokens_per_sample": statistics.fmean(len(s["response_ids"]) for call in calls for s in call),
              "rows": int(mb["input_ids"].shape[0]), "row_width": int(mb["input_ids"].shape[1]),
              "input_tokens_per_step": statistics.fmean(tokens)}
    Path(a.out).write_text(json.dumps(result))


# ---------------------------------------------------------------------------------------------- the runs


def _env() -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep))
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    return env


def _run(cmd: list[str], log: Path, timeout: float = 1800) -> None:
    with log.open("w") as f:
        proc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, cwd=REPO, env=_env(), timeout=timeout)
    if proc.returncode != 0:
        tail = log.read_text()[-3000:]
        raise RuntimeError(f"{' '.join(cmd[:4])} ... failed ({proc.returncode}); log {log}:\n{tail}")


def ensure_model(work: Path, wl: Workload, seed: int) -> Path:
    """The workload's model dir, built once (make_tiny is deterministic) and reused while its record matches."""
    out = work / "models" / f"tiny-s{seed}-p{wl.pretrain_steps}-a{wl.answer_len_mean}"
    record = out / "make_tiny.json"
    if record.exists():
        info = json.loads(record.read_text())
        if (info.get("pretrain_steps"), info.get("answer_len_mean"), info.get("seed")) == (
                wl.pretrain_steps, wl.answer_len_mean, seed):
            return out
    out.mkdir(parents=True, exist_ok=True)
    print(f"[vs_peers] building {out.name} (make_tiny)", flush=True)
    _run([sys.executable, str(PEER / "make_tiny.py"), str(out), "--seed", str(seed), "--pretrain-steps",
          str(wl.pretrain_steps), "--answer-len-mean", str(wl.answer_len_mean)], work / f"make_{out.name}.log")
    return out


TOKENIZER_PROBE = ["Q: 37+45=? Answer: 82", "Q: 5-99=? Answer: -94", "Let baku = 12 and zo = 7. Q: baku*zo=? Answer: 84",
                   "Q: three plus four=? Answer: seven", " 1 2 3 4 5 6 7 8 9 0", "  spaces\tand\nnewlines  "]
TOKENIZER_SNIPPET = ("import json, sys; from transformers import AutoTokenizer; "
                     "t = AutoTokenizer.from_pretrained(sys.argv[1]); "
                     "print(json.dumps([t(s, add_special_tokens=False)['input_ids'] for s in json.loads(sys.argv[2])]))")


def check_tokenizer(model: Path, pythons: Sequence[str]) -> None:
    """The model dir tokenizes alike under raw `tokenizers` (what the file says) and transformers in each given
    env (rlvr's, which vLLM and the learner use, and TRL's): transformers >= 5 rebuilds a qwen2 dir's
    pre-tokenizer (make_tiny's docstring), so a mismatch would mean the systems train on different token ids."""
    from tokenizers import Tokenizer

    raw = Tokenizer.from_file(str(model / "tokenizer.json"))
    want = [raw.encode(s, add_special_tokens=False).ids for s in TOKENIZER_PROBE]
    for py in pythons:
        got = json.loads(subprocess.run([py, "-c", TOKENIZER_SNIPPET, str(model), json.dumps(TOKENIZER_PROBE)],
                                        capture_output=True, text=True, check=True, env=_env()).stdout)
        if got != want:
            raise SystemExit(f"tokenizer of {model} differs under {py}'s transformers from tokenizer.json: {got} != {want}")


def run_trl(args: argparse.Namespace, wl: Workload, model: Path, tag: Path) -> dict[str, Any]:
    py = trl_python()
    out = tag.with_suffix(".json")
    _run([py, str(PEER / "trl_grpo.py"), "--model", str(model), "--steps", str(args.steps), "--prompts-per-step",
          str(args.prompts), "--group", str(args.group), "--max-new-tokens", str(wl.max_new_tokens),
          "--threads", str(args.trl_threads), "--seed", str(args.seed), "--out", str(out)], tag.with_suffix(".log"))
    r = json.loads(out.read_text())
    return {"step_s": r["mean_step_s"], "tokens_per_sample": r["mean_response_tokens"],
            "generate_share": r["generate_share"], "trl_version": r["trl_version"], "step_s_all": r["step_s"]}


def run_gen(args: argparse.Namespace, wl: Workload, model: Path, tag: Path) -> dict[str, Any]:
    out = tag.with_suffix(".json")
    _run([sys.executable, str(Path(__file__).resolve()), "_gen", "--model", str(model), "--out", str(out),
          "--prompts", str(args.prompts), "--group", str(args.group), "--max-new-tokens", str(wl.max_new_tokens),
          "--calls", str(args.steps), "--seed", str(args.seed)], tag.with_suffix(".log"))
    return dict(json.loads(out.read_text())["result"], samples_file=str(out))


def run_train(args: argparse.Namespace, model: Path, samples_file: str, tag: Path) -> dict[str, Any]:
    out = tag.with_suffix(".json")
    _run([sys.executable, str(Path(__file__).resolve()), "_train", "--model", str(model), "--samples", samples_file,
          "--out", str(out), "--seed", str(args.seed)], tag.with_suffix(".log"))
    return json.loads(out.read_text())


PHASES = ("time/step_s", "time/sync_s", "time/learn_s", "time/collect_s", "time/engine_gen_s", "time/engine_load_s")


def rlvr_phases(lines: Sequence[dict[str, Any]], samples_per_step: int) -> dict[str, float]:
    """Median seconds per step of each phase the trainer logs or implies: learn (from learner/samples_per_s),
    collect (waiting for and scoring the groups: the rest of the step), the engine's own generation time."""
    rows = []
    for m in lines:
        learn = samples_per_step / m["learner/samples_per_s"] if m.get("learner/samples_per_s") else 0.0
        tokens = m.get("response/length_mean", 0.0) * samples_per_step
        row = {"time/step_s": m["time/step_s"], "time/sync_s": m.get("time/sync_s", 0.0), "time/learn_s": learn,
               "time/engine_gen_s": tokens / m["rollout/tokens_per_s"] if m.get("rollout/tokens_per_s") else 0.0,
               "time/engine_load_s": m.get("time/engine_load_s", 0.0)}
        row["time/collect_s"] = row["time/step_s"] - learn - row["time/sync_s"]
        rows.append(row)
    return {k: statistics.median(r[k] for r in rows) for k in PHASES} if rows else {}


def run_rlvr(args: argparse.Namespace, wl: Workload, model: Path, data: Path, tag: Path,
             overrides: list[str]) -> dict[str, Any]:
    run_dir = tag.with_suffix("")
    run_dir.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "rlvr.cli", "train",
           *rlvr_overrides(wl, str(model), str(data), str(run_dir), prompts=args.prompts, group=args.group,
                           steps=args.rlvr_warmup + args.steps, seed=args.seed), *overrides]
    _run(cmd, tag.with_suffix(".log"))
    metrics = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]
    steps = sorted((m for m in metrics if "train/reward_mean" in m), key=lambda m: m["step"])
    timed = steps[args.rlvr_warmup:]
    samples = args.prompts * args.group
    return {"step_s": statistics.fmean(m["time/step_s"] for m in timed), "step_s_all": [m["time/step_s"] for m in steps],
            "tokens_per_sample": statistics.fmean(m["response/length_mean"] for m in timed),
            "phases": rlvr_phases(timed, samples), "overrides": overrides,
            "learner_lr": [m.get("learner/lr", 0.0) for m in steps]}  # 0: a step that trained nothing


def trl_python() -> str:
    """The peer's venv python, built (or checked) by bench/peer_trl/setup.sh."""
    venv = os.environ.get("PEER_TRL_VENV") or os.path.join(os.environ.get("TMPDIR") or "/tmp", "rlvr-peer-trl-venv")
    subprocess.run(["bash", str(PEER / "setup.sh")], check=True, env=dict(os.environ, PEER_TRL_VENV=venv))
    return os.path.join(venv, "bin", "python")


def main(argv: Sequence[str]) -> None:
    if argv and argv[0] in ("_gen", "_train"):
        (child_gen if argv[0] == "_gen" else child_train)(argv[1:])
        return
    args = parse_args(argv)
    work = Path(args.work_dir)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    runs_dir = work / "runs" / stamp
    runs_dir.mkdir(parents=True, exist_ok=True)
    load_start = os.getloadavg()
    models = {name: ensure_model(work, workload_of(name, args.quick), args.seed) for name in args.workloads}
    pythons = [sys.executable] + ([trl_python()] if "trl" in args.systems else [])
    data = work / "prompts.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in task_rows(4000, args.seed)))
    for model in models.values():
        check_tokenizer(model, pythons)
    runs: list[dict[str, Any]] = []
    for rep in range(args.reps):
        for name in args.workloads:
            wl, model = workload_of(name, args.quick), models[name]
            gen = None
            for system in args.systems:
                for variant, overrides in (args.variants.items() if system == "rlvr" else [(system, [])]):
                    tag = runs_dir / f"{name}-{variant}-{rep}"
                    load = os.getloadavg()[0]
                    started = time.time()
                    if system == "trl":
                        r = run_trl(args, wl, model, tag)
                    elif system == "gen":
                        r = gen = run_gen(args, wl, model, tag)
                    elif system == "train":
                        if gen is None:  # train needs gen's tokens: run gen first (untabled)
                            gen = run_gen(args, wl, model, runs_dir / f"{name}-gen-for-train-{rep}")
                        r = run_train(args, model, gen["samples_file"], tag)
                    else:
                        r = run_rlvr(args, wl, model, data, tag, overrides)
                    r.update(workload=name, system=variant, rep=rep, load_1m=load, wall_s=time.time() - started)
                    runs.append(r)
                    print(f"[vs_peers] round {rep + 1}/{args.reps} {name:<6} {variant:<10} step {r['step_s']:.3f} s "
                          f"({r.get('tokens_per_sample', 0):.1f} tokens/sample, load {load:.2f}, "
                          f"{r['wall_s']:.0f} s)", flush=True)
    samples = args.prompts * args.group
    summary = summarize(runs, samples)
    load_end = os.getloadavg()
    print()
    print(f"vs_peers {time.strftime('%Y-%m-%d %H:%M')}: {os.cpu_count()} CPUs, {args.prompts} prompts x {args.group} "
          f"samples per step, {args.reps} round(s) of {args.steps} timed steps; load average at start "
          f"{load_start[0]:.2f}/{load_start[1]:.2f}/{load_start[2]:.2f}, end {load_end[0]:.2f}/{load_end[1]:.2f}/"
          f"{load_end[2]:.2f}")
    print(format_table(summary, list(args.variants)))
    for name, w in summary.items():
        tokens = ", ".join(f"{s} {v['mean_tokens_per_sample']:.1f}" for s, v in w["systems"].items())
        print(f"{name}: tokens per sample: {tokens}")
        for variant in args.variants:
            phases = [r["phases"] for r in runs if r["workload"] == name and r["system"] == variant]
            if phases:
                print(f"{name} {variant} phases (median s/step): " + ", ".join(
                    f"{k.split('/')[1]} {median([p[k] for p in phases if k in p]):.3f}" for k in PHASES))
    if args.out:
        Path(args.out).write_text(json.dumps({"runs": runs, "summary": summary, "load_start": load_start,
                                              "load_end": load_end, "args": {k: v for k, v in vars(args).items()}},
                                             indent=1, default=str))
    print(f"runs: {runs_dir}")


if __name__ == "__main__":
    main(sys.argv[1:])
