"""The CoT-Pass@K evaluator's Config: which samples (recorded checkpoints or a dump), how they are drawn, judged, estimated."""

from __future__ import annotations

from dataclasses import dataclass

from engines.base import ConfigBase, param

SOURCES = ("recorded", "lucky", "dump")
JUDGES = ("exact", "noisy", "votes")
FAMILIES = ("math", "code", "both")


def names(text: str) -> tuple[str, ...]:
    """``"sft, math"`` → ("sft", "math")."""
    return tuple(v.strip() for v in text.split(",") if v.strip())


def levels(text: str) -> tuple[int, ...]:
    try:
        out = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise ValueError(f"levels: cannot read {text!r} as comma-separated integers (allowed: e.g. 2,3)") from None
    if not out or any(not 1 <= v <= 6 for v in out):
        raise ValueError(f"levels: {text!r} needs one or more integers in [1, 6] (allowed: e.g. 2,3)")
    return out


@dataclass(frozen=True)
class Config(ConfigBase):
    # ---- samples -------------------------------------------------------------------------------------------
    source: str = param("recorded", "Whose samples: the reasoning world's recorded run (SFT, then math and code RL with lucky chains "
                        "rare), the run RL-trained with lucky chains common (resources/cot_pass_at_k, `python -m engines record "
                        "cot_pass_at_k`), or a JSONL dump of your own model's samples (File → Open)", choices=SOURCES, group="Samples")
    dump: str = param("", "The JSONL dump read when source = dump: rows {prompt_id, sample_id, answer_correct, cot_correct} "
                      "(+ checkpoint, step, chain_correct, judge_votes, prompt, response, failed_step, steps, canonical)",
                      group="Samples", gui=False)
    checkpoint_root: str = param("", "A folder of checkpoints (checkpoint.json beside each) to evaluate instead of the source's "
                                 "(empty = the source's own)", group="Samples", gui=False)
    checkpoints: str = param("", "Checkpoints evaluated, by name, for the dynamics chart (empty = every one in the folder, by RL step)",
                             group="Samples", gui=False)
    curves: str = param("", "Checkpoints drawn as Pass@K curves; the first is the base the others are compared with, the last the "
                        "tuned one of the headline (empty = the SFT checkpoint and each phase end)", group="Samples", gui=False)
    tuned: str = param("", "The tuned checkpoint the headline compares with the base (empty = the end of RL on the evaluated family, "
                       "else the last curve)", group="Samples", gui=False)
    family: str = param("math", "Held-out task family sampled (both = half the prompts each)", choices=FAMILIES, group="Samples")
    levels: str = param("2,3", "Task levels (operations / computed statements) of the held-out prompts, as the checkpoints were "
                        "trained on", group="Samples")
    absorb: float = param(0.0, "Lucky-chain knob: share of held-out prompts whose answer survives a wrong step (x*0, dead stores); "
                          "0 keeps lucky chains rare (they need two errors that cancel), 0.5 makes them common", lo=0.0, hi=1.0,
                          group="Samples")
    prompts: int = param(64, "Held-out prompts (the bands resample these)", lo=2, hi=1024, group="Samples")
    samples: int = param(24, "Samples per prompt, n (curves run K = 1..n)", lo=1, hi=256, group="Samples")
    max_new_tokens: int = param(48, "Response-length limit (a truncated response earns nothing)", unit="tokens", lo=8, hi=512,
                                group="Samples")
    temperature: float = param(1.0, "Sampling temperature", lo=0.05, hi=3.0, group="Samples")
    top_p: float = param(1.0, "Nucleus sampling mass", lo=0.0, lo_open=True, hi=1.0, group="Samples")
    seed: int = param(0, "Seed of the held-out draw's sampling, the judge's noise and the bootstrap (the held-out prompts are fixed)",
                      lo=0, hi=10_000, group="Samples")
    cpu_threads: int = param(1, "torch CPU threads (0 = leave torch's default)", lo=0, hi=64, group="Samples", gui=False)
    # ---- judge ---------------------------------------------------------------------------------------------
    judge: str = param("exact", "Who says a chain is right: the world's exact step check, a simulated noisy judge on top of it, "
                       "or the judge votes in a dump", choices=JUDGES, group="Judge")
    false_positive: float = param(0.1, "Noisy judge: chance one call passes a wrong chain", lo=0.0, hi=1.0, group="Judge")
    false_negative: float = param(0.05, "Noisy judge: chance one call fails a right chain", lo=0.0, hi=1.0, group="Judge")
    judge_calls: int = param(3, "Noisy judge: independent calls per sample", lo=1, hi=15, group="Judge")
    aggregate: str = param("majority", "How the calls (or a dump's votes) decide: any pass (lenient), majority, all pass (strict)",
                           choices=("any", "majority", "all"), group="Judge")
    # ---- estimation ----------------------------------------------------------------------------------------
    bootstrap: int = param(1000, "Bootstrap resamples of the prompts for the bands (0 = no bands)", lo=0, hi=20_000, group="Estimate")
    band_level: float = param(0.9, "Coverage of the bootstrap bands", lo=0.5, hi=0.999, group="Estimate")
    # ---- the recorded lucky-chain run (python -m engines record cot_pass_at_k) -------------------------------
    train_absorb: float = param(0.5, "Recording: share of RL prompts whose answer survives a wrong step", lo=0.0, hi=1.0,
                                group="Recording", gui=False)
    train_steps: int = param(40, "Recording: math RL steps from the recorded SFT checkpoint (the recorded run's first stage)",
                             lo=1, hi=2000, group="Recording", gui=False)

    def validate(self) -> None:
        levels(self.levels)
        if self.source == "dump" and not self.dump:
            raise ValueError("dump: source = dump needs a dump file (allowed: a path to a .jsonl file)")
        if self.judge == "votes" and self.source != "dump":
            raise ValueError("judge: votes are read from a dump (allowed: exact or noisy for checkpoints)")
        if self.family == "both" and self.prompts % 2:
            raise ValueError("prompts: family = both needs an even number of prompts (allowed: an even number)")
