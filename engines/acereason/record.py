"""``python -m engines record acereason``: remake the recorded run in resources/reasoning/.

The recorded run belongs to the reasoning world, not to one engine: it lives in ``resources/reasoning/`` (the other
reasoning engines start from its checkpoints), so the CLI's default folder for this engine (``resources/acereason``)
is redirected there; any other ``--out`` is used as given.

It is the given Config's run with at least 3 seeds, trained into the output folder: the
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
from engines.recorded import resource_dir, write_provenance

from .config import Config
from .engine import RECORDED, stream

SEEDS = 3


def command_for(config: Config) -> str:
    """The command line that remakes this recording (the fields that differ from the defaults as --set)."""
    default = Config()
    sets = [f"--set {f.name}={getattr(config, f.name)}" for f in dataclasses.fields(Config)
            if f.name not in ("run_dir", "recorded") and getattr(config, f.name) != getattr(default, f.name)
            and not (f.name == "seeds" and config.seeds == SEEDS)]
    return " ".join(["python -m engines record acereason", *sets])


def record(out_dir, config: Config | None = None, device: str = "auto", progress=None) -> dict:
    out = Path(out_dir)
    if out.resolve() == resource_dir("acereason").resolve():
        if out.is_dir() and not any(out.iterdir()):
            out.rmdir()  # the CLI made it; nothing goes there
        out = RECORDED
    out.mkdir(parents=True, exist_ok=True)
    cfg = (config or Config()).replace(recorded=False, run_dir=str(out))
    cfg = cfg.replace(seeds=max(cfg.seeds, SEEDS))
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
    for seed_dir in (out / "checkpoints").glob("seed*"):
        if seed_dir.name != f"seed{first}":
            shutil.rmtree(seed_dir)  # the recording keeps one seed's checkpoints (the size limit), every seed's metrics
    result.checkpoints = [c for c in result.checkpoints if c["seed"] == first]
    result.save(out)
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    root = RECORDED.parents[1]
    folder = str(out.resolve().relative_to(root)) if out.resolve().is_relative_to(root) else str(out)
    return write_provenance(
        out, command_for(cfg), folder=folder, seeds=result.seeds(), sft_steps=cfg.sft_steps, rl_steps=cfg.math_steps + cfg.code_steps,
        ablation_steps=cfg.ablation_steps, torch_threads_used=cfg.cpu_threads, wall_s=round(wall, 1), parameters=result.parameters,
        size_mb=round(size / 2**20, 2),
        checkpoints=[{k: c[k] for k in ("name", "step", "stage")} for c in result.checkpoints], config=cfg.replace(run_dir="").to_dict(),
    )
