"""What a job may cost: jobs a 2-core, 24 GB machine cannot finish in minutes are refused before any work, naming the field."""

from __future__ import annotations

import json

import pytest

from engines.memory_pool import Config, budget, make_params, run


def _mooncake(path, rows):
    path.write_text("".join(json.dumps(dict(timestamp=t, input_length=i, output_length=o)) + "\n" for t, i, o in rows))
    return str(path)


@pytest.mark.parametrize(
    "changes, field",
    [
        (dict(n_requests=50_001), "n_requests"),  # the field's own range
        (dict(n_requests=50_000), "n_requests"),  # the default long-context mix: ~560,000 prefill chunks a policy
        (dict(workload="long_context", n_requests=20_000), "n_requests"),
        (dict(n_frames=2000, gpu_memory_gib=1024.0), "n_frames"),  # 6 GiB of chunk-map frames
        (dict(cpu_buffer_gib=4096.0, n_frames=2000), "n_frames"),
        (dict(workload="long_context", long_input_tokens=1_048_576), "long_input_tokens"),  # no GPU here holds 1M tokens
        (dict(snapshot_max_entries=10**7), "snapshot_max_entries"),
        (dict(trace_rate_rps=1e-9), "trace_rate_rps"),
        (dict(rate_rps=1e-300), "rate_rps"),
        (dict(seed=2**31), "seed"),
    ],
)
def test_oversized_jobs_are_refused_naming_the_field(changes, field):
    with pytest.raises(ValueError, match=f"^{field}: ") as err:
        Config(**changes)
    assert "allowed" in str(err.value) and "\n" not in str(err.value)


def test_a_request_that_no_gpu_holds_is_refused_with_its_line_and_one_at_the_limit_finishes(tmp_path):
    cfg = Config(export_snapshot=False, policy="elastic")
    cap = budget.request_capacity_tokens(make_params(cfg))
    hostile = _mooncake(tmp_path / "huge.jsonl", [(0, 100, 50), (10, 100, 10**7)])
    with pytest.raises(ValueError, match=r"^trace: .*huge.jsonl:2: a request of 10,000,100 tokens .* does not fit the GPU alone"):
        Config(trace=hostile)
    with pytest.raises(ValueError, match=r"huge.jsonl:1: a request"):
        cfg.replace(trace=_mooncake(tmp_path / "huge.jsonl", [(0, 100, cap - 99)]))
    # exactly at the bound: every policy finishes it (elastic once ran for ever on a request that outgrew the GPU)
    res = run(Config(trace=_mooncake(tmp_path / "edge.jsonl", [(0, 100, cap - 100), (1, 50, 20)]), export_snapshot=False))
    assert all(r.stats["finished"] >= 1 for r in res.runs.values()) and res.runs["elastic"].stats["finished"] == 2


def test_a_trace_file_longer_than_a_run_may_be_needs_trace_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(budget, "MAX_REQUESTS", 5)
    path = _mooncake(tmp_path / "long.jsonl", [(i * 1000, 100, 10) for i in range(8)])
    with pytest.raises(ValueError, match="^trace_limit: 8 requests is more than a run may simulate"):
        Config(trace=path)
    assert Config(trace=path, trace_limit=5).trace_limit == 5


def test_the_snapshot_export_keeps_only_its_last_entries_while_running():
    res = run(Config(workload="long_context", n_requests=6, snapshot_max_entries=50, n_frames=4))
    entries = res.snapshots["elastic"]["device_traces"][0]
    assert len(entries) == 50
    assert all(r.oplog == [] for r in res.runs.values())  # the operation log was turned into entries as the run went
    full = run(Config(workload="long_context", n_requests=6, snapshot_max_entries=10**6, n_frames=4)).snapshots["elastic"]
    assert entries == full["device_traces"][0][-50:] and res.snapshots["elastic"]["segments"] == full["segments"]
