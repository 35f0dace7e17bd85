"""Probe: can a tiny Qwen2 pretrained for a few CPU minutes on the noisy arithmetic corpus be the RL-Zero base?

Single process, plain PyTorch AdamW (the real ``rlvr pretrain`` runs on the FSDP learner). Steps:

1. build ``pretrain_corpus`` and train the BPE tokenizer on it (plus a slice of the midtraining corpus, so the
   same tokenizer serves every stage);
2. pack documents (restarting positions, block-causal mask) and train for ``--steps`` steps;
3. measure greedy and sampled (temperature 1) accuracy on ``--n-eval`` held-out problems with transformers
   ``generate``, scoring with the task's answer rule (the "Answer:" line, else the last number);
4. fine-tune a copy for ``--ft-steps`` steps on correctly solved training problems and measure again: if accuracy
   then clears 80%, the gap the noise left is learnable, which is what RL-Zero must find on its own;
5. optionally (``--midtrain-steps``) continue the base on ``midtrain_corpus`` and measure that too.

The defaults are the recipe ``rlvr pretrain`` uses. Measured with them (seed 0, 2 CPU threads, 2026-11):
~620k parameters, vocab 726, 1500 steps x 8 x 256 = 3.07M tokens, 19-22k tokens/s and 150-160 s on an idle
2-core CPU (4.8k tokens/s and 640 s when other jobs shared the cores); base greedy 0.380 / sampled 0.514;
after 150 fine-tuning steps (15 s) 0.850 / 0.787; after 200 midtraining steps 0.995 / 0.809. vLLM (CPU) loading
the saved checkpoint gave greedy 0.38 and sampled 0.53 on the same 200 problems. Seeds 0-3 with --device cuda:
base greedy 0.385-0.395, sampled 0.49-0.52, fine-tuned 0.85-0.94. ``--device cuda`` exists for such sweeps.

Everything is seeded; with the same arguments, device and thread count the figures repeat. Writes a JSON summary.
"""
from __future__ import annotations

import argparse
import copy
import json
import math
import random
import time
from collections import defaultdict
from pathlib import Path

import torch

from rlvr.data.builtin import load_builtin
from rlvr.data.packing import collate, pack_documents, packed_forward_kwargs
from rlvr.models.tiny import init_model, tiny_qwen2_config
from rlvr.models.tokenizer import train_tokenizer

arith = load_builtin("arithmetic")


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--n-docs", type=int, default=60000, help="pretraining documents")
    p.add_argument("--vocab", type=int, default=768)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--heads", type=int, default=2)
    p.add_argument("--intermediate", type=int, default=512)
    p.add_argument("--seq-len", type=int, default=256)
    p.add_argument("--batch", type=int, default=8, help="packed rows per step")
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--warmup", type=int, default=30)
    p.add_argument("--min-lr-ratio", type=float, default=0.1, help="cosine decays to lr * this")
    p.add_argument("--ft-steps", type=int, default=150, help="fine-tuning steps on correct solutions")
    p.add_argument("--ft-lr", type=float, default=1e-3)
    p.add_argument("--midtrain-steps", type=int, default=0,
                   help="if > 0, also continue the base on midtrain_corpus for this many steps and evaluate it")
    p.add_argument("--n-eval", type=int, default=200)
    p.add_argument("--samples", type=int, default=4, help="samples per problem for the temperature-1 figure")
    p.add_argument("--device", default="cpu", help="cpu (the measured setting) or cuda (for quick sweeps)")
    p.add_argument("--max-operand", type=int, default=None, help="override arithmetic.MAX_OPERAND")
    p.add_argument("--noise-rate", type=float, default=None, help="override arithmetic.NOISE_RATE")
    p.add_argument("--mix", type=str, default=None, help="override PRETRAIN_MIX as problem,facts,filler")
    p.add_argument("--fact-weights", type=str, default=None, help="override FACT_OP_WEIGHTS as w+,w-,w*,w/")
    p.add_argument("--out", type=Path, default=Path("bench/results/base_pretrain_probe.json"))
    p.add_argument("--save-dir", type=Path, default=None, help="save the pretrained checkpoint here")
    return p.parse_args()


def lr_at(step: int, total: int, warmup: int, min_ratio: float) -> float:
    """Linear warmup, then cosine decay to min_ratio (multiplier of the peak lr)."""
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def train(model, rows, steps, batch, lr, warmup, min_ratio, seed, log_prefix):
    """Plain AdamW over packed rows (cycled in a seeded order). Returns (seconds, tokens seen, final loss)."""
    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.95), weight_decay=0.1)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_at(s, steps, warmup, min_ratio))
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    attn = model.config._attn_implementation
    model.train()
    start, tokens, cursor, losses = time.perf_counter(), 0, 0, []
    for step in range(steps):
        picked = []
        for _ in range(batch):
            picked.append(rows[order[cursor % len(order)]])
            cursor += 1
        data = {k: v.to(model.device) for k, v in collate(picked).items()}
        loss = model(**packed_forward_kwargs(data, attn), labels=data["labels"]).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        tokens += data["input_ids"].numel()
        losses.append(loss.item())
        if step % 50 == 0 or step == steps - 1:
            elapsed = time.perf_counter() - start
            print(f"{log_prefix} step {step:4d} loss {sum(losses[-50:]) / len(losses[-50:]):.4f} "
                  f"lr {sched.get_last_lr()[0]:.2e} {tokens / elapsed:,.0f} tok/s {elapsed:.0f}s", flush=True)
    return time.perf_counter() - start, tokens, sum(losses[-20:]) / len(losses[-20:])


def cut_at_stop(text: str) -> str:
    for stop in arith.STOP:
        index = text.find(stop)
        if index >= 0:
            text = text[:index]
    return text


@torch.no_grad()
def evaluate(model, tok, rows, do_sample, samples, seed, batch=100):
    """Mean accuracy over rows (and samples); also per template."""
    model.eval()
    tok.padding_side = "left"
    hits, per_template = [], defaultdict(list)
    examples = []
    torch.manual_seed(seed)
    for i in range(0, len(rows), batch):
        chunk = rows[i:i + batch]
        enc = tok([arith.format_prompt(r) for r in chunk], return_tensors="pt", padding=True).to(model.device)
        # temperature 1 with top-k and top-p off: the policy's own distribution, as RL-Zero samples it
        sampling = {"do_sample": True, "temperature": 1.0, "top_k": 0, "top_p": 1.0,
                    "num_return_sequences": samples} if do_sample else {"do_sample": False}
        out = model.generate(**enc, max_new_tokens=24, pad_token_id=tok.pad_token_id,
                             eos_token_id=tok.eos_token_id, **sampling)
        texts = tok.batch_decode(out[:, enc["input_ids"].shape[1]:], skip_special_tokens=True)
        per_row = samples if do_sample else 1
        for j, text in enumerate(texts):
            row = chunk[j // per_row]
            ok = arith.is_correct(cut_at_stop(text), row["answer"])
            hits.append(ok)
            per_template[row["template"]].append(ok)
            if len(examples) < 6 and j % per_row == 0:
                examples.append({"template": row["template"], "answer": row["answer"], "response": text})
    return {"accuracy": sum(hits) / len(hits),
            "per_template": {t: round(sum(v) / len(v), 3) for t, v in sorted(per_template.items())},
            "examples": examples}


def correct_docs(n: int, seed: int) -> list[str]:
    """Training-split problems solved with the right operation, in the RL prompt/response format."""
    docs = []
    for row in arith.generate("train", n, seed):
        a, b = row["operands"]
        docs.append(arith.format_prompt(row) + arith.solution(a, b, arith.TEMPLATES[row["template"]][0]))
    return docs


def main() -> None:
    args = parse_args()
    if args.max_operand is not None:
        arith.MAX_OPERAND = args.max_operand
    if args.noise_rate is not None:
        arith.NOISE_RATE = args.noise_rate
    if args.mix is not None:
        arith.PRETRAIN_MIX = dict(zip(("problem", "facts", "filler"), map(float, args.mix.split(","))))
    if args.fact_weights is not None:
        arith.FACT_OP_WEIGHTS = dict(zip("+-*/", map(float, args.fact_weights.split(","))))
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    t0 = time.perf_counter()
    corpus = arith.pretrain_corpus(args.n_docs, args.seed)
    tok = train_tokenizer(corpus[:20000] + arith.midtrain_corpus(2000, args.seed), vocab_size=args.vocab)
    token_lists = [tok(doc)["input_ids"] for doc in corpus]
    rows = pack_documents(token_lists, args.seq_len, tok.eos_token_id)
    n_tokens = sum(len(t) + 1 for t in token_lists)
    print(f"corpus: {len(corpus)} docs, {n_tokens:,} tokens, {len(rows)} packed rows "
          f"({time.perf_counter() - t0:.1f}s)", flush=True)

    config = tiny_qwen2_config(len(tok), hidden_size=args.hidden, num_layers=args.layers, num_heads=args.heads,
                               intermediate_size=args.intermediate, max_position_embeddings=max(512, args.seq_len),
                               eos_token_id=tok.eos_token_id, bos_token_id=tok.eos_token_id,
                               pad_token_id=tok.pad_token_id)
    model = init_model(config, args.seed).to(args.device)
    n_params = sum(p.numel() for p in model.parameters())
    train_s, train_tokens, loss = train(model, rows, args.steps, args.batch, args.lr, args.warmup,
                                        args.min_lr_ratio, args.seed, "pretrain")
    if args.save_dir:
        model.save_pretrained(args.save_dir)
        tok.save_pretrained(args.save_dir)

    eval_rows = arith.generate("eval", args.n_eval, args.seed)
    t1 = time.perf_counter()
    greedy = evaluate(model, tok, eval_rows, False, 1, args.seed)
    sampled = evaluate(model, tok, eval_rows, True, args.samples, args.seed)
    eval_s = time.perf_counter() - t1
    print(f"base: greedy {greedy['accuracy']:.3f} sampled {sampled['accuracy']:.3f} ({eval_s:.0f}s)")
    print("greedy per template", greedy["per_template"])
    print("sampled per template", sampled["per_template"])

    tuned = copy.deepcopy(model)
    ft_docs = correct_docs(20000, args.seed + 1)
    ft_rows = pack_documents([tok(d)["input_ids"] for d in ft_docs], args.seq_len, tok.eos_token_id)
    ft_s, _, ft_loss = train(tuned, ft_rows, args.ft_steps, args.batch, args.ft_lr, min(10, args.ft_steps),
                             1.0, args.seed + 1, "finetune")
    ft_greedy = evaluate(tuned, tok, eval_rows, False, 1, args.seed)
    ft_sampled = evaluate(tuned, tok, eval_rows, True, args.samples, args.seed)
    print(f"fine-tuned: greedy {ft_greedy['accuracy']:.3f} sampled {ft_sampled['accuracy']:.3f}")
    print("fine-tuned greedy per template", ft_greedy["per_template"])

    midtrain = None
    if args.midtrain_steps > 0:
        mid = copy.deepcopy(model)
        mid_docs = arith.midtrain_corpus(20000, args.seed + 2)
        mid_rows = pack_documents([tok(d)["input_ids"] for d in mid_docs], args.seq_len, tok.eos_token_id)
        mid_s, _, mid_loss = train(mid, mid_rows, args.midtrain_steps, args.batch, args.ft_lr,
                                   min(10, args.midtrain_steps), args.min_lr_ratio, args.seed + 2, "midtrain")
        midtrain = {"seconds": round(mid_s, 1), "final_loss": round(mid_loss, 4),
                    "greedy": evaluate(mid, tok, eval_rows, False, 1, args.seed),
                    "sampled": evaluate(mid, tok, eval_rows, True, args.samples, args.seed)}
        print(f"midtrained: greedy {midtrain['greedy']['accuracy']:.3f} sampled {midtrain['sampled']['accuracy']:.3f}")

    summary = {
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "params": n_params, "vocab": len(tok), "corpus_tokens": n_tokens, "packed_rows": len(rows),
        "pretrain": {"seconds": round(train_s, 1), "tokens": train_tokens,
                     "tokens_per_s": round(train_tokens / train_s), "final_loss": round(loss, 4),
                     "epochs": round(train_tokens / (len(rows) * args.seq_len), 2)},
        "base": {"greedy": greedy, "sampled": sampled},
        "finetune": {"seconds": round(ft_s, 1), "final_loss": round(ft_loss, 4),
                     "greedy": ft_greedy, "sampled": ft_sampled},
        "midtrain": midtrain,
        "eval_seconds": round(eval_s, 1),
        "total_seconds": round(time.perf_counter() - t0, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2))
    print(f"wrote {args.out}; total {summary['total_seconds']}s")


if __name__ == "__main__":
    main()
