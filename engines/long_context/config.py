"""The engine's Config: the toy experiment (model, needle task, training, extension, evaluation) and the calculator."""

from __future__ import annotations

from dataclasses import dataclass

from ..base import ConfigBase, param
from .calculator import PRESETS

MAX_TOKENS = 8192  # longest evaluated document (packs are at most 16 × 512 = 8192 tokens too)
BATCH_TOKENS = 32768  # tokens per training step, bounded for memory (logits are B × L × vocabulary)
EVAL_TOKENS = 2**22  # tokens one grid row scores (depths × samples × Σ lengths): a few minutes a row on one core
SCALING_CHOICES = ("model", "none", "linear", "dynamic_ntk", "yarn", "llama3")


@dataclass(frozen=True)
class Config(ConfigBase):
    source: str = param(
        "train",
        "train: train the base model, extend it and evaluate every scaling now (minutes); recorded: show the run shipped in "
        "resources/long_context (seconds; its own experiment settings, this Config's calculator settings); extend: start from "
        "the recorded base model (its model, task and base training) and redo the extension and evaluation with this Config",
        choices=("train", "recorded", "extend"), group="Run",
    )
    recorded_dir: str = param("", "Folder of the recorded run to show or extend (empty = resources/long_context)", group="Run",
                              gui=False)
    seed: int = param(0, "Seed of the weights' initialisation, the toy language and every document drawn", lo=0, hi=2**31 - 1,
                      group="Run")
    cpu_threads: int = param(1, "torch CPU threads for training and evaluation (0 = leave torch's setting)", lo=0, hi=64,
                             group="Run", gui=False)

    d_model: int = param(64, "Width of the toy Llama (hidden size)", lo=16, hi=256, group="Toy model")
    n_layers: int = param(2, "Decoder layers of the toy Llama", lo=1, hi=4, group="Toy model")
    n_heads: int = param(4, "Attention heads (head size = d_model / n_heads; RoPE rotates all of it)", lo=1, hi=16,
                         group="Toy model")
    ffn: int = param(192, "MLP width (SwiGLU intermediate size)", lo=16, hi=1024, group="Toy model")
    rope_theta: float = param(500.0, "RoPE base b: θ_i = b^(−2i/d); 500 makes the wavelengths straddle L_train = 128",
                              lo=2.0, hi=1e7, group="Toy model")
    train_length: int = param(128, "L_train: the window the base model is trained at (the 'original' window)", unit="tokens",
                              lo=32, hi=512, group="Toy model")

    needle: str = param(
        "fused",
        "fused: one token carries key and value (learned in ~100 s); key_value: the two tokens KEY VALUE, which need an "
        "induction head (thousands of steps at this size: raise base_steps)",
        choices=("fused", "key_value"), group="Needle task",
    )
    distractors: int = param(0, "Further needles with other keys in every document (RULER's multi-key NIAH)", lo=0, hi=8,
                             group="Needle task")
    n_keys: int = param(8, "Keys a query can name", lo=1, hi=64, group="Needle task")
    n_values: int = param(16, "Values a needle can carry (chance = 1/n_values)", lo=2, hi=64, group="Needle task")
    n_filler: int = param(64, "Tokens of the haystack's toy language", lo=8, hi=256, group="Needle task")
    haystack_noise: float = param(0.1, "Share of haystack tokens drawn at random instead of x_t = π(x_{t−2})", lo=0.0, hi=1.0,
                                  group="Needle task")
    lm_weight: float = param(0.1, "Weight λ of the next-token loss on the haystack beside the answer's (the toy's pretraining; "
                                  "0 = answer only). At 0.1 retrieval is learned first and the text after it; at 1 the text "
                                  "comes first and retrieval often stalls at chance for 500+ steps (seed-dependent)",
                             lo=0.0, hi=10.0, group="Needle task")

    base_steps: int = param(500, "Training steps of the base model at L_train", lo=1, hi=10000, group="Base training")
    batch_size: int = param(32, "Documents per base training step", lo=1, hi=256, group="Base training")
    lr: float = param(3e-3, "AdamW peak learning rate of the base training (cosine to lr/10, gradients clipped at 1)", lo=0.0, lo_open=True,
                      hi=0.1, group="Base training")

    extend_factor: int = param(8, "UltraLong-style continued training at extend_factor × L_train tokens per pack (the paper: "
                                  "128K → 1M/2M/4M = 8/16/32×)", unit="×", lo=2, hi=16, group="UltraLong extension")
    extend_scale: float | None = param(None, "YaRN scale s of the extension (None = extend_factor; the paper: 128/256/512 from "
                                             "the original 8K window)", lo=1.0, hi=64.0, group="UltraLong extension")
    extend_steps: int = param(150, "Continued-training steps, for the YaRN model and for the plain-RoPE control alike (the "
                                   "paper: 150 iterations at 4M)", lo=1, hi=5000, group="UltraLong extension")
    extend_batch: int = param(4, "Packs per continued-training step", lo=1, hi=64, group="UltraLong extension")
    extend_needle_lengths: str = param(
        "log_uniform", "Lengths of the needle documents in the continued-training packs, from L_train to the pack: "
        "log_uniform (as many short as long ones, as real corpora are heavy-tailed; keeps 1× skill) or uniform",
        choices=("log_uniform", "uniform"), group="UltraLong extension")
    extend_lr: float = param(3e-4, "AdamW peak learning rate of the continued training (cosine to lr/10; 1e-3 cost 2 points "
                                   "of 1× skill here, 3e-4 one)", lo=0.0, lo_open=True, hi=0.1,
                             group="UltraLong extension")

    yarn_beta_fast: float = param(4.0, "YaRN β_fast (the paper's β): pairs turning more than this often in L_orig keep their "
                                       "angles (transformers' default 32; UltraLong 4)", lo=0.01, hi=1024.0, group="Scalings")
    yarn_beta_slow: float = param(1.0, "YaRN β_slow (the paper's α): pairs turning less than this often are fully "
                                       "interpolated", lo=0.01, hi=1024.0, group="Scalings")
    yarn_truncate: bool = param(True, "Round YaRN's ramp bounds out to whole pairs (transformers' truncate, default true)",
                                group="Scalings")
    llama3_low_freq: float = param(1.0, "llama3 low_freq_factor: wavelengths above L_orig / this are divided by s", lo=0.01,
                                   hi=64.0, group="Scalings")
    llama3_high_freq: float = param(4.0, "llama3 high_freq_factor: wavelengths below L_orig / this are kept", lo=0.01, hi=64.0,
                                    group="Scalings")
    dynamic_factor: float = param(1.0, "Dynamic NTK's factor s in base' = b·(s·L/L_orig − (s − 1))^(d/(d−2)); 1 grows the base "
                                       "by exactly the length ratio", lo=1.0, hi=64.0, group="Scalings")

    eval_lengths: str = param("1,2,4,8,16", "Evaluated lengths as multiples of L_train, comma-separated (1 is always added: "
                                            "the short-context accuracy)", group="Evaluation")
    n_depths: int = param(8, "Needle depths from 0 (start) to 1 (just before the query), evenly spaced", lo=2, hi=21,
                          group="Evaluation")
    samples_per_cell: int = param(12, "Documents per length × depth cell (the same documents for every scaling)", lo=1, hi=256,
                                  group="Evaluation")
    eval_scale: float | None = param(None, "Zero-shot scale s at every length (None = each length's own L/L_train; a fixed s "
                                           "must be ≥ the largest L/L_train)", lo=1.0, hi=256.0, group="Evaluation")

    model: str = param("Llama-3.1-8B", "Calculator: a real model's preset (its config.json facts)", choices=tuple(PRESETS),
                       group="Calculator")
    model_config: str = param("", "Calculator: path of an HF config.json to use instead of the preset", group="Calculator",
                              gui=False)
    calc_length: int = param(131072, "Calculator: the context length L of the per-length figures", unit="tokens", lo=1,
                             hi=2**26, group="Calculator")
    calc_scaling: str = param("model", "Calculator: the RoPE scaling of the wavelength chart (model = the config's own)",
                              choices=SCALING_CHOICES, group="Calculator")
    calc_factor: float | None = param(None, "Calculator: the scale s of an override scaling (None = L / L_orig)", lo=1.0,
                                      hi=4096.0, group="Calculator")
    kv_dtype: str = param("model", "Calculator: KV-cache element type (model = the config's dtype)",
                          choices=("model", "float32", "bfloat16", "float16", "float8"), group="Calculator")

    # ---- derived -------------------------------------------------------------------------------------------------
    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads

    @property
    def pack_length(self) -> int:
        return self.extend_factor * self.train_length

    @property
    def yarn_extend_scale(self) -> float:
        return float(self.extend_scale if self.extend_scale is not None else self.extend_factor)

    @property
    def length_ratios(self) -> tuple[float, ...]:
        return tuple(sorted({1.0, *(float(t) for t in self.eval_lengths.split(",") if t.strip())}))

    @property
    def lengths(self) -> tuple[int, ...]:
        return tuple(int(round(r * self.train_length)) for r in self.length_ratios)

    @property
    def needle_width(self) -> int:
        return 1 if self.needle == "fused" else 2

    def validate(self) -> None:
        if self.d_model % self.n_heads or self.head_dim % 2 or self.head_dim < 4:
            raise ValueError(f"n_heads: d_model {self.d_model} / n_heads {self.n_heads} must be an even head size ≥ 4 "
                             "(allowed: a divisor of d_model leaving ≥ 4 dims)")
        if self.distractors >= self.n_keys:
            raise ValueError(f"distractors: {self.distractors} needs more than that many keys (allowed: < n_keys = {self.n_keys})")
        try:
            ratios = [float(t) for t in self.eval_lengths.split(",") if t.strip()]
        except ValueError:
            raise ValueError(f"eval_lengths: {self.eval_lengths!r} is not a comma-separated list of numbers "
                             "(allowed: e.g. 1,2,4,8,16)") from None
        if not ratios or any(not (0.25 <= r <= 128) for r in ratios):
            raise ValueError(f"eval_lengths: {self.eval_lengths!r} (allowed: multiples of L_train in [0.25, 128])")
        shortest = min(self.lengths)
        if shortest < 3 + self.needle_width * (1 + self.distractors) + 8:
            raise ValueError(f"eval_lengths: {shortest} tokens cannot hold {1 + self.distractors} needles and a haystack "
                             "(allowed: longer lengths)")
        if max(self.lengths) > MAX_TOKENS:
            raise ValueError(f"eval_lengths: {max(self.lengths)} tokens exceed {MAX_TOKENS} (allowed: L ≤ {MAX_TOKENS})")
        row = self.n_depths * self.samples_per_cell * sum(self.lengths)
        if row > EVAL_TOKENS:
            raise ValueError(f"samples_per_cell: {self.n_depths} depths × {self.samples_per_cell} documents × {sum(self.lengths)} tokens "
                             f"= {row:,} tokens a scaling exceeds {EVAL_TOKENS:,} (allowed: fewer samples, depths or lengths)")
        if self.batch_size * self.train_length > BATCH_TOKENS:
            raise ValueError(f"batch_size: {self.batch_size} × {self.train_length} tokens exceeds {BATCH_TOKENS} (allowed: smaller)")
        if self.extend_batch * self.pack_length > BATCH_TOKENS:
            raise ValueError(f"extend_batch: {self.extend_batch} × {self.pack_length} tokens exceeds {BATCH_TOKENS} "
                             "(allowed: smaller)")
        if self.yarn_beta_fast <= self.yarn_beta_slow:
            raise ValueError(f"yarn_beta_fast: {self.yarn_beta_fast} must exceed yarn_beta_slow {self.yarn_beta_slow} "
                             "(allowed: β_fast > β_slow)")
        if self.llama3_high_freq <= self.llama3_low_freq:
            raise ValueError(f"llama3_high_freq: {self.llama3_high_freq} must exceed llama3_low_freq {self.llama3_low_freq} "
                             "(allowed: high > low)")
        if self.eval_scale is not None and self.eval_scale < max(self.length_ratios):
            raise ValueError(f"eval_scale: {self.eval_scale} is below the largest L/L_train = {max(self.length_ratios):g}; "
                             "positions past s·L_train are out of the trained range (allowed: ≥ the largest ratio, or None)")
