"""stream / run: sample n completions per held-out prompt from each checkpoint, verify every step, estimate.

For every checkpoint (by default the recorded run's: the SFT end, every 20 RL steps, each phase end) the same
held-out prompts are sampled ``samples`` times with :func:`engines.reasoning.evaluate.respond` (batched,
KV-cached) from one seeded generator started afresh per checkpoint — common random numbers, so checkpoint
differences are not sampling noise of different draws — and each response is judged by the world's verifier
(answer, every step, the failing step). The judge mode then decides the chain flags (exact, or a simulated noisy
judge); the Result turns the flag tables into curves, bands, the crossing and the dynamics. One snapshot per
checkpoint (``changed``: ``curves``, ``dynamics``, ``samples``). ``source = dump`` reads a JSONL dump instead.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from engines.base import Snapshot, consume
from engines.recorded import resource_dir

from . import judge as judges
from .config import Config, levels, names
from .dumps import CotPassError, read_dump
from .result import Result

ROOTS = {"recorded": resource_dir("reasoning"), "lucky": resource_dir("cot_pass_at_k")}
HELDOUT_SEED = {"math": 12345, "code": 12346}  # the reasoning world's held-out draws (recipe.EvalSettings.seed, +1 for code)
ROWS_PER_BATCH = 1024
LUCKY_KEPT = 40  # right-answer, wrong-chain samples kept per checkpoint for the table
CHANGED = frozenset({"curves", "dynamics", "samples"})


def checkpoint_list(cfg: Config) -> list[dict]:
    """The checkpoints to evaluate: path, name, step, stage, sorted by RL step (KeyError-free; CotPassError when none)."""
    from engines.reasoning.checkpoints import list_checkpoints

    root = Path(cfg.checkpoint_root) if cfg.checkpoint_root else ROOTS[cfg.source] / "checkpoints"
    found = list_checkpoints(root) if root.is_dir() else []
    if not found:
        hint = " (make it with `python -m engines record cot_pass_at_k`)" if cfg.source == "lucky" else ""
        raise CotPassError(f"{root}: no checkpoints here (a folder with checkpoint.json beside each model){hint}")
    seed0 = found[0].get("seed", 0)
    found = [c for c in found if c.get("seed", 0) == seed0]
    for c in found:
        c.setdefault("name", Path(c["path"]).name)
    want = names(cfg.checkpoints)
    if want:
        by = {c["name"]: c for c in found}
        missing = [w for w in want if w not in by]
        if missing:
            raise CotPassError(f"{root}: no checkpoint named {', '.join(missing)} (allowed: {', '.join(by)})")
        found = sorted((by[w] for w in want), key=lambda c: c.get("step", 0))
    return found


def heldout(cfg: Config) -> list:
    from engines.reasoning.tasks import heldout_tasks

    lv = levels(cfg.levels)
    fams = ("math", "code") if cfg.family == "both" else (cfg.family,)
    per = cfg.prompts // len(fams)
    return [t for f in fams for t in heldout_tasks(f, per, lv, HELDOUT_SEED[f], cfg.absorb)]


def judge_flags(cfg: Config, chain: np.ndarray, salt: int) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """(judged, lenient, strict) chain flags of the Config's judge over the exact flags ``chain``."""
    if cfg.judge == "exact":
        return chain, None, None
    v = judges.votes(chain, cfg.judge_calls, cfg.false_positive, cfg.false_negative, cfg.seed * 7919 + salt)
    return judges.aggregate(v, cfg.aggregate), judges.aggregate(v, "any"), judges.aggregate(v, "all")


def sample_checkpoint(model, tok, tasks, cfg: Config, device, name: str) -> tuple[np.ndarray, np.ndarray, list[dict]]:
    """(answer flags, exact chain flags, lucky samples) of ``samples`` responses to each task."""
    import torch

    from engines.reasoning.evaluate import respond

    gen = torch.Generator(device=device).manual_seed(cfg.seed)
    prompts = [t.prompt for t in tasks for _ in range(cfg.samples)]
    truth = {t.prompt: [s.text for s in t.steps] for t in tasks}
    correct, chain, lucky = [], [], []
    for lo in range(0, len(prompts), ROWS_PER_BATCH):
        chunk = prompts[lo: lo + ROWS_PER_BATCH]
        _, texts, verdicts = respond(model, tok, chunk, cfg.max_new_tokens, cfg.temperature, cfg.top_p, gen)
        for j, (p, text, v) in enumerate(zip(chunk, texts, verdicts)):
            correct.append(v.answer_correct)
            chain.append(v.chain_correct)
            if v.lucky and len(lucky) < LUCKY_KEPT:
                i = lo + j
                lucky.append({"checkpoint": name, "prompt_index": i // cfg.samples, "sample": i % cfg.samples, "prompt": p,
                              "response": text, "steps": list(v.steps), "step_ok": list(v.step_ok), "failed_step": v.failed_step,
                              "canonical": truth[p], "answer": v.answer})
    shape = (len(tasks), cfg.samples)
    return np.array(correct, bool).reshape(shape), np.array(chain, bool).reshape(shape), lucky


def stream(config: Config | None = None, device: str = "auto") -> Iterator[Snapshot]:
    cfg = config or Config()
    if cfg.source == "dump":
        yield from _stream_dump(cfg)
        return
    from transformers.utils import logging as hf_logging

    from engines.device import cpu_threads, resolve
    from engines.reasoning.checkpoints import load_checkpoint
    from engines.recorded import read_provenance

    hf_logging.disable_progress_bar()  # no "Loading weights" bar per checkpoint on the CLI's stderr
    t0 = time.perf_counter()
    dev = resolve(device)
    ckpts = checkpoint_list(cfg)
    root = Path(cfg.checkpoint_root) if cfg.checkpoint_root else ROOTS[cfg.source]
    try:
        prov = read_provenance(root if not cfg.checkpoint_root else root.parent)
    except ValueError:
        prov = None
    result = Result(cfg, source=cfg.source, provenance=prov and {k: prov.get(k) for k in ("command", "commit", "date", "seeds")})
    yield Snapshot(0.0, f"drawing {cfg.prompts} held-out {cfg.family} prompts", result.frozen())
    tasks = heldout(cfg)
    result.prompts = [t.prompt for t in tasks]
    with cpu_threads(cfg.cpu_threads, dev):
        for i, c in enumerate(ckpts):
            t1 = time.perf_counter()
            model, tok, _ = load_checkpoint(c["path"], dev)
            correct, chain, lucky = sample_checkpoint(model, tok, tasks, cfg, dev, c["name"])
            judged, lenient, strict = judge_flags(cfg, chain, i)
            name = c["name"]
            result.names.append(name)
            result.steps.append(c.get("step"))
            result.stages.append(c.get("stage", ""))
            result.correct[name], result.exact_chain[name], result.chain[name] = correct, chain, judged
            if lenient is not None:
                result.lenient[name], result.strict[name] = lenient, strict
            result.lucky_samples.extend(lucky)
            result.sample_s[name] = round(time.perf_counter() - t1, 2)
            result.wall_s = time.perf_counter() - t0
            yield Snapshot((i + 1) / len(ckpts) * 0.999, f"{name}: {cfg.prompts} prompts × {cfg.samples} samples "
                           f"({result.sample_s[name]:.1f} s)", result.frozen(), CHANGED)
    result.wall_s = time.perf_counter() - t0
    yield Snapshot(1.0, f"done in {result.wall_s:.0f} s", result.frozen())


def _stream_dump(cfg: Config) -> Iterator[Snapshot]:
    t0 = time.perf_counter()
    tables = read_dump(cfg.dump)
    want = names(cfg.checkpoints)
    if want:
        by = {t.name: t for t in tables}
        missing = [w for w in want if w not in by]
        if missing:
            raise CotPassError(f"{cfg.dump}: no checkpoint named {', '.join(missing)} (allowed: {', '.join(by)})")
        tables = [by[w] for w in want]
    if cfg.judge == "votes" and any(t.votes is None for t in tables):
        bad = next(t.name for t in tables if t.votes is None)
        raise CotPassError(f"{cfg.dump}: judge = votes needs judge_votes of one length on every row (checkpoint {bad!r} lacks them)")
    n = min(t.correct.shape[1] for t in tables)
    known = all(t.chain is not None for t in tables)
    result = Result(cfg, source="dump", chain_known=known, provenance={"dump": str(cfg.dump)}, prompts=list(tables[0].prompt_ids))
    for i, t in enumerate(tables):
        chain = t.chain if known else t.cot
        if cfg.judge == "votes":
            judged = judges.aggregate(t.votes, cfg.aggregate)
            lenient, strict = judges.aggregate(t.votes, "any"), judges.aggregate(t.votes, "all")
        else:
            judged, lenient, strict = judge_flags(cfg, chain, i)
        result.names.append(t.name)
        result.steps.append(t.step)
        result.stages.append("")
        result.correct[t.name], result.exact_chain[t.name], result.chain[t.name] = t.correct, chain, judged
        if lenient is not None:
            result.lenient[t.name], result.strict[t.name] = lenient, strict
        result.lucky_samples.extend([e for e in t.extras if e["answer_correct"] and not e["cot_correct"]][:LUCKY_KEPT])
    result.wall_s = time.perf_counter() - t0
    yield Snapshot(1.0, f"{cfg.dump}: {len(tables)} checkpoint(s), {len(result.prompts)} prompts × {n} samples", result.frozen())


def run(config: Config | None = None, device: str = "auto") -> Result:
    return consume(stream(config, device))


def dump_result(result: Result, path: str | Path) -> Path:
    """Write a Result's samples as a dump (flags of every sample, chain flags, the text of the kept lucky samples)."""
    from .dumps import Table, write_dump

    pid = [f"p{i}" for i in range(len(result.prompts))]
    tables = []
    for name, step in zip(result.names, result.steps):
        extras = [{**e, "prompt_id": pid[e["prompt_index"]], "sample_id": e["sample"]} for e in result.lucky_samples
                  if e.get("checkpoint") == name and "prompt_index" in e]
        tables.append(Table(name, step, pid, result.correct[name], result.cot(name, "exact"), extras=extras,
                            chain=result.exact_chain[name]))
    return write_dump(path, tables)


def open_dump(path: str | Path, config: Config | None = None) -> Result:
    """A JSONL dump (File → Open) evaluated with ``config``'s judge and estimate settings."""
    return run((config or Config()).replace(source="dump", dump=str(path)))
