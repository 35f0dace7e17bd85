"""The table, plot and mira_summary.json of examples/mira/run.py, and the issue's bars checked on them."""
from __future__ import annotations

import json
from pathlib import Path


def write_report(acc: dict[str, dict[str, float]], tokens: int, seeds: list[int], out: Path) -> dict:
    mean = {arm: sum(v.values()) / len(v) for arm, v in acc.items()}
    per_seed_gap = {s: acc["mira"][s] - acc["random"][s] for s in acc["mira"]}
    bars = {"mira_minus_random_mean": round(mean["mira"] - mean["random"], 4),
            "mira_minus_random_per_seed": {s: round(g, 4) for s, g in per_seed_gap.items()},
            "mira_beats_random_by_5_points": mean["mira"] - mean["random"] >= 0.05 and min(per_seed_gap.values()) >= 0.05,
            "mira_minus_full_2x": round(mean["mira"] - mean["full_2x"], 4),
            "mira_within_2_points_of_full_2x_or_above": mean["mira"] >= mean["full_2x"] - 0.02}
    summary = {"tokens": tokens, "seeds": seeds, "accuracy": acc, "mean": {k: round(v, 4) for k, v in mean.items()},
               "bars": bars}
    (out / "mira_summary.json").write_text(json.dumps(summary, indent=2))
    tok = {arm: (2 * tokens if arm == "full_2x" else 0 if arm == "start" else tokens) for arm in acc}
    lines = ["| arm | tokens | " + " | ".join(f"seed {s}" for s in seeds) + " | mean |", "|---|---|" + "---|" * (len(seeds) + 1)]
    for arm, v in acc.items():
        lines.append(f"| {arm} | {tok[arm]} | " + " | ".join(f"{100 * v[str(s)]:.1f}%" for s in seeds)
                     + f" | {100 * mean[arm]:.1f}% |")
    table = "\n".join(lines)
    (out / "mira_table.md").write_text(table + "\n")
    print(table)
    print(json.dumps(bars, indent=2))
    _plot(acc, seeds, out / "mira.png")
    return summary


def _plot(acc: dict[str, dict[str, float]], seeds: list[int], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    arms = list(acc)
    fig, ax = plt.subplots(figsize=(7, 3.5))
    width = 0.8 / len(seeds)
    for k, s in enumerate(seeds):
        ax.bar([i + k * width for i in range(len(arms))], [100 * acc[a][str(s)] for a in arms], width,
               label=f"seed {s}")
    ax.set_xticks([i + width * (len(seeds) - 1) / 2 for i in range(len(arms))], arms)
    ax.set_ylabel("greedy eval accuracy (%)")
    ax.set_title("held-out arithmetic after annealing the tiny base on each selection")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
