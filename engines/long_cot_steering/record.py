"""``python -m engines record long_cot_steering``: remake the task-world model in resources/long_cot_steering/model.

Reflection has to exist in a model before it can be elicited: the reasoning world's SFT checkpoint
(resources/reasoning/checkpoints/seed0/sft, 5 % self-checked traces) is fine-tuned further on traces of which a
third carry a ``[wait]`` self-check of a step (half of those correct a wrong first attempt) and 15 % carry a wrong
step to a wrong answer (``tasks.trace_text``), so the model both errs and sometimes re-verifies. The folder gets the
fp16 checkpoint, ``metrics.jsonl`` (the SFT loss) and ``provenance.json``.

Then the given Config (default: the engine's default job) is run on that model and saved, with its own
provenance, in ``runs/<model>/`` — the run the panel opens (``recorded=True``). ``--set model=smollm2`` skips the
training and records the SmolLM2 run in ``runs/smollm2/`` (``--set train=...`` is not needed: SmolLM2 is not trained).
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
STEPS, BATCH, LR, SEED = 240, 32, 5e-4, 0


def record(out_dir=RECORDED, config=None, device: str = "auto", progress=None) -> dict:
    """Train the task-world model (unless ``config.model`` is smollm2), then record the Config's run; return the provenance."""
    from engines.base import consume

    from .config import Config
    from .engine import stream

    cfg = (config or Config()).replace(recorded=False)
    out = Path(out_dir)
    prov = {}
    if cfg.model == "task" and not cfg.checkpoint:
        prov = train(out, cfg.cpu_threads, device, progress)
        cfg = cfg.replace(checkpoint=str(out / "model"))
    t0 = time.perf_counter()
    result = consume(stream(cfg, device), progress)
    run_dir = out / "runs" / cfg.model
    result.config = result.config.replace(checkpoint="")  # the stored config names the recorded model, wherever it lies
    result.save(run_dir)
    sets = " ".join(f"--set {k}={v}" for k, v in cfg.to_dict().items() if k != "checkpoint" and v != getattr(Config(), k))
    run_prov = write_provenance(run_dir, f"python -m engines record long_cot_steering {sets}".strip(), seeds=[cfg.seed],
                                torch_threads_used=cfg.cpu_threads, wall_s=round(time.perf_counter() - t0, 1),
                                model=result.model_source, config=cfg.replace(checkpoint="").to_dict())
    return {"training": prov, "run": run_prov}


def train(out: Path, threads: int, device: str = "auto", progress=None) -> dict:
    import torch

    from engines.base import Snapshot
    from engines.device import cpu_threads, resolve
    from engines.reasoning.checkpoints import load_checkpoint, save_checkpoint
    from engines.reasoning.model import parameter_count
    from engines.reasoning.sft import SFTSettings, TraceMix, train_sft

    out.mkdir(parents=True, exist_ok=True)
    dev = resolve(device)
    t0 = time.perf_counter()
    rows = []
    with cpu_threads(threads, dev):
        torch.manual_seed(SEED)
        model, tok, _ = load_checkpoint(START, dev)
        settings = SFTSettings(STEPS, BATCH, LR, warmup=20)
        for row in train_sft(model, tok, TraceMix(**MIX), settings, seed=SEED, log_every=20):
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
