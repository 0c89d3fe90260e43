"""The in-project interpreter of the *code* family: straight-line programs over one-letter integer variables.

Grammar (no spaces): ``program := stmt (';' stmt)* ';?' var``, ``stmt := var '=' operand [op operand]``,
``operand := var | integer``, ``op := '+' | '-' | '*'``. ``x=3;y=x*4;x=y+2;?x`` assigns 3 to x, 12 to y,
14 to x and answers x = 14. A statement with an operator is a *computed* statement: it is one step of the
chain of thought, written with the operand values substituted (``y=3*4=12``); a plain assignment
(``x=3``, ``x=y``) is not a step.

:func:`trace` runs a program and returns its steps; ``override`` replaces the result of step k by another
value that the rest of the program then uses (how a wrong step propagates), which is what the task
generator needs to build wrong traces and to find programs whose answer survives a wrong step.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import ReasoningError

OPS = "+-*"
_STMT = re.compile(r"^([a-z])=([a-z]|\d+)(?:([+\-*])([a-z]|\d+))?$")
_QUERY = re.compile(r"^\?([a-z])$")


@dataclass(frozen=True)
class Statement:
    """``target = left [op right]``; operands are variable names or integer literals (as text)."""

    target: str
    left: str
    op: str = ""
    right: str = ""

    @property
    def computed(self) -> bool:
        return bool(self.op)

    @property
    def text(self) -> str:
        return f"{self.target}={self.left}{self.op}{self.right}"


@dataclass(frozen=True)
class Program:
    statements: tuple[Statement, ...]
    query: str

    @property
    def text(self) -> str:
        return ";".join(s.text for s in self.statements) + f";?{self.query}"


def apply(a: int, op: str, b: int) -> int:
    """One arithmetic step: ``a + b``, ``a - b`` or ``a * b``."""
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    raise ReasoningError(f"operator {op!r}: unknown (allowed: + - *)")


def parse(text: str) -> Program:
    """Parse a program; ReasoningError names the statement that does not fit the grammar."""
    parts = text.strip().split(";")
    if len(parts) < 2:
        raise ReasoningError(f"program {text!r}: expected statements then ';?var'")
    q = _QUERY.match(parts[-1])
    if not q:
        raise ReasoningError(f"program {text!r}: last part {parts[-1]!r} is not a query (expected '?x')")
    stmts = []
    for i, part in enumerate(parts[:-1]):
        m = _STMT.match(part)
        if not m:
            raise ReasoningError(f"program {text!r}: statement {i + 1} {part!r} does not parse (expected v=a, v=a+b, v=a-b or v=a*b)")
        stmts.append(Statement(m.group(1), m.group(2), m.group(3) or "", m.group(4) or ""))
    return Program(tuple(stmts), q.group(1))


@dataclass(frozen=True)
class Execution:
    """What running a program gives: each computed statement as (target, a, op, b, c), the answer, the final values."""

    steps: tuple[tuple[str, int, str, int, int], ...]
    answer: int
    env: dict


def trace(program: Program | str, override: dict[int, int] | None = None) -> Execution:
    """Run ``program``; step k's result becomes ``override[k]`` when given (later statements see that value)."""
    prog = parse(program) if isinstance(program, str) else program
    env: dict[str, int] = {}
    steps = []

    def value(operand: str, where: int) -> int:
        if operand.isdigit():
            return int(operand)
        if operand not in env:
            raise ReasoningError(f"program {prog.text!r}: statement {where + 1} reads {operand!r} before it is assigned")
        return env[operand]

    for i, st in enumerate(prog.statements):
        a = value(st.left, i)
        if not st.computed:
            env[st.target] = a
            continue
        b = value(st.right, i)
        c = apply(a, st.op, b)
        k = len(steps)
        if override and k in override:
            c = override[k]
        steps.append((st.target, a, st.op, b, c))
        env[st.target] = c
    if prog.query not in env:
        raise ReasoningError(f"program {prog.text!r}: the query reads {prog.query!r}, which is never assigned")
    return Execution(tuple(steps), env[prog.query], dict(env))
