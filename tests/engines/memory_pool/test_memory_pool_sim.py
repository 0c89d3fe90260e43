"""The serving simulator: the acceptance scenario, conservation laws, honest-modelling rules, exports."""

import json

import numpy as np
import pytest

from engines.memory_pool import Config, run
from engines.memory_pool import traces as T
from engines.memory_pool.engine import make_params
from engines.memory_pool.simulator import CATEGORIES, EVENT_KINDS, POLICIES, Simulator
from engines.memory_pool.snapshot import load_snapshot, validate_snapshot

KEYS = (
    "decode_tokens_per_s",
    "goodput_rps",
    "max_batch",
    "max_admitted",
    "preemptions",
    "offloads",
    "ttft_p50_s",
    "ttft_p99_s",
    "tpot_p50_s",
    "tpot_p99_s",
)


def _sim(policy, cfg, trace):
    sim = Simulator(policy, make_params(cfg, log_ops=True), trace)
    for _ in sim.run():
        pass
    return sim, sim.result()


@pytest.fixture(scope="module")
def long_context():
    # the acceptance command as stated: `run memory_pool --set workload=long_context` (40 requests)
    return run(Config(workload="long_context", export_snapshot=False))


def test_long_context_acceptance(long_context):
    s = long_context.summary()
    for p in POLICIES:
        assert set(KEYS) <= set(s["policies"][p])
        assert s["policies"][p]["decode_tokens_per_s"] > 0
    pol = s["policies"]
    # memory arithmetic: 3 vs 2 concurrent 128K requests
    assert pol["static_unchunked"]["max_batch"] == 2
    assert pol["elastic"]["max_batch"] >= 1.5 * pol["static_unchunked"]["max_batch"]
    r = s["ratios"]
    # decode at 128K is bound by reading KV: more batch buys only a few per cent
    assert 1.0 < r["elastic_vs_static_unchunked"]["decode_throughput"] < 1.25
    assert r["elastic_vs_static_chunked"]["decode_throughput"] >= 0.97
    json.dumps(s)  # JSON-safe


def test_every_output_token_is_emitted_once_and_memory_adds_up(long_context):
    res = long_context
    for p, run_ in res.runs.items():
        assert run_.stats["finished"] == len(res.output_tokens)
        assert run_.rec["decode_tokens"].sum() == res.output_tokens.sum()
        assert run_.rec["n_iter"].sum() == run_.stats["iterations"]
        total = sum(run_.rec[k] for k in CATEGORIES)
        cap = res.memory["cap_gib"] * 2**30
        # elastic accounts whole 2 MiB chunks below the cap; static accounts bytes up to it
        assert np.all(total <= cap + 1) and np.all(total >= cap - 2 * 2**20), p
        # makespan counts every second: the sum of step durations is the whole run
        assert run_.rec["dt"].sum() <= run_.stats["makespan_s"] + 1e-6
        assert run_.stats["decode_tokens_per_s"] == pytest.approx(res.output_tokens.sum() / run_.stats["makespan_s"])


def test_static_reserve_sits_idle_during_decode_while_elastic_lends_it(long_context):
    st = long_context.runs["static_unchunked"].rec
    decode_only = st["prefill_tokens"] == 0
    assert np.all(st["runtime_idle"][decode_only] > 10 * 2**30)  # ~12 GiB reserved for a 128K prefill, idle
    el = long_context.runs["elastic"]
    assert el.stats["lends"] > 0 and el.stats["chunk_maps"] > 0
    assert el.rec["kv_used"].max() > st["kv_used"].max() + 10 * 2**30


def test_when_memory_is_plentiful_elastic_equals_static():
    cfg = Config(workload="chat", n_requests=300, rate_rps=4.0, export_snapshot=False)
    res = run(cfg)
    a, b = res.runs["elastic"].stats, res.runs["static_unchunked"].stats
    assert a["decode_tokens_per_s"] == pytest.approx(b["decode_tokens_per_s"], rel=0.005)
    assert a["max_batch"] == b["max_batch"] and a["preemptions"] == b["preemptions"] == 0


@pytest.mark.skipif(not T.azure_trace_path().exists(), reason="../shared/data is absent")
def test_real_azure_trace_no_free_lunch():
    """First 1,500 requests of the Azure conversation trace at its real rate, batch cap 256."""
    res = run(Config(workload="azure", trace_limit=1500, max_num_seqs=256, export_snapshot=False))
    e, s = res.runs["elastic"].stats, res.runs["static_unchunked"].stats
    assert e["decode_tokens_per_s"] == pytest.approx(s["decode_tokens_per_s"], rel=0.02)
    assert e["ttft_p50_s"] == pytest.approx(s["ttft_p50_s"], rel=0.02)
    assert e["ttft_p99_s"] == pytest.approx(s["ttft_p99_s"], rel=0.02)


def test_preemption_recomputes_and_still_finishes_everything():
    # a 40 GB GPU, long outputs: decoders outgrow the KV pool and the newest is preempted
    cfg = Config(
        workload="chat",
        gpu="A100-40G",
        n_requests=60,
        rate_rps=50.0,
        input_median=6000,
        output_median=3000,
        cpu_buffer_gib=0.0,
        export_snapshot=False,
    )
    res = run(cfg)
    st = res.runs["static_chunked"]
    assert st.stats["preemptions"] > 0
    for r in res.runs.values():
        done = r.status == 3
        assert r.rec["decode_tokens"].sum() == res.output_tokens[done].sum()
        assert r.stats["offloads"] == 0  # no CPU buffer, no offloads


def test_offloaded_requests_do_not_decode_and_come_back():
    cfg = Config(workload="long_context", n_requests=6, ttft_slo_scale=6.0, export_snapshot=False)
    sim, res = _sim("elastic", cfg, T.long_context(0, 6))
    assert res.stats["offloads"] > 0
    assert res.stats["reloads"] == res.stats["offloads"]
    assert res.stats["finished"] == 6
    assert np.all(res.rec["batch"] <= res.rec["admitted"])
    assert res.rec["cpu_kv"].max() > 0 and res.rec["cpu_kv"][-1] == 0
    # PCIe bytes: every offloaded page goes out and comes back
    kinds = res.events["kind"]
    out_pages = res.events["n"][kinds == EVENT_KINDS.index("offload")].sum()
    back_pages = res.events["n"][kinds == EVENT_KINDS.index("reload")].sum()
    assert out_pages == back_pages
    assert res.stats["pcie_gib"] == pytest.approx(2 * out_pages * 2 / 1024)
    # while offloaded, a request's tokens do not advance: its TPOT is stretched by the pause
    assert np.nanmax(res.tpot_s) > np.nanmin(res.tpot_s)
    sim.check()


def test_snapshot_export_loads_back_with_the_documented_shape(tmp_path):
    cfg = Config(workload="long_context_mix", n_requests=4, rate_rps=0.2, snapshot_max_entries=10**6)
    res = run(cfg)
    out = res.save(tmp_path)
    assert json.loads((out / "result.json").read_text())["policies"]["elastic"]["max_batch"] >= 1
    for p in POLICIES:
        snap = load_snapshot(out / f"memory_snapshot_{p}.pickle")
        assert snap == res.snapshots[p]
    el = res.snapshots["elastic"]
    entries = el["device_traces"][0]
    actions = {e["action"] for e in entries}
    assert {"segment_map", "alloc", "free_completed"} <= actions
    # mapped bytes now = Σ segment_map − Σ segment_unmap over the whole (untruncated) trace
    mapped = sum(e["size"] for e in entries if e["action"] == "segment_map") - sum(
        e["size"] for e in entries if e["action"] == "segment_unmap"
    )
    assert mapped == sum(seg["total_size"] for seg in el["segments"])
    # at the end no request holds KV: every KV block is inactive
    assert all(b["state"] == "inactive" for seg in el["segments"][2:] for b in seg["blocks"])
    st = res.snapshots["static_unchunked"]
    assert [e["action"] for e in st["device_traces"][0]].count("segment_alloc") == 4
    with pytest.raises(ValueError):
        validate_snapshot({"segments": [{"address": 0}], "device_traces": [[]]})
    with pytest.raises(ValueError, match="time_us"):
        validate_snapshot({"segments": [], "device_traces": [[{"action": "alloc", "addr": 0, "size": 1}]]})
    # PyTorch's own reader of memory snapshots (the code behind its memory viewer) takes every export
    from torch.cuda import _memory_viz

    for p in POLICIES:
        snap = res.snapshots[p]
        summary = _memory_viz.segsum(snap)  # it asserts that each segment's blocks account for its size
        reserved = _memory_viz.Bytes(sum(seg["total_size"] for seg in snap["segments"]))
        assert f"segments: {len(snap['segments'])}\ntotal_reserved: {reserved}\n" in summary
        assert len(_memory_viz.trace(snap).splitlines()) >= len(snap["device_traces"][0])


def test_bad_configs_say_which_field():
    with pytest.raises(ValueError, match="^gpu_memory_utilization:"):
        Config(gpu_memory_utilization=1.5)
    with pytest.raises(ValueError, match="^chunk_tokens:"):
        Config(chunk_tokens=64, max_num_seqs=256)
    with pytest.raises(ValueError, match="^model:"):
        Config(model="GPT-5")
    with pytest.raises(ValueError, match="^trace:"):
        Config(trace="/nonexistent/trace.csv")


def test_same_config_same_numbers():
    cfg = Config(n_requests=6, export_snapshot=False)
    a, b = run(cfg).summary(), run(cfg).summary()
    assert a == b


def test_sensitivity_map_shows_where_elastic_pays_and_where_it_buys_nothing():
    from engines.memory_pool.sensitivity import sweep

    cfg = Config()
    maps = list(sweep(lambda m, g: make_params(cfg, m, g), ("Llama-3.1-8B",), 0, 40, memory_gb=(40.0, 141.0), input_tokens=(8192, 131072)))
    # one fresh map per cell, each with the cells done so far; the last one complete
    assert [f for f, _ in maps] == [0.25, 0.5, 0.75, 1.0]
    assert [int(m["computed"].sum()) for _, m in maps] == [1, 2, 3, 4]
    assert np.isnan(maps[0][1]["tps_elastic"][0, 1, 1]) and maps[0][1] is not maps[1][1]
    out = maps[-1][1]
    tps, batch = out["tps_ratio_vs_static_unchunked"][0], out["batch_ratio_vs_static_unchunked"][0]
    # 40 GB, 128K: weights 15 GiB + a 12 GiB reserve leave static less KV than one request holds
    assert out["batch_static_unchunked"][0, 0, 1] == 0 and tps[0, 1] == np.inf
    assert out["batch_elastic"][0, 0, 1] >= 1
    # 141 GB, 8K: the reserve is small beside the pool; elastic buys (almost) nothing
    assert tps[1, 0] == pytest.approx(1.0, abs=0.03)
    assert batch[1, 0] == pytest.approx(1.0, abs=0.05)


def test_page_tallies_match_the_pool_in_mid_run():
    cfg = Config(workload="long_context_mix", n_requests=12, rate_rps=0.5, export_snapshot=False)
    from engines.memory_pool.engine import make_trace

    for policy in POLICIES:
        sim = Simulator(policy, make_params(cfg), make_trace(cfg))
        for _ in sim.run():
            pass
        sim.check()
        # stop half way through a fresh run and check the tallies while requests hold KV
        sim = Simulator(policy, make_params(cfg), make_trace(cfg))
        s = sim.scheduler
        while s.next_arrival < 6 or not s.running:
            s.now = max(s.now, float(s.arrival[s.next_arrival])) if s.next_arrival < len(s.arrival) else s.now
            s.arrive()
            s.step()
        assert sim.memory.held.sum() > 0
        sim.check()


def test_fast_forward_equals_stepping_one_iteration_at_a_time():
    """The module's claim: decode-only stretches advanced at once give the numbers single steps give."""
    cfg = Config(workload="long_context_mix", n_requests=12, rate_rps=0.2, export_snapshot=False, n_frames=2)
    from engines.memory_pool.engine import make_trace

    for policy in POLICIES:
        runs = []
        for fast in (True, False):
            sim = Simulator(policy, make_params(cfg), make_trace(cfg), fast_forward=fast)
            for _ in sim.run():
                pass
            runs.append(sim.result())
        ff, single = runs
        assert ff.stats["iterations"] == single.stats["iterations"]
        assert len(ff.rec["t"]) < len(single.rec["t"]) / 10, policy  # the stretches really were fast-forwarded
        if policy == "elastic":
            assert single.stats["chunk_maps"] > 0  # and chunk maps were paid inside them
        for key in ("decode_tokens_per_s", "makespan_s", "chunk_maps", "chunk_unmaps", "lends", "preemptions", "offloads"):
            assert ff.stats[key] == pytest.approx(single.stats[key], rel=1e-12), (policy, key)
        np.testing.assert_allclose(ff.ttft_s, single.ttft_s, rtol=1e-12)
        np.testing.assert_allclose(ff.tpot_s, single.tpot_s, rtol=1e-12)


def test_a_model_that_does_not_fit_is_a_clear_error():
    with pytest.raises(ValueError, match="^gpu: Llama-3.1-70B-TP4 needs"):
        run(Config(model="Llama-3.1-70B-TP4", gpu_memory_gib=36.0, n_requests=2))


def test_stream_yields_fresh_results_and_names_what_changed():
    from engines.memory_pool import stream

    cfg = Config(workload="long_context", n_requests=3, sensitivity="model", n_frames=10, export_snapshot=False)
    snaps = [s for s in stream(cfg) if s.result is not None]
    first, middle, last = snaps[0], snaps[1:-1], snaps[-1]
    assert first.changed == frozenset() and first.result.sensitivity is None
    assert middle and all(s.changed == {"sensitivity"} and s.result.runs is first.result.runs for s in middle)
    done = [int(s.result.sensitivity["computed"].sum()) for s in middle]
    assert done == sorted(done) and len({id(s.result) for s in snaps}) == len(snaps)  # a fresh Result every time
    assert last.progress == 1.0 and last.changed == frozenset() and last.result.sensitivity["computed"].all()


def test_what_the_views_read_agrees_with_the_runs(long_context):
    res = long_context
    for p, r in res.runs.items():
        t, tops = res.memory_stack(p)
        total = sum(r.rec[k] for k in CATEGORIES) / 2**30
        np.testing.assert_allclose(tops[CATEGORIES[-1]][1:], total)  # the top of the stack is every category together
        assert len(t) == len(r.rec["t"]) + 1 and t[0] == 0.0
        counted = sum(sum(res.frame_info(p, i)["events"].values()) for i in range(len(r.frames)))
        assert counted == len(r.events["t"])  # each event once, in the first frame at or after it
        assert 0 <= res.busiest_frame(p) < len(r.frames)
    assert len(res.event_times("elastic", "lend", max_points=5)) <= 5
    assert len(res.event_times("elastic", "lend")) == res.runs["elastic"].events["kind"].tolist().count(EVENT_KINDS.index("lend"))
    head = res.headline()
    assert head["batch_x"].value == pytest.approx(res.ratios()["elastic_vs_static_unchunked"]["max_batch"])
    assert set(res.summary()["paper"]) == {"decode_throughput_x", "batch_x", "input_tokens"}


@pytest.mark.parametrize("policy", POLICIES)
def test_every_invariant_holds_after_every_step(policy):
    """The memory policy's, the scheduler's and the recorder's invariants, checked after each step of runs that
    offload, reload, lend, preempt and chunk (small traces: the checks walk every request each step)."""
    cases = (
        (Config(workload="long_context", n_requests=6, ttft_slo_scale=6.0, export_snapshot=False), T.long_context(0, 6)),
        (
            Config(workload="chat", gpu="A100-40G", n_requests=12, rate_rps=50.0, input_median=6000, output_median=3000),
            None,
        ),
    )
    from engines.memory_pool.engine import make_trace

    seen = set()
    for cfg, trace in cases:
        sim = Simulator(policy, make_params(cfg), trace if trace is not None else make_trace(cfg), check_each_step=True)
        for _ in sim.run():
            pass
        sim.check()
        s = sim.result().stats
        seen |= {k for k in ("offloads", "reloads", "lends", "preemptions") if s[k]}
    want = {"offloads", "reloads", "lends", "preemptions"} if policy == "elastic" else set()
    assert want <= seen, seen
