"""The Result: the selected units, the four conditions' responses and figures, the trajectory after triggers, both decay fits.

Per condition, over its R = prompts × samples responses: ``mean_length`` (response tokens, forced "wait" tokens
included, EOS not) with the standard error std/√R; ``reflection_rate`` = share of responses with at least one
reflection and ``accuracy`` = share with the right answer, each with the binomial error √(p(1−p)/R). The gains
(control − baseline) are paired (same prompts, same random numbers): the error is std of the per-response
difference / √R.

The trajectory is the mean activation of the selected units at offsets −pre … window−1 around every "wait"
trigger of the two unamplified conditions (baseline, forced_wait), offset 1 being the trigger's own position,
expressed as the relative rise ``m(k) / m̄ − 1`` over m̄, the mean over every unamplified response token (the
quantity f(t) models: the amplification 1 + α·f(t) re-creates a rise of α times it). Both laws are fitted from
the peak on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from engines.base import Figure, ResultBase

from .config import CONDITIONS, Config


def _rate(x: np.ndarray) -> tuple[float | None, float | None]:
    x = np.asarray(x, float)
    if len(x) == 0:
        return None, None
    p = float(x.mean())
    return p, float(np.sqrt(p * (1 - p) / len(x)))


def _mean(x: np.ndarray) -> tuple[float | None, float | None]:
    x = np.asarray(x, float)
    if len(x) == 0:
        return None, None
    return float(x.mean()), float(x.std(ddof=1) / np.sqrt(len(x))) if len(x) > 1 else None


@dataclass
class Result(ResultBase):
    PAPER = {
        "decay_a": Figure(0.17, "", "a of the fitted f(t) = a − b·log(t + c) (the paper's models; c ≈ −0.997, α = 4)"),
        "decay_b": Figure(0.033, "", "b of the fitted f(t) = a − b·log(t + c) (the paper's models)"),
    }

    config: Config
    model_source: str = ""
    model_info: dict = field(default_factory=dict)
    # selection
    layers: list = field(default_factory=list)
    unit_layer: np.ndarray = field(default_factory=lambda: np.zeros(0, int))
    unit_index: np.ndarray = field(default_factory=lambda: np.zeros(0, int))
    unit_score: np.ndarray = field(default_factory=lambda: np.zeros(0))
    layer_diff: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # (searched layers, units): P − N
    contrast_examples: dict = field(default_factory=dict)
    # conditions: name -> {"length", "reflect", "correct", "forced", "truncated"} arrays over responses
    runs: dict = field(default_factory=dict)
    examples: dict = field(default_factory=dict)  # name -> [{"prompt", "text", "segments", "correct"}]
    # trajectory
    offsets: np.ndarray = field(default_factory=lambda: np.zeros(0, int))
    trajectory: np.ndarray = field(default_factory=lambda: np.zeros(0))
    trajectory_se: np.ndarray = field(default_factory=lambda: np.zeros(0))
    trajectory_control: np.ndarray = field(default_factory=lambda: np.zeros(0))
    triggers: int = 0
    reference: float | None = None
    decay: dict = field(default_factory=dict)
    law_curve: np.ndarray = field(default_factory=lambda: np.zeros(0))  # the control's f(t) at the offsets (0 before the trigger)
    wall_s: float = 0.0
    recorded: dict | None = None  # provenance of a recorded run (None = run live)

    # ---- figures read off the runs ------------------------------------------------------------------------------
    def condition(self, name: str) -> dict:
        r = self.runs.get(name)
        if not r:
            return {}
        length, length_se = _mean(r["length"])
        refl, refl_se = _rate(r["reflect"] > 0)
        acc, acc_se = _rate(r["correct"])
        return {"mean_length": length, "mean_length_se": length_se, "reflection_rate": refl, "reflection_rate_se": refl_se,
                "accuracy": acc, "accuracy_se": acc_se, "reflections_per_response": float(np.mean(r["reflect"])),
                "forced_waits": float(np.mean(r["forced"])), "truncated": float(np.mean(r["truncated"])),
                "responses": int(len(r["length"]))}

    def conditions(self) -> dict:
        return {n: self.condition(n) for n in CONDITIONS if n in self.runs}

    def gain(self, what: str, name: str = "control", base: str = "baseline") -> tuple[float | None, float | None]:
        """Paired difference name − base of ``length`` / ``reflect`` (as 0/1) / ``correct``: mean and SE."""
        if name not in self.runs or base not in self.runs:
            return None, None
        x, y = (np.asarray(self.runs[n][what], float) for n in (name, base))
        if what == "reflect":
            x, y = (x > 0).astype(float), (y > 0).astype(float)
        return _mean(x - y)

    def fitted(self, law: str):
        """The fitted law's values on the decay part's t (for the panel), or None."""
        from .decay import exp_law, log_law

        d = self.decay.get(law)
        if not d:
            return None
        t = np.asarray(self.decay.get("t", []), float)
        return (log_law if law == "log" else exp_law)(t, **d["params"])

    # ---- the contract ---------------------------------------------------------------------------------------------
    def headline(self) -> dict[str, Figure]:
        out = {}
        lg = self.decay.get("log")
        if lg:
            out["decay_a"] = Figure(lg["params"]["a"], "", f"a of f(t) = a − b·log(t + c) fitted here ({self.triggers} triggers)")
            what = f"b fitted here (c = {lg['params']['c']:.3f}; better law: {self.decay['better']})"
            out["decay_b"] = Figure(lg["params"]["b"], "", what)
        g, se = self.gain("reflect")
        out["reflection_gain"] = Figure(g, "", "reflection rate, control − baseline (paired)", se)
        g, se = self.gain("correct")
        out["accuracy_gain"] = Figure(g, "", "accuracy, control − baseline (paired)", se)
        g, se = self.gain("length")
        out["length_gain"] = Figure(g, "tokens", "mean response length, control − baseline (paired)", se)
        return out

    def details(self) -> dict:
        return {
            "model": self.config.model,
            "model_source": self.model_source,
            "model_info": self.model_info,
            "conditions": self.conditions(),
            "gains": {n: {w: dict(zip(("mean", "se"), self.gain(w, n))) for w in ("length", "reflect", "correct")}
                      for n in CONDITIONS[1:] if n in self.runs},
            "decay": {**self.decay, "triggers": self.triggers, "reference_activation": self.reference},
            "selection": {"layers": list(self.layers), "per_layer": self.per_layer(),
                          "units": [{"layer": int(li), "unit": int(ui), "score": float(s)}
                                    for li, ui, s in zip(self.unit_layer, self.unit_index, self.unit_score)]},
            "examples": self.examples,
            "contrast_examples": self.contrast_examples,
            "wall_s": self.wall_s,
            "recorded": self.recorded,
            "config": self.config.to_dict(),
        }

    def per_layer(self) -> dict:
        return {str(layer): int(np.sum(self.unit_layer == layer)) for layer in self.layers}

    def arrays(self) -> dict[str, np.ndarray]:
        out = {"unit_layer": self.unit_layer, "unit_index": self.unit_index, "unit_score": self.unit_score, "layer_diff": self.layer_diff,
               "offsets": self.offsets, "trajectory": self.trajectory, "trajectory_se": self.trajectory_se,
               "trajectory_control": self.trajectory_control, "law_curve": self.law_curve}
        for name, r in self.runs.items():
            for k, v in r.items():
                out[f"{name}_{k}"] = np.asarray(v)
        return out

    def tables(self) -> dict:
        out = {}
        if len(self.offsets):
            out["trajectory"] = {"offset": self.offsets, "relative_rise": self.trajectory, "se": self.trajectory_se,
                                 "control": self.trajectory_control}
        rows = self.conditions()
        if rows:
            names = list(rows)
            out["conditions"] = {"condition": np.arange(len(names)),
                                 **{k: np.array([np.nan if rows[n][k] is None else rows[n][k] for n in names], float)
                                    for k in ("mean_length", "mean_length_se", "reflection_rate", "reflection_rate_se", "accuracy",
                                              "accuracy_se")}}
        return out

    def figures(self) -> dict:
        def traj(fig):
            ax = fig.add_subplot()
            ok = np.isfinite(self.trajectory)
            ax.plot(self.offsets[ok], self.trajectory[ok], "o-", label="measured (unamplified)")
            t = np.asarray(self.decay.get("t", []), float)
            for law in ("log", "exp"):
                y = self.fitted(law)
                if y is not None:
                    ax.plot(t + self.decay.get("peak_offset", 1) - 1, y, label=f"{law} fit (rmse {self.decay[law]['rmse']:.3g})")
            ax.set_xlabel("tokens after the trigger")
            ax.set_ylabel("relative rise of the selected units")
            ax.legend()

        def bars(fig):
            axes = fig.subplots(1, 3)
            rows = self.conditions()
            for ax, (key, label) in zip(axes, (("mean_length", "length [tokens]"), ("reflection_rate", "reflection rate"),
                                               ("accuracy", "accuracy"))):
                names = list(rows)
                ax.bar(names, [rows[n][key] or 0 for n in names], yerr=[rows[n][key + "_se"] or 0 for n in names])
                ax.set_ylabel(label)
                ax.tick_params(axis="x", labelsize=7, rotation=30)

        return {"trajectory": traj, "conditions": bars} if self.runs else {}
