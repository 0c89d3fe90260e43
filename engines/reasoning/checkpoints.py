"""Checkpoints: ``save_pretrained`` folders (fp16 safetensors, tokenizer, ``checkpoint.json``) that :func:`load_policy` opens.

A checkpoint is a folder a Hugging Face user can open as it is (``AutoModelForCausalLM.from_pretrained``);
``checkpoint.json`` beside the weights says which seed, stage and RL step made it.
"""

from __future__ import annotations

import json
from pathlib import Path

from .errors import ReasoningError
from .model import load_policy

META = "checkpoint.json"


def save_checkpoint(model, tokenizer, folder: str | Path, half: bool = True, **meta) -> Path:
    """Write ``model`` (fp16 when ``half``) and ``tokenizer`` to ``folder`` with ``meta`` in checkpoint.json."""
    import torch
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # no "Writing model shards" bar on the CLI's stderr
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    state = {k: (v.detach().to("cpu", torch.float16) if half and v.is_floating_point() else v.detach().cpu())
             for k, v in model.state_dict().items()}
    if getattr(model.config, "tie_word_embeddings", False):
        state.pop("lm_head.weight", None)  # tied to the input embedding: stored once, re-tied on loading
    model.save_pretrained(out, state_dict=state)
    tokenizer.save_pretrained(out)
    (out / META).write_text(json.dumps({"dtype": "float16" if half else "float32", **meta}, indent=2) + "\n")
    return out


def read_meta(folder: str | Path) -> dict:
    path = Path(folder) / META
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except json.JSONDecodeError as err:
        raise ReasoningError(f"{path}: line {err.lineno}: not JSON ({err.msg})") from None


def load_checkpoint(folder: str | Path, device="cpu"):
    """``(model, tokenizer, meta)`` of a checkpoint folder (weights in float32 for training)."""
    model, tok = load_policy(folder, device)
    return model, tok, read_meta(folder)


def list_checkpoints(root: str | Path) -> list[dict]:
    """Every checkpoint folder under ``root`` (those with a checkpoint.json): its path and meta, sorted by (seed, step)."""
    rows = [{"path": str(p.parent), **read_meta(p.parent)} for p in Path(root).rglob(META)]
    return sorted(rows, key=lambda r: (r.get("seed", 0), r.get("step", 0), r["path"]))
