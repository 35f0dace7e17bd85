"""The learner side of the collective weight sync on a GPU host, by phase: FSDP2 shards -> full tensors on
trainer rank 0 (gather) -> packed byte buckets (pack) -> bucketed broadcast over a process group of its own to
receiving torch processes (transfer, closing barrier included) -> unpacked into the receivers' weights (load).

No vLLM is needed (the GPU machine has none): the receivers are plain torch processes that copy each bucket
into a preallocated model-shaped state, which is what an engine's load does first. Shapes: Qwen2-0.5B and
Qwen2-1.5B (random values: the timing does not depend on them), or `tiny` for a check on CPU.

Devices: with at least trainers + receivers GPUs, one GPU per process and NCCL for both the FSDP group and
the transfer group; with fewer GPUs (one), the trainer ranks share no GPU: a single trainer on cuda:0 and the
receivers on the CPU over gloo (the transfer then includes the copy to the host); without a GPU, all on CPU
over gloo (how the test runs it).

    python bench/gpu_sync.py --shape 0.5B --trainers 1 --receivers 1      # on a lent GPU
    python bench/gpu_sync.py --shape tiny --trainers 2 --receivers 2 --syncs 1   # CPU check
"""
from __future__ import annotations

import argparse
import os
import queue
import socket
import statistics
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

# name -> (hidden, layers, heads, kv heads, intermediate, vocab); Qwen2 0.5B / 1.5B as published
SHAPES = {"tiny": (128, 2, 2, 2, 256, 512), "0.5B": (896, 24, 14, 2, 4864, 151936),
          "1.5B": (1536, 28, 12, 2, 8960, 151936)}


class Shaped(torch.nn.Module):
    """Parameters only, with the names and shapes of a Qwen2 checkpoint (no forward: nothing runs it), so the
    script needs torch alone (the GPU host has neither vLLM nor, maybe, transformers)."""

    def __init__(self, params: dict[str, tuple[int, ...]], device: torch.device, dtype: torch.dtype):
        super().__init__()
        for name, shape in params.items():
            self.register_parameter(name, torch.nn.Parameter(torch.empty(shape, device=device, dtype=dtype)))


def build_model(shape: str, device: torch.device, dtype: torch.dtype) -> torch.nn.Module:
    hidden, layers, heads, kv, inter, vocab = SHAPES[shape]
    kv_dim = hidden // heads * kv

    def layer() -> Shaped:
        return Shaped({"q_proj_weight": (hidden, hidden), "q_proj_bias": (hidden,), "k_proj_weight": (kv_dim, hidden),
                       "k_proj_bias": (kv_dim,), "v_proj_weight": (kv_dim, hidden), "v_proj_bias": (kv_dim,),
                       "o_proj_weight": (hidden, hidden), "gate_proj_weight": (inter, hidden),
                       "up_proj_weight": (inter, hidden), "down_proj_weight": (hidden, inter),
                       "input_layernorm_weight": (hidden,), "post_attention_layernorm_weight": (hidden,)},
                      device, dtype)

    model = torch.nn.Module()
    model.embed = Shaped({"weight": (vocab, hidden)}, device, dtype)
    model.layers = torch.nn.ModuleList(layer() for _ in range(layers))
    head = {"norm_weight": (hidden,)}
    if shape == "1.5B":  # Qwen2-1.5B unties lm_head; 0.5B ties it (sent once)
        head["lm_head_weight"] = (vocab, hidden)
    model.head = Shaped(head, device, dtype)
    if device.type != "meta":
        gen = torch.Generator(device=device).manual_seed(0)
        with torch.no_grad():
            for p in model.parameters():
                p.normal_(0, 0.02, generator=gen)
    return model


def specs_of(model: torch.nn.Module) -> list[tuple[str, tuple[int, ...], torch.dtype]]:
    return [(n, tuple(p.shape), p.dtype) for n, p in model.named_parameters()]


def plan(specs, bucket_bytes: int) -> list[list[int]]:
    buckets, size = [], 0
    for i, (_, shape, dtype) in enumerate(specs):
        n = torch.Size(shape).numel() * dtype.itemsize
        if not buckets or (size + n > bucket_bytes and buckets[-1]):
            buckets.append([])
            size = 0
        buckets[-1].append(i)
        size += n
    return buckets


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def trainer(rank: int, args, world: int, devices: list[str], backends: tuple[str, str], ports: tuple[int, int],
            out_q) -> None:
    from torch.distributed.fsdp import fully_shard

    from rlvr.rollout.weight_sync import TransferGroup

    device = torch.device(devices[rank])
    if device.type == "cuda":
        torch.cuda.set_device(device)
    os.environ["MASTER_ADDR"], os.environ["MASTER_PORT"] = "127.0.0.1", str(ports[0])
    dist.init_process_group(backends[0], rank=rank, world_size=args.trainers, device_id=device if device.type == "cuda" else None)
    model = build_model(args.shape, device, getattr(torch, args.dtype))
    for module in [*model.layers, model.embed, model.head]:
        fully_shard(module)
    fully_shard(model)
    specs = specs_of(model)
    buckets = plan(specs, int(args.bucket_mb * 2**20))
    group = None
    if rank == 0:
        store = dist.TCPStore("127.0.0.1", ports[1], is_master=True, wait_for_workers=False)
        group = TransferGroup("", 0, 0, world, args.timeout_s, store=store, backend=backends[1])
    runs = []
    for _ in range(args.syncs):
        dist.barrier()
        _sync(device)
        t0 = time.time()
        with torch.no_grad():  # a collective: every trainer rank gathers every parameter
            full = [p.full_tensor() if hasattr(p, "full_tensor") else p.detach() for p in model.parameters()]
        _sync(device)
        t1 = time.time()
        if rank != 0:
            continue
        send_dev = device if backends[1] == "nccl" else torch.device("cpu")
        bufs = [torch.cat([full[i].reshape(-1).view(torch.uint8) for i in b]).to(send_dev) for b in buckets]
        _sync(device)
        t2 = time.time()
        for buf in bufs:
            group.broadcast(buf)
        group.pg.barrier().wait()
        _sync(device)
        t3 = time.time()
        checksum = float(sum(f.double().sum() for f in full))
        runs.append({"gather_s": t1 - t0, "pack_s": t2 - t1, "transfer_s": t3 - t2,
                     "bytes": float(sum(b.numel() for b in bufs)), "checksum": checksum})
        del full, bufs
    if rank == 0:
        out_q.put(("trainer", runs, len(buckets), sum(p.numel() for p in model.parameters())))
    dist.destroy_process_group()


def receiver(j: int, args, world: int, devices: list[str], backends: tuple[str, str], ports: tuple[int, int],
             out_q) -> None:
    from rlvr.rollout.weight_sync import TransferGroup

    device = torch.device(devices[args.trainers + j])
    if device.type == "cuda":
        torch.cuda.set_device(device)
    shapes = specs_of(build_model(args.shape, torch.device("meta"), getattr(torch, args.dtype)))
    weights = [torch.empty(shape, dtype=dtype, device=device) for _, shape, dtype in shapes]
    buckets = plan(shapes, int(args.bucket_mb * 2**20))
    group = TransferGroup("127.0.0.1", ports[1], 1 + j, world, args.timeout_s, backend=backends[1])
    recv_dev = device if backends[1] == "nccl" else torch.device("cpu")
    runs = []
    for _ in range(args.syncs):
        load_s = 0.0
        for b in buckets:
            buf = torch.empty(sum(weights[i].numel() * weights[i].element_size() for i in b), dtype=torch.uint8,
                              device=recv_dev)
            group.broadcast(buf)
            t = time.time()
            offset = 0
            for i in b:  # "load": copy into the model-shaped weights on this receiver's device
                n = weights[i].numel() * weights[i].element_size()
                weights[i].copy_(buf[offset : offset + n].view(weights[i].dtype).view(weights[i].shape))
                offset += n
            _sync(device)
            load_s += time.time() - t
        group.pg.barrier().wait()
        runs.append({"load_s": load_s, "checksum": float(sum(w.double().sum() for w in weights))})
    out_q.put(("receiver", runs))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def layout(trainers: int, receivers: int) -> tuple[list[str], tuple[str, str]]:
    """Each process's device, and the (FSDP, transfer) backends (module doc)."""
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if gpus >= trainers + receivers:
        return [f"cuda:{i}" for i in range(trainers + receivers)], ("nccl", "nccl")
    if gpus >= 1:
        if trainers != 1:
            raise SystemExit(f"{gpus} GPU(s): use --trainers 1 (NCCL wants one GPU per rank)")
        return ["cuda:0"] + ["cpu"] * receivers, ("nccl", "gloo")
    return ["cpu"] * (trainers + receivers), ("gloo", "gloo")


def run(args) -> dict[str, float]:
    devices, backends = layout(args.trainers, args.receivers)
    world = 1 + args.receivers
    ports = (_free_port(), _free_port())
    ctx = mp.get_context("spawn")
    out_q = ctx.Queue()
    procs = [ctx.Process(target=trainer, args=(r, args, world, devices, backends, ports, out_q))
             for r in range(args.trainers)]
    procs += [ctx.Process(target=receiver, args=(j, args, world, devices, backends, ports, out_q))
              for j in range(args.receivers)]
    for p in procs:
        p.start()
    results = []
    deadline = time.time() + args.timeout_s * 4
    while len(results) < 1 + args.receivers:
        try:
            results.append(out_q.get(timeout=2))
        except queue.Empty:
            failed = [p.exitcode for p in procs if p.exitcode not in (None, 0)]
            if failed or time.time() > deadline:
                for p in procs:
                    p.kill()
                raise SystemExit(f"a process failed (exit codes {[p.exitcode for p in procs]}) or the run timed out")
    for p in procs:
        p.join(timeout=60)
    sent = next(r for r in results if r[0] == "trainer")
    got = [r[1] for r in results if r[0] == "receiver"]
    runs, n_buckets, params = sent[1], sent[2], sent[3]
    for rec in got:  # every receiver holds what rank 0 gathered, every sync
        for s, r in zip(runs, rec):
            if abs(s["checksum"] - r["checksum"]) > 1e-6 * max(1.0, abs(s["checksum"])):
                raise SystemExit(f"receiver checksum {r['checksum']} != sender {s['checksum']}")
    med = {k: statistics.median(r[k] for r in runs) for k in ("gather_s", "pack_s", "transfer_s", "bytes")}
    med["load_s"] = statistics.median(max(rec[i]["load_s"] for rec in got) for i in range(len(runs)))
    return {**med, "params": float(params), "buckets": float(n_buckets), "devices": devices, "backends": backends}


def main() -> None:
    parser = argparse.ArgumentParser(description="collective weight sync from FSDP2 shards, by phase")
    parser.add_argument("--shape", default="0.5B", choices=list(SHAPES))
    parser.add_argument("--trainers", type=int, default=1, help="FSDP2 ranks (the learner)")
    parser.add_argument("--receivers", type=int, default=1, help="receiving processes (engine stand-ins)")
    parser.add_argument("--bucket-mb", type=float, default=256.0)
    parser.add_argument("--dtype", default="", help="float32 | bfloat16 (default: bf16 on GPU, fp32 on CPU)")
    parser.add_argument("--syncs", type=int, default=5)
    parser.add_argument("--timeout-s", type=float, default=300.0)
    args = parser.parse_args()
    args.dtype = args.dtype or ("bfloat16" if torch.cuda.is_available() else "float32")
    m = run(args)
    mb = m["bytes"] / 2**20
    print(f"devices {m['devices']} backends (fsdp, transfer) {m['backends']}; medians of {args.syncs}")
    print("| shape | params | dtype | MB | buckets | trainers | receivers | gather s | pack s | transfer s | load s | "
          "transfer MB/s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    print(f"| {args.shape} | {m['params'] / 1e6:.1f}M | {args.dtype} | {mb:.1f} | {m['buckets']:.0f} | {args.trainers} | "
          f"{args.receivers} | {m['gather_s']:.3f} | {m['pack_s']:.3f} | {m['transfer_s']:.3f} | {m['load_s']:.3f} | "
          f"{mb / max(1e-9, m['transfer_s']):.0f} |")


if __name__ == "__main__":
    main()
