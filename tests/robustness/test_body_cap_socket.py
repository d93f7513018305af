"""The 64 KB JSON cap over a real socket: chunked and ``+json`` bodies get 413 after at most cap+1 bytes,
and the connection is then honest — closed (``Connection: close``) or still usable for the next request."""

from __future__ import annotations

import socket

import pytest

CHUNK = b"x" * 16384


def _open(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=30)
    return sock


def _read_response(sock: socket.socket) -> tuple[int, dict, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        part = sock.recv(65536)
        assert part, "connection closed before a response"
        data += part
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {name.lower(): value.strip() for name, value in (line.split(":", 1) for line in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        body += sock.recv(65536)
    return status, headers, body[length:]


def _send_chunk(sock: socket.socket, payload: bytes) -> None:
    sock.sendall(f"{len(payload):x}\r\n".encode() + payload + b"\r\n")


def _start_chunked_json(sock: socket.socket, content_type: str) -> None:
    sock.sendall(
        b"POST /api/v1/auth/sms-codes HTTP/1.1\r\nHost: test\r\n"
        + f"Content-Type: {content_type}\r\n".encode()
        + b"Transfer-Encoding: chunked\r\n\r\n"
    )
    _send_chunk(sock, b'{"phone": "')


@pytest.mark.parametrize("content_type", ["application/json", "application/vnd.x+json"])
def test_werkzeug_server_answers_413_before_the_body_ends_and_closes(live_server, content_type):
    sock = _open(live_server)
    _start_chunked_json(sock, content_type)
    for _ in range(8):  # 128 KB of a body that never ends: the answer must not wait for the rest
        _send_chunk(sock, CHUNK)
    status, headers, _ = _read_response(sock)
    assert status == 413 and headers["content-type"] == "application/problem+json"
    assert headers["connection"].lower() == "close"
    # The client stops sending (it was told the connection closes); the server then closes its side.
    sock.shutdown(socket.SHUT_WR)
    sock.settimeout(10)
    try:
        assert sock.recv(65536) == b""
    except ConnectionResetError:
        pass
    sock.close()


@pytest.mark.parametrize("content_type", ["application/json", "application/merge-patch+json"])
def test_gunicorn_answers_413_before_the_body_ends_and_the_connection_stays_usable(gunicorn_server, content_type):
    sock = _open(gunicorn_server.url)
    _start_chunked_json(sock, content_type)
    for _ in range(8):
        _send_chunk(sock, CHUNK)
    status, headers, _ = _read_response(sock)
    assert status == 413
    if headers.get("connection", "").lower() == "close":  # closed honestly: the server's side ends
        try:
            sock.shutdown(socket.SHUT_WR)
        except OSError:  # already closed by the server (ENOTCONN): as announced
            sock.close()
            return
        sock.settimeout(10)
        try:
            assert sock.recv(65536) == b""
        except ConnectionResetError:
            pass
        sock.close()
        return
    # keep-alive: gunicorn discards the unread rest of the body itself; the next request must work.
    for _ in range(56):  # the rest of a 1 MB body
        _send_chunk(sock, CHUNK)
    sock.sendall(b"0\r\n\r\n")
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
    status, headers, body = _read_response(sock)
    assert status == 200
    sock.close()


def test_content_length_over_the_cap_is_refused_without_reading(gunicorn_server):
    sock = _open(gunicorn_server.url)
    sock.sendall(
        b"POST /api/v1/auth/sms-codes HTTP/1.1\r\nHost: test\r\nContent-Type: application/vnd.x+json\r\n"
        b"Content-Length: 10485760\r\n\r\n" + b'{"phone":"' + CHUNK
    )
    status, _, _ = _read_response(sock)
    assert status == 413
    sock.close()
