"""``python -m engines record long_cot_steering``: remake the task-world model in resources/long_cot_steering/model.

Reflection has to exist in a model before it can be elicited: the reasoning world's SFT checkpoint
(resources/reasoning/checkpoints/seed0/sft, 5 % self-checked traces) is fine-tuned further on traces of which a
third carry a ``[wait]`` self-check of a step (half of those correct a wrong first attempt) and 15 % carry a wrong
step to a wrong answer (``tasks.trace_text``), so the model both errs and sometimes re-verifies. The folder gets the
fp16 checkpoint, ``metrics.jsonl`` (the SFT loss) and ``provenance.json``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from engines.recorded import resource_dir, write_provenance

RECORDED = resource_dir("long_cot_steering")
START = resource_dir("reasoning") / "checkpoints" / "seed0" / "sft"
MIX = {"code_share": 0.5, "wrong_share": 0.15, "lucky_share": 0.05, "self_check_share": 0.33, "math_levels": (1, 2, 3),
       "code_levels": (1, 2, 3)}
STEPS, BATCH, LR, SEED = 80, 32, 5e-4, 0


def record(out_dir=RECORDED, config=None, device: str = "auto", progress=None) -> dict:
    import torch

    from engines.base import Snapshot
    from engines.device import cpu_threads, resolve
    from engines.reasoning.checkpoints import load_checkpoint, save_checkpoint
    from engines.reasoning.model import parameter_count
    from engines.reasoning.sft import SFTSettings, TraceMix, train_sft

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    dev = resolve(device)
    threads = config.cpu_threads if config is not None else 1
    t0 = time.perf_counter()
    rows = []
    with cpu_threads(threads, dev):
        torch.manual_seed(SEED)
        model, tok, _ = load_checkpoint(START, dev)
        settings = SFTSettings(STEPS, BATCH, LR, warmup=10)
        for row in train_sft(model, tok, TraceMix(**MIX), settings, seed=SEED, log_every=10):
            rows.append(row)
            if progress is not None:
                progress(Snapshot(min(row["sft_step"] / STEPS, 0.99), f"SFT step {row['sft_step']}: loss {row['sft/loss']:.3f}"))
        save_checkpoint(model, tok, out / "model", seed=SEED, step=STEPS, stage="self-check SFT", name="model")
    with open(out / "metrics.jsonl", "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
    wall = time.perf_counter() - t0
    return write_provenance(
        out, "python -m engines record long_cot_steering", folder="resources/long_cot_steering", seeds=[SEED], sft_steps=STEPS,
        batch=BATCH, lr=LR, start=str(START.relative_to(RECORDED.parents[1])), trace_mix=MIX, torch_threads_used=threads,
        wall_s=round(wall, 1), parameters=parameter_count(model), final_loss=rows[-1]["sft/loss"] if rows else None,
    )
