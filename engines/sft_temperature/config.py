"""The sft_temperature engine's Config: the advisor (checkpoint, temperature grid, target), the SFT scaling
study (base dataset, sizes, model, SFT), the short RL run on each start and at three temperatures, evaluation."""

from __future__ import annotations

from dataclasses import dataclass

from engines.base import ConfigBase, param

MODES = ("advisor", "study")


def float_list(text: str, name: str, lo: float, hi: float) -> tuple[float, ...]:
    """``"0.6,0.8"`` → (0.6, 0.8); ValueError naming the field otherwise."""
    try:
        values = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise ValueError(f"{name}: cannot read {text!r} as comma-separated numbers (allowed: e.g. 0.6,0.8,1.0)") from None
    if not values or any(not lo <= v <= hi for v in values):
        raise ValueError(f"{name}: {text!r} needs one or more numbers in [{lo}, {hi}] (allowed: e.g. 0.6,0.8,1.0)")
    return values


def int_list(text: str, name: str, lo: int, hi: int) -> tuple[int, ...]:
    """``"1,2,4"`` → (1, 2, 4); ValueError naming the field otherwise."""
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise ValueError(f"{name}: cannot read {text!r} as comma-separated integers (allowed: e.g. 1,2,4)") from None
    if not values or any(not lo <= v <= hi for v in values):
        raise ValueError(f"{name}: {text!r} needs one or more integers in [{lo}, {hi}] (allowed: e.g. 1,2,4)")
    return values


@dataclass(frozen=True)
class Config(ConfigBase):
    # ---- run -----------------------------------------------------------------------------------------------
    mode: str = param("advisor", "advisor: H_T against T of the recorded checkpoints and the advised T, beside the recorded "
                      "study's numbers (seconds; the default job); study: train the whole SFT-scaling and temperature "
                      "study live (tens of minutes; `python -m engines record sft_temperature` records it)",
                      choices=MODES, group="Run")
    seeds: int = param(3, "Seeds of the study (model init, SFT data, RL sampling); errors are over seeds", lo=1, hi=5, group="Run")
    seed: int = param(0, "The first seed (seeds are seed, seed+1, ...)", lo=0, hi=10_000, group="Run")
    cpu_threads: int = param(1, "torch CPU threads (1 on a shared 2-core machine; 0 = leave torch's default)", lo=0, hi=64,
                             group="Run", gui=False)
    study_dir: str = param("", "Folder of the recorded study the advisor mode shows beside its curve (empty = "
                           "resources/sft_temperature/; a missing folder shows the advisor alone)", group="Run", gui=False)
    # ---- advisor -------------------------------------------------------------------------------------------
    checkpoint: str = param("", "Policy the advisor measures: a Hugging Face model folder, a .gguf file or one of our checkpoints "
                            "(empty = the reasoning world's recorded checkpoints named in `checkpoints`)", group="Advisor",
                            gui=False)
    checkpoints: str = param("sft,code", "Recorded checkpoints (resources/reasoning/checkpoints/seed0/<name>) the advisor "
                             "measures when `checkpoint` is empty; the first chooses the advised T (the SFT start, as the "
                             "paper chooses T for an SFT initialisation)", group="Advisor")
    temperatures: str = param("0.4,0.6,0.8,1.0,1.2,1.4", "Temperature grid the advisor samples at", group="Advisor")
    target_entropy: float = param(0.1, "Target of the temperature-adjusted entropy H_T. The paper's 0.3 nats fits a 7B model "
                                  "with a 152K vocabulary; the toy's 50 tokens keep the same fraction of the maximum "
                                  "entropy ln V: 0.3·ln 50/ln 152064 = 0.098 ≈ 0.1 (see the vocabulary-scaling table)",
                                  unit="nats", lo=0.0, lo_open=True, hi=20.0, group="Advisor")
    advisor_prompts: int = param(32, "Held-out prompts the advisor samples (half math, half code)", lo=2, hi=1024, group="Advisor")
    advisor_samples: int = param(4, "Responses per prompt at each T", lo=1, hi=64, group="Advisor")
    advisor_max_new_tokens: int = param(32, "Response-length limit of the advisor's samples", unit="tokens", lo=4, hi=512,
                                        group="Advisor")
    chat: bool = param(False, "Wrap prompts in the tokenizer's chat template (an instruct model such as SmolLM2)", group="Advisor",
                       gui=False)
    # ---- SFT scaling ---------------------------------------------------------------------------------------
    base_prompts: int = param(256, "Prompts of the smallest SFT dataset (one response each); both arms start here",
                              lo=8, hi=20_000, group="SFT scaling")
    sizes: str = param("1,2,4", "Dataset sizes as multiples of the smallest: the prompts arm has m·base prompts × 1 response, "
                       "the responses arm base prompts × m responses (equal traces, so equal token budgets)", group="SFT scaling")
    sft_epochs: float = param(12.0, "SFT passes over each dataset (steps = epochs × traces / batch, as the paper trains every "
                              "SFT set for the same epochs: a larger set gets more steps)", lo=0.1, hi=200.0, group="SFT scaling")
    sft_batch: int = param(32, "SFT traces per step", lo=1, hi=1024, group="SFT scaling")
    sft_lr: float = param(3e-3, "SFT peak learning rate (AdamW, warm-up a tenth of the steps, cosine to 10 %)", lo=0.0,
                          lo_open=True, hi=1e-1, group="SFT scaling")
    sft_levels: str = param("1,2", "Math levels (operations) of the SFT prompts", group="SFT scaling")
    wrong_share: float = param(0.1, "Share of SFT traces with a wrong step carried to a wrong answer", lo=0.0, hi=1.0,
                               group="SFT scaling")
    lucky_share: float = param(0.05, "Share of SFT traces with a wrong step but the right answer", lo=0.0, hi=1.0, group="SFT scaling")
    self_check_share: float = param(0.05, "Share of SFT traces with a [wait] self-check", lo=0.0, hi=1.0, group="SFT scaling")
    # ---- model ---------------------------------------------------------------------------------------------
    hidden_size: int = param(128, "Llama hidden width of the study's policies", lo=16, hi=1024, group="Model")
    layers: int = param(2, "Llama decoder layers", lo=1, hi=16, group="Model")
    heads: int = param(4, "Attention heads (hidden_size must be a multiple)", lo=1, hi=32, group="Model")
    intermediate_size: int = param(384, "SwiGLU MLP width", lo=16, hi=8192, group="Model")
    # ---- RL ------------------------------------------------------------------------------------------------
    rl_steps: int = param(32, "GRPO steps of the same short RL run on every start", lo=0, hi=5000, group="RL")
    rl_levels: str = param("2", "Math levels of the RL prompts and of the held-out set", group="RL")
    prompts_per_step: int = param(16, "Prompts per RL step", lo=1, hi=512, group="RL")
    group_size: int = param(8, "Responses per prompt, G", lo=2, hi=64, group="RL")
    lr: float = param(1e-4, "RL learning rate (AdamW; 3e-4 lowered held-out pass@1 in trials)",
                     lo=0.0, lo_open=True, hi=1e-2, group="RL")
    pool_size: int = param(2048, "Distinct training prompts each RL run draws its batches from (a small pool is memorised)",
                           lo=1, hi=20_000, group="RL", gui=False)
    max_new_tokens: int = param(32, "Response-length limit of rollouts", unit="tokens", lo=4, hi=512, group="RL")
    temperature_start: str = param("study", "Where the three temperature arms start: the study's strongest SFT start, or the "
                                   "reasoning world's recorded SFT policy (resources/reasoning; stronger, so a short RL moves it)",
                                   choices=("study", "recorded"), group="RL")
    scaling: bool = param(True, "Run the SFT-scaling part of the study (off: only the temperature arms from the recorded policy)",
                          group="RL")
    low_factor: float = param(0.7, "The low-temperature RL arm runs at this multiple of the advised T (the paper's under-exploring "
                              "0.6 = 0.71 × its 0.85)", lo=0.05, hi=1.0, group="RL")
    high_factor: float = param(1.2, "The high-temperature RL arm runs at this multiple of the advised T (the paper's too-high "
                               "1.0 = 1.18 × its 0.85)", lo=1.0, hi=5.0, group="RL")
    # ---- evaluation ----------------------------------------------------------------------------------------
    eval_prompts: int = param(128, "Held-out math prompts of every evaluation", lo=1, hi=4096, group="Evaluation")
    eval_samples: int = param(4, "Samples per held-out prompt (pass@1 = their mean)", lo=1, hi=256, group="Evaluation")
    eval_temperature: float = param(0.6, "Sampling temperature of every evaluation (fixed, so the RL temperatures are compared "
                                    "alike; the paper evaluates at 0.6)", lo=0.0, hi=3.0, group="Evaluation")

    def grid(self) -> tuple[float, ...]:
        return float_list(self.temperatures, "temperatures", 0.05, 5.0)

    def size_list(self) -> tuple[int, ...]:
        return tuple(sorted(set(int_list(self.sizes, "sizes", 1, 64))))

    def checkpoint_names(self) -> tuple[str, ...]:
        names = tuple(n.strip() for n in self.checkpoints.split(",") if n.strip())
        if not names:
            raise ValueError("checkpoints: no name given (allowed: e.g. sft,math,code)")
        return names

    def validate(self) -> None:
        self.grid()
        sizes = self.size_list()
        if len(sizes) < 2 or sizes[0] != 1:
            raise ValueError(f"sizes: {self.sizes!r} needs 1 and at least one larger multiple (allowed: e.g. 1,2,4)")
        int_list(self.sft_levels, "sft_levels", 1, 6)
        int_list(self.rl_levels, "rl_levels", 1, 6)
        self.checkpoint_names()
        if self.hidden_size % self.heads:
            raise ValueError(f"heads: hidden_size {self.hidden_size} is not a multiple of {self.heads} (allowed: a divisor of hidden_size)")
        if self.wrong_share + self.lucky_share > 1:
            raise ValueError("lucky_share: wrong_share + lucky_share exceeds 1 (allowed: a sum ≤ 1)")
        if not self.scaling and self.temperature_start != "recorded":
            raise ValueError("scaling: off needs temperature_start=recorded (allowed: scaling on, or the recorded start)")
        if self.base_prompts * max(sizes) > 50_000:
            raise ValueError(f"sizes: base_prompts × the largest size is {self.base_prompts * max(sizes)} (allowed: ≤ 50000)")
