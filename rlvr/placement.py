"""Ray cluster start-up and placement groups for rollout engines and learner workers.

On a machine without GPUs every bundle is CPU-only; with GPUs, engines get `gpus_per_engine`
and learner workers `gpus_per_worker`. The same config scales out by changing counts.

Across nodes, the strategy is: each pool (the engines, the learner workers) is one placement group,
packed (its members share a node while one fits them: the learner's FSDP collectives stay local); a
pool's `node_resource` (rollout.node_resource, learner.node_resource) names a custom Ray resource that
every bundle of the pool asks for a sliver of, so the pool lands only on nodes started with it
(`ray start --resources='{"rollout": 1}'`). That is how engines and learner go to different nodes.
Rendezvous addresses (the learner's FSDP group, the weight-sync group) are the node's address as Ray
sees it (`node_address`), which the other nodes reach.
"""
from __future__ import annotations

import logging
import os
from typing import Any, Callable

import ray
from ray.util.placement_group import PlacementGroup, placement_group
from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

log = logging.getLogger(__name__)


def gpus_available() -> int:
    try:
        import torch

        return torch.cuda.device_count()
    except Exception:  # pragma: no cover - torch without CUDA runtime
        return 0


def init_ray(address: str = "", num_cpus: int = 0, needed_cpus: float = 0.0) -> None:
    """Join `address`, or start a local cluster big enough for the placement.

    Ray counts logical CPUs: on a 2-core laptop one engine and two learner workers reserve
    three, so the local cluster advertises max(cores, what the placement needs). The
    processes still share the real cores; this only stops Ray from waiting forever.
    """
    if ray.is_initialized():
        # Already connected: a driver that started Ray itself, or a job run as a Ray task by
        # `-m hydra/launcher=ray`, which joins the launcher's cluster and places its own actors there.
        if in_ray_task():
            log.info("running as a Ray task: using its cluster (%s free)", ray.available_resources())
        return
    env = {"env_vars": {"TOKENIZERS_PARALLELISM": "false", "PYTHONWARNINGS": "ignore"}}
    if address:
        ray.init(address=address, runtime_env=env, log_to_driver=True)
        return
    cpus = num_cpus or max(os.cpu_count() or 1, int(needed_cpus + 0.999))
    # address="local": a new cluster even when a `ray start` one runs on this machine (ray.init() would join
    # that one, and refuse num_cpus); ray.address=auto joins it on purpose
    ray.init(address="local", num_cpus=cpus, include_dashboard=False, runtime_env=env, log_to_driver=True,
             configure_logging=False)
    log.info("started a local Ray cluster with %d logical CPUs", cpus)


def in_ray_task() -> bool:
    """True inside a Ray task or actor (e.g. a multirun job of the Ray launcher), False in a driver."""
    return ray.is_initialized() and ray.get_runtime_context().worker.mode == ray.WORKER_MODE


NODE_RESOURCE_SHARE = 0.001  # what one bundle asks of a pool's node resource: any number of bundles fit a node


def node_address() -> str:
    """This host's address as the other nodes of the cluster reach it (Ray's view; the hostname's without Ray)."""
    import socket

    if ray.is_initialized():
        return ray.util.get_node_ip_address()
    return socket.gethostbyname(socket.gethostname())


def make_placement(count: int, cpus: float, gpus: int, name: str, resource: str = "") -> PlacementGroup:
    """A placement group of `count` bundles, packed, ready before returning.

    A driver gives up after 120 s (the cluster is too small: say so). A job of a Ray-launched sweep waits
    as long as it takes, while the cluster could hold the placement: the other jobs hold the resources.
    `resource`: a custom node resource every bundle asks for (module doc), so the group goes only there.
    """
    bundle: dict[str, float] = {"CPU": cpus}
    if gpus > 0:
        bundle["GPU"] = gpus
    if resource:
        bundle[resource] = NODE_RESOURCE_SHARE
    pg = placement_group([dict(bundle) for _ in range(count)], strategy="PACK", name=name)
    try:
        while True:
            try:
                ray.get(pg.ready(), timeout=120)
                break
            except ray.exceptions.GetTimeoutError:
                # only a placement the cluster could ever hold is worth waiting for
                if not in_ray_task() or count * cpus > ray.cluster_resources().get("CPU", 0):
                    raise
                log.info("placement %r (%d x %s) waits for other jobs to free resources", name, count, bundle)
    except ray.exceptions.GetTimeoutError as exc:
        ray.util.remove_placement_group(pg)
        raise RuntimeError(
            f"placement group {name!r} ({count} x {bundle}) could not be placed in 120 s; the cluster has "
            f"{ray.cluster_resources()} in all and {ray.available_resources()} free") from exc
    return pg


def bundle_strategy(pg: PlacementGroup, index: int) -> PlacementGroupSchedulingStrategy:
    return PlacementGroupSchedulingStrategy(placement_group=pg, placement_group_bundle_index=index)


def place_actors(cls: type, count: int, cpus: float, gpus: int, name: str,
                 args: Callable[[int], tuple[Any, ...]], resource: str = "",
                 options: dict[str, Any] | None = None) -> tuple[PlacementGroup, list[Any]]:
    """A placement group of `count` bundles and one Ray actor of `cls` in each; actor i is built with args(i).

    `gpus` (per actor) applies only where the machine has GPUs; on a CPU-only machine the bundles are CPU-only.
    `options`: more Ray actor options (a threaded actor's max_concurrency and concurrency_groups).
    """
    gpus = gpus if gpus_available() > 0 else 0
    pg = make_placement(count, cpus, gpus, name=name, resource=resource)
    return pg, [place_actor(cls, pg, i, cpus, gpus, args(i), options) for i in range(count)]


def place_actor(cls: type, pg: PlacementGroup, index: int, cpus: float, gpus: int, args: tuple[Any, ...],
                options: dict[str, Any] | None = None) -> Any:
    """One Ray actor of `cls` in bundle `index` of `pg` (also how a dead actor is replaced in its own bundle)."""
    gpus = gpus if gpus_available() > 0 else 0
    options = dict(options or {})
    # Ray takes concurrency groups only where the actor class is declared, not in .options()
    declared = {"concurrency_groups": options.pop("concurrency_groups")} if "concurrency_groups" in options else {}
    actor_cls = ray.remote(**declared)(cls) if declared else ray.remote(cls)
    return actor_cls.options(num_cpus=cpus, num_gpus=gpus, scheduling_strategy=bundle_strategy(pg, index),
                             **options).remote(*args)
