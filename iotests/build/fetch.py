"""Downloading release files over HTTP into the download cache.

A download streams into ``NAME.part``; an interrupted one resumes from where
it stopped with an HTTP Range request; transient failures (connection drops,
timeouts, 5xx answers) are retried with exponential backoff. Only a file that
passed its verification is renamed to its final name, so anything under a
final name in the cache has been verified, and a file that failed is deleted.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from pathlib import Path

import requests
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
_TRANSIENT = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
)


class NotFoundError(BuildError):
    """The server says the file does not exist (HTTP 404/410); retrying will not help."""


class _Retry(Exception):
    """One attempt failed in a way worth retrying."""


def download(
    url: str,
    dest: Path,
    *,
    verify: Callable[[Path], None] | None = None,
    offline: bool = False,
    retries: int = 4,
    backoff: float = 0.5,
    timeout: float = 30.0,
    session: requests.Session | None = None,
    console: Console | None = None,
    show_progress: bool = True,
) -> Path:
    """Make *dest* hold the verified contents of *url*, downloading only what is missing.

    :param verify: called with the complete ``.part`` file; raising rejects it
        (the part file is then deleted and the error propagates).
    :param offline: use only the cache; a missing file is an error naming it.
    :raises NotFoundError: the server has no such file.
    :raises BuildError: offline and not cached, retries exhausted, or a
        non-retryable HTTP error; verification errors propagate as raised.
    """
    if dest.is_file():
        _verify_or_drop(dest, verify)
        return dest
    if offline:
        raise BuildError(f"offline: {dest.name} is not in the download cache ({dest.parent})")
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    http = session or requests.Session()
    last_error = ""
    for attempt in range(retries + 1):
        if attempt:
            time.sleep(backoff * 2 ** (attempt - 1))
        try:
            _attempt(http, url, part, timeout, console, show_progress)
            break
        except _Retry as exc:
            last_error = str(exc)
    else:
        raise BuildError(
            f"download of {url} failed after {retries + 1} attempts: {last_error}"
            f" (partial data kept in {part.name} for the next try)"
        )
    _verify_or_drop(part, verify)
    os.replace(part, dest)
    return dest


def _verify_or_drop(path: Path, verify: Callable[[Path], None] | None) -> None:
    if verify is None:
        return
    try:
        verify(path)
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def _attempt(
    http: requests.Session,
    url: str,
    part: Path,
    timeout: float,
    console: Console | None,
    show_progress: bool,
) -> None:
    have = part.stat().st_size if part.exists() else 0
    headers = {"Range": f"bytes={have}-"} if have else {}
    try:
        response = http.get(url, headers=headers, stream=True, timeout=timeout)
    except _TRANSIENT as exc:
        raise _Retry(f"{type(exc).__name__}: {exc}") from exc
    with contextlib.closing(response):
        if response.status_code in (404, 410):
            part.unlink(missing_ok=True)
            raise NotFoundError(f"{url}: not found (HTTP {response.status_code})")
        if response.status_code == 416 and have:
            # Our part file is at least as long as the resource: start over.
            part.unlink()
            raise _Retry("HTTP 416: partial file does not fit the resource; restarting")
        if response.status_code >= 500:
            raise _Retry(f"HTTP {response.status_code} {response.reason}")
        if response.status_code not in (200, 206):
            raise BuildError(f"{url}: HTTP {response.status_code} {response.reason}")
        resumed = response.status_code == 206
        if not resumed:
            have = 0
        length = response.headers.get("Content-Length")
        total = have + int(length) if length and length.isdigit() else None
        received = have
        with (
            _progress(console, show_progress) as progress,
            part.open("ab" if resumed else "wb") as out,
        ):
            task = progress.add_task(part.name.removesuffix(".part"), total=total, completed=have)
            try:
                for chunk in response.iter_content(_CHUNK):
                    out.write(chunk)
                    received += len(chunk)
                    progress.update(task, completed=received)
            except _TRANSIENT as exc:
                raise _Retry(f"connection lost after {received} bytes: {exc}") from exc
        if total is not None and received < total:
            raise _Retry(f"connection closed after {received} of {total} bytes")


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
