"""Fault drills for getting QEMU source: hostile tarballs, broken downloads, bad signatures.

Each drill drives the real ``invoke`` task in a subprocess against a private
cache (``IOTESTS_CONFIG``), with real tarballs, a real HTTP server on
127.0.0.1 and real gpg with throwaway keys, and asserts the exit code (6,
"fetching or building QEMU failed"), the one-line error and that nothing
outside the extraction target or the download cache's verified files was
created or changed.

The tarball attacks are those of CPython's test_tarfile for CVE-2025-4517,
CVE-2025-4138, CVE-2025-4330 and CVE-2024-12718 (which Python 3.11.7's
``data`` filter lets through) and the classic traversal archives.
"""

from __future__ import annotations

import hashlib
import io
import os
import socket
import stat
import sys
import tarfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from iotests import command

REPO = Path(__file__).resolve().parents[2]
NAME = "qemu-9.9.9.tar.xz"
# Incompressible, so that a cut connection leaves a visibly partial file.
BODY = hashlib.sha256(b"seed").digest() * 8192


# --- building tarballs ------------------------------------------------------------


@dataclass(frozen=True)
class Member:
    info: tarfile.TarInfo
    data: bytes | None = None


def file(name: str, data: bytes = b"x", mode: int = 0o644) -> Member:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), mode
    return Member(info, data)


def directory(name: str, mode: int = 0o755) -> Member:
    info = tarfile.TarInfo(name)
    info.type, info.mode = tarfile.DIRTYPE, mode
    return Member(info)


def symlink(name: str, to: str) -> Member:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = tarfile.SYMTYPE, to
    return Member(info)


def hardlink(name: str, to: str) -> Member:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = tarfile.LNKTYPE, to
    return Member(info)


def special(name: str, kind: bytes) -> Member:
    info = tarfile.TarInfo(name)
    info.type = kind
    return Member(info)


def write_tarball(path: Path, members: list[Member]) -> Path:
    with tarfile.open(path, "w:xz", format=tarfile.PAX_FORMAT) as tar:
        for member in members:
            tar.addfile(member.info, io.BytesIO(member.data) if member.data is not None else None)
    return path


# --- a throwaway cache, and what changed around it -------------------------------


@dataclass
class Scene:
    root: Path

    @property
    def cache(self) -> Path:
        return self.root / "cache"

    @property
    def sources(self) -> Path:
        return self.cache / "sources"

    @property
    def downloads(self) -> Path:
        return self.cache / "downloads"

    @property
    def config(self) -> Path:
        return self.root / "iotests.yaml"

    def configure(self, **build: str) -> None:
        lines = [f"build:\n  cache_dir: {self.cache}\n"]
        lines += [f"  {key}: {value}\n" for key, value in build.items()]
        self.config.write_text("".join(lines))

    def invoke(self, *args: str, env: dict[str, str] | None = None) -> command.Completed:
        environ = {**os.environ, "IOTESTS_CONFIG": str(self.config)}
        environ.pop("IOTESTS_CACHE_DIR", None)
        environ["GNUPGHOME"] = str(self.root / "empty-gnupg")
        environ.update(env or {})
        return command.run(
            [sys.executable, "-m", "invoke", "--search-root", str(REPO), *args],
            env=environ,
            cwd=self.root,
            check=False,
            merge_stderr=False,
            timeout=120,
        )

    def cached_downloads(self) -> list[str]:
        return sorted(p.name for p in self.downloads.iterdir()) if self.downloads.is_dir() else []


def snapshot(root: Path) -> dict[str, tuple[object, ...]]:
    """Every path under *root* with its type, mode and contents (symlinks not followed).

    Walks by directory descriptor, so that a tree deeper than PATH_MAX (what
    the realpath attack leaves behind when it succeeds) can still be listed.
    """
    found: dict[str, tuple[object, ...]] = {".": ("dir", stat.S_IMODE(root.lstat().st_mode))}
    for folder, dirs, files, fd in os.fwalk(root):
        rel = os.path.relpath(folder, root)
        for name in dirs + files:
            key = os.path.normpath(os.path.join(rel, name))
            info = os.stat(name, dir_fd=fd, follow_symlinks=False)
            if stat.S_ISLNK(info.st_mode):
                found[key] = ("symlink", os.readlink(name, dir_fd=fd))
            elif stat.S_ISDIR(info.st_mode):
                found[key] = ("dir", stat.S_IMODE(info.st_mode))
            else:
                handle = os.open(name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=fd)
                with os.fdopen(handle, "rb") as stream:
                    digest = hashlib.sha256(stream.read()).hexdigest()
                found[key] = ("file", stat.S_IMODE(info.st_mode), digest)
    return found


def one_error_line(stderr: str) -> str:
    """The task's error line, after checking it is the only one and there is no traceback."""
    assert "Traceback" not in stderr, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, stderr
    assert stderr.rstrip().splitlines()[-1] == errors[0], stderr
    return errors[0]


@pytest.fixture
def scene(tmp_path: Path) -> Scene:
    s = Scene(tmp_path)
    s.configure()
    # Bait where the attacks aim: beside the extraction target (what CPython's
    # attack reaches as "dest/..") and above the whole cache.
    s.sources.mkdir(parents=True)
    (s.sources / "flag").write_text("original\n")
    (tmp_path / "flag").write_text("original\n")
    return s


# --- hostile tarballs ------------------------------------------------------------------


def realpath_limit_attack(scene: Scene) -> list[Member]:
    """CPython's test_realpath_limit_attack (CVE-2025-4517), sized for this cache's path."""
    steps = "abcdefghijklmnop"
    # The old extractor unpacked into ".<id>.partial-<pid>" beside the target;
    # size the components for that (longer) path so the expansion overflows PATH_MAX.
    dest_len = len(str(scene.sources)) + len("/.evil-0123456789ab.partial-4194304")
    path_max = os.pathconf(scene.root, "PC_PATH_MAX")
    component = "d" * ((path_max - dest_len - 1) // (len(steps) + 1))
    members, path = [], ""
    for step in steps:
        members.append(directory(os.path.join(path, component), 0o777))
        members.append(symlink(os.path.join(path, step), component))
        path = os.path.join(path, component)
    linkpath = os.path.join(*steps, "l" * 254)
    members.append(symlink(linkpath, os.path.join(*[".."] * len(steps))))
    members.append(symlink("escape", os.path.join(linkpath, "..")))
    members.append(hardlink("flaglink", os.path.join("escape", "flag")))
    members.append(file("flaglink", b"overwrite\n"))
    members.append(file("escape/newfile", b"new\n"))
    return members


def sneaky_hardlink(scene: Scene) -> list[Member]:
    """CPython's test_sneaky_hardlink_fallback (CVE-2025-4330)."""
    return [
        file("a/t/dummy"),
        directory("b"),
        symlink("c", "a/t"),
        symlink("c/escape", "../../link_here"),
        symlink("c", "b"),
        hardlink("boom", "c/escape"),
    ]


def exfiltration(scene: Scene) -> list[Member]:
    """CPython's test_exfiltration_via_symlink (CVE-2025-4138): a link made bad by a later one."""
    return [symlink("escape", "link/link/../../flag"), symlink("link", "./")]


def chmod_outside(scene: Scene) -> list[Member]:
    """CPython's test_chmod_outside_dir (CVE-2024-12718): a directory's mode set through a link."""
    return [
        symlink("a/pwn", "."),
        directory("a/pwn", 0o777),
        symlink("a/pwn", "x/../"),
        symlink("a/x", "../"),
    ]


def parent_symlink(scene: Scene) -> list[Member]:
    """CPython's test_parent_symlink (jwilk's dirsymlink2a)."""
    return [symlink("current", "."), symlink("parent", "current/.."), file("parent/evil")]


def parent_symlink2(scene: Scene) -> list[Member]:
    """CPython's test_parent_symlink2 (jwilk's dirsymlink2b)."""
    return [symlink("current", "."), symlink("current/parent", ".."), file("parent/evil")]


ATTACKS: list[tuple[str, Callable[[Scene], list[Member]], str, str]] = [
    # (id, members, the member named in the error, the reason)
    ("realpath-limit", realpath_limit_attack, "ddd", "bytes long"),
    ("symlink-then-hardlink", sneaky_hardlink, "c/escape", "goes through the symlink 'c'"),
    ("symlink-retargeted-later", exfiltration, "escape", "link points outside"),
    ("mode-through-symlink", chmod_outside, "a/pwn", "would replace the symlink"),
    ("parent-symlink", parent_symlink, "parent", "link points outside"),
    ("parent-symlink-2", parent_symlink2, "current/parent", "goes through the symlink 'current'"),
    (
        "symlink-loop",
        lambda s: [symlink("qemu/loop1", "loop2"), symlink("qemu/loop2", "loop1")],
        "qemu/loop2",
        "symlink loop",
    ),
    (
        "self-loop-then-write",
        lambda s: [symlink("qemu/self", "self/x"), file("qemu/VERSION")],
        "qemu/self",
        "symlink loop",
    ),
    (
        "absolute-symlink",
        lambda s: [symlink("parent", str(s.root)), file("parent/evil")],
        "parent",
        "link to an absolute path",
    ),
    (
        "absolute-hardlink",
        lambda s: [hardlink("qemu/flag", str(s.root / "flag"))],
        "qemu/flag",
        "link to an absolute path",
    ),
    (
        "dotdot-symlink-target",
        lambda s: [file("qemu/VERSION"), symlink("qemu/x", "../../flag")],
        "qemu/x",
        "link points outside",
    ),
    (
        "dotdot-hardlink-target",
        lambda s: [file("qemu/VERSION"), hardlink("qemu/x", "../flag")],
        "qemu/x",
        "link points outside",
    ),
    (
        "symlink-overwritten-by-symlink",
        lambda s: [symlink("qemu/link", "VERSION"), symlink("qemu/link", "../../flag")],
        "qemu/link",
        "would replace the symlink",
    ),
    (
        "symlink-overwritten-by-file",
        lambda s: [symlink("qemu/link", "../../flag"), file("qemu/link", b"overwrite\n")],
        "qemu/link",
        "link points outside",
    ),
    (
        "inner-symlink-overwritten-by-file",
        lambda s: [file("qemu/VERSION"), symlink("qemu/v", "VERSION"), file("qemu/v")],
        "qemu/v",
        "would replace the symlink",
    ),
    (
        "file-through-directory-symlink",
        lambda s: [directory("qemu/sub"), symlink("qemu/alias", "sub"), file("qemu/alias/x")],
        "qemu/alias/x",
        "goes through the symlink 'qemu/alias'",
    ),
    (
        "dotdot-member",
        lambda s: [file("qemu/VERSION"), file("qemu/../../flag", b"overwrite\n")],
        "qemu/../../flag",
        "leads outside the target directory",
    ),
    (
        "absolute-member",
        lambda s: [file(str(s.root / "newfile"))],
        str(Path("/") / "newfile"),
        "absolute path",
    ),
    ("fifo", lambda s: [special("qemu/fifo", tarfile.FIFOTYPE)], "qemu/fifo", "special file"),
    ("char-device", lambda s: [special("qemu/tty", tarfile.CHRTYPE)], "qemu/tty", "special file"),
    ("block-device", lambda s: [special("qemu/sda", tarfile.BLKTYPE)], "qemu/sda", "special file"),
    (
        "overlong-path",
        lambda s: [file("qemu/" + "/".join(["p" * 200] * 6) + "/x")],
        "qemu/ppp",
        "bytes long",
    ),
]


@pytest.mark.parametrize(
    ("members", "member", "why"),
    [pytest.param(build, member, why, id=name) for name, build, member, why in ATTACKS],
)
def test_hostile_tarball_is_refused(
    scene: Scene, members: Callable[[Scene], list[Member]], member: str, why: str
) -> None:
    """a hostile tarball is refused naming its member, nothing outside changes"""
    tarball = write_tarball(scene.root / "evil.tar.xz", members(scene))
    before = snapshot(scene.root)
    result = scene.invoke("build-qemu", "--source", str(tarball), "--skip-deps-check")
    after = snapshot(scene.root)
    # The cache machinery's own lock files are all that may appear.
    created = {p for p in after.keys() - before.keys() if not p.startswith("cache/locks")}
    assert created == set(), created
    assert {p: after[p] for p in before} == before
    assert result.returncode == 6, result.output
    line = one_error_line(result.stderr)
    assert line.startswith("error: evil.tar.xz: refusing to extract member "), line
    shown = line.removeprefix("error: evil.tar.xz: refusing to extract member ")
    if member == str(Path("/") / "newfile"):
        assert shown.startswith(repr(str(scene.root / "newfile"))), line
    else:
        assert shown.startswith(f"'{member}"), line
    assert why in line, line
    assert sorted(p.name for p in scene.sources.iterdir()) == ["flag"]


# --- downloads -----------------------------------------------------------------------


@dataclass
class Server:
    """A loopback HTTP server whose answers each drill scripts."""

    url: str
    files: dict[str, bytes] = field(default_factory=dict)
    #: "no-length": HTTP/1.0 style body without Content-Length, ended by closing.
    #: "no-length-cut": the same, cut at half, every time.
    #: "length-cut-once": Content-Length sent, connection cut at half, the first time.
    #: "chunked-cut-once": chunked body cut at half (no last chunk), the first time.
    mode: str = "normal"
    log: list[tuple[str, str | None, int]] = field(default_factory=list)


def _handler(state: Server) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            """Keep pytest output quiet."""

        def do_GET(self) -> None:
            data = state.files.get(self.path)
            wanted = self.headers.get("Range")
            if data is None:
                state.log.append((self.path, wanted, 404))
                self.send_error(404)
                return
            start = int(wanted.removeprefix("bytes=").rstrip("-")) if wanted else 0
            body = data[start:]
            status = 206 if wanted else 200
            state.log.append((self.path, wanted, status))
            self.send_response(status)
            mode = state.mode if self.path.endswith(".xz") else "normal"
            cut = not wanted and "cut" in mode
            if wanted:
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            if mode.startswith("no-length"):
                self.send_header("Connection", "close")
                self.close_connection = True
            elif mode == "chunked-cut-once" and cut:
                self.send_header("Transfer-Encoding", "chunked")
            else:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if not cut:
                self.wfile.write(body)
                return
            half = body[: len(body) // 2]
            if mode == "chunked-cut-once":
                self.wfile.write(b"%x\r\n" % len(half) + half + b"\r\n")
            else:
                self.wfile.write(half)
            self.wfile.flush()
            self.close_connection = True
            if mode.endswith("-once"):
                state.mode = "normal"

    return Handler


@pytest.fixture
def server() -> Iterator[Server]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    state = Server(url=f"http://127.0.0.1:{httpd.server_address[1]}/")
    httpd.RequestHandlerClass = _handler(state)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield state
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def test_truncated_unverified_download_is_not_cached(scene: Scene, server: Server) -> None:
    """a cut download with no length is never cached, even unverified"""
    server.files["/" + NAME] = BODY
    server.mode = "no-length-cut"
    scene.configure(download_url=server.url)
    result = scene.invoke("fetch-qemu", "--version", "9.9.9", "--allow-unverified")
    assert result.returncode == 6, result.output
    line = one_error_line(result.stderr)
    assert line == (
        f"error: {server.url}{NAME}: the server sent {len(BODY) // 2} bytes without saying how "
        "long the file is, and no pinned checksum or signature proved them complete; "
        "not keeping them"
    )
    assert scene.cached_downloads() == []


@pytest.mark.parametrize("mode", ["length-cut-once", "chunked-cut-once"])
def test_cut_download_resumes_and_is_complete(scene: Scene, server: Server, mode: str) -> None:
    """a cut download resumes with Range and caches the whole file"""
    server.files["/" + NAME] = BODY
    server.mode = mode
    scene.configure(download_url=server.url)
    result = scene.invoke("fetch-qemu", "--version", "9.9.9", "--allow-unverified")
    assert result.returncode == 0, result.output
    assert (scene.downloads / NAME).read_bytes() == BODY
    assert scene.cached_downloads() == [NAME]
    tarball = [entry for entry in server.log if entry[0] == "/" + NAME]
    assert tarball[0] == ("/" + NAME, None, 200)
    _, resumed_from, status = tarball[1]
    assert status == 206
    assert resumed_from is not None
    assert 0 < int(resumed_from.removeprefix("bytes=").rstrip("-")) <= len(BODY) // 2


def test_no_length_download_with_pinned_checksum_is_cached(scene: Scene, server: Server) -> None:
    """a whole download without a length is cached when its checksum is pinned"""
    server.files["/" + NAME] = BODY
    scene.configure(
        download_url=server.url, sha256=f'{{9.9.9: "{hashlib.sha256(BODY).hexdigest()}"}}'
    )
    server.mode = "no-length"
    result = scene.invoke("fetch-qemu", "--version", "9.9.9")
    assert result.returncode == 0, result.output
    assert (scene.downloads / NAME).read_bytes() == BODY


def _refused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


URL_FAULTS: list[tuple[str, Callable[[Scene, Server], str], int, str]] = [
    # (id, the download_url, exit code, what the error line says after the URL)
    ("http-404", lambda s, srv: srv.url, 6, "not found (HTTP 404)"),
    (
        "connection-refused",
        lambda s, srv: f"http://127.0.0.1:{_refused_port()}/",
        6,
        "connection refused",
    ),
    ("bad-port", lambda s, srv: "http://127.0.0.1:notaport/", 6, "malformed URL: Port could not"),
    ("bad-ipv6-host", lambda s, srv: "http://[::1/", 6, "malformed URL: Invalid IPv6 URL"),
    ("no-host", lambda s, srv: "http:///qemu/", 6, "malformed URL: no host"),
    ("file-url-missing", lambda s, srv: (s.root / "mirror").as_uri() + "/", 6, "not found"),
]


@pytest.mark.parametrize(
    ("make_url", "code", "problem"),
    [pytest.param(url, code, problem, id=name) for name, url, code, problem in URL_FAULTS],
)
def test_bad_download_url_is_one_line(
    scene: Scene, server: Server, make_url: Callable[[Scene, Server], str], code: int, problem: str
) -> None:
    """a bad download URL ends in one line naming it and the problem"""
    url = make_url(scene, server)
    (scene.root / "mirror").mkdir()
    scene.configure(download_url=f"'{url}'")
    result = scene.invoke("fetch-qemu", "--version", "9.9.9", "--allow-unverified")
    assert result.returncode == code, result.output
    line = one_error_line(result.stderr)
    assert line.startswith(f"error: {url}"), line
    assert problem in line, line
    assert scene.cached_downloads() == []


def test_unsupported_scheme_is_one_line(scene: Scene) -> None:
    """an ftp:// download URL is refused in one line"""
    scene.configure(download_url="ftp://mirror.example/qemu/")
    result = scene.invoke("fetch-qemu", "--version", "9.9.9", "--allow-unverified")
    assert result.returncode == 2, result.output
    line = one_error_line(result.stderr)
    assert "build.download_url" in line
    assert "ftp://mirror.example/qemu/" in line


def test_file_url_mirror_is_fetched_and_verified(scene: Scene) -> None:
    """a file:// mirror is fetched and checked like an HTTP one"""
    mirror = scene.root / "mirror"
    mirror.mkdir()
    (mirror / NAME).write_bytes(BODY)
    digest = hashlib.sha256(BODY).hexdigest()
    scene.configure(download_url=mirror.as_uri() + "/", sha256=f'{{9.9.9: "{digest}"}}')
    result = scene.invoke("fetch-qemu", "--version", "9.9.9")
    assert result.returncode == 0, result.output
    assert (scene.downloads / NAME).read_bytes() == BODY
    assert "no signature published" in result.stderr
    scene.configure(download_url=mirror.as_uri() + "/", sha256=f'{{9.9.9: "{"0" * 64}"}}')
    (scene.downloads / NAME).unlink()
    result = scene.invoke("fetch-qemu", "--version", "9.9.9")
    assert result.returncode == 6, result.output
    assert one_error_line(result.stderr).startswith(f"error: {NAME}: SHA-256 mismatch")
    assert scene.cached_downloads() == []


# --- signatures ----------------------------------------------------------------------


@dataclass(frozen=True)
class Key:
    home: Path
    fingerprint: str

    def env(self) -> dict[str, str]:
        return {**os.environ, "GNUPGHOME": str(self.home)}

    def sign(self, data: bytes, out: Path) -> bytes:
        source = out.with_suffix(".data")
        source.write_bytes(data)
        gpg = ["gpg", "--batch", "--yes", "--pinentry-mode", "loopback", "--passphrase", ""]
        command.run([*gpg, "--detach-sign", "-o", str(out), str(source)], env=self.env())
        return out.read_bytes()

    def export_to(self, other: Key) -> None:
        exported = other.home / f"{self.fingerprint}.asc"
        command.run(
            ["gpg", "--batch", "--export", "-o", str(exported), self.fingerprint], env=self.env()
        )
        command.run(["gpg", "--batch", "--import", str(exported)], env=other.env())


def make_key(home: Path, name: str) -> Key:
    if command.which("gpg") is None:
        pytest.skip("gpg is not installed")
    home.mkdir(mode=0o700)
    env = {**os.environ, "GNUPGHOME": str(home)}
    gpg = ["gpg", "--batch", "--pinentry-mode", "loopback", "--passphrase", ""]
    command.run(
        [*gpg, "--quick-gen-key", f"{name} <{name}@example.invalid>", "ed25519", "sign", "never"],
        env=env,
    )
    listing = command.run(["gpg", "--batch", "--with-colons", "--list-keys"], env=env)
    return Key(
        home,
        next(line.split(":")[9] for line in listing.stdout.splitlines() if line.startswith("fpr:")),
    )


SIGNATURES: list[tuple[str, str]] = [
    # (id, what the error line says)
    ("tampered", f"{NAME}: BAD signature ({NAME}.sig does not match the file)"),
    ("unknown-key", f"{NAME}: signed by key "),
    ("known-foreign-key", f"{NAME}: good signature by key "),
    ("garbage", f"{NAME}: signature {NAME}.sig is not a valid OpenPGP signature"),
    ("truncated", f"{NAME}: signature {NAME}.sig is not a valid OpenPGP signature"),
]


@pytest.mark.parametrize(("kind", "says"), SIGNATURES, ids=[kind for kind, _ in SIGNATURES])
def test_bad_signature_is_refused_in_one_line(
    scene: Scene, server: Server, tmp_path: Path, kind: str, says: str
) -> None:
    """a bad, foreign or garbage signature is refused in one readable line"""
    release = make_key(tmp_path / "release-gnupg", "release")
    stranger = make_key(tmp_path / "stranger-gnupg", "stranger")
    if kind == "known-foreign-key":
        stranger.export_to(release)
    sig = tmp_path / "sig"
    signatures = {
        "tampered": lambda: release.sign(BODY + b"tampered", sig),
        "unknown-key": lambda: stranger.sign(BODY, sig),
        "known-foreign-key": lambda: stranger.sign(BODY, sig),
        "garbage": lambda: hashlib.sha512(b"garbage").digest() * 4,
        "truncated": lambda: release.sign(BODY, sig)[:40],
    }
    server.files["/" + NAME] = BODY
    server.files["/" + NAME + ".sig"] = signatures[kind]()
    scene.configure(download_url=server.url, gpg_fingerprints=f"[{release.fingerprint}]")
    result = scene.invoke("fetch-qemu", "--version", "9.9.9", env={"GNUPGHOME": str(release.home)})
    assert result.returncode == 6, result.output
    line = one_error_line(result.stderr)
    assert line.startswith(f"error: {says}"), line
    if kind in ("unknown-key", "known-foreign-key"):
        assert stranger.fingerprint[-16:] in line, line
        assert "not a configured release key" in line, line
    assert scene.cached_downloads() == []
    # The good signature is accepted by the same path, so the refusals above are the signatures'.
    server.files["/" + NAME + ".sig"] = release.sign(BODY, sig)
    result = scene.invoke("fetch-qemu", "--version", "9.9.9", env={"GNUPGHOME": str(release.home)})
    assert result.returncode == 0, result.output
    assert scene.cached_downloads() == [NAME, NAME + ".sig"]
