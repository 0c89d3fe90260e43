"""The recorded run in ``resources/long_context``: three checkpoints, the grid, and how they were made.

``record(out_dir, config)`` trains and evaluates (``source=train``), then writes ``result.json``, ``arrays.npz``, the
CSV tables and PNG figures (``Result.save``), ``config.json`` (the Config), ``base.safetensors``,
``ultralong.safetensors`` and ``control.safetensors`` (float32 weights, ~0.6 MB each) and ``provenance.json``.
``load_recorded`` rebuilds the Result from those files in well under a second; ``load_model`` gives a checkpoint back
as a ready LlamaForCausalLM.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..base import Snapshot
from ..device import cpu_threads, resolve
from ..inputs import json_load, regular_file
from ..recorded import read_provenance, resource_dir, write_provenance
from .calculator import ModelReport
from .config import Config
from .errors import LongContextError
from .result import Result

CHECKPOINTS = ("base", "ultralong", "control")
CALCULATOR_FIELDS = ("model", "model_config", "calc_length", "calc_scaling", "calc_factor", "kv_dtype")
# what the recorded base checkpoint was made with: source=extend takes these from the recorded run
BASE_FIELDS = ("seed", "d_model", "n_layers", "n_heads", "ffn", "rope_theta", "train_length", "needle", "distractors", "n_keys",
               "n_values", "n_filler", "haystack_noise", "lm_weight", "base_steps", "batch_size", "lr")
_GRID_ARRAYS = ("lengths", "length_ratio", "depths", "heatmap", "local_accuracy", "scale", "theta", "attention_factor", "base_theta",
                "base_answer_loss", "base_lm_loss", "ultralong_answer_loss", "ultralong_lm_loss", "control_answer_loss",
                "control_lm_loss")


def default_dir() -> Path:
    return resource_dir("long_context")


def command_line(cfg: Config) -> str:
    """The one command that remakes this run: every field that differs from the defaults as --set."""
    default = Config()
    sets = [f" --set {f.name}={getattr(cfg, f.name)}" for f in dataclasses.fields(cfg)
            if f.name != "source" and getattr(cfg, f.name) != getattr(default, f.name)]
    return "python -m engines record long_context" + "".join(sets)


def record(out_dir: str | Path | None = None, config: Config | None = None, device: str = "auto",
           progress: Callable[[Snapshot], None] | None = None) -> dict:
    """Train, evaluate and write the recorded run to ``out_dir`` (default resources/long_context); returns the provenance."""
    from safetensors.numpy import save_file

    from .engine import calculator_report, experiment

    cfg = (config or Config()).replace(source="train")
    out = Path(out_dir) if out_dir else default_dir()
    dev = resolve(device)
    weights: dict = {}
    t0 = time.perf_counter()
    last = None
    with cpu_threads(cfg.cpu_threads, dev):  # the provenance is written inside, so it reports the thread count used
        for snap in experiment(cfg, dev, calculator_report(cfg), keep=weights):
            last = snap
            if progress is not None:
                progress(snap)
        wall = time.perf_counter() - t0
        result = last.result
        result.save(out)
        (out / "config.json").write_text(json.dumps(cfg.to_dict(), indent=2) + "\n")
        for name in CHECKPOINTS:
            save_file(weights[name], str(out / f"{name}.safetensors"))
        files = {p.name: p.stat().st_size for p in sorted(out.iterdir()) if p.is_file() and p.name != "provenance.json"}
        return write_provenance(
            out, command_line(cfg), seed=cfg.seed, device=str(dev),
            steps={"base": cfg.base_steps, "ultralong": cfg.extend_steps, "control": cfg.extend_steps},
            wall_time_s=round(wall, 1), timings_s={k: round(v, 1) for k, v in result.timings.items()},
            acceptance=result.acceptance(), files_bytes=files, total_bytes=sum(files.values()),
        )


def _recorded_file(path: Path) -> Path:
    """``path`` inside a recorded run, once it is known to be a regular file (a pipe would block, a folder confuse)."""
    if not path.parent.exists():
        raise LongContextError(f"{path.parent}: no such folder (expected a recorded run made by `python -m engines record long_context`)")
    if not path.parent.is_dir():
        raise LongContextError(f"{path.parent}: not a folder (expected a recorded run made by `python -m engines record long_context`)")
    if not path.exists():
        raise LongContextError(f"{path}: missing (make the recorded run with `python -m engines record long_context`)")
    return regular_file(path, LongContextError, max_bytes=1 << 30)


def _read_json(path: Path) -> dict:
    return json_load(_recorded_file(path), LongContextError)


def recorded_config(folder: Path) -> Config:
    """The Config the recorded run was made with (config.json), refused naming the file if it does not fit this engine."""
    path = folder / "config.json"
    data = _read_json(path)
    names = {f.name for f in dataclasses.fields(Config)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise LongContextError(f"{path}: key {unknown[0]!r} is not a Config field of this engine (a run from another version?)")
    try:
        return Config(**data)
    except (TypeError, ValueError) as err:
        raise LongContextError(f"{path}: {err}") from None


def recorded_base(folder: Path | None, cfg: Config) -> tuple[Config, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """For source=extend: (cfg with the recorded run's BASE_FIELDS, the base weights, the base loss curves)."""
    from safetensors.numpy import load_file

    folder = Path(folder) if folder else default_dir()
    recorded = recorded_config(folder)
    merged = cfg.replace(**{k: getattr(recorded, k) for k in BASE_FIELDS})
    path = _recorded_file(folder / "base.safetensors")
    try:
        weights = load_file(str(path))
    except Exception as err:  # safetensors raises its own error types for a damaged header
        raise LongContextError(f"{path}: not a safetensors checkpoint ({err})") from None
    try:
        with np.load(_recorded_file(folder / "arrays.npz"), allow_pickle=False) as npz:
            curves = {k: npz[k] for k in ("base_answer_loss", "base_lm_loss")}
    except (OSError, KeyError, ValueError):  # LongContextError is a ValueError: curves are optional
        curves = {}
    return merged, weights, curves


def load_recorded(folder: Path | None, cfg: Config, report: ModelReport) -> Result:
    """The recorded run as a Result: its experiment settings and grid; the calculator of ``cfg``."""
    folder = Path(folder) if folder else default_dir()
    recorded = recorded_config(folder)
    merged = recorded.replace(source="recorded", recorded_dir=cfg.recorded_dir,
                              **{k: getattr(cfg, k) for k in CALCULATOR_FIELDS})
    summary = _read_json(folder / "result.json")
    path = _recorded_file(folder / "arrays.npz")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in _GRID_ARRAYS}
    except FileNotFoundError:
        raise LongContextError(f"{path}: missing (make the recorded run with `python -m engines record long_context`)") from None
    except KeyError as err:
        raise LongContextError(f"{path}: array {err} is missing (expected the grid of a long_context run)") from None
    except (OSError, ValueError) as err:
        raise LongContextError(f"{path}: not a numpy .npz archive ({err})") from None
    result = Result.empty(merged, report, arrays["depths"])
    for name, value in arrays.items():
        setattr(result, name, value)
    result.parameters = int(summary.get("parameters", 0))
    result.timings = dict(summary.get("timings_s", {}))
    result.source = "recorded"
    try:
        result.provenance = read_provenance(folder)
    except ValueError as err:
        raise LongContextError(str(err)) from None
    return result


def load_model(name: str = "ultralong", folder: str | Path | None = None, device: str = "cpu"):
    """(LlamaForCausalLM, Config) of a recorded checkpoint (``base``, ``ultralong`` or ``control``), RoPE as evaluated at L_train."""
    from safetensors.numpy import load_file

    from . import model as toy
    from .engine import vocabulary
    from .scalings import toy_rope

    if name not in CHECKPOINTS:
        raise LongContextError(f"checkpoint: {name!r} is not recorded (allowed: {', '.join(CHECKPOINTS)})")
    folder = Path(folder) if folder else default_dir()
    cfg = recorded_config(folder)
    path = _recorded_file(folder / f"{name}.safetensors")
    dev = resolve(device)
    model = toy.build(vocabulary(cfg).size, cfg.d_model, cfg.n_layers, cfg.n_heads, cfg.ffn, cfg.rope_theta, cfg.seed, dev)
    try:
        toy.load_state(model, load_file(str(path)))
    except Exception as err:  # a safetensors header error or a shape mismatch: the file is not this model's
        raise LongContextError(f"{path}: not a checkpoint of the recorded toy model ({err})") from None
    scaling = {"base": "none", "ultralong": "ultralong", "control": "ultralong_control"}[name]
    theta, attention, _ = toy_rope(cfg, scaling, cfg.train_length)
    toy.set_rope(model, theta, attention)
    model.eval()
    return model, cfg
