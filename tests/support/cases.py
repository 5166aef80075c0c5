"""Small cases the CLI tests share: a write and read-back on real QEMU, and its golden."""

WRITE_READ = """
from iotests import lib
img = lib.test_image()
lib.create(img, "1M")
lib.qemu_io(img, "write -P 0x5a 0 4k", "read -P 0x5a 0 4k")
lib.check_image(img)
"""
WRITE_READ_GOLDEN = """
Formatting 'TEST_DIR/t.img', fmt=IMGFMT size=1048576
wrote 4096/4096 bytes at offset 0
4 KiB, 1 ops; XX:XX:XX.X (XXX YYY/sec and XXX ops/sec)
read 4096/4096 bytes at offset 0
4 KiB, 1 ops; XX:XX:XX.X (XXX YYY/sec and XXX ops/sec)
check: clean
"""
