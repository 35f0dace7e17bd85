"""MIRA against its baselines at equal tokens, from the same start (the cached tiny base), on the CPU.

    python examples/mira/run.py                       # tokens=100000 seeds=0,1 out=runs/mira
    python examples/mira/run.py tokens=50000 seeds=0  # smaller

1. `rlvr select recipe=tiny_mira` writes the mira, random, global and oracle selections (half of each source).
2. Each arm anneals the base on its selection for `tokens` tokens (recipe tiny_mira_midtrain); the full pool
   arm anneals on the unselected pool for twice the tokens. Every arm runs once per seed (data sampling and
   order: data.seed, train.seed); the selection itself is seed 0's.
3. Greedy accuracy on the held-out arithmetic split (rlvr/recipes/evaluate.py, the stages' eval path).
Writes <out>/mira_summary.json (per-arm accuracies per seed), <out>/mira_table.md and <out>/mira.png.
"""
from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

ARMS = ("mira", "random", "global", "oracle", "full_2x")


def _args(argv: list[str]) -> dict[str, str]:
    args = {"tokens": "100000", "seeds": "0,1", "out": "runs/mira"}
    for a in argv:
        key, _, value = a.partition("=")
        if key not in args:
            raise SystemExit(f"unknown argument {a!r}; known: tokens=N seeds=0,1 out=DIR")
        args[key] = value
    return args


def select(out: Path) -> dict[str, str]:
    """Run the selection once (or reuse it); returns arm -> mix file."""
    from rlvr.recipes.cache import resolve_start, runner_for
    from rlvr.recipes.config import compose_recipe

    done = out / "select" / "summary.json"
    if not done.is_file():
        cfg = compose_recipe("tiny_mira", [f"output_dir={out / 'select'}"])
        summary = runner_for(cfg)(cfg, resolve_start(cfg.model.path), out / "select")
        print(summary["table"])
    return json.loads(done.read_text())["mix"]


def evaluate(ev, path: str) -> dict:
    """The stages' greedy eval (rlvr.recipes.evaluate) on one torch thread: much faster on a shared, loaded CPU."""
    from rlvr.recipes.evaluate import eval_checkpoint

    return eval_checkpoint(str(path), ev.source, ev.split, ev.size, ev.seed, ev.max_tokens, ev.chat, ev.engine,
                           ev.batch_size, threads=1)


def train_arm(arm: str, mix: str, tokens: int, seed: int, out: Path) -> dict:
    from rlvr.recipes.cache import resolve_start
    from rlvr.recipes.config import compose_recipe
    from rlvr.recipes.stage import run_stage

    run_dir = out / f"{arm}-seed{seed}"
    if (run_dir / "summary.json").is_file():
        return json.loads((run_dir / "summary.json").read_text())
    cfg = compose_recipe("tiny_mira_midtrain", [f"data.mix={mix}", f"data.total_tokens={tokens}", f"data.seed={seed}",
                                                f"train.seed={seed}", "eval.enabled=false", f"output_dir={run_dir}"])
    summary = run_stage(cfg, resolve_start(cfg.model.path), run_dir)
    summary["eval_final"] = evaluate(cfg.eval, summary["final"])
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def start_ray(tries: int = 6) -> None:
    """One local Ray cluster for every arm. On a loaded machine the raylet can miss Ray's 30 s start-up
    window; try again rather than lose the run."""
    import time

    import ray

    from rlvr.placement import init_ray

    for attempt in range(tries):
        try:
            init_ray(needed_cpus=2)
            return
        except Exception as exc:  # Ray raises a bare Exception for the start-up timeout
            logging.warning("Ray did not start (%s); attempt %d of %d", exc, attempt + 1, tries)
            ray.shutdown()
            time.sleep(10)
    raise SystemExit("Ray did not start")


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    args = _args(argv)
    start_ray()
    out, tokens, seeds = Path(args["out"]), int(args["tokens"]), [int(s) for s in args["seeds"].split(",")]
    out.mkdir(parents=True, exist_ok=True)
    mixes = select(out)
    mixes["full_2x"] = mixes["full"]
    from rlvr.recipes.cache import resolve_start
    from rlvr.recipes.config import compose_recipe

    acc: dict[str, dict[str, float]] = {}
    from examples_mira_report import write_report  # this folder's report helper

    start_file = out / "start_eval.json"
    for seed in seeds:  # seed by seed, so a cut-short run still has whole seeds to report
        for arm in ARMS:
            budget = 2 * tokens if arm == "full_2x" else tokens
            acc.setdefault(arm, {})[str(seed)] = train_arm(arm, mixes[arm], budget, seed, out)["eval_final"]["accuracy"]
        if not start_file.is_file():  # the common start, evaluated once (after the first seed's arms)
            start_file.write_text(json.dumps(evaluate(compose_recipe("tiny_mira_midtrain").eval, resolve_start("base"))))
        acc["start"] = {str(s): json.loads(start_file.read_text())["accuracy"] for s in seeds}
        done = seeds[:seeds.index(seed) + 1]
        write_report({a: {str(s): v[str(s)] for s in done} for a, v in acc.items()}, tokens, done, out)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.exit(main(sys.argv[1:]))
