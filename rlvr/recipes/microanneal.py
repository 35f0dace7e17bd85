"""Microanneals: is a candidate data source worth adding to the midtraining mix?

Olmo 3's protocol: take the candidate, match it 50/50 with web tokens, anneal the current
checkpoint on that (learning rate decaying linearly to zero), anneal a web-only run of the same
budget, and compare both on the evals. Here the two runs start from the same checkpoint, share
the train settings (recipe `train.*`), and differ only in their data; the table prints start,
baseline-only and candidate runs side by side with the difference.
"""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

from rlvr.recipes.config import RecipeConfig, RecipeError, to_yaml

log = logging.getLogger(__name__)


def source_entry(spec: str, name: str, text_field: str = "text") -> dict[str, Any]:
    """A mix entry from a command-line source: a builtin generator, a data file, or a YAML entry file."""
    if spec.endswith((".yaml", ".yml")):
        import yaml

        raw = yaml.safe_load(Path(spec).read_text(encoding="utf-8"))
        if not isinstance(raw, dict):
            raise RecipeError(f"{spec}: a microanneal source file holds ONE mix entry (a mapping)")
        raw = dict(raw)
        raw.pop("tokens", None)
        raw.pop("weight", None)
        raw["name"] = name
        return raw
    if spec.endswith((".jsonl", ".parquet")):
        return {"name": name, "path": spec, "text_field": text_field}
    return {"name": name, "builtin": spec}


def microanneal_mixes(cfg: RecipeConfig) -> tuple[Any, Any]:
    """(candidate + baseline mix, baseline-only mix), both to microanneal.tokens."""
    from rlvr.recipes.mix import parse_mix

    m = cfg.microanneal
    if not m.candidate:
        raise RecipeError(f"recipe {cfg.name!r}: microanneal.candidate is empty (e.g. arithmetic:midtrain)")
    cand = dict(source_entry(m.candidate, "candidate", m.text_field), weight=m.candidate_share)
    base = dict(source_entry(m.baseline, "baseline", m.text_field), weight=1.0 - m.candidate_share)
    with_candidate = parse_mix({"sources": [cand, base], "total_tokens": m.tokens}, "microanneal candidate mix", Path.cwd())
    only = parse_mix({"sources": [dict(base, weight=1.0)], "total_tokens": m.tokens}, "microanneal baseline mix", Path.cwd())
    return with_candidate, only


def _anneal(cfg: RecipeConfig, start: str, mix: Any, out: Path, tokenizer: Any) -> dict[str, Any]:
    from rlvr.learner.causal_lm import train_causal_lm
    from rlvr.recipes.config import derived_steps
    from rlvr.recipes.mix import build_mix
    from rlvr.recipes.stage import _learner_settings, pack_rows

    out.mkdir(parents=True, exist_ok=True)
    mixed = build_mix(mix, tokenizer, mix.total_tokens, cfg.data.seed)
    (out / "mix_manifest.json").write_text(json.dumps(mixed.manifest, indent=2))
    rows = pack_rows(mixed.docs, cfg, tokenizer.eos_token_id)
    steps = derived_steps(cfg, mixed.manifest["tokens"])
    final = train_causal_lm(start, rows, _learner_settings(cfg, tokenizer, steps), out, tokenizer_dir=start)
    last = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines() if line.strip()][-1]
    return {"final": final, "steps": steps, "tokens": mixed.manifest["tokens"], "final_loss": last["loss"],
            "sources": {s["name"]: s["tokens"] for s in mixed.manifest["sources"]}}


def run_microanneal(cfg: RecipeConfig, out_dir: str | Path | None = None) -> dict[str, Any]:
    from transformers import AutoTokenizer

    from rlvr.placement import init_ray
    from rlvr.recipes.evaluate import eval_checkpoint
    from rlvr.recipes.stage import default_output_dir, resolve_start

    started = time.time()
    out = Path(out_dir) if out_dir else default_output_dir(cfg)
    out.mkdir(parents=True, exist_ok=True)
    (out / "recipe.yaml").write_text(to_yaml(cfg))
    start = resolve_start(cfg.model.path)
    tokenizer = AutoTokenizer.from_pretrained(start)
    with_candidate, baseline_only = microanneal_mixes(cfg)
    ev = cfg.eval

    def run_eval(path: str) -> float:
        return eval_checkpoint(path, ev.source, ev.split, ev.size, ev.seed, ev.max_tokens, ev.chat, ev.engine,
                               ev.batch_size)["accuracy"]

    init_ray(needed_cpus=cfg.train.num_workers + 1)
    runs = {"baseline": _anneal(cfg, start, baseline_only, out / "baseline", tokenizer),
            "candidate": _anneal(cfg, start, with_candidate, out / "candidate", tokenizer)}
    summary: dict[str, Any] = {"recipe": cfg.name, "start": start, "candidate": cfg.microanneal.candidate,
                               "baseline": cfg.microanneal.baseline, "tokens": cfg.microanneal.tokens,
                               "runs": runs, "eval_source": ev.source}
    summary["accuracy"] = {"start": run_eval(start), "baseline": run_eval(runs["baseline"]["final"]),
                           "candidate": run_eval(runs["candidate"]["final"])}
    summary["difference"] = summary["accuracy"]["candidate"] - summary["accuracy"]["baseline"]
    summary["seconds"] = round(time.time() - started, 1)
    summary["table"] = format_table(summary)
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def format_table(s: dict[str, Any]) -> str:
    acc, runs = s["accuracy"], s["runs"]
    lines = [
        f"microanneal: candidate {s['candidate']!r} vs baseline {s['baseline']!r}, {s['tokens']} tokens each run",
        f"{'':<24}{'start':>10}{'baseline only':>16}{'with candidate':>16}{'difference':>12}",
        f"{'eval ' + s['eval_source'] + ' acc':<24}{acc['start']:>10.3f}{acc['baseline']:>16.3f}"
        f"{acc['candidate']:>16.3f}{s['difference']:>+12.3f}",
        # Each run's loss is on its own data, so the two are not compared.
        f"{'train loss (own data)':<24}{'':>10}{runs['baseline']['final_loss']:>16.4f}"
        f"{runs['candidate']['final_loss']:>16.4f}",
        f"{'tokens trained':<24}{'':>10}{runs['baseline']['tokens']:>16d}{runs['candidate']['tokens']:>16d}",
    ]
    return "\n".join(lines)
