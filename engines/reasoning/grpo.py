"""Token-level GRPO as AceReason runs it: on-policy, no KL term, no entropy bonus, binary verifiable rewards.

For each prompt, G responses are sampled at temperature T; with rewards r_1..r_G the advantage of every
token of response i is the group-normalised reward (veRL's ``compute_grpo_outcome_advantage``)

    A_i = (r_i − mean(r)) / (std(r) + ε)          std with Bessel's correction; ε = 1e-6

so a group whose rewards are all equal gives A = 0 (no signal). The loss is averaged over all response
tokens of the (mini-)batch ("token-mean"), with ρ_it = π_θ(y_it | ·) / π_old(y_it | ·):

    L = −(1 / Σ m_it) Σ_i Σ_t m_it · min(ρ_it A_i, clip(ρ_it, 1 − ε_c, 1 + ε_c) A_i).

With one update per rollout batch the policy that sampled is the one being differentiated: ρ = 1 (up to
the cached/uncached float difference, ~1e-7) and clipping never binds, so ∇L = −Σ m A ∇log π / Σ m.
``updates_per_batch = k > 1`` takes k optimizer steps per rollout batch, the later ones off-policy with PPO
clipping acting: ``update_mode = minibatch`` splits the batch into k mini-batches of whole groups (veRL's
``ppo_mini_batch_size = batch / k``), ``epochs`` passes over the whole batch k times (veRL's ``ppo_epochs``);
either is the off-policy setting AceReason saw collapse entropy. Overlong filtering masks truncated responses out of
the loss (their reward, 0, still enters their group's mean). Responses with A = 0 contribute exactly zero gradient, so
the update runs forward and backward only over the others (and only up to the longest of them), dividing by the token
count of the whole batch: the same loss, gradient and step (tested against the plain full-batch update), less work
when many groups have no signal; ``actor/ppo_kl`` is then taken over the tokens run. Pass-rate filtering drops from a stage's prompt
pool the prompts the current policy already solves at more than ``filter_above``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from .evaluate import evaluate, respond
from .sampling import Rollout, positions
from .tasks import Task, make_tasks


@dataclass(frozen=True)
class Stage:
    """One RL stage (``math@24``) of a phase (``math``): task family and levels, length limit, steps, pass-rate filter (None = off)."""

    name: str
    phase: str
    family: str
    levels: tuple[int, ...]
    max_new_tokens: int
    steps: int
    filter_above: float | None = None


@dataclass(frozen=True)
class GRPOSettings:
    prompts_per_step: int = 32
    group_size: int = 8
    lr: float = 1e-4
    temperature: float = 1.0
    top_p: float = 1.0
    updates_per_batch: int = 1
    update_mode: str = "epochs"
    clip_eps: float = 0.2
    overlong_filter: bool = True
    grad_clip: float = 1.0
    pool_size: int = 512
    filter_samples: int = 4
    absorb: float = 0.0
    adv_eps: float = 1e-6


def group_advantages(rewards: torch.Tensor, group_size: int, eps: float = 1e-6) -> torch.Tensor:
    """A_i = (r_i − mean_g) / (std_g + eps) over consecutive groups of ``group_size`` rewards."""
    r = rewards.float().view(-1, group_size)
    std = r.std(1, keepdim=True) if group_size > 1 else torch.ones_like(r[:, :1])
    return ((r - r.mean(1, keepdim=True)) / (std + eps)).view(-1)


def token_loss(logp: torch.Tensor, old_logp: torch.Tensor, adv: torch.Tensor, mask: torch.Tensor,
               clip_eps: float, tokens: torch.Tensor | float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The clipped token-mean policy loss and the share of tokens where the clip binds (over ``tokens``, default Σ mask)."""
    ratio = torch.exp(logp - old_logp)
    a = adv[:, None]
    loss1, loss2 = -a * ratio, -a * ratio.clamp(1 - clip_eps, 1 + clip_eps)
    per_token = torch.maximum(loss1, loss2)
    n = torch.as_tensor(mask.sum() if tokens is None else tokens, dtype=per_token.dtype).clamp(min=1.0)
    clipfrac = ((loss2 > loss1).float() * mask).sum() / n
    return (per_token * mask).sum() / n, clipfrac


def response_logprobs(model, roll: Rollout, temperature: float, rows: slice | torch.Tensor = slice(None),
                      width: int | None = None) -> torch.Tensor:
    """log p_T of the sampled tokens under the current model (with gradient), one full forward of prompt + response
    (the first ``width`` response tokens only, when given)."""
    pids, pmask, toks = roll.prompt_ids[rows], roll.prompt_mask[rows], roll.tokens[rows, :width]
    seq = torch.cat([pids, toks], 1)
    mask = torch.cat([pmask, torch.ones_like(toks)], 1)
    n = toks.shape[1]
    logits = model(input_ids=seq, attention_mask=mask, position_ids=positions(mask), use_cache=False, logits_to_keep=n + 1).logits[:, :-1]
    logp = torch.log_softmax(logits.float() / (temperature if temperature > 0 else 1.0), -1)
    return logp.gather(-1, toks[..., None]).squeeze(-1)


def update(model, optimizer, roll: Rollout, rewards: torch.Tensor, s: GRPOSettings) -> dict:
    """One rollout batch → ``updates_per_batch`` optimizer steps: on mini-batches of whole groups, or (``epochs``) on all of it."""
    adv = group_advantages(rewards, s.group_size, s.adv_eps).to(roll.tokens.device)
    mask = roll.mask * (~roll.truncated).float()[:, None] if s.overlong_filter else roll.mask
    groups = rewards.numel() // s.group_size
    if s.update_mode == "epochs":
        k = s.updates_per_batch
        chunks = [np.arange(groups)] * k
    else:
        k = min(s.updates_per_batch, groups)
        chunks = np.array_split(np.arange(groups), k)
    stats = {"loss": [], "clipfrac": [], "grad_norm": [], "kl": []}
    params = [p for p in model.parameters() if p.requires_grad]
    dev = roll.tokens.device
    model.train()
    for chunk in chunks:
        rows = torch.from_numpy(np.concatenate([np.arange(g * s.group_size, (g + 1) * s.group_size) for g in chunk])).to(dev)
        n_tokens = mask[rows].sum()
        # A response with A = 0 (its group's rewards all equal) or no loss tokens adds exactly nothing to the gradient:
        # only the others are run forward and backward; the token-mean still divides by every response token of the batch.
        live = rows[(adv[rows] != 0) & (mask[rows].sum(1) > 0)]
        optimizer.zero_grad(set_to_none=False)
        if len(live):
            width = int(mask[live].sum(0).nonzero().max()) + 1  # padding columns past the longest live response: nothing
            logp = response_logprobs(model, roll, s.temperature, live, width)
            m = mask[live, :width]
            loss, clipfrac = token_loss(logp, roll.logprobs[live, :width], adv[live], m, s.clip_eps, n_tokens)
            loss.backward()
            kl = float(((roll.logprobs[live, :width] - logp.detach()) * m).sum() / m.sum().clamp(min=1.0))
        else:
            loss = clipfrac = torch.zeros(())
            kl = 0.0
            for p in params:  # the same optimizer step a zero gradient gives (Adam's moments still move)
                p.grad = torch.zeros_like(p) if p.grad is None else p.grad.zero_()
        stats["grad_norm"].append(float(torch.nn.utils.clip_grad_norm_(params, s.grad_clip)))
        optimizer.step()
        stats["loss"].append(float(loss.detach()))
        stats["clipfrac"].append(float(clipfrac.detach()))
        stats["kl"].append(kl)
    model.eval()
    return {"actor/pg_loss": float(np.mean(stats["loss"])), "actor/pg_clipfrac": float(np.mean(stats["clipfrac"])),
            "actor/grad_norm": float(np.mean(stats["grad_norm"])), "actor/ppo_kl": float(np.mean(stats["kl"])),
            "actor/lr": optimizer.param_groups[0]["lr"], "actor/updates": k}


class GRPO:
    """The RL trainer for one policy: a prompt pool per stage, rollouts, updates, step metrics (veRL's names)."""

    def __init__(self, model, tokenizer, settings: GRPOSettings, seed: int = 0):
        self.model, self.tokenizer, self.s, self.seed = model, tokenizer, settings, seed
        self.device = next(model.parameters()).device
        self.optimizer = torch.optim.AdamW(model.parameters(), lr=settings.lr, betas=(0.9, 0.999), weight_decay=0.0)
        self.generator = torch.Generator(device=self.device).manual_seed(seed)
        self.rng = np.random.default_rng(seed)

    # ---- prompts --------------------------------------------------------------------------------------------
    def pool(self, stage: Stage, index: int = 0) -> tuple[list[Task], dict]:
        """The stage's training prompts, pass-rate filtered when the stage asks (with the filter's counts)."""
        tasks = make_tasks(stage.family, self.s.pool_size, stage.levels, seed=self.seed * 1000 + index + 17, split="train",
                           absorb=self.s.absorb, unique=True)
        info = {"data/pool_size": len(tasks), "data/pool_kept": len(tasks)}
        if stage.filter_above is None or self.s.filter_samples < 1:
            return tasks, info
        ev = evaluate(self.model, self.tokenizer, tasks, self.s.filter_samples, stage.max_new_tokens, self.s.temperature, self.s.top_p,
                      seed=self.seed * 1000 + index + 29, keep_examples=0)
        rate = ev.correct.mean(1)
        keep = [t for t, r in zip(tasks, rate) if r <= stage.filter_above]
        if len(keep) < self.s.prompts_per_step:  # keep at least one batch: the hardest prompts
            keep = [tasks[i] for i in np.argsort(rate, kind="stable")[: self.s.prompts_per_step]]
        info.update({"data/pool_kept": len(keep), "data/pool_pass_rate": float(rate.mean())})
        return keep, info

    def batches(self, tasks: list[Task]):
        """Endless batches of ``prompts_per_step`` prompts, reshuffled each pass over the pool."""
        while True:
            order = self.rng.permutation(len(tasks))
            for lo in range(0, len(order) - self.s.prompts_per_step + 1, self.s.prompts_per_step):
                yield [tasks[i] for i in order[lo: lo + self.s.prompts_per_step]]

    # ---- one step ----------------------------------------------------------------------------------------------
    def step(self, tasks: list[Task], max_new_tokens: int, keep_samples: int = 4) -> tuple[dict, list[dict]]:
        """Sample G responses per task, reward them, update; return the step's metrics and a few samples."""
        s, G = self.s, self.s.group_size
        t0 = time.perf_counter()
        prompts = [t.prompt for t in tasks for _ in range(G)]
        roll, texts, verdicts = respond(self.model, self.tokenizer, prompts, max_new_tokens, s.temperature, s.top_p, self.generator)
        t_gen = time.perf_counter() - t0
        rewards = torch.tensor([v.reward for v in verdicts])
        upd = update(self.model, self.optimizer, roll, rewards, s)
        dt = time.perf_counter() - t0
        r = rewards.view(-1, G)
        none, every = (r.sum(1) == 0).float().mean().item(), (r.sum(1) == G).float().mean().item()
        lengths = roll.lengths.float()
        n_tok = float(roll.mask.sum())
        ent = float((roll.entropy * roll.mask).sum() / max(n_tok, 1.0))
        lucky = np.mean([v.lucky for v in verdicts])
        tokens = float(roll.prompt_mask.sum()) + n_tok
        metrics = {
            "critic/score/mean": float(rewards.mean()), "critic/score/max": float(rewards.max()), "critic/score/min": float(rewards.min()),
            "actor/entropy": ent, "response_length/mean": float(lengths.mean()), "response_length/max": float(lengths.max()),
            "response_length/clip_ratio": float(roll.truncated.float().mean()),
            "batch/solve_none": none, "batch/solve_all": every, "batch/no_signal": none + every,
            "batch/lucky": float(lucky), "batch/cot_correct": float(np.mean([v.cot_correct for v in verdicts])),
            "perf/throughput": tokens / dt, "perf/total_num_tokens": tokens,
            "timing_s/gen": t_gen, "timing_s/update_actor": dt - t_gen, "timing_s/step": dt,
            **upd,
        }
        samples = [{"prompt": p, "response": t, **v.to_dict()} for p, t, v in list(zip(prompts, texts, verdicts))[:: G][:keep_samples]]
        return metrics, samples
