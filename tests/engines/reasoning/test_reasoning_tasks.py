"""Task families, the interpreter and the verifier: right, lucky and wrong chains; the held-out split; bad programs."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engines.reasoning import (
    WAIT,
    ReasoningError,
    absorbs,
    heldout_tasks,
    make_task,
    make_tasks,
    run_program,
    solve,
    split_of,
    trace_text,
    verify,
)


def test_the_issue_examples_have_the_chains_it_writes():
    assert solve("3+4*5-2=")[1] == 21
    assert [s.text for s in solve("3+4*5-2=")[0]] == ["4*5=20", "3+20=23", "23-2=21"]
    steps, answer = solve("x=3;y=x*4;x=y+2;?x")
    assert answer == 14 and [s.text for s in steps] == ["y=3*4=12", "x=12+2=14"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 9), min_size=2, max_size=5), st.data())
def test_math_chain_ends_at_pythons_value_of_the_expression(values, data):
    ops = data.draw(st.lists(st.sampled_from("+-*"), min_size=len(values) - 1, max_size=len(values) - 1))
    expr = "".join(f"{v}{o}" for v, o in zip(values, ops)) + str(values[-1])
    steps, answer = solve(expr + "=")
    assert answer == eval(expr)  # an independent evaluator with the same precedence
    assert len(steps) == len(ops)


def test_code_programs_agree_with_python_exec():
    rng = np.random.default_rng(3)
    for _ in range(200):
        task = make_task("code", rng, int(rng.integers(1, 5)))
        env: dict = {}
        body, query = task.prompt.rsplit(";?", 1)
        exec(body.replace(";", "\n"), {}, env)  # the program is also valid Python
        assert run_program(task.prompt).answer == env[query] == task.answer


@pytest.mark.parametrize("family", ["math", "code"])
def test_right_traces_verify_and_carry_full_reward(family):
    rng = np.random.default_rng(0)
    for level in (1, 2, 3):
        for task in make_tasks(family, 20, (level,), seed=level):
            v = verify(task.prompt, task.solution)
            assert v.reward == 1.0 and v.chain_correct and v.failed_step is None and v.cot_correct and not v.lucky
            assert all(0 <= s.c <= 99 for s in task.steps)
    assert rng is not None


@pytest.mark.parametrize("family", ["math", "code"])
def test_lucky_traces_have_the_right_answer_through_a_wrong_step(family):
    rng = np.random.default_rng(1)
    for task in make_tasks(family, 30, (2, 3), seed=5):
        text = trace_text(task, "lucky", rng)
        v = verify(task.prompt, text)
        assert v.answer_correct and not v.chain_correct and v.lucky
        assert v.failed_step < len(task.steps) - 1 and not v.step_ok[v.failed_step]


@pytest.mark.parametrize("family", ["math", "code"])
def test_wrong_traces_fail_at_the_step_that_was_changed(family):
    rng = np.random.default_rng(2)
    for task in make_tasks(family, 30, (1, 2, 3), seed=6):
        text = trace_text(task, "wrong", rng)
        v = verify(task.prompt, text)
        assert not v.chain_correct and v.reward == 0.0  # absorb = 0: no wrong step is hidden by the rest
        written = text.split(">")[0].split(";")
        assert written[v.failed_step] != task.steps[v.failed_step].text
        assert written[: v.failed_step] == [s.text for s in task.steps[: v.failed_step]]


def test_self_check_replaces_the_step_it_rechecks():
    task = make_task("math", np.random.default_rng(4), 3)
    s0 = task.steps[0]
    wrong_first = f"{s0.a}{s0.op}{s0.b}={s0.c + 1}"
    text = ";".join([wrong_first, WAIT + s0.text, *[s.text for s in task.steps[1:]]]) + f">{task.answer}"
    v = verify(task.prompt, text)
    assert v.cot_correct and v.reflections == 1 and v.corrections == 1
    rng = np.random.default_rng(0)
    texts = [trace_text(task, "right", rng, self_check=True) for _ in range(20)]
    assert all(WAIT in t and verify(task.prompt, t).cot_correct for t in texts)


@pytest.mark.parametrize(
    "response, failed, answer_ok",
    [("4*5=20;3+20=23>21", 2, True), ("4*5=20;3+20=23;23-2=21;21+0=21>21", 3, True), ("4*5=20;3+20=23;23-2=21>", None, False),
     ("", 0, False), ("4*5=20;3+20=23;23-2=21>2x", None, False), ("4*5=21;3+21=24;24-2=22>22", 0, False)],
)
def test_missing_extra_and_malformed_steps(response, failed, answer_ok):
    v = verify("3+4*5-2=", response)
    assert v.failed_step == failed and v.answer_correct == answer_ok
    assert v.chain_correct == (failed is None)


def test_absorb_makes_lucky_chains_possible_and_zero_makes_them_impossible():
    plain = make_tasks("math", 200, (2, 3), seed=1)
    assert not any(absorbs(t.prompt) for t in plain)
    for family in ("math", "code"):
        tasks = make_tasks(family, 100, (2, 3), seed=2, absorb=1.0)
        assert all(absorbs(t.prompt) for t in tasks)
        rng = np.random.default_rng(0)
        lucky = [verify(t.prompt, trace_text(t, "wrong", rng)).lucky for t in tasks]
        assert np.mean(lucky) > 0.2  # a wrong step often survives: "lucky" chains are common


def test_heldout_split_is_disjoint_from_every_training_prompt():
    held = {t.prompt for f in ("math", "code") for t in heldout_tasks(f, 128, (2, 3))}
    assert len(held) == 256 and all(split_of(p) == "heldout" for p in held)
    train = {t.prompt for f in ("math", "code") for s in range(5) for t in make_tasks(f, 400, (1, 2, 3), seed=s)}
    assert not held & train
    assert abs(np.mean([split_of(f"{a}+{b}*{c}=") == "heldout" for a in range(10) for b in range(10) for c in range(10)]) - 0.1) < 0.03


@pytest.mark.parametrize("program, what", [("x=3;?y", "never assigned"), ("x=y+1;?x", "before it is assigned"),
                                           ("x=3;y=x/2;?y", "statement 2"), ("x=3", "expected statements"), ("x=3;y=2", "not a query")])
def test_bad_programs_are_refused_naming_the_statement(program, what):
    with pytest.raises(ReasoningError, match=what):
        run_program(program)


def test_bad_math_prompt_is_refused():
    with pytest.raises(ReasoningError, match="math prompt"):
        solve("3+4*=")
