"""The `blk` parent (uvdpa dev add ... mgmtdev blk path PATH) with real
peers: a QEMU guest (vhost-user-blk-pci) making and using an ext4
filesystem on a file (on a disk file system, through io_uring, and on
tmpfs, where aio auto does the I/O inline), the same data after the device
is deleted and added again, four queues driven from four guest CPUs, images served by qemu-nbd
(qcow2) and nbdkit, an NBD server that vanishes and comes back, discard and
write-zeroes reaching the file, read-only devices, and a resize the
running guest sees. The host checks with its own tools (qemu-io, stat)."""
import contextlib
import os
import re
import shutil
import subprocess
import tempfile

import pytest

from guest import Guest, host_binaries, run_guest, vhost_user_blk_args
from peers import stop_process, wait_for_path


@pytest.fixture
def image(ext4_image):
    return ext4_image


@pytest.fixture(scope="module")
def tools():
    """mkfs.ext4 and util-linux's fallocate for the guest (busybox has
    neither in a form that makes ext4 or zeroes a range)."""
    return host_binaries(["mke2fs", "fallocate"])


def make_file(workdir, size, name="disk.img"):
    path = os.path.join(workdir, name)
    with open(path, "wb") as f:
        f.truncate(size)
    return path


def counters(d, name, qidx):
    out = d.cli("dev", "vstats", "show", name, "qidx", str(qidx))
    assert "queue_type req" in out, out
    return {k: int(v) for k, v in re.findall(r"(\w+) (\d+)", out.split(
        "queue_type req", 1)[1])}


MKFS_WRITE = r"""
wait_for /dev/vda 10
/usr/sbin/mke2fs -t ext4 -q -F /dev/vda || fail "mkfs.ext4"
mkdir -p /mnt && mount -t ext4 /dev/vda /mnt || fail "mount"
for i in 1 2 3 4; do
	head -c $((i * 300000)) /dev/urandom >/mnt/f$i || fail "write f$i"
done
cd /mnt && sha256sum f1 f2 f3 f4 >/mnt/SUMS && cat /mnt/SUMS
cd / && umount /mnt || fail "umount"
"""

MOUNT_CHECK = r"""
wait_for /dev/vda 10
mkdir -p /mnt && mount -t ext4 /dev/vda /mnt || fail "mount"
cd /mnt && sha256sum -c SUMS || fail "checksums differ"
cd / && umount /mnt
"""


@pytest.fixture(params=["disk", "tmpfs"])
def disk_dir(request, workdir):
    """Where the image goes: the work dir (a disk file system here), or a
    directory in /dev/shm, where the blk parent's aio auto goes inline."""
    if request.param == "disk":
        yield workdir
        return
    if not os.access("/dev/shm", os.W_OK):
        pytest.skip("no writable /dev/shm")
    shm = tempfile.mkdtemp(prefix="uvdpa-e2e-", dir="/dev/shm")
    try:
        yield shm
    finally:
        shutil.rmtree(shm, ignore_errors=True)


def test_file_mkfs_then_readd(uvdpad, workdir, disk_dir, image, tools):
    d = uvdpad
    disk = make_file(disk_dir, 256 << 20)
    d.cli("dev", "add", "name", "b0", "mgmtdev", "blk", "path", disk,
          "serial", "uvdpa-e2e-b0")
    cfg = d.cli("dev", "config", "show", "b0")
    assert "capacity %d " % (256 << 11) in cfg, cfg
    res = run_guest(image, MKFS_WRITE + "cat /sys/block/vda/serial\n",
                    workdir, timeout=300, files=tools, name="g1",
                    extra_args=vhost_user_blk_args(d.socket("b0")))
    res.check()
    sums = re.findall(r"^[0-9a-f]{64}  f\d\r?$", res.console, re.M)
    assert len(sums) == 4, res.tail()
    assert "uvdpa-e2e-b0" in res.console
    st = counters(d, "b0", 0)
    assert st["writes"] > 0 and st["flushes"] > 0 and st["errors"] == 0, st
    # the data is in the file: delete the device, add it again
    d.cli("dev", "del", "b0")
    d.cli("dev", "add", "name", "b0", "mgmtdev", "blk", "path", disk)
    res = run_guest(image, MOUNT_CHECK, workdir, timeout=240, name="g2",
                    extra_args=vhost_user_blk_args(d.socket("b0")))
    res.check()
    assert res.console.count(": OK") == 4, res.tail()


MQ_LOAD = r"""
wait_for /dev/vda 10
n=$(ls /sys/block/vda/mq | wc -l)
echo "vda: $n hardware queues"
for c in 0 1 2 3; do
	taskset -c $c dd if=/dev/vda of=/dev/null bs=4096 count=400 \
		skip=$((c * 1000)) iflag=direct 2>/dev/null &
done
wait
echo mq-done
"""


def test_four_queues_four_cpus(uvdpad, workdir, image):
    d = uvdpad
    disk = make_file(workdir, 64 << 20)
    d.cli("dev", "add", "name", "mq", "mgmtdev", "blk", "path", disk,
          "num_queues", "4")
    assert "num_queues 4 " in d.cli("dev", "config", "show", "mq")
    res = run_guest(image, MQ_LOAD, workdir, timeout=300, smp=4,
                    extra_args=vhost_user_blk_args(d.socket("mq"),
                                                   dev_id="mq", num_queues=4))
    res.check()
    assert "vda: 4 hardware queues" in res.console, res.tail()
    for q in range(4):
        st = counters(d, "mq", q)
        assert st["reads"] > 0, (q, st)
        assert st["read_bytes"] >= 4096 * 400 // 2, (q, st)


PATTERN_WRITE = r"""
wait_for /dev/vda 10
head -c 1048576 /dev/zero | tr '\000' 'Z' >/tmp/p
dd if=/tmp/p of=/dev/vda bs=1048576 seek=3 count=1 oflag=direct 2>/dev/null || fail "write"
sync
echo written
"""


def qemu_io_check(args):
    p = subprocess.run(["qemu-io"] + args, capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0 and "Pattern verification failed" not in p.stdout, p
    return p.stdout


def start_nbd(argv, sock):
    """An NBD server (argv) on the unix socket sock, its stderr in a log
    beside the socket; started once the socket is there."""
    if os.path.exists(sock):  # left by a killed one
        os.unlink(sock)
    with open(os.path.splitext(sock)[0] + ".log", "a") as log:
        p = subprocess.Popen(argv, stderr=log)
    assert wait_for_path(sock, 10, p) and p.poll() is None
    return p


@contextlib.contextmanager
def nbd_server(argv, sock):
    """start_nbd() for the with block; yields the server's NBD URI."""
    srv = start_nbd(argv, sock)
    try:
        yield "nbd+unix:///?socket=" + sock
    finally:
        stop_process(srv)


def guest_writes_pattern(d, image, workdir, name, uri):
    """A blk device on uri; a guest writes PATTERN_WRITE's 1 MiB of 'Z'."""
    d.cli("dev", "add", "name", name, "mgmtdev", "blk", "path", uri)
    res = run_guest(image, PATTERN_WRITE, workdir, timeout=240,
                    extra_args=vhost_user_blk_args(d.socket(name)))
    res.check()


def test_nbd_qemu_nbd_qcow2(uvdpad, workdir, image):
    d = uvdpad
    img = os.path.join(workdir, "disk.qcow2")
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", img, "64M"],
                   check=True)
    sock = os.path.join(workdir, "nbd.sock")
    with nbd_server(["qemu-nbd", "-f", "qcow2", "--socket", sock,
                     "--persistent", "--shared=8", img], sock) as uri:
        guest_writes_pattern(d, image, workdir, "n0", uri)
        d.cli("dev", "del", "n0")
    # the qcow2 holds the guest's data
    qemu_io_check(["-f", "qcow2", "-r", "-c", "read -P 0x5a 3M 1M",
                   "-c", "read -P 0 0 3M", img])


def test_nbd_nbdkit_memory(uvdpad, workdir, image):
    d = uvdpad
    sock = os.path.join(workdir, "nbdkit.sock")
    with nbd_server(["nbdkit", "-f", "-U", sock, "memory", "64M"],
                    sock) as uri:
        guest_writes_pattern(d, image, workdir, "n1", uri)
        qemu_io_check(["-f", "raw", "-r", "-c", "read -P 0x5a 3M 1M", uri])
        d.cli("dev", "del", "n1")


IO_LOOP = r"""
wait_for /dev/vda 10
i=0
while [ $i -lt 600 ]; do
	if dd if=/dev/vda of=/dev/null bs=4096 count=1 skip=$((i % 1000)) iflag=direct 2>/dev/null; then
		echo "io ok $i"
	else
		echo "io err $i"
	fi
	[ -e /dev/vda ] || fail "vda went away"
	i=$((i + 1))
	sleep 0.2
done
"""


def test_nbd_server_vanishes_and_returns(uvdpad, workdir, image):
    d = uvdpad
    backing = make_file(workdir, 16 << 20, "nbd-backing.img")
    sock = os.path.join(workdir, "nbdkit.sock")

    def server():
        return start_nbd(["nbdkit", "-f", "-U", sock, "file", backing], sock)

    srv = server()
    try:
        d.cli("dev", "add", "name", "n2", "mgmtdev", "blk", "path",
              "nbd+unix:///?socket=" + sock)
        with Guest(image, IO_LOOP, workdir,
                   extra_args=vhost_user_blk_args(d.socket("n2"))) as g:
            assert g.wait_for(r"io ok 3\b", 180), g.console()[-2000:]
            srv.kill()
            srv.wait()
            m = g.wait_for(r"io err (\d+)", 60)
            assert m, g.console()[-2000:]
            first_err = int(m.group(1))
            srv = server()
            m = g.wait_for(r"io ok (%s)" % "|".join(
                str(n) for n in range(first_err + 1, first_err + 200)), 90)
            assert m, g.console()[-2000:]
            assert d.proc.poll() is None
        d.cli("dev", "del", "n2")
    finally:
        stop_process(srv)


DISCARD_ZERO = r"""
wait_for /dev/vda 10
head -c 4194304 /dev/urandom >/tmp/r
dd if=/tmp/r of=/dev/vda bs=1048576 count=4 oflag=direct 2>/dev/null || fail "write"
sync
echo wrote-4M
blkdiscard -o 0 -l 2097152 /dev/vda || fail "blkdiscard"
/usr/sbin/fallocate -z -o 2097152 -l 1048576 /dev/vda || fail "zero range"
sync
dd if=/dev/vda bs=1048576 count=3 iflag=direct 2>/dev/null | tr -d '\000' | wc -c
echo discard-done
"""


def test_discard_write_zeroes_flush(uvdpad, workdir, image, tools):
    d = uvdpad
    disk = make_file(workdir, 64 << 20)
    d.cli("dev", "add", "name", "dz", "mgmtdev", "blk", "path", disk)
    cfg = d.cli("dev", "config", "show", "dz")
    assert "max_discard_sectors" in cfg and "max_write_zeroes_sectors" in cfg
    res = run_guest(image, DISCARD_ZERO, workdir, timeout=240, files=tools,
                    extra_args=vhost_user_blk_args(d.socket("dz")))
    res.check()
    # the first 3 MiB read back as zeros: nothing but NULs was dropped
    assert re.search(r"^0\r?$", res.console, re.M), res.tail()
    st = counters(d, "dz", 0)
    assert st["discards"] >= 1 and st["write_zeroes"] >= 1, st
    assert st["flushes"] >= 1, st
    # the discarded range went back to the host: only ~2 MiB allocated
    blocks = os.stat(disk).st_blocks * 512
    assert blocks <= (2 << 20) + (256 << 10), blocks


READONLY = r"""
wait_for /dev/vda 10
echo "ro=$(cat /sys/block/vda/ro)"
if echo x | dd of=/dev/vda bs=512 count=1 oflag=direct conv=sync 2>/dev/null; then
	fail "a write to a read-only disk succeeded"
fi
dd if=/dev/vda of=/dev/null bs=4096 count=4 iflag=direct || fail "read"
echo ro-done
"""


def test_readonly(uvdpad, workdir, image):
    d = uvdpad
    disk = make_file(workdir, 8 << 20)
    with open(disk, "r+b") as f:
        f.write(b"keep" * 1024)
    d.cli("dev", "add", "name", "ro", "mgmtdev", "blk", "path", disk,
          "readonly")
    assert "read_only true" in d.cli("dev", "config", "show", "ro")
    res = run_guest(image, READONLY, workdir, timeout=240,
                    extra_args=vhost_user_blk_args(d.socket("ro")))
    res.check()
    assert "ro=1" in res.console, res.tail()
    with open(disk, "rb") as f:
        assert f.read(4096) == b"keep" * 1024


RESIZE = r"""
wait_for /dev/vda 10
echo "size $(cat /sys/block/vda/size)"
n=0
while [ "$(cat /sys/block/vda/size)" = "{old}" ] && [ $n -lt 900 ]; do
	sleep 0.1; n=$((n + 1))
done
echo "new size $(cat /sys/block/vda/size)"
"""


def test_resize_running_guest(uvdpad, workdir, image):
    d = uvdpad
    disk = make_file(workdir, 32 << 20)
    d.cli("dev", "add", "name", "rs", "mgmtdev", "blk", "path", disk)
    old = (32 << 20) // 512
    with Guest(image, RESIZE.format(old=old), workdir,
               extra_args=vhost_user_blk_args(d.socket("rs"))) as g:
        assert g.wait_for(r"size %d" % old, 180), g.console()[-2000:]
        d.cli("dev", "resize", "rs", "capacity", "48M")
        m = g.wait_for(r"new size (\d+)", 120)
        assert m and int(m.group(1)) == (48 << 20) // 512, g.console()[-2000:]
        res = g.wait(60)
    res.check()
    assert os.path.getsize(disk) >= 48 << 20
    assert "capacity %d " % ((48 << 20) // 512) in d.cli(
        "dev", "config", "show", "rs")
