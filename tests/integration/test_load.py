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
import tempfile
import threading
import time

import pytest

import nlclient as nl
from conftest import UVDPAD, Daemon
from vuclient import (ADD_MEM_REG, GET_MAX_MEM_SLOTS, GPA,
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

    def rss(self, what="VmRSS"):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith(what + ":"):
                    return int(line.split()[1]) * 1024
        raise RuntimeError("no " + what)

    def cpu(self):
        with open("/proc/%d/stat" % self.proc.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.fixture
def ld():
    # on tmpfs when there is one: uvdpad fsyncs its state dir at every dev
    # add and del, and a disk shared with other work makes 2,000 of them
    # take minutes; what is measured here is fds and memory
    shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
    with tempfile.TemporaryDirectory(prefix="uvdpa-load-", dir=shm) as base:
        os.chmod(base, 0o755)
        d = LoadDaemon(base).start()
        d.mgmt = d.client()
        yield d
        d.mgmt.close()
        rc = d.stop()
        assert rc == 0, "uvdpad exited %d (LSan?):\n%s" % (
            rc, d.read_log()[-4000:])


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
            rss100, anon100, fd100 = d.rss(), d.rss("RssAnon"), d.fds()
    d.mgmt.resolve()
    return dict(n=n, fd0=fd0, fd100=fd100, fd_end=d.fds(), rss100=rss100,
                rss_end=d.rss(), anon100=anon100, anon_end=d.rss("RssAnon"))


def check_cycles(name, f):
    report(name, cycles=f["n"], fds_start=f["fd0"],
           fds_after_100=f["fd100"], fds_end=f["fd_end"],
           rss_after_100_kib=f["rss100"] // 1024,
           rss_end_kib=f["rss_end"] // 1024,
           rss_growth_kib=(f["rss_end"] - f["rss100"]) // 1024,
           anon_growth_kib=(f["anon_end"] - f["anon100"]) // 1024)
    assert f["fd_end"] == f["fd0"]
    assert f["rss_end"] - f["rss100"] <= 2 * MIB


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
            blk_check(fe)  # one sector: the disk's pages are RSS too
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
        blk_check(fe)
        end = ld.mgmt.vdpa("DEV_DEL", nl.strz("DEV_NAME", "f%d" % i))[1]
        assert end.error == 0, end.ext_msg
        fe.hang_up()

    figures = cycles(ld, one, CYCLES // 5)
    mem.close()
    check_cycles("dev del under a running front end", figures)


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


# ---- the management socket under many and misbehaving clients ----

def getfamily_msg(seq):
    return nl.Client.message(nl.GENL_ID_CTRL, nl.NLM_F_REQUEST | nl.NLM_F_ACK,
                             seq, nl.CTRL_CMD_GETFAMILY,
                             nl.strz(nl.CTRL_ATTR_FAMILY_NAME, "vdpa"))


def devshow_msg(family, seq, name="blk0"):
    return nl.Client.message(family, nl.NLM_F_REQUEST | nl.NLM_F_ACK, seq,
                             nl.CMD["DEV_GET"], nl.strz("DEV_NAME", name))


def answers(sock, seq):
    """Messages up to the ack of request @seq."""
    got = []
    while True:
        for m in nl.split(sock.recv(1 << 16)):
            got.append(m)
            if m.type == nl.NLMSG_ERROR and m.seq == seq:
                return got


def connect_mgmt(d, n, timeout=30):
    out = []
    for _ in range(n):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        # blocking: a UNIX socket's non-blocking connect fails with EAGAIN
        # while the listen backlog is full, instead of waiting
        s.connect(d.sock)
        s.settimeout(timeout)
        out.append(s)
    return out


def serve_all(d, socks, tag):
    """Every client of @socks: GETFAMILY, then dev show, all sent before
    any answer is read; each must get its own answers."""
    for i, s in enumerate(socks):
        s.send(getfamily_msg(i + 1))
    family = None
    for i, s in enumerate(socks):
        got = answers(s, i + 1)
        assert got[-1].error == 0, tag
        fid = got[0].attr(nl.CTRL_ATTR_FAMILY_ID)
        family = struct.unpack("=H", fid)[0]
    for i, s in enumerate(socks):
        s.send(devshow_msg(family, 1000 + i))
    for i, s in enumerate(socks):
        got = answers(s, 1000 + i)
        assert got[-1].error == 0, tag
        assert got[0].attr("DEV_NAME") == b"blk0\0", tag


class Trickle(threading.Thread):
    """A client sending a garbage byte every 100 ms, as its own record, or
    half-headers that announce more than they hold."""

    def __init__(self, d, kind):
        super().__init__(daemon=True)
        self.s = connect_mgmt(d, 1)[0]
        self.kind, self.stop, self.sent = kind, threading.Event(), 0

    def run(self):
        while not self.stop.wait(0.1):
            if self.kind == "byte":
                data = bytes([self.sent & 0xff])
            else:  # a header announcing 1000 bytes, 20 of them sent
                data = struct.pack("=IHHII", 1000, 0x1d, 1, self.sent, 0) + \
                    b"\0" * 4
            try:
                self.s.send(data)
            except OSError:
                return
            self.sent += 1


@pytest.mark.parametrize("kind", ["byte", "short header"])
def test_200_clients_one_trickling_garbage(ld, kind):
    add_dev(ld.mgmt, "blk0", "vdpasim_blk")
    ld.mgmt.resolve()
    fd0 = ld.fds()
    slow = Trickle(ld, kind)
    slow.start()
    socks = connect_mgmt(ld, 199)
    rnd = 0
    while rnd < 3 or slow.sent < 5:  # while it trickles
        serve_all(ld, socks, "round %d" % rnd)
        rnd += 1
    slow.stop.set()
    slow.join()
    assert slow.sent >= 1
    for s in socks:
        s.close()
    slow.s.close()
    ld.mgmt.resolve()
    report("200 management clients", rounds=rnd, trickled=slow.sent,
           fds_start=fd0, fds_end=ld.fds())
    assert ld.fds() == fd0


def test_clients_that_do_not_read(ld):
    """Clients that send requests and never read the answers cost uvdpad
    a bounded amount of memory each, and block nobody."""
    add_dev(ld.mgmt, "blk0", "vdpasim_blk")
    ld.mgmt.resolve()
    rss0 = ld.rss()
    family = ld.mgmt.family
    hogs = connect_mgmt(ld, 20)
    for h in hogs:
        h.setblocking(False)
    dump = nl.Client.message(family, nl.NLM_F_REQUEST | nl.NLM_F_ACK |
                             nl.NLM_F_DUMP, 1, nl.CMD["DEV_GET"])
    sent = 0
    for rnd in range(400):
        for h in hogs:
            try:
                h.send(dump * 32)  # one record, 32 dumps
                sent += 1
            except OSError:
                pass  # uvdpad stopped reading it (EAGAIN), or dropped it
        if rnd % 100 == 0:
            serve_all(ld, connect_mgmt(ld, 5), "while hogged")
    ld.mgmt.resolve()
    rss1 = ld.rss()
    serve_all(ld, connect_mgmt(ld, 5), "after")
    report("clients that never read", clients=20, records_sent=sent,
           rss_before_kib=rss0 // 1024, rss_after_kib=rss1 // 1024)
    assert rss1 - rss0 < 16 * MIB
    for h in hogs:
        h.close()


def test_record_too_big_and_silent_clients(ld):
    add_dev(ld.mgmt, "blk0", "vdpasim_blk")
    silent = connect_mgmt(ld, 50)
    big = connect_mgmt(ld, 1)[0]
    big.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
    rec = getfamily_msg(7)
    rec = rec[:0] + struct.pack("=I", 200000) + rec[4:] + b"\0" * (
        200000 - len(rec))
    big.send(rec)
    got = nl.split(big.recv(1 << 16))
    assert got[0].type == nl.NLMSG_ERROR and got[0].error == -errno.EMSGSIZE
    serve_all(ld, [big] + connect_mgmt(ld, 10), "after a big record")
    for s in silent:
        s.close()


def test_connections_beyond_the_limit(ld):
    """uvdpad serves 1024 clients; more are closed at once, and a place
    that frees up is taken again."""
    add_dev(ld.mgmt, "blk0", "vdpasim_blk")
    ld.mgmt.resolve()
    fd0 = ld.fds()
    socks = connect_mgmt(ld, 1100, timeout=10)
    refused = 0
    for s in socks:
        try:
            s.send(getfamily_msg(1))
        except BrokenPipeError:
            pass  # closed already
    for s in socks:
        try:
            got = s.recv(1 << 16)
        except (ConnectionResetError, socket.timeout):
            got = b""
        refused += got == b""
    report("connections beyond the limit", opened=1100 + 1,
           refused=refused)
    assert refused == 1100 + 1 - 1024  # ld.mgmt holds one
    for s in socks:
        s.close()
    serve_all(ld, connect_mgmt(ld, 10), "after")
    ld.mgmt.resolve()
    assert ld.fds() == fd0


def test_out_of_fds(tmp_path):
    """With few fds left, accept fails: uvdpad must not spin on a
    listening socket it cannot accept from, and serves again once
    clients go."""
    os.chmod(str(tmp_path), 0o755)
    d = LoadDaemon(str(tmp_path), nofile=96).start()
    d.mgmt = d.client()
    try:
        add_dev(d.mgmt, "blk0", "vdpasim_blk")
        socks = connect_mgmt(d, 120, timeout=5)
        time.sleep(1)  # whatever uvdpad does with them meanwhile
        cpu0 = d.cpu()
        time.sleep(1)
        spent = d.cpu() - cpu0
        served = 0
        for s in socks:
            try:
                s.send(getfamily_msg(1))
                served += bool(s.recv(1 << 16))
            except OSError:
                pass
        for s in socks:
            s.close()
        serve_all(d, connect_mgmt(d, 10), "after")
        log = d.read_log()
        warnings = log.count("accept: ") + log.count("out of file desc")
        report("out of fds", clients=120, served=served,
               cpu_in_1s=round(spent, 3), warnings=warnings)
        assert 0 < warnings < 10
    finally:
        d.mgmt.close()
        rc = d.stop()
    assert rc == 0
