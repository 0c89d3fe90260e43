"""The AceReason engine's Config: the model, the SFT start, the RL stage schedule, evaluation, the ablation."""

from __future__ import annotations

import re
from dataclasses import dataclass

from engines.base import ConfigBase, param


def int_list(text: str, name: str, lo: int, hi: int) -> tuple[int, ...]:
    """``"24,32"`` → (24, 32); ValueError naming the field otherwise."""
    example = f"{lo},{min(hi, lo + 1)}"
    parts = [v.strip() for v in text.split(",")]
    if not all(re.fullmatch(r"[+-]?\d{1,9}", v) for v in parts):
        raise ValueError(f"{name}: cannot read {text!r} as comma-separated integers (allowed: e.g. {example})")
    values = tuple(int(v) for v in parts)
    if any(not lo <= v <= hi for v in values):
        raise ValueError(f"{name}: {text!r} needs one or more integers in [{lo}, {hi}] (allowed: e.g. {example})")
    return values


@dataclass(frozen=True)
class Config(ConfigBase):
    # ---- run -----------------------------------------------------------------------------------------------
    recorded: bool = param(False, "Open the recorded run shipped in resources/reasoning/ (3 seeds; seconds) instead of training "
                           "live; the dashboard's default job", group="Run")
    seeds: int = param(1, "Independent seeds run one after another (model init, SFT data, RL sampling); errors are over seeds",
                       lo=1, hi=5, group="Run")
    seed: int = param(0, "The first seed (seeds are seed, seed+1, ...)", lo=0, hi=10_000, group="Run")
    cpu_threads: int = param(1, "torch CPU threads (1 measured fastest on a shared 2-core machine; 0 = leave torch's default)",
                             lo=0, hi=64, group="Run", gui=False)
    run_dir: str = param("", "Folder for the live metrics.jsonl, samples.jsonl and checkpoints (empty = a new temporary folder); "
                         "`save` copies them to the output folder", group="Run", gui=False)
    # ---- model ---------------------------------------------------------------------------------------------
    model: str = param("", "Policy to start from instead of a fresh Llama: a Hugging Face model folder, a .gguf file or one of our "
                       "checkpoints (empty = build the Llama below and run SFT)", group="Model", gui=False)
    hidden_size: int = param(128, "Llama hidden width", lo=16, hi=1024, group="Model")
    layers: int = param(4, "Llama decoder layers", lo=1, hi=16, group="Model")
    heads: int = param(4, "Attention heads (hidden_size must be a multiple)", lo=1, hi=32, group="Model")
    intermediate_size: int = param(384, "SwiGLU MLP width", lo=16, hi=8192, group="Model")
    # ---- SFT -----------------------------------------------------------------------------------------------
    sft_steps: int = param(600, "SFT steps (0 = start RL from `model` as it is)", lo=0, hi=20_000, group="SFT")
    sft_batch: int = param(64, "SFT traces per step", lo=1, hi=1024, group="SFT")
    sft_lr: float = param(1e-3, "SFT peak learning rate (AdamW, 100 warm-up steps, cosine to 10 %)", lo=0.0, lo_open=True, hi=1e-1,
                          group="SFT")
    code_share: float = param(0.5, "Share of code traces in the SFT data (the rest math)", lo=0.0, hi=1.0, group="SFT")
    wrong_share: float = param(0.15, "Share of SFT traces with a wrong step carried to a wrong answer (distillation noise RL can "
                               "remove)", lo=0.0, hi=1.0, group="SFT")
    lucky_share: float = param(0.05, "Share of SFT traces with a wrong step but the right answer", lo=0.0, hi=1.0, group="SFT")
    self_check_share: float = param(0.05, "Share of SFT traces with a [wait] self-check of a step", lo=0.0, hi=1.0, group="SFT")
    absorb: float = param(0.0, "Share of tasks whose answer survives a wrong step (x*0, dead stores): 0 keeps lucky chains rare",
                          lo=0.0, hi=1.0, group="SFT")
    # ---- RL ------------------------------------------------------------------------------------------------
    math_steps: int = param(80, "Math-only RL steps, split evenly over the math length stages", lo=0, hi=5000, group="RL stages")
    math_lengths: str = param("24,32", "Response-length limits of the math stages, raised stage by stage (the paper: 8K, 16K, 24K)",
                              unit="tokens", group="RL stages")
    code_steps: int = param(40, "Code-only RL steps after math, split evenly over the code length stages", lo=0, hi=5000,
                            group="RL stages")
    code_lengths: str = param("40", "Response-length limits of the code stages", unit="tokens", group="RL stages")
    math_levels: str = param("2,3", "Math levels (operations) of RL prompts and of the held-out set", group="RL stages")
    code_levels: str = param("2,3", "Code levels (computed statements) of RL prompts and of the held-out set", group="RL stages")
    filter_above: float = param(0.9, "From the second stage on, drop prompts the policy already solves at a higher rate "
                                "(1 = no filtering)", lo=0.0, hi=1.0, group="RL stages")
    overlong_filter: bool = param(True, "Mask truncated responses out of the loss", group="RL stages")
    prompts_per_step: int = param(32, "Prompts per RL step", lo=1, hi=512, group="GRPO")
    group_size: int = param(8, "Responses per prompt, G", lo=2, hi=64, group="GRPO")
    lr: float = param(1e-4, "RL learning rate (AdamW; 3e-4 diverged in the issue's trials)", lo=0.0, lo_open=True, hi=1e-2, group="GRPO")
    temperature: float = param(1.0, "Sampling temperature of rollouts (and of the loss's log-probs)", lo=0.05, hi=3.0, group="GRPO")
    top_p: float = param(1.0, "Nucleus sampling mass of rollouts", lo=0.0, lo_open=True, hi=1.0, group="GRPO")
    updates_per_batch: int = param(1, "Optimizer steps per rollout batch (1 = strictly on-policy; >1 splits the batch into "
                                   "mini-batches, PPO clipping then binds)", lo=1, hi=16, group="GRPO")
    update_mode: str = param("epochs", "How updates_per_batch > 1 is done: k passes over the whole batch (veRL's ppo_epochs) or "
                             "k mini-batches of whole groups (ppo_mini_batch_size = batch / k; at this scale its entropy stayed "
                             "within noise of on-policy, see BENCHMARKS.md)",
                             choices=("minibatch", "epochs"), group="GRPO")
    clip_eps: float = param(0.2, "PPO clip range ε (binds only when updates_per_batch > 1)", lo=0.0, hi=1.0, group="GRPO")
    pool_size: int = param(512, "Training prompts drawn per stage (before pass-rate filtering)", lo=1, hi=20_000, group="GRPO",
                           gui=False)
    filter_samples: int = param(2, "Samples per prompt that estimate pass rates for the filter", lo=1, hi=64, group="GRPO", gui=False)
    # ---- evaluation ----------------------------------------------------------------------------------------
    eval_prompts: int = param(128, "Held-out prompts per family", lo=1, hi=4096, group="Evaluation")
    eval_samples: int = param(32, "Samples per held-out prompt at the SFT end and every stage end (pass@1 = their mean)", lo=1, hi=256,
                              group="Evaluation")
    eval_every: int = param(20, "Light held-out evaluation every N RL steps (0 = only at stage ends)", lo=0, hi=10_000,
                            group="Evaluation")
    light_samples: int = param(4, "Samples per held-out prompt of the light evaluations", lo=1, hi=256, group="Evaluation", gui=False)
    eval_max_new_tokens: int = param(48, "Response-length limit of every evaluation (fixed, so stages are compared alike)",
                                     unit="tokens", lo=8, hi=512, group="Evaluation")
    eval_temperature: float = param(1.0, "Sampling temperature of evaluations", lo=0.0, hi=3.0, group="Evaluation")
    # ---- ablation and checkpoints ------------------------------------------------------------------------------
    ablation_steps: int = param(30, "Steps of the updates-per-batch ablation arm (first seed only; 0 = off)", lo=0, hi=5000,
                                group="Ablation")
    ablation_updates: int = param(4, "Updates per batch of the ablation arm (same lr, same prompts)", lo=1, hi=16, group="Ablation")
    checkpoint_every: int = param(20, "Save a checkpoint every N RL steps (0 = only after SFT and each phase)", lo=0, hi=10_000,
                                  group="Ablation", gui=False)

    def validate(self) -> None:
        for name in ("math_lengths", "code_lengths"):
            int_list(getattr(self, name), name, 4, 1024)
        for name in ("math_levels", "code_levels"):
            int_list(getattr(self, name), name, 1, 6)
        if self.hidden_size % self.heads:
            raise ValueError(f"heads: hidden_size {self.hidden_size} is not a multiple of {self.heads} (allowed: a divisor of hidden_size)")
        if not self.model and self.sft_steps == 0 and not self.recorded:
            raise ValueError("sft_steps: 0 needs a `model` to start from (allowed: > 0, or set model=PATH)")
        if self.wrong_share + self.lucky_share > 1:
            raise ValueError("lucky_share: wrong_share + lucky_share exceeds 1 (allowed: a sum ≤ 1)")
