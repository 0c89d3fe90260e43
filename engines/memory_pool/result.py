"""The Result: per-policy runs side by side, their summary, tables, figures and memory snapshots."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..base import ResultBase, jsonable
from .config import Config
from .simulator import CATEGORIES, PolicyRun
from .snapshot import save_snapshot

PAPER = {"decode_throughput_x": 2.32, "batch_x": 3.0, "input_tokens": 131072}
SUMMARY_KEYS = (
    "decode_tokens_per_s",
    "goodput_rps",
    "max_batch",
    "max_admitted",
    "preemptions",
    "offloads",
    "ttft_p50_s",
    "ttft_p99_s",
    "tpot_p50_s",
    "tpot_p99_s",
)
EXTRA_KEYS = (
    "mean_batch",
    "reloads",
    "rejected",
    "chunk_maps",
    "chunk_unmaps",
    "lends",
    "pcie_gib",
    "e2e_p50_s",
    "makespan_s",
    "iterations",
    "finished",
    "slo_attainment",
    "kv_capacity_tokens",
    "static_reserve_gib",
)


def _ratio(a: float, b: float) -> float:
    return a / b if b else (float("inf") if a else float("nan"))


@dataclass
class Result(ResultBase):
    config: Config
    runs: dict[str, PolicyRun]
    trace: dict
    memory: dict
    arrival_s: np.ndarray
    input_tokens: np.ndarray
    output_tokens: np.ndarray
    ttft_target_s: np.ndarray
    sensitivity: dict | None = None
    snapshots: dict = field(default_factory=dict)

    def ratios(self) -> dict:
        out = {}
        if "elastic" in self.runs:
            e = self.runs["elastic"].stats
            for base in ("static_unchunked", "static_chunked"):
                if base in self.runs:
                    s = self.runs[base].stats
                    out[f"elastic_vs_{base}"] = dict(
                        decode_throughput=_ratio(e["decode_tokens_per_s"], s["decode_tokens_per_s"]),
                        max_batch=_ratio(e["max_batch"], s["max_batch"]),
                        goodput=_ratio(e["goodput_rps"], s["goodput_rps"]),
                        ttft_p50=_ratio(e["ttft_p50_s"], s["ttft_p50_s"]),
                        ttft_p99=_ratio(e["ttft_p99_s"], s["ttft_p99_s"]),
                    )
        return out

    # ---- series for plots (presentation-ready numbers; the panel and the figures draw these) ------------
    def throughput_series(self, policy: str, n_bins: int = 120) -> tuple[np.ndarray, np.ndarray]:
        """Decode throughput over time (bin centres in s, tok/s).

        A record spans ``[t − dt, t]`` (a fast-forwarded record spans many iterations); its tokens are
        spread evenly over that span: the cumulative token count is interpolated linearly at the bin edges.
        """
        r = self.runs[policy].rec
        end = max((float(run.rec["t"][-1]) for run in self.runs.values() if len(run.rec["t"])), default=1.0)
        edges = np.linspace(0.0, max(end, 1e-9), n_bins + 1)
        if not len(r["t"]):
            return 0.5 * (edges[1:] + edges[:-1]), np.zeros(n_bins)
        cum = np.r_[0.0, np.cumsum(r["decode_tokens"])]
        # records are instantaneous at their end for single steps; spread each over its own duration
        starts = r["t"] - r["dt"]
        x = np.empty(2 * len(r["t"]))
        y = np.empty_like(x)
        x[0::2], x[1::2] = starts, r["t"]
        y[0::2], y[1::2] = cum[:-1], cum[1:]
        x = np.maximum.accumulate(np.r_[0.0, x])
        y = np.r_[0.0, y]
        tok = np.diff(np.interp(edges, x, y))
        return 0.5 * (edges[1:] + edges[:-1]), tok / np.diff(edges)

    def memory_series(self, policy: str) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Time (s) and GiB per memory category, one point per recorded step."""
        r = self.runs[policy].rec
        return r["t"], {k: r[k] / 2**30 for k in CATEGORIES}

    def cdf(self, policy: str, metric: str) -> tuple[np.ndarray, np.ndarray]:
        """Empirical CDF of ``ttft`` or ``tpot`` over finished requests."""
        x = getattr(self.runs[policy], f"{metric}_s")
        x = np.sort(x[np.isfinite(x)])
        return x, np.arange(1, len(x) + 1) / max(1, len(x))

    def summary(self) -> dict:
        pol = {p: {k: r.stats[k] for k in SUMMARY_KEYS + EXTRA_KEYS} for p, r in self.runs.items()}
        out = dict(
            workload=self.trace["workload"],
            model=self.config.model,
            gpu=self.config.gpu,
            trace=self.trace,
            memory=self.memory,
            policies=pol,
            ratios=self.ratios(),
            paper=PAPER,
        )
        if self.sensitivity is not None:
            s = self.sensitivity
            out["sensitivity"] = dict(
                models=s["models"].tolist(),
                memory_gb=s["memory_gb"].tolist(),
                input_tokens=s["input_tokens"].tolist(),
                activation_to_kv=s["activation_to_kv"].tolist(),
                **{k: s[k].tolist() for k in s if k.startswith(("tps_", "batch_", "served_"))},
            )
        return jsonable(out)

    def arrays(self) -> dict[str, np.ndarray]:
        out = dict(arrival_s=self.arrival_s, input_tokens=self.input_tokens, output_tokens=self.output_tokens)
        for p, r in self.runs.items():
            out.update(
                {
                    f"{p}_ttft_s": r.ttft_s,
                    f"{p}_tpot_s": r.tpot_s,
                    f"{p}_frames": r.frames,
                    f"{p}_frame_t": r.frame_t,
                    f"{p}_cpu_frames": r.cpu_frames,
                }
            )
            out.update({f"{p}_rec_{k}": v for k, v in r.rec.items()})
        if self.sensitivity is not None:
            out.update({f"sens_{k}": np.asarray(v) for k, v in self.sensitivity.items() if k != "models"})
        return out

    def tables(self) -> dict[str, dict[str, np.ndarray]]:
        req = dict(
            arrival_s=self.arrival_s, input_tokens=self.input_tokens, output_tokens=self.output_tokens, ttft_target_s=self.ttft_target_s
        )
        for p, r in self.runs.items():
            req.update({f"{p}_ttft_s": r.ttft_s, f"{p}_tpot_s": r.tpot_s, f"{p}_e2e_s": r.e2e_s, f"{p}_preempted": r.preempted})
        out = {"requests": req}
        for p, r in self.runs.items():
            cols = {
                k: r.rec[k] for k in ("t", "dt", "n_iter", "batch", "admitted", "prefill_tokens", "decode_tokens", *CATEGORIES, "cpu_kv")
            }
            out[f"timeline_{p}"] = cols
        return out

    def save(self, out_dir: str | Path) -> Path:
        out = super().save(out_dir)
        for p, snap in self.snapshots.items():
            save_snapshot(snap, out / f"memory_snapshot_{p}.pickle")
        return out

    # ---- figures (matplotlib, for the CLI) -------------------------------------------------------
    def figures(self):
        figs = {"memory": self._fig_memory, "batch": self._fig_batch, "latency": self._fig_latency}
        if self.sensitivity is not None:
            figs["sensitivity"] = self._fig_sensitivity
        return figs

    def _fig_memory(self, fig) -> None:
        shown = [p for p in ("static_unchunked", "static_chunked", "elastic") if p in self.runs]
        axes = fig.subplots(1, len(shown), sharey=True, squeeze=False)[0]
        colors = ["#555555", "#999999", "#e6a23c", "#f5d9a8", "#409eff", "#b3d8ff", "#eeeeee"]
        for ax, p in zip(axes, shown):
            t, gib = self.memory_series(p)
            ax.stackplot(t, *gib.values(), labels=CATEGORIES, colors=colors, step="post")
            ax.set_title(p)
            ax.set_xlabel("simulated time [s]")
        axes[0].set_ylabel("GPU memory [GiB]")
        axes[-1].legend(loc="upper right", fontsize=7)

    def _fig_batch(self, fig) -> None:
        ax = fig.subplots()
        for p, r in self.runs.items():
            ax.step(r.rec["t"], r.rec["batch"], where="post", label=f"{p} (max {r.stats['max_batch']})")
        ax.set_xlabel("simulated time [s]")
        ax.set_ylabel("decode batch [requests]")
        ax.legend()

    def _fig_latency(self, fig) -> None:
        a1, a2 = fig.subplots(1, 2)
        for p in self.runs:
            for ax, metric in ((a1, "ttft"), (a2, "tpot")):
                x, y = self.cdf(p, metric)
                if len(x):
                    ax.step(x, y, where="post", label=p)
        a1.axvline(float(np.median(self.ttft_target_s)), color="k", ls="--", label="median TTFT target")
        a2.axvline(self.config.tpot_slo_s, color="k", ls="--", label="TPOT target")
        a1.set_xlabel("TTFT [s]")
        a2.set_xlabel("TPOT [s]")
        a1.set_ylabel("fraction of requests")
        a1.legend(fontsize=7)
        a2.legend(fontsize=7)

    def _fig_sensitivity(self, fig) -> None:
        s = self.sensitivity
        axes = fig.subplots(1, len(s["models"]), squeeze=False)[0]
        for i, ax in enumerate(axes):
            z = s["tps_ratio_vs_static_unchunked"][i]
            shown = np.where(z == np.inf, 2.5, np.where(np.isfinite(z), z, np.nan))  # "static cannot serve" at the top colour
            im = ax.imshow(shown, origin="lower", cmap="viridis", aspect="auto", vmin=0.9, vmax=2.5)
            for j in range(z.shape[0]):
                for k in range(z.shape[1]):
                    b = s["batch_ratio_vs_static_unchunked"][i, j, k]
                    served = s["served_static_unchunked"][i, j, k]
                    if z[j, k] == np.inf:
                        text = "static\ncannot"
                    elif not np.isfinite(z[j, k]):
                        text = "—"
                    elif served < 1:
                        text = f"{z[j, k]:.2f}×\nserves {served:.0%}"
                    else:
                        text = f"{z[j, k]:.2f}×\nb{b:.1f}×"
                    ax.text(k, j, text, ha="center", va="center", fontsize=6, color="w" if np.isfinite(z[j, k]) else "k")
            ax.set_xticks(range(len(s["input_tokens"])), [f"{t // 1024}K" for t in s["input_tokens"]])
            ax.set_yticks(range(len(s["memory_gb"])), [f"{m:g}" for m in s["memory_gb"]])
            ax.set_title(str(s["models"][i]), fontsize=8)
            ax.set_xlabel("input [tokens]")
        axes[0].set_ylabel("GPU memory [GB]")
        fig.colorbar(im, ax=list(axes), label="elastic / static-unchunked decode throughput")
