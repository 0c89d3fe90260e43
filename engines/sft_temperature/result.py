"""The Result: the advisor's H_T curves, the vocabulary-scaling table, and the study's records, with what the
paper's three findings read off them.

Over seeds a figure is the mean with the standard error std(ddof=1)/√S (one seed: the evaluation's own standard
error over prompts). ``scaling()``: per SFT start, held-out pass@1 after SFT and after the same RL run; the *gap
between starts* is, per seed, the best start's pass@1 minus the worst's (the spread), before and after RL;
``prompts_over_responses`` is, per size m, pass@1 of the prompts arm minus the responses arm at the same traces.
``temperature()``: H_T per T and the advised T (the advisor mode's checkpoint curve, else the study's curves on
the reference start), the target, and the RL outcome at the low, advised and high T.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engines.base import Figure, ResultBase, jsonable

from .config import Config

RECORDED_NAME = "recorded sft"  # the start name of the reasoning world's recorded SFT policy (study.RECORDED_NAME)

ARMS = ("low", "advised", "high")


def mean_se(values, within=None) -> dict:
    """Mean over seeds with std(ddof=1)/√S; with one seed its own (within-run) error."""
    v = np.array([x for x in values if x is not None and np.isfinite(x)], dtype=float)
    if len(v) == 0:
        return {"mean": None, "se": None, "n": 0, "per_seed": []}
    if len(v) > 1:
        se = float(v.std(ddof=1) / np.sqrt(len(v)))
    else:
        w = [x for x in (within or []) if x is not None and np.isfinite(x)]
        se = float(w[0]) if w else None
    return {"mean": float(v.mean()), "se": se, "n": int(len(v)), "per_seed": v.tolist()}


@dataclass
class Result(ResultBase):
    PAPER = {
        "advised_T": Figure(0.85, "", "RL temperature keeping H_T near 0.3 nats, AceReason-Nemotron-1.1-7B (0.6 under-explores, "
                            "1.0 starts too high)"),
        "target_entropy": Figure(0.3, "nats", "temperature-adjusted entropy target, 7B model with a 152K vocabulary"),
    }

    config: Config
    curves: list[dict] = field(default_factory=list)  # advisor mode: one H_T curve per measured checkpoint
    vocab: dict = field(default_factory=dict)  # entropy.vocab_scaling()
    study: list[dict] = field(default_factory=list)  # the study's records: kind "sft" / "advisor" / "rl" (each with seed)
    study_source: dict | None = None  # provenance of the recorded study shown (None: trained live, or none)
    wall_s: float = 0.0

    # ---- the study's records ----------------------------------------------------------------------------------
    def records(self, kind: str) -> list[dict]:
        return [r for r in self.study if r.get("kind") == kind]

    def seeds(self) -> list[int]:
        return sorted({int(r["seed"]) for r in self.records("sft")})

    def start_names(self) -> list[str]:
        return list(dict.fromkeys(r["start"] for r in self.records("sft")))

    def _value(self, kind: str, start: str, key: str, arm: str | None = None) -> tuple[list, list]:
        rows = {r["seed"]: r for r in self.records(kind) if r["start"] == start and (arm is None or r.get("arm") == arm)}
        seeds = self.seeds()
        vals = [rows[s].get(key) if s in rows else None for s in seeds]
        ses = [rows[s].get(key + "_se") if s in rows else None for s in seeds]
        return vals, ses

    def scaling(self) -> dict:
        """Per start: SFT and post-RL pass@1 (mean ± s.e.), the gap between starts before and after RL, prompts − responses."""
        if not self.records("sft"):
            return {}
        out = []
        for name in self.start_names():
            info = next(r for r in self.records("sft") if r["start"] == name)
            a, sa = self._value("sft", name, "sft_acc")
            b, sb = self._value("rl", name, "rl_acc", "advised")
            tok, _ = self._value("sft", name, "tokens")
            gain = [y - x for x, y in zip(a, b) if x is not None and y is not None]
            out.append({"start": name, "arm": info["arm"], "multiple": info["multiple"], "prompts": info["prompts"],
                        "responses": info["responses"], "traces": info["traces"], "tokens": mean_se(tok)["mean"],
                        "sft": mean_se(a, sa), "rl": mean_se(b, sb), "gain": mean_se(gain)})

        names = set(self.start_names())

        def spread(key, kind, arm=None):
            per_seed = []
            for s in self.seeds():
                vals = [r[key] for r in self.records(kind) if r["seed"] == s and (arm is None or r.get("arm") == arm)
                        and r["start"] in names]
                if len(vals) == len(out):
                    per_seed.append(max(vals) - min(vals))
            return mean_se(per_seed)

        before, after = spread("sft_acc", "sft"), spread("rl_acc", "rl", "advised")
        pvr = {}
        for m in sorted({o["multiple"] for o in out if o["arm"] == "prompts"}):
            p = f"prompts×{m}"
            q = f"responses×{m}"
            for when, kind, key, arm in (("sft", "sft", "sft_acc", None), ("rl", "rl", "rl_acc", "advised")):
                x, _ = self._value(kind, p, key, arm)
                y, _ = self._value(kind, q, key, arm)
                pvr.setdefault(str(m), {})[when] = mean_se([u - v for u, v in zip(x, y) if u is not None and v is not None])
        narrowed = [b - a for a, b in zip(before["per_seed"], after["per_seed"])]
        return {"starts": out, "gap": {"sft": before, "rl": after, "change": mean_se(narrowed),
                                       "narrowed": bool(after["mean"] is not None and before["mean"] is not None
                                                        and after["mean"] < before["mean"])},
                "prompts_over_responses": pvr, "seeds": self.seeds(),
                "stronger_start_stays_stronger": self._order_kept(out)}

    @staticmethod
    def _order_kept(out: list[dict]) -> dict:
        """Spearman rank correlation over starts between mean SFT and mean post-RL pass@1 (1 = the order is kept)."""
        a = [o["sft"]["mean"] for o in out]
        b = [o["rl"]["mean"] for o in out]
        if len(a) < 3 or any(v is None for v in a + b):
            return {"spearman": None}
        ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
        return {"spearman": float(np.corrcoef(ra, rb)[0, 1]), "best_sft": out[int(np.argmax(a))]["start"],
                "best_rl": out[int(np.argmax(b))]["start"]}

    def temperature_starts(self) -> list[str]:
        """Starts with temperature arms (a "low" RL run), in the order the study ran them."""
        return list(dict.fromkeys(r["start"] for r in self.records("rl") if r.get("arm") == "low"))

    def _reference(self) -> str:
        """The temperature arms shown first: the recorded SFT policy's when the study has them (the stronger start, the
        paper's setting), else the study's own."""
        starts = self.temperature_starts()
        if RECORDED_NAME in starts:
            return RECORDED_NAME
        if starts:
            return starts[0]
        adv = self.records("advisor")
        return adv[0]["start"] if adv else ""

    def rl_curves(self, start: str | None = None) -> dict:
        """Per temperature arm of ``start`` (default: the reference): ``{"temperature", "steps", "score", "entropy":
        {"mean", "lo", "hi"}, "no_signal"}`` over seeds."""
        start = self._reference() if start is None else start
        out = {}
        for arm in ARMS:
            rows = [r for r in self.records("rl") if r.get("arm") == arm and r["start"] == start]
            if not rows:
                continue
            n = min(len(r["curve"]) for r in rows)
            if n == 0:
                continue
            entry = {"temperature": mean_se([r["temperature"] for r in rows]), "steps": np.arange(1, n + 1)}
            for key in ("score", "entropy", "no_signal"):
                table = np.array([[c[key] for c in r["curve"][:n]] for r in rows], dtype=float)
                mean = table.mean(0)
                se = table.std(0, ddof=1) / np.sqrt(len(rows)) if len(rows) > 1 else np.zeros(n)
                entry[key] = {"mean": mean, "lo": mean - se, "hi": mean + se}
            out[arm] = entry
        return out

    def advisor_curve(self) -> dict:
        """The H_T curve the headline's advised T comes from: the first checkpoint's, else the study's mean over seeds."""
        if self.curves:
            c = self.curves[0]
            return {"name": c["name"], "temperatures": c["temperatures"], "entropy": c["entropy"], "entropy_se": c["entropy_se"],
                    "advised": c["temperature"], "advised_se": None, "where": c["where"], "vocab": c.get("vocab")}
        return self.study_entropy_curve()

    def advisor_starts(self) -> list[str]:
        return list(dict.fromkeys(a["start"] for a in self.records("advisor")))

    def study_entropy_curve(self, start: str | None = None) -> dict:
        """The study's H_T curve on ``start`` (default: its first advisor start): mean and ±s.e. over seeds, the advised T."""
        starts = self.advisor_starts()
        if not starts:
            return {}
        start = starts[0] if start is None else start
        adv = [a for a in self.records("advisor") if a["start"] == start]
        grid = adv[0]["temperatures"]
        table = np.array([a["entropy"] for a in adv if a["temperatures"] == grid], dtype=float)
        t = mean_se([a["temperature"] for a in adv])
        se = table.std(0, ddof=1) / np.sqrt(len(table)) if len(table) > 1 else np.array(adv[0]["entropy_se"], dtype=float)
        label = start if start == RECORDED_NAME else f"study start {start}"
        return {"name": f"{label} ({len(table)} seeds)", "start": start, "temperatures": grid,
                "entropy": table.mean(0).tolist(), "entropy_se": se.tolist(), "advised": t["mean"], "advised_se": t["se"],
                "where": adv[0]["where"], "vocab": adv[0].get("vocab")}

    def entropy_curves(self) -> list[dict]:
        """Every H_T curve to draw: each measured checkpoint's, then the study's per start (``name``, ``temperatures``,
        ``entropy``, ``entropy_se``)."""
        out = [{"name": c["name"], "temperatures": c["temperatures"], "entropy": c["entropy"], "entropy_se": c["entropy_se"]}
               for c in self.curves]
        return out + [self.study_entropy_curve(s) for s in self.advisor_starts()]

    def _arms(self, start: str) -> dict:
        """RL at low / advised / high T from ``start``: T, post-RL pass@1, gain over the start, rollout entropy, no-signal share."""
        sft = {r["seed"]: r["sft_acc"] for r in self.records("sft") if r["start"] == start}
        sft.update({a["seed"]: a["sft_acc"] for a in self.records("advisor") if a["start"] == start and "sft_acc" in a})
        rl = {}
        for arm in ARMS:
            rows = [r for r in self.records("rl") if r.get("arm") == arm and r["start"] == start]
            if not rows:
                continue
            gains = [r["rl_acc"] - sft[r["seed"]] for r in rows if r["seed"] in sft]
            ent = [np.mean([c["entropy"] for c in r["curve"]]) for r in rows if r["curve"]]
            rl[arm] = {"temperature": mean_se([r["temperature"] for r in rows]), "acc": mean_se([r["rl_acc"] for r in rows]),
                       "gain": mean_se(gains), "rollout_entropy": mean_se(ent),
                       "no_signal": mean_se([np.mean([c["no_signal"] for c in r["curve"]]) for r in rows if r["curve"]])}
        if rl:
            rl["start_acc"] = mean_se(list(sft.values()))
        return rl

    def temperature(self) -> dict:
        """H_T per T and the advised T (advisor curve), every checkpoint's curve, the study's, and RL at low / advised / high T
        (``rl``: from the reference start; ``rl_by_start``: every start with arms)."""
        main = self.advisor_curve()
        out: dict = {"target": self.config.target_entropy}
        if main:
            out.update({"measured_on": main["name"], "temperatures": main["temperatures"], "H_T": main["entropy"],
                        "H_T_se": main["entropy_se"], "advised_T": main["advised"], "advised_T_se": main["advised_se"],
                        "where": main["where"]})
        out["checkpoints"] = {c["name"]: {"path": c.get("path"), "temperatures": c["temperatures"], "H_T": c["entropy"],
                                          "advised_T": c["temperature"], "where": c["where"], "vocab": c.get("vocab")}
                              for c in self.curves}
        if self.advisor_starts():
            out["study_advised_T"] = {s: {**mean_se([a["temperature"] for a in self.records("advisor") if a["start"] == s]),
                                          "where": sorted({a["where"] for a in self.records("advisor") if a["start"] == s})}
                                      for s in self.advisor_starts()}
        by_start = {s: self._arms(s) for s in self.temperature_starts()}
        ref = self._reference()
        if by_start.get(ref):
            out["rl"] = {k: v for k, v in by_start[ref].items() if k in ARMS}
            out["rl_start"] = ref
            accs = {a: v["acc"]["mean"] for a, v in out["rl"].items()}
            out["best_arm"] = max(accs, key=lambda a: accs[a])
            out["rl_by_start"] = by_start
        return out

    # ---- the contract -----------------------------------------------------------------------------------------
    def headline(self) -> dict[str, Figure]:
        out = {}
        main = self.advisor_curve()
        if main:
            out["advised_T"] = Figure(main["advised"], "", f"T where H_T meets {self.config.target_entropy:g} nats on {main['name']} "
                                      f"({main['where']})", main["advised_se"])
        out["target_entropy"] = Figure(self.config.target_entropy, "nats", "the toy's H_T target (the paper's 0.3 as the same "
                                       "fraction of ln V)")
        sc = self.scaling()
        if sc:
            m = max(sc["prompts_over_responses"], key=int)
            d = sc["prompts_over_responses"][m]["sft"]
            out["prompts_over_responses"] = Figure(d["mean"], "", f"SFT pass@1, {m}× data by prompts minus by responses", d["se"])
            g = sc["gap"]
            out["gap_sft"] = Figure(g["sft"]["mean"], "", "pass@1 spread between SFT starts, after SFT", g["sft"]["se"])
            out["gap_rl"] = Figure(g["rl"]["mean"], "", "the same spread after the same RL", g["rl"]["se"])
        return out

    def details(self) -> dict:
        return {"scaling": self.scaling(), "temperature": self.temperature(), "vocab_scaling": self.vocab,
                "study_source": self.study_source, "wall_s": self.wall_s, "mode": self.config.mode}

    def arrays(self) -> dict[str, np.ndarray]:
        out = {}
        for i, c in enumerate(self.curves):
            out[f"advisor{i}_temperatures"], out[f"advisor{i}_entropy"] = np.array(c["temperatures"]), np.array(c["entropy"])
        for arm, c in self.rl_curves().items():
            out[f"rl_{arm}_steps"], out[f"rl_{arm}_score"], out[f"rl_{arm}_entropy"] = c["steps"], c["score"]["mean"], c["entropy"]["mean"]
        return out

    def tables(self) -> dict[str, dict[str, np.ndarray]]:
        out = {}
        sc = self.scaling()
        if sc:
            s = sc["starts"]

            def col(key, sub):
                return np.array([np.nan if o[key][sub] is None else o[key][sub] for o in s], dtype=float)

            arm = {"base": 0, "prompts": 1, "responses": 2}
            out["scaling"] = {"arm_0base_1prompts_2responses": np.array([arm[o["arm"]] for o in s]),
                              "prompts": np.array([o["prompts"] for o in s]),
                              "responses": np.array([o["responses"] for o in s]), "traces": np.array([o["traces"] for o in s]),
                              "tokens": np.array([o["tokens"] for o in s], dtype=float), "sft_pass1": col("sft", "mean"),
                              "sft_pass1_se": col("sft", "se"), "rl_pass1": col("rl", "mean"), "rl_pass1_se": col("rl", "se")}
        main = self.advisor_curve()
        if main:
            out["entropy"] = {"temperature": np.array(main["temperatures"]), "H_T": np.array(main["entropy"]),
                              "H_T_se": np.array(main["entropy_se"], dtype=float)}
        return out

    def figures(self) -> dict:
        out = {}
        sc = self.scaling()

        def scaling(fig):
            ax = fig.add_subplot()
            for arm, style in (("prompts", "o-"), ("responses", "s--")):
                rows = [o for o in sc["starts"] if o["arm"] in ("base", arm)]
                x = [o["traces"] for o in rows]
                for when, alpha in (("sft", 1.0), ("rl", 0.5)):
                    y = [o[when]["mean"] for o in rows]
                    e = [o[when]["se"] or 0 for o in rows]
                    ax.errorbar(x, y, e, fmt=style, alpha=alpha, capsize=3, label=f"{arm}, after {when.upper()}")
            ax.set_xscale("log", base=2)
            ax.set_xlabel("SFT traces (equal token budgets)")
            ax.set_ylabel("held-out pass@1")
            ax.legend(fontsize=7)

        def entropy(fig):
            ax = fig.add_subplot()
            for c in self.curves or [dict(self.advisor_curve(), temperature=self.advisor_curve()["advised"])]:
                ax.plot(c["temperatures"], c["entropy"], "o-", label=c["name"])
            ax.axhline(self.config.target_entropy, color="grey", ls="--", label="target")
            ax.axvline(self.advisor_curve()["advised"], color="k", ls=":", label="advised T")
            ax.set_xlabel("sampling temperature T")
            ax.set_ylabel("H_T (nats)")
            ax.legend(fontsize=7)

        def rl(fig):
            axes = fig.subplots(1, 2)
            for arm, c in self.rl_curves().items():
                for ax, key in zip(axes, ("score", "entropy")):
                    ax.plot(c["steps"], c[key]["mean"], label=f"{arm} (T={c['temperature']['mean']:.2f})")
                    ax.fill_between(c["steps"], c[key]["lo"], c[key]["hi"], alpha=0.2)
            axes[0].set_ylabel("training reward")
            axes[1].set_ylabel("rollout entropy H_T (nats)")
            for ax in axes:
                ax.set_xlabel("RL step")
                ax.legend(fontsize=7)

        if sc:
            out["scaling"] = scaling
        if self.advisor_curve():
            out["entropy"] = entropy
        if self.rl_curves():
            out["rl_temperatures"] = rl
        return out

    def save(self, out_dir: str | Path) -> Path:
        """The contract's files plus ``study.jsonl`` (every record of the study)."""
        out = super().save(out_dir)
        with open(out / "study.jsonl", "w") as f:
            for r in self.study:
                f.write(json.dumps(jsonable(r)) + "\n")
        return out
