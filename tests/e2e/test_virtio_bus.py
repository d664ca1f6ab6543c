"""uvdpad's virtio_vdpa bus driver with real host programs: a vdpasim_net
device as a TAP interface used from a network namespace (the kernel's own
stack, ping, packet sockets), a vdpasim_blk device as a file that losetup,
mkfs.ext4, mount and fio use, moved at run time from the host to a QEMU
guest and back (seed-003's driverctl story), and an unbind under load."""
import hashlib
import os
import re
import subprocess
import threading
import time

import pytest

from guest import run_guest, vhost_user_blk_args
from daemon import UVDPA, running

MAC = "52:54:00:aa:bb:01"


def sh(*args, check=True, **kw):
    p = subprocess.run(list(args), capture_output=True, text=True, timeout=120,
                       **kw)
    if check:
        assert p.returncode == 0, (args, p.stdout, p.stderr)
    return p


@pytest.fixture
def uvdpad(workdir):
    with running(workdir) as d:
        yield d
    # the FUSE filesystem goes with the last file, and with uvdpad
    assert not os.path.ismount(os.path.join(d.run_dir, "blk"))


def cli_fail(d, *args):
    p = subprocess.run([UVDPA] + list(args), capture_output=True, text=True,
                       env=d.env, timeout=60)
    assert p.returncode != 0, (args, p.stdout)
    return p.stderr


def vstats(d, name, qidx):
    """uvdpa dev vstats show NAME qidx N, as a dict of counters."""
    out = d.cli("dev", "vstats", "show", name, "qidx", str(qidx))
    words = out.split(":", 1)[1].split()
    pairs = {}
    i = 2  # "queue_type rx"
    while i + 2 < len(words) + 1:
        # names are two words ("rx packets"), values one
        pairs[words[i] + " " + words[i + 1]] = int(words[i + 2])
        i += 3
    return pairs


# ---- net: a TAP interface ------------------------------------------------

class Netns:
    def __init__(self):
        self.name = "uvdpa-e2e-%d" % os.getpid()
        sh("ip", "netns", "add", self.name)
        # no IPv6: no router solicitations or MLD reports in the counters
        for k in ("all", "default"):
            self.run("sysctl", "-qw", "net.ipv6.conf.%s.disable_ipv6=1" % k)

    def run(self, *args, check=True):
        return sh("ip", "netns", "exec", self.name, *args, check=check)

    def stat(self, ifname, what):
        return int(self.run("cat", "/sys/class/net/%s/statistics/%s" %
                            (ifname, what)).stdout)

    def delete(self):
        sh("ip", "netns", "del", self.name, check=False)


# Sends N frames to the device's MAC through a packet socket on the TAP and
# counts the copies that come back in (not the outgoing ones).
PACKET_ECHO = r"""
import socket, sys, time
ifname, mac, n = sys.argv[1], bytes.fromhex(sys.argv[2].replace(":", "")), int(sys.argv[3])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x88b5))
s.bind((ifname, 0x88b5))
s.settimeout(0.2)
for i in range(n):
    s.send(mac + mac + b"\x88\xb5" + b"uvdpa-%04d" % i + bytes(50))
seen, end = set(), time.time() + 10
while len(seen) < n and time.time() < end:
    try:
        data, addr = s.recvfrom(2048)
    except socket.timeout:
        continue
    if addr[2] != socket.PACKET_OUTGOING and data[14:20] == b"uvdpa-":
        seen.add(data[14:24])
print(len(seen))
"""


def test_net_tap_in_netns(uvdpad, workdir):
    d = uvdpad
    d.cli("dev", "add", "name", "tap0", "mgmtdev", "vdpasim_net", "mac", MAC,
          "mtu", "1400", "driver", "virtio_vdpa")
    assert d.cli("dev", "show", "tap0").endswith(
        "driver virtio_vdpa endpoint tap0\n")
    with open("/sys/class/net/tap0/address") as f:
        assert f.read().strip() == MAC
    with open("/sys/class/net/tap0/mtu") as f:
        assert f.read().strip() == "1400"
    ns = Netns()
    try:
        sh("ip", "link", "set", "tap0", "netns", ns.name)
        ns.run("ip", "addr", "add", "10.77.0.1/24", "dev", "tap0")
        ns.run("ip", "link", "set", "tap0", "up")
        ns.run("ip", "neigh", "add", "10.77.0.2", "lladdr", MAC, "dev", "tap0",
               "nud", "permanent")
        tx0, rx0 = ns.stat("tap0", "tx_packets"), ns.stat("tap0", "rx_packets")
        # the device loops the echo requests back; the host stack receives
        # them (and, not being 10.77.0.2, does not answer): ping fails
        p = ns.run("ping", "-c", "20", "-i", "0.05", "-W", "1", "10.77.0.2",
                   check=False)
        assert "20 packets transmitted, 0 received" in p.stdout, p
        got = ns.run("python3", "-c", PACKET_ECHO, "tap0", MAC, "50")
        assert int(got.stdout) == 50, got
        time.sleep(0.5)
        tx = ns.stat("tap0", "tx_packets") - tx0
        rx = ns.stat("tap0", "rx_packets") - rx0
        assert tx >= 70 and rx >= 70, (tx, rx)
        # what the interface counted is what the device counted
        dev_rx, dev_tx = vstats(d, "tap0", 0), vstats(d, "tap0", 1)
        assert dev_tx["tx packets"] == ns.stat("tap0", "tx_packets")
        assert dev_rx["rx packets"] == ns.stat("tap0", "rx_packets")
        assert dev_tx["tx errors"] == 0 and dev_rx["rx errors"] == 0
    finally:
        ns.delete()
    # unbinding deletes the interface (moved or not) and resets the device
    d.cli("dev", "unbind", "tap0")
    assert not os.path.exists("/sys/class/net/tap0")


def test_net_tap_names(uvdpad):
    d = uvdpad
    err = cli_fail(d, "dev", "add", "name", "a-very-long-device-name",
                   "mgmtdev", "vdpasim_net", "driver", "virtio_vdpa")
    assert "ifname" in err, err
    assert "a-very-long-device-name" not in d.cli("dev", "show")
    d.cli("dev", "add", "name", "a-very-long-device-name", "mgmtdev",
          "vdpasim_net", "driver", "virtio_vdpa", "ifname", "uvtap7")
    assert d.cli("dev", "show", "a-very-long-device-name").endswith(
        "endpoint uvtap7\n")
    # a zero MAC is replaced by a random one, set on the device too
    d.cli("dev", "add", "name", "zmac", "mgmtdev", "vdpasim_net",
          "driver", "virtio_vdpa")
    with open("/sys/class/net/zmac/address") as f:
        mac = f.read().strip()
    assert mac != "00:00:00:00:00:00" and not int(mac[:2], 16) & 1
    assert ("mac %s " % mac) in d.cli("dev", "config", "show", "zmac")
    d.cli("dev", "del", "zmac")
    assert not os.path.exists("/sys/class/net/zmac")


# ---- blk: a file -----------------------------------------------------------

def blk_file(d, name):
    return os.path.join(d.run_dir, "blk", name)


class Loop:
    """losetup + mount of a file, undone on exit."""

    def __init__(self, path, mnt, mkfs=False):
        self.dev = sh("losetup", "-f", "--show", path).stdout.strip()
        self.mnt = mnt
        os.makedirs(mnt, exist_ok=True)
        if mkfs:
            sh("mkfs.ext4", "-q", "-F", self.dev)
        sh("mount", self.dev, mnt)

    def close(self):
        sh("umount", self.mnt)
        sh("losetup", "-d", self.dev)


GUEST_READ = r"""
wait_for /dev/vda 10
mkdir -p /mnt && mount -t ext4 /dev/vda /mnt || fail "mount"
cd /mnt
sha256sum -c /mnt/SUMS || fail "checksums"
yes "written by the guest" | head -c 300000 >/mnt/guest.txt
sha256sum guest.txt >/mnt/GUEST_SUM
cd / && umount /mnt || fail "umount"
echo guest-done
"""


def test_blk_file_host_vm_host(uvdpad, workdir, ext4_image):
    d = uvdpad
    d.cli("dev", "add", "name", "blk0", "mgmtdev", "vdpasim_blk", "driver",
          "virtio_vdpa")
    path = blk_file(d, "blk0")
    assert d.cli("dev", "show", "blk0").endswith(
        "driver virtio_vdpa endpoint %s\n" % path)
    assert os.path.getsize(path) == 128 << 20
    mnt = os.path.join(workdir, "mnt")
    lo = Loop(path, mnt, mkfs=True)
    sums = []
    try:
        for i in range(3):
            data = os.urandom(1 << 20) + b"file %d" % i
            with open(os.path.join(mnt, "f%d" % i), "wb") as f:
                f.write(data)
            sums.append("%s  f%d\n" % (hashlib.sha256(data).hexdigest(), i))
        with open(os.path.join(mnt, "SUMS"), "w") as f:
            f.write("".join(sums))
        sh("sync")
    finally:
        lo.close()
    # to the VM: the file goes, a vhost-user socket comes
    d.cli("dev", "bind", "blk0", "driver", "vhost_vdpa")
    assert not os.path.exists(path)
    res = run_guest(ext4_image, GUEST_READ, workdir, timeout=240,
                    extra_args=vhost_user_blk_args(d.socket("blk0")))
    res.check()
    assert "f0: OK" in res.console and "f2: OK" in res.console
    # and back to the host, which reads what the guest wrote
    d.cli("dev", "bind", "blk0", "driver", "virtio_vdpa")
    lo = Loop(path, mnt)
    try:
        with open(os.path.join(mnt, "guest.txt"), "rb") as f:
            got = f.read()
        assert got == (b"written by the guest\n" * 20000)[:300000]
        with open(os.path.join(mnt, "GUEST_SUM")) as f:
            assert f.read().split()[0] == hashlib.sha256(got).hexdigest()
    finally:
        lo.close()


def fio(path, *extra, timeout=300):
    return subprocess.run(
        ["fio", "--name=uvdpa", "--filename=" + path, "--ioengine=libaio",
         "--direct=1", "--iodepth=16", "--bs=4k", "--output-format=normal",
         "--verify_state_save=0",
         *extra], capture_output=True, text=True, timeout=timeout)


def test_blk_file_fio_verify(uvdpad):
    d = uvdpad
    d.cli("dev", "add", "name", "blk0", "mgmtdev", "vdpasim_blk", "driver",
          "virtio_vdpa")
    p = fio(blk_file(d, "blk0"), "--rw=randwrite", "--size=64M",
            "--verify=crc32c", "--do_verify=1", "--verify_fatal=1")
    assert p.returncode == 0, p.stdout + p.stderr
    assert "verify" not in p.stderr, p.stderr
    assert re.search(r"IO depths\s*:.*16=", p.stdout), p.stdout


def test_unbind_under_fio(uvdpad, workdir):
    d = uvdpad
    for name in ("blk0", "blk1"):
        d.cli("dev", "add", "name", name, "mgmtdev", "vdpasim_blk", "driver",
              "virtio_vdpa")
    d.cli("dev", "add", "name", "net0", "mgmtdev", "vdpasim_net")
    result = {}

    def load():
        result["fio"] = fio(blk_file(d, "blk0"), "--rw=randrw", "--size=64M",
                            "--time_based", "--runtime=60")

    t = threading.Thread(target=load)
    t.start()
    time.sleep(3)
    started = time.monotonic()
    d.cli("dev", "unbind", "blk0")
    t.join(90)
    assert not t.is_alive(), "fio hung after the unbind"
    p = result["fio"]
    assert p.returncode != 0, p.stdout
    assert "Input/output error" in p.stderr or "error=" in p.stdout + p.stderr
    assert time.monotonic() - started < 60
    # uvdpad and the other devices carry on
    assert d.proc.poll() is None
    assert not os.path.exists(blk_file(d, "blk0"))
    with open(blk_file(d, "blk1"), "r+b") as f:
        f.write(b"still here" * 100)
        f.flush()
        os.fsync(f.fileno())
        f.seek(0)
        assert f.read(1000) == b"still here" * 100
    assert "driver vhost_vdpa" in d.cli("dev", "show", "net0")
    assert "driver" not in d.cli("dev", "show", "blk0")
