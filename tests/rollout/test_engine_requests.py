"""VLLMEngine.generate_groups keying and stop-token accounting, on a stand-in for vLLM's engine (unit test:
the real engine runs in tests/test_end_to_end.py)."""
from __future__ import annotations

import queue
import threading
import time
from types import SimpleNamespace

from rlvr.rollout.inflight import Gate
from rlvr.rollout.vllm_engine import VLLMEngine, call_seed, stop_token_count
from rlvr.types import GroupRequest


class FakeLLMEngine:
    """Finishes every added request on the next step; the response is the request's own id as tokens."""

    def __init__(self):
        self.waiting = []
        self.params = []

    def add_request(self, request_id, prompt, params, lora_request=None):
        self.params.append(params)
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


def _engine(inflight_updates="off"):
    engine = VLLMEngine.__new__(VLLMEngine)
    engine.index, engine.seed, engine.version, engine.temperature = 0, 0, 0, 1.0
    engine.cfg = SimpleNamespace(top_p=1.0, top_k=0, inflight_updates=inflight_updates)
    engine.special_ids = {}  # no chat-template stop tokens
    engine.lora_request = None  # no LoRA adapter served
    engine.reseeds = []
    engine.gate, engine.prefix_stale, engine.steps = Gate(), False, 0  # what __init__ sets besides vLLM
    engine.live, engine.inbox, engine.driver, engine.loop_cv = {}, [], None, threading.Condition()
    engine.scoring, engine.score_calls = {}, 0
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


def test_final_outputs_only_unless_inflight_updates_read_partial_ones():
    from vllm.sampling_params import RequestOutputKind

    request = GroupRequest(prompt_id="p", prompt="q", prompt_ids=[1, 2], ground_truth="1", verifier="math", step=0,
                           n=2, max_tokens=8, uid=1)
    for mode, kind in [("off", RequestOutputKind.FINAL_ONLY), ("keep", RequestOutputKind.CUMULATIVE),
                       ("resubmit", RequestOutputKind.CUMULATIVE)]:
        engine = _engine(mode)
        engine.generate_groups([request], [], queue.Queue())
        assert [p.output_kind for p in engine.llm.llm_engine.params] == [kind, kind], mode


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


SCRIPT = "x = 4. Answer: 4 and then some more text"  # what the stand-in samples, one character a token


class ScriptedLLMEngine:
    """One token a step per request, spelling SCRIPT from where the request's prompt leaves off (a continuation
    goes on where its piece stopped); log-prob -(position + 1) / 100 - version. Checks stop strings on each
    request's own text only, as vLLM does."""

    def __init__(self, owner, on_step):
        self.owner, self.on_step = owner, on_step
        self.live = {}  # request id -> [prompt ids, tokens, max_tokens, stops]
        self.aborted = []
        self.steps = 0

    def add_request(self, request_id, prompt, params, lora_request=None):
        self.live[request_id] = [list(prompt["prompt_token_ids"]), [], params.max_tokens, params.stop or []]

    def abort_request(self, ids):
        self.aborted += ids
        for rid in ids:
            del self.live[rid]

    def has_unfinished_requests(self):
        return bool(self.live)

    def step(self):
        self.steps += 1
        self.on_step(self.steps)
        outs = []
        for rid, (prompt, tokens, max_tokens, stops) in list(self.live.items()):
            pos = len(prompt) - 2 + len(tokens)  # the original prompt has 2 tokens
            tokens.append(ord(SCRIPT[pos]))
            text = "".join(map(chr, tokens))
            hit = next((s for s in stops if s in text), None)
            finished = hit is not None or len(tokens) == max_tokens
            lps = [{t: SimpleNamespace(logprob=-(len(prompt) - 2 + i + 1) / 100 - self.owner.version)}
                   for i, t in enumerate(tokens)]
            outs.append(SimpleNamespace(request_id=rid, finished=finished, outputs=[SimpleNamespace(
                token_ids=list(tokens), text=text[: text.find(hit)] if hit else text, logprobs=lps,
                finish_reason="stop" if hit else ("length" if finished else None), stop_reason=hit)]))
            if finished:
                del self.live[rid]
        return outs


def _scripted(mode, switch_at):
    import threading

    from rlvr.rollout.inflight import Gate

    engine = _engine()
    engine.cfg = SimpleNamespace(top_p=1.0, top_k=0, inflight_updates=mode)
    engine.llm.reset_prefix_cache = lambda: True
    tokenizer = SimpleNamespace(decode=lambda ids, skip_special_tokens=True: "".join(map(chr, ids)))
    engine.llm.get_tokenizer = lambda: tokenizer

    def on_step(step):
        if step == switch_at:  # a weight update arrives while this step runs; it must wait for the step's end
            t = threading.Thread(target=engine.gate.weights, args=(None, lambda: setattr(engine, "version", 1)))
            t.start()
            while not engine.gate._mailbox:
                pass

    engine.llm.llm_engine = ScriptedLLMEngine(engine, on_step)
    return engine


def _one_sample(engine, max_tokens, stop):
    out = queue.Queue()
    req = GroupRequest(prompt_id="p", prompt="q", prompt_ids=[1, 2], ground_truth="4", verifier="math", step=0, n=1,
                       max_tokens=max_tokens, uid=0)
    engine.generate_groups([req], stop, out)
    return out.get_nowait()


def test_resubmit_stitches_pieces_and_catches_a_stop_string_straddling_them():
    engine = _scripted("resubmit", switch_at=9)  # piece 1 spells "x = 4. An", piece 2 "swer: ..."
    group = _one_sample(engine, 30, ["Answer"])
    (s,) = group.samples
    assert engine.llm.llm_engine.aborted == ["0:0#0"]
    # piece 2 alone never saw "Answer": the stitched response ends where it completes, as one request would
    assert s.response_text == "x = 4. " and s.finish_reason == "stop"
    assert "".join(map(chr, s.response_ids)) == "x = 4. Answer" and s.stop_tokens == 6
    assert s.versions == ((0, 0), (9, 1)) and group.version == 0
    # each token's log-prob is the one of the weights that sampled it (TIS reads them per token)
    assert s.rollout_logprobs == [-(i + 1) / 100 for i in range(9)] + [-(i + 1) / 100 - 1 for i in range(9, 13)]


def test_resubmit_keeps_the_total_budget_and_a_length_finish():
    engine = _scripted("resubmit", switch_at=4)
    (s,) = _one_sample(engine, 12, []).samples
    assert "".join(map(chr, s.response_ids)) == SCRIPT[:12] and s.finish_reason == "length"
    assert len(s.rollout_logprobs) == 12 and s.versions == ((0, 0), (4, 1))


def test_keep_records_the_switch_without_resubmitting():
    engine = _scripted("keep", switch_at=5)
    (s,) = _one_sample(engine, 30, ["Answer"]).samples
    assert engine.llm.llm_engine.aborted == []
    assert s.response_text == "x = 4. " and s.versions == ((0, 0), (5, 1)) and s.finish_reason == "stop"


def test_a_call_arriving_mid_loop_joins_it_and_returns_when_its_own_samples_are_done():
    """In-flight mode: call B, issued while call A's loop runs, is sampled in A's engine steps (continuous
    batching across steps) and its group is out long before A's; with in-flight updates off B waits for A's end."""

    class StepStampedQueue(queue.Queue):  # records the engine step at which each group came out
        def put(self, item, *args, **kwargs):
            super().put((engine.llm.llm_engine.steps, item), *args, **kwargs)

    for mode, joins in (("keep", True), ("off", False)):
        engine = _scripted(mode, switch_at=-1)
        engine.reseeds = []
        engine.llm.collective_rpc = lambda name, args: engine.reseeds.append(args)
        returned = {}

        def call(name, uid, max_tokens):
            out = StepStampedQueue()
            req = GroupRequest(prompt_id=name, prompt="q", prompt_ids=[1, 2], ground_truth="4", verifier="math",
                               step=uid, n=2, max_tokens=max_tokens, uid=uid)
            stats = engine.generate_groups([req], [], out)
            returned[name] = (stats, *out.get_nowait())

        started = []

        def on_step(step):
            if step == 5:
                started.append(threading.Thread(target=call, args=("B", 1, 8)))
                started[0].start()
                time.sleep(0.05)  # B reaches the gate (and in keep mode joins) while A's step 5 runs

        engine.llm.llm_engine.on_step = on_step
        call("A", 0, 30)
        started[0].join(5)
        a_stats, a_step, a_group = returned["A"]
        b_stats, b_step, b_group = returned["B"]
        assert [len(s.response_ids) for s in a_group.samples] == [30, 30] and a_stats["tokens"] == 60
        assert [len(s.response_ids) for s in b_group.samples] == [8, 8] and b_stats["tokens"] == 16
        assert "".join(map(chr, b_group.samples[0].response_ids)) == SCRIPT[:8]
        if joins:
            assert (a_step, b_step) == (30, 13)  # B's 8 tokens rode along A's steps 6-13
            assert len(engine.reseeds) == 1  # a joined call does not reseed the generator A samples from
        else:
            assert (a_step, b_step) == (30, 38) and len(engine.reseeds) == 2
        assert engine.gate.busy == "" and engine.gate.loopers == 0 and not engine.live and not engine.inbox
