"""``python -m engines record cot_pass_at_k``: the RL run with lucky chains common, in resources/cot_pass_at_k/.

The science note of the issue: the logic prior — a right chain is likelier to end in a right answer than a wrong
one — needs wrong steps to usually reach wrong answers. The recorded reasoning run trains on prompts where they
do (``absorb = 0``). This recording starts from the *same* recorded SFT checkpoint and repeats that run's first
RL stage (math, 24-token limit, the same GRPO settings and seed) with ``train_absorb`` of the RL prompts able to
absorb a wrong step, so that the reward pays for lucky chains; checkpoints every 20 steps (fp16 safetensors)
and provenance beside them. Only the prompts' absorb share differs from the recorded run's first stage.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from engines.base import Snapshot, jsonable
from engines.recorded import resource_dir, write_provenance

from .config import Config

REASONING = resource_dir("reasoning")
LUCKY = resource_dir("cot_pass_at_k")


def lucky_recipe(cfg: Config):
    """The recorded run's first stage (math@24, 32 prompts × G = 8, lr 1e-4, on-policy) from its SFT checkpoint, with ``train_absorb``."""
    from engines.reasoning.grpo import GRPOSettings, Stage
    from engines.reasoning.recipe import EvalSettings, Recipe
    from engines.reasoning.sft import SFTSettings

    return Recipe(
        sft=SFTSettings(steps=0),
        grpo=GRPOSettings(32, 8, 1e-4, 1.0, 1.0, 1, "epochs", 0.2, True, pool_size=512, filter_samples=2, absorb=cfg.train_absorb),
        stages=(Stage("math@24", "math", "math", (2, 3), 24, cfg.train_steps, None),),
        eval=EvalSettings(prompts=32, samples=8, light_samples=4, every=20, max_new_tokens=48),
        checkpoint_every=20, model_path=str(REASONING / "checkpoints" / "seed0" / "sft"),
    )


def record(out_dir=LUCKY, config: Config | None = None, device: str = "auto", progress=None) -> dict:
    from engines.device import cpu_threads, resolve
    from engines.reasoning.recipe import run_recipe

    cfg = config or Config()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if (out / "checkpoints").is_dir():
        shutil.rmtree(out / "checkpoints")
    dev = resolve(device)
    recipe = lucky_recipe(cfg)
    t0 = time.perf_counter()
    rows = []
    with cpu_threads(cfg.cpu_threads or 1, dev), open(out / "metrics.jsonl", "w") as metrics:
        for ev in run_recipe(recipe, 0, out, dev):
            if ev.kind == "row":
                rows.append(ev.data)
                metrics.write(json.dumps(jsonable(ev.data)) + "\n")
                metrics.flush()
            if progress:
                progress(Snapshot(min(ev.progress, 0.999), ev.message))
    wall = time.perf_counter() - t0
    sets = "" if (cfg.train_absorb, cfg.train_steps) == (0.5, 40) else \
        f" --set train_absorb={cfg.train_absorb} --set train_steps={cfg.train_steps}"
    ckpts = [json.loads(p.read_text()) for p in sorted((out / "checkpoints").rglob("checkpoint.json"))]
    return write_provenance(out, "python -m engines record cot_pass_at_k" + sets, seeds=[0], rl_steps=cfg.train_steps,
                            train_absorb=cfg.train_absorb, start="resources/reasoning/checkpoints/seed0/sft",
                            torch_threads_used=cfg.cpu_threads or 1, wall_s=round(wall, 1),
                            checkpoints=sorted(ckpts, key=lambda c: c.get("step", 0)))
