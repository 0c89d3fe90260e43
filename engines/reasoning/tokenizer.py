"""A character-level tokenizer built in code as a ``transformers.PreTrainedTokenizerFast``.

A ``tokenizers`` WordLevel model over single characters, a pre-tokenizer that splits every character off,
a ``Fuse`` decoder (tokens are joined without spaces) and a template that puts ``<s>`` before a prompt, as
Llama's tokenizer does — so the code path (``tokenizer(texts)``, ``decode``, ``save_pretrained``,
``AutoTokenizer.from_pretrained``) is the one a real tokenizer takes. ``[wait]``, the self-check marker, is
one added (not special) token, so ``decode(..., skip_special_tokens=True)`` keeps it.
"""

from __future__ import annotations

import string

from .tasks import WAIT

PAD, BOS, EOS, UNK = "<pad>", "<s>", "</s>", "<unk>"
SPECIALS = (PAD, BOS, EOS, UNK)
CHARS = string.digits + "+-*=;>?()" + string.ascii_lowercase


def vocabulary() -> dict[str, int]:
    """Token → id: the four specials, ``[wait]``, then the characters."""
    return {tok: i for i, tok in enumerate((*SPECIALS, WAIT, *CHARS))}


def char_tokenizer():
    """The world's tokenizer (a ``PreTrainedTokenizerFast``; BOS is added to every encoded text)."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = vocabulary()
    core = Tokenizer(models.WordLevel(vocab, unk_token=UNK))
    core.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    core.decoder = decoders.Fuse()
    core.post_processor = processors.TemplateProcessing(single=f"{BOS} $A", pair=f"{BOS} $A $B", special_tokens=[(BOS, vocab[BOS])])
    core.add_special_tokens([AddedToken(t, special=True) for t in SPECIALS])
    core.add_tokens([AddedToken(WAIT, special=False, normalized=False)])
    return PreTrainedTokenizerFast(tokenizer_object=core, bos_token=BOS, eos_token=EOS, pad_token=PAD, unk_token=UNK,
                                   clean_up_tokenization_spaces=False, padding_side="left")
