"""Downloading release files over HTTP (or from a ``file://`` mirror) into the download cache.

A download streams into ``NAME.part``; an interrupted one resumes from where
it stopped with an HTTP Range request; transient failures (connections cut
or reset, timeouts, 5xx answers) are retried with exponential backoff. Only
a file known to be complete is renamed to its final name: complete means the
transfer itself said how long the file is and that many bytes arrived
(``Content-Length``, the total of a ``Content-Range``, or a chunked body's
last chunk), or the verification proved the contents (a pinned checksum or
a good signature). A body that simply stopped, with nothing to say it was
all there, is deleted, even when unverified files are allowed; so is a file
that failed its verification.

Every failure is a one-line :class:`~iotests.errors.BuildError` naming the
URL: an unsupported scheme, a malformed URL, a refused connection or an
unknown host (not retried: trying again will not change them, as curl and
wget also assume), an HTTP error status.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

import requests
import urllib3
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from iotests.errors import BuildError

_CHUNK = 1 << 16
_SCHEMES = ("http", "https", "file")
_CONTENT_RANGE_RE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")
_UNSATISFIED_RANGE_RE = re.compile(r"bytes\s+\*/(\d+)")
#: What the stream raises when the connection breaks mid-body (urllib3's
#: errors, since the body is read raw, and the socket's own).
_BROKEN = (urllib3.exceptions.HTTPError, OSError)

#: Called with the complete ``.part`` file: True when it proved the contents
#: (checksum, signature), False when it accepted them unproven; raising rejects them.
Verifier = Callable[[Path], bool]


class NotFoundError(BuildError):
    """The server says the file does not exist (HTTP 404/410); retrying will not help."""


class _Retry(Exception):
    """One attempt failed in a way worth retrying."""


def download(
    url: str,
    dest: Path,
    *,
    verify: Verifier | None = None,
    offline: bool = False,
    retries: int = 4,
    backoff: float = 0.5,
    timeout: float = 30.0,
    session: requests.Session | None = None,
    console: Console | None = None,
    show_progress: bool = True,
) -> Path:
    """Make *dest* hold the complete, verified contents of *url*, downloading only what is missing.

    :param verify: see :data:`Verifier`; the part file is deleted when it raises.
    :param offline: use only the cache; a missing file is an error naming it.
    :raises NotFoundError: the server (or the file:// mirror) has no such file.
    :raises BuildError: a bad URL, offline and not cached, retries exhausted,
        a non-retryable failure, or a body that cannot be known complete;
        verification errors propagate as raised.
    """
    if dest.is_file():
        _verify_or_drop(dest, verify)
        return dest
    if offline:
        raise BuildError(f"offline: {dest.name} is not in the download cache ({dest.parent})")
    parsed = check_url(url)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    if parsed.scheme == "file":
        _copy_local(url, parsed, part)
        complete = True
    else:
        http = session or requests.Session()
        complete = _fetch_http(url, part, http, retries, backoff, timeout, console, show_progress)
    proven = _verify_or_drop(part, verify)
    if not complete and not proven:
        size = part.stat().st_size
        part.unlink()
        raise BuildError(
            f"{url}: the server sent {size} bytes without saying how long the file is, and "
            "no pinned checksum or signature proved them complete; not keeping them"
        )
    os.replace(part, dest)
    return dest


def check_url(url: str) -> urllib.parse.SplitResult:
    """*url* split, when it is one this module can fetch.

    :raises BuildError: naming the URL and what is wrong with it.
    """
    try:
        parsed = urllib.parse.urlsplit(url)
        port = parsed.port
    except ValueError as exc:
        raise BuildError(f"{url}: malformed URL: {exc}") from None
    if parsed.scheme not in _SCHEMES:
        shown = f"{parsed.scheme}://" if parsed.scheme else "no scheme"
        raise BuildError(f"{url}: unsupported URL scheme ({shown}); expected http, https or file")
    if parsed.scheme == "file":
        if parsed.netloc not in ("", "localhost"):
            raise BuildError(f"{url}: file:// URLs name a local path; host {parsed.netloc!r} given")
    elif not parsed.hostname:
        raise BuildError(f"{url}: malformed URL: no host")
    elif port == 0:
        raise BuildError(f"{url}: malformed URL: port 0")
    return parsed


def _copy_local(url: str, parsed: urllib.parse.SplitResult, part: Path) -> None:
    source = Path(urllib.request.url2pathname(parsed.path))
    try:
        shutil.copyfile(source, part)
    except FileNotFoundError:
        part.unlink(missing_ok=True)
        raise NotFoundError(f"{url}: not found (no file {source})") from None
    except OSError as exc:
        part.unlink(missing_ok=True)
        raise BuildError(f"{url}: cannot read {source}: {exc.strerror or exc}") from None


def _verify_or_drop(path: Path, verify: Verifier | None) -> bool:
    if verify is None:
        return False
    try:
        return verify(path)
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def _fetch_http(
    url: str,
    part: Path,
    http: requests.Session,
    retries: int,
    backoff: float,
    timeout: float,
    console: Console | None,
    show_progress: bool,
) -> bool:
    """Fill *part* from *url*; True when the transfer proved the body complete."""
    last_error = ""
    for attempt in range(retries + 1):
        if attempt:
            time.sleep(backoff * 2 ** (attempt - 1))
        try:
            return _attempt(http, url, part, timeout, console, show_progress)
        except _Retry as exc:
            last_error = str(exc)
    kept = f" (partial data kept in {part.name} for the next try)" if part.exists() else ""
    raise BuildError(f"download of {url} failed after {retries + 1} attempts: {last_error}{kept}")


def _attempt(
    http: requests.Session,
    url: str,
    part: Path,
    timeout: float,
    console: Console | None,
    show_progress: bool,
) -> bool:
    have = part.stat().st_size if part.exists() else 0
    # Identity encoding: the bytes stored must be the file's, so that a Range
    # offset and Content-Length count the same bytes.
    headers = {"Accept-Encoding": "identity"}
    if have:
        headers["Range"] = f"bytes={have}-"
    try:
        response = http.get(url, headers=headers, stream=True, timeout=timeout)
    except (requests.ConnectionError, requests.Timeout) as exc:
        permanent = connection_problem(exc)
        if permanent:
            raise BuildError(f"{url}: {permanent}") from None
        raise _Retry(describe(exc)) from exc
    except requests.RequestException as exc:
        raise BuildError(f"{url}: {describe(exc)}") from None
    with contextlib.closing(response):
        status = response.status_code
        if status in (404, 410):
            part.unlink(missing_ok=True)
            raise NotFoundError(f"{url}: not found (HTTP {status})")
        if status == 416 and have:
            if unsatisfied_total(response.headers.get("Content-Range")) == have:
                return True  # an earlier run got every byte but stopped before the rename
            part.unlink()
            raise _Retry("HTTP 416: partial file does not fit the resource; restarting")
        if status >= 500:
            raise _Retry(f"HTTP {status} {response.reason}")
        if status not in (200, 206):
            raise BuildError(f"{url}: HTTP {status} {response.reason}")
        start, total = expected_span(
            status,
            have,
            response.headers.get("Content-Length"),
            response.headers.get("Content-Range"),
        )
        if start is None:
            part.unlink()
            raise _Retry(
                f"asked to resume at byte {have}, the server sent "
                f"{response.headers.get('Content-Range')!r}; restarting"
            )
        received = _receive(response, part, start, total, console, show_progress)
    if total is None:
        return bool(getattr(response.raw, "chunked", False))
    if received < total:
        raise _Retry(f"connection closed after {received} of {total} bytes")
    if received > total:
        part.unlink()
        raise _Retry(f"received {received} bytes where {total} were announced; restarting")
    return True


def _receive(
    response: requests.Response,
    part: Path,
    start: int,
    total: int | None,
    console: Console | None,
    show_progress: bool,
) -> int:
    received = start
    with (
        _progress(console, show_progress) as progress,
        part.open("ab" if start else "wb") as out,
    ):
        task = progress.add_task(part.name.removesuffix(".part"), total=total, completed=start)
        try:
            for chunk in response.raw.stream(_CHUNK, decode_content=False):
                out.write(chunk)
                received += len(chunk)
                progress.update(task, completed=received)
        except _BROKEN as exc:
            raise _Retry(f"connection lost after {received} bytes: {describe(exc)}") from exc
    return received


def expected_span(
    status: int, have: int, length: str | None, content_range: str | None
) -> tuple[int | None, int | None]:
    """Where the body starts in the file and the file's full size (None: not said).

    A start of None means a 206 answer that does not continue at *have*, so
    appending it would corrupt the file.
    """
    body = int(length) if length and length.isdigit() else None
    if status != 206:
        return 0, body
    match = _CONTENT_RANGE_RE.fullmatch((content_range or "").strip())
    if not match or int(match.group(1)) != have:
        return None, None
    if match.group(3) != "*":
        return have, int(match.group(3))
    return have, int(match.group(2)) + 1


def unsatisfied_total(content_range: str | None) -> int | None:
    """The file size a 416 answer's ``Content-Range: bytes */N`` gives, if any."""
    match = _UNSATISFIED_RANGE_RE.fullmatch((content_range or "").strip())
    return int(match.group(1)) if match else None


def _causes(exc: BaseException) -> list[BaseException]:
    """*exc* and what it wraps: causes, contexts, urllib3's ``reason`` and exception args."""
    seen: list[BaseException] = []
    stack: list[BaseException] = [exc]
    while stack:
        current = stack.pop()
        if any(current is s for s in seen):
            continue
        seen.append(current)
        reason = getattr(current, "reason", None)
        linked = [reason, current.__cause__, current.__context__, *current.args]
        stack.extend(e for e in reversed(linked) if isinstance(e, BaseException))
    return seen


def connection_problem(exc: BaseException) -> str | None:
    """The permanent reason a connection could not be made, or None if worth retrying."""
    for cause in _causes(exc):
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cause, socket.gaierror):
            return f"cannot resolve the host name ({cause.strerror or cause})"
    return None


def describe(exc: BaseException) -> str:
    """A short reason for a transfer failure, not urllib3's nested reprs."""
    for cause in _causes(exc):
        if isinstance(cause, urllib3.exceptions.IncompleteRead):
            return f"connection closed early ({cause.partial} bytes read, {cause.expected} to come)"
        if isinstance(cause, TimeoutError | urllib3.exceptions.TimeoutError):
            return "timed out"
        if isinstance(cause, OSError) and cause.strerror:
            return cause.strerror.lower()
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def _progress(console: Console | None, show: bool) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console or Console(stderr=True, soft_wrap=True),
        transient=True,
        disable=not show,
    )
