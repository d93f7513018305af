"""Face verification: API latency (submit → passed) against the bare face_recognition pipeline on
the same images in the same run, and throughput with 1 and 2 face workers.

    python bench/bench_face.py [--latency 12] [--throughput 24]

Embedded default in a temporary folder unless DATABASE_URL / REDIS_URL / CELERY_BROKER_URL are set
(it migrates that database: use a scratch one). Only talks to 127.0.0.1.

- baseline: in this process, for each verification's images — Pillow decode + EXIF orientation +
  downscale to 800 px, HOG detection, 128-d encoding of both frames and of the reference photo, the
  distances. That is the compute floor of a verification; everything above it is our overhead
  (HTTP, upload checks, transient store, queue, worker bookkeeping, pHash/replay, quality gates).
- api: POST /me/face/verifications?wait=5 over real HTTP (gunicorn), timed until the response says ``passed``.
- throughput: submit a burst, time until all are decided, with one worker process and with two.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def bare_pipeline(frames: list[bytes], reference: bytes) -> float:
    import face_recognition
    import numpy as np
    from PIL import Image, ImageOps

    def encode(data: bytes):
        image = Image.open(io.BytesIO(data))
        image.draft("RGB", (800, 800))
        image = ImageOps.exif_transpose(image).convert("RGB")
        image.thumbnail((800, 800))
        pixels = np.asarray(image)
        locations = face_recognition.face_locations(pixels, 0)
        return face_recognition.face_encodings(pixels, locations[:1], model="small")[0]

    ref = encode(reference)
    return max(float(np.linalg.norm(encode(f) - ref)) for f in frames)


def start_worker(name: str, log_dir: Path) -> subprocess.Popen:
    log = log_dir / f"{name}.log"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "mobile_api.worker",
            "worker",
            "-Q",
            "face",
            "-c",
            "1",
            "-n",
            f"{name}{os.getpid()}@%h",
            "--loglevel=INFO",
            "--without-heartbeat",
            "--without-mingle",
            "--without-gossip",
        ],
        cwd=ROOT,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        env={**os.environ},
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while b" ready." not in log.read_bytes():
        if time.monotonic() > deadline:
            raise RuntimeError(f"worker {name} not ready")
        time.sleep(0.2)
    return process


def stop_worker(process: subprocess.Popen) -> None:
    os.killpg(process.pid, 15)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, 9)
        process.wait()


def submit(http, base: str, headers: dict, frames: list[bytes], wait: float) -> dict:
    challenge = http.post(f"{base}/api/v1/me/face/challenges", json={}, headers=headers, timeout=10).json()
    files = [("frames", (f"f{i}.jpg", f, "image/jpeg")) for i, f in enumerate(frames)]
    started = time.perf_counter()
    response = http.post(
        f"{base}/api/v1/me/face/verifications",
        params={"wait": wait} if wait else None,
        data={"challenge_id": challenge["challenge_id"]},
        files=files,
        headers=headers,
        timeout=30,
    )
    body = response.json()
    body["_seconds"] = time.perf_counter() - started
    return body


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency", type=int, default=12, help="verifications timed one by one")
    parser.add_argument("--throughput", type=int, default=24, help="verifications per burst")
    args = parser.parse_args()
    from bench.common import Server, bench_environment

    os.environ.update(bench_environment())
    os.environ["FACE_DAILY_FAILURES"] = "100000"  # pending attempts count against the daily limit; not measured here
    instance = Path(os.environ["INSTANCE_PATH"])
    import requests
    from flask_migrate import upgrade

    from mobile_api import create_app

    spec = importlib.util.spec_from_file_location("soak", ROOT / "bench" / "face_worker_soak.py")
    soak = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(soak)
    from tests.auth.face import images

    app = create_app()
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"), revision="heads")
        # A scratch database reused across runs has seen pictures like ours: forget earlier frames' pHashes.
        from auth.face.models import FaceFrameHash
        from mobile_api.extensions import db

        db.session.query(FaceFrameHash).delete()
        db.session.commit()
    broker = app.config["CELERY_BROKER_URL"].split(":")[0]
    print(
        f"database {app.config['SQLALCHEMY_DATABASE_URI'].split(':')[0]}, broker {broker}, "
        f"transient images in {'Redis' if app.config.get('REDIS_URL') else 'the database'}"
    )
    people = soak.make_citizens(app, 4)
    soak.refresh_tokens(app, people)
    reference = images.raw("obama_1.jpg")
    total = args.latency + 2 + 2 * args.throughput
    print(f"preparing {total} verifications' frames (unique pictures: the replay check refuses repeats)…")
    sets = [[images.variant("obama_1.jpg"), images.variant("obama_2.jpg")] for _ in range(total)]
    server = Server(dict(os.environ))  # gunicorn, 2 workers × 4 threads, as in production
    base, http = server.url, requests.Session()

    # Baseline, in this process (warm-up first: the first call loads dlib's models).
    bare_pipeline(sets[0], reference)
    bare = []
    for frames in sets[2 : 2 + args.latency]:
        started = time.perf_counter()
        bare_pipeline(frames, reference)
        bare.append(time.perf_counter() - started)

    worker = start_worker("bench1", instance)
    try:
        for frames in sets[:2]:  # warm-up: the worker child loads dlib's models on its first task
            submit(http, base, people[0]["headers"], frames, wait=30)
        api = []
        for frames in sets[2 : 2 + args.latency]:
            body = submit(http, base, people[1]["headers"], frames, wait=5)
            if body.get("status") != "passed":
                raise RuntimeError(f"unexpected result {body}")
            api.append(body["_seconds"])
        report_latency(bare, api)
        burst = sets[2 + args.latency : 2 + args.latency + args.throughput]
        soak.refresh_tokens(app, people)
        one = burst_throughput(app, http, base, people[2]["headers"], burst, soak)
        second = start_worker("bench2", instance)
        try:
            burst = sets[2 + args.latency + args.throughput :]
            soak.refresh_tokens(app, people)
            time.sleep(1)
            two = burst_throughput(app, http, base, people[3]["headers"], burst, soak)
        finally:
            stop_worker(second)
    finally:
        stop_worker(worker)
        server.stop()

    b_med = statistics.median(bare)
    print(f"\nthroughput, burst of {args.throughput} verifications:")
    print(f"  bare pipeline, 1 process:  {1 / b_med:.2f} verifications/s")
    print(f"  1 face worker:             {one:.2f} verifications/s")
    print(f"  2 face workers:            {two:.2f} verifications/s  ({two / one:.2f}× of one; {os.cpu_count()} CPUs on this machine)")


def report_latency(bare: list[float], api: list[float]) -> None:
    b_med, a_med = statistics.median(bare), statistics.median(api)
    print(f"\nlatency over {len(api)} verifications (2 frames + reference each), seconds:")
    print(f"  bare face_recognition pipeline  median {b_med:.3f}  p90 {quantile(bare, 0.9):.3f}")
    print(f"  API submit → passed (wait=5)     median {a_med:.3f}  p90 {quantile(api, 0.9):.3f}")
    print(f"  ratio API / bare (median): {a_med / b_med:.2f}×  (aim ≤ 1.3×)", flush=True)


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def burst_throughput(app, http, base: str, headers: dict, burst: list[list[bytes]], soak) -> float:
    started = time.perf_counter()
    ids = [submit(http, base, headers, frames, wait=0)["verification_id"] for frames in burst]
    while soak.count_undecided(app, ids):
        time.sleep(0.05)
    seconds = time.perf_counter() - started
    results = soak.outcomes(app, ids)
    if results != {"passed": len(ids)}:
        raise RuntimeError(f"burst outcomes {results}")
    return len(ids) / seconds


if __name__ == "__main__":
    main()
