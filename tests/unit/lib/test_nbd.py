"""The pure parts of iotests.lib.nbd: URIs, --image-opts strings, dirty extents."""

from __future__ import annotations

import socket

import pytest

from iotests.lib import nbd


def test_unix_uri_names_socket_and_export() -> None:
    assert nbd.unix_uri("/s/n.sock", "exp") == "nbd+unix:///exp?socket=/s/n.sock"


def test_tcp_uri_is_loopback_by_default() -> None:
    assert nbd.tcp_uri(10809) == "nbd://127.0.0.1:10809/"


def test_image_opts_with_bitmap_uses_dirty_bitmap_context() -> None:
    opts = nbd.image_opts(sock="/s/n.sock", export="e", bitmap="b0")
    assert opts.split(",") == [
        "driver=raw",
        "file.driver=nbd",
        "file.server.type=unix",
        "file.server.path=/s/n.sock",
        "file.export=e",
        "file.x-dirty-bitmap=qemu:dirty-bitmap:b0",
    ]


def test_image_opts_tcp_and_custom_context() -> None:
    opts = nbd.image_opts(port=1234, context="qemu:allocation-depth")
    assert "file.server.host=127.0.0.1" in opts
    assert "file.server.port=1234" in opts
    assert opts.endswith("file.x-dirty-bitmap=qemu:allocation-depth")


def test_image_opts_needs_an_address() -> None:
    with pytest.raises(ValueError, match="sock or port"):
        nbd.image_opts()


@pytest.mark.parametrize(
    ("mapping", "extents"),
    [
        ([], []),
        ([{"start": 0, "length": 10, "data": True}], []),
        (
            [
                {"start": 0, "length": 4, "data": False},
                {"start": 4, "length": 4, "data": False},
                {"start": 8, "length": 8, "data": True},
                {"start": 16, "length": 2, "data": False},
            ],
            [(0, 8), (16, 2)],
        ),
    ],
)
def test_dirty_extents_merges_neighbours(
    mapping: list[dict[str, int | bool]], extents: list[tuple[int, int]]
) -> None:
    assert nbd.dirty_extents(mapping) == extents


def test_free_port_is_bindable_on_loopback() -> None:
    port = nbd.free_port()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((nbd.LOOPBACK, port))
