"""``python -m engines record acereason``: remake the recorded run in resources/reasoning/.

The recorded run is the given Config's run with at least 3 seeds, trained into the output folder: the
``metrics.jsonl`` and ``samples.jsonl`` of every seed, the first seed's checkpoints (the SFT end, every
``checkpoint_every`` RL steps, each phase end; fp16 safetensors), the saved Result (result.json, arrays,
figures) and ``provenance.json`` with the command, seeds, steps, wall time and commit.
"""

from __future__ import annotations

import dataclasses
import shutil
import time
from pathlib import Path

from engines.base import consume
from engines.recorded import write_provenance

from .config import Config
from .engine import stream

SEEDS = 3


def command_for(config: Config) -> str:
    """The command line that remakes this recording (the fields that differ from the defaults as --set)."""
    default = Config()
    sets = [f"--set {f.name}={getattr(config, f.name)}" for f in dataclasses.fields(Config)
            if f.name not in ("run_dir", "recorded") and getattr(config, f.name) != getattr(default, f.name)
            and not (f.name == "seeds" and config.seeds == SEEDS)]
    return " ".join(["python -m engines record acereason", *sets])


def record(out_dir, config: Config | None = None, device: str = "auto", progress=None) -> dict:
    cfg = (config or Config()).replace(recorded=False, run_dir=str(out_dir))
    cfg = cfg.replace(seeds=max(cfg.seeds, SEEDS))
    out = Path(out_dir)
    for old in ("checkpoints", "metrics.jsonl", "samples.jsonl"):
        target = out / old
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
    t0 = time.perf_counter()
    result = consume(stream(cfg, device), progress)
    wall = time.perf_counter() - t0
    first = result.seeds()[0]
    for folder in (out / "checkpoints").glob("seed*"):
        if folder.name != f"seed{first}":
            shutil.rmtree(folder)  # the recording keeps one seed's checkpoints (the size limit), every seed's metrics
    result.checkpoints = [c for c in result.checkpoints if c["seed"] == first]
    result.save(out)
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    return write_provenance(
        out, command_for(cfg), seeds=result.seeds(), sft_steps=cfg.sft_steps, rl_steps=cfg.math_steps + cfg.code_steps,
        ablation_steps=cfg.ablation_steps, wall_s=round(wall, 1), parameters=result.parameters, size_mb=round(size / 2**20, 2),
        checkpoints=[{k: c[k] for k in ("name", "step", "stage")} for c in result.checkpoints], config=cfg.replace(run_dir="").to_dict(),
    )
