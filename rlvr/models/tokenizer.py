"""A small byte-level BPE tokenizer trained on our own corpus, saved so vLLM and transformers load it.

The pipeline is exactly Qwen2's (NFC normaliser, Qwen2's split regex, byte-level BPE). That is not taste:
transformers 5 ``AutoTokenizer`` (which vLLM and the learner call) sees ``model_type: qwen2`` in the checkpoint's
config.json and builds ``Qwen2Tokenizer``, which keeps our vocab and merges but REBUILDS the normaliser and
pre-tokenizer from Qwen2's hard-coded pattern. Any other pattern would tokenize differently at training and at
rollout time (we measured a model that scored 0.39 drop to 0.03 that way).

Digits: Qwen2's pattern makes every digit its own pre-token (" 144" -> " ", "1", "4", "4"). We keep that rather
than whole-number tokens because (1) every integer, including ones never seen in the corpus (GSM8K's, say),
tokenizes the same consistent way, while BPE merges of whole numbers depend on corpus frequency, so rare results
such as 121 or 132 would be split differently from frequent ones; (2) the answer vocabulary is ten digits, so
each digit embedding learns from every number instead of 1/145 of them, which is what a sub-1M-parameter model
trained for minutes needs; (3) it costs little: numbers here have at most three digits.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

EOS = "<|endoftext|>"
THINK_START, THINK_END = "<think>", "</think>"
IM_START, IM_END = "<|im_start|>", "<|im_end|>"
SPECIAL_TOKENS = [EOS, THINK_START, THINK_END, IM_START, IM_END]

# Qwen2's split pattern, character for character (see the module docstring for why it must be).
SPLIT_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)

# ChatML, for the SFT/Think stages; RL-Zero prompts are plain text and never use it.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def train_tokenizer(
    texts: Iterable[str],
    vocab_size: int = 512,
    out_dir: str | Path | None = None,
    min_frequency: int = 2,
) -> PreTrainedTokenizerFast:
    """Train byte-level BPE on ``texts``; save it to ``out_dir`` (if given) with ``save_pretrained``.

    ``vocab_size`` counts the 256 byte symbols and the special tokens, so it must exceed 256 + 5.
    """
    floor = 256 + len(SPECIAL_TOKENS)
    if vocab_size <= floor:
        raise ValueError(f"vocab_size must be > {floor} (256 bytes + {len(SPECIAL_TOKENS)} special tokens), "
                         f"got {vocab_size}")
    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(SPLIT_PATTERN), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=SPECIAL_TOKENS,  # ids 0..4, in this order: <|endoftext|> is id 0
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    hf = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token=EOS,
        bos_token=EOS,
        pad_token=EOS,
        unk_token=None,
        extra_special_tokens=[THINK_START, THINK_END, IM_START, IM_END],
        model_max_length=1 << 20,
        clean_up_tokenization_spaces=False,
    )
    hf.chat_template = CHAT_TEMPLATE
    if out_dir is not None:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        hf.save_pretrained(str(out_dir))
    return hf


def load_tokenizer(path: str | Path) -> PreTrainedTokenizerFast:
    """Load a tokenizer saved by :func:`train_tokenizer` (or any transformers tokenizer directory)."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(path))
