"""The simulator's numbers on small fixed configs, recorded from the code before the split into policies,
scheduler and recorder (commit 40e1f78): a refactor or a speed-up must leave every one of them as it was.

Integer outputs (counts, chunk maps, events, request states, the memory-snapshot export) are compared by
SHA-256 of their bytes, exactly; float statistics to 1e-12 relative (they were equal to the last bit on the
machine that recorded them; the margin only absorbs a different BLAS/SIMD summation order elsewhere).
"""

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from engines.memory_pool import Config, run

BURST_ROWS = 120


def _burst_trace(path):
    rng = np.random.default_rng(7)
    t = np.sort(rng.uniform(0, 30, BURST_ROWS))
    inp = rng.integers(100, 20000, BURST_ROWS)
    out = rng.integers(0, 2000, BURST_ROWS)
    body = "\n".join(f"{float(a)!r},ChatGPT,{i},{o},{i + o},Conversation log" for a, i, o in zip(t, inp, out))
    path.write_text("Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\n" + body + "\n")
    return path


CASES = {
    "mix": dict(workload="long_context_mix", n_requests=12, rate_rps=0.2, n_frames=20, snapshot_max_entries=400),
    "offload": dict(workload="long_context", n_requests=6, ttft_slo_scale=6.0, n_frames=10, export_snapshot=False),
    "preempt": dict(
        workload="chat",
        gpu="A100-40G",
        n_requests=30,
        rate_rps=50.0,
        input_median=6000,
        output_median=3000,
        cpu_buffer_gib=0.0,
        n_frames=10,
        export_snapshot=False,
    ),
    "eager_costly_maps": dict(
        workload="long_context_mix",
        n_requests=10,
        rate_rps=0.3,
        deflate="eager",
        map_us=40.0,
        pcie_gbps=6.0,
        cpu_buffer_gib=16.0,
        gpu="H100-80G",
        n_frames=10,
        export_snapshot=False,
    ),
    "few_seqs": dict(
        workload="chat",
        n_requests=150,
        rate_rps=30.0,
        max_num_seqs=16,
        chunk_tokens=512,
        block_tokens=32,
        watermark=0.05,
        n_frames=10,
        export_snapshot=False,
    ),
    "burst_file": dict(trace="burst.csv", trace_format="burstgpt", n_frames=10, export_snapshot=False),
}

INT_STATS = (
    "max_batch",
    "max_admitted",
    "preemptions",
    "offloads",
    "reloads",
    "rejected",
    "chunk_maps",
    "chunk_unmaps",
    "lends",
    "iterations",
    "finished",
    "kv_capacity_tokens",
)
FLOAT_STATS = ("decode_tokens_per_s", "goodput_rps", "mean_batch", "pcie_gib", "ttft_p50_s", "ttft_p99_s", "tpot_p99_s", "makespan_s")


def _digest(*arrays) -> str:
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(str((a.dtype.str, a.shape)).encode())
        h.update(a.tobytes())
    return h.hexdigest()[:16]


def fingerprint(res) -> dict:
    out = {}
    for policy, r in res.runs.items():
        ev = r.events
        out[policy] = dict(
            ints={k: int(r.stats[k]) for k in INT_STATS},
            floats={k: float(r.stats[k]) for k in FLOAT_STATS},
            records=len(r.rec["t"]),
            sums={k: float(np.sum(r.rec[k])) for k in ("t", "dt", "kv_used", "runtime_idle", "cpu_kv")},
            ttft_sum=float(np.nansum(r.ttft_s)),
            tpot_sum=float(np.nansum(r.tpot_s)),
            maps=_digest(r.frames, r.cpu_frames),
            events=_digest(ev["kind"].astype(np.int64), ev["req"].astype(np.int64), ev["n"].astype(np.int64)),
            requests=_digest(r.status.astype(np.int64), r.preempted.astype(np.int64)),
            counts=_digest(*(r.rec[k].astype(np.int64) for k in ("n_iter", "batch", "admitted", "prefill_tokens", "decode_tokens"))),
        )
        if res.snapshots.get(policy):
            out[policy]["snapshot"] = hashlib.sha256(json.dumps(res.snapshots[policy], sort_keys=True).encode()).hexdigest()[:16]
    return out


def _config(name, tmp_path):
    kw = dict(CASES[name])
    if "trace" in kw:
        kw["trace"] = str(_burst_trace(tmp_path / kw["trace"]))
    return Config(**kw)


# written by fingerprint() from the code of commit 40e1f78
EXPECTED: dict = json.loads((Path(__file__).parent / "unchanged_expected.json").read_text())


@pytest.mark.parametrize("name", sorted(CASES))
def test_numbers_are_those_recorded_before_the_split(name, tmp_path):
    got = fingerprint(run(_config(name, tmp_path)))
    want = EXPECTED[name]
    assert got.keys() == want.keys()
    for policy in want:
        g, w = got[policy], want[policy]
        assert g["ints"] == w["ints"], policy
        for key in ("maps", "events", "requests", "counts", "records"):
            assert g[key] == w[key], (policy, key)
        assert g.get("snapshot") == w.get("snapshot"), policy
        for k, v in w["floats"].items():
            assert g["floats"][k] == pytest.approx(v, rel=1e-12, nan_ok=True), (policy, k)
        for k, v in w["sums"].items():
            assert g["sums"][k] == pytest.approx(v, rel=1e-12), (policy, k)
        assert g["ttft_sum"] == pytest.approx(w["ttft_sum"], rel=1e-12), policy
        assert g["tpot_sum"] == pytest.approx(w["tpot_sum"], rel=1e-12), policy
