"""qemu-iotests toolkit: build QEMU and run block-layer I/O test cases against it."""

__version__ = "0.1.0"
