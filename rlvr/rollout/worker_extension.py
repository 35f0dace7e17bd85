"""Methods vLLM mixes into its worker class (`worker_extension_cls`), reached by collective_rpc.

The name must not clash with the worker's own methods (vLLM's CPU worker already has an
`update_weights`), hence the prefix.
"""
from __future__ import annotations

from typing import Iterable

import torch


class WeightLoader:
    def rlvr_load_weights(self, named_tensors: Iterable[tuple[str, torch.Tensor]]) -> int:
        """Replace the engine's weights in place with a full (unsharded) state dict.

        Give every tensor, lm_head included even when it is tied to the embedding: vLLM's
        loader expects the checkpoint's names, and leaving lm_head out gave wrong log-probs.
        """
        items = list(named_tensors)
        self.model_runner.reload_weights(weights_iterator=iter(items))  # type: ignore[attr-defined]
        return len(items)

    def rlvr_reseed(self, seed: int) -> None:
        """Reseed this worker's torch generators (CPU and CUDA): unseeded requests draw from them.

        Called before every sampling call, so what a call samples does not depend on the calls before it.
        """
        torch.manual_seed(int(seed))
