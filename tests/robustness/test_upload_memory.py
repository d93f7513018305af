"""Memory: 32 concurrent image uploads cannot exhaust a web process.

A real gunicorn process (one worker, 8 threads, as scripts/run.sh) receives 32 concurrent uploads of a
6300×6300 solid-colour PNG (~170 KB, ~40 Mpx: a decompression bomb) and then 32 of a 4000×4000 one (just
under the 16 Mpx cap, so each is really decoded). The worker's RSS, sampled every 20 ms from /proc via
psutil, must stay under RSS_BOUND_MB (stated in the README); the bombs are refused with 413 from the
header, the decodable ones are checked (201) or asked to retry (503 image_check_busy), never 500.
"""

from __future__ import annotations

import io
import threading
from concurrent.futures import ThreadPoolExecutor

import psutil
import pytest
import requests
from PIL import Image

from tests.cases.conftest import new_case
from tests.support import bearer, sign_in_level2

RSS_BOUND_MB = 400
CONCURRENT = 32


def _solid_png(side: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (side, side), (200, 200, 200)).save(out, format="PNG", optimize=True)
    return out.getvalue()


class PeakRss:
    def __init__(self, pid: int) -> None:
        self.process, self.peak, self.stop = psutil.Process(pid), 0, threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self.stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            self.stop.wait(0.02)

    def __enter__(self) -> PeakRss:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join()


@pytest.mark.slow
def test_32_concurrent_bomb_sized_uploads_stay_under_the_bound(app, gunicorn_server, celery_worker):
    client = app.test_client()
    citizen = sign_in_level2(app, client)
    token = citizen["access_token"]
    case_no = new_case(client, token)
    url = f"{gunicorn_server.url}/api/v1/cases/{case_no}/materials"

    def upload(data: bytes) -> int:
        files = {"file": ("photo.png", data, "image/png")}
        return requests.post(url, data={"material_code": "photo"}, files=files, headers=bearer(token), timeout=120).status_code

    worker = gunicorn_server.worker_pid()
    baseline = psutil.Process(worker).memory_info().rss
    bomb, under_cap = _solid_png(6300), _solid_png(4000)
    assert len(bomb) < 300_000
    with PeakRss(worker) as rss, ThreadPoolExecutor(CONCURRENT) as pool:
        bomb_statuses = list(pool.map(upload, [bomb] * CONCURRENT))
        after_bombs = rss.peak
        decoded_statuses = list(pool.map(upload, [under_cap] * CONCURRENT))
    print(f"\npeak after the bombs {after_bombs / 2**20:.0f} MB")
    print(
        f"\nweb worker RSS: baseline {baseline / 2**20:.0f} MB, peak {rss.peak / 2**20:.0f} MB "
        f"(bound {RSS_BOUND_MB} MB); bombs {sorted(set(bomb_statuses))}, 4000×4000 {sorted(set(decoded_statuses))}"
    )
    assert set(bomb_statuses) == {413}
    assert set(decoded_statuses) <= {201, 503} and 201 in decoded_statuses
    assert rss.peak < RSS_BOUND_MB * 2**20
