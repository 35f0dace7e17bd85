"""Methods vLLM mixes into its worker class (`worker_extension_cls`), reached by collective_rpc.

The name must not clash with the worker's own methods (vLLM's CPU worker already has an
`update_weights`), hence the prefix.
"""
from __future__ import annotations

import logging
import time
from typing import Any, Iterable

import torch

from rlvr.rollout.weight_sync import TensorSpec, TransferGroup, receive

# vLLM's layer-wise reload warns "<Layer>: Failed to load weights" for every layer that got no checkpoint
# tensor. A rotary embedding has only a computed buffer (its cos/sin cache), never a weight, so it warns on
# every sync although nothing failed. Only such weightless layers' records are dropped; a layer with real
# parameters that fails to load still warns.
RELOAD_LOGGER = "vllm.model_executor.model_loader.reload.layerwise"
FAILED_TO_LOAD = "%s: Failed to load weights"


class WeightlessLayerFilter(logging.Filter):
    def __init__(self, weightless: set[str]):
        super().__init__()
        self.weightless = weightless

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        return not (record.msg == FAILED_TO_LOAD and args and args[0] in self.weightless)


def weightless_layers(model: torch.nn.Module) -> set[str]:
    """Class names of the model's modules that hold buffers but no parameters, and never parameters
    anywhere in the model (so the filter cannot hide a real layer of the same class)."""
    with_params, buffers_only = set(), set()
    for m in model.modules():
        name = type(m).__name__
        if any(True for _ in m.parameters(recurse=False)):
            with_params.add(name)
        elif any(True for _ in m.buffers(recurse=False)):
            buffers_only.add(name)
    return buffers_only - with_params


class _Capture(logging.Handler):
    """Collects the WARNING-or-worse records vLLM logs while weights load (returned with the sync's stats)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(f"{record.name}: {record.getMessage()}")


class WeightLoader:
    def _rlvr_reload(self, items: list[tuple[str, torch.Tensor]]) -> dict[str, Any]:
        """`reload_weights` with the weightless-layer warning filtered; its seconds and any warnings left."""
        runner = self.model_runner  # type: ignore[attr-defined]
        reload_log = logging.getLogger(RELOAD_LOGGER)
        if not any(isinstance(f, WeightlessLayerFilter) for f in reload_log.filters):
            reload_log.addFilter(WeightlessLayerFilter(weightless_layers(runner.get_model())))
        capture = _Capture()
        vllm_log = logging.getLogger("vllm")
        vllm_log.addHandler(capture)
        started = time.time()
        try:
            runner.reload_weights(weights_iterator=iter(items))
        finally:
            vllm_log.removeHandler(capture)
        return {"load_s": time.time() - started, "warnings": capture.messages, "tensors": len(items)}

    def rlvr_load_weights(self, named_tensors: Iterable[tuple[str, torch.Tensor]]) -> dict[str, Any]:
        """Replace the engine's weights in place with a full (unsharded) state dict.

        Give every tensor, lm_head included even when it is tied to the embedding: vLLM's
        loader expects the checkpoint's names, and leaving lm_head out gave wrong log-probs.
        """
        return self._rlvr_reload(list(named_tensors))

    def rlvr_join_sync_group(self, host: str, port: int, first_rank: int, world: int, timeout_s: float,
                             specs: list[TensorSpec], plan: list[list[int]]) -> int:
        """Join the collective weight-sync group as rank `first_rank` + this worker's rank in its engine."""
        rank = first_rank + int(getattr(self, "rank", 0))
        self.rlvr_sync = (TransferGroup(host, port, rank, world, timeout_s), specs, plan)
        return rank

    def rlvr_receive_weights(self, version: int) -> dict[str, Any]:
        """Receive `version` from learner rank 0's broadcast and load it (rlvr.rollout.weight_sync)."""
        group, specs, plan = self.rlvr_sync
        items, sender = receive(group, specs, plan, version)
        stats = self._rlvr_reload(items)
        return {**stats, "transfer_s": sender["transfer_s"], "wait_s": sender["wait_s"], "bytes": sender["bytes"]}

    def rlvr_reseed(self, seed: int) -> None:
        """Reseed this worker's torch generators (CPU and CUDA): unseeded requests draw from them.

        Called before every sampling call, so what a call samples does not depend on the calls before it.
        """
        torch.manual_seed(int(seed))
