"""Two Ray nodes on this machine (ray.cluster_utils.Cluster, each with its own CPUs and a custom resource):
the engine on one, the learner workers on the other (rollout.node_resource / learner.node_resource, the
strategy in rlvr/placement.py), a few RL steps with each weight-sync transport.

Checkpoints go through `checkpoint.node_local_dir`: each learner worker writes its shards in a directory of its
own node and the driver collects them into the run dir, then ships them back to load.

What it cannot prove: both "nodes" share this machine's address, filesystem and memory, so a rendezvous
address that only resolves locally, a path only one node can read, or a firewall between nodes would all
pass here. It proves that nothing assumes the engine and the learner share a Ray node (raylet, object
store, placement), that the FSDP rendezvous and the weight-sync group are addressed by Ray's node address,
and that the object-store transport moves the weights between two object stores.
"""
import contextlib
import json
import os

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("ray2")]


@pytest.fixture(scope="module")
def cluster():
    import ray
    from ray.cluster_utils import Cluster

    if ray.is_initialized():
        ray.shutdown()
    small = {"object_store_memory": 80 * 2**20, "include_dashboard": False}
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 2, "resources": {"rollout": 1}, **small})
    c.add_node(num_cpus=2, resources={"learner": 1}, **small)
    c.wait_for_nodes()
    ray.init(address=c.address)
    yield c
    ray.shutdown()
    c.shutdown()
    # cluster_utils wrote its head's address to /tmp/ray/ray_current_cluster "for convenience in unit testing":
    # a plain ray.init() anywhere on the machine would now try to join this dead cluster
    from ray._private.utils import get_ray_address_file, read_ray_address

    if read_ray_address() == c.address:
        with contextlib.suppress(FileNotFoundError):  # Ray may remove it too
            os.remove(get_ray_address_file(None))


def _node_with(resource):
    import ray

    return {n["NodeID"] for n in ray.nodes() if n["Alive"] and n["Resources"].get(resource)}


@pytest.mark.parametrize("transport", ["object_store", "collective"])
def test_engine_and_learner_on_two_nodes(cluster, tmp_path, transport):
    from ray.util import placement_group_table

    import ray
    import torch

    from rlvr.config import (CheckpointConfig, DataConfig, EvalConfig, LearnerConfig, ModelConfig, RewardConfig,
                             RolloutConfig, TrainConfig)
    from rlvr.trainer import Trainer
    from tests.tiny import make_tiny_checkpoint

    path = make_tiny_checkpoint(tmp_path.parent / "tiny")
    cfg = TrainConfig(
        steps=2, logger=["jsonl"], progress=False, save_checkpoint=False,
        model=ModelConfig(path=path), data=DataConfig(train_size=40, eval_size=2),
        rollout=RolloutConfig(num_engines=1, prompts_per_step=2, group_size=2, max_tokens=8, max_model_len=128,
                              weight_sync=transport, sync_timeout_s=120, node_resource="rollout"),
        learner=LearnerConfig(num_workers=2, node_resource="learner"),
        reward=RewardConfig(num_workers=1), eval=EvalConfig(max_tokens=8),
        checkpoint=CheckpointConfig(every=1, node_local_dir=str(tmp_path / "node_local")))
    cfg.validate()
    run = tmp_path / "run"
    run.mkdir()
    trainer = Trainer(cfg, run, path)
    try:
        engine_nodes = set(placement_group_table(trainer.engines.placement)["bundles_to_node_id"].values())
        learner_nodes = set(placement_group_table(trainer.learner.placement)["bundles_to_node_id"].values())
        assert engine_nodes == _node_with("rollout") and learner_nodes == _node_with("learner")
        assert engine_nodes.isdisjoint(learner_nodes)
        trainer.run()  # saves step_1 on the way
        before = ray.get(trainer.learner.state_dict_ref())
        collected = trainer.save_checkpoint(2) / "learner"
        # each checkpoint's learner shards were written on the learner's node, one directory per rank, collected
        # into the run dir by the driver and removed there; loading ships them back to that node
        staged = sorted(p.relative_to(tmp_path / "node_local") for p in (tmp_path / "node_local").glob("*/rank_*"))
        assert [str(p.parent) for p in staged] == sorted(learner_nodes) * 2, staged
        assert not any(p.is_file() for p in (tmp_path / "node_local").rglob("*"))
        assert (run / "checkpoints" / "step_1" / "learner" / ".metadata").exists()
        names = sorted(p.name for p in collected.iterdir())
        assert ".metadata" in names and {"rank_0.pt", "rank_1.pt"} <= set(names), names
        shipped = trainer.learner.load_state(str(collected), cfg.checkpoint.node_local_dir)
        after = ray.get(trainer.learner.state_dict_ref())
        assert all(torch.equal(before[k], after[k]) for k in before)
        assert shipped == trainer.learner.load_state(str(collected))  # the same step count read in place
    finally:
        trainer.close()
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    steps = [m for m in lines if "train/reward_mean" in m]
    assert [m["step"] for m in steps] == [1, 2]
    for m in steps:  # the weights crossed from the learner's node to the engine's
        assert m["rollout/logprob_gap"] < 1e-3 and m["sync/bytes"] > 0 and m["sync/load_warnings"] == 0
