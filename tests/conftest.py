"""Settings every test of the toolkit shares."""

from __future__ import annotations

import signal

# The drills press Ctrl-C (send SIGINT) to runs they start, as a user at a
# terminal would. A shell without job control starts its background commands
# with SIGINT ignored, and an ignored signal stays ignored across exec: under
# `cmd &`, nohup-like wrappers or a CI script that backgrounds its steps, every
# run these tests start would ignore their Ctrl-C (as it rightly should for its
# own parent) and each such test would hang to its timeout. A handler (not an
# ignore) is reset to the default at exec, so the runs see a terminal's SIGINT.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)
