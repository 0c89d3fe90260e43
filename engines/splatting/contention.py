"""The contention benchmark: exact frame times while a busy neighbour process holds a core, under three thread policies.

OpenMP's wait policy is read once, when torch's thread pool starts, so each policy runs in its own worker process
(``python -m engines.splatting.contention --threads N``, with ``OMP_WAIT_POLICY`` set in its environment): the old
policy (ACTIVE: waiting threads spin, 2 torch threads), the project's (PASSIVE: they sleep, 2 threads) and one thread.
A CPU-bound loop in another process runs throughout, as another user's job would on a shared 2-core machine. The
workers run one at a time (an idle ACTIVE worker would spin and load the others), in rounds with a rotating order so
that a change in the machine's load hits every policy alike; each renders the same orbit of the procedural scene
with the exact renderer after one warm-up frame and reports every frame's milliseconds and its thread policy.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

POLICIES = (("ACTIVE", 2), ("PASSIVE", 2), ("PASSIVE", 1))  # the old policy, the project's, one thread
ROOT = Path(__file__).resolve().parents[2]
NEIGHBOUR = "while True: pass"


def worker(threads: int, frames: int, width: int = 256, height: int = 160) -> dict:
    """Exact frames of a 12° orbit of the procedural scene with ``threads`` torch threads; milliseconds per frame."""
    import torch

    from engines import threads as policy

    from .config import Config
    from .paths import path_cameras
    from .pipeline import Renderer
    from .rasterizer import to_device
    from .scene import procedural_scene

    torch.set_num_threads(threads)
    cfg = Config(scene="procedural", width=width, height=height, frames=frames, path_degrees=12.0, method="exact")
    scene = procedural_scene(cfg.procedural_gaussians, cfg.seed)
    cams = path_cameras(cfg, scene)
    renderer = Renderer(to_device(scene, torch.device("cpu"), torch.float32), cfg, "exact")
    renderer.render(cams[0])  # warm-up
    ms = []
    for cam in cams:
        t0 = time.perf_counter()
        renderer.render(cam)
        ms.append(1000 * (time.perf_counter() - t0))
    return dict(frame_ms=ms, threads=policy.describe())


def _stats(ms: list[float]) -> dict:
    a = np.asarray(ms)
    return dict(frames=len(a), median_ms=float(np.median(a)), p95_ms=float(np.percentile(a, 95)), max_ms=float(a.max()),
                mean_ms=float(a.mean()))


def contention_bench(quick: bool = False, rounds: int | None = None, frames: int | None = None, progress=None) -> dict:
    """Frame times of the three policies with a busy neighbour, in one run; median, p95 and max per policy, and ratios."""
    rounds = rounds or (1 if quick else 2)
    frames = frames or (3 if quick else 6)
    neighbour = subprocess.Popen([sys.executable, "-c", NEIGHBOUR], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    runs: dict[str, list[float]] = {}
    described: dict[str, dict] = {}
    try:
        time.sleep(0.5)  # the neighbour is spinning before the first frame
        for r in range(rounds):
            order = POLICIES[r % 3:] + POLICIES[: r % 3]  # rotate who goes first
            for wait, n in order:
                key = f"{wait}, {n} thread{'s' if n > 1 else ''}"
                env = dict(os.environ, OMP_WAIT_POLICY=wait, OMP_NUM_THREADS=str(n), PYTHONPATH=str(ROOT))
                out = subprocess.run([sys.executable, "-m", "engines.splatting.contention", "--threads", str(n), "--frames", str(frames)],
                                     cwd=ROOT, env=env, capture_output=True, text=True, timeout=900, check=True)
                report = json.loads(out.stdout.strip().splitlines()[-1])
                runs.setdefault(key, []).extend(report["frame_ms"])
                described[key] = report["threads"]
                if progress:
                    progress(f"contention: round {r + 1}/{rounds}, {key}: median {np.median(report['frame_ms']):.0f} ms")
    finally:
        neighbour.kill()
        neighbour.wait()
    policies = {k: dict(_stats(v), thread_policy=described[k]) for k, v in runs.items()}
    old, new, one = (policies[f"{w}, {n} thread{'s' if n > 1 else ''}"] for w, n in POLICIES)
    return dict(
        what="exact frames (procedural scene, 256×160, 12° orbit) while a CPU-bound loop runs in another process",
        neighbour=f"{sys.executable} -c '{NEIGHBOUR}'", rounds=rounds, frames_per_round=frames, cpu_count=os.cpu_count(),
        policies=policies,
        p95_ratio_active_over_passive=old["p95_ms"] / new["p95_ms"], max_ratio_active_over_passive=old["max_ms"] / new["max_ms"],
        median_ratio_passive2_over_1thread=new["median_ms"] / one["median_ms"],
    )


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="python -m engines.splatting.contention", description="one worker of the contention benchmark")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--frames", type=int, default=10)
    a = ap.parse_args(argv)
    print(json.dumps(worker(a.threads, a.frames)))


if __name__ == "__main__":
    main()
