"""Video generation preview: ASTRAEA's token selection against full compute and the baselines at equal compute.

Every number drawn comes from ``engines.video_dit``'s Result: side-by-side playback of the full-compute video, ASTRAEA's
and the best baseline's at the same compute (PSNR of the frame shown above each), with the tokens ASTRAEA recomputed
at a chosen sampling step laid over its video; PSNR per frame of every method; the searched per-step budget schedule
against the uniform one; the EA's fitness over generations; the quality/compute front of every method. Wall-clock
speed-ups vary from run to run, so the pixels show the deterministic compute share and the speed-ups sit in the
banner's tooltip and the log; Export adds a GIF per video.
"""

from __future__ import annotations

import logging
from html import escape
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QCheckBox, QGridLayout, QLabel, QSizePolicy, QSpinBox, QVBoxLayout, QWidget

from engines.video_dit import LABELS, METHODS, Result
from panels.base import Panel, Player
from panels.plots import BASELINE, METHOD, NEUTRAL, PAPER, pen, plot_widget

log = logging.getLogger("workbench.panels")
COLORS = {"astraea": METHOD, "astraea_recompute_kv": "#cc79a7", "uniform": BASELINE, "fewer_steps": "#009e73",
          "random_tokens": "#999999", "step_cache": "#e69f00"}


class VideoView(QWidget):
    """One video: a title line (what, PSNR of the frame) over a square image, optionally with a token-mask overlay."""

    def __init__(self, title: str):
        super().__init__()
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        self.label = QLabel(title)
        self.label.setStyleSheet("color:#222; font-size:10pt")
        self.label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)  # long text never widens the views
        self.glw = pg.GraphicsLayoutWidget()
        self.glw.setBackground("w")
        self.vb = self.glw.addViewBox(lockAspect=True, invertY=True, enableMouse=False)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.overlay = pg.ImageItem(axisOrder="row-major")
        self.vb.addItem(self.image)
        self.vb.addItem(self.overlay)
        lay.addWidget(self.label)
        lay.addWidget(self.glw, 1)
        self.setMinimumSize(150, 150)

    def draw(self, frame: np.ndarray | None, text: str, mask: np.ndarray | None = None) -> None:
        self.label.setText(text)
        if frame is None:
            return
        self.image.setImage(np.clip(frame, -1, 1), levels=(-1.0, 1.0), autoLevels=False)
        if mask is None:
            self.overlay.clear()
        else:
            rgba = np.zeros((*mask.shape, 4), np.uint8)
            rgba[mask] = (213, 94, 0, 110)
            self.overlay.setImage(rgba, levels=(0, 255), autoLevels=False)
        self.vb.setRange(xRange=(0, frame.shape[1]), yRange=(0, frame.shape[0]), padding=0)


class VideoPreviewPanel(Panel):
    panel_id = "video_preview"
    engine_name = "video_dit"
    form_groups = ("Sampling", "ASTRAEA", "Search", "Run")
    sweep_fields = ("budget", "w_a", "w_b", "steps")

    def default_config(self):
        # the panel's default job: the recorded checkpoint, a shorter search and a three-point front (about a minute on one core)
        return self.engine.Config(population=6, generations=3, front_budgets="0.3,0.5,0.7")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.mask_step = QSpinBox()
        self.mask_step.setRange(0, 0)
        self.mask_step.setValue(1)
        self.mask_step.setToolTip("Sampling step whose recomputed tokens (orange) are laid over ASTRAEA's video "
                                  "(step 0 is always full)")
        self.mask_on = QCheckBox("recomputed tokens (orange) over ASTRAEA")
        self.mask_on.setChecked(True)
        self.mask_on.setToolTip("Show which tokens ASTRAEA recomputed at the chosen step, on the frame shown")
        self.mask_step.valueChanged.connect(lambda _: self._draw_frame())
        self.mask_on.toggled.connect(lambda _: self._draw_frame())
        self.add_controls("View", ("mask step", self.mask_step), self.mask_on)

    def default_source(self) -> str:
        return ("Showing: the recorded checkpoint (resources/video_dit) sampled from held-out noise; "
                "every method against the full-compute video from the same noise")

    # ---- views -----------------------------------------------------------------------------------------------
    def build_views(self) -> QWidget:
        w = QWidget()
        grid = QGridLayout(w)
        grid.setContentsMargins(0, 0, 0, 0)
        self.video_views = {k: VideoView(LABELS.get(k, k)) for k in ("full", "astraea", "baseline")}
        videos = QWidget()
        vlay = QGridLayout(videos)
        vlay.setContentsMargins(0, 0, 0, 0)
        for j, k in enumerate(("full", "astraea", "baseline")):
            vlay.addWidget(self.video_views[k], 0, j)
        self.player = Player("the video's frames", interval_ms=250)
        self.player.frame_changed.connect(lambda _: self._draw_frame())
        vlay.addWidget(self.player, 1, 0, 1, 3)

        self.frame_plot = plot_widget("PSNR per frame (colours as in the front)", "PSNR [dB]", "frame", legend=False)
        self.frame_curves = {m: self.frame_plot.plot([], [], pen=pen(COLORS[m], 2.0), symbol="o", symbolSize=5,
                                                     symbolBrush=COLORS[m], symbolPen=None) for m in METHODS}
        self.frame_line = pg.InfiniteLine(angle=90, pen=pen(NEUTRAL, 1.0, dash=True))
        self.frame_plot.addItem(self.frame_line)

        self.sched_plot = plot_widget("Token budget per step", "budget [share of tokens]",
                                      "sampling step")
        self.sched_best = self.sched_plot.plot([], [], pen=pen(METHOD, 2.2), name="searched (EA)")
        self.sched_uni = self.sched_plot.plot([], [], pen=pen(BASELINE, 2.0, dash=True), name="uniform")
        self.sched_cache = pg.ScatterPlotItem(size=6, brush=pg.mkBrush(COLORS["step_cache"]), pen=None)
        self.sched_plot.addItem(self.sched_cache)
        self.sched_plot.plotItem.legend.addItem(self.sched_cache, "step cache: computed steps")
        self.sched_plot.setYRange(0, 1.05)

        self.ea_plot = plot_widget("EA fitness (search seeds)", "PSNR [dB]", "generation")
        self.ea_pop = pg.ScatterPlotItem(size=5, brush=pg.mkBrush(150, 150, 150, 160), pen=None)
        self.ea_plot.addItem(self.ea_pop)
        self.ea_best = self.ea_plot.plot([], [], pen=pen(METHOD, 2.2), symbol="o", symbolSize=6, symbolBrush=METHOD,
                                         symbolPen=None, name="best")
        self.ea_uni = pg.InfiniteLine(angle=0, pen=pen(BASELINE, 1.6, dash=True), label="uniform",
                                      labelOpts=dict(color=BASELINE, position=0.1))
        self.ea_plot.addItem(self.ea_uni)

        self.front_plot = plot_widget("Quality vs compute (held-out)", "PSNR [dB]",
                                      "compute [share of full token-steps]")
        self.front_curves = {m: self.front_plot.plot([], [], pen=pen(COLORS[m], 2.0), symbol="o", symbolSize=6,
                                                     symbolBrush=COLORS[m], symbolPen=None, name=LABELS[m])
                             for m in ("uniform", "fewer_steps", "random_tokens", "step_cache", "astraea_recompute_kv")}
        self.front_star = pg.ScatterPlotItem(size=16, symbol="star", brush=pg.mkBrush(METHOD), pen=pg.mkPen("#000"))
        self.front_plot.addItem(self.front_star)
        self.front_plot.plotItem.legend.addItem(self.front_star, LABELS["astraea"])
        self.front_30 = pg.InfiniteLine(pos=30.0, angle=0, pen=pen(PAPER, 1.4, dash=True), label="30 dB target",
                                        labelOpts=dict(color=PAPER, position=0.9))
        self.front_plot.addItem(self.front_30)

        for plot in (self.frame_plot, self.sched_plot, self.ea_plot, self.front_plot):
            plot.setMinimumSize(120, 120)
            plot.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
            legend = plot.plotItem.legend
            if legend is not None:
                legend.setLabelTextSize("8pt")
                legend.layout.setVerticalSpacing(-4)
        self.front_plot.plotItem.legend.setOffset((6, 6))
        self.sched_plot.plotItem.legend.setOffset((-6, -6))
        self.ea_plot.plotItem.legend.setOffset((-6, -6))
        grid.addWidget(videos, 0, 0, 1, 2)
        grid.addWidget(self.frame_plot, 0, 2)
        grid.addWidget(self.sched_plot, 1, 0)
        grid.addWidget(self.ea_plot, 1, 1)
        grid.addWidget(self.front_plot, 1, 2)
        for c in range(3):
            grid.setColumnStretch(c, 1)
        grid.setRowStretch(0, 1)
        grid.setRowStretch(1, 1)
        return w

    # ---- drawing -----------------------------------------------------------------------------------------------
    def show_snapshot(self, snap) -> None:
        r: Result = snap.result
        if r is None:
            return
        if snap.has_changed("videos") and "full" in r.videos:
            self.player.set_count(r.videos["full"].shape[0])
            steps = r.masks.shape[0] if r.masks.size else 1
            first = self.mask_step.maximum() == 0
            self.mask_step.setRange(0, max(0, steps - 1))
            if first:
                self.mask_step.setValue(steps // 2)
            self._draw_frame()
        if snap.has_changed("methods"):
            for m, curve in self.frame_curves.items():
                y = r.psnr_frames.get(m)
                curve.setData([] if y is None else np.arange(len(y)), [] if y is None else y)
            self._draw_schedule(r)
        if snap.has_changed("search"):
            self._draw_search(r)
            self._draw_schedule(r)
        if snap.has_changed("front"):
            for m, curve in self.front_curves.items():
                b, _, p = r.front_of(m)
                curve.setData(b, p)
            if "astraea" in r.methods:
                a = r.methods["astraea"]
                self.front_star.setData([a["budget"]], [a["psnr_db"]])
        if snap.progress >= 1.0 and r.methods:  # wall clock varies run to run: tooltip and log, never the pixels
            speed = ", ".join(f"{LABELS[m]} {v['speedup']:.2f}× (wall {v['speedup_wall']:.2f}×)" for m, v in r.methods.items())
            self.headline.setToolTip(f"Speed-up over full compute on this machine, CPU time of one thread (full: "
                                     f"{r.full_cpu_s:.2f} s CPU, {r.full_wall_s:.2f} s wall for {r.config.n_videos} videos): "
                                     f"{speed}. It varies from run to run; `python -m engines bench video_dit` repeats it.")
            log.info("video_preview: %s", speed)

    def _draw_search(self, r: Result) -> None:
        hist = r.search.get("history") or []
        xs = [g for g, scores in enumerate(hist) for _ in scores]
        ys = [s for scores in hist for s in scores]
        self.ea_pop.setData(xs, ys)
        self.ea_best.setData(np.arange(len(hist)), [scores[0] for scores in hist])
        uni = r.search.get("search_psnr_uniform_db")
        self.ea_uni.setVisible(uni is not None)
        if uni is not None:
            self.ea_uni.setValue(uni)

    def _draw_schedule(self, r: Result) -> None:
        best, uni = r.search.get("best_schedule"), r.search.get("uniform_schedule")
        if best:
            self.sched_best.setData(np.arange(len(best)), best)
            self.sched_uni.setData(np.arange(len(uni)), uni)
        if r.computed_steps.size:
            k = np.flatnonzero(r.computed_steps)
            self.sched_cache.setData(k, np.ones(len(k)))

    def _draw_frame(self) -> None:
        r = self.shown
        if r is None or "full" not in getattr(r, "videos", {}):
            return
        f = min(self.player.frame, r.videos["full"].shape[0] - 1)
        self.frame_line.setValue(f)
        self.video_views["full"].draw(r.videos["full"][f], f"full compute · frame {f}")
        mask = None
        if "astraea" in r.videos and self.mask_on.isChecked() and r.masks.size:
            s = min(self.mask_step.value(), r.masks.shape[0] - 1)
            g, p = r.grid, r.patch
            tok = r.masks[s].reshape(-1, g, g)[f]
            mask = np.kron(tok, np.ones((p, p), bool)).astype(bool)
        for key, name in (("astraea", "astraea"), ("baseline", r.best_baseline())):
            if name is None or name not in r.videos:
                self.video_views[key].draw(None, LABELS.get(name or "", "best baseline") + " · waiting")
                continue
            psnr = r.psnr_frames[name][f]
            tail = ""
            if key == "astraea" and mask is not None:
                tail = f" · step {self.mask_step.value()}"
            what = "ASTRAEA" if key == "astraea" else LABELS[name]
            self.video_views[key].draw(r.videos[name][f], f"{what} · {psnr:.1f} dB{tail}", mask if key == "astraea" else None)
            self.video_views[key].label.setToolTip(f"{LABELS[name]}: frame {f}, PSNR {psnr:.2f} dB against full compute")

    def headline_html(self, r) -> str:
        if "astraea" not in r.methods:
            return super().headline_html(r)
        a, u = r.methods["astraea"], r.methods.get("uniform", {})
        best = r.best_baseline()
        b = r.methods[best] if best else None
        gain = r.search.get("heldout_gain_db")
        line1 = (f"<b>ASTRAEA at budget {r.config.budget:g} (compute {a['budget']:.2f} of full, work ratio "
                 f"{1 / max(a['budget'], 1e-9):.2f}×): PSNR {a['psnr_db']:.1f} ± {a['psnr_db_std']:.1f} dB, SSIM {a['ssim']:.3f}</b>"
                 f" · uniform budget {u.get('psnr_db', float('nan')):.1f} dB"
                 + (f" · search gain {gain:+.1f} dB held-out" if gain is not None else ""))
        line2 = (f"best baseline at equal compute: {escape(LABELS[best])} {b['psnr_db']:.1f} dB" if b else "")
        if "fewer_steps" in r.methods and best != "fewer_steps":
            line2 += f" · fewer steps {r.methods['fewer_steps']['psnr_db']:.1f} dB"
        p = r.PAPER
        paper = (f"speed-up {p['speedup_b07'].value:g} / {p['speedup'].value:g} / {p['speedup_b04'].value:g}× at budgets 0.7 / 0.5 / 0.4 "
                 f"(one GPU), {p['speedup_8gpu'].value:g}× on 8 GPUs, VBench loss &lt; {p['vbench_loss'].value:g} %")
        return (f"{line1}<br>{line2} <span style='color:#777'>(wall-clock speed-ups: hover)</span><br>"
                f"<span style='color:#777'>Paper (Wan 2.1 / OpenSora): {paper}</span>")

    def export(self, out_dir: str | Path) -> Path:
        """The base's export plus one GIF per video (full, each method) under ``videos/``."""
        out = super().export(out_dir)
        r = self.result
        if r is not None and r.videos:
            from PIL import Image

            (out / "videos").mkdir(exist_ok=True)
            for name, video in r.videos.items():
                frames = [Image.fromarray(np.uint8(np.clip((f + 1) * 127.5, 0, 255))).resize((128, 128), Image.NEAREST)
                          for f in video]
                frames[0].save(out / "videos" / f"{name}.gif", save_all=True, append_images=frames[1:], duration=200, loop=0)
        return out
