"""Job status logging: transitions in order, QEMU's drain pauses left out, the end reported."""

from __future__ import annotations

from typing import Any, cast

import pytest

from iotests.lib import jobs
from iotests.lib.errors import QMPTimeout
from iotests.lib.qmp import QMPServer


class FakeServer:
    """Hands out queued events in order, as a QMP server's backlog would."""

    def __init__(self, statuses: list[str], completion: dict[str, Any] | None = None) -> None:
        self.events: list[dict[str, Any]] = [
            {"event": "JOB_STATUS_CHANGE", "data": {"id": "j", "status": s}} for s in statuses
        ]
        if completion is not None:
            self.events.append(completion)
        self.commands: list[tuple[str, dict[str, Any]]] = []

    def event_wait(
        self, name: str, match: dict[str, Any] | None = None, *, timeout: float = 30.0
    ) -> dict[str, Any]:
        for i, event in enumerate(self.events):
            data = event.get("data", {})
            if event["event"] == name and all(data.get(k) == v for k, v in (match or {}).items()):
                return self.events.pop(i)
        raise QMPTimeout(name)

    def ok(self, cmd: str, args: Any = None, *, quiet: bool | None = None, **kw: Any) -> Any:
        self.commands.append((cmd, kw))
        return [] if cmd.startswith("query") else {}


def job_on(server: FakeServer) -> jobs.Job:
    return jobs.Job(cast("QMPServer", server), "j")


def test_drain_pauses_are_not_logged(capsys: pytest.CaptureFixture[str]) -> None:
    server = FakeServer(["created", "running", "paused", "running", "ready", "standby", "ready"])
    job = job_on(server)
    job.wait_status("ready")
    job.wait_status("standby")
    job.wait_status("ready")
    assert capsys.readouterr().out.split("\n")[:-1] == ["j: created", "j: running", "j: ready"]
    assert job.history[-1] == "ready"


def test_a_pause_the_case_asked_for_is_logged(capsys: pytest.CaptureFixture[str]) -> None:
    server = FakeServer(["created", "running", "paused", "running"])
    job = job_on(server)
    job.wait_status("running")
    job.pause()
    job.wait_status("paused")
    job.resume()
    job.wait_status("running")
    out = capsys.readouterr().out
    assert "j: paused" in out
    assert ("job-pause", {"id": "j"}) in server.commands


def test_a_pause_followed_by_an_end_is_logged(capsys: pytest.CaptureFixture[str]) -> None:
    done = {"event": "BLOCK_JOB_CANCELLED", "data": {"device": "j", "offset": 1, "len": 2}}
    server = FakeServer(["created", "running", "paused", "aborting", "concluded"], done)
    job = job_on(server)
    job.type = "mirror"
    result = job.wait_concluded()
    assert result["event"] == "BLOCK_JOB_CANCELLED"
    assert "j: paused\nj: aborting" in capsys.readouterr().out


def test_waiting_past_the_end_is_an_error() -> None:
    server = FakeServer(["created", "running", "concluded"])
    job = job_on(server)
    with pytest.raises(QMPTimeout, match="before ready"):
        job.wait_status("ready")


def test_completion_is_logged_without_figures(capsys: pytest.CaptureFixture[str]) -> None:
    jobs.log_completion("j", {"event": "BLOCK_JOB_COMPLETED", "offset": 5, "len": 5})
    jobs.log_completion("j", {"event": "BLOCK_JOB_COMPLETED", "error": "Input/output error"})
    jobs.log_completion("j", {"event": "BLOCK_JOB_CANCELLED"})
    assert capsys.readouterr().out == ("j: completed\nj: error: Input/output error\nj: cancelled\n")
