"""The recorded checkpoint in ``resources/video_dit``: the trained DiT's EMA weights, its loss curve and provenance.

``python -m engines record video_dit [--set train_steps=N ...]`` trains (``training.train``) and writes, at every
checkpoint (so that a cut-off run still leaves a usable model): ``model.safetensors`` (float32 EMA weights),
``config.json`` (the model and training fields), ``training.json`` (the loss curve) and ``provenance.json``. The
optimiser state goes to ``train_state.pt`` (git-ignored); rerunning the command resumes from it.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from pathlib import Path

from ..base import Snapshot
from ..device import cpu_threads
from ..recorded import resource_dir, write_provenance
from .config import MODEL_FIELDS, TRAIN_FIELDS, Config
from .errors import VideoDiTError

WEIGHTS = "model.safetensors"


def default_dir() -> Path:
    return resource_dir("video_dit")


def command_line(cfg: Config) -> str:
    default = Config()
    sets = [f" --set {k}={getattr(cfg, k)}" for k in (*MODEL_FIELDS, *TRAIN_FIELDS) if getattr(cfg, k) != getattr(default, k)]
    return "python -m engines record video_dit" + "".join(sets)


def save_model(model, cfg: Config, out: Path, curve: list, wall: float, step: int) -> dict:
    from safetensors.torch import save_file

    out.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()}, str(out / WEIGHTS))
    (out / "config.json").write_text(json.dumps({k: getattr(cfg, k) for k in (*MODEL_FIELDS, *TRAIN_FIELDS)}, indent=2) + "\n")
    (out / "training.json").write_text(json.dumps({"step": [c[0] for c in curve], "loss": [round(c[1], 5) for c in curve],
                                                   "wall_s": [c[2] for c in curve]}) + "\n")
    return write_provenance(out, command_line(cfg), seed=cfg.train_seed, device="cpu", steps=step, steps_planned=cfg.train_steps,
                            wall_time_s=round(wall, 1), final_loss=round(sum(c[1] for c in curve[-100:]) / max(1, len(curve[-100:])), 5),
                            files={WEIGHTS: (out / WEIGHTS).stat().st_size})


def record(out_dir: str | Path | None = None, config: Config | None = None, device: str = "auto",
           progress: Callable[[Snapshot], None] | None = None) -> dict:
    """Train (resuming from ``train_state.pt`` if there) and write the checkpoint to ``out_dir``; returns the provenance."""
    from .training import train

    cfg = config or Config()
    out = Path(out_dir) if out_dir else default_dir()
    out.mkdir(parents=True, exist_ok=True)
    prov: dict = {}
    t0 = time.perf_counter()
    with cpu_threads(cfg.cpu_threads or 1, "cpu"):  # training runs on the CPU, one thread unless told otherwise
        for info in train(cfg, out / "train_state.pt"):
            if info["checkpoint"] or info["done"]:
                prov = save_model(info["model"], cfg, out, info["curve"], info["wall_s"], info["step"])
            if progress is not None and (info["step"] % 10 == 0 or info["done"]):
                progress(Snapshot(info["step"] / cfg.train_steps, f"step {info['step']}/{cfg.train_steps}, loss {info['loss']:.4f}"))
    prov["this_call_s"] = round(time.perf_counter() - t0, 1)
    return prov


def load_model(folder: str | Path | None = None):
    """(the recorded VideoDiT in eval mode, the Config fields it was made with) from ``folder`` (default resources/video_dit)."""
    from safetensors.torch import load_file

    from .model import VideoDiT

    folder = Path(folder) if folder else default_dir()
    path, cpath = folder / WEIGHTS, folder / "config.json"
    if not path.exists() or not cpath.exists():
        raise VideoDiTError(f"{path}: missing (make it with `python -m engines record video_dit`)")
    try:
        fields = json.loads(cpath.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise VideoDiTError(f"{cpath}: not a JSON file ({err})") from None
    names = {f.name for f in dataclasses.fields(Config)}
    if not isinstance(fields, dict) or set(fields) - names:
        raise VideoDiTError(f"{cpath}: keys {sorted(set(fields) - names) if isinstance(fields, dict) else '?'} are not Config fields")
    try:
        cfg = Config(**fields)
        model = VideoDiT(**cfg.model_kwargs())
        model.load_state_dict(load_file(str(path)))
    except Exception as err:  # a damaged header or mismatched shapes
        raise VideoDiTError(f"{path}: not a checkpoint of this model ({err})") from None
    return model.eval(), cfg
