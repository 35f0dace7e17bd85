"""The learner's GPU path: NCCL process group, FSDP2 with bf16 mixed precision, the policy step."""
import pytest
import torch

pytestmark = pytest.mark.gpu


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
    w = LearnerWorker(0, 1, LearnerConfig(lr=1e-2, grad_clip=1.0, warmup_steps=0), seed=0, total_steps=1)
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
    # the positive-advantage sample became more likely, the negative one less
    up = (after[0][mask[0]] - before[0][mask[0]]).sum()
    down = (after[1][mask[1]] - before[1][mask[1]]).sum()
    assert up > 0 > down, (up, down)
    sd = w.full_state_dict()
    assert sd["lm_head.weight"].dtype == torch.float32
    w.shutdown()
