"""VLLMEngine.generate_groups keying and stop-token accounting, on a stand-in for vLLM's engine (unit test:
the real engine runs in tests/test_end_to_end.py)."""
from __future__ import annotations

import queue
from types import SimpleNamespace

from rlvr.rollout.vllm_engine import VLLMEngine, call_seed, stop_token_count
from rlvr.types import GroupRequest


class FakeLLMEngine:
    """Finishes every added request on the next step; the response is the request's own id as tokens."""

    def __init__(self):
        self.waiting = []

    def add_request(self, request_id, prompt, params, lora_request=None):
        if any(rid == request_id for rid, _ in self.waiting):
            raise ValueError(f"duplicate request id {request_id}")  # vLLM refuses these too
        self.waiting.append((request_id, prompt["prompt_token_ids"]))

    def has_unfinished_requests(self):
        return bool(self.waiting)

    def step(self):
        out, self.waiting = self.waiting, []
        return [SimpleNamespace(request_id=rid, finished=True, outputs=[SimpleNamespace(
            token_ids=[len(ids)], text=rid, logprobs=[{len(ids): SimpleNamespace(logprob=-0.5)}],
            finish_reason="length", stop_reason=None)]) for rid, ids in out]


def _engine():
    engine = VLLMEngine.__new__(VLLMEngine)
    engine.index, engine.seed, engine.version, engine.temperature = 0, 0, 0, 1.0
    engine.cfg = SimpleNamespace(top_p=1.0, top_k=0)
    engine.special_ids = {}  # no chat-template stop tokens
    engine.lora_request = None  # no LoRA adapter served
    engine.reseeds = []
    engine.llm = SimpleNamespace(llm_engine=FakeLLMEngine(),
                                 collective_rpc=lambda name, args: engine.reseeds.append((name, args)))
    return engine


def test_the_same_prompt_twice_in_one_step_gives_two_separate_groups():
    def req(prompt_ids, uid):
        return GroupRequest(prompt_id="p7", prompt="q", prompt_ids=prompt_ids, ground_truth="1", verifier="math",
                            step=3, n=2, max_tokens=8, uid=uid)

    engine = _engine()
    out = queue.Queue()
    stats = engine.generate_groups([req([1, 2], 10), req([1, 2, 3], 11)], [], out)
    groups = [out.get_nowait() for _ in range(int(stats["groups"]))]
    assert sorted(g.request.uid for g in groups) == [10, 11]
    for g in groups:
        # each group holds its own request's two samples, none of the other's
        assert [s.response_ids for s in g.samples] == [[len(g.request.prompt_ids)]] * 2
        assert all(s.max_tokens == 8 for s in g.samples)
    assert engine.reseeds == [("rlvr_reseed", (call_seed(0, 0, "groups", 10),))]


def test_call_seed_depends_only_on_the_call():
    assert call_seed(0, 0, "groups", 5) == call_seed(0, 0, "groups", 5)
    assert len({call_seed(0, 0, "groups", 5), call_seed(1, 0, "groups", 5), call_seed(0, 1, "groups", 5),
                call_seed(0, 0, "generate", 5), call_seed(0, 0, "groups", 6)}) == 5
    assert 0 <= call_seed(3, 2, "generate", 0) < 2**63


def test_stop_token_count_finds_the_tokens_of_the_matched_stop():
    vocab = {1: "Answer", 2: ": 4", 3: "\n", 4: ".\n\n"}

    def decode(ids):
        return "".join(vocab[i] for i in ids)

    assert stop_token_count([1, 2, 3, 3], "Answer: 4", decode) == 2  # "\n" "\n" is the stop
    assert stop_token_count([1, 2, 4], "Answer: 4.", decode) == 1  # a token straddling body and stop counts
    assert stop_token_count([1, 2], "Answer: 4", decode) == 0
