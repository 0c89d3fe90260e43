"""The job runner keeps engine work off the GUI thread: throttled snapshots, Stop, errors as messages."""

from __future__ import annotations

import time

import numpy as np
from PySide6.QtCore import QElapsedTimer, QTimer

from app.jobs import JobRunner, stop_every_job
from engines.base import Snapshot


def _counting_stream(n: int):
    for i in range(n):
        yield Snapshot((i + 1) / n, f"step {i}", i)


def test_final_snapshot_always_arrives_and_updates_are_throttled(qtbot):
    runner = JobRunner()
    seen = []
    job = runner.start("count", lambda: _counting_stream(200_000))
    job.snapshot.connect(lambda s: seen.append(s.result))
    with qtbot.waitSignal(job.finished, timeout=30_000) as blocker:
        pass
    assert blocker.args == [199_999] and job.result == 199_999 and seen[-1] == 199_999
    # 200k yields in well under 10 s would be ~100k/s; the GUI sees at most ~30 a second.
    assert len(seen) < 400
    qtbot.waitUntil(lambda: not runner._mine, timeout=5000)


def _steady():
    for i in range(60):
        time.sleep(0.034)
        yield Snapshot((i + 1) / 60, f"step {i}", i)


def test_a_slow_gui_draws_the_newest_snapshot_instead_of_falling_behind(qtbot):
    runner = JobRunner()
    drawn = []
    job = runner.start("steady", _steady)
    job.snapshot.connect(lambda s: (drawn.append(s.result), time.sleep(0.2)))  # a panel that takes 200 ms to draw
    with qtbot.waitSignal(job.finished, timeout=30_000):
        pass
    assert drawn[-1] == 59 and drawn == sorted(drawn)
    assert len(drawn) < 30, f"{len(drawn)} of 60 snapshots drawn at 5 per second: the GUI fell behind the worker"


def _endless():
    i = 0
    while True:
        i += 1
        np.linalg.svd(np.random.default_rng(i).standard_normal((60, 60)))
        yield Snapshot(0.5, "working", i)


def test_stop_cancels_within_a_second(qtbot):
    runner = JobRunner()
    job = runner.start("endless", _endless)
    with qtbot.waitSignal(job.snapshot, timeout=5000):
        pass
    t0 = time.monotonic()
    with qtbot.waitSignal(job.stopped, timeout=1000):
        job.stop()
    assert time.monotonic() - t0 < 1.0
    assert job.wait(1000) and not job.is_running()


def _failing():
    yield Snapshot(0.1, "about to fail", None)
    raise ZeroDivisionError("the engine divided by zero")


def test_an_engine_exception_becomes_a_message_with_traceback(qtbot):
    runner = JobRunner()
    job = runner.start("failing", _failing)
    with qtbot.waitSignal(job.failed, timeout=5000) as blocker:
        pass
    message, tb = blocker.args
    assert message == "ZeroDivisionError: the engine divided by zero"
    assert "Traceback" in tb and "_failing" in tb
    assert not job.is_running()


def _truncated():
    yield Snapshot(0.3, "started", None)


def test_a_stream_that_ends_without_its_final_snapshot_fails_instead_of_running_forever(qtbot):
    runner = JobRunner()
    job = runner.start("truncated", _truncated)
    with qtbot.waitSignal(job.failed, timeout=5000) as blocker:
        pass
    assert blocker.args[0] == "RuntimeError: engine stream ended without a final snapshot (progress 1.0)"
    assert not job.is_running()


def _one_long_step():
    yield Snapshot(0.1, "started", None)
    time.sleep(1.5)
    yield Snapshot(1.0, "done", None)


def test_stop_every_job_says_whether_every_thread_ended(qtbot):
    job = JobRunner().start("long step", _one_long_step)
    with qtbot.waitSignal(job.snapshot, timeout=5000):
        pass
    assert stop_every_job(100) is False, "the thread is inside the engine's step"
    assert stop_every_job(5000) is True and job.wait(0)


def _heavy():
    """Deliberately heavy: pure-Python loops that hold the GIL, and big BLAS calls that release it."""
    rng = np.random.default_rng(0)
    for i in range(40):
        total = 0
        for k in range(60_000):
            total += k * k % 7
        a = rng.standard_normal((300, 300))
        np.linalg.eigvalsh(a + a.T)
        yield Snapshot((i + 1) / 40, f"chunk {i}", total)


def test_gui_event_loop_never_stalls_over_100_ms_during_a_heavy_job(qtbot):
    runner = JobRunner()
    clock = QElapsedTimer()
    gaps = []
    last = [0]

    def tick():
        now = clock.elapsed()
        gaps.append(now - last[0])
        last[0] = now

    timer = QTimer()
    timer.setInterval(5)
    timer.timeout.connect(tick)
    clock.start()
    timer.start()
    job = runner.start("heavy", _heavy)
    with qtbot.waitSignal(job.finished, timeout=120_000):
        pass
    timer.stop()
    assert len(gaps) > 20
    assert max(gaps[1:]) < 100, f"longest GUI stall {max(gaps[1:])} ms"


def test_what_changed_over_skipped_snapshots_is_carried_into_the_next_one_delivered():
    from app.jobs import merge_changed

    assert merge_changed(None, frozenset({"a"})) == {"a"}
    assert merge_changed(frozenset({"a"}), frozenset({"b"})) == {"a", "b"}
    assert merge_changed(frozenset(), frozenset({"b"})) == frozenset(), "a skipped 'anything changed' absorbs the rest"
    assert merge_changed(frozenset({"a"}), frozenset()) == frozenset()


def test_a_fast_stream_throttled_to_the_gui_still_reports_every_changed_part(qtbot):
    def stream():
        for i in range(200):  # far faster than 30 a second: most are held back by the rate limit
            yield Snapshot(i / 200, "x", i, changed=frozenset({f"part{i % 3}"}))
        yield Snapshot(1.0, "done", 200, changed=frozenset({"final"}))

    runner = JobRunner()
    job = runner.start("fast", stream)
    seen = set()
    job.snapshot.connect(lambda s: seen.update(s.changed))
    with qtbot.waitSignal(job.finished, timeout=10_000):
        pass
    assert seen == {"part0", "part1", "part2", "final"}
