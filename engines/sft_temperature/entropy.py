"""The temperature advisor: temperature-adjusted entropy H_T of a policy, and the T that meets a target.

For a response token with logits z over a vocabulary of V tokens, the sampling distribution at temperature T
is p_T = softmax(z / T), and its entropy in nats is computed as veRL's ``entropy_from_logits`` and TRL's
``entropy_from_logits`` do, in the logsumexp form (logits already divided by T):

    H(z / T) = logsumexp(z / T) − Σ_v p_T(v) · z_v / T          (= −Σ_v p_T(v) log p_T(v))

H_T of a policy = the mean of H over every response token of responses *sampled at T* (veRL's
``actor/entropy``: a token mean over the batch, padding masked). The advisor samples ``samples`` responses to
each prompt at every T of a grid, re-runs prompt + response through the model once (teacher forcing, as the
actor's ``compute_log_prob`` does) and averages H over the response tokens.

Choosing T: H_T rises with T (for fixed logits it is non-decreasing in T; sampled at T, the responses change
too, so a measured curve can wiggle). The advised T is where the measured curve first crosses the target,
by linear interpolation between the two grid points around the crossing:

    T* = T_i + (target − H_i) · (T_{i+1} − T_i) / (H_{i+1} − H_i)      with H_i ≤ target ≤ H_{i+1};

a target below the whole curve gives the lowest T of the grid, above it the highest (``where`` says which).

Vocabulary size: at a given T, entropy grows with the size of the vocabulary the mass spreads over. For V
i.i.d. Gaussian logits of spread σ, H_T → ln V − σ²/(2T²) as V grows (the random-energy-model high-temperature
phase, β = σ/T < √(2 ln V)); for Zipf logits z_k = −s ln k, p_T(k) ∝ k^(−s/T) and H_T grows like ln V while
s/T ≤ 1 and converges once s/T > 1. :func:`vocab_scaling` tabulates both (exact sums and the closed form), so the
target of a 7B model with a 152K vocabulary (the paper's 0.3 nats) is not carried to a 50-token toy as it is: the
engine keeps the paper's *fraction of the maximum entropy* ln V (0.3 / ln 152,064 = 2.5 %), which for the toy's
V = 50 is 0.098 nats (:func:`scaled_target`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

PAPER_TARGET = 0.3  # nats, the paper's temperature-adjusted entropy target (AceReason-Nemotron-1.1-7B)
PAPER_VOCAB = 152_064  # Qwen2.5-Math-7B's vocabulary (its embedding rows)


def token_entropy(logits, temperature: float = 1.0):
    """H of softmax(logits / T) along the last axis, in nats, in veRL's logsumexp form (torch tensor in and out)."""
    import torch

    z = logits.float() / (temperature if temperature > 0 else 1.0)
    p = torch.softmax(z, -1)
    return torch.logsumexp(z, -1) - (p * z).sum(-1)


def scaled_target(vocab: int, paper_target: float = PAPER_TARGET, paper_vocab: int = PAPER_VOCAB) -> float:
    """The paper's target as the same fraction of the maximum entropy ln V: ``paper_target · ln V / ln V_paper``."""
    return paper_target * math.log(vocab) / math.log(paper_vocab)


def entropy_of_probs(p: np.ndarray) -> float:
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


def zipf_entropy(vocab: int, exponent: float, temperature: float) -> float:
    """Exact H_T of Zipf logits z_k = −s ln k (k = 1..V): p_T(k) ∝ k^(−s/T)."""
    a = exponent / temperature
    logw = -a * np.log(np.arange(1, vocab + 1, dtype=float))
    logw -= logw.max()
    w = np.exp(logw)
    return entropy_of_probs(w / w.sum())


def gaussian_entropy(vocab: int, sigma: float, temperature: float, draws: int = 8, seed: int = 0) -> float:
    """H_T of V i.i.d. N(0, σ²) logits, averaged over ``draws`` draws (Monte Carlo, exact per draw)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(draws):
        z = rng.normal(0.0, sigma, vocab) / temperature
        z -= z.max()
        w = np.exp(z)
        out.append(entropy_of_probs(w / w.sum()))
    return float(np.mean(out))


def gaussian_entropy_limit(vocab: int, sigma: float, temperature: float) -> float:
    """Large-V closed form for Gaussian logits: ln V − β²/2 with β = σ/T (valid while β < √(2 ln V); then ≈ 0 gap)."""
    beta = sigma / temperature
    if beta < math.sqrt(2 * math.log(vocab)):
        return math.log(vocab) - beta**2 / 2
    return float("nan")  # the frozen (low-temperature) phase: a few tokens hold the mass


def vocab_scaling(vocabs=(50, 500, 5_000, 49_152, 152_064), temperatures=(0.6, 0.85, 1.0), sigma: float = 3.0,
                  zipf_exponent: float = 1.2) -> dict:
    """H_T against vocabulary size at several T, for Gaussian (measured and closed form) and Zipf logits.

    Returns ``{"vocab", "temperatures", "gaussian": [[H per V] per T], "gaussian_limit", "zipf", "max_entropy",
    "sigma", "zipf_exponent"}`` — JSON-safe lists.
    """
    vocabs, temps = [int(v) for v in vocabs], [float(t) for t in temperatures]
    g = [[gaussian_entropy(v, sigma, t, draws=4 if v > 20_000 else 8) for v in vocabs] for t in temps]
    lim = [[gaussian_entropy_limit(v, sigma, t) for v in vocabs] for t in temps]
    z = [[zipf_entropy(v, zipf_exponent, t) for v in vocabs] for t in temps]
    return {"vocab": vocabs, "temperatures": temps, "gaussian": g, "gaussian_limit": lim, "zipf": z,
            "max_entropy": [math.log(v) for v in vocabs], "sigma": sigma, "zipf_exponent": zipf_exponent}


# ---- measuring H_T of a policy ----------------------------------------------------------------------------------
@dataclass
class EntropyCurve:
    """H_T measured at each T of a grid: the token mean, its standard error over responses, tokens counted."""

    temperatures: np.ndarray
    entropy: np.ndarray  # nats, token mean over all response tokens at T
    entropy_se: np.ndarray  # std over responses of each response's token mean / √N
    tokens: np.ndarray
    responses: int
    vocab: int

    def to_dict(self) -> dict:
        return {"temperatures": self.temperatures.tolist(), "entropy": self.entropy.tolist(), "entropy_se": self.entropy_se.tolist(),
                "tokens": self.tokens.tolist(), "responses": self.responses, "vocab": self.vocab}


def response_entropy(model, prompt_ids, prompt_mask, tokens, mask, temperature: float):
    """Per-token H of softmax(logits / T) over the response tokens, by one teacher-forced forward of prompt + response.

    ``prompt_ids``/``prompt_mask`` are left-padded (B, P), ``tokens``/``mask`` the responses (B, L); returns (B, L)
    (zero where ``mask`` is 0).
    """
    import torch

    from engines.reasoning.sampling import positions

    seq = torch.cat([prompt_ids, tokens], 1)
    full = torch.cat([prompt_mask, mask.long()], 1)
    n = tokens.shape[1]
    with torch.no_grad():
        logits = model(input_ids=seq, attention_mask=full, position_ids=positions(full), use_cache=False,
                       logits_to_keep=n + 1).logits[:, :-1]
    return token_entropy(logits, temperature) * mask.float()


def measure_entropy(model, tokenizer, prompts: list[str], temperatures, samples: int = 4, max_new_tokens: int = 32,
                    seed: int = 0, top_p: float = 1.0, rows_per_batch: int = 256, chat: bool = False) -> EntropyCurve:
    """H_T of ``model`` at each T: ``samples`` responses per prompt sampled at T, then the token-mean entropy at T.

    Works on any Hugging Face causal LM with its tokenizer; ``chat`` wraps each prompt in the tokenizer's chat
    template (an instruct model's own format).
    """
    import torch

    from engines.reasoning.sampling import sample

    device = next(model.parameters()).device
    if chat and getattr(tokenizer, "chat_template", None):
        ids = [tokenizer.apply_chat_template([{"role": "user", "content": p}], add_generation_prompt=True, tokenize=True)
               for p in prompts]
        ids = [list(x["input_ids"]) if isinstance(x, dict) or hasattr(x, "keys") else list(x) for x in ids]
    else:
        ids = tokenizer(prompts).input_ids
    rows = [p for p in ids for _ in range(samples)]
    eos = tokenizer.eos_token_id
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos
    temps = np.asarray(temperatures, dtype=float)
    mean, se, count = [], [], []
    for i, t in enumerate(temps):
        gen = torch.Generator(device=device).manual_seed(seed + 1009 * i)
        ent_sum = tok_sum = 0.0
        per_response: list[float] = []
        for lo in range(0, len(rows), rows_per_batch):
            roll = sample(model, rows[lo: lo + rows_per_batch], max_new_tokens, eos, pad, float(t), top_p, gen)
            h = response_entropy(model, roll.prompt_ids, roll.prompt_mask, roll.tokens, roll.mask, float(t))
            n = roll.mask.sum(1)
            ent_sum += float(h.sum())
            tok_sum += float(n.sum())
            per_response += (h.sum(1)[n > 0] / n[n > 0]).tolist()
        mean.append(ent_sum / max(tok_sum, 1.0))
        v = np.array(per_response)
        se.append(float(v.std(ddof=1) / math.sqrt(len(v))) if len(v) > 1 else float("nan"))
        count.append(int(tok_sum))
    vocab = int(model.get_output_embeddings().weight.shape[0]) if model.get_output_embeddings() is not None else len(tokenizer)
    return EntropyCurve(temps, np.array(mean), np.array(se), np.array(count), len(rows), vocab)


def advise(temperatures, entropy, target: float) -> dict:
    """The T where the measured H_T curve first crosses ``target`` (linear interpolation; clamped to the grid).

    Returns ``{"temperature", "target", "where"}`` with ``where`` one of ``"interpolated"``, ``"exact"``,
    ``"below grid"`` (the target is under every H_T: the lowest T), ``"above grid"`` (over every H_T: the highest T).
    """
    t = np.asarray(temperatures, dtype=float)
    h = np.asarray(entropy, dtype=float)
    order = np.argsort(t)
    t, h = t[order], h[order]
    if len(t) == 0:
        raise ValueError("temperatures: an empty grid (allowed: one or more temperatures)")
    for i in range(len(t)):
        if h[i] == target:
            return {"temperature": float(t[i]), "target": float(target), "where": "exact"}
        if i + 1 < len(t) and (h[i] - target) * (h[i + 1] - target) < 0:
            tt = t[i] + (target - h[i]) * (t[i + 1] - t[i]) / (h[i + 1] - h[i])
            return {"temperature": float(tt), "target": float(target), "where": "interpolated"}
    if target < h.min():
        return {"temperature": float(t[0]), "target": float(target), "where": "below grid"}
    return {"temperature": float(t[-1]), "target": float(target), "where": "above grid"}
