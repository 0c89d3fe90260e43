"""The evaluator's Result: per-checkpoint (P, n) flag tables, and every curve, band and figure computed from them.

The tables are the measurement; everything in the summary follows from them by :mod:`estimators`: Pass@K and
CoT-Pass@K for K = 1..n per curve checkpoint with bootstrap bands over prompts, the paired gain of the tuned
checkpoint over the base with its band, the K where the base's Pass@K catches up (``crossing_k``), P(CC|CA) per
prompt and its histogram, the logic prior, and the training dynamics over every checkpoint.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from engines.base import Figure, ResultBase

from . import estimators as est
from .config import Config, names

HIST_BINS = 10


@dataclass
class Result(ResultBase):
    PAPER = {
        "cot_gain_share": Figure(1.0, "", "share of K where RLVR's CoT-Pass@K exceeds the base model's (the abstract: correct reasoning "
                                 "improves 'for all values of K'; AIME 2024/2025, Qwen2.5 base vs RLVR)"),
    }

    config: Config
    names: list[str] = field(default_factory=list)  # checkpoints evaluated, in training order
    steps: list = field(default_factory=list)  # RL step of each (None when unknown)
    stages: list = field(default_factory=list)
    prompts: list[str] = field(default_factory=list)
    correct: dict = field(default_factory=dict)  # name -> (P, n) answer right
    chain: dict = field(default_factory=dict)  # name -> (P, n) chain right as judged (the judge mode's flags)
    lenient: dict = field(default_factory=dict)  # name -> (P, n) chain flags of the lenient (any) judge, noisy/votes only
    strict: dict = field(default_factory=dict)  # name -> (P, n) chain flags of the strict (all) judge
    exact_chain: dict = field(default_factory=dict)  # name -> (P, n) the world's exact chain flags (checkpoint sources)
    lucky_samples: list[dict] = field(default_factory=list)  # right answer, wrong chain: text, steps, failing step
    source: str = ""
    provenance: dict | None = None
    wall_s: float = 0.0
    sample_s: dict = field(default_factory=dict)  # name -> seconds spent sampling and verifying
    chain_known: bool = True  # False for a dump: its chain flag is known only where the answer is right (no logic prior)

    # ---- which checkpoints ----------------------------------------------------------------------------------
    def curve_names(self) -> list[str]:
        want = names(self.config.curves)
        if want:
            return [n for n in want if n in self.correct]
        if self.source == "dump":
            return list(self.correct)
        return [n for n in self.names if n in self.correct and not n.startswith("step_")]

    def base_and_tuned(self) -> tuple[str | None, str | None]:
        """The base (the first curve) and the tuned checkpoint of the headline: ``tuned`` when set, else the end of the RL
        phase on the evaluated family (the recorded world names phase ends after their phase), else the last curve."""
        c = self.curve_names()
        if len(c) < 2:
            return (c[0] if c else None, None)
        for want in (self.config.tuned, self.config.family if self.source != "dump" else ""):
            if want and want in c[1:]:
                return c[0], want
        return c[0], c[-1]

    def n(self) -> int:
        return min((v.shape[1] for v in self.correct.values()), default=0)

    def cot(self, name: str, which: str = "judged") -> np.ndarray:
        chain = {"judged": self.chain, "lenient": self.lenient, "strict": self.strict, "exact": self.exact_chain}[which][name]
        return self.correct[name] & chain

    # ---- per-prompt tables -----------------------------------------------------------------------------------
    def _per_prompt(self, flags: np.ndarray) -> np.ndarray:
        n, c = est.counts(flags)
        return est.curve_per_prompt(n, c, self.n())

    def _idx(self) -> np.ndarray:
        P = len(next(iter(self.correct.values()))) if self.correct else 0
        if self.config.bootstrap == 0 or P < 2:
            return np.zeros((0, P), int)
        return est.bootstrap_indices(P, self.config.bootstrap, self.config.seed + 99)

    def curves(self) -> dict:
        """Per curve checkpoint: K, Pass@K and CoT-Pass@K with band edges (and the lenient/strict judge's CoT-Pass@K)."""
        idx, out = self._idx(), {}
        k = np.arange(1, self.n() + 1)
        lvl = self.config.band_level
        for name in self.curve_names():
            p, plo, phi = est.band(self._per_prompt(self.correct[name]), idx, lvl)
            q, qlo, qhi = est.band(self._per_prompt(self.cot(name)), idx, lvl)
            entry = {"k": k, "pass_at_k": p, "pass_at_k_lo": plo, "pass_at_k_hi": phi, "cot_pass_at_k": q, "cot_pass_at_k_lo": qlo,
                     "cot_pass_at_k_hi": qhi}
            if name in self.lenient:
                entry["cot_pass_at_k_lenient"] = self._per_prompt(self.cot(name, "lenient")).mean(0)
                entry["cot_pass_at_k_strict"] = self._per_prompt(self.cot(name, "strict")).mean(0)
            out[name] = entry
        return out

    def gain(self, metric: str = "cot") -> dict:
        """Tuned − base of Pass@K (``pass``) or CoT-Pass@K (``cot``) per K, paired over prompts, with its band."""
        base, tuned = self.base_and_tuned()
        if tuned is None:
            return {}
        pick = (lambda nm: self.correct[nm]) if metric == "pass" else self.cot
        d = self._per_prompt(pick(tuned)) - self._per_prompt(pick(base))
        m, lo, hi = est.band(d, self._idx(), self.config.band_level)
        return {"base": base, "tuned": tuned, "k": np.arange(1, self.n() + 1), "mean": m, "lo": lo, "hi": hi,
                "share_positive": float(np.mean(m > 0)), "share_band_above_zero": float(np.mean(lo > 0)),
                "min": float(m.min()), "k_of_min": int(np.argmin(m) + 1)}

    def crossings(self) -> dict:
        """Per tuned curve checkpoint: the K where the base's Pass@K catches up with its Pass@K (None: never within 1..n)."""
        c = self.curves()
        cn = self.curve_names()
        if len(cn) < 2:
            return {}
        base = c[cn[0]]
        return {nm: est.crossing(base["k"], base["pass_at_k"], c[nm]["pass_at_k"]) for nm in cn[1:]}

    def crossing_k(self) -> float | None:
        _, tuned = self.base_and_tuned()
        return self.crossings().get(tuned) if tuned else None

    def at_crossing(self) -> dict:
        """CoT-Pass@K of base and tuned, and the gain with its band, at the crossing K (rounded up), else at K = n."""
        g = self.gain("cot")
        if not g:
            return {}
        ck = self.crossing_k()
        k = min(int(np.ceil(ck)), self.n()) if ck is not None else self.n()
        c = self.curves()
        return {"k": k, "crossed": ck is not None, "cot_base": float(c[g["base"]]["cot_pass_at_k"][k - 1]),
                "cot_tuned": float(c[g["tuned"]]["cot_pass_at_k"][k - 1]), "gain": float(g["mean"][k - 1]),
                "gain_lo": float(g["lo"][k - 1]), "gain_hi": float(g["hi"][k - 1]),
                "pass_base": float(c[g["base"]]["pass_at_k"][k - 1]), "pass_tuned": float(c[g["tuned"]]["pass_at_k"][k - 1])}

    def p_cc_given_ca(self) -> dict:
        """Per checkpoint: P(CC|CA) per prompt (NaN where no answer is right), its mean with band, and its histogram."""
        idx, out = self._idx(), {}
        edges = np.linspace(0, 1, HIST_BINS + 1)
        for name in self.correct:
            v = est.p_cc_given_ca(self.correct[name], self.chain[name])
            ok = np.isfinite(v)
            mean = float(v[ok].mean()) if ok.any() else float("nan")
            if idx.size and ok.sum() > 1:
                boot = np.array([np.nanmean(v[i]) if np.isfinite(v[i]).any() else np.nan for i in idx])
                q = (1 - self.config.band_level) / 2
                lo, hi = float(np.nanquantile(boot, q)), float(np.nanquantile(boot, 1 - q))
            else:
                lo = hi = mean
            out[name] = {"per_prompt": v, "mean": mean, "lo": lo, "hi": hi, "prompts_with_a_right_answer": int(ok.sum()),
                         "hist_edges": edges, "hist_counts": np.histogram(v[ok], edges)[0]}
        return out

    def dynamics(self) -> dict:
        """Over every checkpoint in training order: step, Pass@1/@n, CoT-Pass@1/@n, P(CC|CA), lucky share, the logic prior."""
        pcc = self.p_cc_given_ca()
        rows = []
        n = self.n()
        for name, step, stage in zip(self.names, self.steps, self.stages):
            if name not in self.correct:
                continue
            a, cot = self.correct[name], self.cot(name)
            pa, pc = self._per_prompt(a), self._per_prompt(cot)
            lp = est.logic_prior(a, self.chain[name]) if self.chain_known else {"p_ca_given_cc": None, "p_ca_given_wrong_chain": None,
                                                                                "holds": None}
            rows.append({"name": name, "step": step, "stage": stage, "pass_at_1": float(pa[:, 0].mean()),
                         "pass_at_n": float(pa[:, -1].mean()),
                         "cot_pass_at_1": float(pc[:, 0].mean()), "cot_pass_at_n": float(pc[:, -1].mean()),
                         "p_cc_given_ca": pcc[name]["mean"], "p_cc_given_ca_lo": pcc[name]["lo"], "p_cc_given_ca_hi": pcc[name]["hi"],
                         "lucky": float((a & ~self.chain[name]).mean()), **lp})
        return {"n": n, "rows": rows}

    # ---- the contract --------------------------------------------------------------------------------------------
    def headline(self) -> dict[str, Figure]:
        g = self.gain("cot")
        if not g:
            return {}
        n = self.n()
        at = self.at_crossing()
        pb, pt = self.p_cc_given_ca()[g["base"]], self.p_cc_given_ca()[g["tuned"]]
        ck = self.crossing_k()
        return {
            "cot_gain_share": Figure(g["share_positive"], "", f"share of K = 1..{n} where {g['tuned']}'s CoT-Pass@K exceeds {g['base']}'s "
                                     f"(band above 0 at {g['share_band_above_zero']:.2f})"),
            "crossing_k": Figure(ck, "", f"K (of 1..{n}) where {g['base']}'s Pass@K catches up with {g['tuned']}'s"),
            "cot_gain_at_k": Figure(at["gain"], "", f"CoT-Pass@{at['k']} gain of {g['tuned']} over {g['base']}"
                                    + (" at the crossing K" if at["crossed"] else " at K = n (no crossing)")
                                    + f"; ± half the {self.config.band_level:.0%} band",
                                    (at["gain_hi"] - at["gain_lo"]) / 2),
            "p_cc_given_ca_change": Figure(pt["mean"] - pb["mean"], "", f"P(CC|CA) of {g['tuned']} − {g['base']}, mean over prompts",
                                           float(np.hypot(pt["hi"] - pt["lo"], pb["hi"] - pb["lo"]) / 2)),
        }

    def details(self) -> dict:
        pcc = self.p_cc_given_ca()
        return {
            "curves": self.curves(),
            "crossing_k": self.crossing_k(),
            "crossings": self.crossings(),
            "at_crossing": self.at_crossing(),
            "cot_gain": self.gain("cot"),
            "pass_gain": self.gain("pass"),
            "p_cc_given_ca": {k: {kk: vv for kk, vv in v.items() if kk != "per_prompt"} for k, v in pcc.items()},
            "dynamics": self.dynamics(),
            "lucky_samples": self.lucky_samples[:50],
            "checkpoints": [{"name": a, "step": b, "stage": c} for a, b, c in zip(self.names, self.steps, self.stages)],
            "prompts": len(self.prompts), "samples": self.n(), "source": self.source, "judge": self.config.judge,
            "sample_s": self.sample_s, "wall_s": self.wall_s, "provenance": self.provenance,
        }

    def arrays(self) -> dict[str, np.ndarray]:
        out = {}
        for name in self.correct:
            out[f"{name}_correct"] = self.correct[name]
            out[f"{name}_chain"] = self.chain[name]
        return out

    def tables(self) -> dict[str, dict[str, np.ndarray]]:
        out = {}
        for name, c in self.curves().items():
            out[f"curve_{name}"] = {k: v for k, v in c.items()}
        rows = self.dynamics()["rows"]
        if rows:
            out["dynamics"] = {k: np.array([np.nan if r[k] is None else r[k] for r in rows], float)
                               for k in ("step", "pass_at_1", "pass_at_n", "cot_pass_at_1", "cot_pass_at_n", "p_cc_given_ca", "lucky")}
        return out

    def figures(self) -> dict:
        def curves(fig):
            ax = fig.add_subplot()
            for i, (name, c) in enumerate(self.curves().items()):
                col = f"C{i}"
                ax.plot(c["k"], c["pass_at_k"], color=col, ls="--", label=f"{name} Pass@K")
                ax.plot(c["k"], c["cot_pass_at_k"], color=col, label=f"{name} CoT-Pass@K")
                ax.fill_between(c["k"], c["cot_pass_at_k_lo"], c["cot_pass_at_k_hi"], color=col, alpha=0.2)
            ck = self.crossing_k()
            if ck:
                ax.axvline(ck, color="grey", ls=":", label=f"Pass@K crossing K ≈ {ck:.1f}")
            ax.set_xscale("log", base=2)
            ax.set_xlabel("K (samples)")
            ax.set_ylabel("Pass@K, CoT-Pass@K")
            ax.legend(fontsize=7)

        def dynamics(fig):
            rows = [r for r in self.dynamics()["rows"] if r["step"] is not None]
            ax = fig.add_subplot()
            s = [r["step"] for r in rows]
            for key in ("cot_pass_at_1", "cot_pass_at_n", "pass_at_n", "p_cc_given_ca"):
                ax.plot(s, [r[key] for r in rows], marker="o", label=key)
            ax.set_xlabel("RL step")
            ax.set_ylabel("rate")
            ax.legend(fontsize=7)

        return {"curves": curves, "dynamics": dynamics} if self.correct else {}
