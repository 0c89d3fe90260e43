"""``python -m engines record sft_temperature``: remake the recorded study in resources/sft_temperature/.

The given Config's study (``mode = study``, at least 3 seeds) trained into memory; the folder gets ``study.jsonl``
(every SFT, advisor and RL record of every seed), the saved Result (result.json, arrays, the scaling and
temperature tables, figures) and ``provenance.json`` with the command, seeds, steps, wall time, threads and commit.
No checkpoints are kept (the study's policies are small and quick to remake; the folder stays a few hundred KB).
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

from engines.base import jsonable
from engines.recorded import git_commit, write_provenance

from .config import Config
from .engine import stream

SEEDS = 3


def command_for(config: Config) -> str:
    """The command line that remakes this recording (the fields that differ from the defaults as --set)."""
    default = Config()
    sets = [f"--set {f.name}={getattr(config, f.name)}" for f in dataclasses.fields(Config)
            if f.name not in ("mode", "study_dir") and getattr(config, f.name) != getattr(default, f.name)
            and not (f.name == "seeds" and config.seeds == SEEDS)]
    return " ".join(["python -m engines record sft_temperature", *sets])


def record(out_dir, config: Config | None = None, device: str = "auto", progress=None) -> dict:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cfg = (config or Config()).replace(mode="study", study_dir="")
    cfg = cfg.replace(seeds=max(cfg.seeds, SEEDS))
    commit = git_commit()  # the code that trains (the tree may move on during a long recording)
    t0, cpu0 = time.perf_counter(), time.process_time()
    partial = out / "study.partial.jsonl"  # every record as it arrives: a stopped recording keeps what it made
    result, written = None, 0
    with open(partial, "w") as f:
        for snap in stream(cfg, device):
            if progress is not None:
                progress(snap)
            result = snap.result
            for r in result.study[written:]:
                f.write(json.dumps(jsonable(r)) + "\n")
            f.flush()
            written = len(result.study)
    if result is None or snap.progress != 1.0:
        raise RuntimeError("sft_temperature: the study ended without a final result")
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    result.save(out)
    partial.unlink()
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    sft = result.records("sft")
    return write_provenance(
        out, command_for(cfg), commit=commit, seeds=result.seeds(), starts=result.start_names(),
        sft_epochs=cfg.sft_epochs, rl_steps=cfg.rl_steps,
        torch_threads_used=cfg.cpu_threads, wall_s=round(wall, 1), cpu_s=round(cpu, 1), parameters=int(sft[0]["parameters"]) if sft else 0,
        size_mb=round(size / 2**20, 3), device=str(device), config=cfg.to_dict(),
        scaled_down="the paper's 7B SFT on millions of traces and long RL, scaled to a 0.43M-parameter Llama, 256–1,024 SFT "
                    "traces, 12 SFT epochs and 32 GRPO steps so that the whole study fits in about 25 minutes on 1 thread",
    )
