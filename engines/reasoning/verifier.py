"""The verifier: the answer reward and, separately, whether every step of the chain is right and which one failed.

A response is ``step;step;...;step>answer``. The reward is binary and verifiable: 1 when the text after
``>`` is the task's answer, else 0 (also for anything unparseable or cut off). The chain is right when its
steps are exactly the canonical steps (same count, same operands, same results); ``failed_step`` is the
index of the first step that differs (a missing step fails at the index it should have had, an extra step
at the canonical count). A step written as ``[wait]step`` is a self-check of the step before it: the
re-stated step replaces the earlier one (``reflections`` counts them, ``corrections`` those that changed it);
``steps`` are the written steps after that, each judged in ``step_ok``.

``lucky`` = right answer through a wrong chain; ``cot_correct`` = right answer *and* right chain
(CoT-Pass@K's criterion).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .tasks import ANSWER, SEP, WAIT, solve

_INT = re.compile(r"^-?\d+$")


@dataclass(frozen=True)
class Verdict:
    reward: float
    answer_correct: bool
    chain_correct: bool
    failed_step: int | None
    step_ok: tuple[bool, ...]
    answer: int | None
    well_formed: bool
    reflections: int = 0
    corrections: int = 0
    steps: tuple[str, ...] = ()

    @property
    def lucky(self) -> bool:
        """Right answer, wrong chain."""
        return self.answer_correct and not self.chain_correct

    @property
    def cot_correct(self) -> bool:
        """Right answer and every step right."""
        return self.answer_correct and self.chain_correct

    def to_dict(self) -> dict:
        return dict(reward=self.reward, answer_correct=self.answer_correct, chain_correct=self.chain_correct,
                    failed_step=self.failed_step, step_ok=list(self.step_ok), answer=self.answer, well_formed=self.well_formed,
                    reflections=self.reflections, corrections=self.corrections, steps=list(self.steps))


def split_steps(chain: str) -> tuple[list[str], int, int]:
    """The chain's steps after self-checks are applied, and the counts of reflections and corrections."""
    steps: list[str] = []
    reflections = corrections = 0
    for part in chain.split(SEP):
        if part.startswith(WAIT) and steps:
            reflections += 1
            again = part[len(WAIT):]
            corrections += again != steps[-1]
            steps[-1] = again
        elif part:
            steps.append(part)
    return steps, reflections, corrections


def verify(prompt: str, response: str) -> Verdict:
    """Judge ``response`` (the decoded completion, without end-of-sequence) to ``prompt``."""
    canon, answer = solve(prompt)
    truth = [s.text for s in canon]
    chain, sep, tail = response.partition(ANSWER)
    steps, reflections, corrections = split_steps(chain)
    got = int(tail) if sep and _INT.match(tail) else None
    ok = tuple(i < len(truth) and s == truth[i] for i, s in enumerate(steps))
    failed = next((i for i, good in enumerate(ok) if not good), None)
    if failed is None and len(steps) != len(truth):
        failed = min(len(steps), len(truth))
    right = got is not None and got == answer
    return Verdict(float(right), right, failed is None, failed, ok, got, bool(sep) and got is not None, reflections, corrections,
                   tuple(steps))
