"""``python -m engines record cot_pass_at_k``: the RL run with lucky chains common, in resources/cot_pass_at_k/.

The science note of the issue: the logic prior — a right chain is likelier to end in a right answer than a wrong
one — needs wrong steps to usually reach wrong answers. The recorded reasoning run trains on prompts where they
do (``absorb = 0``). This recording starts from the *same* recorded SFT checkpoint and repeats that run's first
RL stage (math, 24-token limit, the same GRPO settings and seed) with ``train_absorb`` of the RL prompts able to
absorb a wrong step, so that the reward pays for lucky chains; checkpoints every 20 steps (fp16 safetensors)
and provenance beside them. Only the prompts' absorb share differs from the recorded run's first stage.

It then samples the default job once (the engine's default Config: the recorded run's checkpoints) and writes
those samples as a dump, ``default_samples.jsonl`` (every sample's answer, chain and CoT flags, the text of the
kept right-answer/wrong-chain samples): the panel opens on it in a second, and Run with ``source = recorded``
samples the same again.
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


SAMPLES = LUCKY / "default_samples.jsonl"


def record_samples(out_dir=LUCKY, config: Config | None = None, device: str = "auto", progress=None) -> dict:
    """Run the default job (``config`` with source = recorded) and write its samples to ``default_samples.jsonl``."""
    from engines.base import consume

    from .engine import dump_result, stream

    cfg = (config or Config()).replace(source="recorded", dump="")
    t0 = time.perf_counter()
    result = consume(stream(cfg, device), progress)
    path = dump_result(result, Path(out_dir) / SAMPLES.name)
    return {"command": "python -m engines record cot_pass_at_k (its last step)", "file": path.name,
            "wall_s": round(time.perf_counter() - t0, 1),
            "config": {k: v for k, v in cfg.to_dict().items() if v != getattr(Config(), k)} or "the defaults",
            "checkpoints": result.names, "prompts": len(result.prompts), "samples": result.n()}


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
    samples = record_samples(out, cfg, device, progress)
    return write_provenance(out, "python -m engines record cot_pass_at_k" + sets, seeds=[0], rl_steps=cfg.train_steps,
                            default_samples=samples,
                            train_absorb=cfg.train_absorb, start="resources/reasoning/checkpoints/seed0/sft",
                            torch_threads_used=cfg.cpu_threads or 1, wall_s=round(wall, 1),
                            checkpoints=sorted(ckpts, key=lambda c: c.get("step", 0)))
