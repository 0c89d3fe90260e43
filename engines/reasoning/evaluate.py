"""Held-out evaluation: pass@1 from n samples per prompt, with the chain flags CoT-Pass@K needs.

pass@1 = (1/P) Σ_p c_p / n with c_p the correct samples of prompt p (the unbiased estimator, averaged);
its standard error is taken over prompts, std_p(c_p / n) / √P (the prompts are the sample). Every sample
keeps its answer-correct and chain-correct flags and its failed step (−1 = none), so pass@k and
CoT-pass@k for any k ≤ n follow from the same arrays.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from .sampling import Rollout, sample
from .tasks import Task
from .verifier import Verdict, verify


def respond(model, tokenizer, prompts: list[str], max_new_tokens: int, temperature: float, top_p: float,
            generator) -> tuple[Rollout, list[str], list[Verdict]]:
    """Sample one response per prompt text; decode and verify each."""
    ids = tokenizer(prompts).input_ids
    roll = sample(model, ids, max_new_tokens, tokenizer.eos_token_id, tokenizer.pad_token_id, temperature, top_p, generator)
    texts = roll.texts(tokenizer)
    verdicts = [verify(p, t) if not cut else _cut(p, t) for p, t, cut in zip(prompts, texts, roll.truncated.tolist())]
    return roll, texts, verdicts


def _cut(prompt: str, text: str) -> Verdict:
    """A truncated response earns nothing, whatever it holds so far (its steps are still judged)."""
    v = verify(prompt, text)
    return Verdict(0.0, False, False, v.failed_step if v.failed_step is not None else len(v.step_ok), v.step_ok, v.answer, False,
                   v.reflections, v.corrections, v.steps)


@dataclass
class Evaluation:
    """n samples for each of P held-out prompts."""

    family: str
    prompts: list[str]
    correct: np.ndarray  # (P, n) answer right
    chain: np.ndarray  # (P, n) every step right
    failed_step: np.ndarray  # (P, n) first wrong step, −1 = none
    entropy: float  # mean H_T over response tokens, nats
    length: float  # mean response length, tokens
    truncated: float  # share of responses cut at max_new_tokens
    reflections: float  # mean [wait] self-checks per response
    examples: list[dict] = field(default_factory=list)

    @property
    def samples(self) -> int:
        return int(self.correct.shape[1])

    @property
    def pass1(self) -> float:
        return float(self.correct.mean())

    @property
    def pass1_se(self) -> float:
        per = self.correct.mean(1)
        return float(per.std(ddof=1) / np.sqrt(len(per))) if len(per) > 1 else float("nan")

    @property
    def cot_pass1(self) -> float:
        return float((self.correct & self.chain).mean())

    @property
    def lucky(self) -> float:
        """Share of samples with the right answer through a wrong chain."""
        return float((self.correct & ~self.chain).mean())

    def metrics(self) -> dict:
        """veRL-style names: ``val-core/<family>/acc/mean@n`` and companions."""
        n, f = self.samples, self.family
        return {f"val-core/{f}/acc/mean@{n}": self.pass1, f"val-aux/{f}/acc/se@{n}": self.pass1_se,
                f"val-aux/{f}/cot_acc/mean@{n}": self.cot_pass1, f"val-aux/{f}/lucky/mean@{n}": self.lucky,
                f"val-aux/{f}/entropy/mean@{n}": self.entropy, f"val-aux/{f}/response_length/mean@{n}": self.length,
                f"val-aux/{f}/clip_ratio/mean@{n}": self.truncated, f"val-aux/{f}/reflections/mean@{n}": self.reflections}


def evaluate(model, tokenizer, tasks: list[Task], samples: int, max_new_tokens: int, temperature: float = 1.0, top_p: float = 1.0,
             seed: int = 0, rows_per_batch: int = 1024, keep_examples: int = 8) -> Evaluation:
    """Sample ``samples`` responses to every task (``rows_per_batch`` rows per sampler call) and score them."""
    device = next(model.parameters()).device
    gen = torch.Generator(device=device).manual_seed(seed)
    prompts = [t.prompt for t in tasks for _ in range(samples)]
    correct, chain, failed = [], [], []
    ent_sum = tok_sum = trunc = refl = 0.0
    examples: list[dict] = []
    for lo in range(0, len(prompts), rows_per_batch):
        chunk = prompts[lo: lo + rows_per_batch]
        roll, texts, verdicts = respond(model, tokenizer, chunk, max_new_tokens, temperature, top_p, gen)
        ent_sum += float((roll.entropy * roll.mask).sum())
        tok_sum += float(roll.mask.sum())
        trunc += float(roll.truncated.sum())
        for p, t, v in zip(chunk, texts, verdicts):
            correct.append(v.answer_correct)
            chain.append(v.chain_correct)
            failed.append(-1 if v.failed_step is None else v.failed_step)
            refl += v.reflections
            if len(examples) < keep_examples and (len(correct) - 1) % samples == 0:
                examples.append({"prompt": p, "response": t, **v.to_dict()})
    shape = (len(tasks), samples)
    n = max(len(prompts), 1)
    return Evaluation(tasks[0].family if tasks else "", [t.prompt for t in tasks], np.array(correct).reshape(shape),
                      np.array(chain).reshape(shape), np.array(failed).reshape(shape), ent_sum / max(tok_sum, 1.0),
                      tok_sum / n, trunc / n, refl / n, examples)
