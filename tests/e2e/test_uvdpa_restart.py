"""uvdpad across the ends of a front end's life: a guest that reboots, a
front end that quits and another that comes after it, a second front end
while one is connected, and a device deleted under a connected front end.

- guest reboot: a QEMU guest on vdpasim_blk writes data and a marker and
  reboots (`reboot -f`; QEMU without -no-reboot resets the machine); the
  same /test.sh runs again, finds the marker on the disk, checks the data
  of the first boot (the ramdisk lives as long as the device), writes and
  reads again and powers off. QEMU stops the device at the reset and the
  new boot's driver sets it up again: uvdpad serves both.
- front-end restart: testpmd (virtio-user) circulates frames through
  vdpasim_net and quits; uvdpad resets the device and listens again; a
  second testpmd on the same socket circulates frames too, and the
  device's counters go on from where they were.
- a second front end while one is connected is refused: its connection is
  closed unanswered, uvdpad says so, and the first goes on.
- `uvdpa dev del` under a connected testpmd: the socket and the by-name
  link go, uvdpad goes on serving its other devices.

Every test runs under a time budget (SIGALRM), on top of the timeouts of
each step.
"""
import os
import re
import signal
import socket
import struct
import time

import pytest

from guest import Guest, vhost_user_blk_args
from peers import TestPmd, pick_cpus
from daemon import vstat

MAC = "02:00:00:00:00:00"  # where tx_first sends: the filter passes it
MiB = 1 << 20


# ---- a time budget for each test ----------------------------------------

class BudgetExceeded(Exception):
    pass


@pytest.fixture(autouse=True)
def budget(request):
    """Fail the test after its budget (the function's `budget` attribute,
    seconds). SIGALRM raises in the main thread, wherever it waits; the
    fixtures' teardown still stops every process."""
    seconds = getattr(request.function, "budget", 120)

    def expire(signum, frame):
        raise BudgetExceeded(f"{request.node.name} exceeded its {seconds} s budget")

    old = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    started = time.monotonic()
    yield
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, old)
    print(f"\n{request.node.name}: {time.monotonic() - started:.1f} s")


def with_budget(seconds):
    def mark(fn):
        fn.budget = seconds
        return fn
    return mark


# ---- helpers --------------------------------------------------------------

def wait_until(cond, timeout, what, interval=0.05):
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def log_count(d, pattern):
    return len(re.findall(pattern, d.read_log()))


def dev_vstats(d, name):
    """(rx queue vstats, tx queue vstats) of a vdpasim_net device."""
    return (d.cli("dev", "vstats", "show", name, "qidx", "0"),
            d.cli("dev", "vstats", "show", name, "qidx", "1"))


def circulate(vu, seconds=1.0):
    """Frames go round the loop: testpmd's counters rise while it forwards.
    Returns testpmd's counters once it stopped."""
    vu.cmd("start tx_first 32")
    time.sleep(seconds / 2)
    first = vu.port_stats()
    time.sleep(seconds / 2)
    mid = vu.port_stats()
    vu.cmd("stop")
    last = vu.port_stats()
    assert mid["rx_packets"] > first["rx_packets"] > 0, (first, mid)
    return last


def start_loop(vu):
    """testpmd starts sending (tx_first) and forwarding; its counters once
    frames have come back."""
    vu.cmd("start tx_first 32")
    time.sleep(0.5)
    stats = vu.port_stats()
    assert stats["rx_packets"] > 0, stats
    return stats


def settled_tx(d, name, want, timeout=5):
    """The device's TX count once it reaches want (frames testpmd put in
    the ring just before it stopped are taken a moment later)."""
    got = {}

    def reached():
        rxs, txs = dev_vstats(d, name)
        got.update(rx=rxs, tx=txs)
        return vstat(txs, "tx packets") >= want

    try:
        wait_until(reached, timeout, f"{name}: tx packets {want}")
    except AssertionError:
        pass
    return got["rx"], got["tx"]


def check_loop_counts(rxs, txs, tx_total):
    """Every frame taken was either looped back or, with no RX buffer
    posted, an overrun; none filtered, none broken."""
    assert vstat(txs, "tx packets") == tx_total, (txs, tx_total)
    assert vstat(rxs, "rx packets") + vstat(rxs, "rx overruns") == tx_total, (rxs, txs)
    assert vstat(rxs, "rx drops") == 0 and vstat(txs, "tx errors") == 0, (rxs, txs)
    assert vstat(rxs, "rx errors") == 0, rxs


def add_net(d, name):
    d.cli("dev", "add", "name", name, "mgmtdev", "vdpasim_net", "mac", MAC)
    wait_until(lambda: os.path.exists(d.socket(name)), 5, f"{name}'s socket")
    return d.socket(name)


# ---- (a) guest reboot ------------------------------------------------------

MARK = "uvdpa-reboot-mark"
MARK_SECTOR = 3 * MiB // 512
BOOT1 = [(0, 4096), (1 * MiB, 4096), (16 * MiB, MiB), (128 * MiB - 4096, 4096)]
BOOT2 = [(4096, 4096), (16 * MiB, 4096), (64 * MiB, 65536)]

# First boot: no marker on the disk (the ramdisk starts zeroed): write the
# data and the marker, reboot. Second boot: the marker is there: check
# the first boot's data, overwrite and add some, read everything back.
REBOOT_SCRIPT = r"""
wait_for /dev/vda 10
put() {{ # put TAG OFF LEN
	yes "$1 $2" | head -c $3 >/tmp/want
	dd if=/tmp/want of=/dev/vda bs=$3 seek=$(($2 / $3)) count=1 oflag=direct 2>/dev/null ||
		fail "write of $3 at $2"
}}
check() {{ # check TAG OFF LEN
	yes "$1 $2" | head -c $3 >/tmp/want
	dd if=/dev/vda of=/tmp/got bs=$3 skip=$(($2 / $3)) count=1 iflag=direct 2>/dev/null ||
		fail "read of $3 at $2"
	cmp -s /tmp/want /tmp/got || fail "$1 data at $2 ($3 bytes) differs"
	echo "ok $1 $2 $3"
}}
dd if=/dev/vda of=/tmp/mark bs=512 skip={mark_sector} count=1 iflag=direct 2>/dev/null ||
	fail "read of the marker"
mark=$(head -c {mark_len} /tmp/mark)
if [ "$mark" != "{mark}" ]; then
	echo "boot 1: no marker"
	for w in {boot1}; do put boot1 ${{w%:*}} ${{w#*:}}; done
	for w in {boot1}; do check boot1 ${{w%:*}} ${{w#*:}}; done
	{{ printf '%s' "{mark}"; head -c $((512 - {mark_len})) /dev/zero; }} >/tmp/mark
	dd if=/tmp/mark of=/dev/vda bs=512 seek={mark_sector} count=1 oflag=direct 2>/dev/null ||
		fail "write of the marker"
	sync
	echo "boot 1 done: rebooting"
	reboot -f
	sleep 30
	fail "reboot -f returned"
fi
echo "boot 2: marker found"
# the second boot overwrites the first boot's 1 MiB at 16 MiB with 4 KiB
for w in {boot1}; do
	[ "${{w%:*}}" = {overwritten} ] || check boot1 ${{w%:*}} ${{w#*:}}
done
echo "boot 1 data intact"
for w in {boot2}; do put boot2 ${{w%:*}} ${{w#*:}}; done
for w in {boot2}; do check boot2 ${{w%:*}} ${{w#*:}}; done
# the rest of the first boot's MiB at 16 MiB is still the first boot's
yes "boot1 {overwritten}" | head -c $((1024 * 1024)) | tail -c $((1024 * 1024 - 4096)) >/tmp/want
dd if=/dev/vda of=/tmp/got bs=4096 skip=$(({overwritten} / 4096 + 1)) count=255 iflag=direct 2>/dev/null
cmp -s /tmp/want /tmp/got || fail "boot 1 data after the overwrite differs"
echo "boot 2 ok"
"""

INIT_RE = r"uvdpa-e2e: init at"


@with_budget(150)
def test_guest_reboot_on_vdpasim_blk(guest_image, workdir, uvdpad):
    uvdpad.cli("dev", "add", "name", "blk0", "mgmtdev", "vdpasim_blk")
    fmt = lambda ws: " ".join(f"{o}:{n}" for o, n in ws)  # noqa: E731
    script = REBOOT_SCRIPT.format(mark=MARK, mark_len=len(MARK), mark_sector=MARK_SECTOR,
                                  boot1=fmt(BOOT1), boot2=fmt(BOOT2), overwritten=16 * MiB)
    g = Guest(guest_image, script, workdir, name="reboot",
              extra_args=vhost_user_blk_args(uvdpad.socket("blk0")))
    # QEMU must reset the machine on the guest's reboot, not exit
    g.argv.remove("-no-reboot")
    with g:
        # end at the exit line, or at a third boot (the marker was not
        # found again: the guest would reboot for ever)
        g.wait_for(r"@@ UVDPA-E2E EXIT \d+ @@|(?s:" + INIT_RE + r".*){3}", timeout=120)
        res = g.wait(timeout=15)
    log = uvdpad.read_log()
    print(res.tail(30))
    print(log[-3000:])
    assert len(re.findall(INIT_RE, res.console)) == 2, res.tail()
    assert "boot 1 done: rebooting" in res.console, res.tail()
    res.check()
    assert "boot 1 data intact" in res.console and "boot 2 ok" in res.console
    for off, n in BOOT1:
        assert f"ok boot1 {off} {n}" in res.console
    # one connection across the reboot: QEMU stopped the rings at the
    # reset (GET_VRING_BASE) and the new boot's driver set them up again
    assert log.count("front end connected") == 1, log
    assert log.count("blk0: GET_VRING_BASE") >= 2, log
    assert log.count("blk0: SET_VRING_KICK") >= 2, log
    assert res.console.index("boot 1 done") < res.console.index("boot 2: marker found")


# ---- (b) front-end restart --------------------------------------------------

@with_budget(120)
def test_frontend_restart_on_vdpasim_net(workdir, hugepages, uvdpad):
    sock = add_net(uvdpad, "net0")
    cpu, _ = pick_cpus()
    total = 0
    for i in range(2):
        with TestPmd.virtio_user(sock, workdir, cpu=cpu, name=f"testpmd-{i}") as vu:
            wait_until(lambda: log_count(uvdpad, r"net0: front end connected") == i + 1,
                       10, "the connection")
            last = circulate(vu)
            # the device's counters go on from the first session's
            total += last["tx_packets"]
            rxs, txs = settled_tx(uvdpad, "net0", total)
            print(f"session {i}: testpmd {last}\n{rxs}{txs}")
            check_loop_counts(rxs, txs, total)
            backlog = vstat(rxs, "rx packets") - last["rx_packets"]
        assert vu.proc.returncode == 0, vu.output()[-2000:]
        # uvdpad saw it go, reset the device and listens again
        wait_until(lambda: log_count(uvdpad, r"net0: front end gone: resetting") == i + 1,
                   10, "the reset")
        assert os.path.exists(sock)
    assert total > 0 and backlog >= 0
    assert "refused" not in uvdpad.read_log()


# ---- (c) a second front end ---------------------------------------------------

VHOST_USER_GET_FEATURES = 1
VHOST_USER_VERSION = 0x1


def second_connection(path, timeout=10):
    """Connect as a vhost-user front end and ask for the features: returns
    what came back before the connection closed (b"" when refused)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    got = b""
    try:
        s.connect(path)
        try:
            s.sendall(struct.pack("<III", VHOST_USER_GET_FEATURES, VHOST_USER_VERSION, 0))
        except (BrokenPipeError, ConnectionResetError):
            return got  # closed before the request even went
        while True:
            try:
                chunk = s.recv(4096)
            except ConnectionResetError:
                break
            if not chunk:
                break
            got += chunk
    finally:
        s.close()
    return got


@with_budget(120)
def test_second_frontend_refused(workdir, hugepages, uvdpad):
    sock = add_net(uvdpad, "net0")
    cpu_a, cpu_b = pick_cpus()
    with TestPmd.virtio_user(sock, workdir, cpu=cpu_a, name="testpmd-first") as vu:
        before = start_loop(vu)

        # a bare vhost-user client: closed, no reply (a socket.timeout
        # here would mean uvdpad kept it waiting)
        assert second_connection(sock) == b""
        wait_until(lambda: log_count(uvdpad, r"net0: refused a second front end") == 1,
                   10, "the refusal in the log")

        # a real one: DPDK's virtio-user finds the connection closed and
        # has no port (testpmd starts with none, or gives up)
        second = TestPmd.virtio_user(sock, workdir, cpu=cpu_b, name="testpmd-second")
        try:
            second.start(timeout=30)
        except RuntimeError as e:
            assert "exited" in str(e), e
        finally:
            second.stop()
        # testpmd's own words depend on how far it got before it was
        # stopped; uvdpad's log says what happened to the connection
        wait_until(lambda: log_count(uvdpad, r"net0: refused a second front end") >= 2,
                   10, "the second refusal in the log")

        # the first front end never noticed
        time.sleep(0.5)
        after = vu.port_stats()
        assert after["rx_packets"] > before["rx_packets"], (before, after)
        vu.cmd("stop")
        last = vu.port_stats()
        rxs, txs = settled_tx(uvdpad, "net0", last["tx_packets"])
        check_loop_counts(rxs, txs, last["tx_packets"])
        assert log_count(uvdpad, r"front end gone") == 0, uvdpad.read_log()
        assert log_count(uvdpad, r"net0: front end connected") == 1
    wait_until(lambda: log_count(uvdpad, r"net0: front end gone") == 1, 10, "the disconnect")


# ---- (d) dev del under a connected front end --------------------------------

@with_budget(120)
def test_dev_del_with_connected_frontend(workdir, hugepages, uvdpad):
    sock0 = add_net(uvdpad, "net0")
    sock1 = add_net(uvdpad, "net1")
    target0 = os.path.realpath(sock0)
    assert os.path.basename(target0).startswith("vhost-vdpa-"), target0
    cpu, _ = pick_cpus()
    with TestPmd.virtio_user(sock0, workdir, cpu=cpu, name="testpmd-net0") as vu:
        start_loop(vu)

        uvdpad.cli("dev", "del", "net0")
        # the by-name link and the socket it named are gone at once
        assert not os.path.lexists(sock0)
        assert not os.path.exists(target0)
        assert uvdpad.proc.poll() is None
        wait_until(lambda: log_count(uvdpad, r"net0: front end gone") == 1, 10,
                   "net0's front end to be dropped")
        shown = uvdpad.cli("dev", "show")
        assert "net0" not in shown and "net1" in shown, shown
        # nothing answers testpmd now: the loop stops
        time.sleep(0.3)
        s1 = vu.port_stats()
        time.sleep(0.3)
        s2 = vu.port_stats()
        assert s2["rx_packets"] == s1["rx_packets"], (s1, s2)
    # testpmd quit with its back end gone, without hanging; at close its
    # virtio-user writes to the closed socket and DPDK leaves SIGPIPE's
    # default action: it may die of it, after "Closing ports"
    out = vu.output()
    assert vu.proc.returncode == 0 or (
        vu.proc.returncode == -signal.SIGPIPE and "Closing ports" in out), out[-2000:]

    # uvdpad keeps serving the other device
    with TestPmd.virtio_user(sock1, workdir, cpu=cpu, name="testpmd-net1") as vu1:
        last = circulate(vu1)
        rxs, txs = settled_tx(uvdpad, "net1", last["tx_packets"])
        check_loop_counts(rxs, txs, last["tx_packets"])
    # and the name can be used again, with a fresh socket
    sock0 = add_net(uvdpad, "net0")
    with TestPmd.virtio_user(sock0, workdir, cpu=cpu, name="testpmd-net0-again") as vu:
        last = circulate(vu)
        rxs, txs = settled_tx(uvdpad, "net0", last["tx_packets"])
        check_loop_counts(rxs, txs, last["tx_packets"])
