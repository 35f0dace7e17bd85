"""What a selection run writes (all plain files, so `rlvr midtrain data.mix=...` reads the result unchanged):

    selected/<arm>/<source>.jsonl   the kept documents, {"text": ...} per line, in pool order
    selected/<arm>/mix.yaml         a mix over them: weights = kept tokens, max_epochs = select.max_epochs
    rubrics/<group>.json            kept and dropped dimensions (with the reason), stats, anchors
    teacher/<group>.jsonl           the teacher's labels: source, document index, level per kept dimension
    student/<group>.pt              the student's weights; its held-out agreement is in the manifest
    selection_manifest.json         groups, rubrics, student quality, thresholds, kept docs and tokens, seeds, hashes
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Sequence

import torch
import yaml

from rlvr.recipes.select.scorer import GroupResult, Source
from rlvr.recipes.select.selection import Arm


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_arm(arm: Arm, sources: Sequence[Source], out: Path, max_epochs: float) -> dict[str, Any]:
    """The arm's pools and mix file; returns {"mix": path, "sha256": {file: hash}}."""
    folder = out / "selected" / arm.name
    folder.mkdir(parents=True, exist_ok=True)
    entries, hashes = [], {}
    for s in sources:
        path = folder / f"{s.name}.jsonl"
        with open(path, "w", encoding="utf-8") as handle:
            for i in arm.kept[s.name]:
                handle.write(json.dumps({"text": s.texts[i]}) + "\n")
        hashes[path.name] = _sha(path)
        tokens = sum(s.lengths[i] for i in arm.kept[s.name])
        if tokens:
            entries.append({"name": s.name, "category": s.category, "path": path.name, "weight": tokens,
                            "max_epochs": max_epochs})
    total = sum(e["weight"] for e in entries)
    mix = {"description": f"{arm.name} selection ({total} tokens); weights are the kept tokens per source",
           "total_tokens": total, "sources": entries}
    (folder / "mix.yaml").write_text(yaml.safe_dump(mix, sort_keys=False))
    hashes["mix.yaml"] = _sha(folder / "mix.yaml")
    return {"mix": str(folder / "mix.yaml"), "sha256": hashes}


def write_group(result: GroupResult, sources: Sequence[Source], out: Path) -> dict[str, Any]:
    """rubrics/, teacher/ and student/ files of one group; returns its manifest entry."""
    for sub in ("rubrics", "teacher", "student"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    safe = result.group.replace("/", "_")
    (out / "rubrics" / f"{safe}.json").write_text(json.dumps(result.rubric.to_json(), indent=2))
    with open(out / "teacher" / f"{safe}.jsonl", "w", encoding="utf-8") as handle:
        k = 0
        for name in result.sources:
            for i in result.labelled[name]:
                row = {"source": name, "index": i} | {d: result.rubric.levels[d][k] for d in result.rubric.kept}
                handle.write(json.dumps(row) + "\n")
                k += 1
    if result.model is not None:
        torch.save(result.model.state_dict(), out / "student" / f"{safe}.pt")
    return {"sources": result.sources, "kept": result.rubric.kept, "dropped": result.rubric.dropped,
            "student": result.metrics, "teacher_labels": {n: len(v) for n, v in result.labelled.items()},
            "teacher_share": {n: round(len(result.labelled[n]) / max(1, len(s.texts)), 4)
                              for s in sources for n in [s.name] if n in result.labelled}}
