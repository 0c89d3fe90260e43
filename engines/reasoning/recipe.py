"""The whole recipe for one seed: (build or load the policy) → SFT → RL stages, with held-out evaluation,
metrics rows, sample completions and checkpoints as events — what every engine on this world runs.

Rows (one JSON object per line of ``metrics.jsonl``) carry ``seed``, ``run`` (``main`` or ``ablation``),
``phase``, ``stage`` and either ``sft_step`` (SFT) or ``step`` (RL step, 0 = the SFT end) with veRL's
metric names. Held-out evaluation runs every ``eval.every`` steps and at the end of every stage on
``light_samples`` samples per prompt, and at the SFT end and the end of every phase on ``samples`` per
prompt (``val-core/<family>/acc/mean@n``: the ``@n`` tells the two apart; ``eval`` is ``light`` or ``full``).
Checkpoints: the SFT end, every ``checkpoint_every`` RL steps, each phase end, as ``checkpoints/seed<s>/<name>``.

The updates-per-batch ablation (``ablation_steps`` > 0) starts from a copy of the SFT policy and runs the
first stage with ``ablation_updates`` updates per batch, same seed, same prompts, same lr; its rows have
``run = ablation`` and the main run's first steps are the 1-update arm.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .checkpoints import save_checkpoint
from .evaluate import Evaluation, evaluate
from .grpo import GRPO, GRPOSettings, Stage
from .model import ModelShape, load_policy, parameter_count, tiny_llama
from .sft import SFTSettings, TraceMix, train_sft
from .tasks import heldout_tasks
from .tokenizer import char_tokenizer


@dataclass(frozen=True)
class EvalSettings:
    prompts: int = 128
    samples: int = 32
    light_samples: int = 4
    every: int = 10
    max_new_tokens: int = 48
    temperature: float = 1.0
    top_p: float = 1.0
    math_levels: tuple[int, ...] = (2, 3)
    code_levels: tuple[int, ...] = (2, 3)
    seed: int = 12345


@dataclass(frozen=True)
class Recipe:
    shape: ModelShape = ModelShape()
    mix: TraceMix = TraceMix()
    sft: SFTSettings = SFTSettings()
    grpo: GRPOSettings = GRPOSettings()
    stages: tuple[Stage, ...] = ()
    eval: EvalSettings = EvalSettings()
    checkpoint_every: int = 0
    model_path: str = ""
    ablation_steps: int = 0
    ablation_updates: int = 4

    @property
    def rl_steps(self) -> int:
        return sum(s.steps for s in self.stages)


@dataclass
class Event:
    """What the recipe reports: ``row`` (a metrics row), ``samples``, ``checkpoint``, or ``progress`` only."""

    kind: str
    data: dict | list = field(default_factory=dict)
    progress: float = 0.0
    message: str = ""


def heldout(ev: EvalSettings) -> dict[str, list]:
    """The fixed held-out sets (the same for every seed and stage)."""
    return {"math": heldout_tasks("math", ev.prompts, ev.math_levels, ev.seed),
            "code": heldout_tasks("code", ev.prompts, ev.code_levels, ev.seed + 1)}


def evaluate_all(model, tokenizer, sets: dict, ev: EvalSettings, samples: int, seed: int) -> dict[str, Evaluation]:
    return {fam: evaluate(model, tokenizer, tasks, samples, ev.max_new_tokens, ev.temperature, ev.top_p, seed=seed + i)
            for i, (fam, tasks) in enumerate(sets.items())}


def _work(recipe: Recipe) -> float:
    """Rough cost units (one SFT step = 1, one RL step ≈ 6, a full evaluation ≈ 2 per 1,000 samples) for progress."""
    ev = recipe.eval
    full = 2 * ev.prompts * ev.samples / 1000 * 2
    light = 2 * ev.prompts * ev.light_samples / 1000 * 2
    n_light = recipe.rl_steps // max(ev.every, 1)
    phases = len({s.phase for s in recipe.stages})
    rl = 6 * (recipe.rl_steps + recipe.ablation_steps)
    return recipe.sft.steps + rl + full * (1 + phases) + light * (n_light + len(recipe.stages)) + 1


def build_policy(recipe: Recipe, seed: int, device):
    if recipe.model_path:
        return load_policy(recipe.model_path, device)
    tok = char_tokenizer()
    return tiny_llama(tok, recipe.shape, seed).to(device), tok


def run_recipe(recipe: Recipe, seed: int, run_dir: str | Path, device="cpu", policy=None,
               stop: Callable[[], bool] | None = None) -> Iterator[Event]:
    """Run the recipe for one seed; checkpoints go under ``run_dir``. ``policy`` = (model, tokenizer) skips building one."""
    model, tok = policy if policy is not None else build_policy(recipe, seed, device)
    ckpt_root = Path(run_dir) / "checkpoints" / f"seed{seed}"
    total, done = _work(recipe), 0.0
    base = {"seed": seed, "run": "main"}
    ev = recipe.eval
    sets = heldout(ev)
    n_params = parameter_count(model)
    yield Event("progress", {"parameters": n_params}, 0.0, f"seed {seed}: {n_params / 1e6:.2f}M-parameter policy")

    if recipe.sft.steps > 0:
        for row in train_sft(model, tok, recipe.mix, recipe.sft, seed):
            done = row["sft_step"]
            yield Event("row", {**base, "phase": "sft", "stage": "sft", **row}, done / total, f"seed {seed}: SFT step {row['sft_step']}")

    def full_eval(step: int, stage: str, phase: str, label: str):
        nonlocal done
        evs = evaluate_all(model, tok, sets, ev, ev.samples, ev.seed + 7 * step + 1000 * seed)
        done += 4 * ev.prompts * ev.samples / 1000
        row = {**base, "phase": phase, "stage": stage, "step": step, "eval": "full"}
        for e in evs.values():
            row.update(e.metrics())
        return [Event("row", row, done / total, f"seed {seed}: held-out evaluation ({label})"),
                Event("samples", [{"seed": seed, "step": step, "stage": stage, "family": f, **x}
                                  for f, e in evs.items() for x in e.examples])]

    def checkpoint(name: str, step: int, stage: str):
        path = save_checkpoint(model, tok, ckpt_root / name, seed=seed, step=step, stage=stage, name=name)
        return Event("checkpoint", {"seed": seed, "name": name, "step": step, "stage": stage, "path": str(path)}, done / total)

    yield from full_eval(0, "sft", "sft", "after SFT")
    yield checkpoint("sft", 0, "sft")

    if recipe.ablation_steps > 0 and recipe.stages and recipe.ablation_updates != recipe.grpo.updates_per_batch:
        twin = copy.deepcopy(model)
        arm = GRPO(twin, tok, dataclasses.replace(recipe.grpo, updates_per_batch=recipe.ablation_updates), seed)
        first = recipe.stages[0]
        pool, _ = arm.pool(first, 0)
        for i, batch in zip(range(1, recipe.ablation_steps + 1), arm.batches(pool)):
            metrics, _ = arm.step(batch, first.max_new_tokens)
            done += 6
            yield Event("row", {"seed": seed, "run": "ablation", "phase": first.phase, "stage": first.name, "step": i, **metrics},
                        done / total, f"seed {seed}: ablation, {recipe.ablation_updates} updates per batch, step {i}")
            if stop and stop():
                return
        del twin, arm

    trainer = GRPO(model, tok, recipe.grpo, seed)
    step = 0
    for index, stage in enumerate(recipe.stages):
        pool, info = trainer.pool(stage, index)
        for i, batch in zip(range(1, stage.steps + 1), trainer.batches(pool)):
            step += 1
            metrics, samples = trainer.step(batch, stage.max_new_tokens)
            done += 6
            row = {**base, "phase": stage.phase, "stage": stage.name, "step": step, "max_new_tokens": stage.max_new_tokens, **metrics}
            if i == 1:
                row.update(info)
            last = i == stage.steps
            phase_end = last and (index + 1 == len(recipe.stages) or recipe.stages[index + 1].phase != stage.phase)
            if not phase_end and (last or (ev.every and step % ev.every == 0)):
                for e in evaluate_all(model, tok, sets, ev, ev.light_samples, ev.seed + 7 * step + 1000 * seed).values():
                    row.update(e.metrics())
                row["eval"] = "light"
                done += 4 * ev.prompts * ev.light_samples / 1000
            yield Event("row", row, done / total, f"seed {seed}: {stage.name} step {i}/{stage.steps}")
            yield Event("samples", [{"seed": seed, "step": step, "stage": stage.name, "family": stage.family, **x} for x in samples])
            if phase_end:
                yield from full_eval(step, stage.name, stage.phase, f"end of {stage.phase}")
                yield checkpoint(stage.phase, step, stage.name)
            elif recipe.checkpoint_every and step % recipe.checkpoint_every == 0:
                yield checkpoint(f"step_{step:04d}", step, stage.name)
            if stop and stop():
                return
