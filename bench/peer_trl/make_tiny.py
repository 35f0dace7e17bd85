"""The tiny Qwen2 model and byte-level BPE tokenizer every system in bench/vs_peers.py runs, offline, in HF format.

    python bench/peer_trl/make_tiny.py OUTDIR [--vocab 1024] [--seed 0] [--pretrain-steps 0] [--answer-len-mean 0]

The tokenizer is trained on a synthetic arithmetic corpus ("Q: 37+45=? Answer: 82"). The model is randomly
initialised (deterministic from --seed): its completions sample almost uniformly, so every one runs to the
token cap (the fixed-length workload). --pretrain-steps N teaches it N AdamW steps of a corpus so completions
end at EOS; with --answer-len-mean M the answers are a geometric number (mean M) of random digits, so
completions end after a spread of lengths, as RL responses do (the varied-length workload). Same arguments,
same torch: same bytes.

The tokenizer must load the same way everywhere (transformers in rlvr's env and in TRL's, vLLM): transformers 5
loads any `model_type: qwen2` directory through Qwen2Tokenizer whatever `tokenizer_class` says, and swaps in
Qwen2's normaliser and pre-tokenizer, so this one is trained with exactly those (rlvr/models/tokenizer.py says
the same for rlvr's own base) and tokenizer_config.json names the generic fast class older versions know.

Adapted from the shared peer-TRL set-up (shared/bench/peer-trl/make_tiny.py, written for this project's machine).
Runs in rlvr's environment or in the peer's venv (torch, tokenizers, transformers only).
"""
from __future__ import annotations

import argparse
import json
import random

import torch
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
from transformers import GenerationConfig, PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

PAD, EOS = "<|pad|>", "<|endoftext|>"
# transformers' Qwen2Tokenizer split regex, character for character (digits become single tokens)
QWEN2_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
               r"|\s*[\r\n]+|\s+(?!\S)|\s+")
ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
        "sixteen seventeen eighteen nineteen").split()
TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()


def arithmetic_line(rng: random.Random, hi: int = 99, ops: str = "+-") -> tuple[str, int]:
    """One problem: its prompt "Q: a+b=? Answer:" and its integer answer (the benches' task)."""
    a, b, op = rng.randint(0, hi), rng.randint(0, hi), rng.choice(ops)
    return f"Q: {a}{op}{b}=? Answer:", {"+": a + b, "-": a - b, "*": a * b}[op]


def corpus(n: int, seed: int) -> list[str]:
    """n task lines "Q: a+b=? Answer: y" (the short-answer pretraining text)."""
    rng = random.Random(seed)
    return [f"{p} {y}" for p, y in (arithmetic_line(rng) for _ in range(n))]


def varied_corpus(n: int, seed: int, mean_len: int, cap: int = 240) -> list[str]:
    """n lines "Q: a+b=? Answer: d d d ..." with a geometric number of random digits (mean `mean_len`, capped)."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        prompt, _ = arithmetic_line(rng)
        k = 1
        while k < cap and rng.random() > 1.0 / mean_len:
            k += 1
        out.append(prompt + " " + " ".join(str(rng.randint(0, 9)) for _ in range(k)))
    return out


def spell(n: int) -> str:
    """English number words, e.g. -37 -> 'minus thirty-seven' (|n| < 1000)."""
    if n < 0:
        return "minus " + spell(-n)
    if n >= 100:
        return ONES[n // 100] + " hundred" + (" " + spell(n % 100) if n % 100 else "")
    return ONES[n] if n < 20 else TENS[n // 10] + ("-" + ONES[n % 10] if n % 10 else "")


def tokenizer_corpus(n: int, seed: int) -> list[str]:
    """Task lines plus spelled-out and named-variable variants: digits are one token each (Qwen2's
    pre-tokenizer), so numbers alone would give a tiny vocabulary; the words and pseudo-word names fill ~1k merges."""
    rng = random.Random(seed)
    syllables = [c + v for c in "bcdfghklmnprstvz" for v in "aeiou"]
    names = ["".join(rng.choice(syllables) for _ in range(rng.randint(1, 3))) for _ in range(400)]
    words = {"+": "plus", "-": "minus", "*": "times"}
    lines = []
    for i in range(n):
        a, b, op = rng.randint(0, 999), rng.randint(0, 999), rng.choice("+-*")
        y = {"+": a + b, "-": a - b, "*": a * b}[op]
        x, z = rng.sample(names, 2)
        lines.append([f"Q: {a}{op}{b}=? Answer: {y}",
                      f"Q: {spell(a)} {words[op]} {spell(b)}=? Answer: {spell(y) if abs(y) < 1000 else y}",
                      f"Let {x} = {a} and {z} = {b}. Q: {x}{op}{z}=? Answer: {y}"][i % 3])
    return lines


def train_tokenizer(lines: list[str], vocab: int) -> PreTrainedTokenizerFast:
    """Byte-level BPE with Qwen2Tokenizer's normaliser, pre-tokenizer and decoder (module docstring: why);
    no chat template, no BOS: prompts go in as plain strings."""
    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN2_SPLIT), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab, min_frequency=2, special_tokens=[PAD, EOS],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(lines, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token=PAD, eos_token=EOS, padding_side="left")


def build_model(tok: PreTrainedTokenizerFast, seed: int) -> Qwen2ForCausalLM:
    """Qwen2, hidden 128, 4 layers, 2 heads x 64 (vLLM's CPU attention wants head_dim >= 32), 1 KV head,
    MLP 512, untied embeddings: 1.25M parameters."""
    cfg = Qwen2Config(
        vocab_size=len(tok), hidden_size=128, num_hidden_layers=4, num_attention_heads=2,
        head_dim=64, num_key_value_heads=1, intermediate_size=512, tie_word_embeddings=False,
        max_position_embeddings=1024, pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id,
        bos_token_id=None, dtype="float32",
    )
    torch.manual_seed(seed)
    return Qwen2ForCausalLM(cfg).float()


def pretrain(model: Qwen2ForCausalLM, tok: PreTrainedTokenizerFast, steps: int, seed: int, batch: int = 64,
             lr: float = 1e-3, mean_len: int = 0) -> float:
    """Plain next-token LM on "prompt answer<eos>" lines; returns the last loss."""
    text = varied_corpus(steps * batch, seed + 1, mean_len) if mean_len else corpus(steps * batch, seed + 1)
    lines = [line + EOS for line in text]
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    tok.padding_side = "right"
    model.train()
    loss = torch.tensor(float("nan"))
    for i in range(steps):
        enc = tok(lines[i * batch:(i + 1) * batch], return_tensors="pt", padding=True)
        labels = enc.input_ids.masked_fill(enc.attention_mask == 0, -100)
        loss = model(**enc, labels=labels).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
        if i % 50 == 0 or i == steps - 1:
            print(f"[make_tiny] pretrain step {i} loss {loss.item():.3f}", flush=True)
    tok.padding_side = "left"  # generation wants left padding
    model.eval()
    return loss.item()


def make(outdir: str, vocab: int = 1024, seed: int = 0, pretrain_steps: int = 0, answer_len_mean: int = 0) -> dict:
    """Build and save the model and tokenizer in `outdir`; returns what was built (also written as make_tiny.json)."""
    torch.set_num_threads(2)
    tok = train_tokenizer(tokenizer_corpus(30000, seed), vocab)
    model = build_model(tok, seed)
    last_loss = (pretrain(model, tok, pretrain_steps, seed, batch=32 if answer_len_mean else 64,
                          mean_len=answer_len_mean) if pretrain_steps else None)
    model.generation_config = GenerationConfig(eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    model.save_pretrained(outdir)
    tok.save_pretrained(outdir)
    # transformers 5 writes "TokenizersBackend", which older transformers and other toolkits do not know
    path = f"{outdir}/tokenizer_config.json"
    with open(path) as f:
        config = json.load(f)
    config["tokenizer_class"] = "PreTrainedTokenizerFast"
    with open(path, "w") as f:
        json.dump(config, f, indent=2)
    info = {"outdir": outdir, "vocab": len(tok), "params": sum(p.numel() for p in model.parameters()),
            "pad_id": tok.pad_token_id, "eos_id": tok.eos_token_id, "seed": seed, "pretrain_steps": pretrain_steps,
            "pretrain_last_loss": last_loss, "answer_len_mean": answer_len_mean}
    with open(f"{outdir}/make_tiny.json", "w") as f:
        json.dump(info, f)
    return info


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("outdir")
    ap.add_argument("--vocab", type=int, default=1024)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--pretrain-steps", type=int, default=0)
    ap.add_argument("--answer-len-mean", type=int, default=0,
                    help="pretrain on answers of geometric length with this mean (tokens) instead of arithmetic answers")
    args = ap.parse_args()
    print(json.dumps(make(args.outdir, args.vocab, args.seed, args.pretrain_steps, args.answer_len_mean)))


if __name__ == "__main__":
    main()
