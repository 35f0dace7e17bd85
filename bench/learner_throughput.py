"""Learner throughput without Ray or vLLM: one FSDP2 worker process, the real `policy` objective.

Measures what one learner worker does per second on this machine (CPU: gloo; GPU: NCCL with bf16
mixed precision), on random token sequences shaped like RL samples (prompt + response).

    python bench/learner_throughput.py                       # tiny model (the default experiment's)
    python bench/learner_throughput.py --size 0.5b --batch 64 --prompt 256 --response 768   # on a GPU
    python bench/learner_throughput.py --pack --response-min 4 --response 256   # learner.pack on varied lengths
    python bench/learner_throughput.py --lora 8 --activation-checkpointing      # model.lora.rank, learner.*
"""
from __future__ import annotations

import argparse
import os
import random
import tempfile
import time

import torch

SIZES = {  # hidden, layers, heads, kv heads, intermediate, vocab
    "tiny": (128, 4, 2, 2, 512, 512),
    "0.5b": (896, 24, 14, 2, 4864, 151936),
    "1.5b": (1536, 28, 12, 2, 8960, 151936),
}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--size", choices=sorted(SIZES), default="tiny")
    p.add_argument("--batch", type=int, default=128, help="sequences per optimizer step")
    p.add_argument("--micro", type=int, default=32, help="sequences per forward/backward")
    p.add_argument("--prompt", type=int, default=40)
    p.add_argument("--response", type=int, default=24)
    p.add_argument("--response-min", type=int, default=0, help="shortest response (default: half of --response)")
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--pack", action="store_true", help="learner.pack: responses packed into rows")
    p.add_argument("--activation-checkpointing", action="store_true", help="learner.activation_checkpointing")
    p.add_argument("--lora", type=int, default=0, help="model.lora.rank (0: full fine-tuning)")
    p.add_argument("--compile", action="store_true", help="learner.compile: torch.compile each decoder layer")
    p.add_argument("--model-dir", default="", help="save the random model here once and reuse it (default: a temp dir)")
    p.add_argument("--profile", type=int, default=0, help="after timing, profile one step and print the N costliest ops")
    args = p.parse_args()

    from transformers import Qwen2Config, Qwen2ForCausalLM

    from rlvr.algorithms.config import AlgorithmConfig
    from rlvr.config import LearnerConfig, LoraConfig
    from rlvr.learner.batching import count_loss_tokens, policy_shards
    from rlvr.learner.objectives import PolicyStep, policy_objective
    from rlvr.learner.worker import LearnerWorker, free_port
    from rlvr.types import Sample

    hidden, layers, heads, kv, inter, vocab = SIZES[args.size]
    cfg = Qwen2Config(vocab_size=vocab, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
                      num_key_value_heads=kv, intermediate_size=inter, head_dim=hidden // heads,
                      tie_word_embeddings=True, max_position_embeddings=4096)
    on_gpu = torch.cuda.is_available()
    path = args.model_dir or tempfile.mkdtemp(prefix="rlvr-learner-bench-")
    if not os.path.exists(os.path.join(path, "config.json")):
        with torch.device("cuda" if on_gpu else "cpu"):  # random init is minutes on a CPU at 1.5B
            Qwen2ForCausalLM(cfg).save_pretrained(path)
    worker = LearnerWorker(0, 1, LearnerConfig(lr=1e-5, grad_clip=1.0, warmup_steps=0,
                                               threads_per_worker=torch.get_num_threads(),
                                               activation_checkpointing=args.activation_checkpointing,
                                               compile=args.compile), seed=0,
                           total_steps=args.steps, lora=LoraConfig(rank=args.lora))
    n_params = worker.setup("127.0.0.1", free_port(), path)
    rng = random.Random(0)
    samples, advantages = [], []
    for _ in range(args.batch):
        r = rng.randint(args.response_min or args.response // 2, args.response)
        samples.append(Sample("p", [rng.randrange(vocab) for _ in range(args.prompt)],
                              [rng.randrange(vocab) for _ in range(r)], "", [-1.0] * r, "stop"))
        advantages.append(rng.choice([-1.0, 1.0]))
    shards = policy_shards(samples, advantages, 1, args.micro, pad_id=0, pack=args.pack)
    tokens, seqs = count_loss_tokens(shards)
    ctx = PolicyStep(algorithm=AlgorithmConfig(), eps_low=0.2, eps_high=0.272, global_tokens=tokens,
                     global_seqs=seqs, agg_constant=float(args.response), temperature=1.0)
    warm = time.time()
    worker.train_step(shards[0], policy_objective, ctx)  # warm-up (and compilation)
    warm = time.time() - warm
    if on_gpu:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    started = time.time()
    for _ in range(args.steps):
        stats = worker.train_step(shards[0], policy_objective, ctx)
    if on_gpu:
        torch.cuda.synchronize()
    seconds = (time.time() - started) / args.steps
    input_tokens = stats["input_tokens"]
    peak = 989e12 if on_gpu else float("nan")
    print(f"device: {torch.cuda.get_device_name(0) if on_gpu else 'cpu'}  model: {args.size} ({n_params / 1e6:.1f}M params)"
          f"  torch {torch.__version__}  mixed precision: {'bf16' if on_gpu else 'fp32'}  pack: {args.pack}"
          f"  activation checkpointing: {args.activation_checkpointing}  lora rank: {args.lora}  compile: {args.compile}")
    print(f"batch {args.batch} x (prompt {args.prompt} + response {args.response_min or args.response // 2}-{args.response})"
          f"  micro-batch {args.micro}  steps {args.steps}  warm-up step {warm:.1f} s")
    print(f"{'figure':<32}{'value':>14}")
    for label, value in [("step seconds", seconds), ("learner tokens/s", input_tokens / seconds),
                         ("learner samples/s", args.batch / seconds), ("response tokens/s", tokens / seconds),
                         ("MFU (6ND / 989 TFLOP/s)", 6 * n_params * input_tokens / seconds / peak),
                         ("peak GPU memory GiB", torch.cuda.max_memory_allocated() / 2**30 if on_gpu else float("nan")),
                         ("loss (per token)", stats["loss"] / max(1.0, stats["tokens"]))]:
        print(f"{label:<32}{value:>14.4g}")
    if args.profile:
        from torch.profiler import ProfilerActivity, profile

        activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if on_gpu else [])
        with profile(activities=activities) as prof:
            worker.train_step(shards[0], policy_objective, ctx)
            if on_gpu:
                torch.cuda.synchronize()
        for key in (["self_device_time_total", "self_cuda_time_total"] if on_gpu else ["self_cpu_time_total"]):
            try:  # the device key's name changed across torch versions
                print(prof.key_averages().table(sort_by=key, row_limit=args.profile, max_name_column_width=60))
                break
            except (AttributeError, KeyError, ValueError):
                continue
    worker.shutdown()


if __name__ == "__main__":
    main()
