"""The Result: per-policy runs side by side, their figures, the series the views draw, tables and memory snapshots.

Besides the numbers, this module holds what every view of the result shares, so a panel and the CLI's figures
draw the same thing in the same words: ``COLORS`` (memory categories and policies), ``CATEGORY_LABELS``,
``POLICY_LABELS`` and ``CHUNK_CODES`` (the chunk-map cell codes by name).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..base import Figure, ResultBase, jsonable
from . import sensitivity as sens
from .config import Config
from .policies import (
    CATEGORIES,
    CODE_BEYOND_CAP,
    CODE_FREE,
    CODE_KV_REQUEST,
    CODE_KV_UNUSED,
    CODE_OVERHEAD,
    CODE_RUNTIME_ACTIVE,
    CODE_RUNTIME_IDLE,
    CODE_WEIGHTS,
)
from .recorder import EVENT_KINDS, PolicyRun
from .snapshot import save_snapshot

PAPER = {
    "decode_throughput_x": Figure(2.32, "×", "decode throughput, eLLM over static partitioning, 128K-token inputs"),
    "batch_x": Figure(3.0, "×", "decode batch size, eLLM over static partitioning, 128K-token inputs"),
    "input_tokens": Figure(128, "K tokens", "input length of the requests those ratios are measured at (1K = 1,024)"),
}
# the chunk map's cell codes by name (``PolicyRun.frames``); a request's KV cells are kv_request + (request % KV_HUES)
CHUNK_CODES = {
    "free": CODE_FREE,
    "weights": CODE_WEIGHTS,
    "overhead": CODE_OVERHEAD,
    "runtime_active": CODE_RUNTIME_ACTIVE,
    "runtime_idle": CODE_RUNTIME_IDLE,
    "beyond_cap": CODE_BEYOND_CAP,
    "kv_free": CODE_KV_UNUSED,
    "kv_request": CODE_KV_REQUEST,
}
POLICY_LABELS = {"static_unchunked": "static, unchunked", "static_chunked": "static, chunked", "elastic": "elastic (eLLM)"}
CATEGORY_LABELS = {
    "weights": "weights",
    "overhead": "CUDA ctx/graphs",
    "runtime_active": "runtime (in use)",
    "runtime_idle": "runtime (idle)",
    "kv_used": "KV (requests)",
    "kv_free": "KV (unused)",
    "free": "free",
    "beyond_cap": "above the utilization cap",
}
COLORS = {
    "weights": "#4d4d4d",
    "overhead": "#9a9a9a",
    "runtime_active": "#e67e22",
    "runtime_idle": "#f8cf9f",
    "kv_used": "#2e86de",
    "kv_free": "#b9d7f5",
    "free": "#eeeeee",
    "beyond_cap": "#2b2b2b",
    "static_unchunked": "#d62728",
    "static_chunked": "#ff7f0e",
    "elastic": "#1f77b4",
}
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


def _ratio_figure(value: float, what: str) -> Figure:
    if value == float("inf"):
        return Figure(None, "×", what + " (static completes no request)")
    return Figure(value, "×", what)


@dataclass(repr=False)  # repr() is the base's: the headline beside the paper's numbers
class Result(ResultBase):
    """Every chosen policy's run on one trace, the trace itself, the memory arithmetic and the sensitivity map.

    ``runs``: policy -> PolicyRun (per-request latencies, per-record timeline ``rec``, chunk-map ``frames``,
    ``events``, ``stats``); ``trace``: what was simulated (workload, source file, requests, rate); ``memory``:
    weights, KV and activation bytes, the cap; ``sensitivity``: the map (``sensitivity.sweep``) or None;
    ``snapshots``: policy -> PyTorch-shaped memory snapshot (when ``export_snapshot``).
    """

    PAPER = PAPER
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

    # ---- the contract's figures ---------------------------------------------------------------------
    def policy_label(self, policy: str) -> str:
        """The policy's name as the views print it (the chunked baseline with its prefill budget)."""
        if policy == "static_chunked":
            n = self.config.chunk_tokens
            return f"static, chunked {n // 1024}K" if n % 1024 == 0 else f"static, chunked {n:,}"
        return POLICY_LABELS[policy]

    def headline(self) -> dict[str, Figure]:
        """Elastic over unchunked static (the paper's comparison) and over chunked static, at this trace's inputs;
        a run of fewer policies reports each one's decode throughput and largest batch instead."""
        out: dict[str, Figure] = {}
        ratios = self.ratios()
        vs = ratios.get("elastic_vs_static_unchunked")
        if vs is not None:
            out["decode_throughput_x"] = _ratio_figure(vs["decode_throughput"], "decode throughput, elastic / unchunked static")
            out["batch_x"] = _ratio_figure(vs["max_batch"], "largest batch, elastic / unchunked static")
        chunked = ratios.get("elastic_vs_static_chunked")
        if chunked is not None:
            out["decode_throughput_vs_chunked_x"] = _ratio_figure(
                chunked["decode_throughput"], f"decode throughput, elastic / {self.policy_label('static_chunked')}"
            )
        if not out:
            for p, r in self.runs.items():
                label = self.policy_label(p)
                out[f"{p}_decode_tokens_per_s"] = Figure(r.stats["decode_tokens_per_s"], "tokens/s", f"decode throughput, {label}")
                out[f"{p}_max_batch"] = Figure(r.stats["max_batch"], "requests", f"largest decode batch, {label}")
        out["input_tokens"] = Figure(self.trace["mean_input"] / 1024, "K tokens", "mean input (1K = 1,024)")
        return out

    def details(self) -> dict:
        pol = {p: {k: r.stats[k] for k in SUMMARY_KEYS + EXTRA_KEYS} for p, r in self.runs.items()}
        out = dict(
            workload=self.trace["workload"],
            model=self.config.model,
            gpu=self.config.gpu,
            trace=self.trace,
            memory=self.memory,
            policies=pol,
            ratios=self.ratios(),
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

    def describe_workload(self) -> str:
        """What was simulated, in one line: the trace file or the generated workload, its size and rate, model and GPU."""
        t = self.trace
        what = f"trace {Path(t['source']).name}" if self.config.trace else f"generated {t['workload']} workload"
        rate = f"{t['rate_rps']:.3g} req/s" if np.isfinite(t["rate_rps"]) else "all at once"
        return f"{what}: {t['requests']:,} requests ({rate}), {self.config.model} on {self.config.gpu}"

    # ---- what the views read (the panel draws these as they are) ------------------------------------
    @property
    def ttft_target_median_s(self) -> float:
        """The median request's TTFT target (each request's own is ``ttft_target_s``)."""
        return float(np.median(self.ttft_target_s)) if len(self.ttft_target_s) else float("nan")

    def memory_stack(self, policy: str) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """``memory_series`` stacked for a filled plot: times from 0 and the top (GiB) of each category in CATEGORIES order."""
        t, gib = self.memory_series(policy)
        t = np.r_[0.0, t]
        acc = np.zeros_like(t)
        tops = {}
        for k in CATEGORIES:
            acc = acc + (np.r_[gib[k][0], gib[k]] if len(gib[k]) else 0.0)
            tops[k] = acc.copy()
        return t, tops

    def event_times(self, policy: str, kind: str, max_points: int | None = None) -> np.ndarray:
        """Times (s) of one kind of event (``EVENT_KINDS``), thinned evenly to at most ``max_points``."""
        ev = self.runs[policy].events
        times = np.asarray(ev["t"], dtype=float)[np.asarray(ev["kind"]) == EVENT_KINDS.index(kind)] if len(ev["t"]) else np.zeros(0)
        if max_points is not None and len(times) > max_points:
            times = times[:: len(times) // max_points + 1]
        return times

    def busiest_frame(self, policy: str) -> int:
        """The chunk-map frame nearest the moment the most KV was in use (the frame a view opens on)."""
        run = self.runs[policy]
        if not len(run.frames):
            return 0
        t = run.rec["t"]
        at = float(t[int(np.argmax(run.rec["kv_used"]))]) if len(t) else 0.0
        return int(np.clip(np.searchsorted(run.frame_t, at), 0, len(run.frames) - 1))

    def frame_info(self, policy: str, i: int) -> dict:
        """Frame ``i`` of a policy's chunk map: its time, the decode batch then, and the events since the previous frame."""
        run = self.runs[policy]
        t = float(run.frame_t[i])
        rec_t = run.rec["t"]
        batch = int(run.rec["batch"][int(np.clip(np.searchsorted(rec_t, t), 0, len(rec_t) - 1))]) if len(rec_t) else 0
        t0 = float(run.frame_t[i - 1]) if i else -np.inf  # the first frame counts everything up to it
        ev_t = np.asarray(run.events["t"], dtype=float)
        kinds = np.asarray(run.events["kind"])[(ev_t > t0) & (ev_t <= t)] if len(ev_t) else np.zeros(0, int)
        counts = {EVENT_KINDS[k]: int(n) for k, n in zip(*np.unique(kinds, return_counts=True))}
        return dict(t=t, batch=batch, events=counts)

    def sensitivity_cells(self, model: int, base: str) -> tuple[np.ndarray, list[list[str]]]:
        """One model's map against one static baseline: the shade of each [memory, input] cell and its text."""
        s = self.sensitivity
        z, b, served = s[f"tps_ratio_vs_{base}"][model], s[f"batch_ratio_vs_{base}"][model], s[f"served_{base}"][model]
        done = s["computed"][model] if "computed" in s else np.ones(z.shape, bool)
        text = [[sens.cell_text(z[j, k], b[j, k], served[j, k], done[j, k]) for k in range(z.shape[1])] for j in range(z.shape[0])]
        return sens.cell_shade(z), text

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
        for ax, p in zip(axes, shown):
            t, gib = self.memory_series(p)
            ax.stackplot(t, *gib.values(), labels=[CATEGORY_LABELS[k] for k in gib], colors=[COLORS[k] for k in gib], step="post")
            ax.set_title(self.policy_label(p))
            ax.set_xlabel("simulated time [s]")
        axes[0].set_ylabel("GPU memory [GiB]")
        axes[-1].legend(loc="upper right", fontsize=7)

    def _fig_batch(self, fig) -> None:
        ax = fig.subplots()
        for p, r in self.runs.items():
            ax.step(r.rec["t"], r.rec["batch"], where="post", color=COLORS[p], label=f"{self.policy_label(p)} (max {r.stats['max_batch']})")
        ax.set_xlabel("simulated time [s]")
        ax.set_ylabel("decode batch [requests]")
        ax.legend()

    def _fig_latency(self, fig) -> None:
        a1, a2 = fig.subplots(1, 2)
        for p in self.runs:
            for ax, metric in ((a1, "ttft"), (a2, "tpot")):
                x, y = self.cdf(p, metric)
                if len(x):
                    ax.step(x, y, where="post", color=COLORS[p], label=self.policy_label(p))
        a1.axvline(self.ttft_target_median_s, color="k", ls="--", label="median TTFT target")
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
            shade, text = self.sensitivity_cells(i, "static_unchunked")
            im = ax.imshow(shade, origin="lower", cmap="viridis", aspect="auto", vmin=sens.RATIO_RANGE[0], vmax=sens.RATIO_RANGE[1])
            for j, row in enumerate(text):
                for k, cell in enumerate(row):
                    ax.text(k, j, cell, ha="center", va="center", fontsize=6, color="w" if np.isfinite(shade[j, k]) else "k")
            ax.set_xticks(range(len(s["input_tokens"])), [f"{t // 1024}K" for t in s["input_tokens"]])
            ax.set_yticks(range(len(s["memory_gb"])), [f"{m:g}" for m in s["memory_gb"]])
            ax.set_title(str(s["models"][i]), fontsize=8)
            ax.set_xlabel("input [tokens]")
        axes[0].set_ylabel("GPU memory [GB]")
        fig.colorbar(im, ax=list(axes), label="elastic / static-unchunked decode throughput [×]")
