"""A minimal client of uvdpad's management socket, for tests.

It speaks the contract of include/uvdpa/mgmt.h: netlink messages
(nlmsghdr + genlmsghdr + attributes) over AF_UNIX SOCK_SEQPACKET. It is
deliberately independent of the C code, so the tests check the wire format
and not only agreement between two halves written together.
"""
import socket
import struct

NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_REQUEST, NLM_F_MULTI, NLM_F_ACK = 0x1, 0x2, 0x4
NLM_F_DUMP = 0x300
NLM_F_CAPPED, NLM_F_ACK_TLVS = 0x100, 0x200
GENL_ID_CTRL = 0x10
CTRL_CMD_NEWFAMILY, CTRL_CMD_GETFAMILY = 1, 3
CTRL_ATTR_FAMILY_ID, CTRL_ATTR_FAMILY_NAME = 1, 2
NLMSGERR_ATTR_MSG = 1

# <linux/vdpa.h>
CMD = dict(MGMTDEV_NEW=1, MGMTDEV_GET=2, DEV_NEW=3, DEV_DEL=4, DEV_GET=5,
           DEV_CONFIG_GET=6, DEV_VSTATS_GET=7, DEV_ATTR_SET=8)
ATTR = dict(MGMTDEV_BUS_NAME=1, MGMTDEV_DEV_NAME=2, SUPPORTED_CLASSES=3,
            DEV_NAME=4, DEV_ID=5, VENDOR_ID=6, MAX_VQS=7, MAX_VQ_SIZE=8,
            MIN_VQ_SIZE=9, MACADDR=10, NET_STATUS=11, MAX_VQP=12, MTU=13,
            NEGOTIATED_FEATURES=14, MGMTDEV_MAX_VQS=15,
            SUPPORTED_FEATURES=16, QUEUE_INDEX=17, VENDOR_ATTR_NAME=18,
            VENDOR_ATTR_VALUE=19, DEV_FEATURES=20, BLK_CAPACITY=21,
            UVDPA_DRIVER=0x1000, UVDPA_ENDPOINT=0x1001)


def attr(kind, payload):
    """One attribute: kind is a number or an ATTR name."""
    kind = ATTR.get(kind, kind)
    data = struct.pack("=HH", 4 + len(payload), kind) + payload
    return data + b"\0" * (-len(data) % 4)


def strz(kind, s):
    return attr(kind, s.encode() + b"\0")


def u16(kind, v):
    return attr(kind, struct.pack("=H", v))


def u32(kind, v):
    return attr(kind, struct.pack("=I", v))


def u64(kind, v):
    return attr(kind, struct.pack("=Q", v))


def parse_attrs(data):
    out = []
    while len(data) >= 4:
        length, kind = struct.unpack_from("=HH", data)
        if length < 4 or length > len(data):
            raise ValueError("malformed attribute")
        out.append((kind & 0x3fff, data[4:length]))
        data = data[(length + 3) & ~3:]
    return out


class Msg:
    def __init__(self, mtype, flags, seq, payload):
        self.type, self.flags, self.seq, self.payload = mtype, flags, seq, payload

    @property
    def error(self):
        return struct.unpack_from("=i", self.payload)[0]

    @property
    def ext_msg(self):
        """The extended ack text of an error or a dump's end, if any."""
        if not self.flags & NLM_F_ACK_TLVS:
            return None
        off = 4 + 16 if self.type == NLMSG_ERROR else 4
        for kind, val in parse_attrs(self.payload[off:]):
            if kind == NLMSGERR_ATTR_MSG:
                return val.rstrip(b"\0").decode()
        return None

    @property
    def cmd(self):
        return self.payload[0]

    def attrs(self):
        return parse_attrs(self.payload[4:])

    def attr(self, kind):
        kind = ATTR.get(kind, kind)
        for k, v in self.attrs():
            if k == kind:
                return v
        return None


def split(record):
    msgs = []
    while len(record) >= 16:
        length, mtype, flags, seq, _ = struct.unpack_from("=IHHII", record)
        if length < 16 or length > len(record):
            raise ValueError("malformed message")
        msgs.append(Msg(mtype, flags, seq, record[16:length]))
        record = record[(length + 3) & ~3:]
    return msgs


class Client:
    def __init__(self, path, timeout=10):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.seq = 0
        self.family = None

    def close(self):
        self.sock.close()

    @staticmethod
    def message(mtype, flags, seq, cmd, attrs=b"", version=1):
        body = struct.pack("=BBH", cmd, version, 0) + attrs
        return struct.pack("=IHHII", 16 + len(body), mtype, flags, seq, 0) + body

    def send_raw(self, data):
        self.sock.send(data)

    def recv_msgs(self):
        return split(self.sock.recv(1 << 20))

    def transact(self, mtype, cmd, attrs=b"", flags=NLM_F_REQUEST | NLM_F_ACK):
        """Send one request; return (messages before the end, final msg)."""
        self.seq += 1
        self.send_raw(self.message(mtype, flags, self.seq, cmd, attrs))
        got = []
        while True:
            for m in self.recv_msgs():
                if m.type in (NLMSG_ERROR, NLMSG_DONE):
                    return got, m
                got.append(m)
                if not (flags & NLM_F_ACK) and not (m.flags & NLM_F_MULTI):
                    return got, None

    def resolve(self):
        got, end = self.transact(GENL_ID_CTRL, CTRL_CMD_GETFAMILY,
                                 strz(CTRL_ATTR_FAMILY_NAME, "vdpa"))
        assert end is None or end.error == 0, end.error
        fid = got[0].attr(CTRL_ATTR_FAMILY_ID)
        self.family = struct.unpack("=H", fid)[0]
        return self.family

    def vdpa(self, cmd, attrs=b"", dump=False):
        flags = NLM_F_REQUEST | NLM_F_ACK | (NLM_F_DUMP if dump else 0)
        if self.family is None:
            self.resolve()
        return self.transact(self.family, CMD.get(cmd, cmd), attrs, flags)
