"""The policy: a ``transformers.LlamaForCausalLM`` trained here, or any Hugging Face causal LM from a path.

:func:`tiny_llama` builds a Llama from a ``LlamaConfig`` sized by its arguments (tied input/output
embeddings, RoPE, SwiGLU MLP, RMSNorm — the real architecture at a small size), so hooks on
``model.model.layers[i].mlp.act_fn`` work as on a released Llama. :func:`load_policy` opens a local
model folder (``config.json`` + weights, tokenizer beside it) or a GGUF file (transformers dequantises
it), so a GPU user runs the same recipe on a real model.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from engines.inputs import regular_file

from .errors import ReasoningError

MAX_MODEL_BYTES = 64 << 30  # a GGUF file this reader opens (the largest models a workstation holds)


@dataclass(frozen=True)
class ModelShape:
    """The Llama's size: hidden width, layers, attention heads, MLP width, longest sequence."""

    hidden_size: int = 128
    layers: int = 4
    heads: int = 4
    intermediate_size: int = 384
    max_positions: int = 128


def tiny_llama(tokenizer, shape: ModelShape = ModelShape(), seed: int = 0):
    """A randomly initialised ``LlamaForCausalLM`` for ``tokenizer``'s vocabulary (initialised from ``seed``)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    if shape.hidden_size % shape.heads:
        raise ReasoningError(f"hidden_size {shape.hidden_size}: must be a multiple of heads ({shape.heads})")
    cfg = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=shape.hidden_size, intermediate_size=shape.intermediate_size,
        num_hidden_layers=shape.layers, num_attention_heads=shape.heads, num_key_value_heads=shape.heads,
        max_position_embeddings=shape.max_positions, tie_word_embeddings=True, bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id, attn_implementation="sdpa",
    )
    torch.manual_seed(seed)
    return LlamaForCausalLM(cfg)


def parameter_count(model) -> int:
    return sum(p.numel() for p in model.parameters())


def load_policy(path: str | Path, device="cpu"):
    """``(model, tokenizer)`` from a model folder or a ``.gguf`` file, in float32 on ``device``, in eval mode."""
    p = Path(path).expanduser()
    if not p.exists():
        raise ReasoningError(f"model {path}: no such file or folder (allowed: a Hugging Face model folder or a .gguf file)")
    if not p.is_dir():  # checked before anything opens it: a pipe or a device named x.gguf would block the read
        regular_file(p, ReasoningError, max_bytes=MAX_MODEL_BYTES)
        if p.suffix.lower() != ".gguf":
            raise ReasoningError(f"model {path}: a file must be GGUF (.gguf); a Hugging Face model is a folder")
    elif not (p / "config.json").is_file():
        raise ReasoningError(f"model {path}: the folder has no config.json (expected save_pretrained output)")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        if not p.is_dir():
            tok = AutoTokenizer.from_pretrained(p.parent, gguf_file=p.name)
            model = AutoModelForCausalLM.from_pretrained(p.parent, gguf_file=p.name, dtype=torch.float32)
        else:
            tok = AutoTokenizer.from_pretrained(p)
            model = AutoModelForCausalLM.from_pretrained(p, dtype=torch.float32)
    except MemoryError:
        raise
    except Exception as err:  # a user's file: whatever transformers or gguf raise on it becomes one line naming it
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise ReasoningError(f"model {path}: cannot be loaded ({type(err).__name__}: {first})") from None
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    tok.padding_side = "left"
    return model.to(device).eval(), tok
