"""`rlvr eval`: score a checkpoint on a dataset with a local vLLM engine (no Ray needed), via rlvr.evaluation."""
from __future__ import annotations

import argparse
import json
import sys

MAX_MODEL_LEN = 2048  # prompt + response tokens the engine makes room for (at most the model's positions)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="rlvr eval", description="Evaluate a checkpoint: avg@k, pass@k, maj@k.")
    p.add_argument("model", help="Hugging Face checkpoint directory")
    p.add_argument("--data", default="arithmetic",
                   help="builtin dataset, public set (gsm8k, minerva_math, aime24, amc23) or .jsonl/.json/.parquet")
    p.add_argument("--split", default="eval", help="split of a builtin/public dataset (a public set's eval is test)")
    p.add_argument("-n", "--num", type=int, default=200, help="prompts to evaluate (0: all)")
    p.add_argument("-k", "--samples", type=int, default=1, help="samples per prompt")
    p.add_argument("--temperature", type=float, default=0.0)
    p.add_argument("--max-tokens", type=int, default=32)
    p.add_argument("--template", default="", help="prompt template with {question}")
    p.add_argument("--verifier", default="math", help="verifier for rows without one")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--pass-k", type=int, default=0, help="k of the unbiased pass@k and of maj@k (0: equal to --samples; at most --samples)")
    p.add_argument("-o", "--output", default="", help="write per-sample JSONL here")
    return p


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)

    from transformers import AutoConfig, AutoTokenizer

    from rlvr.data.prompts import load_prompt_set
    from rlvr.evaluation import local_llm, sample_and_score, summarize, vllm_generate
    from verifiers.pool import VerifierPool

    try:
        prompts = load_prompt_set(args.data, args.split, args.num or None, args.seed,
                                  AutoTokenizer.from_pretrained(args.model), default_verifier=args.verifier,
                                  template=args.template)
    except (OSError, ValueError) as exc:
        print(f"rlvr eval: {exc}", file=sys.stderr)
        return 2
    # vLLM refuses a max_model_len over the model's positions (the tiny checkpoints have 512).
    positions = getattr(AutoConfig.from_pretrained(args.model), "max_position_embeddings", None) or MAX_MODEL_LEN
    # float32 and a small KV share: the settings the rollout engines run the same checkpoints with.
    llm = local_llm(args.model, seed=args.seed, dtype="float32", max_model_len=min(MAX_MODEL_LEN, positions),
                    gpu_memory_utilization=0.3)
    with VerifierPool() as pool:
        scored = sample_and_score(vllm_generate(llm), prompts, samples=args.samples, temperature=args.temperature,
                                  max_tokens=args.max_tokens, stop=prompts.stop, pool=pool, seed=args.seed)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            for s in scored:
                f.write(json.dumps({"prompt": s.row.prompt, "response": s.text, "ground_truth": s.row.ground_truth,
                                    "reward": s.result.reward, "correct": s.result.correct,
                                    "error": s.result.error}) + "\n")
    n = max(1, args.samples)
    summary = summarize(scored, n, min(n, args.pass_k or n))
    print(json.dumps({"model": args.model, "data": args.data, "prompts": len(prompts.rows), **summary}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
