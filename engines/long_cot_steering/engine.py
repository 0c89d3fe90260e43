"""stream / run: select the units by contrast, run the four conditions on the same prompts and seeds, fit the decay.

1. The world (task-world Llama or SmolLM2) is opened; the contrast set is run teacher-forced through the last
   ``search_layers`` layers and the ``top_n`` units with the largest mean-activation difference are selected.
2. Each condition (baseline, constant, forced_wait, control) samples ``samples`` responses to each of the same
   held-out prompts, from a generator seeded alike, and scores them (length, reflections, answer).
3. The trajectory after every "wait" of the unamplified conditions is averaged and both decay laws are fitted.

Snapshots name what changed: ``selection``, ``conditions`` (one condition more), ``decay``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np

from engines.base import Snapshot, consume
from engines.recorded import read_provenance, resource_dir

from .config import CONDITIONS, Config
from .result import Result

RECORDED = resource_dir("long_cot_steering") / "runs"
PRE = 4  # tokens before the trigger the trajectory shows (the rise)
EXAMPLES = 8


def _windows(gens, window: int) -> np.ndarray:
    """(triggers, PRE + window) activations around each trigger (offset 1 = the trigger's position)."""
    rows = []
    for g in gens:
        L = g.acts.shape[1]
        for i, trig in enumerate(g.triggers):
            for j in trig:
                w = np.full(PRE + window, np.nan)
                lo, hi = j - PRE, j + window
                src = g.acts[i, max(lo, 0): min(hi, L)]
                w[max(lo, 0) - lo: max(lo, 0) - lo + len(src)] = src
                rows.append(w)
    return np.array(rows) if rows else np.zeros((0, PRE + window))


def stream(config: Config | None = None, device: str = "auto") -> Iterator[Snapshot]:
    import torch

    from engines.device import cpu_threads, resolve

    from .decay import decay_part, fit_both
    from .generate import generate, steering_for
    from .hooks import last_layers, mean_response_activation, select_units
    from .worlds import open_world

    cfg = config or Config()
    if cfg.recorded:
        yield Snapshot(1.0, "recorded run", load_recorded(cfg))
        return
    dev = resolve(device)
    t0 = time.perf_counter()
    result = Result(cfg)
    with cpu_threads(cfg.cpu_threads, dev):
        yield Snapshot(0.01, f"loading the {cfg.model} model", result.frozen())
        world = open_world(cfg, dev)
        model = world.model
        mc = model.config
        result.model_source = world.source
        result.model_info = {"parameters": int(sum(p.numel() for p in model.parameters())), "layers": int(mc.num_hidden_layers),
                             "intermediate_size": int(mc.intermediate_size), "hidden_size": int(mc.hidden_size)}
        # ---- contrastive selection ---------------------------------------------------------------------------
        layers = last_layers(model, cfg.search_layers)
        pos, neg, shown = world.contrast(cfg.contrast, cfg.seed)
        P = mean_response_activation(model, pos, layers)
        N = mean_response_activation(model, neg, layers)
        sel = select_units(P, N, layers, min(cfg.top_n, P.size))
        units = sel.units()
        result.layers, result.unit_layer, result.unit_index, result.unit_score = list(layers), sel.unit_layer, sel.unit_index, sel.score
        result.layer_diff = sel.diff
        result.contrast_examples = {"positive": shown[0], "negative": shown[1]}
        yield Snapshot(0.1, f"selected {len(sel.score)} units in layers {layers}", result.frozen(), frozenset({"selection"}))
        # ---- the four conditions -------------------------------------------------------------------------------
        tasks = world.tasks(cfg.resolved("prompts"), cfg.seed)
        samples, max_new = cfg.resolved("samples"), cfg.resolved("max_new_tokens")
        rows = [t for t in tasks for _ in range(samples)]
        gens_by: dict[str, list] = {}
        for ci, name in enumerate(CONDITIONS):
            steer = steering_for(name, cfg)
            gen = torch.Generator(device=dev).manual_seed(cfg.seed)
            gens = []
            for lo in range(0, len(rows), cfg.batch_rows):
                chunk = rows[lo: lo + cfg.batch_rows]
                ids = [world.encode_prompt(world.prompt_of(t)) for t in chunk]
                gens.append(generate(model, world, ids, steer, units, max_new, cfg.temperature, cfg.top_p, gen))
            gens_by[name] = gens
            length, reflect, correct, forced, trunc, examples = [], [], [], [], [], []
            k = 0
            for g in gens:
                for toks, text, cut, nf in zip(g.tokens, g.texts, g.truncated, g.forced):
                    task = rows[k]
                    s = world.score(task, text, cut)
                    length.append(len(toks))
                    reflect.append(s["reflections"])
                    correct.append(s["correct"])
                    forced.append(nf)
                    trunc.append(cut)
                    if len(examples) < EXAMPLES and k % samples == 0:
                        examples.append({"prompt": world.prompt_of(task), "answer": int(task.answer), "text": text,
                                         "segments": world.segments(text), "correct": bool(s["correct"]), "forced_waits": int(nf),
                                         "reflections": int(s["reflections"]), "truncated": bool(cut)})
                    k += 1
            result.runs[name] = {"length": np.array(length), "reflect": np.array(reflect), "correct": np.array(correct, bool),
                                 "forced": np.array(forced), "truncated": np.array(trunc, bool)}
            result.examples[name] = examples
            result.wall_s = time.perf_counter() - t0
            yield Snapshot(0.1 + 0.8 * (ci + 1) / len(CONDITIONS), f"{name}: {len(length)} responses", result.frozen(),
                           frozenset({"conditions", "examples"}))
        # ---- trajectory and decay --------------------------------------------------------------------------------
        plain = gens_by["baseline"] + gens_by["forced_wait"]
        every = np.concatenate([g.acts[np.isfinite(g.acts)] for g in plain]) if plain else np.zeros(0)
        ref = float(every.mean()) if len(every) else None
        win = _windows(plain, cfg.window)
        ctrl = _windows(gens_by["control"], cfg.window)
        result.offsets = np.arange(-PRE + 1, cfg.window + 1)
        result.triggers = int(len(win))
        with np.errstate(all="ignore"):
            scale = abs(ref) if ref else 1.0
            count = np.sum(np.isfinite(win), 0)
            mean = np.nanmean(win, 0) if len(win) else np.full(len(result.offsets), np.nan)
            se = np.nanstd(win, 0, ddof=1) / np.sqrt(np.maximum(count, 1)) if len(win) > 1 else np.full(len(result.offsets), np.nan)
            result.trajectory = mean / scale - 1 if ref else mean
            result.trajectory_se = se / scale
            cm = np.nanmean(ctrl, 0) if len(ctrl) else np.full(len(result.offsets), np.nan)
            result.trajectory_control = cm / scale - 1 if ref else cm
        result.reference = ref
        result.law_curve = steering_for("control", cfg).law(np.maximum(result.offsets, 0))
        after = result.trajectory[PRE:]  # offsets 1 … window
        t, y, peak = decay_part(after)
        if len(t) >= 4:
            result.decay = {**fit_both(t, y), "t": t.tolist(), "y": y.tolist(), "peak_offset": int(peak + 1)}
        result.wall_s = time.perf_counter() - t0
        yield Snapshot(1.0, f"done in {result.wall_s:.0f} s", result.frozen(), frozenset({"decay"}))


def run(config: Config | None = None, device: str = "auto") -> Result:
    return consume(stream(config, device))


def load_recorded(cfg: Config, folder=None) -> Result:
    """The recorded run of ``cfg.model`` (resources/long_cot_steering/runs/<model>/): result.json + arrays.npz, no torch."""
    from pathlib import Path

    from engines.inputs import json_load
    from engines.reasoning.errors import ReasoningError as SteeringError

    from .worlds import HOW_TO_GET

    folder = Path(folder) if folder else RECORDED / cfg.model
    try:
        prov = read_provenance(folder)
    except ValueError as err:
        hint = f"; SmolLM2 itself: {HOW_TO_GET}" if cfg.model == "smollm2" else ""
        raise SteeringError(f"{err}{hint}") from None
    s = json_load(folder / "result.json", SteeringError)
    with np.load(folder / "arrays.npz") as z:
        arr = {k: z[k] for k in z.files}
    stored = {k: v for k, v in s.get("config", {}).items() if k in Config.__dataclass_fields__}
    rcfg = Config(**{**stored, "recorded": True})
    runs = {}
    for name in ("baseline", "constant", "forced_wait", "control"):
        if f"{name}_length" in arr:
            runs[name] = {k: arr[f"{name}_{k}"] for k in ("length", "reflect", "correct", "forced", "truncated")}
    decay = {k: v for k, v in s.get("decay", {}).items() if k not in ("triggers", "reference_activation")}
    sel = s.get("selection", {})
    return Result(rcfg, model_source=s.get("model_source", ""), model_info=s.get("model_info", {}), layers=sel.get("layers", []),
                  unit_layer=arr["unit_layer"], unit_index=arr["unit_index"], unit_score=arr["unit_score"], layer_diff=arr["layer_diff"],
                  contrast_examples=s.get("contrast_examples", {}), runs=runs, examples=s.get("examples", {}), offsets=arr["offsets"],
                  trajectory=arr["trajectory"], trajectory_se=arr["trajectory_se"], trajectory_control=arr["trajectory_control"],
                  triggers=int(s.get("decay", {}).get("triggers", 0)), reference=s.get("decay", {}).get("reference_activation"),
                  decay=decay, law_curve=arr.get("law_curve", np.zeros(0)), wall_s=float(s.get("wall_s", 0.0)), recorded=prov)
