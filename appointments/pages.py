"""HTML for the hall: the call display (叫号屏) and a clerk's window page.

Not JSON API, so a plain Flask blueprint kept out of the OpenAPI document on purpose: the display is
``/display/halls/<id>`` (full screen, zh-CN, large type) fed by Server-Sent Events from
``/display/halls/<id>/events``; the window page ``/console/window`` is static HTML whose script calls
the staff JSON API (sign-in, the window's queue, next, recall, served, no-show) with a bearer token.
Plain ES5 JavaScript and CSS of a few KB, no build step: old TV browsers run it.
"""

from __future__ import annotations

import json

from flask import Blueprint, Response, render_template, request, stream_with_context

from appointments import service

pages_bp = Blueprint(
    "hall_pages",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/hall-static",
)


@pages_bp.get("/display/halls/<int:hall_id>")
def display_page(hall_id: int):
    """The call display, rendered with the current snapshot so it shows something before the stream."""
    snapshot = service.display(hall_id)
    data = json.dumps(snapshot, ensure_ascii=False, default=lambda value: value.isoformat()).replace("</", "<\\/")
    return render_template("appointments/display.html", snapshot=snapshot, snapshot_json=data)


def _last_event_id() -> int | None:
    raw = request.headers.get("Last-Event-ID") or request.args.get("last_event_id")
    return int(raw) if raw and raw.isdigit() and len(raw) < 19 else None


@pages_bp.get("/display/halls/<int:hall_id>/events")
def display_events(hall_id: int):
    """Server-Sent Events: a snapshot now and on every change; ends after a few minutes (the browser reconnects)."""
    events = service.stream(hall_id, _last_event_id())
    first = next(events)  # a missing hall answers 404 here, before the stream starts
    response = Response(
        stream_with_context(_prepend(first, events)),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
    return response


def _prepend(first: str, rest):
    yield first
    yield from rest


@pages_bp.get("/console/window")
def window_page():
    """A clerk's window: sign in, pick the window, call next, recall, served / no-show."""
    return render_template("appointments/console.html")
