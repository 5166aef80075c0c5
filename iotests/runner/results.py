"""Statuses and results: the data every reporter and merger consumes."""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass
from typing import Any


class Status(enum.Enum):
    PASS = "pass"
    FAIL = "fail"
    TIMEOUT = "timeout"
    NOT_RUN = "not run"
    INTERRUPTED = "interrupted"
    #: The runner could not run or judge the case (an unusable results
    #: directory, a full disk, a bug in the runner): no verdict on QEMU.
    ERROR = "error"
    #: Failed, and listed as a known failure that applies and has not expired.
    KNOWN = "known"
    #: Failed, then passed when re-run alone (``--rerun-failures``).
    FLAKY = "flaky"

    @property
    def failed(self) -> bool:
        """Whether this status makes the run fail."""
        return self in (Status.FAIL, Status.TIMEOUT, Status.ERROR)


@dataclass(frozen=True)
class CaseResult:
    """What happened to one case in one format/protocol combination."""

    name: str
    format: str
    protocol: str
    status: Status
    reason: str | None = None
    duration: float = 0.0
    #: CPU seconds (user + system) of the case and the processes it waited for.
    cpu: float | None = None
    last_duration: float | None = None
    expected_file: str | None = None
    output_file: str | None = None
    diff: str | None = None
    #: What the case's processes were doing when it timed out (``hang.txt``;
    #: ``hang.json`` beside it holds the same for tools). Reports older than
    #: this field read as None.
    hang_file: str | None = None

    def serialize(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = self.status.value
        return data

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> CaseResult:
        fields = dict(data)
        fields["status"] = Status(fields["status"])
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in fields.items() if k in known})


@dataclass(frozen=True)
class Tally:
    passed: int
    failed: int
    not_run: int
    interrupted: int
    errors: int = 0
    known: int = 0
    flaky: int = 0

    @classmethod
    def of(cls, results: list[CaseResult]) -> Tally:
        return cls(
            passed=sum(r.status is Status.PASS for r in results),
            failed=sum(r.status.failed for r in results),
            not_run=sum(r.status is Status.NOT_RUN for r in results),
            interrupted=sum(r.status is Status.INTERRUPTED for r in results),
            errors=sum(r.status is Status.ERROR for r in results),
            known=sum(r.status is Status.KNOWN for r in results),
            flaky=sum(r.status is Status.FLAKY for r in results),
        )

    def line(self) -> str:
        """The closing line CI systems read: ``N passed, N failed, N skipped``."""
        return f"{self.passed} passed, {self.failed} failed, {self.not_run} skipped"
