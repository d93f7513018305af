"""The call display: the HTML page, its Server-Sent Events stream over real HTTP, and a real browser
(Debian's chromium driven by Playwright) calling a number on the clerk's window page while the display
in another tab shows and speaks it."""

from __future__ import annotations

import json
import os
import threading
import uuid
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from tests.appointments.conftest import ITEM, create_hall
from tests.conftest import ROOT
from tests.support import bearer, staff_token

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = ROOT / "tests" / "artifacts"


@pytest.fixture()
def fast_stream(app):
    """The stream looks for news every 0.1 s and ends after 20 s (so no test thread lingers)."""
    saved = {name: app.config[name] for name in ("APPOINTMENTS_DISPLAY_POLL_SECONDS", "APPOINTMENTS_DISPLAY_STREAM_SECONDS")}
    app.config.update(APPOINTMENTS_DISPLAY_POLL_SECONDS=0.1, APPOINTMENTS_DISPLAY_STREAM_SECONDS=20)
    yield
    app.config.update(saved)


@pytest.fixture()
def hall_clerk(app, client, app_context):
    from auth.service import create_staff
    from mobile_api.roles import WINDOW_CLERK

    hall = create_hall(windows=2)
    username = f"win{uuid.uuid4().hex[:8]}"
    create_staff(username, app.config["DEMO_PASSWORD"], [WINDOW_CLERK], "窗口小王", ["MZ"], [hall["id"]])
    return hall, username, bearer(staff_token(client, username, app.config["DEMO_PASSWORD"]))


def _events(response):
    """Parse a text/event-stream into (id, event, data) tuples as they arrive."""
    event = {}
    for line in response.iter_lines(decode_unicode=True):
        if line == "":
            if "data" in event:
                yield event.get("id"), event.get("event"), json.loads(event["data"])
            event = {}
        elif not line.startswith(":") and ":" in line:
            name, value = line.split(":", 1)
            event[name] = value.lstrip()


def test_display_page_and_json_are_public_and_carry_no_personal_data(client, hall_clerk):
    hall, _, clerk = hall_clerk
    base = f"/api/v1/staff/halls/{hall['id']}"
    assert client.post(f"{base}/tickets", json={"item_code": ITEM}, headers=clerk).status_code == 201
    page = client.get(f"/display/halls/{hall['id']}")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert '<html lang="zh-CN">' in html and "内地居民结婚登记" in html and "1号窗口" in html
    assert client.get("/display/halls/999999").status_code == 404
    assert client.get("/display/halls/999999/events").status_code == 404
    script = client.get("/hall-static/display.js")
    assert script.status_code == 200 and len(script.data) < 8000
    assert "=>" not in script.get_data(as_text=True) and "let " not in script.get_data(as_text=True)  # ES5 for old TV browsers
    assert client.get("/console/window").status_code == 200
    spec = client.get("/api/v1/openapi.json").get_json()
    assert not [path for path in spec["paths"] if path.startswith(("/display", "/console"))]  # HTML pages: not JSON API
    snapshot = client.get(f"/api/v1/halls/{hall['id']}/queue").get_json()
    assert snapshot["waiting"] == [{"item_code": ITEM, "item_name": "内地居民结婚登记", "count": 1}] and snapshot["version"] > 0


def test_event_stream_over_http_announces_calls_and_recalls(app, client, live_server, hall_clerk, fast_stream):
    hall, _, clerk = hall_clerk
    base = f"/api/v1/staff/halls/{hall['id']}"
    ticket = client.post(f"{base}/tickets", json={"item_code": ITEM}, headers=clerk).get_json()
    with requests.get(f"{live_server}/display/halls/{hall['id']}/events", stream=True, timeout=30) as response:
        assert response.headers["Content-Type"].startswith("text/event-stream")
        events = _events(response)
        first_id, kind, first = next(events)
        assert kind == "display" and first["announce"] == [] and first["snapshot"]["waiting_total"] == 1
        called = client.post(f"{base}/queue/next", json={"window_id": hall["windows"][0]}, headers=clerk).get_json()
        assert called["ticket_no"] == ticket["ticket_no"]
        event_id, _, data = next(events)
        assert int(event_id) > int(first_id)
        assert [call["text"] for call in data["announce"]] == [f"请{ticket['ticket_no']}号到1号窗口办理"]
        assert data["snapshot"]["windows"][0]["calling"] == ticket["ticket_no"] and data["snapshot"]["waiting_total"] == 0
        assert client.post(f"{base}/tickets/{called['id']}/recall", headers=clerk).status_code == 200
        _, _, again = next(events)
        assert [(call["kind"], call["ticket_no"]) for call in again["announce"]] == [("recalled", ticket["ticket_no"])]

    # A screen back after a hiccup (Last-Event-ID) hears the calls it missed, and only those.
    headers = {"Last-Event-ID": first_id}
    with requests.get(f"{live_server}/display/halls/{hall['id']}/events", headers=headers, stream=True, timeout=30) as response:
        _, _, caught_up = next(_events(response))
        assert [call["kind"] for call in caught_up["announce"]] == ["called", "recalled"]


def test_a_stream_ends_after_its_lifetime(app, live_server, hall_clerk, fast_stream):
    hall, _, _ = hall_clerk
    app.config["APPOINTMENTS_DISPLAY_STREAM_SECONDS"] = 0.5
    with requests.get(f"{live_server}/display/halls/{hall['id']}/events", stream=True, timeout=30) as response:
        body = response.content.decode()  # returns only because the server closes the stream
    assert body.startswith("retry: 2000") and body.count("event: display") == 1


def _launch(playwright):
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is missing and CI=true (.ci/run installs it)")
        pytest.skip("chromium not installed (apt-get install chromium)")
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def test_real_browser_window_page_calls_and_the_display_shows_it_within_a_second(app, client, live_server, hall_clerk, fast_stream):
    from playwright.sync_api import expect, sync_playwright

    from appointments.models import Ticket
    from mobile_api.extensions import db

    hall, username, clerk = hall_clerk
    base = f"/api/v1/staff/halls/{hall['id']}"
    for _ in range(3):
        assert client.post(f"{base}/tickets", json={"item_code": ITEM}, headers=clerk).status_code == 201
    first = db.session.scalars(select(Ticket).where(Ticket.hall_id == hall["id"]).order_by(Ticket.id)).first()

    with sync_playwright() as playwright:
        browser = _launch(playwright)
        try:
            context = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="zh-CN")
            screen = context.new_page()
            screen.goto(f"{live_server}/display/halls/{hall['id']}")
            expect(screen.locator("#status")).to_have_text("实时", timeout=10_000)
            expect(screen.locator("#waiting-total")).to_have_text("3")

            desk = context.new_page()  # another tab: the clerk's window page
            desk.goto(f"{live_server}/console/window")
            desk.fill("#username", username)
            desk.fill("#password", app.config["DEMO_PASSWORD"])
            desk.click("#sign-in")
            expect(desk.locator("#picker")).to_be_visible(timeout=10_000)
            desk.select_option("#hall", str(hall["id"]))
            desk.select_option("#window", str(hall["windows"][0]))
            desk.click("#open-window")
            expect(desk.locator("#waiting-total")).to_have_text("3", timeout=5_000)

            clicked_at = desk.evaluate("Date.now()")
            desk.click("#call-next")
            # The display in the other tab shows the number within a second of the click.
            expect(screen.locator("#announcement")).to_have_text(f"请{first.ticket_no}号到1号窗口办理", timeout=1_000)
            shown_after = screen.evaluate("Date.now()") - clicked_at
            expect(screen.locator("#windows tr").first.locator("td.number")).to_have_text(first.ticket_no)
            expect(screen.locator("#waiting-total")).to_have_text("2")
            assert screen.evaluate("window.SPOKEN") == [f"请{first.ticket_no}号到1号窗口办理"]
            expect(desk.locator("#current-number")).to_have_text(first.ticket_no, timeout=5_000)

            desk.click("#recall")  # a recall shows and speaks again
            screen.wait_for_function("window.SPOKEN.length === 2", timeout=2_000)
            ARTIFACTS.mkdir(exist_ok=True)
            shot = ARTIFACTS / "display.png"
            screen.screenshot(path=str(shot))
            print(f"\ndisplay screenshot: {shot} (number shown {shown_after} ms after the click)")

            desk.click("#served")
            expect(screen.locator("#windows tr").first.locator("td.number")).to_have_text("—", timeout=2_000)
            assert Path(shot).stat().st_size > 10_000
        finally:
            browser.close()


def test_stream_serves_many_screens_at_once(live_server, hall_clerk, fast_stream, client):
    """Eight screens on one hall (threads of the test server): every one hears the call."""
    hall, _, clerk = hall_clerk
    base = f"/api/v1/staff/halls/{hall['id']}"
    client.post(f"{base}/tickets", json={"item_code": ITEM}, headers=clerk)
    heard, ready = [], threading.Barrier(9)

    def screen():
        with requests.get(f"{live_server}/display/halls/{hall['id']}/events", stream=True, timeout=30) as response:
            events = _events(response)
            next(events)
            ready.wait()
            for _, _, data in events:
                if data["announce"]:
                    heard.append(data["announce"][0]["ticket_no"])
                    return

    threads = [threading.Thread(target=screen) for _ in range(8)]
    for thread in threads:
        thread.start()
    ready.wait()
    called = client.post(f"{base}/queue/next", json={"window_id": hall["windows"][1]}, headers=clerk).get_json()
    for thread in threads:
        thread.join(timeout=30)
    assert heard == [called["ticket_no"]] * 8
