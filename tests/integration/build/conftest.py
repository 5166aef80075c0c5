"""Fixtures for the build integration tests (helpers live in build_fixtures.py)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from iotests.build.config import CACHE_ENV, CONFIG_ENV

from .build_fixtures import FileServer, GpgKey, handler, make_gpg_key


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Real QEMU builds here run only when asked for with ``-m`` naming ``slow``.

    A plain ``pytest`` must never start a multi-minute compile by surprise
    (and CI includes the build exactly once, in the job that asks for it).
    """
    if "slow" in (config.getoption("markexpr") or ""):
        return
    here = Path(__file__).parent
    skip = pytest.mark.skip(reason="builds QEMU (minutes): select it with -m slow")
    for item in items:
        if item.get_closest_marker("slow") and here in item.path.parents:
            item.add_marker(skip)


@pytest.fixture
def file_server() -> Iterator[FileServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    state = FileServer(url=f"http://127.0.0.1:{server.server_address[1]}/")
    server.RequestHandlerClass = handler(state)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def gpg_key(tmp_path: Path) -> GpgKey:
    return make_gpg_key(tmp_path / "gnupg", "release")


@pytest.fixture
def config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A config with a private cache dir, selected through IOTESTS_CONFIG."""
    path = tmp_path / "iotests.yaml"
    path.write_text(f"build:\n  cache_dir: {tmp_path / 'cache'}\n")
    monkeypatch.setenv(CONFIG_ENV, str(path))
    monkeypatch.delenv(CACHE_ENV, raising=False)
    return path
