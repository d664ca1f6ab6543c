"""A hostile vhost-user front end against the real uvdpad: the negative
cases of the published vhost-user CVE fixes (DPDK, QEMU libvhost-user),
each sent by a raw front end written here from the spec, independent of
uvdpa's C front end. For every case the victim device either refuses the
message (an error ack, or a hang-up where the protocol has no other way)
or sets NEEDS_RESET (seen in GET_STATUS and on the SET_VRING_ERR eventfd),
and afterwards:
 - a second device, whose front end stayed connected all along, still
   loops frames, and a third one does a fresh handshake and block I/O;
 - uvdpad's open fds and its mappings of our memory are what they were
   before the case (every fd sent closed, every region unmapped);
 - at the end uvdpad exits 0 under ASan with detect_leaks=1 (LSan).

The front end here (FrontEnd, Mem, Ring) is reused by test_load.py.
"""
import ctypes
import errno
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
        data = struct.pack("=III", req, flags, size) + payload
        try:
            if fds:
                socket.send_fds(self.s, [data], list(fds))
            else:
                self.s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            raise Closed()

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
    assert rc == 0, "uvdpad exited %d (LSan?):\n%s" % (rc, e.d.read_log()[-4000:])
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


# ---- A. SET_VRING_NUM: repeated, after the start, out of range ----

def test_vring_num_repeated_before_start(case):
    fe = victim(case, start=False)
    fe.negotiate()
    fe.set_mem(fe.mem)
    for num in (256, 16, 128, 2):
        assert fe.state(SET_VRING_NUM, 0, num) == 0
    # the last one wins: Ring.setup sends 64 and the ring works with it
    fe.rings[0] = Ring(fe, fe.mem, 0, 64).setup()
    fe.driver_ok()
    for k in range(3 * 64 // 2):  # wraps the 64-entry ring 1.5 times
        assert blk_rw(fe, k)[0] == 0
    done(fe)


def test_vring_num_after_start(case):
    fe = victim(case)
    blk_check(fe)
    for num in (128, 64, 32, 256):
        assert fe.state(SET_VRING_NUM, 0, num) == -errno.EBUSY
    blk_check(fe, 16)
    assert fe.get_status() & S_NEEDS_RESET == 0
    done(fe)


@pytest.mark.parametrize("num", [0, 3, 100, 512, 0x8000, 0x10000,
                                 0x10040, 0xffffffff])
def test_vring_num_bad_size(case, num):
    fe = victim(case, start=False)
    assert fe.state(SET_VRING_NUM, 0, num) == -errno.EINVAL
    done(fe)


# ---- B. messages carrying more (or fewer) fds than they should ----

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


FD_CASES = [
    ("SET_OWNER with 2", SET_OWNER, b"", efds, 2),
    ("SET_OWNER with 8", SET_OWNER, b"", efds, 8),
    ("SET_FEATURES with 3", SET_FEATURES, u64b(1 << F_VERSION_1), efds, 3),
    ("SET_VRING_NUM with 1", SET_VRING_NUM, struct.pack("=II", 0, 64),
     efds, 1),
    ("SET_VRING_CALL with 2", SET_VRING_CALL, u64b(0), efds, 2),
    ("SET_VRING_CALL NOFD with 1", SET_VRING_CALL, u64b(NOFD), efds, 1),
    ("SET_VRING_ERR with 4", SET_VRING_ERR, u64b(0), efds, 4),
    ("SET_VRING_KICK with 0", SET_VRING_KICK, u64b(0), efds, 0),
    ("SET_VRING_KICK with 8", SET_VRING_KICK, u64b(0), efds, 8),
    ("SET_BACKEND_REQ_FD with 0", SET_BACKEND_REQ_FD, u64b(0), efds, 0),
    ("SET_BACKEND_REQ_FD with 3", SET_BACKEND_REQ_FD, u64b(0), efds, 3),
    ("SET_MEM_TABLE 1 region, 3 fds", SET_MEM_TABLE,
     mem_table([one_region()]), memfds, 3),
    ("SET_MEM_TABLE 2 regions, 1 fd", SET_MEM_TABLE,
     mem_table([one_region(), one_region(GPA << 1)]), memfds, 1),
    ("SET_MEM_TABLE 0 regions, 2 fds", SET_MEM_TABLE, mem_table([]),
     memfds, 2),
    ("ADD_MEM_REG with 0", ADD_MEM_REG, u64b(0) + one_region(), memfds, 0),
    ("ADD_MEM_REG with 2", ADD_MEM_REG, u64b(0) + one_region(), memfds, 2),
    ("SET_STATUS with 1", SET_STATUS, u64b(S_ACK), efds, 1),
    ("SET_OWNER with 20 (beyond the 8 of a message)", SET_OWNER, b"",
     efds, 20),
    ("SET_MEM_TABLE with 12 (beyond 8)", SET_MEM_TABLE,
     mem_table([one_region()]), memfds, 12),
]


@pytest.mark.parametrize("what,req,payload,mk,n", FD_CASES,
                         ids=[c[0] for c in FD_CASES])
def test_wrong_fd_count(case, what, req, payload, mk, n):
    fe = victim(case, start=False)
    fds = mk(n)
    r = outcome(lambda: fe.request(req, payload, fds))
    for fd in fds:
        os.close(fd)
    assert refused(r), r
    done(fe)  # the case fixture counts uvdpad's fds once it saw the hang-up


def test_wrong_fd_count_on_a_get(case):
    """A message answered with a payload has no error ack: a hang-up."""
    fe = victim(case, start=False)
    fds = efds(3)
    fe.send(GET_FEATURES, fds=fds)
    for fd in fds:
        os.close(fd)
    with pytest.raises(Closed):
        fe.recv()
    done(fe)


def test_rem_mem_reg_with_an_fd(case):
    """The spec: REM_MEM_REG expects no fd, and closes one if it comes
    (QEMU sent one up to 6.x). Accepted; the fd is not kept."""
    fe = victim(case, start=False)
    mem = fe.mem
    half = mem.size // 2
    assert fe.request(ADD_MEM_REG, u64b(0) + mem.region(size=half),
                      [mem.fd]) == 0
    assert fe.request(ADD_MEM_REG, u64b(0) + mem.region(offset=half),
                      [mem.fd]) == 0
    fd = eventfd()
    assert fe.request(REM_MEM_REG, u64b(0) + mem.region(offset=half),
                      [fd]) == 0
    os.close(fd)
    case.settle()
    assert len(case.maps()) == 1  # the other region stays
    done(fe)


def test_fds_on_a_message_never_finished(case):
    """fds that came with the first bytes of a message whose rest never
    comes are closed when the front end goes."""
    fe = victim(case, start=False)
    fds = memfds(8)
    msg = struct.pack("=III", SET_MEM_TABLE, VERSION, 8 + 8 * 32)
    fe.send_raw(msg + struct.pack("=II", 8, 0), fds)
    for fd in fds:
        os.close(fd)
    # uvdpad holds a half message and serves everyone else meanwhile
    case.others_work()
    done(fe)


# ---- C. memory regions that overflow, exceed their fd, or cannot map ----

M = 1 << 20  # the victim arena is 2 MiB: M * 2
U64 = (1 << 64) - 1
BAD_REGIONS = [
    ("offset+size overflows", GPA, 2 * 4096, UVA, U64 - 4095),
    ("size beyond the fd", GPA, 4 * M, UVA, 0),
    ("end beyond the fd", GPA, M, UVA, M + 4096),
    ("offset beyond the fd", GPA, 4096, UVA, 8 * M),
    ("offset at the fd's end", GPA, 4096, UVA, 2 * M),
    ("size 2^64-4096", GPA, U64 - 4095, UVA, 0),
    ("guest address+size overflows", U64 - 4095, M, UVA, 0),
    ("user address+size overflows", GPA, M, U64 - 4095, 0),
    ("size 0", GPA, 0, UVA, 0),
]


@pytest.mark.parametrize("how", ["SET_MEM_TABLE", "ADD_MEM_REG"])
@pytest.mark.parametrize("what,gpa,size,uva,off", BAD_REGIONS,
                         ids=[r[0] for r in BAD_REGIONS])
def test_bad_region(case, how, what, gpa, size, uva, off):
    fe = victim(case, start=False)
    reg = struct.pack("=QQQQ", gpa, size, uva, off)
    if how == "SET_MEM_TABLE":
        r = fe.request(SET_MEM_TABLE, mem_table([reg]), [fe.mem.fd])
    else:
        r = fe.request(ADD_MEM_REG, u64b(0) + reg, [fe.mem.fd])
    assert r == -errno.EINVAL
    case.settle()
    assert case.maps() == []
    done(fe)


def unmappable_fds():
    r, w = os.pipe()
    a, b = socket.socketpair()
    d = os.open("/tmp", os.O_RDONLY | os.O_DIRECTORY)
    ro = os.open("/proc/self/cmdline", os.O_RDONLY)
    return [("eventfd", eventfd()), ("pipe", r), ("socket", a.detach()),
            ("directory", d), ("read-only proc file", ro)], [w, b]


@pytest.mark.parametrize("how", ["SET_MEM_TABLE", "ADD_MEM_REG"])
def test_region_fd_not_memory(case, how):
    """An fd that is not memory: refused, nothing mapped, fd closed."""
    fds, keep = unmappable_fds()
    fe = victim(case, start=False)
    for what, fd in fds:
        reg = struct.pack("=QQQQ", GPA, 4096, UVA, 0)
        if how == "SET_MEM_TABLE":
            r = fe.request(SET_MEM_TABLE, mem_table([reg]), [fd])
        else:
            r = fe.request(ADD_MEM_REG, u64b(0) + reg, [fd])
        assert r < 0, what
    for _, fd in fds:
        os.close(fd)
    for fd in keep:
        os.close(fd) if isinstance(fd, int) else fd.close()
    done(fe)


def test_regions_overlapping_in_one_table(case):
    fe = victim(case, start=False)
    mem = fe.mem
    for a, b in ((mem.region(size=M), mem.region(size=M)),
                 (mem.region(size=M), mem.region(gpa=GPA + M - 4096,
                                                 size=M, offset=M))):
        assert fe.request(SET_MEM_TABLE, mem_table([a, b]),
                          [mem.fd, mem.fd]) < 0
        case.settle()
        assert case.maps() == []
    done(fe)


def test_region_table_replaced_many_times(case):
    """Each SET_MEM_TABLE unmaps the table before it."""
    fe = victim(case, start=False)
    for k in range(20):
        n = 1 + k % 8
        part = fe.mem.size // n
        regs = [fe.mem.region(size=part, offset=i * part) for i in range(n)]
        fe.ok(SET_MEM_TABLE, mem_table(regs), [fe.mem.fd] * n)
        case.settle()
        assert len(case.maps()) == n
    done(fe)


# ---- C'. the memory shrinks under the device (SIGBUS) ----

def shrunk(case, fe):
    """After the front end cut its memfd: the ring's err fd fired, uvdpad
    hung up on it, and the device serves the next front end."""
    assert fired(fe.rings[0].err_fd)
    with pytest.raises(Closed):
        while True:
            fe.get_status()
    done(fe)
    fe = victim(case)
    blk_check(fe)
    done(fe)
    assert "memory shrank under the device" in case.d.read_log()


def test_memory_shrunk_under_a_stopped_ring(case):
    """The control thread touches the ring when it starts it again."""
    fe = victim(case)
    blk_check(fe)
    base = fe.get(GET_VRING_BASE, struct.pack("=II", 0, 0))
    assert struct.unpack("=II", base)[1] == 2  # two requests done
    os.ftruncate(fe.mem.fd, 0)
    r = outcome(lambda: fe.u64(SET_VRING_KICK, 0, [fe.rings[0].kick_fd]))
    assert r in (0, "closed")
    shrunk(case, fe)


@pytest.mark.xfail(strict=True, reason=(
    "lib/worker/worker.c starts the data path workers with every signal "
    "blocked, SIGBUS too, and a blocked fault signal kills the process "
    "whatever its handler: the workers must leave SIGBUS unblocked"))
def test_memory_shrunk_under_a_running_ring(tmp_path):
    """A data path worker touches it. uvdpad of its own, as this one may
    end it."""
    os.chmod(str(tmp_path), 0o755)
    e = Env(str(tmp_path))
    try:
        fe = victim(e)
        blk_check(fe)
        ring = fe.rings[0]
        ring.publish(ring.add([(GPA, 16, False)]), kick=False)
        os.ftruncate(fe.mem.fd, 0)  # not ours to touch either, now
        ring.kick()
        shrunk(e, fe)
        e.others_work()
    finally:
        rc = e.close()
    assert rc == 0, e.d.read_log()[-3000:]


# ---- D. vring indices beyond the queues, and truncated to 8 or 16 bits --
# A started ring 0 answers EBUSY to NUM, BASE and ADDR: an index that some
# narrowing turned into 0 would show as EBUSY instead of ENOBUFS.

BAD_IDX = [1, 3, 0xff, 0x100, 0x10000, 0x10001, 0x80000000, 0xffffffff]


@pytest.mark.parametrize("idx", BAD_IDX, ids=hex)
def test_vring_index_out_of_range(case, idx):
    fe = victim(case)
    ring = fe.rings[0]
    for req, num in ((SET_VRING_NUM, 64), (SET_VRING_BASE, 0),
                     (SET_VRING_ENABLE, 1), (SET_VRING_ENABLE, 0)):
        assert fe.state(req, idx, num) == -errno.ENOBUFS, (req, idx)
    assert fe.request(SET_VRING_ADDR, ring.addr_payload(idx=idx)) == \
        -errno.ENOBUFS
    if idx <= 0xff:  # KICK/CALL/ERR carry the index in bits 0-7
        for req in (SET_VRING_KICK, SET_VRING_CALL, SET_VRING_ERR):
            fd = eventfd()
            assert fe.u64(req, idx, [fd]) == -errno.ENOBUFS
            os.close(fd)
            assert fe.u64(req, idx | NOFD) == -errno.ENOBUFS
    blk_check(fe)  # ring 0 untouched
    assert fe.get_status() & S_NEEDS_RESET == 0
    # GET_VRING_BASE has no error reply: a hang-up, and ring 0 not stopped
    with pytest.raises(Closed):
        fe.get(GET_VRING_BASE, struct.pack("=II", idx, 0))
    done(fe)


def test_vring_index_net(case):
    """net: rx, tx and the control queue, 0-2; 3 is beyond."""
    fe = victim(case, dev="net0")
    for idx in (3, 0x10000, 0x10001, 0x10002):
        assert fe.state(SET_VRING_NUM, idx, 64) == -errno.ENOBUFS
    net_loop(fe)
    done(fe)


def test_vring_base_beyond_16_bits(case):
    fe = victim(case, start=False)
    for base in (0x10000, 0x1ffff, 0xffffffff):
        assert fe.state(SET_VRING_BASE, 0, base) == -errno.EINVAL
    done(fe)


# ---- E-J. rings a guest broke: NEEDS_RESET, and a reset brings it back --

def chain_bad(ring, mem, bufs):
    ring.publish(ring.add(bufs))


def req_bufs(mem):
    """A valid read request's descriptors, to splice bad ones into."""
    hdr = mem.alloc(16)
    mem.write(hdr, struct.pack("<IIQ", T_IN, 0, 0))
    return hdr, mem.alloc(512, 512), mem.alloc(1)


def c_outside(ring, mem):
    hdr, data, st = req_bufs(mem)
    chain_bad(ring, mem, [(hdr, 16, False), (0x1000, 512, True),
                          (st, 1, True)])


def c_at_end(ring, mem):
    hdr, data, st = req_bufs(mem)
    chain_bad(ring, mem, [(hdr, 16, False), (GPA + mem.size, 512, True),
                          (st, 1, True)])


def c_partly(ring, mem):
    hdr, data, st = req_bufs(mem)
    chain_bad(ring, mem, [(hdr, 16, False),
                          (GPA + mem.size - 256, 512, True), (st, 1, True)])


def c_len_huge(ring, mem):
    hdr, data, st = req_bufs(mem)
    chain_bad(ring, mem, [(hdr, 16, False), (data, 0xffffffff, True),
                          (st, 1, True)])


def c_addr_wraps(ring, mem):
    hdr, data, st = req_bufs(mem)
    chain_bad(ring, mem, [(hdr, 16, False), (U64 - 255, 512, True),
                          (st, 1, True)])


def c_header_outside(ring, mem):
    hdr, data, st = req_bufs(mem)
    chain_bad(ring, mem, [(GPA - 16, 16, False), (data, 512, True),
                          (st, 1, True)])


def set_avail(ring, idx):
    ring.mem.w16(ring.avail + 2, idx & 0xffff)
    ring.kick()


def c_avail_jump(ring, mem):
    set_avail(ring, ring.avail_idx + ring.size + 1)


def c_avail_jump_half(ring, mem):
    set_avail(ring, ring.avail_idx + 0x8000)


def c_avail_backwards(ring, mem):
    set_avail(ring, ring.avail_idx - 1)


def c_head_beyond(ring, mem):
    ring.publish(ring.size)


def c_head_ffff(ring, mem):
    ring.publish(0xffff)


def c_loop_self(ring, mem):
    hdr, data, st = req_bufs(mem)
    i = ring.free.pop(0)
    ring.put_desc(i, hdr, 16, D_NEXT, i)
    ring.publish(i)


def c_loop_two(ring, mem):
    hdr, data, st = req_bufs(mem)
    i, j = ring.free.pop(0), ring.free.pop(0)
    ring.put_desc(i, hdr, 16, D_NEXT, j)
    ring.put_desc(j, data, 512, D_NEXT | D_WRITE, i)
    ring.publish(i)


def c_loop_long(ring, mem):
    """A cycle through every descriptor of the table."""
    hdr, data, st = req_bufs(mem)
    ring.put_desc(0, hdr, 16, D_NEXT, 1)
    for i in range(1, ring.size):
        ring.put_desc(i, data, 512, D_NEXT | D_WRITE, (i + 1) % ring.size)
    ring.free = []
    ring.publish(0)


def c_next_beyond(ring, mem):
    hdr, data, st = req_bufs(mem)
    i = ring.free.pop(0)
    ring.put_desc(i, hdr, 16, D_NEXT, ring.size)
    ring.publish(i)


def c_read_after_write(ring, mem):
    hdr, data, st = req_bufs(mem)
    chain_bad(ring, mem, [(hdr, 16, False), (st, 1, True),
                          (data, 512, False)])


def indirect_table(mem, entries):
    t = mem.alloc(16 * len(entries), 16)
    for k, (addr, length, flags, nxt) in enumerate(entries):
        mem.write(t + 16 * k, struct.pack("<QIHH", addr, length, flags, nxt))
    return t


def plain_table(mem):
    hdr, data, st = req_bufs(mem)
    return indirect_table(mem, [(hdr, 16, D_NEXT, 1),
                                (data, 512, D_NEXT | D_WRITE, 2),
                                (st, 1, D_WRITE, 0)]), 48


def c_indirect(ring, mem, length=None, flags=D_INDIRECT):
    t, n = plain_table(mem)
    i = ring.free.pop(0)
    ring.put_desc(i, t, n if length is None else length, flags, 0)
    ring.publish(i)


def c_indirect_nested(ring, mem):
    t, n = plain_table(mem)
    outer = indirect_table(mem, [(t, n, D_INDIRECT, 0)])
    i = ring.free.pop(0)
    ring.put_desc(i, outer, 16, D_INDIRECT, 0)
    ring.publish(i)


def c_indirect_len_24(ring, mem):
    c_indirect(ring, mem, 24)


def c_indirect_len_0(ring, mem):
    c_indirect(ring, mem, 0)


def c_indirect_huge(ring, mem):
    c_indirect(ring, mem, 0xfffffff0)


def c_indirect_next(ring, mem):
    c_indirect(ring, mem, None, D_INDIRECT | D_NEXT)


RING_CASES = [c_outside, c_at_end, c_partly, c_len_huge, c_addr_wraps,
              c_header_outside, c_avail_jump, c_avail_jump_half,
              c_avail_backwards, c_head_beyond, c_head_ffff, c_loop_self,
              c_loop_two, c_loop_long, c_next_beyond, c_read_after_write,
              c_indirect, c_indirect_nested, c_indirect_len_24,
              c_indirect_len_0, c_indirect_huge, c_indirect_next]


def restart(fe):
    """What a driver does after NEEDS_RESET: reset, and start again."""
    fe.ok(RESET_DEVICE)
    assert fe.get_status() == 0
    for r in fe.rings.values():
        r.close()
    fe.rings = {}
    fe.start(fe.mem, 1, want=fe.features)


@pytest.mark.parametrize("corrupt", RING_CASES,
                         ids=[c.__name__[2:] for c in RING_CASES])
def test_broken_ring(case, corrupt):
    """Through a device that offers INDIRECT_DESC the indirect cases reach
    the table checks; the simulators do not offer it, so there the first
    indirect descriptor breaks the ring already (the table checks are in
    tests/unit/test_vring_validate.c)."""
    fe = victim(case, want=(1 << F_VERSION_1) | (1 << F_INDIRECT))
    blk_check(fe)
    corrupt(fe.rings[0], fe.mem)
    assert fe.rings[0].broke()
    restart(fe)
    blk_check(fe)
    done(fe)


# ---- E. addresses that do not translate; F. ranges only partly mapped --

def test_vring_addr_not_translated(case):
    fe = victim(case, start=False)
    ring = Ring(fe, fe.mem, 0, 64)
    # no memory table yet
    assert fe.request(SET_VRING_ADDR, ring.addr_payload()) == -errno.EFAULT
    fe.negotiate()
    fe.set_mem(fe.mem)
    end = UVA + fe.mem.size
    for bad in (dict(desc=end), dict(used=GPA), dict(avail=UVA - 2),
                dict(desc=0), dict(used=U64 - 7), dict(avail=end + 4096)):
        assert fe.request(SET_VRING_ADDR, ring.addr_payload(**bad)) == \
            -errno.EFAULT, bad
    assert fe.request(SET_VRING_ADDR, ring.addr_payload()) == 0
    ring.close()
    done(fe)


@pytest.mark.parametrize("area", ["desc", "avail", "used"])
def test_ring_area_partly_mapped(case, area):
    """The area starts in the memory (SET_VRING_ADDR takes it) and ends
    beyond it: the ring breaks when it starts."""
    fe = victim(case, start=False)
    fe.negotiate()
    fe.set_mem(fe.mem)
    ring = Ring(fe, fe.mem, 0, 64)
    setattr(ring, area, GPA + fe.mem.size - 64)
    fe.rings[0] = ring.setup()
    assert ring.broke()
    restart(fe)
    blk_check(fe)
    done(fe)


def test_mem_table_replaced_without_the_ring(case):
    fe = victim(case)
    blk_check(fe)
    # the same fd at another guest address: the ring's gpas are gone
    fe.ok(SET_MEM_TABLE, mem_table([fe.mem.region(gpa=GPA * 4)]),
          [fe.mem.fd])
    assert fe.rings[0].broke()
    fe.set_mem(fe.mem)
    restart(fe)
    blk_check(fe)
    done(fe)


def test_mem_table_emptied_under_the_ring(case):
    fe = victim(case)
    blk_check(fe)
    fe.ok(SET_MEM_TABLE, mem_table([]))
    assert fe.rings[0].broke()
    fe.set_mem(fe.mem)
    restart(fe)
    blk_check(fe)
    done(fe)


def test_ring_region_removed(case):
    mem = Mem(name="vu-victim")
    fe = victim(case, start=False, mem=mem)
    fe.negotiate()
    half = mem.size // 2
    for off in (0, half):
        assert fe.request(ADD_MEM_REG, u64b(0) + mem.region(size=half,
                                                             offset=off),
                          [mem.fd]) == 0
    fe.rings[0] = Ring(fe, mem, 0, 64).setup()
    fe.driver_ok()
    blk_check(fe)
    assert fe.request(REM_MEM_REG, u64b(0) + mem.region(size=half)) == 0
    assert fe.rings[0].broke()
    done(fe)


def split_mem(gap):
    """Two regions of one memfd, 1 MiB each; @gap bytes of guest address
    space between them (0: adjacent)."""
    mem = Mem(name="vu-victim")
    table = [mem.region(size=M),
             mem.region(gpa=GPA + M + gap, size=M, offset=M,
                        uva=UVA + M + gap)]
    return mem, table


def test_buffer_across_adjacent_regions(case):
    """Valid: a buffer that spans two regions is read and written whole."""
    mem, table = split_mem(0)
    fe = victim(case, mem=mem, table=table)
    mem.used = M - 2048  # the next buffers straddle the boundary
    blk_check(fe)
    blk_check(fe, 100, split=2)
    done(fe)


def test_buffer_across_a_gap(case):
    mem, table = split_mem(64 << 10)
    fe = victim(case, mem=mem, table=table)
    blk_check(fe)
    hdr, data, st = req_bufs(mem)
    chain_bad(fe.rings[0], mem, [(hdr, 16, False),
                                 (GPA + M - 256, 512, True), (st, 1, True)])
    assert fe.rings[0].broke()
    done(fe)


# ---- G. virtio-net chains shorter than the header; a split header ----

def tx_dropped(fe, data):
    """A TX chain of @data: completed unsent, and the RX buffer posted
    before it takes the next good frame instead."""
    rhead, rbuf, rn = net_post_rx(fe)
    tx = fe.rings[1]
    buf = tx.mem.alloc(max(len(data), 1))
    tx.mem.write(buf, data)
    head = tx.add([(buf, len(data), False)])
    tx.publish(head)
    got = tx.wait_used()
    assert got and got[0] == head
    tx.recycle(head, 1)
    pkt = frame(b"after")
    thead, tn = net_send(fe, pkt)
    assert tx.wait_used()[0] == thead
    tx.recycle(thead, tn)
    got = fe.rings[0].wait_used()
    assert got and got[0] == rhead and got[1] == NET_HDR + len(pkt), got
    assert fe.rings[0].mem.read(rbuf + NET_HDR, len(pkt)) == pkt
    fe.rings[0].recycle(rhead, rn)


@pytest.mark.parametrize("n", [1, 4, NET_HDR - 1, NET_HDR, NET_HDR + 5])
def test_net_tx_shorter_than_header_and_address(case, n):
    fe = victim(case, dev="net0")
    net_loop(fe)
    tx_dropped(fe, b"\xff" * n)
    assert fe.get_status() & S_NEEDS_RESET == 0
    net_loop(fe, b"still")
    done(fe)


def test_net_tx_without_readable_bytes(case):
    """A TX chain of one writable descriptor only: nothing to send."""
    fe = victim(case, dev="net0")
    tx = fe.rings[1]
    buf = tx.mem.alloc(64)
    head = tx.add([(buf, 64, True)])
    tx.publish(head)
    assert tx.wait_used()[0] == head
    tx.recycle(head, 1)
    net_loop(fe)
    done(fe)


@pytest.mark.parametrize("n", [1, 4, NET_HDR - 1, NET_HDR, NET_HDR + 20])
def test_net_rx_shorter_than_frame(case, n):
    """An RX buffer too short for header and frame: the frame is dropped,
    not a byte written past the buffer, and the next buffer takes the
    next frame."""
    fe = victim(case, dev="net0")
    rx, tx = fe.rings[0], fe.rings[1]
    rhead, rbuf, rn = net_post_rx(fe, n)
    thead, tn = net_send(fe, frame(b"too big"))
    assert tx.wait_used()[0] == thead
    tx.recycle(thead, tn)
    got = rx.wait_used()
    assert got == (rhead, 0)
    assert rx.mem.read(rbuf, n + 16) == b"\xcc" * (n + 16)
    rx.recycle(rhead, rn)
    net_loop(fe)
    done(fe)


@pytest.mark.parametrize("cuts", [(1,), (5,), (5, 7, 11), (12,), (3, 12, 13),
                                  tuple(range(1, 40))],
                         ids=["1", "5", "5-7-11", "12", "3-12-13", "bytes"])
def test_net_header_split_across_descriptors(case, cuts):
    """Valid: header and frame cut anywhere, on TX and on RX, arrive
    whole."""
    fe = victim(case, dev="net0")
    rx, tx = fe.rings[0], fe.rings[1]
    pkt = frame(b"split %r" % (cuts,))
    rhead, rbuf, rn = net_post_rx(fe, NET_HDR + len(pkt), cuts)
    thead, tn = net_send(fe, pkt, cuts)
    assert tx.wait_used()[0] == thead
    tx.recycle(thead, tn)
    got = rx.wait_used()
    assert got == (rhead, NET_HDR + len(pkt))
    assert rx.mem.read(rbuf + NET_HDR, len(pkt)) == pkt
    rx.recycle(rhead, rn)
    assert fe.get_status() & S_NEEDS_RESET == 0
    done(fe)


# ---- K. SET_MEM_TABLE with more regions than a message allows ----

@pytest.mark.parametrize("nregions,nfds", [(9, 8), (9, 9), (64, 8),
                                           (0xffffffff, 1), (0x80000001, 1)])
def test_mem_table_too_many_regions(case, nregions, nfds):
    fe = victim(case, start=False)
    regs = [fe.mem.region(size=4096, offset=4096 * i,
                          gpa=GPA + 8192 * i) for i in range(8)]
    payload = struct.pack("=II", nregions, 0) + b"".join(regs)
    fds = memfds(nfds)
    assert refused(outcome(lambda: fe.request(SET_MEM_TABLE, payload,
                                               fds)))
    for fd in fds:
        os.close(fd)
    done(fe)


@pytest.mark.parametrize("nregions,size", [(1, 8), (1, 8 + 31), (2, 8 + 32),
                                           (8, 8 + 7 * 32)])
def test_mem_table_shorter_than_its_regions(case, nregions, size):
    fe = victim(case, start=False)
    payload = struct.pack("=II", nregions, 0) + fe.mem.region() * nregions
    fds = [fe.mem.fd] * nregions
    assert fe.request(SET_MEM_TABLE, payload[:size], fds) == -errno.EINVAL
    done(fe)


# ---- L. truncated messages, size fields that lie ----

def test_size_beyond_any_payload(case):
    for size in (4096, 1 << 20, 0xffffffff):
        fe = victim(case, start=False)
        fe.send(SET_OWNER, b"\0" * 64, flags=VERSION | NEED_REPLY, size=size)
        with pytest.raises(Closed):
            fe.recv()
        done(fe)


def test_message_never_finished(case):
    """Half a header, half a payload: uvdpad waits for the rest without
    blocking anyone, and forgets it at the hang-up."""
    for data in (b"\x08\0\0", struct.pack("=III", SET_VRING_NUM, VERSION, 8)
                 + b"\0\0\0"):
        fe = victim(case, start=False)
        fe.send_raw(data)
        case.others_work()
        done(fe)


def test_message_trickled(case):
    """Valid: a message that comes a byte at a time is served."""
    fe = victim(case, start=False)
    msg = struct.pack("=III", GET_FEATURES, VERSION, 0)
    for b in msg:
        fe.send_raw(bytes([b]))
        case.settle()
    req, flags, p = fe.recv()
    assert req == GET_FEATURES and flags & REPLY and len(p) == 8
    done(fe)


SHORT = [(SET_FEATURES, 4), (SET_VRING_NUM, 4), (SET_VRING_BASE, 7),
         (SET_VRING_ADDR, 16), (SET_VRING_ENABLE, 0), (SET_STATUS, 1),
         (ADD_MEM_REG, 8), (ADD_MEM_REG, 39), (REM_MEM_REG, 16),
         (SET_CONFIG, 11), (SET_PROTOCOL_FEATURES, 2), (NET_SET_MTU, 0),
         (SET_MEM_TABLE, 4)]


@pytest.mark.parametrize("req,size", SHORT,
                         ids=["%d-%d" % s for s in SHORT])
def test_payload_shorter_than_needed(case, req, size):
    fe = victim(case, start=False)
    fds = [fe.mem.fd] if req in (ADD_MEM_REG, SET_MEM_TABLE) else []
    payload = b"\x01" + b"\0" * (size - 1) if size else b""
    assert fe.request(req, payload, fds) == -errno.EINVAL
    done(fe)


def test_config_size_field_beyond_payload(case):
    """SET_CONFIG saying 256 bytes with 4 sent; GET_CONFIG beyond the
    config space or the message: an error, no read past the buffer."""
    fe = victim(case, start=False)
    assert fe.request(SET_CONFIG, struct.pack("=III", 0, 256, 0) + b"\0" * 4
                      ) == -errno.EINVAL
    for off, size in ((0, 257), (0, 0xffffffff), (0xffffffff, 4),
                      (0xfffffff0, 0x20), (90, 100)):
        p = fe.get(GET_CONFIG, struct.pack("=III", off, size, 0) +
                   b"\0" * 256)
        assert p == b"", (off, size)
    done(fe)


def test_size_field_larger_than_message(case):
    """A size that swallows the next message's header: the stream cannot
    be resynchronised; uvdpad must only not crash nor answer the lost
    message, and hang up or wait."""
    fe = victim(case, start=False)
    fe.send(SET_VRING_NUM, struct.pack("=II", 0, 64), size=16)
    fe.send(GET_FEATURES)
    fe.s.settimeout(0.5)
    try:
        got = fe.recv()
    except (Closed, socket.timeout):
        got = None
    assert got is None
    done(fe)


# ---- M. unknown and unsupported request codes; bad versions ----

UNKNOWN = [0, 26, 27, 33, 41, 42, 43, 44, 1000, 0x7fffffff, 0xffffffff]
UNSUPPORTED = [SET_LOG_BASE, SET_LOG_FD, IOTLB_MSG, SET_VRING_ENDIAN,
               POSTCOPY_ADVISE, VRING_KICK]


@pytest.mark.parametrize("req", UNKNOWN + UNSUPPORTED)
def test_unknown_request(case, req):
    fe = victim(case)
    fd = eventfd()
    assert fe.request(req, b"\0" * 40) == -errno.EOPNOTSUPP
    assert fe.request(req, b"\0" * 40, [fd]) == -errno.EOPNOTSUPP
    os.close(fd)
    blk_check(fe)
    # without NEED_REPLY a failure cannot be told: a hang-up
    fe.send(req, b"\0" * 8)
    with pytest.raises(Closed):
        fe.get_u64(GET_FEATURES)
    done(fe)


@pytest.mark.parametrize("flags", [0, 2, 3, VERSION | 0xfff0])
def test_bad_version_or_flags(case, flags):
    fe = victim(case, start=False)
    fe.send(GET_FEATURES, flags=flags)
    if flags & 3 == VERSION:  # unknown flag bits: ignored, as QEMU does
        assert fe.recv()[0] == GET_FEATURES
    else:
        with pytest.raises(Closed):
            fe.recv()
    done(fe)


# ---- N. fds of the wrong kind, values out of range ----

def test_kick_fd_not_an_eventfd(case):
    fe = victim(case)
    r, w = os.pipe()
    m = os.memfd_create("vu-victim")
    for fd in (r, w, m, fe.mem.fd):
        for req in (SET_VRING_KICK, SET_VRING_CALL, SET_VRING_ERR):
            assert fe.u64(req, 0, [fd]) == -errno.EINVAL
    for fd in (r, w, m):
        os.close(fd)
    blk_check(fe)
    done(fe)


def test_values_out_of_range(case):
    fe = victim(case, start=False)
    assert fe.u64(SET_FEATURES, 1 << 63) == -errno.EINVAL
    assert fe.u64(SET_FEATURES, 1 << 33) == -errno.EINVAL  # ACCESS_PLATFORM
    assert fe.u64(SET_STATUS, 0x100) == -errno.EINVAL
    assert fe.u64(NET_SET_MTU, 1500) == -errno.EINVAL  # blk
    assert fe.state(SET_VRING_ENABLE, 0, 2) == -errno.EINVAL
    ring = Ring(fe, fe.mem, 0, 64)
    p = bytearray(ring.addr_payload())
    p[4] = 1  # VHOST_VRING_F_LOG without LOG_ALL
    fe.negotiate()
    fe.set_mem(fe.mem)
    assert fe.request(SET_VRING_ADDR, bytes(p)) == -errno.EINVAL
    ring.close()
    done(fe)


def test_kicked_before_described(case):
    fe = victim(case, start=False)
    fe.negotiate()
    kick = eventfd()
    assert fe.u64(SET_VRING_KICK, 0, [kick]) == 0
    assert fe.state(SET_VRING_ENABLE, 0, 1) == -errno.EINVAL
    os.close(kick)
    done(fe)


# ---- O. a front end that floods, or does not read its replies ----

def test_replies_never_read(case):
    """uvdpad never blocks on a front end's full socket: it hangs up."""
    fe = victim(case, start=False)
    fe.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    msg = struct.pack("=III", GET_FEATURES, VERSION, 0) * 1024
    with pytest.raises(Closed):
        for _ in range(1000):  # 12 MiB of requests, 1M replies of 20 bytes
            fe.send_raw(msg)
            case.settle()  # uvdpad answers everyone else meanwhile
    done(fe)


def test_message_flood(case):
    """Requests as fast as they can be written: the other devices are
    served meanwhile, and the flood is served too."""
    fe = victim(case, start=False)
    msg = struct.pack("=III", SET_OWNER, VERSION, 0) * 4096
    for k in range(32):
        fe.send_raw(msg)
        if k % 8 == 0:
            case.others_work()
    assert fe.get_u64(GET_FEATURES) & (1 << F_VERSION_1)
    done(fe)


# ---- P. inflight regions (INFLIGHT_SHMFD) out of range ----

def inflight(size=0, offset=0, nq=1, qsize=64):
    return struct.pack("=QQHH", size, offset, nq, qsize)


@pytest.mark.parametrize("nq,qsize", [(0, 64), (2, 64), (0xffff, 64),
                                      (1, 0), (1, 3), (1, 0x8001),
                                      (1, 0xffff)])
def test_get_inflight_out_of_range(case, nq, qsize):
    """No error reply exists for GET_INFLIGHT_FD: a hang-up."""
    fe = victim(case, start=False)
    fe.send(GET_INFLIGHT_FD, inflight(nq=nq, qsize=qsize))
    with pytest.raises(Closed):
        fe.recv_with_fds()
    done(fe)


def get_inflight(fe, nq=1, qsize=64):
    fe.send(GET_INFLIGHT_FD, inflight(nq=nq, qsize=qsize))
    req, flags, p, fds = fe.recv_with_fds()
    assert req == GET_INFLIGHT_FD and len(fds) == 1
    size, off = struct.unpack_from("=QQ", p)
    assert size > 0 and off == 0
    return fds[0], size


def test_set_inflight_out_of_range(case):
    fe = victim(case, start=False)
    fd, size = get_inflight(fe)
    small = os.memfd_create("vu-victim")
    os.ftruncate(small, size - 1)
    bad = [(inflight(size + 1), [fd]), (inflight(size - 1), [fd]),
           (inflight(size, 4096), [fd]), (inflight(size, 100), [fd]),
           (inflight(size, U64 - 4095), [fd]), (inflight(size), [small]),
           (inflight(size, nq=2), [fd]), (inflight(size, qsize=128), [fd]),
           (inflight(size), [eventfd()]), (inflight(size), []),
           (inflight(size), [fd, fd])]
    for payload, fds in bad:
        assert fe.request(SET_INFLIGHT_FD, payload, fds) == -errno.EINVAL, \
            payload
    assert fe.request(SET_INFLIGHT_FD, inflight(size), [fd]) == 0
    os.close(small)
    os.close(bad[8][1][0])
    os.close(fd)
    done(fe)


def test_inflight_while_running(case):
    fe = victim(case)
    blk_check(fe)
    fd = eventfd()
    assert fe.request(SET_INFLIGHT_FD, inflight(4096), [fd]) == -errno.EBUSY
    os.close(fd)
    fe.send(GET_INFLIGHT_FD, inflight())
    with pytest.raises(Closed):  # EBUSY: a running queue keeps its region
        fe.recv_with_fds()
    done(fe)


def test_inflight_many_times(case):
    """Each region replaces the one before: nothing piles up."""
    fe = victim(case, start=False)
    for k in range(50):
        fd, size = get_inflight(fe, 1, 1 << (k % 9 + 1))
        assert fe.request(SET_INFLIGHT_FD, inflight(size, nq=1, qsize=1 << (
            k % 9 + 1)), [fd]) == 0
        os.close(fd)
    case.settle()
    with open("/proc/%d/maps" % case.pid) as f:
        assert sum("uvdpa-inflight" in ln for ln in f) == 1
    done(fe)
