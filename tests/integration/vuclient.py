"""A vhost-user front end written from the spec, in Python, independent
of uvdpa's C one: framing with fds (SCM_RIGHTS), the handshake QEMU does,
guest memory in a memfd, split rings driven from here, block and net I/O
through them; and the uvdpad the hostile and load tests run against
(Env, with the `env` and `case` fixtures)."""
import ctypes
import mmap
import os
import select
import socket
import struct
import time

import pytest

import nlclient as nl
from conftest import Daemon

VERSION, REPLY, NEED_REPLY = 0x1, 0x4, 0x8
REQ = dict(GET_FEATURES=1, SET_FEATURES=2, SET_OWNER=3, RESET_OWNER=4,
           SET_MEM_TABLE=5, SET_LOG_BASE=6, SET_LOG_FD=7, SET_VRING_NUM=8,
           SET_VRING_ADDR=9, SET_VRING_BASE=10, GET_VRING_BASE=11,
           SET_VRING_KICK=12, SET_VRING_CALL=13, SET_VRING_ERR=14,
           GET_PROTOCOL_FEATURES=15, SET_PROTOCOL_FEATURES=16,
           GET_QUEUE_NUM=17, SET_VRING_ENABLE=18, SEND_RARP=19,
           NET_SET_MTU=20, SET_BACKEND_REQ_FD=21, IOTLB_MSG=22,
           SET_VRING_ENDIAN=23, GET_CONFIG=24, SET_CONFIG=25,
           POSTCOPY_ADVISE=28, GET_INFLIGHT_FD=31, SET_INFLIGHT_FD=32,
           RESET_DEVICE=34, VRING_KICK=35, GET_MAX_MEM_SLOTS=36,
           ADD_MEM_REG=37, REM_MEM_REG=38, SET_STATUS=39, GET_STATUS=40)
globals().update(REQ)

# protocol features
P_MQ, P_REPLY_ACK, P_CONFIG, P_STATUS = 0, 3, 9, 16
P_RESET_DEVICE, P_MEM_SLOTS = 13, 15
PROTO = sum(1 << b for b in (P_MQ, P_REPLY_ACK, P_CONFIG, P_STATUS,
                             P_RESET_DEVICE, P_MEM_SLOTS))
# virtio
F_INDIRECT, F_EVENT_IDX, F_PROTOCOL, F_VERSION_1 = 28, 29, 30, 32
S_ACK, S_DRIVER, S_DRIVER_OK, S_FEATURES_OK, S_NEEDS_RESET = 1, 2, 4, 8, 0x40
D_NEXT, D_WRITE, D_INDIRECT = 1, 2, 4
NOFD = 1 << 8

GPA = 0x100000000  # guest physical: nothing like a user address
UVA = 0x7e0000000000  # the front end's "user address" of the arena
WAIT = 5.0
NET_HDR = 12  # virtio_net_hdr_v1
BCAST = b"\xff" * 6


class Closed(Exception):
    """uvdpad hung up on the front end."""


class Mem:
    """The guest's memory: a memfd, mapped here, carved by a bump
    allocator. Addresses are guest physical (gpa)."""

    def __init__(self, size=1 << 21, gpa=GPA, uva=UVA, name="vu-hostile"):
        self.fd = os.memfd_create(name, os.MFD_CLOEXEC)
        os.ftruncate(self.fd, size)
        self.m = mmap.mmap(self.fd, size)
        self.size, self.gpa, self.uva, self.used = size, gpa, uva, 0

    def close(self):
        self.m.close()
        os.close(self.fd)

    def alloc(self, n, align=64):
        off = (self.used + align - 1) & ~(align - 1)
        if off + n > self.size:
            raise MemoryError("arena exhausted")
        self.used = off + n
        return self.gpa + off

    def off(self, gpa):
        return gpa - self.gpa

    def write(self, gpa, data):
        self.m[self.off(gpa):self.off(gpa) + len(data)] = data

    def read(self, gpa, n):
        return bytes(self.m[self.off(gpa):self.off(gpa) + n])

    # Ring indices are read and written by the device meanwhile: one
    # 16-bit access each. struct.pack_into would not do: it zeroes its
    # destination before it writes, bytes one at a time.
    def w16(self, gpa, v):
        ctypes.c_uint16.from_buffer(self.m, self.off(gpa)).value = v

    def r16(self, gpa):
        return ctypes.c_uint16.from_buffer(self.m, self.off(gpa)).value

    def region(self, gpa=None, size=None, offset=0, uva=None):
        """A vhost-user memory region: guest_addr, size, user_addr,
        mmap_offset."""
        gpa = self.gpa + offset if gpa is None else gpa
        size = self.size - offset if size is None else size
        uva = self.uva + offset if uva is None else uva
        return struct.pack("=QQQQ", gpa, size, uva, offset)


def mem_table(regions):
    return struct.pack("=II", len(regions), 0) + b"".join(regions)


def eventfd():
    return os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)


def fired(fd, timeout=WAIT):
    """True when the eventfd was written within @timeout (and drain it)."""
    r, _, _ = select.select([fd], [], [], timeout)
    if not r:
        return False
    os.eventfd_read(fd)
    return True


class FrontEnd:
    """A vhost-user front end, one message at a time. With REPLY_ACK
    negotiated, request() returns 0 or -errno from the back end's ack;
    Closed when it hung up."""

    def __init__(self, path, timeout=WAIT):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(timeout)
        self.s.connect(path)
        self.ack = False
        self.rings = {}
        self.status = 0

    # ---- framing ----
    def send(self, req, payload=b"", fds=(), flags=VERSION, size=None):
        size = len(payload) if size is None else size
        self.send_raw(struct.pack("=III", req, flags, size) + payload, fds)

    def send_raw(self, data, fds=()):
        try:
            if fds:
                socket.send_fds(self.s, [data], list(fds))
            else:
                self.s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            raise Closed()

    def _exact(self, n):
        buf = b""
        while len(buf) < n:
            try:
                got = self.s.recv(n - len(buf))
            except ConnectionResetError:
                raise Closed()
            if not got:
                raise Closed()
            buf += got
        return buf

    def recv(self):
        req, flags, size = struct.unpack("=III", self._exact(12))
        return req, flags, self._exact(size) if size else b""

    def recv_with_fds(self):
        """A message and the fds that came with it (ours to close)."""
        try:
            head, fds, _, _ = socket.recv_fds(self.s, 12, 8)
        except ConnectionResetError:
            raise Closed()
        if not head:
            raise Closed()
        head += self._exact(12 - len(head))
        req, flags, size = struct.unpack("=III", head)
        return req, flags, self._exact(size) if size else b"", fds

    # ---- requests ----
    def request(self, req, payload=b"", fds=()):
        """A request without a reply payload; its ack with REPLY_ACK."""
        if not self.ack:
            self.send(req, payload, fds)
            return 0
        self.send(req, payload, fds, VERSION | NEED_REPLY)
        rreq, flags, p = self.recv()
        assert rreq == req and flags & REPLY and len(p) == 8, (rreq, p)
        return -struct.unpack("=Q", p)[0]

    def get(self, req, payload=b""):
        self.send(req, payload)
        rreq, flags, p = self.recv()
        assert rreq == req and flags & REPLY, (rreq, flags)
        return p

    def get_u64(self, req, payload=b""):
        p = self.get(req, payload)
        assert len(p) == 8, p
        return struct.unpack("=Q", p)[0]

    def ok(self, req, payload=b"", fds=()):
        ret = self.request(req, payload, fds)
        assert ret == 0, "%d failed: %s" % (req, os.strerror(-ret))

    def u64(self, req, v, fds=()):
        return self.request(req, struct.pack("=Q", v), fds)

    def state(self, req, idx, num):
        return self.request(req, struct.pack("=II", idx, num))

    def set_status(self, s):
        self.status = s
        assert self.u64(SET_STATUS, s) == 0

    def get_status(self):
        return self.get_u64(GET_STATUS)

    # ---- the handshake QEMU does ----
    def hello(self, proto=PROTO):
        self.dev_features = self.get_u64(GET_FEATURES)
        assert self.dev_features & (1 << F_PROTOCOL)
        offered = self.get_u64(GET_PROTOCOL_FEATURES)
        self.proto = offered & proto
        self.send(SET_PROTOCOL_FEATURES, struct.pack("=Q", self.proto))
        self.ack = bool(self.proto & (1 << P_REPLY_ACK))
        self.ok(SET_OWNER)
        return self

    def negotiate(self, want=(1 << F_VERSION_1)):
        self.features = (self.dev_features & want) | (1 << F_PROTOCOL)
        self.set_status(S_ACK | S_DRIVER)
        assert self.u64(SET_FEATURES, self.features) == 0
        self.set_status(S_ACK | S_DRIVER | S_FEATURES_OK)
        assert self.get_status() & S_FEATURES_OK

    def set_mem(self, mem, table=None):
        table = table or [mem.region()]
        self.ok(SET_MEM_TABLE, mem_table(table), [mem.fd] * len(table))

    def driver_ok(self):
        self.set_status(self.status | S_DRIVER_OK)

    def start(self, mem, nvqs, size=64, want=(1 << F_VERSION_1), table=None):
        """negotiate, memory, rings, DRIVER_OK: a device ready for I/O."""
        self.negotiate(want)
        self.set_mem(mem, table)
        for i in range(nvqs):
            self.rings[i] = Ring(self, mem, i, size).setup()
        self.driver_ok()
        return self

    def close(self):
        for r in self.rings.values():
            r.close()
        self.rings = {}
        self.s.close()

    def hang_up(self):
        """Close, and wait until uvdpad has seen it: it closes its end
        once it ran the disconnect."""
        if self.s.fileno() < 0:
            return
        try:
            self.s.shutdown(socket.SHUT_WR)
            while self.s.recv(4096):
                pass
        except OSError:
            pass
        self.close()


class Ring:
    """The driver side of a split ring in the guest memory."""

    def __init__(self, fe, mem, idx, size):
        self.fe, self.mem, self.idx, self.size = fe, mem, idx, size
        self.desc = mem.alloc(16 * size, 4096)
        self.avail = mem.alloc(6 + 2 * size, 64)
        self.used = mem.alloc(6 + 8 * size, 4096)
        for area, n in ((self.desc, 16 * size), (self.avail, 6 + 2 * size),
                        (self.used, 6 + 8 * size)):
            mem.write(area, bytes(n))  # a reused arena holds old rings
        self.kick_fd, self.call_fd, self.err_fd = eventfd(), eventfd(), \
            eventfd()
        self.free = list(range(size))
        self.avail_idx = self.last_used = 0

    def close(self):
        for fd in (self.kick_fd, self.call_fd, self.err_fd):
            os.close(fd)

    def uva(self, gpa):
        return self.mem.uva + (gpa - self.mem.gpa)

    def addr_payload(self, desc=None, used=None, avail=None, idx=None):
        return struct.pack("=IIQQQQ", self.idx if idx is None else idx, 0,
                           self.uva(self.desc) if desc is None else desc,
                           self.uva(self.used) if used is None else used,
                           self.uva(self.avail) if avail is None else avail,
                           0)

    def setup(self, base=0):
        fe = self.fe
        assert fe.state(SET_VRING_NUM, self.idx, self.size) == 0
        assert fe.state(SET_VRING_BASE, self.idx, base) == 0
        fe.ok(SET_VRING_ADDR, self.addr_payload())
        assert fe.u64(SET_VRING_CALL, self.idx, [self.call_fd]) == 0
        assert fe.u64(SET_VRING_ERR, self.idx, [self.err_fd]) == 0
        assert fe.u64(SET_VRING_KICK, self.idx, [self.kick_fd]) == 0
        assert fe.state(SET_VRING_ENABLE, self.idx, 1) == 0
        self.avail_idx = self.last_used = base
        return self

    def put_desc(self, i, addr, length, flags, nxt=0):
        self.mem.write(self.desc + 16 * i,
                       struct.pack("<QIHH", addr, length, flags, nxt))

    def add(self, bufs):
        """Chain [(gpa, len, writable)] in the table; returns the head."""
        ids = [self.free.pop(0) for _ in bufs]
        for k, (addr, length, wr) in enumerate(bufs):
            last = k == len(bufs) - 1
            self.put_desc(ids[k], addr, length,
                          (D_WRITE if wr else 0) | (0 if last else D_NEXT),
                          0 if last else ids[k + 1])
        return ids[0]

    def publish(self, head, kick=True):
        slot = self.avail + 4 + 2 * (self.avail_idx % self.size)
        self.mem.w16(slot, head)
        self.avail_idx = (self.avail_idx + 1) & 0xffff
        self.mem.w16(self.avail + 2, self.avail_idx)
        if kick:
            self.kick()

    def kick(self):
        os.eventfd_write(self.kick_fd, 1)

    def used_idx(self):
        return self.mem.r16(self.used + 2)

    def wait_used(self, timeout=WAIT):
        """The next used element (id, len), or None after @timeout."""
        end = time.time() + timeout
        while self.used_idx() == self.last_used:
            left = end - time.time()
            if left <= 0:
                return None
            r, _, _ = select.select([self.call_fd], [], [], min(left, 0.05))
            if r:
                os.eventfd_read(self.call_fd)
        slot = self.used + 4 + 8 * (self.last_used % self.size)
        uid, ulen = struct.unpack_from("<II", self.mem.m, self.mem.off(slot))
        self.last_used = (self.last_used + 1) & 0xffff
        return uid, ulen

    def recycle(self, head, n):
        """Give a completed chain of @n descriptors back to the free list."""
        i = head
        for _ in range(n):
            self.free.append(i)
            flags, nxt = struct.unpack_from(
                "<HH", self.mem.m, self.mem.off(self.desc) + 16 * i + 12)
            i = nxt

    def broke(self):
        """NEEDS_RESET reached the front end: the err eventfd and status."""
        return fired(self.err_fd) and \
            self.fe.get_status() & S_NEEDS_RESET != 0


# ---- block and net I/O through the rings ----

T_IN, T_OUT = 0, 1


def blk_rw(fe, sector, data=None, n=4096, split=1):
    """One virtio-blk read (data None) or write; returns (status, data).
    @split cuts the data buffer into that many descriptors."""
    mem, ring = fe.rings[0].mem, fe.rings[0]
    hdr = mem.alloc(16)
    mem.write(hdr, struct.pack("<IIQ", T_OUT if data else T_IN, 0, sector))
    buf = mem.alloc(n, 512)
    if data:
        mem.write(buf, data)
    st = mem.alloc(1)
    mem.write(st, b"\xee")
    part = n // split
    bufs = [(hdr, 16, False)]
    bufs += [(buf + k * part, part, not data) for k in range(split)]
    bufs += [(st, 1, True)]
    head = ring.add(bufs)
    ring.publish(head)
    got = ring.wait_used()
    assert got is not None, "no completion"
    assert got[0] == head
    ring.recycle(head, len(bufs))
    return mem.read(st, 1)[0], mem.read(buf, n)


def blk_check(fe, sector=8, split=1):
    pattern = os.urandom(4096)
    assert blk_rw(fe, sector, pattern, split=split)[0] == 0
    status, back = blk_rw(fe, sector, split=split)
    assert status == 0 and back == pattern


def frame(tag):
    """A broadcast frame the simulator's MAC filter lets through."""
    return BCAST + b"\x02\0\0\0\0\x01" + b"\x88\xb5" + tag.ljust(50, b".")


def net_post_rx(fe, n=NET_HDR + 64, split=()):
    """One RX buffer of @n bytes (cut at @split offsets); its address."""
    rx = fe.rings[0]
    buf = rx.mem.alloc(n + 16)
    rx.mem.write(buf, b"\xcc" * (n + 16))  # a canary after the buffer
    cuts = [0] + list(split) + [n]
    head = rx.add([(buf + a, b - a, True) for a, b in zip(cuts, cuts[1:])])
    rx.publish(head)
    return head, buf, len(cuts) - 1


def net_send(fe, pkt, split=()):
    """One TX chain: header and frame, cut at the @split offsets."""
    tx = fe.rings[1]
    data = b"\0" * NET_HDR + pkt
    buf = tx.mem.alloc(len(data))
    tx.mem.write(buf, data)
    cuts = [0] + list(split) + [len(data)]
    head = tx.add([(buf + a, b - a, False) for a, b in zip(cuts, cuts[1:])])
    tx.publish(head)
    return head, len(cuts) - 1


def net_loop(fe, tag=b"loop"):
    """A frame sent on TX comes back on RX, whole."""
    pkt = frame(tag)
    rhead, rbuf, rn = net_post_rx(fe)
    thead, tn = net_send(fe, pkt)
    got = fe.rings[1].wait_used()
    assert got and got[0] == thead
    fe.rings[1].recycle(thead, tn)
    got = fe.rings[0].wait_used()
    assert got and got[0] == rhead and got[1] == NET_HDR + len(pkt), got
    fe.rings[0].recycle(rhead, rn)
    assert fe.rings[0].mem.read(rbuf + NET_HDR, len(pkt)) == pkt


def efds(n):
    return [eventfd() for _ in range(n)]


def memfds(n, size=1 << 20):
    fds = []
    for _ in range(n):
        fd = os.memfd_create("vu-victim", os.MFD_CLOEXEC)
        os.ftruncate(fd, size)
        fds.append(fd)
    return fds


def u64b(v):
    return struct.pack("=Q", v)


def one_region(gpa=GPA, size=1 << 20, uva=UVA, off=0):
    return struct.pack("=QQQQ", gpa, size, uva, off)


M = 1 << 20  # the victim arena is 2 MiB: M * 2
U64 = (1 << 64) - 1


# ---- uvdpad, its devices, and what each case must leave as it was ----

def add_dev(c, name, mgmt):
    end = c.vdpa("DEV_NEW", nl.strz("DEV_NAME", name) +
                 nl.strz("MGMTDEV_DEV_NAME", mgmt))[1]
    assert end.error == 0, end.ext_msg


class Env:
    """uvdpad with a blk and a net victim, a net bystander whose front end
    stays connected, and a blk device that a fresh front end uses after
    every case."""

    def __init__(self, base):
        self.d = Daemon(base).start()
        self.pid = self.d.proc.pid
        self.nloops = 0
        self.open = []
        try:
            self.mgmt = self.d.client()
            for name, mgmt in (("blk0", "vdpasim_blk"),
                               ("net0", "vdpasim_net"),
                               ("net1", "vdpasim_net"),
                               ("blk1", "vdpasim_blk")):
                add_dev(self.mgmt, name, mgmt)
            self.by_mem = Mem(name="vu-bystander")
            self.by = FrontEnd(self.path("net1")).hello()
            self.by.start(self.by_mem, 2)
        except BaseException:
            self.d.stop()
            raise

    def path(self, name):
        return os.path.join(self.d.run_dir, "by-name", name)

    def settle(self):
        """A management round trip: uvdpad's control thread has finished
        whatever it was doing (one thread serves both sockets)."""
        self.mgmt.resolve()

    def fds(self):
        return sorted(int(f) for f in os.listdir("/proc/%d/fd" % self.pid))

    def maps(self, name="vu-victim"):
        with open("/proc/%d/maps" % self.pid) as f:
            return [ln for ln in f if name in ln]

    def others_work(self):
        self.nloops += 1
        net_loop(self.by, b"bystander %d" % self.nloops)
        mem = Mem(name="vu-fresh")
        fe = FrontEnd(self.path("blk1")).hello().start(mem, 1)
        blk_check(fe)
        fe.hang_up()
        mem.close()

    def close(self):
        self.by.hang_up()
        self.by_mem.close()
        self.mgmt.close()
        return self.d.stop()


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    base = str(tmp_path_factory.mktemp("hostile"))
    os.chmod(base, 0o755)
    e = Env(base)
    yield e
    rc = e.close()
    assert rc == 0, "uvdpad exited %d (LSan?):\n%s" % (
        rc, e.d.read_log()[-4000:])
    assert "runtime error" not in e.d.read_log()  # UBSan


@pytest.fixture
def case(env):
    """Every case: uvdpad's fds and our mappings as before, the other
    devices serving."""
    env.settle()
    before = env.fds()
    env.open = []
    yield env
    for fe in env.open:  # a case that failed midway: not one more
        fe.hang_up()
    env.settle()
    assert env.d.proc.poll() is None, env.d.read_log()[-4000:]
    assert env.fds() == before, "fds leaked: %s" % (
        set(env.fds()) - set(before))
    assert env.maps() == []
    env.others_work()


def victim(env, dev="blk0", start=True, nvqs=None, size=64, want=None,
           mem=None, table=None):
    mem = mem or Mem(name="vu-victim")
    fe = FrontEnd(env.path(dev)).hello()
    fe.mem = mem
    env.open.append(fe)
    if start:
        nvqs = nvqs or (1 if dev.startswith("blk") else 2)
        fe.start(mem, nvqs, size,
                 (1 << F_VERSION_1) if want is None else want, table)
    return fe


def done(fe):
    fe.hang_up()
    fe.mem.close()


def outcome(fn):
    """Run a request: its ack (0 or -errno), or "closed"."""
    try:
        return fn()
    except Closed:
        return "closed"


def refused(r):
    return r == "closed" or r < 0
