"""The engine's Config: the model, its training, the sampler, ASTRAEA and the search, the baselines' shared budget."""

from __future__ import annotations

from dataclasses import dataclass

from ..base import ConfigBase, param
from .data import N_CLASSES

MODEL_FIELDS = ("frames", "size", "patch", "dim", "depth", "heads", "mlp_ratio")
TRAIN_FIELDS = ("train_seed", "train_steps", "train_batch", "lr", "ema")


@dataclass(frozen=True)
class Config(ConfigBase):
    source: str = param(
        "recorded",
        "recorded: sample with the checkpoint shipped in resources/video_dit (seconds to load); train: train the model now "
        "with the Training fields (the recorded run's command; tens of minutes on one core), then sample",
        choices=("recorded", "train"), group="Run")
    recorded_dir: str = param("", "Folder of the recorded checkpoint (empty = resources/video_dit)", group="Run", gui=False)
    cpu_threads: int = param(1, "torch CPU threads for sampling, timing and training (0 = leave torch's setting)", lo=0, hi=64,
                             group="Run", gui=False)

    # ---- sampling ---------------------------------------------------------------------------------------------------
    steps: int = param(50, "Rectified-flow Euler sampling steps of the full-compute reference (and of every method)", lo=2,
                       hi=200, group="Sampling")
    seed: int = param(0, "Seed of the held-out evaluation noise (video i uses seed + i; the search uses other seeds)", lo=0,
                      hi=2**31 - 1, group="Sampling")
    class_label: int = param(5, "Class of the videos shown and evaluated: shape × motion (0–3 square right/left/down/up, "
                                "4–7 disc, 8–11 triangle); -1 = a different class for each video", lo=-1, hi=N_CLASSES - 1,
                             group="Sampling")
    n_videos: int = param(8, "Held-out videos every method is evaluated on (one batch: more videos, more tokens per step, "
                               "so per-token work outweighs per-operation overhead)", lo=1, hi=16, group="Sampling")

    # ---- ASTRAEA ----------------------------------------------------------------------------------------------------
    budget: float = param(0.5, "Compute budget: the mean share of tokens recomputed per step (over all steps, the first, "
                               "always full, included); every baseline gets the same compute", lo=0.05, hi=1.0,
                          group="ASTRAEA")
    w_a: float = param(1.0, "Weight w_a of LSE · Δtoken in the token score S = w_a·(LSE·Δtoken) + w_b·e^{n_i}", lo=0.0,
                       hi=100.0, group="ASTRAEA")
    w_b: float = param(0.05, "Weight w_b of e^{n_i} (n_i: consecutive steps the token was skipped) in the score", lo=0.0,
                       hi=100.0, group="ASTRAEA")
    front_budgets: str = param("0.3,0.4,0.5,0.7", "Budgets of the speed/quality front (every method at each; comma-separated)",
                               group="ASTRAEA")
    min_budget: float = param(0.1, "Smallest per-step budget a schedule may give a step", lo=0.01, hi=1.0, group="ASTRAEA")

    # ---- evolutionary search ----------------------------------------------------------------------------------------
    search: bool = param(True, "Search the per-step budget schedule with the evolutionary algorithm (else uniform)",
                         group="Search")
    population: int = param(10, "EA population size", lo=2, hi=64, group="Search")
    generations: int = param(6, "EA generations", lo=0, hi=100, group="Search")
    mutation: float = param(0.15, "EA mutation size: a mean-preserving move of this share of budget between steps", lo=0.0,
                            hi=1.0, group="Search")
    search_videos: int = param(2, "Videos (search seeds, disjoint from the held-out ones) the EA's fitness is measured on",
                               lo=1, hi=8, group="Search")
    search_seed: int = param(1000, "Seed of the search's noise and of the EA's own draws", lo=0, hi=2**31 - 1, group="Search")

    # ---- model (the recorded checkpoint fixes these) ------------------------------------------------------------------
    frames: int = param(8, "Frames per clip", lo=2, hi=16, group="Model")
    size: int = param(16, "Frame width and height", unit="px", choices=(8, 16, 32), group="Model")
    patch: int = param(4, "Spatial patch side (one token per patch and frame)", unit="px", choices=(2, 4, 8), group="Model")
    dim: int = param(96, "Transformer width", lo=16, hi=256, group="Model")
    depth: int = param(4, "DiT blocks", lo=1, hi=12, group="Model")
    heads: int = param(4, "Attention heads", lo=1, hi=16, group="Model")
    mlp_ratio: float = param(3.0, "MLP width / model width", lo=1.0, hi=8.0, group="Model")

    # ---- training -----------------------------------------------------------------------------------------------------
    train_seed: int = param(0, "Seed of the weights' initialisation, the clips and the training noise", lo=0, hi=2**31 - 1,
                            group="Training")
    train_steps: int = param(2000, "AdamW steps of rectified-flow training", lo=1, hi=100000, group="Training")
    train_batch: int = param(32, "Clips per training step (fresh clips every step)", lo=1, hi=256, group="Training")
    lr: float = param(1e-3, "AdamW peak learning rate (warm-up 200 steps, cosine to lr/10)", lo=0.0, lo_open=True, hi=0.1,
                      group="Training")
    ema: float = param(0.999, "Decay of the weights' exponential moving average (the sampled weights)", lo=0.0, hi=0.99999,
                       group="Training")

    def validate(self) -> None:
        if self.size % self.patch:
            raise ValueError(f"patch: {self.patch} does not divide size {self.size} (allowed: a divisor of size)")
        if self.dim % self.heads or (self.dim // self.heads) % 2:
            raise ValueError(f"heads: {self.heads} must divide dim {self.dim} into even head sizes (allowed: such a divisor)")
        if self.dim % 4:
            raise ValueError(f"dim: {self.dim} must be a multiple of 4 (the 2-D sin-cos embedding) (allowed: multiples of 4)")
        self.front()
        if self.min_budget > self.budget:
            raise ValueError(f"min_budget: {self.min_budget} exceeds budget {self.budget} (allowed: ≤ budget)")

    def front(self) -> list[float]:
        """The front's budgets as numbers (ValueError naming the field for bad text)."""
        try:
            values = sorted({float(v) for v in self.front_budgets.split(",") if v.strip()})
        except ValueError:
            raise ValueError(f"front_budgets: cannot read {self.front_budgets!r} "
                             "(allowed: numbers in [0.05, 1] separated by commas)") from None
        if not values or len(values) > 8 or any(not 0.05 <= v <= 1.0 for v in values):
            raise ValueError(f"front_budgets: {self.front_budgets!r} (allowed: 1 to 8 numbers in [0.05, 1] separated by commas)")
        return values

    @property
    def n_tokens(self) -> int:
        return self.frames * (self.size // self.patch) ** 2

    def model_kwargs(self) -> dict:
        return {k: getattr(self, k) for k in MODEL_FIELDS}
