"""The peer: TRL's GRPOTrainer running GRPO end to end on the CPU, timed per optimizer step.

    $VENV/bin/python bench/peer_trl/trl_grpo.py --model DIR [--steps 10] [--prompts-per-step 8] [--group 8]
                     [--max-new-tokens 64] [--warmup 1] [--threads 2] [--seed 0] [--out result.json]

Runs in the peer's own venv (bench/peer_trl/setup.sh), never in rlvr's. One optimizer step = prompts-per-step
prompts x group completions (HF generate, temperature 1, no top-k/p), an exact-answer reward on synthetic
"Q: 37+45=? Answer:" prompts, one fp32 GRPO update (TRL's default loss, clip 0.2; beta 0: no reference model;
lr 1e-5 constant; grad-accum 1; no vLLM; no gradient checkpointing). Step time is the interval between
consecutive on_step_end callbacks, so generation, reward, log-prob forward+backward, optimizer and logging all
count; the --warmup steps are not timed. Prints one JSON line last on stdout (also written to --out).

How TRL counts: a completion is one sample; its tokens are the ones TRL keeps and trains on, up to and including
the first EOS (HF generate goes on decoding finished rows until the whole batch ends; those are not counted).

GRPOConfig's own defaults are bf16=True, gradient_checkpointing=True, lr 1e-6 and logging_steps 10: all set here.
`per_device_train_batch_size` counts completions, not prompts. `generate_s` times the private
`_generate_single_turn`; it is null if a TRL version renames it.

Adapted from the shared peer-TRL set-up (shared/bench/peer-trl/bench.py, written for this project's machine).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import time

import torch

NUMBER = re.compile(r"\s*(-?\d+)")


def make_dataset(n: int, seed: int):
    """n prompts "Q: a+b=? Answer:" (a, b in 0..99, + or -) with integer answers, fixed by seed."""
    from datasets import Dataset

    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        a, b, op = rng.randint(0, 99), rng.randint(0, 99), rng.choice("+-")
        rows.append({"prompt": f"Q: {a}{op}{b}=? Answer:", "answer": a + b if op == "+" else a - b})
    return Dataset.from_list(rows)


def parse_answer(completion: str) -> int | None:
    """The integer right after "Answer:" (the prompt ends with it: the completion's start)."""
    m = NUMBER.match(completion.rsplit("Answer:", 1)[-1])
    return int(m.group(1)) if m else None


class Recorder:
    """The reward function; it also records each call's (= each step's) completions, kept tokens and mean reward."""

    __name__ = "exact_answer"  # TRL names the reward metrics after it

    def __init__(self) -> None:
        self.calls: list[tuple[int, int, float]] = []

    def __call__(self, prompts, completions, completion_ids, answer, **_):
        rewards = [1.0 if parse_answer(c) == int(y) else 0.0 for c, y in zip(completions, answer)]
        # TRL's completion_ids are cut after the first EOS (EOS included): what it trains on
        self.calls.append((len(completions), sum(len(ids) for ids in completion_ids), sum(rewards) / len(rewards)))
        return rewards


def run(args: argparse.Namespace) -> dict:
    torch.set_num_threads(args.threads)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import transformers
    import trl
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    class StepTimer(TrainerCallback):
        def __init__(self) -> None:
            self.ends: list[float] = []

        def on_step_end(self, *_, **__):
            self.ends.append(time.perf_counter())

    class TimedGRPOTrainer(GRPOTrainer):
        """Also times TRL's generation (a private method: never called if a version renames it)."""

        def __init__(self, *a, **k):
            self.gen_s: list[float] = []
            super().__init__(*a, **k)

        def _generate_single_turn(self, *a, **k):
            t = time.perf_counter()
            try:
                return super()._generate_single_turn(*a, **k)
            finally:
                self.gen_s.append(time.perf_counter() - t)

    started = time.perf_counter()
    tok = AutoTokenizer.from_pretrained(args.model, padding_side="left")
    model = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.float32)
    cfg = GRPOConfig(
        output_dir=os.path.join(os.environ.get("TMPDIR", "/tmp"), "rlvr-peer-trl-out"),
        use_cpu=True, bf16=False, fp16=False,  # fp32 on the CPU
        use_vllm=False,  # plain transformers generate()
        beta=0.0,  # no reference model
        temperature=1.0, top_p=1.0, top_k=0,  # pure sampling
        num_generations=args.group,
        per_device_train_batch_size=args.prompts_per_step * args.group,  # counted in completions
        gradient_accumulation_steps=1,  # one generation per optimizer step
        max_completion_length=args.max_new_tokens,
        learning_rate=1e-5, lr_scheduler_type="constant",
        gradient_checkpointing=False,  # TRL's default is on; on a 1M-parameter model it only costs time
        max_steps=args.warmup + args.steps, logging_steps=1,
        save_strategy="no", report_to="none", disable_tqdm=True,
        seed=args.seed, data_seed=args.seed, dataloader_num_workers=0,
    )
    reward, timer = Recorder(), StepTimer()
    trainer = TimedGRPOTrainer(
        model=model, reward_funcs=reward, args=cfg, processing_class=tok,
        train_dataset=make_dataset(max(1000, (args.warmup + args.steps) * args.prompts_per_step), args.seed),
        callbacks=[timer],
    )
    loaded = time.perf_counter()
    trainer.train()

    w = args.warmup
    step_s = [b - a for a, b in zip(timer.ends[w - 1:], timer.ends[w:])]  # steps w+1 .. w+steps
    measured = reward.calls[w:]  # one reward call per step, inside it
    if not len(measured) == len(step_s) == args.steps:
        raise RuntimeError(f"expected {args.steps} timed steps, got {len(step_s)} (reward calls {len(reward.calls)})")
    gen = trainer.gen_s[w:] if len(trainer.gen_s) == w + args.steps else None
    total_s = sum(step_s)
    samples = sum(c for c, _, _ in measured)
    tokens = sum(t for _, t, _ in measured)
    return {
        "system": "trl", "trl_version": trl.__version__, "torch_version": torch.__version__,
        "transformers_version": transformers.__version__, "steps": args.steps, "warmup_steps": w,
        "prompts_per_step": args.prompts_per_step, "group": args.group, "max_new_tokens": args.max_new_tokens,
        "threads": torch.get_num_threads(),
        "samples_per_s": samples / total_s, "tokens_per_s": tokens / total_s,
        "median_step_s": statistics.median(step_s), "mean_step_s": total_s / args.steps,
        "median_generate_s": statistics.median(gen) if gen else None,
        "generate_share": sum(gen) / total_s if gen else None,
        "mean_response_tokens": tokens / samples,
        "mean_reward": sum(r for _, _, r in measured) / len(measured),
        "load_s": loaded - started, "warmup_s": timer.ends[w - 1] - loaded,
        "model": os.path.abspath(args.model), "step_s": step_s,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="model dir (make_tiny.py's)")
    ap.add_argument("--steps", type=int, default=10, help="timed steps, after --warmup untimed ones")
    ap.add_argument("--prompts-per-step", type=int, default=8)
    ap.add_argument("--group", type=int, default=8, help="completions per prompt (num_generations)")
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--warmup", type=int, default=1, help="untimed steps first (>= 1)")
    ap.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", help="also write the JSON line here")
    args = ap.parse_args()
    if args.warmup < 1 or args.steps < 1:
        ap.error("--warmup and --steps must be >= 1")
    line = json.dumps(run(args))
    if args.out:
        with open(args.out, "w") as f:
            f.write(line + "\n")
    print(line, flush=True)


if __name__ == "__main__":
    main()
