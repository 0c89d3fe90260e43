"""The study: SFT data grown by prompts versus by responses per prompt, the same short RL on every start, and RL at
a low, the advised and a high temperature — for one seed at a time, as events.

Starts (``starts``): with base prompts P₀ and size multiples m = 1, m₂, m₃, …, the *prompts* arm trains on m·P₀
distinct prompts × 1 response, the *responses* arm on P₀ prompts × m responses (independently drawn traces: their
kind — right, wrong, lucky — and self-checks differ). m = 1 is the one shared start (``base``). Every dataset holds
m·P₀ traces of the same task distribution, so the token budgets are equal up to trace-length noise (the counted
tokens are reported). The prompts of a larger prompts-arm set include those of the smaller ones (the same seed
draws them in order).

``temperature_start = recorded`` runs the three temperature arms from the reasoning world's recorded SFT policy
instead (resources/reasoning/checkpoints/seed0/sft: 0.86M parameters, held-out math pass@1 ≈ 0.43, a start strong enough
for a short RL run to move), at its own advised T; ``scaling = False`` then skips the SFT-scaling part.

Per seed: every start is SFT'd from the same random init (``engines.reasoning.sft.train_sft``, ``sft_epochs`` passes) and
evaluated on the held-out math set; the advisor measures H_T of the reference start (the largest prompts-arm set)
on the temperature grid and interpolates the T meeting the target; every start then gets the same GRPO run
(``engines.reasoning.grpo.GRPO``, one stage) at that advised T and is evaluated again; finally the reference
start is RL'd at ``low_factor`` × and ``high_factor`` × the advised T as well (the advised arm is its scaling run). Every
evaluation samples at the fixed ``eval_temperature``.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from engines.recorded import resource_dir

from .config import Config, int_list

RECORDED_START = resource_dir("reasoning") / "checkpoints" / "seed0" / "sft"  # the reasoning world's recorded SFT policy
RECORDED_NAME = "recorded sft"


@dataclass(frozen=True)
class Start:
    name: str  # "base", "prompts×2", "responses×4"
    arm: str  # "base", "prompts", "responses"
    multiple: int
    prompts: int
    responses: int

    @property
    def traces(self) -> int:
        return self.prompts * self.responses


def starts(cfg: Config) -> list[Start]:
    """The SFT starts: the shared base, then each larger size in the prompts arm and in the responses arm."""
    p0 = cfg.base_prompts
    out = [Start("base", "base", 1, p0, 1)]
    for m in cfg.size_list()[1:]:
        out.append(Start(f"prompts×{m}", "prompts", m, m * p0, 1))
    for m in cfg.size_list()[1:]:
        out.append(Start(f"responses×{m}", "responses", m, p0, m))
    return out


def reference(cfg: Config) -> Start:
    """The start the temperature arms run from: the largest prompts-arm set (the strongest SFT, as the paper's)."""
    return [s for s in starts(cfg) if s.arm == "prompts"][-1]


def arm_temperatures(cfg: Config, advised: float) -> dict[str, float]:
    return {"low": cfg.low_factor * advised, "advised": advised, "high": cfg.high_factor * advised}


def _mix(cfg: Config, start: Start):
    from engines.reasoning.sft import TraceMix

    levels = int_list(cfg.sft_levels, "sft_levels", 1, 6)
    return TraceMix(0.0, cfg.wrong_share, cfg.lucky_share, cfg.self_check_share, levels, levels, 0.0, start.prompts, start.responses)


def dataset_tokens(cfg: Config, start: Start, tokenizer, seed: int) -> int:
    """Tokens (prompt + response + EOS) of the start's SFT dataset as ``train_sft`` draws it for ``seed``."""
    from engines.reasoning.sft import sft_dataset

    data = sft_dataset(np.random.default_rng(seed), _mix(cfg, start))
    p = tokenizer([t.prompt for t, _ in data]).input_ids
    r = tokenizer([x for _, x in data], add_special_tokens=False).input_ids
    return int(sum(len(a) + len(b) + 1 for a, b in zip(p, r)))


@dataclass
class Event:
    kind: str  # "sft", "advisor", "rl_step", "rl", "progress"
    data: dict
    progress: float
    message: str


def sft_steps(cfg: Config, start: Start) -> int:
    """SFT steps of a start: ``sft_epochs`` passes over its traces, ``sft_batch`` traces a step (at least 1)."""
    return max(1, math.ceil(cfg.sft_epochs * start.traces / cfg.sft_batch))


def work(cfg: Config) -> float:
    """Cost units per seed for progress: an SFT step 1, an RL step 4 (8 on the larger recorded policy), an evaluation 30,
    an advisor T 15."""
    n = len(starts(cfg))
    units = 0.0
    if cfg.scaling:
        arms = 2 if cfg.temperature_start == "study" else 0
        units += sum(sft_steps(cfg, s) for s in starts(cfg)) + (n + arms) * (4 * cfg.rl_steps + 30) + n * 30 + 15 * len(cfg.grid())
    if cfg.temperature_start == "recorded":
        units += 3 * (4 * cfg.rl_steps + 30) + 60 + 15 * len(cfg.grid())
    return units


def run_seed(cfg: Config, seed: int, device="cpu") -> Iterator[Event]:
    """The whole study for one seed (see the module docstring)."""

    from engines.reasoning.evaluate import evaluate
    from engines.reasoning.grpo import GRPO, GRPOSettings, Stage
    from engines.reasoning.model import ModelShape, parameter_count, tiny_llama
    from engines.reasoning.sft import SFTSettings, train_sft
    from engines.reasoning.tasks import heldout_tasks
    from engines.reasoning.tokenizer import char_tokenizer

    from .entropy import advise, measure_entropy

    tok = char_tokenizer()
    shape = ModelShape(cfg.hidden_size, cfg.layers, cfg.heads, cfg.intermediate_size, 128)
    rl_levels = int_list(cfg.rl_levels, "rl_levels", 1, 6)
    held = heldout_tasks("math", cfg.eval_prompts, rl_levels, 12345)
    total, done = float(work(cfg)), 0.0

    def score(model, tag: int) -> dict:
        ev = evaluate(model, tok, held, cfg.eval_samples, cfg.max_new_tokens, cfg.eval_temperature, 1.0,
                      seed=100_000 + 1000 * seed + tag, keep_examples=0)
        return {"acc": ev.pass1, "acc_se": ev.pass1_se, "entropy": ev.entropy, "length": ev.length}

    def rl_run(model, name: str, arm: str, t: float, tag: int):
        """The same short GRPO run on ``model`` at temperature ``t``; yields progress events, then the "rl" event."""
        nonlocal done
        model.eval()
        settings = GRPOSettings(cfg.prompts_per_step, cfg.group_size, cfg.lr, t, 1.0, pool_size=max(cfg.pool_size, cfg.prompts_per_step),
                                filter_samples=0)
        trainer = GRPO(model, tok, settings, seed)
        stage = Stage(f"math@{cfg.max_new_tokens}", "math", "math", rl_levels, cfg.max_new_tokens, cfg.rl_steps)
        pool, _ = trainer.pool(stage, 0)
        rows = []
        t0 = time.perf_counter()
        for step, batch in zip(range(1, cfg.rl_steps + 1), trainer.batches(pool)):
            m, _ = trainer.step(batch, cfg.max_new_tokens, keep_samples=0)
            rows.append({"step": step, "score": m["critic/score/mean"], "entropy": m["actor/entropy"],
                         "no_signal": m["batch/no_signal"], "length": m["response_length/mean"]})
            done += 4
            if step % 4 == 0 or step == cfg.rl_steps:
                yield Event("progress", {}, done / total, f"seed {seed}: RL {name} at T={t:.2f}, step {step}/{cfg.rl_steps}")
        rl_s = time.perf_counter() - t0
        ev = score(model, tag)
        done += 30
        yield Event("rl", {"seed": seed, "start": name, "arm": arm, "temperature": t, "curve": rows, "wall_s": rl_s,
                           **{f"rl_{k}": v for k, v in ev.items()}},
                    done / total, f"seed {seed}: RL {name} at T={t:.2f} → pass@1 {ev['acc']:.3f}")

    def advisor(model, name: str):
        nonlocal done
        model.eval()
        prompts = [t.prompt for t in heldout_tasks("math", cfg.advisor_prompts, rl_levels, 777)]
        curve = measure_entropy(model, tok, prompts, cfg.grid(), cfg.advisor_samples, cfg.advisor_max_new_tokens, seed=seed)
        advice = advise(curve.temperatures, curve.entropy, cfg.target_entropy)
        done += 15 * len(cfg.grid())
        event = Event("advisor", {"seed": seed, "start": name, **curve.to_dict(), **advice}, done / total,
                      f"seed {seed}: {name}: advised T = {advice['temperature']:.3f} ({advice['where']})")
        return event, advice["temperature"]

    policies = {}
    ref = reference(cfg)
    if cfg.scaling:
        for i, st in enumerate(starts(cfg)):
            model = tiny_llama(tok, shape, seed).to(device)  # the same init for every start of this seed
            t0 = time.perf_counter()
            steps = sft_steps(cfg, st)
            rows = list(train_sft(model, tok, _mix(cfg, st), SFTSettings(steps, cfg.sft_batch, cfg.sft_lr, warmup=max(steps // 10, 1)),
                                  seed, log_every=max(steps // 8, 1)))
            sft_s = time.perf_counter() - t0
            done += steps + 30
            ev = score(model, i)
            policies[st.name] = copy.deepcopy(model.state_dict())
            yield Event("sft", {"seed": seed, "start": st.name, "arm": st.arm, "multiple": st.multiple, "prompts": st.prompts,
                                "responses": st.responses, "traces": st.traces, "sft_steps": steps,
                                "tokens": dataset_tokens(cfg, st, tok, seed),
                                "loss": rows[-1]["sft/loss"] if rows else None, "loss_curve": [r["sft/loss"] for r in rows],
                                "wall_s": sft_s, "parameters": parameter_count(model), **{f"sft_{k}": v for k, v in ev.items()}},
                        done / total, f"seed {seed}: SFT {st.name} ({st.prompts} prompts × {st.responses}) → pass@1 {ev['acc']:.3f}")

        def policy(name: str):
            model = tiny_llama(tok, shape, seed).to(device)
            model.load_state_dict(policies[name])
            return model

        event, advised = advisor(policy(ref.name), ref.name)
        yield event
        for j, st in enumerate(starts(cfg)):  # the same RL on every start, at the reference start's advised T
            yield from rl_run(policy(st.name), st.name, "advised", advised, 50 + j)
        if cfg.temperature_start == "study":
            temps = arm_temperatures(cfg, advised)
            for j, arm in enumerate(("low", "high")):
                yield from rl_run(policy(ref.name), ref.name, arm, temps[arm], 50 + len(starts(cfg)) + j)
    if cfg.temperature_start == "recorded":
        from transformers.utils import logging as hf_logging

        from engines.reasoning.model import load_policy

        hf_logging.disable_progress_bar()

        def recorded():
            return load_policy(RECORDED_START, device)[0]

        event, advised = advisor(recorded(), RECORDED_NAME)
        event.data["sft_acc"] = score(recorded(), 90)["acc"]
        yield event
        for j, (arm, t) in enumerate(arm_temperatures(cfg, advised).items()):
            yield from rl_run(recorded(), RECORDED_NAME, arm, t, 91 + j)
