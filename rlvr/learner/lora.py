"""LoRA on the learner (peft): wrapping, the merged weights the engines load, the adapter on disk.

The learner wraps its model with peft before FSDP2 shards it and optimises only the adapters. The
engines never see a peft model: after each step they get the merged weights under the base model's
names, W' = W + s * B A (s = alpha / r, or alpha / sqrt(r) with rsLoRA, read from each adapted layer),
computed out of place from the gathered state dict, so the live modules are never merged and
unmerged (which would drift) and vLLM loads them through the same path as full fine-tuning.
`adapter_payload` is the other route: just the adapter tensors, for an engine running vLLM's own LoRA
support (model.lora.sync=adapter).
"""
from __future__ import annotations

import copy
import os
from typing import Any

import torch

from rlvr.config import LoraConfig

PEFT_PREFIX = "base_model.model."  # what PeftModel adds in front of the base model's names
ADAPTER_NAME = "default"  # peft's name for the one adapter the learner trains
_WRAPPER = "_checkpoint_wrapped_module."  # torch's activation-checkpoint wrapper, not part of any name


def wrap(model: torch.nn.Module, cfg: LoraConfig) -> Any:
    """`model` with trainable LoRA adapters (fresh, or `cfg.init_adapter`) and every base parameter frozen.

    The adapters keep the base's dtype (autocast_adapter_dtype=False): FSDP2's mixed precision wants one
    original dtype per sharded group, and the learner's master weights are fp32 anyway.
    """
    from peft import LoraConfig as PeftLoraConfig
    from peft import PeftModel, get_peft_model

    if cfg.init_adapter:
        if not os.path.isfile(os.path.join(cfg.init_adapter, "adapter_config.json")):
            raise FileNotFoundError(f"model.lora.init_adapter={cfg.init_adapter!r}: no adapter_config.json there "
                                    "(a directory written by PeftModel.save_pretrained)")
        peft_model = PeftModel.from_pretrained(model, cfg.init_adapter, is_trainable=True,
                                               autocast_adapter_dtype=False)
    else:
        targets: Any = cfg.target_modules[0] if list(cfg.target_modules) == ["all-linear"] else list(cfg.target_modules)
        peft_cfg = PeftLoraConfig(r=cfg.rank, lora_alpha=cfg.alpha, lora_dropout=cfg.dropout, target_modules=targets,
                                  bias="none", task_type="CAUSAL_LM")
        peft_model = get_peft_model(model, peft_cfg, autocast_adapter_dtype=False)
    check_plain_lora(peft_model)
    return peft_model


def check_plain_lora(peft_model: Any) -> None:
    """Refuse adapter kinds `merge` cannot reproduce (DoRA, extra trained modules, trained biases)."""
    pc = peft_model.peft_config[ADAPTER_NAME]
    where = f"model.lora.init_adapter={getattr(pc, 'base_model_name_or_path', '') or 'adapter'}"
    if getattr(pc, "use_dora", False):
        raise ValueError(f"{where}: DoRA adapters are not supported (plain LoRA only)")
    if getattr(pc, "modules_to_save", None):
        raise ValueError(f"{where}: modules_to_save={pc.modules_to_save} is not supported (adapters only)")
    if getattr(pc, "bias", "none") != "none":
        raise ValueError(f"{where}: bias={pc.bias!r} is not supported (bias='none' only)")


def decoder_layers(model: torch.nn.Module) -> torch.nn.ModuleList:
    """The decoder layers FSDP2 shards one by one, through a peft wrapper if there is one."""
    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    return inner.model.layers


def scalings(peft_model: Any) -> dict[str, float]:
    """Each adapted layer's base-model name -> its scale s (alpha / r; alpha / sqrt(r) with rsLoRA)."""
    from peft.tuners.lora import LoraLayer

    out = {}
    for name, module in peft_model.named_modules():
        if isinstance(module, LoraLayer) and ADAPTER_NAME in module.scaling:
            out[_base_name(name)] = float(module.scaling[ADAPTER_NAME])
    return out


def _base_name(name: str) -> str:
    name = name.replace(_WRAPPER, "")
    return name[len(PEFT_PREFIX):] if name.startswith(PEFT_PREFIX) else name


def merge(state: dict[str, torch.Tensor], scaling: dict[str, float]) -> dict[str, torch.Tensor]:
    """The gathered peft state dict -> the merged weights under the base model's names.

    For each adapted layer M: M.weight = M.base_layer.weight + s_M * (M.lora_B @ M.lora_A), in fp32 and
    into new tensors (the inputs are not modified). Other tensors keep their values with `base_model.model.`
    and `.base_layer` taken out of their names. A key of any other adapter kind is an error, not dropped.
    """
    lora_a: dict[str, torch.Tensor] = {}
    lora_b: dict[str, torch.Tensor] = {}
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        name = _base_name(key)
        for tag, into in ((f".lora_A.{ADAPTER_NAME}.weight", lora_a), (f".lora_B.{ADAPTER_NAME}.weight", lora_b)):
            if name.endswith(tag):
                into[name[: -len(tag)]] = value
                break
        else:
            if "lora_" in name:
                raise ValueError(f"merge: unsupported adapter tensor {key!r} (plain LoRA A/B only)")
            out[name.replace(".base_layer.", ".")] = value
    if set(lora_a) != set(lora_b):
        raise ValueError(f"merge: layers with only one of lora_A/lora_B: {sorted(set(lora_a) ^ set(lora_b))}")
    for module, a in lora_a.items():
        if module not in scaling:
            raise ValueError(f"merge: no scale known for adapted layer {module!r}")
        weight = f"{module}.weight"
        base = out[weight].float()
        out[weight] = base + scaling[module] * (lora_b[module].float() @ a.float())
    return out


def adapter_payload(state: dict[str, torch.Tensor], peft_model: Any) -> dict[str, Any]:
    """Only the adapter, as peft saves it: {"tensors": name -> tensor (peft's file names), "config": its LoraConfig}."""
    from peft.utils import get_peft_model_state_dict

    tensors = get_peft_model_state_dict(peft_model, state_dict=state, adapter_name=ADAPTER_NAME,
                                        save_embedding_layers=False)
    config = copy.deepcopy(peft_model.peft_config[ADAPTER_NAME])
    config.inference_mode = True
    return {"tensors": {k: v.detach().float().contiguous() for k, v in tensors.items()}, "config": config}


def save_adapter(payload: dict[str, Any], path: str) -> str:
    """Write an adapter payload as a PEFT adapter directory (adapter_config.json, adapter_model.safetensors)."""
    from safetensors.torch import save_file

    os.makedirs(path, exist_ok=True)
    save_file(payload["tensors"], os.path.join(path, "adapter_model.safetensors"))
    payload["config"].save_pretrained(path)
    return path


def trainable_count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
