"""The Result: every metrics row of every seed, the samples, the checkpoints, and what the paper's claims read off them.

Per phase (``sft``, ``math``, ``code``) and seed, the held-out figures are those of the full evaluation at the
phase's end; over seeds a figure is the mean with the standard error std/√S (with one seed: the evaluation's
own standard error over prompts). ``transfer`` is code pass@1 after math-only RL minus after SFT (per seed,
then over seeds); ``math_gain`` the same for math. The ablation compares the entropy of the main run's first
N steps (``updates_per_batch``) with the arm run at ``ablation_updates``.

Everything a panel draws comes from here: :meth:`curve` (per-seed values on the union of steps, mean and a
±SE band), :meth:`stage_bounds`, :meth:`ablation_curves`, ``samples`` (each with its written steps and
``step_ok``), ``checkpoints``, ``summary()``.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engines.base import Figure, ResultBase, jsonable
from engines.reasoning.logs import LogRun

from .config import Config

PHASES = ("sft", "math", "code")
# canonical metric → what the dashboard's curve shows
CURVES = {
    "score": "training reward (critic/score/mean)",
    "pass1/math": "held-out math pass@1",
    "pass1/code": "held-out code pass@1",
    "response_length": "response length, tokens",
    "clip_ratio": "share of responses cut at the length limit",
    "entropy": "per-token entropy H_T, nats (actor/entropy)",
    "no_signal": "share of groups with all-equal rewards",
    "tokens_per_s": "tokens per second (rollout + update)",
}


def mean_se(values: list[float], within: list[float] | None = None) -> dict:
    """Mean over seeds with the standard error std(ddof=1)/√S; one seed: its own (within-run) error."""
    v = np.array([x for x in values if x is not None and np.isfinite(x)], dtype=float)
    if len(v) == 0:
        return {"mean": None, "se": None, "n": 0}
    if len(v) > 1:
        se = float(v.std(ddof=1) / np.sqrt(len(v)))
    else:
        se = float(within[0]) if within and within[0] is not None and np.isfinite(within[0]) else None
    return {"mean": float(v.mean()), "se": se, "n": int(len(v)), "per_seed": v.tolist()}


def _val(row: dict, family: str, what: str = "acc/mean") -> float | None:
    prefix = f"val-core/{family}/acc/mean@" if what == "acc/mean" else f"val-aux/{family}/{what}@"
    return next((v for k, v in row.items() if k.startswith(prefix)), None)


def _mean_of(row: dict | None, what: str) -> float | None:
    """Mean over the two families of an evaluation figure in ``row`` (None when absent)."""
    vals = [v for v in (_val(row, f, what) for f in ("math", "code")) if v is not None] if row else []
    return float(np.mean(vals)) if vals else None


@dataclass
class Result(ResultBase):
    PAPER = {
        "math_gain": Figure(0.146, "", "AIME25 pass@1 gain from math-only RL, AceReason-Nemotron-7B (14B: +0.172)"),
        "transfer": Figure(0.068, "", "LiveCodeBench pass@1 gain from math-only RL, AceReason-Nemotron-7B (14B: +0.058)"),
    }

    config: Config
    rows: list[dict] = field(default_factory=list)
    samples: list[dict] = field(default_factory=list)
    checkpoints: list[dict] = field(default_factory=list)
    run_dir: str = ""
    parameters: int = 0
    wall_s: float = 0.0
    recorded: dict | None = None  # provenance of a recorded run (None = trained live)

    # ---- reading the rows -----------------------------------------------------------------------------------
    def log(self) -> LogRun:
        return LogRun(self.run_dir, "own", self.rows)

    def seeds(self) -> list[int]:
        """The seeds in the rows (a foreign log without seeds is seed 0)."""
        return sorted({int(r.get("seed", 0)) for r in self.rows})

    def curve(self, name: str, run: str = "main") -> dict:
        """``{"steps", "seeds": {seed: values}, "mean", "lo", "hi"}`` of a canonical metric (NaN where a seed has no value)."""
        log = self.log()
        per = {s: log.series(name, s, run) for s in self.seeds()}
        steps = np.unique(np.concatenate([st for st, _ in per.values()])) if per else np.zeros(0, int)
        table = np.full((len(per), len(steps)), np.nan)
        for i, (st, vals) in enumerate(per.values()):
            table[i, np.searchsorted(steps, st)] = vals
        with np.errstate(all="ignore"):
            count = np.sum(np.isfinite(table), 0)
            mean = np.nanmean(table, 0) if len(per) else np.zeros(0)
            se = np.zeros(len(steps))
            if len(per) > 1:
                se = np.where(count > 1, np.nanstd(table, 0, ddof=1) / np.sqrt(np.maximum(count, 1)), 0.0)
        return {"steps": steps, "seeds": {s: table[i] for i, s in enumerate(per)}, "mean": mean, "lo": mean - se, "hi": mean + se}

    def stage_bounds(self) -> list[dict]:
        """Each stage of the first seed's main run: name, phase, first and last RL step, response-length limit."""
        seeds = self.seeds()
        out: dict[str, dict] = {}
        for r in self.rows:
            if r.get("run", "main") != "main" or "step" not in r or (seeds and r.get("seed", 0) != seeds[0]):
                continue
            name = r.get("stage", "log")  # a foreign log is one stage
            b = out.setdefault(name, {"name": name, "phase": r.get("phase", name), "start": r["step"], "end": r["step"],
                                      "max_new_tokens": r.get("max_new_tokens")})
            b["start"], b["end"] = min(b["start"], r["step"]), max(b["end"], r["step"])
            b["max_new_tokens"] = b["max_new_tokens"] or r.get("max_new_tokens")
        return list(out.values())

    def _end_row(self, seed: int, stages: set[str]) -> dict | None:
        """The last evaluated row of ``stages`` (a phase ends on a full evaluation, a stage inside it on a light one)."""
        rows = [r for r in self.rows if r.get("seed", 0) == seed and r.get("run", "main") == "main" and r.get("eval")
                and r.get("stage") in stages]
        return max(rows, key=lambda r: r["step"]) if rows else None

    def _phase_stages(self) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for b in self.stage_bounds():
            out.setdefault(b["phase"], set()).add(b["name"])
        return out

    def _figure(self, group: set[str], family: str) -> tuple[list, list]:
        rows = [self._end_row(s, group) for s in self.seeds()]
        return ([_val(r, family) if r else None for r in rows], [_val(r, family, "acc/se") if r else None for r in rows])

    def stages(self) -> dict:
        """Per phase (and per stage in ``substages``): math/code pass@1 and held-out entropy at its end, over seeds; RL steps."""
        out = {}
        bounds = self.stage_bounds()
        groups = self._phase_stages()
        for name, group in list(groups.items()) + [(b["name"], {b["name"]}) for b in bounds if b["name"] not in groups]:
            entry = {}
            for fam in ("math", "code"):
                vals, ses = self._figure(group, fam)
                entry[f"{fam}_pass1"] = mean_se(vals, ses)
            ends = [self._end_row(s, group) for s in self.seeds()]
            ent = [_mean_of(r, "entropy/mean") for r in ends]
            entry["entropy"] = mean_se(ent)
            steps = [b["end"] - b["start"] + 1 for b in bounds if b["name"] in group and b["phase"] != "sft"]
            entry["steps"] = int(sum(steps)) if name != "sft" else int(max([r.get("sft_step", 0) for r in self.rows] or [0]))
            lucky = [_mean_of(r, "lucky/mean") for r in ends]
            entry["lucky"] = mean_se(lucky)
            out[name] = entry
        return out

    def _change(self, family: str, before: str, after: str) -> dict:
        groups = self._phase_stages()
        if before not in groups or after not in groups:
            return mean_se([])
        a, sa = self._figure(groups[before], family)
        b, sb = self._figure(groups[after], family)
        diffs = [y - x for x, y in zip(a, b) if x is not None and y is not None]
        within = [float(np.hypot(p, q)) for p, q in zip(sa, sb) if p is not None and q is not None]
        return mean_se(diffs, within)

    def transfer(self) -> dict:
        """Change of held-out code pass@1 during the math-only phase (the paper's math → code transfer)."""
        return self._change("code", "sft", "math")

    def math_gain(self) -> dict:
        return self._change("math", "sft", "math")

    def ablation_curves(self) -> dict:
        """Entropy and reward per step of both arms (first seed): ``{"updates_1": {...}, "updates_k": {...}}``."""
        arm = [r for r in self.rows if r.get("run") == "ablation"]
        if not arm:
            return {}
        seed = arm[0]["seed"]
        n = max(r["step"] for r in arm)
        main = [r for r in self.rows if r.get("run", "main") == "main" and r.get("seed") == seed and "step" in r and 1 <= r["step"] <= n
                and "actor/entropy" in r]

        def series(rows):
            rows = sorted(rows, key=lambda r: r["step"])
            return {"steps": np.array([r["step"] for r in rows]), "entropy": np.array([r["actor/entropy"] for r in rows]),
                    "score": np.array([r["critic/score/mean"] for r in rows]), "clipfrac": np.array([r["actor/pg_clipfrac"] for r in rows]),
                    "updates": int(rows[0]["actor/updates"]) if rows else 0}

        return {"updates_1": series(main), "updates_k": series(arm)}

    def ablation(self) -> dict:
        """How fast entropy falls in each arm (1 and k updates per batch, the same first rollout).

        ``entropy_drop`` = H(step 1) − mean H over steps 2..N: the mean height of the curve below its start,
        which uses every step (single steps are noisy); ``entropy_end`` = mean H of the last 5 steps.
        ``faster_with_more_updates``: the k-update curve falls further on average.
        """
        c = self.ablation_curves()
        if not c or len(c["updates_1"]["steps"]) < 2 or len(c["updates_k"]["steps"]) < 2:
            return {}
        n = min(len(c["updates_1"]["steps"]), len(c["updates_k"]["steps"]))
        arms = [c["updates_1"]["entropy"][:n], c["updates_k"]["entropy"][:n]]
        drop = [float(h[0] - h[1:].mean()) for h in arms]
        return {"steps": n, "updates": [c["updates_1"]["updates"], c["updates_k"]["updates"]],
                "entropy_start": [float(h[0]) for h in arms], "entropy_end": [float(h[-5:].mean()) for h in arms],
                "entropy_drop": drop, "faster_with_more_updates": bool(drop[1] > drop[0])}

    # ---- the contract -----------------------------------------------------------------------------------------
    def headline(self) -> dict[str, Figure]:
        g, t = self.math_gain(), self.transfer()
        n = len(self.seeds())
        out = {
            "math_gain": Figure(g["mean"], "", f"held-out math pass@1 gain from math-only RL ({n} seed{'s' * (n != 1)})", g["se"]),
            "transfer": Figure(t["mean"], "", "held-out code pass@1 change during math-only RL", t["se"]),
        }
        ab = self.ablation()
        if ab:
            d1, dk = ab["entropy_drop"]
            what = f"mean entropy drop over {ab['steps']} steps, {ab['updates'][1]} vs {ab['updates'][0]} updates per batch"
            out["entropy_drop_ratio"] = Figure(dk / d1 if d1 else None, "×", what)
        return out

    def details(self) -> dict:
        return {
            "stages": self.stages(),
            "transfer": self.transfer(),
            "math_gain": self.math_gain(),
            "ablation": self.ablation(),
            "stage_bounds": self.stage_bounds(),
            "seeds": self.seeds(),
            "parameters": self.parameters,
            "wall_s": self.wall_s,
            "checkpoints": self.checkpoints,
            "run_dir": self.run_dir,
            "recorded": self.recorded,
        }

    def arrays(self) -> dict[str, np.ndarray]:
        out = {}
        for name in CURVES:
            c = self.curve(name)
            key = name.replace("/", "_")
            out[f"{key}_steps"], out[f"{key}_mean"] = c["steps"], c["mean"]
        for arm, c in self.ablation_curves().items():
            out[f"ablation_{arm}_steps"], out[f"ablation_{arm}_entropy"] = c["steps"], c["entropy"]
        return out

    def tables(self) -> dict[str, dict[str, np.ndarray]]:
        c = self.ablation_curves()
        if not c:
            return {}
        n = min(len(c["updates_1"]["steps"]), len(c["updates_k"]["steps"]))
        return {"ablation": {"step": c["updates_k"]["steps"][:n], "entropy_updates_1": c["updates_1"]["entropy"][:n],
                             "entropy_updates_k": c["updates_k"]["entropy"][:n]}}

    def figures(self) -> dict:
        def curves(fig):
            axes = fig.subplots(2, 4).ravel()
            bounds = self.stage_bounds()
            for ax, (name, what) in zip(axes, CURVES.items()):
                c = self.curve(name)
                for vals in c["seeds"].values():
                    ok = np.isfinite(vals)
                    ax.plot(c["steps"][ok], vals[ok], lw=0.6, alpha=0.5)
                ok = np.isfinite(c["mean"])
                ax.plot(c["steps"][ok], c["mean"][ok], color="k", lw=1.2)
                ax.fill_between(c["steps"][ok], c["lo"][ok], c["hi"][ok], color="k", alpha=0.15)
                for b in bounds[1:]:
                    ax.axvline(b["start"] - 0.5, color="grey", lw=0.6, ls="--")
                ax.set_title(what, fontsize=7)
                ax.tick_params(labelsize=6)

        def ablation(fig):
            ax = fig.add_subplot()
            for c in self.ablation_curves().values():
                ax.plot(c["steps"], c["entropy"], label=f"{c['updates']} update(s) per batch")
            ax.set_xlabel("RL step")
            ax.set_ylabel("entropy H_T (nats)")
            ax.legend()

        out = {"curves": curves}
        if self.ablation_curves():
            out["ablation"] = ablation
        return out

    def save(self, out_dir: str | Path) -> Path:
        """The contract's files plus ``metrics.jsonl``, ``samples.jsonl`` and the run's ``checkpoints/`` folder."""
        out = super().save(out_dir)
        with open(out / "metrics.jsonl", "w") as f:
            for r in self.rows:
                f.write(json.dumps(jsonable(r)) + "\n")
        run = Path(self.run_dir) if self.run_dir else None
        if run is not None and (run / "samples.jsonl").is_file():  # every sample of the run (the Result keeps the latest)
            if (run / "samples.jsonl").resolve() != (out / "samples.jsonl").resolve():
                shutil.copyfile(run / "samples.jsonl", out / "samples.jsonl")
        else:
            with open(out / "samples.jsonl", "w") as f:
                for r in self.samples:
                    f.write(json.dumps(jsonable(r)) + "\n")
        if run is not None and (run / "checkpoints").is_dir() and (run / "checkpoints").resolve() != (out / "checkpoints").resolve():
            shutil.copytree(run / "checkpoints", out / "checkpoints", dirs_exist_ok=True)
        return out
