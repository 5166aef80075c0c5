"""guest_view: which images get an NBD server in front of them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from iotests.lib import env, protocol


@pytest.fixture
def proto(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[pytest.MonkeyPatch]:
    monkeypatch.setenv("TEST_DIR", str(tmp_path))
    env.case_env.cache_clear()
    yield monkeypatch
    env.case_env.cache_clear()


def test_file_protocol_opens_the_image_itself(proto: pytest.MonkeyPatch) -> None:
    proto.setenv("IMGPROTO", "file")
    env.case_env.cache_clear()
    with protocol.guest_view("/x/t.img", "qcow2") as view:
        assert view == ("/x/t.img", "qcow2")


@pytest.mark.parametrize("target", ['json:{"driver": "null-co"}', "driver=null-co", "/no/such"])
def test_nbd_leaves_what_is_not_an_image_file_alone(proto: pytest.MonkeyPatch, target: str) -> None:
    proto.setenv("IMGPROTO", "nbd")
    env.case_env.cache_clear()
    with protocol.guest_view(target, "raw") as view:
        assert view == (target, "raw")
