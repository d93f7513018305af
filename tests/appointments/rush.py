"""Client side of the rush tests: many threads in several processes firing at a live server at once.

Kept free of application imports so ``multiprocessing`` (spawn) can import it cheaply.
"""

from __future__ import annotations

import threading

import requests


def fire(job: tuple[str, list[tuple[str, str, dict, dict]]]) -> list[tuple[int, str | None, dict]]:
    """Send every ``(method, url, headers, json)`` request from its own thread, all released together.

    Returns ``(status, problem code, body)`` per request; status 0 means no HTTP answer at all.
    """
    _label, requests_to_send = job
    results: list[tuple[int, str | None, dict]] = [(0, None, {})] * len(requests_to_send)
    barrier = threading.Barrier(len(requests_to_send))

    def one(index: int, method: str, url: str, headers: dict, body: dict) -> None:
        session = requests.Session()
        barrier.wait()
        try:
            response = session.request(method, url, headers=headers, json=body, timeout=120)
        except requests.RequestException as exc:
            results[index] = (0, type(exc).__name__, {})
            return
        try:
            payload = response.json()
        except ValueError:
            payload = {"raw": response.text[:200]}
        results[index] = (response.status_code, payload.get("code") if isinstance(payload, dict) else None, payload)

    threads = [threading.Thread(target=one, args=(index, *request)) for index, request in enumerate(requests_to_send)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results
