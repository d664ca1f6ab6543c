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

The front end and the uvdpad fixture are in vuclient.py. Cases on rings
(what a guest can break) are in test_hostile_rings.py.
"""
import errno
import os
import socket
import struct

import pytest

from vuclient import (ADD_MEM_REG, Closed, F_VERSION_1, GET_CONFIG,
                     GET_FEATURES, GET_INFLIGHT_FD, GET_VRING_BASE, GPA,
                     IOTLB_MSG, M, NEED_REPLY, NET_SET_MTU, NOFD,
                     POSTCOPY_ADVISE, REM_MEM_REG, REPLY, Ring,
                     SET_BACKEND_REQ_FD, SET_CONFIG, SET_FEATURES,
                     SET_INFLIGHT_FD, SET_LOG_BASE, SET_LOG_FD, SET_MEM_TABLE,
                     SET_OWNER, SET_PROTOCOL_FEATURES, SET_STATUS,
                     SET_VRING_ADDR, SET_VRING_BASE, SET_VRING_CALL,
                     SET_VRING_ENABLE, SET_VRING_ENDIAN, SET_VRING_ERR,
                     SET_VRING_KICK, SET_VRING_NUM, S_ACK, S_NEEDS_RESET, U64,
                     UVA, VERSION, VRING_KICK, blk_check, blk_rw, done, efds,
                     eventfd, mem_table, memfds, net_loop, one_region, outcome,
                     refused, u64b, victim)
from vuclient import case, env  # noqa: F401 (fixtures used by name)


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
    # QEMU's VhostUserInflight, padding included: 24 bytes
    return struct.pack("=QQHHI", size, offset, nq, qsize, 0)


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
