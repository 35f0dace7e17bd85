"""`rlvr data show [SOURCE] [-n N] [KEY=VALUE ...]`: how a dataset's rows will be fed to the model.

The rows are read, rendered and checked exactly as `rlvr train` with the same overrides reads them
(rlvr.data.prompts.load_prompt_sets' path: format detection, verifier mapping, plain or chat template,
the context check), and the first N are printed with their ground truth and verifier. Nothing starts:
no engines, no Ray; the tokenizer is model.path's, or the cached base's when it has been built.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any

USAGE = """usage: rlvr data show [SOURCE] [-n N] [--split train|eval] [KEY=VALUE ...]

  SOURCE      data.source: a .jsonl/.json/.parquet file, a save_to_disk folder, hf:ORG/NAME[:CONFIG][:SPLIT],
              a public set (gsm8k, minerva_math, aime24, amc23) or a built-in generator (arithmetic)
  -n N        rows to print (default 3)
  --split     train (default) or eval: the set `rlvr train` would train or evaluate on
  KEY=VALUE   `rlvr train` overrides, e.g. data.chat_template=true data.system_prompt='Think first.'
              data.format=verl model.path=/ckpt rollout.max_model_len=1024
"""


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE)
        return 0
    if argv[0] != "show":
        print(f"rlvr data: unknown subcommand {argv[0]!r}\n\n{USAGE}", file=sys.stderr)
        return 2
    parser = argparse.ArgumentParser(prog="rlvr data show", usage=USAGE, add_help=False)
    parser.add_argument("-n", type=int, default=3)
    parser.add_argument("--split", choices=("train", "eval"), default="train")
    args, rest = parser.parse_known_args(argv[1:])
    sources = [a for a in rest if "=" not in a]
    if len(sources) > 1 or any(a.startswith("-") for a in sources):
        print(f"rlvr data show: one SOURCE at most, got {sources}\n\n{USAGE}", file=sys.stderr)
        return 2
    overrides = [a for a in rest if "=" in a] + [f"data.source={s}" for s in sources]
    from rlvr.data.reader import DataError

    try:
        print(show(overrides, args.n, args.split))
    except (DataError, ValueError) as exc:
        print(f"rlvr data show: {exc}", file=sys.stderr)
        return 1
    return 0


def show(overrides: list[str], n: int, split: str = "train") -> str:
    """The text `rlvr data show` prints for a train config with ``overrides``."""
    from rlvr.data.prompts import PromptSet, Rendering, load_prompt_sets, load_prompts, render_prompt
    from rlvr.train_app import compose

    cfg = compose(overrides)
    data = cfg.data
    tokenizer, model = _tokenizer(cfg)
    if tokenizer is None:
        if data.chat_template:
            raise ValueError("data.chat_template=true needs the model's tokenizer: set model.path=... "
                             "(or build the default base once with `rlvr pretrain`)")
        source = data.source if split == "train" else (data.eval_source or data.source)
        rows = load_prompts(source, split=split if source == data.source else "test",
                            n=(data.train_size if split == "train" else data.eval_size) or None, seed=data.seed,
                            default_verifier=data.default_verifier, prompt_template=data.prompt_template or None,
                            fmt=data.format, verifier_map=dict(data.verifier_map))
        prompts: Any = PromptSet([], [])
        texts = [(r, render_prompt(r, None, Rendering(template=data.prompt_template), source), None) for r in rows]
        note = "no tokenizer (model.path unset, base not built): no token counts, no context check"
    else:
        from rlvr.algorithms.length_schedule import LengthSchedule

        algo = cfg.algorithm  # the longest response any length stage asks for, as the trainer checks
        longest = max(s.max_tokens for s in LengthSchedule(algo.length_stages, cfg.rollout.max_tokens, algo.eps_low,
                                                           algo.eps_high).stages)
        train, evals = load_prompt_sets(data, tokenizer, max_model_len=cfg.rollout.max_model_len,
                                        max_tokens=(longest, cfg.eval.max_tokens))
        prompts = train if split == "train" else evals
        texts = [(r, r.prompt, len(r.prompt_ids)) for r in prompts.rows]
        note = (f"tokenizer {model}; prompts up to {cfg.rollout.max_model_len - (longest if split == 'train' else cfg.eval.max_tokens)}"
                f" tokens fit (rollout.max_model_len {cfg.rollout.max_model_len})")
        source = data.source if split == "train" else (data.eval_source or data.source)
    return _report(source, split, data, texts, prompts, note, n)


def _tokenizer(cfg: Any) -> tuple[Any, str]:
    path = cfg.model.path
    if not path:
        from rlvr.pretrain import built_base

        path = built_base(cfg.model.base) or ""
    if not path:
        return None, ""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(path), path


def _report(source: str, split: str, data: Any, texts: list[tuple[Any, str, int | None]], prompts: Any,
            note: str, n: int) -> str:
    formats = sorted({str(r.metadata.get("format", "built-in/public")) for r, _, _ in texts})
    verifiers = sorted({r.verifier for r, _, _ in texts})
    how = "chat template" + (f" + system prompt {data.system_prompt!r}" if data.system_prompt else "") \
        if data.chat_template else "plain template"
    lines = [f"source {source} ({split}): {len(texts)} rows, format {', '.join(formats)}, "
             f"verifier {', '.join(verifiers)}; {how}; stop {json.dumps(prompts.stop) if prompts.rows else '-'}",
             note]
    if prompts.dropped_long:
        lines.append(f"left out {prompts.dropped_long} prompts over the context (data.drop_long_prompts=true)")
    for i, (row, text, count) in enumerate(texts[:max(n, 0)]):
        where = row.metadata.get("source_row", i + 1)
        tokens = f", {count} prompt tokens" if count is not None else ""
        lines += [f"\n=== row {where} (id {row.id}) verifier {row.verifier}{tokens}", "--- prompt ---", text,
                  "--- ground truth ---", _truth(row.ground_truth)]
    return "\n".join(lines)


def _truth(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
