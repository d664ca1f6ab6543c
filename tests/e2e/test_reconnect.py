"""No write lost, no I/O error, when uvdpad dies under a running VM.

A QEMU guest with three vhost-user-blk-pci disks whose chardevs reconnect
(`reconnect=1`) through $RUNTIME/by-name/NAME: one on the `blk` parent on a
file, one on vdpasim_blk (its ramdisk a file under the runtime dir), one on
the `blk` parent over NBD from an nbdkit whose delay filter keeps every
request in flight for a while, so that each kill catches some. The
guest runs a write-read-verify loop on both and keeps the checksum of
every block it wrote; uvdpad is killed with SIGKILL several times while
the loop runs (and stopped with SIGTERM once) and started again on the
same state dir: it recreates both devices, QEMU reconnects and hands back
the inflight region (INFLIGHT_SHMFD), and requests that were in flight
are resubmitted. At the end the guest reads every block back against its
checksum. Then the same with QEMU restarted instead of uvdpad: a new guest
reads what the first one wrote. The guest must see no I/O error at all.
"""
import os
import re
import signal
import subprocess
import time

import pytest

from guest import Guest, unavailable_reason, GuestImage
from daemon import UVDPA, Uvdpad, need_built

LOOPS = 120
KILLS = (20, 45, 70)  # SIGKILL after these loops
TERM = 95  # SIGTERM after this one

WRITE_VERIFY = r"""
wait_for /dev/vda 10
wait_for /dev/vdb 10
wait_for /dev/vdc 10
: >/tmp/sums
# readers beside the writer, so that requests are in flight at a kill
for d in vda vdb vdc; do
	( while [ ! -e /tmp/stop ]; do
		dd if=/dev/$d of=/dev/null bs=65536 count=32 iflag=direct 2>/tmp/rerr ||
			echo "ERROR reader $d $(cat /tmp/rerr)"
	done ) &
done
i=0
while [ $i -lt {loops} ]; do
	for d in vda vdb vdc; do
		blk=$((i % 512))
		head -c 16384 /dev/urandom >/tmp/w
		dd if=/tmp/w of=/dev/$d bs=16384 seek=$blk count=1 oflag=direct 2>/tmp/err ||
			echo "ERROR write $d $i $(cat /tmp/err)"
		dd if=/dev/$d of=/tmp/r bs=16384 skip=$blk count=1 iflag=direct 2>/tmp/err ||
			echo "ERROR read $d $i $(cat /tmp/err)"
		cmp -s /tmp/w /tmp/r || echo "ERROR verify $d $i"
		echo "$d $blk $(sha256sum </tmp/w | cut -c1-64)" >>/tmp/sums
	done
	echo "loop $i ok"
	i=$((i + 1))
done
touch /tmp/stop
wait
# every block's last write, read back once more
sort -k1,2 -s /tmp/sums | awk '{{ last[$1" "$2] = $3 }} END {{ for (k in last) print k, last[k] }}' >/tmp/last
bad=0
while read d blk sum; do
	got=$(dd if=/dev/$d bs=16384 skip=$blk count=1 iflag=direct 2>/dev/null | sha256sum | cut -c1-64)
	[ "$got" = "$sum" ] || {{ echo "ERROR final $d $blk"; bad=1; }}
done </tmp/last
echo "final check: $(wc -l </tmp/last) blocks, bad=$bad"
cat /proc/diskstats | grep -E ' vd[abc] '
dmesg | grep -i -E 'I/O error|blk_update|buffer io' && echo "ERROR kernel"
echo done-verify
"""


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    why = unavailable_reason()
    if why:
        pytest.skip(why)
    return GuestImage.build(tmp_path_factory.mktemp("guest-reconnect"))


def reconnecting_blk(sock, dev_id):
    return ["-chardev", f"socket,id={dev_id}c,path={sock},reconnect=1",
            "-device", f"vhost-user-blk-pci,id={dev_id},chardev={dev_id}c,"
                       "num-queues=1"]


class Restartable(Uvdpad):
    """uvdpad on a fixed state dir, started again after a kill."""

    def __init__(self, workdir):
        self.workdir = workdir
        super().__init__(workdir)

    def restart(self):
        self.proc.wait(30)
        Uvdpad.__init__(self, self.workdir)


def inflight(d, name):
    out = subprocess.run([UVDPA, "dev", "vstats", "show", name, "qidx", "0"],
                         capture_output=True, text=True, env=d.env).stdout
    m = re.search(r"inflight (\d+)", out)
    return int(m.group(1)) if m else None


def slow_nbd(workdir):
    """nbdkit on a file, each request held 50-150 ms (the delay filter)."""
    backing = os.path.join(workdir, "nbd.img")
    with open(backing, "wb") as f:
        f.truncate(64 << 20)
    sock = os.path.join(workdir, "nbd.sock")
    p = subprocess.Popen(["nbdkit", "-f", "-U", sock, "--filter=delay",
                          "file", backing, "rdelay=50ms", "wdelay=150ms"],
                         stderr=subprocess.DEVNULL)
    for _ in range(200):
        if os.path.exists(sock):
            break
        time.sleep(0.05)
    return p, "nbd+unix:///?socket=" + sock


def kill_with_requests_in_flight(d, sig):
    """Wait (a little) until the slow disk has requests in flight, then
    send @sig; returns what the three disks had in flight just before."""
    end = time.monotonic() + 3
    while time.monotonic() < end and not inflight(d, "rn"):
        time.sleep(0.01)
    flying = {n: inflight(d, n) for n in ("rb", "rn")}
    d.proc.send_signal(sig)
    return flying


def test_uvdpad_killed_under_a_writing_guest(workdir, image):
    need_built()
    disk = os.path.join(workdir, "disk.img")
    with open(disk, "wb") as f:
        f.truncate(64 << 20)
    nbd, uri = slow_nbd(workdir)
    d = Restartable(workdir)
    report = []
    try:
        d.cli("dev", "add", "name", "rb", "mgmtdev", "blk", "path", disk)
        d.cli("dev", "add", "name", "rs", "mgmtdev", "vdpasim_blk")
        d.cli("dev", "add", "name", "rn", "mgmtdev", "blk", "path", uri)
        args = reconnecting_blk(d.socket("rb"), "rb") + \
            reconnecting_blk(d.socket("rs"), "rs") + \
            reconnecting_blk(d.socket("rn"), "rn")
        with Guest(image, WRITE_VERIFY.format(loops=LOOPS), workdir,
                   extra_args=args) as g:
            for at in KILLS + (TERM,):
                assert g.wait_for(r"loop %d ok" % at, 600), \
                    g.console()[-3000:]
                sig = signal.SIGTERM if at == TERM else signal.SIGKILL
                flying = kill_with_requests_in_flight(d, sig)
                d.restart()
                report.append((sig.name, at, flying))
            res = g.wait(900)
        res.check()
        print("\nrestarts (signal, loop, requests in flight):", report)
        # the delay filter makes sure the kills caught requests
        assert sum(f["rn"] or 0 for _, _, f in report) > 0, report
        assert "ERROR" not in res.console, res.tail(80)
        assert re.search(r"final check: \d+ blocks, bad=0", res.console), \
            res.tail(40)
        assert "loop %d ok" % (LOOPS - 1) in res.console
    finally:
        d.stop()
        nbd.kill()
        nbd.wait()
    # the other way round: QEMU goes, uvdpad stays; a new guest reads
    # what the first wrote (the sums it left are on neither disk, so it
    # checks the blocks against the host's view instead)
    with open(disk, "rb") as f:
        host_view = f.read(16384 * 4)
    d = Restartable(workdir)
    try:
        check = (r"""
wait_for /dev/vda 10
dd if=/dev/vda bs=16384 count=4 iflag=direct 2>/dev/null | sha256sum
echo done-read
""")
        with Guest(image, check, workdir, name="g2",
                   extra_args=reconnecting_blk(d.socket("rb"), "rb")) as g:
            res = g.wait(300)
        res.check()
        import hashlib
        assert hashlib.sha256(host_view).hexdigest() in res.console
    finally:
        d.stop()
