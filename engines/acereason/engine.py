"""stream / run: SFT, then math-only RL, then code-only RL, for each seed; or open the recorded run.

The recipe (engines.reasoning.recipe) runs per seed; this module turns the Config into it, writes
``metrics.jsonl`` and ``samples.jsonl`` live into ``run_dir`` (so a log follower can watch the run), gathers
the rows into the Result and yields a snapshot per metrics row (``changed``: ``curves`` and ``summary``) and per
checkpoint (``checkpoints``). ``recorded=True`` reads resources/reasoning/ instead (no torch import: a quarter
of a second).
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from engines.base import Snapshot, consume, jsonable
from engines.recorded import read_provenance, resource_dir

from .config import Config, int_list
from .result import Result

RECORDED = resource_dir("reasoning")
MAX_SAMPLES = 400  # samples kept in the Result (the most recent); samples.jsonl keeps all


def recipe_for(cfg: Config):
    """The library's Recipe for this Config: stages math@L… then code@L…, filtering from the second stage on."""
    from engines.reasoning.grpo import GRPOSettings, Stage
    from engines.reasoning.model import ModelShape
    from engines.reasoning.recipe import EvalSettings, Recipe
    from engines.reasoning.sft import SFTSettings, TraceMix

    math_levels = int_list(cfg.math_levels, "math_levels", 1, 6)
    code_levels = int_list(cfg.code_levels, "code_levels", 1, 6)
    stages = []
    for phase, steps, lengths, levels in (("math", cfg.math_steps, cfg.math_lengths, math_levels),
                                          ("code", cfg.code_steps, cfg.code_lengths, code_levels)):
        lengths = int_list(lengths, f"{phase}_lengths", 4, 1024)
        for i, n in enumerate(lengths):
            k = steps // len(lengths) + (i < steps % len(lengths))
            if k:
                filt = cfg.filter_above if stages and cfg.filter_above < 1 else None  # from the second stage on
                stages.append(Stage(f"{phase}@{n}", phase, phase, levels, n, k, filt))
    return Recipe(
        shape=ModelShape(cfg.hidden_size, cfg.layers, cfg.heads, cfg.intermediate_size, max(128, cfg.eval_max_new_tokens + 64)),
        mix=TraceMix(cfg.code_share, cfg.wrong_share, cfg.lucky_share, cfg.self_check_share, (1, *math_levels), (1, *code_levels),
                     cfg.absorb),
        sft=SFTSettings(cfg.sft_steps, cfg.sft_batch, cfg.sft_lr, warmup=min(100, max(cfg.sft_steps // 10, 1))),
        grpo=GRPOSettings(cfg.prompts_per_step, cfg.group_size, cfg.lr, cfg.temperature, cfg.top_p, cfg.updates_per_batch, cfg.update_mode,
                          cfg.clip_eps,
                          cfg.overlong_filter, pool_size=cfg.pool_size, filter_samples=cfg.filter_samples, absorb=cfg.absorb),
        stages=tuple(stages),
        eval=EvalSettings(cfg.eval_prompts, cfg.eval_samples, cfg.light_samples, cfg.eval_every, cfg.eval_max_new_tokens,
                          cfg.eval_temperature, 1.0, math_levels, code_levels),
        checkpoint_every=cfg.checkpoint_every, model_path=cfg.model,
        ablation_steps=cfg.ablation_steps, ablation_updates=cfg.ablation_updates,
    )


def stream(config: Config | None = None, device: str = "auto") -> Iterator[Snapshot]:
    cfg = config or Config()
    if cfg.recorded:
        yield Snapshot(1.0, "recorded run", load_recorded(cfg))
        return
    from engines.device import cpu_threads, resolve
    from engines.reasoning.recipe import run_recipe

    dev = resolve(device)
    recipe = recipe_for(cfg)
    run_dir = Path(cfg.run_dir) if cfg.run_dir else Path(tempfile.mkdtemp(prefix="acereason-"))
    run_dir.mkdir(parents=True, exist_ok=True)
    result = Result(cfg, run_dir=str(run_dir))
    t0 = time.perf_counter()
    seeds = [cfg.seed + i for i in range(cfg.seeds)]
    with (cpu_threads(cfg.cpu_threads, dev), open(run_dir / "metrics.jsonl", "w") as metrics,
          open(run_dir / "samples.jsonl", "w") as samples):
        for i, seed in enumerate(seeds):
            r = recipe if i == 0 else dataclasses.replace(recipe, ablation_steps=0)  # the ablation arm: first seed only
            for ev in run_recipe(r, seed, run_dir, dev):
                progress = min((i + ev.progress) / len(seeds), 0.999)
                if ev.kind == "row":
                    result.rows.append(ev.data)
                    metrics.write(json.dumps(jsonable(ev.data)) + "\n")
                    metrics.flush()
                elif ev.kind == "samples":
                    result.samples.extend(ev.data)
                    del result.samples[:-MAX_SAMPLES]
                    for s in ev.data:
                        samples.write(json.dumps(jsonable(s)) + "\n")
                    samples.flush()
                    continue
                elif ev.kind == "checkpoint":
                    result.checkpoints.append(ev.data)
                elif "parameters" in ev.data:
                    result.parameters = ev.data["parameters"]
                result.wall_s = time.perf_counter() - t0
                changed = {"row": frozenset({"curves", "summary"}), "checkpoint": frozenset({"checkpoints"})}.get(ev.kind, frozenset())
                yield Snapshot(progress, ev.message, result.frozen(), changed)
    result.wall_s = time.perf_counter() - t0
    yield Snapshot(1.0, f"done in {result.wall_s:.0f} s", result.frozen())


def run(config: Config | None = None, device: str = "auto") -> Result:
    return consume(stream(config, device))


def open_log(path: str | Path, format: str = "auto") -> Result:
    """A TRL, veRL, own or TensorBoard log (File → Open) as a Result: the same curves and stage bounds, no training.

    For a log that keeps growing, poll a ``LogFollower`` and rebuild with :func:`log_result` from its ``run``.
    """
    from engines.reasoning.logs import read_log

    return log_result(read_log(path, format))


def log_result(run) -> Result:
    """The Result view of a ``LogRun`` (its rows as they stand)."""
    return Result(Config(recorded=True), rows=list(run.rows), run_dir=run.path, recorded={"log": run.path, "format": run.format})


def read_jsonl(path: Path) -> list[dict]:
    from engines.reasoning.logs import read_log

    return read_log(path, "own").rows if path.exists() else []


def load_recorded(cfg: Config, folder: str | Path = RECORDED) -> Result:
    """The Result of the recorded run in ``folder``: its metrics, samples, checkpoints and provenance (no training)."""
    from engines.reasoning.errors import ReasoningError
    from engines.reasoning.logs import LogError

    folder = Path(folder)
    try:
        prov = read_provenance(folder)
    except ValueError as err:
        raise ReasoningError(str(err)) from None
    rows = read_jsonl(folder / "metrics.jsonl")
    if not rows:
        raise LogError(f"{folder / 'metrics.jsonl'}: line 1: the recorded run has no metrics")
    samples = [json.loads(line) for line in (folder / "samples.jsonl").read_text().splitlines() if line.strip()] \
        if (folder / "samples.jsonl").exists() else []
    ckpts = []
    for meta in sorted((folder / "checkpoints").rglob("checkpoint.json")):
        ckpts.append({**json.loads(meta.read_text()), "path": str(meta.parent)})
    ckpts.sort(key=lambda c: (c.get("seed", 0), c.get("step", 0)))
    return Result(cfg, rows=rows, samples=samples[-MAX_SAMPLES:], checkpoints=ckpts, run_dir=str(folder),
                  parameters=int(prov.get("parameters", 0)), wall_s=float(prov.get("wall_s", 0.0)), recorded=prov)
