"""`rlvr eval`: score a checkpoint on a dataset with one vLLM engine (no Ray needed)."""
from __future__ import annotations

import argparse
import json
import sys


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="rlvr eval", description="Evaluate a checkpoint: avg@k, pass@k, maj@k.")
    p.add_argument("model", help="Hugging Face checkpoint directory")
    p.add_argument("--data", default="arithmetic", help="builtin dataset, public set (gsm8k, minerva_math, aime24, amc23) or .jsonl/.parquet")
    p.add_argument("--split", default="eval", help="split of a builtin/public dataset")
    p.add_argument("-n", "--num", type=int, default=200, help="prompts to evaluate (0: all)")
    p.add_argument("-k", "--samples", type=int, default=1, help="samples per prompt")
    p.add_argument("--temperature", type=float, default=0.0)
    p.add_argument("--max-tokens", type=int, default=32)
    p.add_argument("--template", default="", help="prompt template with {question}")
    p.add_argument("--verifier", default="math", help="verifier for rows without one")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("-o", "--output", default="", help="write per-sample JSONL here")
    args = p.parse_args(argv)

    from transformers import AutoTokenizer

    from rlvr.config import RolloutConfig
    from rlvr.evaluation import summarize
    from rlvr.prompt_sets import load_prompt_set
    from rlvr.rollout.vllm_engine import VLLMEngine
    from verifiers.pool import ScoreItem, VerifierPool

    try:
        tok = AutoTokenizer.from_pretrained(args.model)
        prompts = load_prompt_set(args.data, args.split, args.num or None, args.seed, args.verifier, args.template, tok)
    except (OSError, ValueError) as exc:
        print(f"rlvr eval: {exc}", file=sys.stderr)
        return 2
    engine = VLLMEngine(args.model, 0, RolloutConfig(temperature=1.0, max_model_len=2048), args.seed)
    texts = [[t for t, _ in s] for s in engine.generate([r.prompt_ids for r in prompts.rows], args.samples,
                                                         args.temperature, args.max_tokens, prompts.stop)]
    items = [ScoreItem(verifier=r.verifier, response=t, ground_truth=r.ground_truth, prompt=r.prompt, metadata=dict(r.metadata))
             for r, ts in zip(prompts.rows, texts) for t in ts]
    with VerifierPool() as pool:
        results = pool.score(items)
    summary = summarize(results, args.samples, [len(t) for ts in texts for t in ts])
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            for item, res in zip(items, results):
                f.write(json.dumps({"prompt": item.prompt, "response": item.response, "ground_truth": item.ground_truth,
                                    "reward": res.reward, "correct": res.correct, "error": res.error}) + "\n")
    print(json.dumps({"model": args.model, "data": args.data, "prompts": len(prompts.rows), **summary}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
