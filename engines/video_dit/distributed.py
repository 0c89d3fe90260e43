"""Sequence parallelism for the video DiT: tokens sharded across processes (the paper's multi-GPU scale-out).

Each of W ranks holds a contiguous shard of the N tokens. In every block it computes queries, keys and values of its
own tokens, all-gathers the keys and values (``torch.distributed``; gloo on 127.0.0.1 for CPU processes), runs the
query-sparse attention of its queries against all keys (the same kernel ASTRAEA uses for selected tokens) and the
rest of the block on its shard only; the velocity tokens are all-gathered at the end. The result equals the
single-process forward (tests spawn two CPU processes).
"""

from __future__ import annotations

import os
import socket
import tempfile
from pathlib import Path

import torch
import torch.distributed as dist

from .attention import attention
from .model import VideoDiT


def shard_bounds(n: int, rank: int, world: int) -> tuple[int, int]:
    """[start, stop) of rank's tokens: contiguous shards differing by at most one token."""
    base, extra = divmod(n, world)
    start = rank * base + min(rank, extra)
    return start, start + base + (1 if rank < extra else 0)


def _gather_tokens(x: torch.Tensor, dim: int, sizes: list[int]) -> torch.Tensor:
    """All-gather shards of different lengths along ``dim`` (padded to the longest, then trimmed)."""
    longest = max(sizes)
    pad = list(x.shape)
    pad[dim] = longest - x.shape[dim]
    xp = torch.cat([x, x.new_zeros(pad)], dim=dim) if pad[dim] else x.contiguous()
    parts = [torch.empty_like(xp) for _ in sizes]
    dist.all_gather(parts, xp)
    return torch.cat([p.narrow(dim, 0, s) for p, s in zip(parts, sizes)], dim=dim)


@torch.inference_mode()
def sharded_forward(model: VideoDiT, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The model's velocity [B, F, H, W] computed with this rank's shard of tokens (every rank returns the whole)."""
    rank, world = dist.get_rank(), dist.get_world_size()
    n = model.n_tokens
    sizes = [shard_bounds(n, r, world)[1] - shard_bounds(n, r, world)[0] for r in range(world)]
    start, stop = shard_bounds(n, rank, world)
    c = model.condition(t, y)
    h = model.embed(model.patchify(x)[:, start:stop]) + model.pos[start:stop]
    for block in model.blocks:
        mod = block.modulation(c)
        q, k, v = block.qkv_heads(h, mod[0], mod[1])
        k_all = _gather_tokens(k.contiguous(), 2, sizes)
        v_all = _gather_tokens(v.contiguous(), 2, sizes)
        out, _ = attention(q.contiguous(), k_all, v_all)
        h = block.finish(h, out, mod)
    return model.unpatchify(_gather_tokens(model.head(h, c), 1, sizes))


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, port: int, payload: dict, out_dir: str) -> None:
    torch.set_num_threads(1)
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), GLOO_SOCKET_IFNAME=os.environ.get("GLOO_SOCKET_IFNAME", "lo"))
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    try:
        model = VideoDiT(**payload["model_kwargs"])
        model.load_state_dict(payload["state"])
        model.eval()
        v = sharded_forward(model, payload["x"], payload["t"], payload["y"])
        torch.save(v, Path(out_dir) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def run_sharded(model: VideoDiT, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor, world: int = 2) -> list[torch.Tensor]:
    """Spawn ``world`` CPU processes (gloo, loopback only), run :func:`sharded_forward`, return each rank's velocity."""
    import torch.multiprocessing as mp

    kwargs = {"frames": model.frames, "size": model.size, "patch": model.patch, "dim": model.dim, "depth": len(model.blocks),
              "heads": model.blocks[0].heads, "mlp_ratio": model.blocks[0].fc1.out_features / model.dim,
              "n_classes": model.y_embed.num_embeddings}
    payload = {"model_kwargs": kwargs, "state": model.state_dict(), "x": x, "t": t, "y": y}
    with tempfile.TemporaryDirectory() as tmp:
        mp.spawn(_worker, args=(world, _free_port(), payload, tmp), nprocs=world, join=True)
        return [torch.load(Path(tmp) / f"rank{r}.pt") for r in range(world)]
