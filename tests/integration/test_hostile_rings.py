"""Hostile rings and memory against the real uvdpad: what a guest (or a
front end) can break in the rings and in the memory under them, each case
ending in NEEDS_RESET (GET_STATUS and the SET_VRING_ERR eventfd) and a
device that works again after a reset, or, for valid layouts that look odd
(a header cut anywhere, buffers across regions), in I/O that works; with
the same checks after every case as test_hostile_vhost.py (other devices
served, fds and mappings back, LSan at exit)."""

import errno
import os
import struct

import pytest

from vuclient import (ADD_MEM_REG, Closed, D_INDIRECT, D_NEXT, D_WRITE,
                      F_INDIRECT, F_VERSION_1, GET_INFLIGHT_FD, GET_VRING_BASE,
                      GPA, M, Mem, NET_HDR, REM_MEM_REG, RESET_DEVICE, Ring,
                      SET_MEM_TABLE, SET_VRING_ADDR, SET_VRING_KICK,
                      S_NEEDS_RESET, T_IN, U64, UVA, blk_check, done, fired,
                      frame, mem_table, net_loop, net_post_rx, net_send,
                      outcome, u64b, victim)
from vuclient import case, env  # noqa: F401 (fixtures used by name)


# ---- C'. the memory shrinks under the device (SIGBUS) ----

SHRANK = "memory shrank under the device"


def shrunk(case, fe, seen):
    """After the front end cut its memfd: the ring's err fd fired, uvdpad
    hung up on it (saying so once more than the @seen times before), and
    the device serves the next front end."""
    assert fired(fe.rings[0].err_fd)
    with pytest.raises(Closed):
        while True:
            fe.get_status()
    done(fe)
    fe = victim(case)
    blk_check(fe)
    done(fe)
    assert case.d.read_log().count(SHRANK) == seen + 1


def test_memory_shrunk_under_a_stopped_ring(case):
    """The control thread touches the ring when it starts it again."""
    fe = victim(case)
    blk_check(fe)
    base = fe.get(GET_VRING_BASE, struct.pack("=II", 0, 0))
    assert struct.unpack("=II", base)[1] == 2  # two requests done
    seen = case.d.read_log().count(SHRANK)
    os.ftruncate(fe.mem.fd, 0)
    r = outcome(lambda: fe.u64(SET_VRING_KICK, 0, [fe.rings[0].kick_fd]))
    assert r in (0, "closed")
    shrunk(case, fe, seen)


def test_memory_shrunk_under_a_running_ring(case):
    """A data path worker touches it (the workers leave SIGBUS
    unblocked: a blocked fault signal kills whatever the handler)."""
    fe = victim(case)
    blk_check(fe)
    ring = fe.rings[0]
    ring.publish(ring.add([(GPA, 16, False)]), kick=False)
    seen = case.d.read_log().count(SHRANK)
    os.ftruncate(fe.mem.fd, 0)  # not ours to touch either, now
    ring.kick()
    shrunk(case, fe, seen)


def test_inflight_region_shrunk(case):
    """The region GET_INFLIGHT_FD gave, which the device writes at every
    request it takes, cut by the front end."""
    fe = victim(case, start=False)
    fe.send(GET_INFLIGHT_FD, struct.pack("=QQHHI", 0, 0, 1, 64, 0))
    req, flags, p, fds = fe.recv_with_fds()
    assert req == GET_INFLIGHT_FD and len(fds) == 1
    fe.start(fe.mem, 1, 64)
    blk_check(fe)
    seen = case.d.read_log().count(SHRANK)
    os.ftruncate(fds[0], 0)
    os.close(fds[0])
    ring = fe.rings[0]
    hdr, data, st = req_bufs(fe.mem)
    ring.publish(ring.add([(hdr, 16, False), (data, 512, True),
                           (st, 1, True)]))
    shrunk(case, fe, seen)


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


@pytest.mark.parametrize("table", [
    # the same fd at another guest address: the ring's gpas are gone
    lambda fe: fe.ok(SET_MEM_TABLE, mem_table([fe.mem.region(gpa=GPA * 4)]),
                     [fe.mem.fd]),
    lambda fe: fe.ok(SET_MEM_TABLE, mem_table([])),
], ids=["replaced_without_the_ring", "emptied"])
def test_mem_table_under_the_ring(case, table):
    """A memory table that no longer maps the running ring breaks it; the
    old table again and a restart bring the device back."""
    fe = victim(case)
    blk_check(fe)
    table(fe)
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
