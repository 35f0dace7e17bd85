"""Weight-sync time by phase and MB/s, object store vs collective broadcast (rlvr/rollout/weight_sync.py).

For the tiny model and random-init Qwen2 configs of about 25M and 100M parameters, with 1 and 2 engines:
five syncs of the learner's full state (one FSDP worker) to the engines through each transport, and one
table of medians. Phases: gather (learner's full state dict on rank 0, and for the collective the packing
into buckets), transfer (object store: the slowest engine's pull; collective: rank 0's broadcast of all
buckets, closing barrier included), load (the slowest engine's reload_weights), total (the driver's wall
time from the sync call until every engine has loaded). MB/s: one copy of the weights over the transfer.

    nice -n 5 python bench/weight_sync.py                    # all three sizes
    nice -n 5 python bench/weight_sync.py --models tiny 25M --syncs 3
"""
from __future__ import annotations

import argparse
import copy
import statistics
import tempfile
import time
from pathlib import Path

# name -> (hidden, layers, heads, kv heads, intermediate)
MODELS = {"tiny": (128, 2, 2, 2, 256), "25M": (512, 8, 8, 2, 1536), "100M": (768, 12, 12, 2, 3072)}


def make_model(name: str, out: Path) -> tuple[str, int]:
    """A random-init Qwen2 checkpoint with a small trained tokenizer; (path, parameters)."""
    from rlvr.data.builtin import load_builtin
    from rlvr.models.tiny import init_model, tiny_qwen2_config
    from rlvr.models.tokenizer import train_tokenizer

    hidden, layers, heads, kv, inter = MODELS[name]
    out.mkdir(parents=True, exist_ok=True)
    tok = train_tokenizer(load_builtin("arithmetic").pretrain_corpus(300, 0), vocab_size=400, out_dir=out)
    cfg = tiny_qwen2_config(len(tok), hidden_size=hidden, num_layers=layers, num_heads=heads, num_kv_heads=kv,
                            intermediate_size=inter, eos_token_id=tok.eos_token_id, bos_token_id=tok.eos_token_id,
                            pad_token_id=tok.eos_token_id)
    model = init_model(cfg, 0)
    model.save_pretrained(out)
    return str(out), sum(p.numel() for p in model.parameters())


def one_sync(transport, version: int) -> dict[str, float]:
    import ray

    from rlvr.rollout.weight_sync import sync_metrics

    started = time.time()
    refs, driver = transport.sync(version)
    stats = ray.get(refs)
    out = sync_metrics(stats, driver)
    out["total_s"] = time.time() - started
    if any(s.get("warnings") for s in stats):
        raise RuntimeError(f"the sync logged warnings: {[s['warnings'] for s in stats]}")
    return out


def measure(transport, syncs: int, first_version: int) -> dict[str, float]:
    runs = [one_sync(transport, first_version + i) for i in range(syncs)]
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def bench_model(name: str, syncs: int, bucket_mb: float, root: Path) -> list[tuple]:
    from rlvr.config import LearnerConfig, RolloutConfig
    from rlvr.learner.group import LearnerGroup
    from rlvr.rollout.engines import EnginePool
    from rlvr.rollout.weight_sync import CollectiveSync, ObjectStoreSync

    path, params = make_model(name, root / name)
    engines = EnginePool(path, RolloutConfig(num_engines=2, kv_cache_gb=1, max_model_len=128), seed=0)
    learner = LearnerGroup(path, LearnerConfig(num_workers=1), seed=0, total_steps=1)
    rows = []
    version = 1
    try:
        for n in (1, 2):
            pool = copy.copy(engines)  # the first n engines of the pool
            pool.engines, pool.num_engines = engines.engines[:n], n
            for transport in (ObjectStoreSync(pool, learner), CollectiveSync(pool, learner, bucket_mb, 600.0)):
                m = measure(transport, syncs, version)
                version += syncs
                mb = m["sync/bytes"] / 2**20
                rows.append((name, params, mb, n, transport.name, m["time/sync_gather_s"], m["time/sync_transfer_s"],
                             m["time/sync_load_s"], m["total_s"], mb / max(1e-9, m["time/sync_transfer_s"])))
                print(_row(rows[-1]), flush=True)
    finally:
        learner.shutdown()
        engines.shutdown()
    return rows


HEADER = ("model", "params", "MB", "engines", "transport", "gather s", "transfer s", "load s", "total s", "MB/s")


def _row(r: tuple) -> str:
    name, params, mb, n, transport, gather, transfer, load, total, rate = r
    return (f"| {name} | {params / 1e6:.1f}M | {mb:.1f} | {n} | {transport} | {gather:.3f} | {transfer:.3f} | "
            f"{load:.3f} | {total:.3f} | {rate:.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--syncs", type=int, default=5, help="syncs per cell (the median is reported)")
    parser.add_argument("--bucket-mb", type=float, default=64.0, help="rollout.sync_bucket_mb of the collective")
    args = parser.parse_args()
    from rlvr.placement import init_ray

    init_ray(needed_cpus=4)
    rows = []
    with tempfile.TemporaryDirectory(prefix="rlvr-wsync-bench-") as tmp:
        for name in args.models:
            rows += bench_model(name, args.syncs, args.bucket_mb, Path(tmp))
    print(f"\nmedians of {args.syncs} syncs, bucket {args.bucket_mb:g} MB, fp32, one learner worker, CPU")
    print("| " + " | ".join(HEADER) + " |")
    print("|" + "---|" * len(HEADER))
    for r in rows:
        print(_row(r))


if __name__ == "__main__":
    main()
