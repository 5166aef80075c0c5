"""Block jobs over QMP: start, follow their status transitions, finish them.

QEMU announces every status change of a job with a ``JOB_STATUS_CHANGE``
event. :class:`Job` consumes those events in order and prints each
transition (``job0: running``), so a golden records the job's whole life
(created, running, ready, paused, waiting, pending, concluded, null) and a
job that skips or repeats a state shows up as a diff. Every wait has a
timeout: a stuck job fails the case, it never hangs it.
"""

from __future__ import annotations

from typing import Any

from iotests.lib.errors import QMPTimeout
from iotests.lib.output import log
from iotests.lib.qmp import Message, QMPServer

#: Statuses after which a job never runs again.
FINAL = ("concluded", "null")
#: Job types that announce their end with BLOCK_JOB_COMPLETED / BLOCK_JOB_CANCELLED.
BLOCK_JOB_TYPES = ("commit", "stream", "mirror", "backup")


class Job:
    """A block job *job_id* on *server*, started by :meth:`start` or already running.

    :param log_transitions: print each status change as it is consumed.
    """

    def __init__(self, server: QMPServer, job_id: str, *, log_transitions: bool = True) -> None:
        self.server = server
        self.id = job_id
        self.log_transitions = log_transitions
        self.status = "undefined"
        self.history: list[str] = []
        self._user_paused = False
        self._held: str | None = None
        #: The job's type from query-jobs (``mirror``, ``create``, ...), once known.
        self.type: str | None = None

    @classmethod
    def start(
        cls,
        server: QMPServer,
        cmd: str,
        job_id: str = "job0",
        *,
        log_transitions: bool = True,
        quiet: bool | None = None,
        **args: Any,
    ) -> Job:
        """Run *cmd* (``blockdev-backup``, ``block-commit``, ...) with ``job-id`` *job_id*.

        :raises QMPCommandError: when QEMU refuses to start the job.
        """
        job = cls(server, job_id, log_transitions=log_transitions)
        server.ok(cmd, {"job-id": job_id}, quiet=quiet, **args)
        info = job.info()
        job.type = str(info["type"]) if info else None
        return job

    def _advance(self, event: Message) -> None:
        status = str(event["data"]["status"])
        self.status = status
        self.history.append(status)
        if not self.log_transitions:
            return
        # QEMU pauses every job briefly while it drains the block graph (an
        # export or node added elsewhere); such a pause, ended by the next
        # event, is not part of the job's story and would make goldens
        # depend on unrelated commands. Pauses the case asked for are shown.
        if self._held is not None:
            held, self._held = self._held, None
            if (held, status) in (("paused", "running"), ("standby", "ready")):
                return
            log(f"{self.id}: {held}")
        if status in ("paused", "standby") and not self._user_paused:
            self._held = status
            return
        log(f"{self.id}: {status}")

    def wait_status(self, *statuses: str, timeout: float = 30.0) -> str:
        """Consume status changes until one of *statuses* (or a final status) is reached.

        :raises QMPTimeout: when none is reached in *timeout* seconds.
        """
        while self.status not in statuses:
            if self.status in FINAL and not set(statuses) & set(FINAL):
                raise QMPTimeout(f"{self.id} ended ({self.status}) before {'/'.join(statuses)}")
            event = self.server.event_wait("JOB_STATUS_CHANGE", {"id": self.id}, timeout=timeout)
            self._advance(event)
        return self.status

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Until the job is ready (mirror, active commit) and its BLOCK_JOB_READY came."""
        self.wait_status("ready", timeout=timeout)
        self.server.event_wait("BLOCK_JOB_READY", {"device": self.id}, timeout=timeout)

    def wait_concluded(self, timeout: float = 30.0) -> Message:
        """Until the job has concluded; return its completion event's data.

        The data of ``BLOCK_JOB_COMPLETED`` or ``BLOCK_JOB_CANCELLED`` is
        returned as ``{"event": NAME, **data}`` (an ``error`` key tells a
        failure).
        """
        self.wait_status("concluded", "null", timeout=timeout)
        return self._completion(timeout)

    def _completion(self, timeout: float) -> Message:
        if self.type is not None and self.type not in BLOCK_JOB_TYPES:
            # Not a block job (blockdev-create, ...): no BLOCK_JOB_* event;
            # such jobs wait concluded for job-dismiss, so query-jobs has the result.
            info = self.info() or {}
            return {"event": "JOB_CONCLUDED", **info}
        for name in ("BLOCK_JOB_COMPLETED", "BLOCK_JOB_CANCELLED"):
            try:
                event = self.server.event_wait(name, {"device": self.id}, timeout=0.0)
            except QMPTimeout:
                continue
            return {"event": name, **event.get("data", {})}
        event = self.server.event_wait("BLOCK_JOB_COMPLETED", {"device": self.id}, timeout=timeout)
        return {"event": "BLOCK_JOB_COMPLETED", **event.get("data", {})}

    def info(self) -> dict[str, Any] | None:
        """This job's entry of ``query-jobs``, or None when QEMU no longer lists it."""
        for job in self.server.ok("query-jobs", quiet=True):
            if job["id"] == self.id:
                found: dict[str, Any] = job
                return found
        return None

    def block_info(self) -> dict[str, Any] | None:
        """This job's entry of ``query-block-jobs`` (speed, offset, len, ready, ...)."""
        for job in self.server.ok("query-block-jobs", quiet=True):
            if job["device"] == self.id:
                found: dict[str, Any] = job
                return found
        return None

    def complete(self) -> None:
        self.server.ok("job-complete", id=self.id)

    def cancel(self, *, force: bool = False) -> None:
        if force:
            self.server.ok("block-job-cancel", device=self.id, force=True)
        else:
            self.server.ok("job-cancel", id=self.id)

    def pause(self) -> None:
        self._user_paused = True
        self.server.ok("job-pause", id=self.id)

    def resume(self) -> None:
        self._user_paused = False
        self.server.ok("job-resume", id=self.id)

    def finalize(self) -> None:
        self.server.ok("job-finalize", id=self.id)

    def dismiss(self) -> None:
        self.server.ok("job-dismiss", id=self.id)
        self.wait_status("null")

    def set_speed(self, speed: int) -> None:
        self.server.ok("block-job-set-speed", device=self.id, speed=speed)


def run_job(
    server: QMPServer,
    cmd: str,
    job_id: str = "job0",
    *,
    complete: bool = False,
    timeout: float = 30.0,
    quiet: bool | None = None,
    **args: Any,
) -> Message:
    """Start a job, drive it to the end and return its completion event data.

    With *complete*, the job (a mirror or active commit) is completed once
    it is ready. A job started with ``auto-dismiss: false`` is dismissed.
    The completion is printed as ``job0: completed`` (or ``... error: MSG``
    or ``cancelled``).
    """
    job = Job.start(server, cmd, job_id, quiet=quiet, **args)
    if complete:
        job.wait_ready(timeout)
        job.complete()
    result = job.wait_concluded(timeout)
    log_completion(job.id, result)
    if job.status == "concluded" and job.info() is not None:
        job.dismiss()
    else:
        job.wait_status("null", timeout=timeout)
    return result


def log_completion(job_id: str, result: Message) -> None:
    """Print how a job ended, without volatile progress figures."""
    if result["event"] == "BLOCK_JOB_CANCELLED":
        log(f"{job_id}: cancelled")
    elif "error" in result:
        log(f"{job_id}: error: {result['error']}")
    else:
        log(f"{job_id}: completed")
