"""Byte-level BPE tokenizer trained with the `tokenizers` library, saved as a HF fast tokenizer.

The saved tokenizer carries its special tokens and a chat template, so the chat endpoint works with
any model this module produces.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

BOS = "<|bos|>"
EOS = "<|eos|>"
PAD = "<|pad|>"
IM_START = "<|im_start|>"
IM_END = "<|im_end|>"
SENTINELS = [f"<|span_{i}|>" for i in range(16)]  # span-corruption objective
SPECIAL_TOKENS = [BOS, EOS, PAD, IM_START, IM_END, *SENTINELS]

# ChatML: the least surprising template for users of vLLM/TGI; <|im_end|> doubles as a stop token.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


class TokenizerError(ValueError):
    """The corpus cannot support the requested tokenizer."""


def train_tokenizer(texts: Iterable[str], vocab_size: int, min_frequency: int = 2) -> Tokenizer:
    """Train a byte-level BPE on `texts`; TokenizerError if the corpus is empty or too small."""
    if vocab_size < 256 + len(SPECIAL_TOKENS):
        raise TokenizerError(
            f"vocab size {vocab_size} is below 256 bytes plus {len(SPECIAL_TOKENS)} specials"
        )
    seen = {"chars": 0}

    def counted(it: Iterable[str]) -> Iterator[str]:
        for t in it:
            seen["chars"] += len(t)
            yield t

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(counted(texts), trainer=trainer)
    if seen["chars"] == 0:
        raise TokenizerError("the corpus is empty: no text to train a tokenizer on")
    got = tok.get_vocab_size()
    if got < vocab_size:
        raise TokenizerError(
            f"the corpus supports only {got} tokens, fewer than the requested vocab size "
            f"{vocab_size}; use a larger corpus or a smaller --vocab-size"
        )
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    return tok


def to_hf(tok: Tokenizer, model_max_length: int) -> PreTrainedTokenizerFast:
    """Wrap a trained tokenizer as a HF fast tokenizer with specials and the chat template."""
    hf = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        additional_special_tokens=[IM_START, IM_END, *SENTINELS],
        model_max_length=model_max_length,
        clean_up_tokenization_spaces=False,
    )
    hf.chat_template = CHAT_TEMPLATE
    return hf


def save_tokenizer(tok: Tokenizer, out: Path, model_max_length: int) -> PreTrainedTokenizerFast:
    """Save as HF tokenizer files (tokenizer.json, tokenizer_config.json, special tokens)."""
    hf = to_hf(tok, model_max_length)
    hf.save_pretrained(str(out))
    return hf
