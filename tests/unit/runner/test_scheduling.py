"""Longest-first ordering and the timing store."""

from __future__ import annotations

from pathlib import Path

from iotests.runner.scheduling import TimingStore, longest_first


def test_longest_first_with_unknowns_first() -> None:
    order = longest_first(["a", "b", "c", "d", "e"], {"a": 1.0, "b": 30.0, "d": 5.0})
    assert order == ["c", "e", "b", "d", "a"]


def test_ties_keep_given_order() -> None:
    assert longest_first(["x", "y", "z"], {"x": 2.0, "y": 2.0, "z": 2.0}) == ["x", "y", "z"]


def test_objects_by_name() -> None:
    class Item:
        def __init__(self, name: str) -> None:
            self.name = name

    items = [Item("p"), Item("q")]
    assert [i.name for i in longest_first(items, {"p": 1.0, "q": 9.0})] == ["q", "p"]


def test_store_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "timings.json"
    store = TimingStore(path)
    store.record("qcow2-file", "001", 1.23456)
    store.record("raw-file", "001", 0.5)
    store.save()
    again = TimingStore(path)
    assert again.durations("qcow2-file") == {"001": 1.235}
    assert again.durations("raw-file") == {"001": 0.5}
    assert again.durations("vdi-file") == {}
    assert sorted(p.name for p in path.parent.iterdir()) == [".timings.json.lock", "timings.json"]


def test_store_merges_with_what_another_run_saved_meanwhile(tmp_path: Path) -> None:
    path = tmp_path / "timings.json"
    TimingStore(path).save()  # nothing recorded: no file written
    assert not path.exists()
    first, second = TimingStore(path), TimingStore(path)
    first.record("qcow2-file", "001", 1.0)
    second.record("raw-file", "001", 2.0)
    second.record("qcow2-file", "002", 3.0)
    second.save()
    first.save()
    again = TimingStore(path)
    assert again.durations("qcow2-file") == {"001": 1.0, "002": 3.0}
    assert again.durations("raw-file") == {"001": 2.0}


def test_store_tolerates_garbage(tmp_path: Path) -> None:
    path = tmp_path / "timings.json"
    path.write_text("{not json")
    assert TimingStore(path).durations("qcow2-file") == {}
    path.write_text('{"qcow2-file": {"001": "slow", "002": 3}}')
    assert TimingStore(path).durations("qcow2-file") == {"002": 3.0}


def test_store_keeps_cpu_next_to_wall(tmp_path: Path) -> None:
    path = tmp_path / "timings.json"
    store = TimingStore(path)
    store.record("qcow2-file", "001", 2.0, cpu=0.25)
    store.record("qcow2-file", "002", 1.0)
    store.save()
    again = TimingStore(path)
    assert again.durations("qcow2-file") == {"001": 2.0, "002": 1.0}
    assert again.cpu("qcow2-file") == {"001": 0.25}


def test_store_reads_the_older_plain_number_layout(tmp_path: Path) -> None:
    path = tmp_path / "timings.json"
    path.write_text(
        '{"raw-file": {"001": 1.5, "002": {"cpu": 1}, "003": {"wall": 2, "cpu": true}}}'
    )
    store = TimingStore(path)
    assert store.durations("raw-file") == {"001": 1.5, "003": 2.0}
    assert store.cpu("raw-file") == {}
