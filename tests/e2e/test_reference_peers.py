"""Prove the e2e harness against reference back ends, before uvdpad has one.

- a Linux guest (QEMU, TCG) on qemu-storage-daemon's vhost-user-blk export:
  the size, data written and read back with O_DIRECT at several offsets,
  and the same data seen in the raw file on the host (both directions);
- the same check against a null-co export must fail (negative control);
- DPDK testpmd's virtio-user against testpmd's vhost PMD: packets circulate;
- a Linux guest's virtio-net (vhost-user) against testpmd's vhost PMD in io
  forward mode: every frame the guest sends comes back.
"""
import hashlib
import os
import re
import time

from guest import run_guest, vhost_user_blk_args, vhost_user_net_args
from peers import StorageDaemon, TestPmd, pick_cpus

MiB = 1 << 20
DISK_SIZE = 128 * MiB
BLOCK = 4096
# (offset, length): first block, an unaligned-to-MiB block, a 1 MiB write
# (several segments per request), the middle, the last block of the disk
WRITES = [(0, BLOCK), (4096 * 3, BLOCK), (1 * MiB, BLOCK), (32 * MiB, MiB),
          (64 * MiB - BLOCK, BLOCK), (DISK_SIZE - BLOCK, BLOCK)]
HOST_OFFSET = 96 * MiB  # the host writes here, the guest reads it


def pattern(tag: str, length: int) -> bytes:
    """The bytes both sides generate: `yes TAG | head -c LENGTH` in the guest."""
    line = (tag + "\n").encode()
    return (line * (length // len(line) + 1))[:length]


# The guest generates every pattern the same way as pattern() above, writes
# each with O_DIRECT, reads all back with O_DIRECT and compares; it also
# prints the md5 of what it read so the host can cross-check.
BLK_SCRIPT = r"""
wait_for /dev/vda 10
sectors=$(cat /sys/block/vda/size)
echo "vda: $sectors sectors, $(blockdev --getsize64 /dev/vda) bytes"
[ "$sectors" -eq {sectors} ] || fail "vda has $sectors sectors, want {sectors}"
writes="{writes}"
for w in $writes; do
	off=${{w%:*}}; len=${{w#*:}}
	yes "uvdpa-e2e $off" | head -c $len >/tmp/want
	dd if=/tmp/want of=/dev/vda bs=$len seek=$((off / len)) count=1 oflag=direct 2>/tmp/dd.err ||
		{{ cat /tmp/dd.err; fail "write of $len at $off"; }}
done
bad=0
for w in $writes; do
	off=${{w%:*}}; len=${{w#*:}}
	yes "uvdpa-e2e $off" | head -c $len >/tmp/want
	dd if=/dev/vda of=/tmp/got bs=$len skip=$((off / len)) count=1 iflag=direct 2>/tmp/dd.err ||
		{{ cat /tmp/dd.err; fail "read of $len at $off"; }}
	if cmp -s /tmp/want /tmp/got; then
		echo "readback ok $off $len $(md5sum </tmp/got | cut -d' ' -f1)"
	else
		echo "readback MISMATCH $off $len"; bad=1
	fi
done
[ $bad -eq 0 ] || fail "read-back mismatch"
yes "uvdpa-e2e host {host_off}" | head -c {block} >/tmp/want
dd if=/dev/vda of=/tmp/got bs={block} skip=$(({host_off} / {block})) count=1 iflag=direct 2>/dev/null
cmp -s /tmp/want /tmp/got || fail "host-written block at {host_off} not seen"
echo "host block ok"
"""


def blk_script(sectors: int) -> str:
    return BLK_SCRIPT.format(sectors=sectors, block=BLOCK, host_off=HOST_OFFSET,
                             writes=" ".join(f"{o}:{n}" for o, n in WRITES))


def test_guest_on_qsd_vhost_user_blk(guest_image, workdir, shm_file, qsd_available):
    disk = shm_file(DISK_SIZE)
    with open(disk, "r+b") as f:
        f.seek(HOST_OFFSET)
        f.write(pattern(f"uvdpa-e2e host {HOST_OFFSET}", BLOCK))
    sock = os.path.join(workdir, "blk.sock")
    with StorageDaemon.raw_file(sock, disk, workdir, aio="io_uring") as qsd:
        res = run_guest(guest_image, blk_script(DISK_SIZE // 512), workdir,
                        extra_args=vhost_user_blk_args(sock), timeout=90, name="blk")
        assert qsd.alive(), qsd.log()
    print(f"guest: {res.duration:.1f} s wall, /test.sh started at {res.test_started_at} s uptime")
    res.check()

    # what the guest wrote is in the file, byte for byte
    with open(disk, "rb") as f:
        for off, n in WRITES:
            f.seek(off)
            data = f.read(n)
            assert data == pattern(f"uvdpa-e2e {off}", n), f"file differs at {off}+{n}"
            m = re.search(rf"readback ok {off} {n} ([0-9a-f]{{32}})", res.console)
            assert m and m.group(1) == hashlib.md5(data).hexdigest(), f"md5 at {off}"
        # and nothing else was touched: a block between two writes is still zero
        f.seek(2 * MiB)
        assert f.read(BLOCK) == bytes(BLOCK)


def test_guest_data_check_fails_on_null_co(guest_image, workdir, qsd_available):
    """Negative control: null-co discards writes, so the same check must fail."""
    sock = os.path.join(workdir, "null.sock")
    with StorageDaemon.null(sock, workdir, size=DISK_SIZE):
        res = run_guest(guest_image, blk_script(DISK_SIZE // 512), workdir,
                        extra_args=vhost_user_blk_args(sock), timeout=90, name="null")
    assert res.status == 1, res.tail()          # ran, and failed its check
    assert f"vda: {DISK_SIZE // 512} sectors" in res.console
    assert "readback MISMATCH 0 4096" in res.console
    assert "FAIL: read-back mismatch" in res.console


def test_testpmd_virtio_user_against_vhost_pmd(workdir, hugepages):
    sock = os.path.join(workdir, "vhost-net.sock")
    cpu_a, cpu_b = pick_cpus()
    with TestPmd.vhost(sock, workdir, cpu=cpu_b) as vhost:
        assert os.path.exists(sock), vhost.output()[-2000:]
        vhost.cmd("start")  # io forward: every frame received goes back out
        with TestPmd.virtio_user(sock, workdir, cpu=cpu_a) as vu:
            vu.cmd("start tx_first 32")
            time.sleep(1)
            first = vu.port_stats()
            time.sleep(1)
            second = vu.port_stats()
            vu.cmd("stop")
            peer = vhost.port_stats()
            vhost.cmd("stop")
    print(f"virtio-user: {second}\nvhost PMD: {peer}")
    assert second["tx_packets"] > 0 and second["rx_packets"] > 0, second
    assert second["rx_packets"] > first["rx_packets"], (first, second)  # still circulating
    assert second["rx_pps"] > 0, second
    assert peer["rx_packets"] > 0 and peer["tx_packets"] > 0, peer
    assert second["rx_errors"] == 0 and second["tx_errors"] == 0, second


# The guest's first network interface up, with carrier, as $dev.
NET_UP = r"""
dev=$(first_netdev) || fail "no network interface"
ip link set "$dev" up
n=50
while [ "$(cat /sys/class/net/$dev/carrier 2>/dev/null)" != 1 ]; do
	n=$((n - 1)); [ $n -gt 0 ] || fail "$dev has no carrier"; sleep 0.1
done
"""

NET_SCRIPT = NET_UP + r"""
# Unicast echo requests to a made-up link-local neighbour (static entry: no
# ARP); the io-forwarding peer sends each frame back unchanged, and the
# driver counts it before the stack drops it as not ours.
ip addr add 169.254.77.1/16 dev "$dev"
arp -i "$dev" -s 169.254.77.2 02:00:00:00:00:02 || fail "arp -s"
ping -c {count} -i 0.05 -W 1 169.254.77.2 >/dev/null
s=/sys/class/net/$dev/statistics
echo "net: $dev tx=$(cat $s/tx_packets) rx=$(cat $s/rx_packets) rx_dropped=$(cat $s/rx_dropped)"
"""


def test_guest_virtio_net_on_testpmd_vhost(guest_image, workdir, hugepages):
    count = 20
    sock = os.path.join(workdir, "net.sock")
    cpu_a, cpu_b = pick_cpus()
    with TestPmd.vhost(sock, workdir, cpu=cpu_b) as vhost:
        vhost.cmd("start")
        res = run_guest(guest_image, NET_SCRIPT.format(count=count), workdir,
                        extra_args=vhost_user_net_args(sock), cmdline=["ipv6.disable=1"],
                        timeout=90, name="net", cpu=cpu_a)
        peer = vhost.port_stats()
        vhost.cmd("stop")
    print(f"guest: {res.duration:.1f} s wall; vhost PMD: {peer}")
    res.check()
    m = re.search(r"net: \S+ tx=(\d+) rx=(\d+)", res.console)
    assert m, res.tail()
    tx, rx = int(m.group(1)), int(m.group(2))
    # with IPv6 off the guest sends nothing but the ARP requests
    assert tx == count, res.tail()
    assert rx == tx, res.tail()
    assert peer["rx_packets"] == tx and peer["tx_packets"] == tx, peer
