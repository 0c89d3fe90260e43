"""Bench: our GRPO step against TRL's ``GRPOTrainer`` on the same model, prompts, G and lengths, one thread, interleaved.

Both trainers start from copies of one policy (the recorded SFT checkpoint when present, else a fresh Llama of
the default size) and do the same work per step: sample G responses for each of P prompts (temperature 1,
no top-k/top-p), reward them with the same verifier, one on-policy update with token-level ("dapo") loss, no
KL, group-scaled advantages, truncated responses masked. TRL runs its own loop (``trainer.train()``); a
callback times each of its steps (``on_step_begin`` → ``on_step_end``) and then runs one of ours, so the
two alternate step by step and a change of machine load hits both. Tokens/s = (prompt + response tokens
of the batch) / step time — TRL's ``num_tokens`` and our ``perf/total_num_tokens`` count the same thing.
The first step of each is a warm-up and is not counted.
"""

from __future__ import annotations

import copy
import tempfile
import time
import warnings

import numpy as np

from engines.base import Snapshot

TARGET = 1.5


def _policy(quick: bool, device):
    from engines.reasoning.model import ModelShape, tiny_llama
    from engines.reasoning.tokenizer import char_tokenizer

    from .config import Config
    from .engine import RECORDED

    sft = RECORDED / "checkpoints" / "seed0" / "sft"
    if not quick and (sft / "config.json").exists():
        from engines.reasoning.model import load_policy

        model, tok = load_policy(sft, device)
        return model, tok, str(sft)
    tok = char_tokenizer()
    c = Config()
    shape = ModelShape(32, 2, 2, 64, 128) if quick else ModelShape(c.hidden_size, c.layers, c.heads, c.intermediate_size, 128)
    return tiny_llama(tok, shape, 0).to(device).eval(), tok, "random init"


def bench(quick: bool = False, device: str = "auto", progress=None) -> dict:
    import torch
    from datasets import Dataset
    from transformers import PrinterCallback, TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    from engines.device import cpu_threads, resolve
    from engines.reasoning.grpo import GRPO, GRPOSettings
    from engines.reasoning.model import parameter_count
    from engines.reasoning.tasks import make_tasks
    from engines.reasoning.verifier import verify

    dev = resolve(device)
    P, G, L, steps = (4, 4, 12, 3) if quick else (32, 8, 32, 8)
    with cpu_threads(1, dev):
        base, tok, source = _policy(quick, dev)
        tasks = make_tasks("math", P * (steps + 1), (2, 3), seed=0, unique=True)
        ours = GRPO(copy.deepcopy(base), tok, GRPOSettings(P, G, lr=1e-4, temperature=1.0, overlong_filter=True), seed=0)
        mine: list[dict] = []

        def reward(prompts, completions, **_):
            return [verify(p, c).reward for p, c in zip(prompts, completions)]

        class Interleave(TrainerCallback):
            def __init__(self):
                self.t0, self.times = 0.0, []

            def on_step_begin(self, args, state, control, **kw):
                self.t0 = time.perf_counter()

            def on_step_end(self, args, state, control, **kw):
                self.times.append(time.perf_counter() - self.t0)
                i = len(self.times) - 1
                metrics, _ = ours.step(tasks[i * P:(i + 1) * P], L)
                mine.append(metrics)
                if progress:
                    progress(Snapshot(len(self.times) / (steps + 1), f"step {len(self.times)}/{steps + 1} (TRL, then ours)"))

        with tempfile.TemporaryDirectory() as tmp:
            args = GRPOConfig(
                output_dir=tmp, per_device_train_batch_size=P * G, num_generations=G, max_completion_length=L, learning_rate=1e-4,
                lr_scheduler_type="constant", beta=0.0, num_iterations=1, epsilon=0.2, loss_type="dapo", scale_rewards="group",
                mask_truncated_completions=True, temperature=1.0, top_p=1.0, top_k=0, max_steps=steps + 1, logging_steps=1,
                report_to="none", save_strategy="no", use_cpu=dev.type == "cpu", seed=0, disable_tqdm=True, shuffle_dataset=False,
                max_grad_norm=1.0, dataloader_num_workers=0, bf16=False, fp16=False, log_completions=False,
            )
            timer = Interleave()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)
                trainer = GRPOTrainer(model=copy.deepcopy(base), reward_funcs=reward, args=args, processing_class=tok,
                                      train_dataset=Dataset.from_dict({"prompt": [t.prompt for t in tasks]}), callbacks=[timer])
                trainer.remove_callback(PrinterCallback)  # its per-step print would go to stdout, where the report goes
                trainer.train()
            history = [h for h in trainer.state.log_history if "num_tokens" in h]
        seen = [0.0] + [float(h["num_tokens"]) for h in history]
        trl_tokens = np.diff(seen)[1:]
        trl_time = np.array(timer.times[1:])
        our_tokens = np.array([m["perf/total_num_tokens"] for m in mine[1:]])
        our_time = np.array([m["timing_s/step"] for m in mine[1:]])
        trl_tps, our_tps = float(trl_tokens.sum() / trl_time.sum()), float(our_tokens.sum() / our_time.sum())
        if progress:
            progress(Snapshot(1.0, "done"))
        return {
            "what": "GRPO step (rollout + update) tokens/s: ours vs TRL GRPOTrainer, same model/prompts/G/lengths, 1 thread, interleaved",
            "ours": {"tokens_per_s": our_tps, "step_s_median": float(np.median(our_time)), "tokens_per_step": float(our_tokens.mean()),
                     "gen_s_median": float(np.median([m["timing_s/gen"] for m in mine[1:]])),
                     "update_s_median": float(np.median([m["timing_s/update_actor"] for m in mine[1:]]))},
            "trl": {"tokens_per_s": trl_tps, "step_s_median": float(np.median(trl_time)), "tokens_per_step": float(trl_tokens.mean())},
            "ratio": our_tps / trl_tps, "target": TARGET, "meets_target": bool(our_tps / trl_tps >= TARGET),
            "prompts": P, "group_size": G, "max_new_tokens": L, "steps_timed": steps, "model": source,
            "parameters": parameter_count(base), "device": str(dev), "quick": quick, "torch_threads": torch.get_num_threads(),
        }
