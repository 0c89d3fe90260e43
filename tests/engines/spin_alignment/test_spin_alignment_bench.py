"""The bench runs method and baseline on the same events, and both compute the same survival probabilities."""

from engines.spin_alignment import bench


def test_quick_bench_compares_torch_with_the_numpy_loop():
    seen = []
    report = bench(quick=True, device="cpu", progress=seen.append)
    same = report["same_events"]
    assert same["resonances"] > 0 and same["torch_per_s"] > 0 and same["numpy_loop_per_s"] > 0
    assert same["max_survival_difference"] < 1e-4  # float32 torch versus float64 numpy on the same paths
    assert report["full_chain"]["resonances"] == 30_000
    assert seen and seen[-1].progress == 1.0
