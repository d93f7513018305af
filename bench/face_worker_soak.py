"""A face worker fed many verifications, bad images among them: it must not die, RSS must stay flat.

    python bench/face_worker_soak.py [--count 500]

Runs on the embedded default in a temporary folder (or on DATABASE_URL / REDIS_URL /
CELERY_BROKER_URL if set — never point it at a database you care about: it migrates it). Starts one
``celery worker -Q face -c 1`` (prefork: one child does the dlib work), submits ``count``
verifications through the API (in-process test client), and samples the RSS of the worker's processes
while they are decided. One verification in three is bad: corrupted JPEG data, noise (no face), two faces,
too dark, too blurry, another person, byte-identical frames, a tiny face.

``tests/auth/face/test_face_worker_soak.py`` runs the same loop with a small count in CI.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BAD_KINDS = ("corrupted", "noise", "two_faces", "dark", "blurry", "other_person", "identical", "tiny")


def frames_for(kind: str) -> list[bytes]:
    from tests.auth.face import images

    good = [images.variant("obama_1.jpg"), images.variant("obama_2.jpg")]
    if kind == "good":
        return good
    if kind == "corrupted":
        # Garbage in the middle of the compressed data, header and EOI intact (a truncated JPEG is refused
        # by the web process already): the decoder in the worker has to cope with it.
        frame = bytearray(good[0])
        middle = len(frame) // 2
        frame[middle : middle + 2048] = random.randbytes(2048)
        return [bytes(frame), good[1]]
    if kind == "noise":
        return [images.encode(images.no_face_picture(random.randrange(10**6))), good[1]]
    if kind == "two_faces":
        return [images.variant("two_people.jpg"), good[1]]
    if kind == "dark":
        return [images.encode(images.darkened(images.variant_image("obama_1.jpg"))), good[1]]
    if kind == "blurry":
        return [images.encode(images.blurred(images.variant_image("obama_1.jpg"))), good[1]]
    if kind == "other_person":
        return [images.variant("biden_1.jpg"), images.variant("biden_1.jpg")]
    if kind == "identical":
        return [good[0], good[0]]
    if kind == "tiny":
        return [images.encode(images.shrunk(images.variant_image("obama_1.jpg"), 150)), good[1]]
    raise ValueError(kind)


def make_citizens(app, count: int) -> list[dict]:
    """Level-2 accounts with consent and a reference photo, and a bearer header each."""
    from auth.face.reference import import_reference_photo
    from auth.face.service import grant_consent
    from auth.models import Account
    from mobile_api.extensions import db
    from mobile_api.pii import blind_index
    from tests.auth.face import images
    from tests.support import random_id_number

    citizens = []
    with app.app_context():
        for _ in range(count):
            id_number = random_id_number()
            account = Account(
                phone="139" + f"{random.randrange(10**8):08d}",
                level=2,
                name="测试",
                id_number=id_number,
                id_number_index=blind_index(id_number, "id_number"),
            )
            db.session.add(account)
            db.session.commit()
            grant_consent(account, app.config["FACE_CONSENT_VERSION"])
            import_reference_photo(id_number, images.raw("obama_1.jpg"), "bench", "bench")
            citizens.append({"id": account.id})
            db.session.commit()
    return citizens


def refresh_tokens(app, people: list[dict]) -> None:
    from auth.tokens import issue_tokens
    from mobile_api.access import CITIZEN
    from mobile_api.extensions import db

    with app.app_context():
        for person in people:
            person["headers"] = {"Authorization": f"Bearer {issue_tokens(CITIZEN, person['id']).access_token}"}
        db.session.commit()


def submit(client, headers: dict, frames: list[bytes]) -> str:
    started = client.post("/api/v1/me/face/challenges", json={}, headers=headers)
    assert started.status_code == 201, started.get_json()
    data = {"challenge_id": started.get_json()["challenge_id"], "frames": [(io.BytesIO(f), f"f{i}.jpg") for i, f in enumerate(frames)]}
    response = client.post("/api/v1/me/face/verifications", data=data, headers=headers, content_type="multipart/form-data")
    assert response.status_code == 202, response.get_json()
    return response.get_json()["verification_id"]


def process_rss_kb(root_pid: int) -> dict[int, int]:
    """RSS (kB) of a process and its children, from /proc."""
    result = {}
    pids = [root_pid]
    while pids:
        pid = pids.pop()
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            continue
        rss = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
        result[pid] = rss
        pids.extend(int(child) for child in children)
    return result


def count_undecided(app, ids: list[str]) -> int:
    from sqlalchemy import func, select

    from auth.face.models import FaceVerification
    from mobile_api.extensions import db

    with app.app_context():
        return db.session.scalar(select(func.count()).where(FaceVerification.id.in_(ids), FaceVerification.status == "pending"))


def outcomes(app, ids: list[str]) -> dict[str, int]:
    from collections import Counter

    from sqlalchemy import select

    from auth.face.models import FaceVerification
    from mobile_api.extensions import db

    with app.app_context():
        rows = db.session.execute(select(FaceVerification.status, FaceVerification.reason).where(FaceVerification.id.in_(ids))).all()
    return dict(Counter(f"{status}:{reason}" if reason else status for status, reason in rows))


def soak(app, worker_pid: int, count: int, *, bad_every: int = 3, citizens: int = 5, log=print) -> dict:
    """Feed ``count`` verifications in batches, sampling worker RSS; returns the measurements."""
    people = make_citizens(app, citizens)
    client = app.test_client()
    ids: list[str] = []
    samples: list[tuple[int, int, int]] = []  # (decided, total RSS kB, biggest child RSS kB)
    children_seen: set[int] = set()
    batch = 25
    started = time.monotonic()
    for start in range(0, count, batch):
        refresh_tokens(app, people)  # access tokens live 15 minutes; a slow machine outlives them
        for i in range(start, min(start + batch, count)):
            kind = BAD_KINDS[(i // bad_every) % len(BAD_KINDS)] if i % bad_every == bad_every - 1 else "good"
            ids.append(submit(client, people[i % len(people)]["headers"], frames_for(kind)))
        while (pending := count_undecided(app, ids)) > batch // 2:
            time.sleep(0.5)
        rss = process_rss_kb(worker_pid)
        if not rss:
            raise RuntimeError("the worker process is gone")
        children_seen.update(pid for pid in rss if pid != worker_pid)
        samples.append((len(ids) - pending, sum(rss.values()), max(rss.values())))
        log(f"  submitted {len(ids):4d}  decided {len(ids) - pending:4d}  worker RSS {sum(rss.values()) / 1024:7.1f} MB")
    while count_undecided(app, ids):
        time.sleep(0.5)
    rss = process_rss_kb(worker_pid)
    samples.append((len(ids), sum(rss.values()), max(rss.values()) if rss else 0))
    return {
        "count": count,
        "seconds": time.monotonic() - started,
        "samples": samples,
        "worker_alive": bool(rss),
        "child_pids": sorted(children_seen),
        "outcomes": outcomes(app, ids),
    }


def report(result: dict) -> None:
    samples = result["samples"]
    warm = samples[min(3, len(samples) - 1)]  # after ~100 verifications: models loaded, caches warm
    last = samples[-1]
    print(
        f"\n{result['count']} verifications in {result['seconds']:.0f} s; worker alive: {result['worker_alive']}; "
        f"pool children seen: {result['child_pids']} (one = the child never died)"
    )
    print(
        f"RSS after {warm[0]} decided: {warm[1] / 1024:.1f} MB; after {last[0]}: {last[1] / 1024:.1f} MB; "
        f"growth {(last[1] - warm[1]) / 1024:+.1f} MB ({(last[1] / warm[1] - 1) * 100:+.1f} %)"
    )
    print("outcomes:", ", ".join(f"{k} {v}" for k, v in sorted(result["outcomes"].items())))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=500)
    args = parser.parse_args()
    instance = tempfile.mkdtemp(prefix="face-soak-")
    os.environ.setdefault("INSTANCE_PATH", instance)
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ["FACE_DAILY_FAILURES"] = "100000"  # the daily limit is not what this measures
    os.environ["RATELIMIT_ENABLED"] = "0"
    from flask_migrate import upgrade

    from mobile_api import create_app

    app = create_app()
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"), revision="heads")
    log_path = Path(instance) / "worker.log"
    worker = subprocess.Popen(
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
            f"soak{os.getpid()}@%h",
            "--loglevel=INFO",
            "--without-heartbeat",
            "--without-mingle",
            "--without-gossip",
        ],
        cwd=ROOT,
        stdout=log_path.open("ab"),
        stderr=subprocess.STDOUT,
        env={**os.environ},
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while b" ready." not in log_path.read_bytes():  # the SQL broker creates its queue rows on start-up
        if time.monotonic() > deadline or worker.poll() is not None:
            raise RuntimeError(f"face worker did not start, see {log_path}")
        time.sleep(0.2)
    try:
        print(f"face worker pid {worker.pid}; feeding {args.count} verifications (1 in 3 bad)")
        report(soak(app, worker.pid, args.count))
    finally:
        os.killpg(worker.pid, 15)
        try:
            worker.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, 9)
            worker.wait()


if __name__ == "__main__":
    main()
