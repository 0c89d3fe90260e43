"""``python -m engines bench long_cot_steering``: the paper's PEFT (last-layer amplification module + LoRA on the last
layer) against full LoRA (every projection of every layer), same start, same batches, same held-out evaluation.

Both arms start from the reasoning world's SFT checkpoint (5 % self-checked traces) and are trained on the
self-check trace mix the recorded model was trained on (``record.MIX``); then the baseline condition (no steering)
is sampled on the same held-out prompts with the same random numbers and scored as the engine scores it:
accuracy, reflection rate, length — each with its error — and the trainable parameters.
"""

from __future__ import annotations

import time

import numpy as np


def bench(quick: bool = False, device: str = "auto", progress=None) -> dict:
    import torch

    from engines import threads
    from engines.base import Snapshot
    from engines.device import cpu_threads, resolve
    from engines.reasoning.sft import TraceMix

    from . import peft
    from .config import Config
    from .generate import Steering, generate
    from .record import MIX
    from .result import _mean, _rate
    from .worlds import FALLBACK_MODEL, TaskWorld

    dev = resolve(device)
    steps, batch, lr = (4, 8, 1e-3) if quick else (120, 32, 1e-3)
    prompts, samples = (8, 1) if quick else (96, 2)
    rank = 8
    cfg = Config(checkpoint=str(FALLBACK_MODEL), prompts=prompts, samples=samples)
    report = {"start": str(FALLBACK_MODEL.name), "steps": steps, "batch": batch, "lr": lr, "rank": rank, "prompts": prompts,
              "samples": samples, "arms": {}}
    arms = [None, *peft.ARMS]
    with cpu_threads(1, dev):
        for k, arm in enumerate(arms):
            name = "start" if arm is None else arm.name
            world = TaskWorld(cfg, dev)
            model = world.model
            t0 = time.perf_counter()
            losses, trainable = [], 0
            if arm is not None:
                trainable = peft.build(model, arm, rank, seed=0)
                model.to(dev)

                def tick(step, loss, name=name, k=k):
                    if progress is not None and step % 10 == 0:
                        progress(Snapshot(min((k + step / steps) / len(arms), 0.99), f"{name}: step {step}, loss {loss:.3f}"))

                losses = peft.train(model, world.tok, TraceMix(**MIX), steps, batch, lr, seed=0, progress=tick)
            train_s = time.perf_counter() - t0
            tasks = world.tasks(prompts, cfg.seed)
            rows = [t for t in tasks for _ in range(samples)]
            gen = torch.Generator(device=dev).manual_seed(0)
            g = generate(model, world, [world.encode_prompt(t.prompt) for t in rows], Steering("none", False), {}, 48, 0.7, 0.95, gen)
            scores = [world.score(t, text, cut) for t, text, cut in zip(rows, g.texts, g.truncated)]
            acc, acc_se = _rate(np.array([s["correct"] for s in scores]))
            refl, refl_se = _rate(np.array([s["reflections"] > 0 for s in scores]))
            length, length_se = _mean(np.array([len(t) for t in g.tokens]))
            report["arms"][name] = {"trainable_parameters": int(trainable), "accuracy": acc, "accuracy_se": acc_se,
                                    "reflection_rate": refl, "reflection_rate_se": refl_se, "mean_length": length,
                                    "mean_length_se": length_se, "final_loss": float(np.mean(losses[-10:])) if losses else None,
                                    "train_s": round(train_s, 1)}
        report["threads"] = threads.describe()  # inside the block: the thread count the arms ran with
    return report
