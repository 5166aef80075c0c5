"""Helpers for the build integration tests: a real HTTP server, gpg keys, tarballs."""

from __future__ import annotations

import io
import os
import tarfile
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from iotests import command


@dataclass
class FileServer:
    """A loopback HTTP server with Range support and scripted misbehaviour."""

    url: str
    files: dict[str, bytes] = field(default_factory=dict)
    #: Paths whose next full (non-Range) GET sends only half the body, then hangs up.
    truncate_once: set[str] = field(default_factory=set)
    #: Paths whose next request is answered with this HTTP status instead.
    fail_once: dict[str, int] = field(default_factory=dict)
    #: (path, Range header or None, status) per request, in order.
    log: list[tuple[str, str | None, int]] = field(default_factory=list)


def handler(state: FileServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            """Keep pytest output quiet."""

        def do_GET(self) -> None:
            data = state.files.get(self.path)
            wanted = self.headers.get("Range")
            if self.path in state.fail_once:
                status = state.fail_once.pop(self.path)
                state.log.append((self.path, wanted, status))
                self.send_error(status)
                return
            if data is None:
                state.log.append((self.path, wanted, 404))
                self.send_error(404)
                return
            start = int(wanted.removeprefix("bytes=").rstrip("-")) if wanted else 0
            if start >= len(data):
                state.log.append((self.path, wanted, 416))
                self.send_error(416)
                return
            status = 206 if wanted else 200
            state.log.append((self.path, wanted, status))
            self.send_response(status)
            body = data[start:]
            self.send_header("Content-Length", str(len(body)))
            if wanted:
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            self.end_headers()
            if not wanted and self.path in state.truncate_once:
                state.truncate_once.discard(self.path)
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(body)

    return Handler


def tarball_bytes(members: dict[str, bytes], modes: dict[str, int] | None = None) -> bytes:
    """An xz tarball holding *members* (name -> contents)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:xz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = (modes or {}).get(name, 0o644)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@dataclass(frozen=True)
class GpgKey:
    home: Path
    fingerprint: str

    def sign(self, path: Path) -> Path:
        sig = path.with_name(path.name + ".sig")
        command.run(
            [
                "gpg",
                "--batch",
                "--yes",
                "--pinentry-mode",
                "loopback",
                "--passphrase",
                "",
                "--detach-sign",
                "-o",
                str(sig),
                str(path),
            ],
            env={**os.environ, "GNUPGHOME": str(self.home)},
        )
        return sig


def make_gpg_key(home: Path, name: str) -> GpgKey:
    """A throwaway signing key in its own GNUPGHOME."""
    if command.which("gpg") is None:
        pytest.skip("gpg is not installed")
    home.mkdir(mode=0o700, parents=True)
    env = {**os.environ, "GNUPGHOME": str(home)}
    command.run(
        [
            "gpg",
            "--batch",
            "--pinentry-mode",
            "loopback",
            "--passphrase",
            "",
            "--quick-gen-key",
            f"{name} <{name}@example.invalid>",
            "ed25519",
            "sign",
            "never",
        ],
        env=env,
    )
    listing = command.run(
        ["gpg", "--batch", "--with-colons", "--list-keys"], env=env, merge_stderr=False
    )
    fpr = next(
        line.split(":")[9] for line in listing.stdout.splitlines() if line.startswith("fpr:")
    )
    return GpgKey(home, fpr)
