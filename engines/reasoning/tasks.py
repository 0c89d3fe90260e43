"""Task families whose chains of thought can be checked step by step: *math* and *code*.

*math*: ``3+4*5-2=`` → ``4*5=20;3+20=23;23-2=21>21``. The chain is the sequence of intermediate results in
the one canonical order: the leftmost ``*`` first while there is one, then ``+``/``-`` left to right. The
level is the number of operations; operands are digits 1–9 and every intermediate lies in
[0, ``max_value``] (99 by default).

*code*: ``x=3;y=x*4;x=y+2;?x`` → ``y=3*4=12;x=12+2=14>14``, traced by :mod:`interpreter`. The level is
the number of computed statements. Each step is written with its operands' values substituted, so that the
arithmetic sub-skill is literally the math family's step (``3*4=12``); the issue's example writes only
the values (``y=12``); we chose the substituted form so that transfer between the families has a
shared skill to travel on (stated here, one format for all users of the world).

*Lucky* chains (right answer through a wrong step) need a task whose answer survives a wrong step:
math with a ``*0`` after the step, code with a dead store. ``absorb`` is the share of such tasks: 0 (the
default) makes lucky chains rare (they then need two errors that cancel), 0.5 makes them common.

The held-out split is a stable hash of the prompt text (:func:`split_of`), so training and held-out
prompts are disjoint whatever seed or level drew them.

:func:`trace_text` writes SFT traces of four kinds: ``right``; ``wrong`` (one step's result off, the error
carried on); ``lucky`` (one non-final step's result off, the chain going on from the true value);
and with ``self_check`` a ``[wait]`` re-verification of a step (sometimes after a wrong first attempt).
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass

import numpy as np

from . import interpreter
from .errors import ReasoningError

FAMILIES = ("math", "code")
WAIT = "[wait]"
ANSWER = ">"
SEP = ";"
HELDOUT_PERCENT = 10
VARIABLES = "abcdwxyz"
_MATH = re.compile(r"^\d+(?:[+\-*]\d+)*=$")
TRACE_KINDS = ("right", "wrong", "lucky")


@dataclass(frozen=True)
class Step:
    """One step of a chain: ``[target=]a op b=c`` (``target`` is the code variable assigned, empty for math)."""

    a: int
    op: str
    b: int
    c: int
    target: str = ""

    @property
    def text(self) -> str:
        return (f"{self.target}=" if self.target else "") + f"{self.a}{self.op}{self.b}={self.c}"


@dataclass(frozen=True)
class Task:
    """A prompt with its canonical chain and answer."""

    family: str
    prompt: str
    level: int
    steps: tuple[Step, ...]
    answer: int

    @property
    def solution(self) -> str:
        """The canonical response: the steps joined by ``;``, then ``>answer``."""
        return chain_text(self.steps, self.answer)

    @property
    def split(self) -> str:
        return split_of(self.prompt)


def chain_text(steps, answer: int) -> str:
    return SEP.join(s if isinstance(s, str) else s.text for s in steps) + f"{ANSWER}{answer}"


def split_of(prompt: str) -> str:
    """``heldout`` for the ~10 % of prompts whose CRC-32 falls in the held-out band, else ``train``."""
    return "heldout" if zlib.crc32(prompt.encode()) % 100 < HELDOUT_PERCENT else "train"


# ---- math ------------------------------------------------------------------------------------------------
def parse_math(prompt: str) -> tuple[list[int], list[str]]:
    if not _MATH.match(prompt):
        raise ReasoningError(f"math prompt {prompt!r}: expected digits joined by + - * and a final '='")
    tokens = re.findall(r"\d+|[+\-*]", prompt[:-1])
    return [int(t) for t in tokens[0::2]], tokens[1::2]


def solve_math(prompt: str, override: dict[int, int] | None = None) -> tuple[tuple[Step, ...], int]:
    """The canonical reduction of a math prompt; step k's result is ``override[k]`` when given."""
    values, ops = parse_math(prompt)
    steps = []
    while ops:
        i = ops.index("*") if "*" in ops else 0
        a, b = values[i], values[i + 1]
        c = interpreter.apply(a, ops[i], b)
        k = len(steps)
        if override and k in override:
            c = override[k]
        steps.append(Step(a, ops[i], b, c))
        values[i : i + 2] = [c]
        del ops[i]
    return tuple(steps), values[0]


def solve_code(prompt: str, override: dict[int, int] | None = None) -> tuple[tuple[Step, ...], int]:
    run = interpreter.trace(prompt, override)
    return tuple(Step(a, op, b, c, t) for t, a, op, b, c in run.steps), run.answer


def family_of(prompt: str) -> str:
    return "math" if prompt.endswith("=") else "code"


def solve(prompt: str, override: dict[int, int] | None = None) -> tuple[tuple[Step, ...], int]:
    """Canonical steps and answer of any prompt of either family (the family is read off the prompt)."""
    return solve_math(prompt, override) if family_of(prompt) == "math" else solve_code(prompt, override)


def absorbs(prompt: str) -> bool:
    """Whether some non-final step can be wrong (result + 1, carried on) with the answer unchanged."""
    steps, answer = solve(prompt)
    return any(solve(prompt, {k: steps[k].c + 1})[1] == answer for k in range(len(steps) - 1))


def _in_range(steps, max_value: int) -> bool:
    return all(0 <= s.c <= max_value for s in steps)


def _math_prompt(rng: np.random.Generator, level: int, with_zero: bool) -> str:
    lo = 0 if with_zero else 1
    vals = rng.integers(lo, 10, size=level + 1)
    ops = rng.choice(list(interpreter.OPS), size=level)
    return "".join(f"{v}{o}" for v, o in zip(vals, ops)) + f"{vals[-1]}="


def _code_prompt(rng: np.random.Generator, level: int, with_dead_store: bool) -> str:
    names = list(rng.permutation(list(VARIABLES)))
    n_lit = int(rng.integers(1, 3))
    env = {names.pop(): int(rng.integers(1, 10)) for _ in range(n_lit)}
    literals = list(env)
    stmts = [f"{v}={x}" for v, x in env.items()]
    prev = next(iter(env))
    for _ in range(level):
        if len(env) > 1 and rng.random() < 0.35:
            right = str(rng.choice([v for v in env if v != prev]))
        else:
            right = str(int(rng.integers(1, 10)))
        target = names.pop() if (names and rng.random() < 0.5) else str(rng.choice(list(env)))
        stmts.append(f"{target}={prev}{rng.choice(list(interpreter.OPS))}{right}")
        env[target] = 0
        prev = target
    if with_dead_store and level >= 1 and names:
        dead = f"{names.pop()}={rng.choice(literals)}{rng.choice(list(interpreter.OPS))}{int(rng.integers(1, 10))}"
        stmts.insert(int(rng.integers(n_lit, len(stmts))), dead)
    return ";".join(stmts) + f";?{prev}"


def make_task(family: str, rng: np.random.Generator, level: int, split: str = "train", absorb: float = 0.0,
              max_value: int = 99, max_tries: int = 10_000) -> Task:
    """One task of ``family`` at ``level`` from ``split``; with probability ``absorb`` one whose answer survives a wrong step."""
    if family not in FAMILIES:
        raise ReasoningError(f"family {family!r}: unknown (allowed: {', '.join(FAMILIES)})")
    if level < 1:
        raise ReasoningError(f"level {level}: must be at least 1")
    want = bool(rng.random() < absorb) and level >= 2
    for _ in range(max_tries):
        prompt = _math_prompt(rng, level, want) if family == "math" else _code_prompt(rng, level, want)
        if split_of(prompt) != split:
            continue
        steps, answer = solve(prompt)
        if not _in_range(steps, max_value) or absorbs(prompt) != want:
            continue
        return Task(family, prompt, level, steps, answer)
    raise ReasoningError(f"{family} level {level}: no task found in {max_tries} draws (max_value={max_value}, absorb={want})")


def make_tasks(family: str, n: int, levels, seed: int, split: str = "train", absorb: float = 0.0, unique: bool = False,
               max_value: int = 99) -> list[Task]:
    """``n`` tasks with levels cycling through ``levels``, drawn from ``seed`` (``unique``: no prompt twice)."""
    rng = np.random.default_rng(seed)
    levels = tuple(levels)
    out, seen = [], set()
    tries = 0
    while len(out) < n:
        tries += 1
        if tries > 50 * n + 1000:
            raise ReasoningError(f"{family} levels {levels}: only {len(out)} distinct {split} prompts found, {n} asked")
        t = make_task(family, rng, levels[len(out) % len(levels)], split, absorb, max_value)
        if unique and t.prompt in seen:
            continue
        seen.add(t.prompt)
        out.append(t)
    return out


def heldout_tasks(family: str, n: int, levels, seed: int = 12345, absorb: float = 0.0) -> list[Task]:
    """The held-out evaluation set: ``n`` distinct prompts from the held-out split (disjoint from every training prompt)."""
    return make_tasks(family, n, levels, seed, "heldout", absorb, unique=True)


# ---- traces for SFT ----------------------------------------------------------------------------------------
def _off(rng: np.random.Generator, c: int, max_value: int) -> int:
    for _ in range(20):
        d = int(rng.choice([-10, -2, -1, 1, 2, 10]))
        if 0 <= c + d <= max_value:
            return c + d
    return c + 1


def trace_text(task: Task, kind: str = "right", rng: np.random.Generator | None = None, self_check: bool = False,
               max_value: int = 99) -> str:
    """A response for SFT: ``right``, ``wrong`` (an error carried to the answer) or ``lucky`` (an error the chain ignores).

    ``self_check`` adds ``[wait]`` and the step done again after one step; half the time that step's first
    attempt is wrong and the re-check corrects it (the rest of the chain follows the corrected value).
    """
    if kind not in TRACE_KINDS:
        raise ReasoningError(f"trace kind {kind!r}: unknown (allowed: {', '.join(TRACE_KINDS)})")
    rng = rng or np.random.default_rng(0)
    steps, answer = list(task.steps), task.answer
    n = len(steps)
    if kind == "wrong":
        k = int(rng.integers(0, n))
        fixed, answer = solve(task.prompt, {k: _off(rng, steps[k].c, max_value)})
        steps = list(fixed)
    elif kind == "lucky" and n >= 2:
        k = int(rng.integers(0, n - 1))
        s = steps[k]
        steps[k] = Step(s.a, s.op, s.b, _off(rng, s.c, max_value), s.target)
    texts = [s.text for s in steps]
    if self_check:
        truth = task.steps if kind == "lucky" else steps  # the step as the chain around it has it
        k = int(rng.integers(0, n))
        s = truth[k]
        first = texts[k] if texts[k] != s.text or rng.random() < 0.5 else Step(s.a, s.op, s.b, _off(rng, s.c, max_value), s.target).text
        texts[k : k + 1] = [first, WAIT + s.text]
    return chain_text(texts, answer)
