"""Run engine streams off the GUI thread.

A :class:`Job` iterates an engine's ``stream`` in a ``QThread``. Snapshots are handed to the GUI at
most ``max_rate`` times a second (the newest wins; the final one always arrives). Stop closes the
generator at its next yield, which is the engine contract's cancellation. An exception inside the
engine becomes the ``failed`` signal with its traceback; nothing propagates into the event loop.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
import traceback
from collections.abc import Callable, Iterator

from PySide6.QtCore import QObject, QThread, Signal

from engines.base import Snapshot

log = logging.getLogger("workbench.jobs")


def merge_changed(a: frozenset[str] | None, b: frozenset[str]) -> frozenset[str]:
    """What changed over two snapshots: the union, where an empty set (anything may have changed) absorbs everything."""
    if a is None:
        return b
    return frozenset() if not a or not b else a | b


class _Worker(QThread):
    snapshot = Signal(object)
    failed = Signal(str, str)  # one-line message, traceback
    stopped = Signal()

    def __init__(self, make_stream: Callable[[], Iterator[Snapshot]], max_rate: float):
        super().__init__()
        self._make_stream = make_stream
        self._interval = 1.0 / max_rate
        self._stop = threading.Event()
        self.latest: Snapshot | None = None  # the newest snapshot emitted; older ones still queued are not drawn

    def request_stop(self) -> None:
        self._stop.set()

    def run(self) -> None:  # worker thread
        last_emit = 0.0
        pending = None
        finished = False
        try:
            gen = self._make_stream()
            try:
                carry = None  # the changed parts of snapshots held back by the rate limit
                for snap in gen:
                    if self._stop.is_set():
                        break
                    now = time.monotonic()
                    if snap.progress >= 1.0 or now - last_emit >= self._interval:
                        if carry is not None:
                            snap = dataclasses.replace(snap, changed=merge_changed(carry, snap.changed))
                        self.latest = snap
                        self.snapshot.emit(snap)
                        pending, last_emit, carry = None, now, None
                    else:
                        pending, carry = snap, merge_changed(carry, snap.changed)
                    finished = finished or snap.progress >= 1.0
            finally:
                gen.close()
        except Exception as err:  # an engine's failure is a message, never a crash
            self.failed.emit(f"{type(err).__name__}: {err}", traceback.format_exc())
            return
        if self._stop.is_set():
            self.stopped.emit()
        elif not finished:  # the contract's last snapshot never came: say so rather than hang as "running"
            if pending is not None:
                pending = dataclasses.replace(pending, changed=carry) if carry is not None else pending
                self.latest = pending
                self.snapshot.emit(pending)
            self.failed.emit("RuntimeError: engine stream ended without a final snapshot (progress 1.0)", "")


class Job(QObject):
    """One engine run. Signals arrive on the GUI thread.

    ``progress(float, str)``, ``snapshot(Snapshot)``, ``finished(object)`` with the final result,
    ``failed(str, str)`` with the message and traceback, ``stopped()``; ``ended()`` after any of the
    last three.
    """

    progress = Signal(float, str)
    snapshot = Signal(object)
    finished = Signal(object)
    failed = Signal(str, str)
    stopped = Signal()
    ended = Signal()

    def __init__(self, title: str, make_stream: Callable[[], Iterator[Snapshot]], max_rate: float = 30.0, parent=None):
        super().__init__(parent)
        self.title = title
        self.result = None
        self._worker = _Worker(make_stream, max_rate)
        self._worker.snapshot.connect(self._on_snapshot)
        self._worker.failed.connect(self._on_failed)
        self._worker.stopped.connect(self._on_stopped)
        self.thread_finished = self._worker.finished
        self._done = False
        self._carry: frozenset[str] | None = None  # the changed parts of snapshots skipped since the last one delivered

    def start(self) -> None:
        log.info("job started: %s", self.title)
        self._worker.start()

    def stop(self) -> None:
        self._worker.request_stop()

    def is_running(self) -> bool:
        return not self._done

    def wait(self, ms: int = 30_000) -> bool:
        """Block until the worker thread ends (tests and screenshots only)."""
        return self._worker.wait(ms)

    def _on_snapshot(self, snap: Snapshot) -> None:
        # A GUI slower than the worker's rate would fall ever further behind; skip what a newer snapshot replaces,
        # carrying what the skipped one said had changed into the next one delivered.
        if self._done:
            return
        if snap is not self._worker.latest and snap.progress < 1.0:
            self._carry = merge_changed(self._carry, snap.changed)
            return
        if self._carry is not None:
            snap = dataclasses.replace(snap, changed=merge_changed(self._carry, snap.changed))
            self._carry = None
        self.progress.emit(float(snap.progress), snap.message)
        self.snapshot.emit(snap)
        if snap.progress >= 1.0:
            self.result = snap.result
            self._end(lambda: self.finished.emit(snap.result))
            log.info("job finished: %s", self.title)

    def _on_failed(self, message: str, tb: str) -> None:
        log.error("job failed: %s: %s\n%s", self.title, message, tb)
        self._end(lambda: self.failed.emit(message, tb))

    def _on_stopped(self) -> None:
        log.info("job stopped: %s", self.title)
        self._end(self.stopped.emit)

    def _end(self, emit: Callable[[], None]) -> None:
        if self._done:
            return
        self._done = True
        emit()
        self.ended.emit()


# Every job whose thread has not ended, whatever runner started it: a QThread must outlive its run.
_alive: list[Job] = []


class JobRunner(QObject):
    """Starts jobs; the status bar listens to ``job_started``."""

    job_started = Signal(object)

    def __init__(self, parent=None):
        super().__init__(parent)
        self._mine: list[Job] = []

    @property
    def jobs(self) -> list[Job]:
        """This runner's jobs not yet finished, failed or stopped."""
        return [j for j in self._mine if j.is_running()]

    def start(self, title: str, make_stream: Callable[[], Iterator[Snapshot]]) -> Job:
        job = Job(title, make_stream)
        self._mine.append(job)
        _alive.append(job)

        def forget():  # once: the thread of a job ends once
            self._mine.remove(job)
            _alive.remove(job)

        job.thread_finished.connect(forget)
        self.job_started.emit(job)
        job.start()
        return job

    def stop_all(self, wait_ms: int = 5000) -> None:
        _stop(list(self._mine), wait_ms)


def _stop(jobs: list[Job], wait_ms: int) -> bool:
    for job in jobs:
        job.stop()
    return all([job.wait(wait_ms) for job in jobs])


def stop_every_job(wait_ms: int = 30_000) -> bool:
    """Stop every running job of every runner and wait for the threads (application exit, tests).

    False when a thread is still inside an engine step after ``wait_ms``: destroying its QThread then aborts
    the process, so the caller must not let Python tear it down (``main.py`` leaves with ``os._exit``).
    """
    return _stop(list(_alive), wait_ms)


_default: JobRunner | None = None


def default_runner() -> JobRunner:
    """The application's one runner (created on first use, after the QApplication)."""
    global _default
    if _default is None:
        _default = JobRunner()
    return _default


_device = "auto"


def set_device(device: str) -> None:
    """The compute device every new job runs on: ``auto``, ``cpu`` or ``cuda``."""
    global _device
    _device = device


def get_device() -> str:
    return _device
