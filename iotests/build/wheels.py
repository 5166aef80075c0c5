"""Fetching the pure-Python wheels QEMU's configure installs offline, without pip.

Debian strips ``python/wheels`` from its QEMU source tarballs; configure
(8.1 on) then needs meson's wheels there. The interpreter the toolkit runs
in may have no pip at all (a uv-made virtual environment, Debian's python3
without python3-pip), so the wheels are found through the package index's
JSON simple API (PEP 691, which PyPI, devpi and the other mirrors serve) and
downloaded like any release file: into the download cache, each checked
against the SHA-256 the index lists before it gets its final name.
"""

from __future__ import annotations

import hashlib
import re
import urllib.parse
from pathlib import Path

import requests
from rich.console import Console

from iotests.build import fetch
from iotests.errors import BuildError

_ACCEPT = "application/vnd.pypi.simple.v1+json"


def normalise(name: str) -> str:
    """A project name as the simple API spells it (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def wheel_stem(name: str, version: str) -> str:
    """How a wheel file of *name* at *version* begins (PEP 427 escapes '-' as '_')."""
    return f"{re.sub(r'[-_.]+', '_', name)}-{version}-"


def pick_wheel(files: list[dict[str, object]], name: str, version: str) -> tuple[str, str, str]:
    """The (file name, URL, sha256) of the pure-Python wheel of *name* at *version*.

    :raises BuildError: when the index lists no such wheel or no SHA-256 for it.
    """
    stem = wheel_stem(name, version).lower()
    for entry in files:
        filename = str(entry.get("filename", ""))
        if not filename.lower().startswith(stem) or not filename.endswith("-none-any.whl"):
            continue
        if entry.get("yanked"):
            continue
        hashes = entry.get("hashes")
        digest = hashes.get("sha256") if isinstance(hashes, dict) else None
        if not isinstance(digest, str):
            raise BuildError(f"the index lists {filename} without a SHA-256; not fetching it")
        return filename, str(entry.get("url", "")), digest
    raise BuildError(f"the package index has no pure-Python wheel of {name} {version}")


def fetch_wheel(
    name: str,
    version: str,
    folder: Path,
    *,
    index_url: str,
    offline: bool = False,
    console: Console | None = None,
    show_progress: bool = True,
    session: requests.Session | None = None,
) -> Path:
    """Make *folder* hold the wheel of *name* at *version*, checked against the index's SHA-256.

    :raises BuildError: one line naming the wheel and what went wrong (offline
        and not cached, the index unreachable or without that wheel, a bad digest).
    """
    cached = sorted(folder.glob(f"{wheel_stem(name, version)}*.whl"))
    if cached:
        return cached[-1]
    if offline:
        raise BuildError(f"offline: the wheel of {name} {version} is not in {folder}")
    page = f"{index_url.rstrip('/')}/{normalise(name)}/"
    fetch.check_url(page)
    http = session or requests.Session()
    try:
        answer = http.get(page, headers={"Accept": _ACCEPT}, timeout=30)
    except requests.RequestException as exc:
        raise BuildError(f"{page}: {fetch.describe(exc)}") from exc
    if answer.status_code == 404:
        raise BuildError(f"{page}: the package index has no project {name} (HTTP 404)")
    if answer.status_code != 200:
        raise BuildError(f"{page}: HTTP {answer.status_code} {answer.reason}")
    try:
        files = answer.json()["files"]
    except (ValueError, KeyError, TypeError):
        raise BuildError(
            f"{page}: not a JSON simple index (PEP 691); set build.python_index to one that is"
        ) from None
    filename, url, digest = pick_wheel(files, name, version)
    url = urllib.parse.urljoin(page, url)

    def verify(part: Path) -> bool:
        got = hashlib.sha256(part.read_bytes()).hexdigest()
        if got != digest:
            raise BuildError(f"{url}: SHA-256 {got} is not the index's {digest}")
        return True

    return fetch.download(
        url, folder / filename, verify=verify, session=http, console=console,
        show_progress=show_progress,
    )  # fmt: skip
