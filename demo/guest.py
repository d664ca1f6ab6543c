#!/usr/bin/env python3
"""make demo, act 2: a Linux guest (QEMU, TCG) on a uvdpa device's
vhost-user socket; prints what the guest saw. Usage: guest.py SOCKET"""
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "e2e"))
import guest  # noqa: E402

SCRIPT = r"""
wait_for /dev/vda 10
echo "guest: /dev/vda is $(blockdev --getsize64 /dev/vda) bytes ($(cat /sys/block/vda/size) sectors)"
echo "guest: $(cat /sys/block/vda/queue/logical_block_size)-byte blocks, requests of up to $(cat /sys/block/vda/queue/max_segments) segments of $(cat /sys/block/vda/queue/max_segment_size) bytes"
yes "hello from the guest" | head -c 1048576 >/tmp/want
dd if=/tmp/want of=/dev/vda bs=1M seek=7 count=1 oflag=direct 2>/dev/null || fail "write"
dd if=/dev/vda of=/tmp/got bs=1M skip=7 count=1 iflag=direct 2>/dev/null || fail "read"
cmp -s /tmp/want /tmp/got || fail "read back differs"
echo "guest: wrote 1 MiB at 7 MiB with O_DIRECT and read it back: identical"
"""


def main():
    why = guest.unavailable_reason()
    if why:
        print("(no guest: %s; make deps installs QEMU and the kernel)" % why)
        return 0
    work = tempfile.mkdtemp(prefix="uvdpa-demo-guest-")
    image = guest.GuestImage.build(os.path.join(work, "image"))
    res = guest.run_guest(image, SCRIPT, work, timeout=120, name="demo",
                          extra_args=guest.vhost_user_blk_args(sys.argv[1]))
    for line in res.console.splitlines():
        if line.startswith(("guest:", "FAIL")):
            print(line)
    print("guest booted, ran and powered off in %.1f s (TCG)" % res.duration)
    return 0 if res.status == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
