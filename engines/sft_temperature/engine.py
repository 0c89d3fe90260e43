"""stream / run: the advisor on recorded checkpoints beside the recorded study (default), or the whole study live.

``mode = advisor``: the vocabulary-scaling table (numpy, instant), the recorded study from resources/sft_temperature/
when it is there (``study.jsonl`` + ``provenance.json``; no torch), then H_T against T of each checkpoint (the
reasoning world's recorded ones, or ``checkpoint``: any Hugging Face causal LM folder or .gguf) and the advised T.
``mode = study``: :func:`engines.reasoning`-based SFT → RL per start and seed (:mod:`.study`), a snapshot per record.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

from engines.base import Snapshot, consume
from engines.recorded import read_provenance, resource_dir

from .config import Config
from .entropy import advise, vocab_scaling
from .result import Result

RECORDED = resource_dir("sft_temperature")
CHECKPOINTS = resource_dir("reasoning") / "checkpoints" / "seed0"


class SFTTemperatureError(ValueError):
    """Bad input to the sft_temperature engine (a missing checkpoint, a malformed recorded study)."""


def read_study(folder: str | Path) -> tuple[list[dict], dict]:
    """The records and provenance of a recorded study folder (SFTTemperatureError naming the file and line)."""
    folder = Path(folder)
    try:
        prov = read_provenance(folder)
    except ValueError as err:
        raise SFTTemperatureError(str(err)) from None
    path = folder / "study.jsonl"
    if not path.is_file():
        raise SFTTemperatureError(f"{path}: the recorded study has no records")
    rows = []
    for i, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise SFTTemperatureError(f"{path}: line {i}: not JSON ({err.msg})") from None
        if not isinstance(row, dict) or row.get("kind") not in ("sft", "advisor", "rl") or "seed" not in row or "start" not in row:
            raise SFTTemperatureError(f"{path}: line {i}: expected a record with kind sft/advisor/rl, seed and start")
        rows.append(row)
    return rows, prov


def read_studies(folder: str | Path) -> tuple[list[dict], dict]:
    """A recorded study and, in its ``recorded_start/`` subfolder when present, the temperature arms run from the reasoning
    world's recorded SFT policy (``--set scaling=false --set temperature_start=recorded``): records joined, provenances
    side by side (the second under ``"recorded_start"``)."""
    rows, prov = read_study(folder)
    extra = Path(folder) / "recorded_start"
    if (extra / "provenance.json").exists():
        more, prov2 = read_study(extra)
        rows, prov = rows + more, {**prov, "recorded_start": prov2}
    return rows, prov


def checkpoint_paths(cfg: Config) -> list[tuple[str, Path]]:
    """(name, path) of every policy the advisor measures."""
    if cfg.checkpoint:
        p = Path(cfg.checkpoint).expanduser()
        if not p.exists():
            raise SFTTemperatureError(f"checkpoint {cfg.checkpoint}: no such file or folder (allowed: a Hugging Face model folder "
                                      "or a .gguf file)")
        return [(p.stem if p.is_file() else p.name, p)]
    out = []
    for name in cfg.checkpoint_names():
        p = CHECKPOINTS / name
        if not (p / "config.json").is_file():
            raise SFTTemperatureError(f"checkpoints: {p} is not a recorded checkpoint (make them with `python -m engines record "
                                      "acereason`)")
        out.append((f"recorded {name}", p))
    return out


def advisor_prompts(cfg: Config) -> list[str]:
    """Held-out prompts the advisor samples: half math, half code, at the RL levels (code at levels 2, 3)."""
    from engines.reasoning.tasks import heldout_tasks

    from .config import int_list

    levels = int_list(cfg.rl_levels, "rl_levels", 1, 6)
    n_math = (cfg.advisor_prompts + 1) // 2
    return ([t.prompt for t in heldout_tasks("math", n_math, levels, 777)]
            + [t.prompt for t in heldout_tasks("code", cfg.advisor_prompts - n_math, (2, 3), 778)])


def measure_checkpoint(cfg: Config, name: str, path: Path, device) -> dict:
    """H_T against T of one policy and the advised T."""
    from transformers.utils import logging as hf_logging

    from engines.reasoning.errors import ReasoningError
    from engines.reasoning.model import load_policy

    from .entropy import measure_entropy

    hf_logging.disable_progress_bar()  # no "Loading weights" bar on the CLI's stderr
    try:
        model, tok = load_policy(path, device)
    except ReasoningError as err:
        raise SFTTemperatureError(str(err)) from None
    curve = measure_entropy(model, tok, advisor_prompts(cfg), cfg.grid(), cfg.advisor_samples, cfg.advisor_max_new_tokens,
                            seed=cfg.seed, chat=cfg.chat)
    return {"name": name, "path": str(path), **curve.to_dict(), **advise(curve.temperatures, curve.entropy, cfg.target_entropy)}


def stream(config: Config | None = None, device: str = "auto") -> Iterator[Snapshot]:
    cfg = config or Config()
    t0 = time.perf_counter()
    result = Result(cfg, vocab=vocab_scaling())
    if cfg.mode == "advisor":
        folder = Path(cfg.study_dir) if cfg.study_dir else RECORDED
        if (folder / "provenance.json").exists() or cfg.study_dir:
            result.study, result.study_source = read_studies(folder)
        yield Snapshot(0.05, "recorded study" if result.study else "no recorded study", result.frozen(),
                       frozenset({"scaling", "temperature", "vocab"}))
        from engines.device import cpu_threads, resolve

        dev = resolve(device)
        paths = checkpoint_paths(cfg)
        with cpu_threads(cfg.cpu_threads, dev):
            for i, (name, path) in enumerate(paths):
                result.curves.append(measure_checkpoint(cfg, name, path, dev))
                result.wall_s = time.perf_counter() - t0
                c = result.curves[-1]
                msg = f"{name}: advised T = {c['temperature']:.3f} ({c['where']})"
                if i + 1 < len(paths):
                    yield Snapshot(0.05 + 0.95 * (i + 1) / len(paths), msg, result.frozen(), frozenset({"advisor", "summary"}))
        result.wall_s = time.perf_counter() - t0
        yield Snapshot(1.0, f"advisor done in {result.wall_s:.1f} s", result.frozen())
        return

    from engines.device import cpu_threads, resolve

    from .study import run_seed

    dev = resolve(device)
    seeds = [cfg.seed + i for i in range(cfg.seeds)]
    with cpu_threads(cfg.cpu_threads, dev):
        for i, seed in enumerate(seeds):
            for ev in run_seed(cfg, seed, dev):
                progress = min((i + ev.progress) / len(seeds), 0.999)
                changed = frozenset({"progress"})  # a progress-only event: nothing a view draws is new
                if ev.kind != "progress":
                    result.study.append({"kind": ev.kind, **ev.data})
                    changed = {"sft": frozenset({"scaling", "summary"}), "advisor": frozenset({"temperature", "summary"}),
                               "rl": frozenset({"scaling", "temperature", "rl", "summary"})}[ev.kind]
                result.wall_s = time.perf_counter() - t0
                yield Snapshot(progress, ev.message, result.frozen(), changed)
    result.wall_s = time.perf_counter() - t0
    yield Snapshot(1.0, f"study done in {result.wall_s:.0f} s", result.frozen())


def run(config: Config | None = None, device: str = "auto") -> Result:
    return consume(stream(config, device))


def load_recorded(config: Config | None = None, folder: str | Path = RECORDED) -> Result:
    """The recorded study as a Result (no torch, no advisor curve)."""
    rows, prov = read_studies(folder)
    return Result((config or Config()).replace(mode="study"), vocab=vocab_scaling(), study=rows, study_source=prov,
                  wall_s=float(prov.get("wall_s", 0.0)))
