"""The learner's GPU path: NCCL process group, FSDP2 with bf16 mixed precision, the policy step."""
import pytest
import torch

pytestmark = pytest.mark.gpu


@pytest.fixture(autouse=True)
def _fresh_process_group():
    """A failed test must not leave its process group for the next one."""
    yield
    if torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (CI has none; run with -m gpu on one)")
def test_policy_step_on_gpu(tmp_path):
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from rlvr.algorithms.config import AlgorithmConfig
    from rlvr.config import LearnerConfig
    from rlvr.learner.batching import count_loss_tokens, policy_shards
    from rlvr.learner.objectives import PolicyStep, policy_objective
    from rlvr.learner.worker import LearnerWorker, free_port
    from rlvr.types import Sample

    cfg = Qwen2Config(vocab_size=256, hidden_size=128, num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=2,
                      intermediate_size=256, head_dim=64, tie_word_embeddings=True)
    Qwen2ForCausalLM(cfg).save_pretrained(tmp_path)
    w = LearnerWorker(0, 1, LearnerConfig(lr=1e-3, grad_clip=1.0, warmup_steps=0), seed=0, total_steps=1)
    w.setup("127.0.0.1", free_port(), str(tmp_path))
    assert w.device.type == "cuda" and torch.distributed.get_backend() == "nccl"
    # Different responses (identical ones with opposite advantages would cancel exactly); rollout
    # log-probs near the uniform policy's so the TIS weight is about 1.
    samples = [Sample("p", [1, 2, 3], resp, "", [-5.5] * 4, "stop") for resp in ([4, 5, 6, 7], [8, 9, 10, 11])]
    shards = policy_shards(samples, [1.0, -1.0], 1, 2, pad_id=0)
    tokens, seqs = count_loss_tokens(shards)
    ctx = PolicyStep(algorithm=AlgorithmConfig(), eps_low=0.2, eps_high=0.272, global_tokens=tokens,
                     global_seqs=seqs, agg_constant=4.0, temperature=1.0)
    before = w.logprobs(shards[0])[0]
    stats = w.train_step(shards[0], policy_objective, ctx)
    after = w.logprobs(shards[0])[0]
    assert stats["tokens"] == tokens, stats
    assert stats["grad_norm"] > 0, stats
    mask = shards[0][0]["loss_mask"]
    # the positive-advantage sample became more likely, and more so than the negative one (Adam's first step
    # moves every shared weight by about lr, so the negative sample's own change can have either sign)
    up = (after[0][mask[0]] - before[0][mask[0]]).sum()
    down = (after[1][mask[1]] - before[1][mask[1]]).sum()
    assert up > 0 and up > down, (up, down)
    sd = w.full_state_dict()
    assert sd["lm_head.weight"].dtype == torch.float32
    w.shutdown()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (CI has none; run with -m gpu on one)")
@pytest.mark.parametrize("variant", ["pack", "compile", "lora"])
def test_gpu_variants_match_the_plain_step(tmp_path, variant):
    """learner.pack, learner.compile and model.lora.rank on the GPU path (bf16 compute): the first step's loss
    matches the plain padded eager step's (LoRA's B starts at zero, so its first loss is the base model's)."""
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from rlvr.algorithms.config import AlgorithmConfig
    from rlvr.config import LearnerConfig, LoraConfig
    from rlvr.learner.batching import count_loss_tokens, policy_shards
    from rlvr.learner.objectives import PolicyStep, policy_objective
    from rlvr.learner.worker import LearnerWorker, free_port
    from rlvr.types import Sample

    cfg = Qwen2Config(vocab_size=256, hidden_size=128, num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=2,
                      intermediate_size=256, head_dim=64, tie_word_embeddings=True)
    Qwen2ForCausalLM(cfg).save_pretrained(tmp_path)
    samples = [Sample("p", [1, 2, 3], list(range(4, 4 + n)), "", [-5.5] * n, "stop") for n in (2, 9, 3, 12)]
    losses = []
    for on in (False, True):
        lcfg = LearnerConfig(lr=1e-3, grad_clip=1.0, warmup_steps=0, compile=on and variant == "compile")
        w = LearnerWorker(0, 1, lcfg, seed=0, total_steps=1, lora=LoraConfig(rank=8 if on and variant == "lora" else 0))
        w.setup("127.0.0.1", free_port(), str(tmp_path))
        shards = policy_shards(samples, [1.0, -1.0, 0.5, -0.5], 1, 4, pad_id=0, pack=on and variant == "pack")
        tokens, seqs = count_loss_tokens(shards)
        ctx = PolicyStep(algorithm=AlgorithmConfig(), eps_low=0.2, eps_high=0.272, global_tokens=tokens,
                         global_seqs=seqs, agg_constant=12.0, temperature=1.0)
        losses.append(w.train_step(shards[0], policy_objective, ctx)["loss"])
        w.shutdown()
    assert losses[1] == pytest.approx(losses[0], rel=2e-2, abs=1e-3), losses
