"""A face worker fed a stream of verifications, bad images among them, stays up with flat memory.

The CI version of ``bench/face_worker_soak.py`` (which runs 500): a small count, same loop.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from tests.conftest import CeleryWorker

pytestmark = pytest.mark.slow  # a soak: its own face worker fed 48 verifications

_BENCH = Path(__file__).resolve().parents[3] / "bench" / "face_worker_soak.py"


def _bench_module():
    spec = importlib.util.spec_from_file_location("face_worker_soak", _BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_worker_survives_bad_images_with_flat_memory(app):
    bench = _bench_module()
    worker = CeleryWorker(queues="face", concurrency=1)
    worker.start()
    try:
        result = bench.soak(app, worker.process.pid, 48, citizens=12, log=lambda *_: None)
        assert worker.process.poll() is None, "the worker process died"
    finally:
        worker.stop()
    assert result["worker_alive"]
    outcomes = result["outcomes"]
    assert not any(key.startswith("pending") or key.endswith("internal_error") for key in outcomes), outcomes
    assert outcomes.get("passed", 0) >= 25, outcomes
    for reason in ("no_face", "multiple_faces", "too_dark", "too_blurry", "face_mismatch", "frames_identical", "face_too_small"):
        assert f"failed:{reason}" in outcomes, (reason, outcomes)
    # Memory: compare after the first batch (models loaded) with the end. dlib's models take ~100 MB
    # once; a leak of even 100 kB per verification would show here as several MB.
    samples = result["samples"]
    warm, last = samples[0][1], samples[-1][1]
    assert last - warm < 30 * 1024, f"worker RSS grew from {warm} kB to {last} kB"
