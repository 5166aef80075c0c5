"""``qemu-img snapshot -l`` read the same from every QEMU release's layout."""

from __future__ import annotations

from iotests.lib.chain import listed_snapshots

# QEMU 7.2 (block/qapi.c before "block/qapi: fix misaligned snapshot list").
OLD = """\
Snapshot list:
ID        TAG               VM SIZE                DATE     VM CLOCK     ICOUNT
1         same name             0 B 2026-12-01 22:00:00 0000:00:00.000          0
2         same name             0 B 2026-12-01 22:00:01 0000:00:00.000          0
3         1                     0 B 2026-12-01 22:00:02 0000:00:00.000          0
"""

# QEMU 10.0: underscores in the header, a narrower ID column, "--" for no icount.
NEW = """\
Snapshot list:
ID      TAG               VM_SIZE                DATE        VM_CLOCK     ICOUNT
1       same name             0 B 2026-12-01 22:00:00 0000:00:00.000          0
2       same name             0 B 2026-12-01 22:00:01 0000:00:00.000          0
3       1                     0 B 2026-12-01 22:00:02 0000:00:00.000         --
"""

ROWS = [("1", "same name"), ("2", "same name"), ("3", "1")]


def test_both_layouts_give_the_same_rows() -> None:
    assert listed_snapshots(OLD) == ROWS
    assert listed_snapshots(NEW) == ROWS


def test_vm_state_sizes_with_units_and_the_info_form() -> None:
    # `qemu-img info` prints the same table under its own heading.
    text = (
        "image: t.img\nSnapshot list:\n"
        "ID      TAG               VM_SIZE                DATE        VM_CLOCK     ICOUNT\n"
        "1       with vm state   2.03 GiB 2026-09-02 13:04:21 0000:41:12.831          0\n"
        "Format specific information:\n    compat: 1.1\n"
    )
    assert listed_snapshots(text) == [("1", "with vm state")]


def test_nothing_before_the_header_counts() -> None:
    assert listed_snapshots("1  x  0 B 2026-01-01 00:00:00\n") == []
    assert listed_snapshots("") == []
