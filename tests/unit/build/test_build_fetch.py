"""iotests.build.fetch: URL checks, what proves a body complete, readable transfer errors."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from iotests.build import fetch
from iotests.build.fetch import (
    NotFoundError,
    check_url,
    connection_problem,
    download,
    expected_span,
    unsatisfied_total,
)
from iotests.errors import BuildError

BODY = bytes(range(256)) * 400


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        (
            "ftp://mirror/qemu.tar.xz",
            "unsupported URL scheme (ftp://); expected http, https or file",
        ),
        ("qemu.tar.xz", "unsupported URL scheme (no scheme)"),
        ("http://127.0.0.1:notaport/x", "malformed URL: Port could not be cast"),
        ("http://[::1/x", "malformed URL: Invalid IPv6 URL"),
        ("http:///x", "malformed URL: no host"),
        ("https://127.0.0.1:0/x", "malformed URL: port 0"),
        ("file://mirror.example/x", "file:// URLs name a local path; host 'mirror.example' given"),
    ],
)
def test_check_url_refuses(url: str, problem: str) -> None:
    with pytest.raises(BuildError) as info:
        check_url(url)
    assert str(info.value).startswith(f"{url}: {problem}")


@pytest.mark.parametrize(
    "url", ["http://h/x", "https://h:8443/x", "file:///m/x", "file://localhost/x"]
)
def test_check_url_accepts(url: str) -> None:
    assert check_url(url).geturl() == url


@pytest.mark.parametrize(
    ("status", "have", "length", "content_range", "span"),
    [
        (200, 0, "300", None, (0, 300)),
        (200, 100, "300", None, (0, 300)),  # Range ignored: start over
        (200, 0, None, None, (0, None)),
        (206, 100, "200", "bytes 100-299/300", (100, 300)),
        (206, 100, "200", "bytes 100-299/*", (100, 300)),
        (206, 100, "300", "bytes 0-299/300", (None, None)),  # not where we asked
        (206, 100, "200", None, (None, None)),
    ],
)
def test_expected_span(
    status: int,
    have: int,
    length: str | None,
    content_range: str | None,
    span: tuple[int | None, int | None],
) -> None:
    assert expected_span(status, have, length, content_range) == span


def test_unsatisfied_total() -> None:
    assert unsatisfied_total("bytes */300") == 300
    assert unsatisfied_total(None) is None
    assert unsatisfied_total("bytes 0-1/2") is None


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_refused_connection_is_named_and_not_retried(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/x"
    with pytest.raises(requests.ConnectionError) as info:
        requests.get(url, timeout=5)
    assert connection_problem(info.value) == "connection refused"
    with pytest.raises(BuildError) as failed:
        download(url, tmp_path / "x", retries=3, backoff=30, show_progress=False)
    assert str(failed.value) == f"{url}: connection refused"
    assert list(tmp_path.iterdir()) == []


class Script:
    """What the loopback server does next, per request."""

    def __init__(self) -> None:
        self.answers: list[tuple[int, dict[str, str], bytes, bool]] = []
        self.ranges: list[str | None] = []


@pytest.fixture
def script() -> Iterator[tuple[Script, str]]:
    state = Script()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            """Quiet."""

        def do_GET(self) -> None:
            state.ranges.append(self.headers.get("Range"))
            status, headers, body, cut = state.answers.pop(0)
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body[: len(body) // 2] if cut else body)
            self.close_connection = True

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield state, f"http://127.0.0.1:{server.server_address[1]}/qemu.tar.xz"
    server.shutdown()
    server.server_close()
    thread.join()


def _get(url: str, dest: Path, verify: fetch.Verifier | None = None) -> Path:
    return download(url, dest, verify=verify, retries=2, backoff=0, show_progress=False)


def test_close_delimited_body_needs_proof(script: tuple[Script, str], tmp_path: Path) -> None:
    state, url = script
    state.answers = [(200, {"Connection": "close"}, BODY, False)] * 2
    with pytest.raises(BuildError, match="without saying how long the file is"):
        _get(url, tmp_path / "q", verify=lambda _: False)
    assert list(tmp_path.iterdir()) == []
    assert _get(url, tmp_path / "q", verify=lambda _: True).read_bytes() == BODY


def test_verify_none_still_needs_a_length(script: tuple[Script, str], tmp_path: Path) -> None:
    state, url = script
    state.answers = [(200, {"Connection": "close"}, BODY, True)]
    with pytest.raises(BuildError, match=f"sent {len(BODY) // 2} bytes without saying"):
        _get(url, tmp_path / "q")
    assert list(tmp_path.iterdir()) == []


def test_resume_at_the_wrong_offset_restarts(script: tuple[Script, str], tmp_path: Path) -> None:
    state, url = script
    length = {"Content-Length": str(len(BODY))}
    state.answers = [
        (200, length, BODY, True),
        (206, {**length, "Content-Range": f"bytes 0-{len(BODY) - 1}/{len(BODY)}"}, BODY, False),
        (200, length, BODY, False),
    ]
    assert _get(url, tmp_path / "q").read_bytes() == BODY
    assert state.ranges[0] is None
    assert state.ranges[1] is not None
    assert state.ranges[2] is None


def test_complete_part_file_is_recognised_by_416(
    script: tuple[Script, str], tmp_path: Path
) -> None:
    state, url = script
    (tmp_path / "q.part").write_bytes(BODY)
    state.answers = [
        (416, {"Content-Range": f"bytes */{len(BODY)}", "Content-Length": "0"}, b"", False)
    ]
    assert _get(url, tmp_path / "q").read_bytes() == BODY
    assert state.ranges == [f"bytes={len(BODY)}-"]


def test_always_cut_keeps_only_the_part_file(script: tuple[Script, str], tmp_path: Path) -> None:
    state, url = script
    state.answers = [(200, {"Content-Length": str(len(BODY))}, BODY, True)] * 3
    with pytest.raises(BuildError) as info:
        _get(url, tmp_path / "q", verify=lambda _: True)
    message = str(info.value)
    assert message.startswith(f"download of {url} failed after 3 attempts: connection lost after")
    assert "(partial data kept in q.part for the next try)" in message
    assert "\n" not in message
    assert "IncompleteRead(" not in message
    assert [p.name for p in tmp_path.iterdir()] == ["q.part"]


def test_gzip_encoding_is_stored_as_sent(script: tuple[Script, str], tmp_path: Path) -> None:
    state, url = script
    headers = {"Content-Length": str(len(BODY)), "Content-Encoding": "gzip"}
    state.answers = [(200, headers, BODY, False)]
    assert _get(url, tmp_path / "q").read_bytes() == BODY


def test_file_url(tmp_path: Path) -> None:
    (tmp_path / "mirror").mkdir()
    (tmp_path / "mirror" / "q").write_bytes(BODY)
    url = (tmp_path / "mirror" / "q").as_uri()
    assert _get(url, tmp_path / "cache" / "q").read_bytes() == BODY
    with pytest.raises(NotFoundError, match=r"not found \(no file "):
        _get(url + "-missing", tmp_path / "cache" / "r")
    with pytest.raises(BuildError, match=r"cannot read .*: Is a directory"):
        _get((tmp_path / "mirror").as_uri(), tmp_path / "cache" / "s")
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == ["q"]
