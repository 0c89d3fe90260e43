"""stream / run: train the base model, evaluate every zero-shot scaling, extend UltraLong-style and against a control.

Progress is counted in token-passes (a training step weighs three forward passes). Snapshots name what changed:
``training`` (the loss curves), ``heatmap`` (a new grid row: heatmap, local_accuracy, scale, theta), ``calculator``.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ..base import Snapshot, consume
from ..device import cpu_threads, resolve
from .calculator import DTYPE_BYTES, PRESETS, ModelReport, model_report, read_model_config
from .config import Config
from .result import LABEL, Result
from .scalings import EXTENDED, ZERO_SHOT, toy_rope, training_rope
from .task import Haystack, Vocabulary, needle_documents, packs


def calculator_report(cfg: Config) -> ModelReport:
    """The calculator's answer for the Config's model (``model_config`` file if given, else the preset)."""
    facts = read_model_config(cfg.model_config) if cfg.model_config else PRESETS[cfg.model]
    return model_report(facts, cfg.calc_length, cfg.calc_scaling, cfg.calc_factor,
                        kv_element_bytes=None if cfg.kv_dtype == "model" else DTYPE_BYTES[cfg.kv_dtype],
                        yarn_beta_fast=cfg.yarn_beta_fast, yarn_beta_slow=cfg.yarn_beta_slow, yarn_truncate=cfg.yarn_truncate,
                        llama3_low_freq=cfg.llama3_low_freq, llama3_high_freq=cfg.llama3_high_freq)


def vocabulary(cfg: Config) -> Vocabulary:
    return Vocabulary(cfg.n_filler, cfg.n_keys, cfg.n_values, fused=cfg.needle == "fused")


def stream(config: Config | None = None, device: str = "auto") -> Iterator[Snapshot[Result]]:
    cfg = config or Config()
    report = calculator_report(cfg)
    folder = Path(cfg.recorded_dir) if cfg.recorded_dir else None
    if cfg.source == "recorded":
        from .record import load_recorded

        yield Snapshot(0.1, "reading the recorded run")
        result = load_recorded(folder, cfg, report)
        yield Snapshot(1.0, "recorded run (python -m engines record long_context remakes it)", result)
        return
    base = None
    if cfg.source == "extend":
        from .record import recorded_base

        cfg, weights, curves = recorded_base(folder, cfg)
        base = (weights, curves)
    dev = resolve(device)  # imports torch: not needed to show the recorded run
    with cpu_threads(cfg.cpu_threads, dev):
        yield from experiment(cfg, dev, report, base=base)


def run(config: Config | None = None, device: str = "auto") -> Result:
    return consume(stream(config, device))


class _Progress:
    def __init__(self, cfg: Config):
        grid = sum(cfg.n_depths * cfg.samples_per_cell * n for n in cfg.lengths)
        self.total = float(3 * cfg.base_steps * cfg.batch_size * cfg.train_length + 2 * 3 * cfg.extend_steps * cfg.extend_batch
                           * cfg.pack_length + (len(ZERO_SHOT) + len(EXTENDED)) * grid)
        self.done = 0.0

    def add(self, work: float) -> float:
        self.done += work
        return min(0.99, self.done / self.total)


def experiment(cfg: Config, dev, report: ModelReport, keep: dict | None = None, base: tuple | None = None) -> Iterator[Snapshot[Result]]:
    """The whole toy experiment; ``keep`` (if given) receives the three models' weights (what ``record`` ships);
    ``base`` = (weights, loss curves) starts from a trained base model instead of training one."""
    # torch and transformers load here, not when the engine is imported (the calculator and recorded runs need neither)
    from . import model as toy
    from .evaluation import depths, grid_documents, score
    from .training import train

    t_start = time.perf_counter()
    vocab = vocabulary(cfg)  # (cfg.source == "extend": the recorded base's model and task fields are already in cfg)
    hay = Haystack(vocab, cfg.haystack_noise, cfg.seed)
    result = Result.empty(cfg, report, depths(cfg))
    progress = _Progress(cfg)
    model = toy.build(vocab.size, cfg.d_model, cfg.n_layers, cfg.n_heads, cfg.ffn, cfg.rope_theta, cfg.seed, dev)
    result.parameters = toy.parameter_count(model)
    yield Snapshot(0.0, f"toy Llama: {result.parameters:,} parameters, vocabulary {vocab.size}", result.frozen(),
                   frozenset({"calculator"}))

    def training_phase(model, name: str, make_batch, steps: int, lr: float, step_tokens: int):
        answer, lm = np.zeros(steps), np.zeros(steps)
        every = max(1, steps // 40)
        for step, a, m in train(model, make_batch, steps, lr, cfg.lm_weight, dev):
            answer[step - 1], lm[step - 1] = a, m
            frac = progress.add(3 * step_tokens)
            if step % every == 0 or step == steps:
                setattr(result, f"{name}_answer_loss", answer[:step].copy())
                setattr(result, f"{name}_lm_loss", lm[:step].copy())
                yield Snapshot(frac, f"{name}: step {step}/{steps}, answer loss {a:.3f}, text loss {m:.3f}", result.frozen(),
                               frozenset({"training"}))

    # 1. the base model at L_train (or the recorded one)
    t0 = time.perf_counter()
    toy.set_rope(model, result.base_theta, 1.0)
    if base is None:
        rng = np.random.default_rng([cfg.seed, 1])
        yield from training_phase(model, "base", lambda: needle_documents(rng, hay, cfg.needle, cfg.distractors, cfg.batch_size,
                                                                          cfg.train_length),
                                  cfg.base_steps, cfg.lr, cfg.batch_size * cfg.train_length)
    else:
        weights, curves = base
        toy.load_state(model, weights)
        model.eval()
        for name, arr in curves.items():
            setattr(result, name, arr)
        progress.add(3 * cfg.base_steps * cfg.batch_size * cfg.train_length)
    result.timings["base_training_s"] = time.perf_counter() - t0

    documents = {n: grid_documents(cfg, hay, n) for n in cfg.lengths}
    scored: dict = {}

    def evaluate(model, name: str, scaling: str):
        i = result.row(scaling)
        for j, n in enumerate(cfg.lengths):
            theta, attention, s = toy_rope(cfg, scaling, n)
            key = (name, n, theta.tobytes(), attention)  # e.g. every zero-shot scaling at s = 1 is plain RoPE: scored once
            if key not in scored:
                toy.set_rope(model, theta, attention)
                acc, right, total = score(model, documents[n], dev)
                scored[key] = (acc, 100.0 * right / max(total, 1))
            result.heatmap[i, j], result.local_accuracy[i, j] = scored[key]
            result.scale[i, j], result.theta[i, j], result.attention_factor[i, j] = s, theta, attention
            frac = progress.add(cfg.n_depths * cfg.samples_per_cell * n)
            yield Snapshot(frac, f"{LABEL[scaling]} at {n} tokens: {np.mean(result.heatmap[i, j]):.1f} %", result.frozen(),
                           frozenset({"heatmap"}))

    # 2. zero-shot: the base model with every scaling
    t0 = time.perf_counter()
    for scaling in ZERO_SHOT:
        yield from evaluate(model, "base", scaling)
    result.timings["zero_shot_eval_s"] = time.perf_counter() - t0
    if keep is not None:
        keep["base"] = toy.state_dict_numpy(model)

    # 3. continued training at extend_factor × L_train on packed documents: YaRN (UltraLong) and plain RoPE (control)
    for scaling, name in (("ultralong", "ultralong"), ("ultralong_control", "control")):
        t0 = time.perf_counter()
        extended = copy.deepcopy(model)
        theta, attention = training_rope(cfg, scaling)
        toy.set_rope(extended, theta, attention)
        pack_rng = np.random.default_rng([cfg.seed, 2])  # the same packs for both
        yield from training_phase(extended, name, lambda r=pack_rng: packs(r, hay, cfg.needle, cfg.distractors, cfg.extend_batch,
                                                                        cfg.pack_length, cfg.train_length,
                                                                        cfg.extend_needle_lengths),
                                  cfg.extend_steps, cfg.extend_lr, cfg.extend_batch * cfg.pack_length)
        result.timings[f"{name}_training_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        yield from evaluate(extended, name, scaling)
        result.timings[f"{name}_eval_s"] = time.perf_counter() - t0
        if keep is not None:
            keep[name] = toy.state_dict_numpy(extended)
    result.timings["total_s"] = time.perf_counter() - t_start
    yield Snapshot(1.0, "done", result.frozen())
