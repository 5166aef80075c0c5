"""qemu-nbd serving an image file to a case, started and stopped within a ``with`` block.

qemu-nbd writes its ``--pid-file`` only once its socket listens, so
:class:`QemuNBD` is ready when that file appears (polled, with a timeout),
never after a guessed sleep. TCP servers bind 127.0.0.1 only, on a port
that was free a moment before; if another process takes it in between,
qemu-nbd fails to bind and is started again on a new port.
"""

from __future__ import annotations

import itertools
import signal
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from iotests.lib.env import case_env
from iotests.lib.errors import ServerError
from iotests.lib.names import LOOPBACK, Endpoint, free_port
from iotests.lib.process import ManagedProcess

_counter = itertools.count()


class QemuNBD(ManagedProcess, Endpoint):
    """A ``qemu-nbd`` serving *image*, reaped when the ``with`` block ends.

    :param fmt: the image's format (``-f``); None lets qemu-nbd probe.
    :param tcp: listen on 127.0.0.1 and a free port instead of a Unix socket.
    :param export: export name (``-x``); description (``-D``).
    :param read_only: ``--read-only``.
    :param shared: how many clients at once (``-e``); with *persistent*
        (``-t``) the server stays up after its last client leaves.
    :param bitmaps: dirty bitmaps to expose (``-B NAME`` each).
    :param extra: further qemu-nbd arguments.

    When the server is reaped, how it ended is judged: death by a signal
    that :meth:`stop` did not send, or a sanitizer report, assertion or
    crash message in its log, is recorded as evidence that fails the case.
    """

    def __init__(
        self,
        image: str,
        fmt: str | None = None,
        *,
        tcp: bool = False,
        export: str = "",
        description: str | None = None,
        read_only: bool = False,
        shared: int | None = None,
        persistent: bool = True,
        bitmaps: Sequence[str] = (),
        extra: Sequence[str] = (),
        image_opts: bool = False,
        timeout: float = 10.0,
    ) -> None:
        env = case_env()
        n = next(_counter)
        super().__init__(env.prog("qemu-nbd"), env.test_dir / f"qemu-nbd{n}.log", timeout=timeout)
        self.sock: str | None = None if tcp else str(env.sock_dir / f"nbd{n}.sock")
        self.port: int | None = None
        self.export = export
        self.pid_file = env.test_dir / f"qemu-nbd{n}.pid"
        args: list[str] = []
        if image_opts:
            args.append("--image-opts")
        elif fmt is not None:
            args += ["-f", fmt]
        if export:
            args += ["-x", export]
        if description is not None:
            args += ["-D", description]
        if read_only:
            args.append("--read-only")
        if shared is not None:
            args += ["-e", str(shared)]
        if persistent:
            args.append("-t")
        for name in bitmaps:
            args += ["-B", name]
        self._args = [*args, *extra, image]

    def __enter__(self) -> QemuNBD:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Start qemu-nbd and return once it listens.

        :raises ServerError: when it exits first (its output is in the message)
            or is not listening within the timeout.
        """
        for _attempt in range(5):
            if self._launch():
                return
            if "Address already in use" not in self.output():
                break
        raise ServerError(f"qemu-nbd did not start: {self.output().strip()}", output=self.output())

    def _launch(self) -> bool:
        self.pid_file.unlink(missing_ok=True)
        self.log_file.unlink(missing_ok=True)
        if self.sock is not None:
            Path(self.sock).unlink(missing_ok=True)
            where = ["-k", self.sock]
        else:
            self.port = free_port()
            where = ["-b", LOOPBACK, "-p", str(self.port)]
        proc = self._spawn([self.prog, "--pid-file", str(self.pid_file), *where, *self._args])
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self.pid_file.exists() and self.pid_file.read_text().strip():
                return True
            if proc.poll() is not None:
                self.stop()
                return False
            time.sleep(0.01)
        self.stop()
        raise ServerError(
            f"qemu-nbd not listening after {self.timeout}s: {self.output()}", output=self.output()
        )

    def stop(self, *, sig: int = signal.SIGTERM) -> int | None:
        """Stop the server (SIGTERM by default, SIGKILL to simulate a crash) and reap it.

        Death by *sig* is the case's own doing; death by any other signal
        (a SIGSEGV while handling the SIGTERM) is a crash.
        """
        self._signal(sig)
        code = self._reap(max(5.0, self.timeout / 2))
        if self.sock is not None:
            Path(self.sock).unlink(missing_ok=True)
        return code

    def _close(self) -> None:
        self.stop()

    def wait(self, timeout: float = 10.0) -> int | None:
        """Wait for a non-persistent server to exit by itself after its client left."""
        if self._proc is None:
            return self.exitcode
        code = self._proc.wait(timeout)
        if code is not None:
            self.stop()
        return code
