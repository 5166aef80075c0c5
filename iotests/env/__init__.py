"""The QEMU binaries a run uses and what they can do."""
