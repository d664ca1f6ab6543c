#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Write the committed seed corpora of tests/fuzz (tests/fuzz/corpus/).

Each seed is a valid input in the encoding its harness documents: a
whole vhost-user session with a served request, management records that
create, show, bind and delete devices, rings with plain, chained and
indirect chains, command lines and daemon replies. The fuzzer starts from
them instead of from nothing. Run it again after changing an encoding:
    python3 tests/fuzz/seeds.py
"""
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def u8(v):
    return struct.pack("<B", v)


def u16(v):
    return struct.pack("<H", v)


def u32(v):
    return struct.pack("<I", v)


def u64(v):
    return struct.pack("<Q", v)


def write(harness, name, data):
    d = os.path.join(HERE, "corpus", harness)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---- vring layout shared by the ring and vhost-user seeds ----

def desc(addr, length, flags=0, nxt=0):
    return struct.pack("<QIHH", addr, length, flags, nxt)


F_NEXT, F_WRITE, F_INDIRECT = 1, 2, 4


class Mem:
    """A flat picture of driver memory at some base address."""

    def __init__(self, size):
        self.b = bytearray(size)

    def put(self, off, data):
        self.b[off:off + len(data)] = data

    def chunks(self):
        """(offset, bytes) of every run of data, short gaps included."""
        out, i, n = [], 0, len(self.b)
        while i < n:
            if not self.b[i]:
                i += 1
                continue
            j = i
            while j < n and any(self.b[j:j + 16]):
                j += 1
            end = j
            while end > i and not self.b[end - 1]:
                end -= 1
            out.append((i, bytes(self.b[i:end])))
            i = j
        return out


def ring(mem, base, desc_off, avail_off, descs, heads, avail_idx=None):
    """Descriptors at desc_off, avail ring at avail_off (iovas from base)."""
    for i, d in enumerate(descs):
        mem.put(desc_off + 16 * i, d)
    idx = len(heads) if avail_idx is None else avail_idx
    mem.put(avail_off, u16(0) + u16(idx) + b"".join(u16(h) for h in heads))


# ---- fuzz_vring (tests/fuzz/fuzz_vring.c) ----

PAGE = 4096
IOVA = 0x40000000
R, W, RW = 1, 2, 3
EVENT_IDX, INDIRECT, VERSION_1 = 1 << 29, 1 << 28, 1 << 32


def vring_seed(mode, layout, perms, features, queues, mem, rounds=b"",
               inflight=None):
    p = 0
    for i, perm in enumerate(perms):
        p |= perm << (2 * i)
    out = u8(mode) + u8(layout) + u32(p) + u64(features)
    for q in queues + [(0, 0, 0, 0, 0, 0)] * (3 - len(queues)):
        num_log2, flags, d, a, us, idx = q
        out += u8(num_log2) + u8(flags) + u16(d) + u16(a) + u16(us) + u16(idx)
    if inflight is not None:
        out += u16(len(inflight)) + inflight
    chunks = mem.chunks()
    out += u8(len(chunks))
    for off, data in chunks:
        out += u16(off) + u16(len(data)) + data
    return out + rounds


def rnd(ctl, off=0, data=b""):
    return u8(ctl) + u16(off) + u8(len(data)) + data


def vring_seeds():
    # rings on pages 0-2, readable buffers 3-5, writable 6-8, a hole at 9
    perms = [RW, RW, RW, R, R, R, W, W, W, 0, RW, RW, RW, RW, RW, RW]
    q = (3, 3, 0x0000, 0x1000, 0x2000, 0)  # 8 entries, enabled, callfd

    m = Mem(16 * PAGE)
    ring(m, IOVA, 0, 0x1000, [
        desc(IOVA + 3 * PAGE, 16, F_NEXT, 1),
        desc(IOVA + 6 * PAGE, 512, F_NEXT | F_WRITE, 2),
        desc(IOVA + 7 * PAGE, 1, F_WRITE),
        desc(IOVA + 4 * PAGE, 100),
    ], [0, 3])
    write("vring", "ring-chains", vring_seed(
        0, 0, perms, VERSION_1, [q], m, rnd(1) + rnd(0x40) + rnd(0x80)))

    # an indirect table on page 10, then a second chain added by a patch
    m = Mem(16 * PAGE)
    ring(m, IOVA, 0, 0x1000, [
        desc(IOVA + 10 * PAGE, 48, F_INDIRECT),
        desc(IOVA + 5 * PAGE, 64),
    ], [0])
    m.put(10 * PAGE, desc(IOVA + 3 * PAGE, 16, F_NEXT, 1) +
          desc(IOVA + 6 * PAGE, 4096, F_NEXT | F_WRITE, 2) +
          desc(IOVA + 8 * PAGE, 1, F_WRITE))
    write("vring", "ring-indirect", vring_seed(
        0, 0, perms, VERSION_1 | INDIRECT, [q], m,
        rnd(0) + rnd(1, 0x1002, u16(2) + u16(1)) + rnd(2)))

    # event idx; a buffer across pages 3-4, split into one range a page,
    # host pages reversed, the last page also at the top of the iova space
    m = Mem(16 * PAGE)
    ring(m, IOVA, 0, 0x1000, [
        desc(IOVA + 4 * PAGE - 8, 16, F_NEXT, 1),
        desc(IOVA + 6 * PAGE + 100, 2 * PAGE, F_WRITE),
        desc(0xFFFFFFFFFFFFF000, 64),
    ], [0, 2])
    write("vring", "ring-event-idx-split", vring_seed(
        0, 7, perms[:15] + [R], VERSION_1 | EVENT_IDX, [q], m,
        rnd(0x1f) + rnd(0x80) + rnd(0x20)))

    # a restarted back end: the front end's inflight region marks heads 1
    # and 0 (in that order) as taken and not completed; they come again
    # first; then a restart on the region as these rounds left it
    m = Mem(16 * PAGE)
    ring(m, IOVA, 0, 0x1000, [
        desc(IOVA + 3 * PAGE, 16, F_NEXT, 1),
        desc(IOVA + 6 * PAGE, 512, F_WRITE),
        desc(IOVA + 4 * PAGE, 64, F_NEXT, 3),
        desc(IOVA + 7 * PAGE, 1, F_WRITE),
    ], [0, 2, 2], avail_idx=3)
    region = u64(0) + u16(1) + u16(8) + u16(0) + u16(0)
    marks = {0: 9, 2: 5}  # head: counter
    for head in range(8):
        region += u8(1 if head in marks else 0) + b"\0" * 5 + u16(0) + \
            u64(marks.get(head, 0))
    write("vring", "ring-inflight-resubmit", vring_seed(
        0, 8, perms, VERSION_1, [q], m,
        rnd(0x03) + rnd(0xe0) + rnd(0x03) + rnd(0x01), inflight=region))

    # vdpasim_net: RX (queue 0) buffers, TX (queue 1) a broadcast frame
    m = Mem(16 * PAGE)
    ring(m, IOVA, 0, 0x1000, [
        desc(IOVA + 6 * PAGE, 2048, F_WRITE),
        desc(IOVA + 7 * PAGE, 2048, F_WRITE),
    ], [0, 1])
    frame = b"\0" * 12 + b"\xff" * 6 + b"\x52\x54\0\x12\x34\x56" + \
        b"\x08\x06" + bytes(range(46))
    m.put(3 * PAGE, frame)
    ring(m, IOVA, 10 * PAGE, 11 * PAGE, [
        desc(IOVA + 3 * PAGE, 12, F_NEXT, 1),
        desc(IOVA + 3 * PAGE + 12, len(frame) - 12),
    ], [0])
    net_q = [(3, 3, 0, 0x1000, 0x2000, 0),
             (3, 3, 10 * PAGE, 11 * PAGE, 12 * PAGE, 0)]
    write("vring", "sim-net-loopback", vring_seed(
        1, 0, perms, VERSION_1 | (1 << 5), net_q, m,
        rnd(0x02) + rnd(0x0b)))

    # the RX buffer overlaps the TX frame (vq_iov_copy was a memcpy)
    m = Mem(16 * PAGE)
    ring(m, IOVA, 0, 0x1000, [desc(IOVA + 13 * PAGE, 2048, F_WRITE)], [0])
    m.put(13 * PAGE + 6, frame)
    ring(m, IOVA, 10 * PAGE, 11 * PAGE,
         [desc(IOVA + 13 * PAGE + 6, len(frame))], [0])
    write("vring", "sim-net-overlap", vring_seed(
        1, 0, perms, VERSION_1 | (1 << 5), net_q, m, rnd(0x02)))

    # vdpasim_blk: a read, a write, a flush and GET_ID
    m = Mem(16 * PAGE)
    hdrs = [(0, 0), (1, 8), (4, 0), (8, 0)]  # (type, sector)
    descs, heads = [], []
    for i, (typ, sector) in enumerate(hdrs):
        m.put(3 * PAGE + 16 * i, u32(typ) + u32(0) + u64(sector))
        data_flags = 0 if typ == 1 else F_WRITE
        heads.append(len(descs))
        descs.append(desc(IOVA + 3 * PAGE + 16 * i, 16, F_NEXT,
                          len(descs) + 1))
        if typ in (0, 1, 8):
            data = IOVA + (4 if typ == 1 else 6) * PAGE + 512 * i
            descs.append(desc(data, 512, data_flags | F_NEXT,
                              len(descs) + 1))
        descs.append(desc(IOVA + 8 * PAGE + i, 1, F_WRITE))
    ring(m, IOVA, 0, 0x1000, descs, heads)
    write("vring", "sim-blk-requests", vring_seed(
        2, 0, perms, VERSION_1, [q], m, rnd(0x01) + rnd(0x09)))


# ---- fuzz_vhost_user (tests/fuzz/fuzz_vhost_user.c) ----

OP_MEM, OP_KICK, OP_TRUNCATE = 0xff, 0xfe, 0xfd
NEED_REPLY = 0x10
GPA = 0x100000000
UVA = 0x7f0000000000
GUEST = 256 << 10

(GET_FEATURES, SET_FEATURES, SET_OWNER, RESET_OWNER, SET_MEM_TABLE) = \
    (1, 2, 3, 4, 5)
(SET_VRING_NUM, SET_VRING_ADDR, SET_VRING_BASE, GET_VRING_BASE,
 SET_VRING_KICK, SET_VRING_CALL, SET_VRING_ERR, GET_PROTOCOL_FEATURES,
 SET_PROTOCOL_FEATURES, GET_QUEUE_NUM, SET_VRING_ENABLE) = range(8, 19)
NET_SET_MTU, SET_BACKEND_REQ_FD = 20, 21
GET_CONFIG, SET_CONFIG, RESET_DEVICE = 24, 25, 34
GET_MAX_MEM_SLOTS, ADD_MEM_REG, REM_MEM_REG, SET_STATUS, GET_STATUS = \
    36, 37, 38, 39, 40

PF_MQ, PF_REPLY_ACK, PF_NET_MTU, PF_BACKEND_REQ = 0, 3, 4, 5
PF_CONFIG, PF_RESET_DEVICE, PF_MEM_SLOTS, PF_STATUS = 9, 13, 15, 16


def msg(req, payload=b"", nfds=0, ctl=0):
    return u8(req) + u8(ctl | nfds) + u16(len(payload)) + payload


def op_mem(off, data):
    return u8(OP_MEM) + u32(off) + u16(len(data)) + data


def op_mems(mem):
    return b"".join(op_mem(off, data) for off, data in mem.chunks())


def op_kick(k):
    return u8(OP_KICK) + u8(k)


def region(gpa, size, uva, off):
    return u64(gpa) + u64(size) + u64(uva) + u64(off)


def vring_state(idx, num):
    return u32(idx) + u32(num)


def vring_addr(idx, d, used, avail):
    return u32(idx) + u32(0) + u64(d) + u64(used) + u64(avail) + u64(0)


def vu_setup_ring(idx, d, a, us, num=8):
    return (msg(SET_VRING_NUM, vring_state(idx, num)) +
            msg(SET_VRING_BASE, vring_state(idx, 0)) +
            msg(SET_VRING_ADDR, vring_addr(idx, UVA + d, UVA + us, UVA + a)) +
            msg(SET_VRING_CALL, u64(idx), 1) +
            msg(SET_VRING_ERR, u64(idx), 1))


def vu_handshake(proto, features):
    return (msg(GET_FEATURES) + msg(GET_PROTOCOL_FEATURES) +
            msg(SET_PROTOCOL_FEATURES, u64(proto)) + msg(SET_OWNER) +
            msg(GET_QUEUE_NUM) + msg(GET_MAX_MEM_SLOTS) +
            msg(GET_CONFIG, u32(0) + u32(24) + u32(0) + b"\0" * 24) +
            msg(SET_FEATURES, u64(features)) +
            msg(SET_MEM_TABLE, u32(1) + u32(0) +
                region(GPA, GUEST, UVA, 0), 1))


def vu_blk_request_mem():
    m = Mem(8 * PAGE)
    ring(m, GPA, 0, 0x1000, [
        desc(GPA + 0x3000, 16, F_NEXT, 1),
        desc(GPA + 0x4000, 512, F_NEXT | F_WRITE, 2),
        desc(GPA + 0x5000, 1, F_WRITE),
    ], [0])
    m.put(0x3000, u32(0) + u32(0) + u64(0))  # VIRTIO_BLK_T_IN, sector 0
    return m


def vhost_user_seeds():
    proto = sum(1 << b for b in (PF_MQ, PF_REPLY_ACK, PF_CONFIG,
                                 PF_RESET_DEVICE, PF_MEM_SLOTS))
    feats = VERSION_1 | (1 << 30)
    m = vu_blk_request_mem()
    # blk, the status synthesised: kick and enable start it; a read served
    s = (u8(0) + vu_handshake(proto, feats) + vu_setup_ring(0, 0, 0x1000, 0x2000) +
         op_mems(m) + msg(SET_VRING_KICK, u64(0), 1) +
         msg(SET_VRING_ENABLE, vring_state(0, 1), ctl=NEED_REPLY) +
         op_kick(2) + msg(GET_VRING_BASE, vring_state(0, 0)) +
         msg(GET_STATUS))
    write("vhost_user", "blk-read", s)

    # blk with F_STATUS, as QEMU 8+ does: the front end sets the status
    st = proto | (1 << PF_STATUS)
    s = (u8(0) + vu_handshake(st, feats) +
         msg(SET_STATUS, u64(0x0b)) +
         vu_setup_ring(0, 0, 0x1000, 0x2000) + op_mems(m) +
         msg(SET_VRING_KICK, u64(0), 1) +
         msg(SET_VRING_ENABLE, vring_state(0, 1)) +
         msg(SET_STATUS, u64(0x0f)) + op_kick(2) +
         msg(SET_STATUS, u64(0)) + msg(RESET_DEVICE))
    write("vhost_user", "blk-status", s)

    # net: RX and TX rings, a broadcast frame looped back; MTU, config
    net_proto = proto | (1 << PF_NET_MTU) | (1 << PF_BACKEND_REQ)
    n = Mem(16 * PAGE)
    ring(n, GPA, 0, 0x1000, [desc(GPA + 0x6000, 2048, F_WRITE)], [0])
    frame = b"\0" * 12 + b"\xff" * 6 + b"\x52\x54\0\x12\x34\x56" + \
        b"\x08\x06" + bytes(range(46))
    n.put(0x8000, frame)
    ring(n, GPA, 0x3000, 0x4000, [desc(GPA + 0x8000, len(frame))], [0])
    s = (u8(1) + vu_handshake(net_proto, feats | (1 << 5)) +
         msg(SET_BACKEND_REQ_FD, b"", 1) + msg(NET_SET_MTU, u64(1500)) +
         vu_setup_ring(0, 0, 0x1000, 0x2000) +
         vu_setup_ring(1, 0x3000, 0x4000, 0x5000) + op_mems(n) +
         msg(SET_VRING_KICK, u64(0), 1) + msg(SET_VRING_KICK, u64(1), 1) +
         msg(SET_VRING_ENABLE, vring_state(0, 1)) +
         msg(SET_VRING_ENABLE, vring_state(1, 1)) + op_kick(5) +
         msg(SET_CONFIG, u32(0) + u32(6) + u32(0) + b"\x52\x54\0\1\2\3") +
         msg(GET_CONFIG, u32(0) + u32(6) + u32(0) + b"\0" * 6))
    write("vhost_user", "net-loopback", s)

    # memory slots: two regions added, one removed, a ring across them
    s = (u8(0) + msg(GET_PROTOCOL_FEATURES) +
         msg(SET_PROTOCOL_FEATURES, u64(proto)) +
         msg(ADD_MEM_REG, u64(0) + region(GPA, 0x10000, UVA, 0), 1) +
         msg(ADD_MEM_REG, u64(0) + region(GPA + 0x10000, 0x10000,
                                           UVA + 0x10000, 0x10000), 1) +
         msg(REM_MEM_REG, u64(0) + region(GPA + 0x10000, 0x10000,
                                           UVA + 0x10000, 0x10000)) +
         msg(SET_VRING_ADDR, vring_addr(0, UVA, UVA + 0x2000, UVA + 0x1000),
             ctl=NEED_REPLY))
    write("vhost_user", "mem-slots", s)

    # inflight (the simulators do not offer it, but the messages are
    # parsed): a region made by the back end, then one handed back (in
    # the guest memfd at 128 KiB), before the ring starts
    inflight = u64(0) + u64(0) + u16(1) + u16(8)
    given = u64(192) + u64(0x20000) + u16(1) + u16(8)
    marked = u64(0) + u16(1) + u16(8) + u16(0) + u16(0) + \
        (u8(1) + b"\0" * 7 + u64(1)) + b"\0" * 16 * 7
    s = (u8(0) + vu_handshake(proto, feats) +
         msg(31, inflight) + msg(32, given, 1) + op_mem(0x20000, marked) +
         vu_setup_ring(0, 0, 0x1000, 0x2000) + op_mems(m) +
         msg(SET_VRING_KICK, u64(0), 1) +
         msg(SET_VRING_ENABLE, vring_state(0, 1)) + op_kick(2))
    write("vhost_user", "inflight", s)

    # no protocol features (an old front end): rings enabled at once
    s = (u8(0) + msg(GET_FEATURES) + msg(SET_OWNER) +
         msg(SET_FEATURES, u64(VERSION_1)) +
         msg(SET_MEM_TABLE, u32(1) + u32(0) + region(GPA, GUEST, UVA, 0), 1) +
         vu_setup_ring(0, 0, 0x1000, 0x2000) + op_mems(m) +
         msg(SET_VRING_KICK, u64(0), 1) + op_kick(2) +
         msg(GET_VRING_BASE, vring_state(0, 0)) + msg(RESET_OWNER))
    write("vhost_user", "legacy", s)

    # the front end shrinks its memory under a running ring: the back end
    # takes the SIGBUS, hangs up, and the front end reconnects
    s = (u8(0) + vu_handshake(proto, feats) +
         vu_setup_ring(0, 0, 0x1000, 0x2000) + op_mems(m) +
         msg(SET_VRING_KICK, u64(0), 1) +
         msg(SET_VRING_ENABLE, vring_state(0, 1)) +
         u8(OP_TRUNCATE) + u32(0x1000) + op_kick(2) + msg(GET_FEATURES) +
         msg(GET_STATUS))
    write("vhost_user", "shrunk-memory", s)

    # hostile: extra fds (12 of them over two sendmsgs), a pipe for a kick, a bad version, a repeated
    # SET_VRING_NUM, an index past the queues, then a message too big
    s = (u8(0) + msg(GET_FEATURES, b"", 3) +
         msg(SET_VRING_NUM, vring_state(0, 8), 12, ctl=0x40) +
         msg(SET_VRING_CALL, u64(0), 1, ctl=0x80) +
         u8(GET_FEATURES) + u8(0x20) + u16(0) + u32(0x2) +
         msg(SET_VRING_NUM, vring_state(0, 8)) +
         msg(SET_VRING_NUM, vring_state(0, 7)) +
         msg(SET_VRING_NUM, vring_state(0x100, 8)) +
         msg(SET_MEM_TABLE, u32(1) + u32(0) +
             region(GPA, 0xffffffffffff0000, UVA, 0x20000), 1) +
         u8(GET_CONFIG) + u8(0) + u16(0x400) + b"\0" * 16)
    write("vhost_user", "hostile", s)


# ---- fuzz_mgmt (tests/fuzz/fuzz_mgmt.c) ----

GENL_ID_CTRL, FAMILY = 0x10, 0x1d
REQ, ACK, DUMP = 0x1, 0x4, 0x300
(CMD_MGMTDEV_GET, CMD_DEV_NEW, CMD_DEV_DEL, CMD_DEV_GET, CMD_CONFIG_GET,
 CMD_VSTATS_GET, CMD_ATTR_SET) = range(2, 9)
CMD_BIND, CMD_UNBIND, CMD_RESIZE = 0x80, 0x81, 0x82
A_MGMT_BUS, A_MGMT_DEV, A_DEV_NAME, A_MAC, A_MAX_VQP, A_MTU = 1, 2, 4, 10, 12, 13
A_QIDX, A_FEATURES = 17, 20
A_DRIVER, A_OWNER, A_MODE, A_IFNAME, A_CAPACITY = \
    0x1000, 0x1002, 0x1004, 0x1005, 0x1018


def attr(t, data):
    a = u16(4 + len(data)) + u16(t) + data
    return a + b"\0" * (-len(a) % 4)


def sz(s):
    return s.encode() + b"\0"


def nlmsg(typ, flags, cmd, attrs=b"", seq=1):
    body = u8(cmd) + u8(1) + u16(0) + attrs
    return u32(16 + len(body)) + u16(typ) + u16(flags) + u32(seq) + \
        u32(0) + body


def vdpa(cmd, flags=REQ | ACK, *attrs):
    return nlmsg(FAMILY, flags, cmd, b"".join(attrs))


def records(flags, *recs):
    return u8(flags) + b"".join(u16(len(r)) + r for r in recs)


def mgmt_seeds():
    getfamily = nlmsg(GENL_ID_CTRL, REQ | ACK, 3, attr(2, sz("vdpa")))
    add_net = vdpa(CMD_DEV_NEW, REQ | ACK, attr(A_MGMT_DEV, sz("vdpasim_net")),
                   attr(A_DEV_NAME, sz("n0")),
                   attr(A_MAC, b"\x52\x54\0\1\2\3"), attr(A_MTU, u16(1500)),
                   attr(A_MAX_VQP, u16(1)))
    add_blk = vdpa(CMD_DEV_NEW, REQ | ACK, attr(A_MGMT_DEV, sz("vdpasim_blk")),
                   attr(A_DEV_NAME, sz("b0")), attr(A_DRIVER, sz("vhost_vdpa")),
                   attr(A_OWNER, u32(1000)), attr(A_MODE, u32(0o660)))
    name_n0 = attr(A_DEV_NAME, sz("n0"))
    name_b0 = attr(A_DEV_NAME, sz("b0"))
    write("mgmt", "family-and-dumps", records(
        0, getfamily, vdpa(CMD_MGMTDEV_GET, REQ | DUMP),
        vdpa(CMD_MGMTDEV_GET, REQ, attr(A_MGMT_DEV, sz("vdpasim_net"))),
        vdpa(CMD_DEV_GET, REQ | DUMP), vdpa(CMD_CONFIG_GET, REQ | DUMP)))
    write("mgmt", "net-lifecycle", records(
        0x02, add_net, vdpa(CMD_DEV_GET, REQ, name_n0),
        vdpa(CMD_CONFIG_GET, REQ, name_n0),
        vdpa(CMD_VSTATS_GET, REQ, name_n0, attr(A_QIDX, u32(0))),
        vdpa(CMD_ATTR_SET, REQ | ACK, name_n0,
             attr(A_MAC, b"\x52\x54\0\4\5\6")),
        vdpa(CMD_DEV_GET, REQ | DUMP), vdpa(CMD_DEV_DEL, REQ | ACK, name_n0)))
    write("mgmt", "blk-bind-resize", records(
        0x02, add_blk, vdpa(CMD_BIND, REQ | ACK, name_b0,
                            attr(A_DRIVER, sz("virtio_vdpa"))),
        vdpa(CMD_UNBIND, REQ | ACK, name_b0),
        vdpa(CMD_BIND, REQ | ACK, name_b0, attr(A_DRIVER, sz("vhost_vdpa"))),
        vdpa(CMD_RESIZE, REQ | ACK, name_b0, attr(A_CAPACITY, u64(1 << 20))),
        vdpa(CMD_DEV_GET, REQ | DUMP), vdpa(CMD_DEV_DEL, REQ | ACK, name_b0)))
    # several messages in one record; no hooks: autoprobe binds
    write("mgmt", "one-record", records(
        0, add_net + add_blk + vdpa(CMD_DEV_GET, REQ | DUMP) +
        vdpa(CMD_DEV_DEL, REQ | ACK, name_n0)))
    # another uid: shows work, changes are refused; then it is the admin
    write("mgmt", "other-uid", records(
        0x01, add_net, vdpa(CMD_DEV_GET, REQ | DUMP),
        vdpa(CMD_VSTATS_GET, REQ, name_n0, attr(A_QIDX, u32(0)))))
    write("mgmt", "admin-uid", records(0x05, add_blk, vdpa(CMD_DEV_DEL,
                                                           REQ | ACK, name_b0)))
    # replies that cannot be sent after the first; unknown attributes
    write("mgmt", "send-fails", records(
        0x18, add_net, vdpa(CMD_DEV_GET, REQ | DUMP),
        vdpa(CMD_ATTR_SET, REQ | ACK, name_n0, attr(0x3fff, u32(1))),
        vdpa(CMD_DEV_NEW, REQ | ACK, attr(A_MGMT_BUS, sz("pci")),
             attr(A_MGMT_DEV, sz("vdpasim_net")), attr(A_DEV_NAME, sz("x")),
             attr(A_FEATURES, u64(1 << 32)))))


# ---- CLI harnesses (cli/fuzz_cli_args.c, cli/fuzz_cli_reply.c) ----

def cli_seeds():
    lines = [
        "mgmtdev show",
        "-j -p mgmtdev show vdpasim_net",
        "dev add name n0 mgmtdev vdpasim_net mac 52:54:00:01:02:03 mtu 1500 "
        "max_vqp 1",
        "dev add name b0 mgmtdev vdpasim_blk driver vhost_vdpa owner 1000 "
        "mode 0660",
        "dev add name d0 mgmtdev blk path /tmp/x.img readonly num_queues 2 "
        "queue_size 128 serial abc logical_block_size 4096",
        "dev show n0",
        "-j dev config show n0",
        "dev vstats show n0 qidx 0",
        "dev set name n0 mac 52:54:00:04:05:06",
        "dev bind n0 driver virtio_vdpa ifname tap0",
        "dev resize b0 capacity 1G",
        "dev del n0",
        "help",
    ]
    for i, line in enumerate(lines):
        write("cli_args", "args-%02d" % i, "\0".join(line.split()).encode())

    # replies: the first byte picks the command line (cli/fuzz_cli_reply.c)
    dev = nlmsg(FAMILY, 0x2, CMD_DEV_NEW,
                attr(A_DEV_NAME, sz("n0")) + attr(5, u32(1)) +
                attr(6, u32(0)) + attr(7, u32(3)) + attr(8, u16(256)) +
                attr(9, u16(1)) + attr(A_MGMT_DEV, sz("vdpasim_net")) +
                attr(A_DRIVER, sz("vhost_vdpa")))
    done = u32(20) + u16(3) + u16(0x2) + u32(1) + u32(0) + u32(0)
    write("cli_reply", "dev-show", u8(2) + dev + done)
    mgmt = nlmsg(FAMILY, 0x2, CMD_MGMTDEV_GET,
                 attr(A_MGMT_DEV, sz("vdpasim_net")) + attr(3, u64(1 << 1)) +
                 attr(15, u32(3)) + attr(16, u64(VERSION_1 | 0x20)))
    write("cli_reply", "mgmtdev-show", u8(0) + mgmt + done)
    cfg = nlmsg(FAMILY, 0, CMD_CONFIG_GET,
                attr(A_DEV_NAME, sz("n0")) + attr(A_MAC, b"\x52\x54\0\1\2\3") +
                attr(11, u8(1)) + attr(A_MTU, u16(1500)) +
                attr(A_MAX_VQP, u16(1)) + attr(14, u64(VERSION_1)))
    write("cli_reply", "config-show", u8(5) + cfg)
    vst = nlmsg(FAMILY, 0, CMD_VSTATS_GET,
                attr(A_DEV_NAME, sz("n0")) + attr(A_QIDX, u32(0)) +
                attr(18, sz("received_desc")) + attr(19, u64(7)))
    write("cli_reply", "vstats-show", u8(6) + vst)
    body = u32((1 << 32) - 22) + b"\0" * 16 + attr(1, sz("vdpa: no"))
    err = u32(16 + len(body)) + u16(2) + u16(0x300) + u32(1) + u32(0) + body
    write("cli_reply", "error-extack", u8(8) + err)


def main():
    vring_seeds()
    vhost_user_seeds()
    mgmt_seeds()
    cli_seeds()
    return 0


if __name__ == "__main__":
    sys.exit(main())
