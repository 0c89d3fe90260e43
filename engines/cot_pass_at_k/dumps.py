"""Evaluation dumps: a user's own model's samples as JSONL, one sample per line.

    {"prompt_id": "aime24-3", "sample_id": 7, "answer_correct": true, "cot_correct": false}

Required: ``prompt_id`` and ``sample_id`` (a string or an integer), ``answer_correct`` and ``cot_correct``
(true/false; 0/1 are read as false/true). Optional: ``chain_correct`` (every step right, whatever the answer: on
every row it makes the logic prior measurable; ``cot_correct`` must then be ``answer_correct and chain_correct``),
``checkpoint`` (a name: rows of several models or training
steps in one file become one curve each; default ``dump``), ``step`` (the training step of that checkpoint, for
the dynamics chart), ``judge_votes`` (a list of true/false, one per judge call, aggregated by the Config's
``aggregate`` when ``judge = votes``), and ``prompt``, ``response``, ``failed_step``, ``steps``, ``step_ok``, ``canonical``, ``answer``
(shown in the table of right answers with wrong chains). Blank lines are skipped. ``cot_correct`` true with ``answer_correct`` false, a
(checkpoint, prompt_id, sample_id) seen twice, or a prompt with fewer samples than another of its checkpoint
is refused with the file and line. Every checkpoint must hold the same prompts (curves compare them paired).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engines.inputs import InputError, json_loads, read_text, where


class CotPassError(InputError):
    """A dump or setting the CoT-Pass@K evaluator cannot use; the message names the file and line."""


REQUIRED = ("prompt_id", "sample_id", "answer_correct", "cot_correct")
MAX_ROWS = 2_000_000


@dataclass
class Table:
    """The samples of one checkpoint as (P, n) arrays, prompts in first-seen order."""

    name: str
    step: int | None
    prompt_ids: list[str]
    correct: np.ndarray
    cot: np.ndarray
    votes: np.ndarray | None = None  # (P, n, calls) when every row has judge_votes of one length
    chain: np.ndarray | None = None  # (P, n) chain right, when every row has chain_correct
    extras: list[dict] = field(default_factory=list)  # rows with prompt/response text, for the table


def _flag(value, what: str, path, line: int) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise CotPassError(f"{where(path, line)}: {what}: expected true or false, got {str(value)[:40]!r}")


def _ident(value, what: str, path, line: int) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)) or value == "":
        raise CotPassError(f"{where(path, line)}: {what}: expected a non-empty string or an integer, got {str(value)[:40]!r}")
    return str(value)


def read_dump(path: str | Path) -> list[Table]:
    """Every checkpoint's samples in a JSONL dump (see the module docstring for the row shape)."""
    text = read_text(path, CotPassError)
    groups: dict[str, dict] = {}
    rows = 0
    for line_no, raw in enumerate(text.split("\n"), 1):
        if not raw.strip():
            continue
        rows += 1
        if rows > MAX_ROWS:
            raise CotPassError(f"{where(path, line_no)}: more than {MAX_ROWS:,} rows; split the dump")
        row = json_loads(raw, where(path, line_no), CotPassError)
        if not isinstance(row, dict):
            raise CotPassError(f"{where(path, line_no)}: expected a JSON object per line, got {type(row).__name__}")
        missing = [k for k in REQUIRED if k not in row]
        if missing:
            raise CotPassError(f"{where(path, line_no)}: missing {', '.join(missing)} (a row needs {', '.join(REQUIRED)})")
        pid = _ident(row["prompt_id"], "prompt_id", path, line_no)
        sid = _ident(row["sample_id"], "sample_id", path, line_no)
        ans = _flag(row["answer_correct"], "answer_correct", path, line_no)
        cot = _flag(row["cot_correct"], "cot_correct", path, line_no)
        if cot and not ans:
            raise CotPassError(f"{where(path, line_no)}: cot_correct is true but answer_correct is false (CoT-correct means both right)")
        chain = None
        if "chain_correct" in row:
            chain = _flag(row["chain_correct"], "chain_correct", path, line_no)
            if cot != (ans and chain):
                raise CotPassError(f"{where(path, line_no)}: cot_correct must be answer_correct and chain_correct "
                                   f"(got {ans}, {chain}, {cot})")
        name = _ident(row.get("checkpoint", "dump"), "checkpoint", path, line_no)
        g = groups.setdefault(name, {"step": None, "prompts": {}, "seen": set(), "extras": [], "calls": set(), "first": line_no})
        if "step" in row:
            step = row["step"]
            if isinstance(step, bool) or not isinstance(step, int) or step < 0:
                raise CotPassError(f"{where(path, line_no)}: step: expected a non-negative integer, got {str(step)[:40]!r}")
            if g["step"] is not None and g["step"] != step:
                raise CotPassError(f"{where(path, line_no)}: step {step} differs from step {g['step']} of checkpoint {name!r}")
            g["step"] = step
        if (pid, sid) in g["seen"]:
            raise CotPassError(f"{where(path, line_no)}: sample {sid!r} of prompt {pid!r} appears twice in checkpoint {name!r}")
        g["seen"].add((pid, sid))
        votes = None
        if "judge_votes" in row:
            v = row["judge_votes"]
            if not isinstance(v, list) or not v:
                raise CotPassError(f"{where(path, line_no)}: judge_votes: expected a non-empty list of true/false")
            votes = [_flag(x, "judge_votes", path, line_no) for x in v]
            g["calls"].add(len(votes))
        g["prompts"].setdefault(pid, []).append((ans, cot, votes, line_no, chain))
        if "response" in row and "prompt" in row:
            fs = row.get("failed_step")
            g["extras"].append({"checkpoint": name, "prompt_id": pid, "sample_id": sid, "prompt": str(row["prompt"])[:400],
                                "response": str(row["response"])[:400], "answer_correct": ans, "cot_correct": cot,
                                "failed_step": _int_or_none(fs), "answer": _int_or_none(row.get("answer")),
                                **{k: _texts(row.get(k)) for k in ("steps", "canonical")},
                                "step_ok": [bool(x) for x in row["step_ok"]][:64] if isinstance(row.get("step_ok"), list) else []})
    if not groups:
        raise CotPassError(f"{where(path, 1)}: no rows (expected JSON lines with {', '.join(REQUIRED)})")
    tables = [_table(name, g, path) for name, g in groups.items()]
    first = tables[0]
    for t in tables[1:]:
        if set(t.prompt_ids) != set(first.prompt_ids):
            extra = sorted(set(t.prompt_ids) ^ set(first.prompt_ids))[:3]
            raise CotPassError(f"{where(path, groups[t.name]['first'])}: checkpoint {t.name!r} holds other prompts than "
                               f"{first.name!r} (e.g. {', '.join(extra)}); every checkpoint needs the same prompts")
        order = [t.prompt_ids.index(p) for p in first.prompt_ids]
        t.prompt_ids = list(first.prompt_ids)
        t.correct, t.cot = t.correct[order], t.cot[order]
        if t.votes is not None:
            t.votes = t.votes[order]
    return tables


def _table(name: str, g: dict, path) -> Table:
    prompts = g["prompts"]
    sizes = {p: len(s) for p, s in prompts.items()}
    n = max(sizes.values())
    for p, s in prompts.items():
        if len(s) != n:
            raise CotPassError(f"{where(path, s[-1][3])}: prompt {p!r} of checkpoint {name!r} has {len(s)} samples, others have {n} "
                               "(every prompt needs the same number of samples)")
    correct = np.array([[r[0] for r in s] for s in prompts.values()], bool)
    cot = np.array([[r[1] for r in s] for s in prompts.values()], bool)
    votes = chain = None
    if all(r[2] is not None for s in prompts.values() for r in s) and len(g["calls"]) == 1:
        votes = np.array([[r[2] for r in s] for s in prompts.values()], bool)
    if all(r[4] is not None for s in prompts.values() for r in s):
        chain = np.array([[r[4] for r in s] for s in prompts.values()], bool)
    return Table(name, g["step"], list(prompts), correct, cot, votes, chain=chain, extras=g["extras"])


def _int_or_none(v) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def _texts(v) -> list[str]:
    return [str(x)[:80] for x in v][:64] if isinstance(v, list) else []


def write_dump(path: str | Path, tables: list[Table]) -> Path:
    """Write tables as a dump :func:`read_dump` reads back (the round trip the tests check)."""
    import json

    out = Path(path)
    keep = ("prompt", "response", "failed_step", "steps", "step_ok", "canonical", "answer")
    with open(out, "w") as f:
        for t in tables:
            extras = {(str(e["prompt_id"]), str(e["sample_id"])): e for e in t.extras}
            for p, pid in enumerate(t.prompt_ids):
                for s in range(t.correct.shape[1]):
                    row = {"checkpoint": t.name, "prompt_id": pid, "sample_id": s, "answer_correct": bool(t.correct[p, s]),
                           "cot_correct": bool(t.cot[p, s])}
                    if t.chain is not None:
                        row["chain_correct"] = bool(t.chain[p, s])
                    e = extras.get((str(pid), str(s)))
                    if e:
                        row.update({k: e[k] for k in keep if k in e})
                    if t.step is not None:
                        row["step"] = int(t.step)
                    if t.votes is not None:
                        row["judge_votes"] = [bool(x) for x in t.votes[p, s]]
                    f.write(json.dumps(row) + "\n")
    return out
