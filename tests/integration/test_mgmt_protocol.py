"""The management socket on the wire: family resolution, every command's
success path and the kernel's failure paths (reference §1.5, §1.6), and
malformed input that must get an error and leave the daemon serving."""
import errno
import os
import socket
import struct
import subprocess

import nlclient as nl
from conftest import UVDPAD

SIM_NET_FEATURES = 0x308830028
NET, BLK = "vdpasim_net", "vdpasim_blk"


def add(c, name, mgmt, extra=b""):
    return c.vdpa("DEV_NEW", nl.strz("DEV_NAME", name) +
                  nl.strz("MGMTDEV_DEV_NAME", mgmt) + extra)


def test_getfamily(client):
    got, end = client.transact(nl.GENL_ID_CTRL, nl.CTRL_CMD_GETFAMILY,
                               nl.strz(nl.CTRL_ATTR_FAMILY_NAME, "vdpa"))
    assert got[0].type == nl.GENL_ID_CTRL
    assert got[0].cmd == nl.CTRL_CMD_NEWFAMILY
    assert got[0].attr(nl.CTRL_ATTR_FAMILY_NAME) == b"vdpa\0"
    fid = struct.unpack("=H", got[0].attr(nl.CTRL_ATTR_FAMILY_ID))[0]
    assert fid >= 0x10
    assert end.error == 0


def test_getfamily_prefix_is_not_the_name(client):
    # the kernel compares whole names (nla_strcmp): "vd" is not "vdpa"
    for name in (b"vd", b"v", b"", b"vdpa\0x"):
        got, end = client.transact(nl.GENL_ID_CTRL, nl.CTRL_CMD_GETFAMILY,
                                   nl.attr(nl.CTRL_ATTR_FAMILY_NAME, name))
        assert got == [] and end.error == -errno.ENOENT, name
    # without its NUL, the whole name still matches
    got, end = client.transact(nl.GENL_ID_CTRL, nl.CTRL_CMD_GETFAMILY,
                               nl.attr(nl.CTRL_ATTR_FAMILY_NAME, b"vdpa"))
    assert len(got) == 1 and end.error == 0


def test_getfamily_unknown(client):
    got, end = client.transact(nl.GENL_ID_CTRL, nl.CTRL_CMD_GETFAMILY,
                               nl.strz(nl.CTRL_ATTR_FAMILY_NAME, "nl80211"))
    assert got == [] and end.error == -errno.ENOENT


def test_mgmtdev_dump_and_get(client):
    got, end = client.vdpa("MGMTDEV_GET", dump=True)
    assert end.type == nl.NLMSG_DONE and end.error == 0
    assert [m.attr("MGMTDEV_DEV_NAME") for m in got] == [b"vdpasim_net\0",
                                                        b"vdpasim_blk\0", b"blk\0"]
    assert all(m.cmd == nl.CMD["MGMTDEV_NEW"] for m in got)
    assert all(m.flags & nl.NLM_F_MULTI for m in got)
    net = got[0]
    assert [k for k, _ in net.attrs()] == [2, 3, 15, 16]
    assert struct.unpack("=Q", net.attr("SUPPORTED_CLASSES"))[0] == 1 << 1
    assert struct.unpack("=I", net.attr("MGMTDEV_MAX_VQS"))[0] == 3
    assert struct.unpack("=Q", net.attr("SUPPORTED_FEATURES"))[0] == \
        SIM_NET_FEATURES
    got, end = client.vdpa("MGMTDEV_GET", nl.strz("MGMTDEV_DEV_NAME", BLK))
    assert end.error == 0 and len(got) == 1
    assert struct.unpack("=Q", got[0].attr("SUPPORTED_FEATURES"))[0] == 0


def test_mgmtdev_get_errors(client):
    got, end = client.vdpa("MGMTDEV_GET", nl.strz("MGMTDEV_DEV_NAME", "x"))
    assert end.error == -errno.ENODEV
    assert end.ext_msg == "vdpa: Fail to find the specified mgmt device"
    got, end = client.vdpa("MGMTDEV_GET")
    assert end.error == -errno.EINVAL
    # a bus name matches only parents on a bus (reference §1.7)
    got, end = client.vdpa("MGMTDEV_GET", nl.strz("MGMTDEV_BUS_NAME", "pci") +
                           nl.strz("MGMTDEV_DEV_NAME", NET))
    assert end.error == -errno.ENODEV


def test_dev_lifecycle(client):
    assert add(client, "blk0", BLK)[1].error == 0
    assert add(client, "net0", NET)[1].error == 0
    got, end = client.vdpa("DEV_GET", dump=True)
    assert end.error == 0
    assert [m.attr("DEV_NAME") for m in got] == [b"blk0\0", b"net0\0"]
    assert all(m.cmd == nl.CMD["DEV_NEW"] for m in got)
    # the kernel's attributes in its order; extensions may follow
    assert [k for k, _ in got[1].attrs()][:7] == [2, 4, 5, 6, 7, 8, 9]
    assert struct.unpack("=I", got[1].attr("MAX_VQS"))[0] == 3
    assert struct.unpack("=H", got[1].attr("MAX_VQ_SIZE"))[0] == 256
    got, end = client.vdpa("DEV_GET", nl.strz("DEV_NAME", "net0"))
    assert end.error == 0 and got[0].attr("DEV_ID") == b"\x01\0\0\0"
    assert client.vdpa("DEV_DEL", nl.strz("DEV_NAME", "net0"))[1].error == 0
    assert client.vdpa("DEV_DEL", nl.strz("DEV_NAME", "blk0"))[1].error == 0
    got, end = client.vdpa("DEV_GET", dump=True)
    assert got == [] and end.error == 0


def test_dump_keeps_creation_order(client):
    for n in ("a", "b", "c"):
        assert add(client, n, BLK)[1].error == 0
    assert client.vdpa("DEV_DEL", nl.strz("DEV_NAME", "b"))[1].error == 0
    assert add(client, "d", BLK)[1].error == 0
    got, _ = client.vdpa("DEV_GET", dump=True)
    assert [m.attr("DEV_NAME") for m in got] == [b"a\0", b"c\0", b"d\0"]


def test_dev_new_no_name(client):
    got, end = client.vdpa("DEV_NEW", nl.strz("MGMTDEV_DEV_NAME", NET))
    assert end.error == -errno.EINVAL and end.ext_msg is None


def test_dev_new_duplicate(client):
    assert add(client, "dup", NET)[1].error == 0
    end = add(client, "dup", BLK)[1]
    assert end.error == -errno.EEXIST and end.ext_msg is None


def test_dev_new_unknown_mgmtdev(client):
    end = add(client, "x", "vdpasim_foo")[1]
    assert end.error == -errno.ENODEV
    assert end.ext_msg == "vdpa: Fail to find the specified management device"
    got, end = client.vdpa("DEV_NEW", nl.strz("DEV_NAME", "x"))
    assert end.error == -errno.EINVAL
    assert end.ext_msg == "vdpa: Fail to find the specified management device"


def test_dev_new_unsupported_attrs(client):
    end = add(client, "x", BLK, nl.attr("MACADDR", b"\x02\0\0\0\0\1"))[1]
    assert end.error == -errno.EOPNOTSUPP
    assert end.ext_msg == "vdpa: Some provided attributes are not supported: 0x400"
    end = add(client, "x", NET, nl.u16("MAX_VQP", 2))[1]
    assert end.error == -errno.EOPNOTSUPP
    assert end.ext_msg == "vdpa: Some provided attributes are not supported: 0x1000"
    end = add(client, "x", BLK, nl.u64("DEV_FEATURES", 1 << 32))[1]
    assert end.error == -errno.EOPNOTSUPP
    assert end.ext_msg.endswith("0x100000")


def test_dev_new_max_vqp_zero_first(client):
    # checked before the mgmtdev is even looked up
    end = add(client, "x", "nonexistent", nl.u16("MAX_VQP", 0))[1]
    assert end.error == -errno.EINVAL
    assert end.ext_msg == "vdpa: At least one pair of VQs is required"


def test_dev_new_missing_features(client):
    end = add(client, "x", NET, nl.attr("MACADDR", b"\x02\0\0\0\0\1") +
              nl.u16("MTU", 1500) + nl.u64("DEV_FEATURES", 1 << 32))[1]
    assert end.error == -errno.EINVAL
    assert end.ext_msg == \
        "vdpa: Missing features 0x28 for provided attributes"


def test_dev_new_features_must_be_subset(client):
    end = add(client, "x", NET, nl.u64("DEV_FEATURES", 1 << 60))[1]
    assert end.error == -errno.EINVAL


def test_dev_new_provisioned_features(client):
    feats = (1 << 17) | (1 << 32) | (1 << 33)
    assert add(client, "p", NET, nl.u64("DEV_FEATURES", feats))[1].error == 0
    got, end = client.vdpa("DEV_CONFIG_GET", nl.strz("DEV_NAME", "p"))
    assert struct.unpack("=Q", got[0].attr("DEV_FEATURES"))[0] == feats
    # no MAC, MTU or STATUS offered: none reported
    assert got[0].attr("MACADDR") is None and got[0].attr("MTU") is None


def test_dev_new_extension_attr_refused(client):
    # an extension attribute nobody knows
    end = add(client, "x", NET, nl.strz(0x1fff, "y"))[1]
    assert end.error == -errno.EOPNOTSUPP and "0x1fff" in end.ext_msg
    # the blk parent's path, given to a simulator that takes no path
    end = add(client, "x", NET, nl.strz(0x1010, "/tmp"))[1]
    assert end.error == -errno.EOPNOTSUPP and "0x1010" in end.ext_msg
    assert "vdpasim_net" in end.ext_msg
    assert not client.vdpa("DEV_GET", nl.strz("DEV_NAME", "x"))[0]


def test_dev_new_extension_attr_policy(client):
    # a u8 attribute of two bytes: refused by the policy, before any handler
    end = add(client, "x", NET, nl.attr(0x1011, b"\x01\x00"))[1]
    assert end.error == -errno.EINVAL
    assert end.ext_msg == "invalid attribute length"
    # a string attribute without its NUL
    end = add(client, "x", NET, nl.attr(0x1005, b"tap0"))[1]
    assert end.error == -errno.EINVAL and "NUL" in end.ext_msg


def test_extension_attr_ranges_and_strictness(client, tmp_path):
    # a flag of the blk parent is 0 or 1: 2 is refused by the policy
    img = tmp_path / "d.img"
    img.write_bytes(bytes(1 << 20))
    end = add(client, "x", "blk", nl.strz(0x1010, str(img)) +
              nl.attr(0x1011, b"\x02"))[1]
    assert end.error == -errno.ERANGE
    assert end.ext_msg == "integer out of range"
    # uvdpa's own commands are strict: an unknown extension attribute is
    # refused, as an unknown plain one is
    assert add(client, "n", NET)[1].error == 0
    got, end = client.vdpa(0x81, nl.strz("DEV_NAME", "n") +
                           nl.strz(0x1fff, "y"))
    assert end.error == -errno.EINVAL
    assert end.ext_msg == "Unknown attribute type"
    # the kernel's non-strict GET still ignores it
    got, end = client.vdpa("DEV_GET", nl.strz("DEV_NAME", "n") +
                           nl.strz(0x1fff, "y"))
    assert end.error == 0 and len(got) == 1


def test_config_net(client):
    assert add(client, "n", NET, nl.attr("MACADDR", b"\x00\x35\x09\x19\x48\x05")
               + nl.u16("MTU", 9000))[1].error == 0
    got, end = client.vdpa("DEV_CONFIG_GET", nl.strz("DEV_NAME", "n"))
    m = got[0]
    assert m.cmd == nl.CMD["DEV_CONFIG_GET"]
    # no driver yet: no negotiated features; mtu, mac, status by device
    assert [k for k, _ in m.attrs()] == [4, 5, 20, 13, 10, 11]
    assert m.attr("MACADDR") == b"\x00\x35\x09\x19\x48\x05"
    assert struct.unpack("=H", m.attr("MTU"))[0] == 9000
    assert struct.unpack("=H", m.attr("NET_STATUS"))[0] == 1  # link up, u16


def test_config_blk(client):
    assert add(client, "b", BLK)[1].error == 0
    got, end = client.vdpa("DEV_CONFIG_GET", nl.strz("DEV_NAME", "b"))
    m = got[0]
    assert struct.unpack("=Q", m.attr("BLK_CAPACITY"))[0] == 0x40000
    kinds = [k for k, _ in m.attrs()]
    assert kinds[:3] == [4, 5, 20] and 35 in kinds and 36 in kinds
    got, end = client.vdpa("DEV_CONFIG_GET", dump=True)
    assert len(got) == 1 and end.error == 0


def test_config_errors(client):
    got, end = client.vdpa("DEV_CONFIG_GET", nl.strz("DEV_NAME", "none"))
    assert end.error == -errno.ENODEV and end.ext_msg == "vdpa: device not found"
    got, end = client.vdpa("DEV_CONFIG_GET")
    assert end.error == -errno.EINVAL


def test_vstats_errors(client):
    assert add(client, "n", NET)[1].error == 0
    assert add(client, "b", BLK)[1].error == 0
    q0 = nl.u32("QUEUE_INDEX", 0)
    got, end = client.vdpa("DEV_VSTATS_GET", q0)
    assert end.error == -errno.EINVAL
    got, end = client.vdpa("DEV_VSTATS_GET", nl.strz("DEV_NAME", "n"))
    assert end.error == -errno.EINVAL
    got, end = client.vdpa("DEV_VSTATS_GET", nl.strz("DEV_NAME", "z") + q0)
    assert end.error == -errno.ENODEV
    got, end = client.vdpa("DEV_VSTATS_GET", nl.strz("DEV_NAME", "b") + q0)
    assert end.error == -errno.EOPNOTSUPP
    got, end = client.vdpa("DEV_VSTATS_GET", nl.strz("DEV_NAME", "n") +
                           nl.u32("QUEUE_INDEX", 0x8001))
    assert end.error == -errno.ERANGE
    assert end.ext_msg == "vdpa: queue index exceeds max value"
    got, end = client.vdpa("DEV_VSTATS_GET", nl.strz("DEV_NAME", "n") + q0)
    assert end.error == -errno.EAGAIN
    assert end.ext_msg == "vdpa: feature negotiation not complete"


def test_dev_del_errors(client):
    got, end = client.vdpa("DEV_DEL", nl.strz("DEV_NAME", "ghost"))
    assert end.error == -errno.ENODEV and end.ext_msg == "vdpa: device not found"
    got, end = client.vdpa("DEV_DEL")
    assert end.error == -errno.EINVAL


def test_attr_set(client):
    assert add(client, "n", NET)[1].error == 0
    assert add(client, "b", BLK)[1].error == 0
    name = nl.strz("DEV_NAME", "n")
    end = client.vdpa("DEV_ATTR_SET", name +
                      nl.attr("MACADDR", b"\x52\x54\0\x12\x34\x56"))[1]
    assert end.error == 0 and end.ext_msg is None
    got, _ = client.vdpa("DEV_CONFIG_GET", name)
    assert got[0].attr("MACADDR") == b"\x52\x54\0\x12\x34\x56"
    for bad in (b"\x01\0\0\0\0\1", b"\0" * 6):
        end = client.vdpa("DEV_ATTR_SET", name + nl.attr("MACADDR", bad))[1]
        assert end.error == -errno.EOPNOTSUPP
        assert end.ext_msg == "vdpa: Invalid MAC address"
    end = client.vdpa("DEV_ATTR_SET", name)[1]
    assert end.error == -errno.EOPNOTSUPP and end.ext_msg is None
    # a block device: the kernel warns and succeeds
    end = client.vdpa("DEV_ATTR_SET", nl.strz("DEV_NAME", "b") +
                      nl.attr("MACADDR", b"\x52\x54\0\x12\x34\x56"))[1]
    assert end.error == 0 and "device not supported" in end.ext_msg
    # strict validation for this command: unknown attribute type
    end = client.vdpa("DEV_ATTR_SET", name + nl.u32(200, 1))[1]
    assert end.error == -errno.EINVAL


def test_policy(client):
    end = add(client, "x", NET, nl.u16("MTU", 67))[1]
    assert end.error == -errno.ERANGE and end.ext_msg == "integer out of range"
    end = add(client, "x", NET, nl.u32("MTU", 1500))[1]
    assert end.error == -errno.EINVAL
    end = add(client, "x", NET, nl.attr("MACADDR", b"\x02\0\0\0\1"))[1]
    assert end.error == -errno.ERANGE
    end = add(client, "x", NET, nl.attr("MGMTDEV_BUS_NAME", b"pci"))[1]
    assert end.error == -errno.EINVAL  # NUL-terminated string missing
    end = client.vdpa("DEV_VSTATS_GET", nl.strz("DEV_NAME", "x") +
                      nl.u16("QUEUE_INDEX", 1))[1]
    assert end.error == -errno.EINVAL
    got, end = client.vdpa("DEV_GET", dump=True)
    assert got == []


def test_unknown_command_and_family(client):
    got, end = client.vdpa(0x7f)
    assert end.error == -errno.EOPNOTSUPP
    got, end = client.vdpa("MGMTDEV_NEW")
    assert end.error == -errno.EOPNOTSUPP
    got, end = client.vdpa("DEV_VSTATS_GET", dump=True)  # no dumpit
    assert end.error == -errno.EOPNOTSUPP
    got, end = client.transact(0x77, 1)
    assert end.error == -errno.ENOENT


def still_serving(daemon):
    c = daemon.client()
    got, end = c.vdpa("MGMTDEV_GET", dump=True)
    c.close()
    return end.error == 0 and len(got) == 3  # vdpasim_net, vdpasim_blk, blk


def raw(daemon, data, expect_reply=True):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.settimeout(2)
    s.connect(daemon.sock)
    s.send(data)
    try:
        reply = s.recv(1 << 16)
    except socket.timeout:
        reply = None
    s.close()
    return nl.split(reply) if reply else reply


def test_malformed_short_record(daemon):
    assert raw(daemon, b"\x01\x02\x03") is None
    assert still_serving(daemon)


def test_malformed_length_past_end(daemon):
    msg = nl.Client.message(nl.GENL_ID_CTRL, nl.NLM_F_REQUEST, 1, 3)
    bad = struct.pack("=I", len(msg) + 100) + msg[4:]
    reply = raw(daemon, bad)
    assert reply[0].type == nl.NLMSG_ERROR and reply[0].error == -errno.EINVAL
    assert still_serving(daemon)


def test_malformed_no_genl_header(daemon):
    bad = struct.pack("=IHHII", 17, 0x1d, nl.NLM_F_REQUEST, 1, 0) + b"\x05"
    reply = raw(daemon, bad)
    assert reply[0].error == -errno.EINVAL
    assert still_serving(daemon)


def test_malformed_attribute_past_end(client, daemon):
    fam = client.family
    body = struct.pack("=BBH", 5, 1, 0) + struct.pack("=HH", 200, 4) + b"ab\0\0"
    msg = struct.pack("=IHHII", 16 + len(body), fam,
                      nl.NLM_F_REQUEST | nl.NLM_F_ACK, 9, 0) + body
    reply = raw(daemon, msg)
    assert reply[0].error == -errno.EINVAL
    assert still_serving(daemon)


def test_several_messages_in_one_record(client, daemon):
    fam = client.family
    one = nl.Client.message(fam, nl.NLM_F_REQUEST | nl.NLM_F_ACK, 1, 3,
                            nl.strz("DEV_NAME", "m1") +
                            nl.strz("MGMTDEV_DEV_NAME", BLK))
    two = nl.Client.message(fam, nl.NLM_F_REQUEST | nl.NLM_F_ACK, 2, 3,
                            nl.strz("DEV_NAME", "m2") +
                            nl.strz("MGMTDEV_DEV_NAME", BLK))
    reply = raw(daemon, one + two)
    assert [(m.seq, m.error) for m in reply] == [(1, 0), (2, 0)]


def test_record_over_32k(daemon):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
    s.settimeout(5)
    s.connect(daemon.sock)
    body = struct.pack("=BBH", 2, 1, 0) + b"\0" * 40000
    s.send(struct.pack("=IHHII", 16 + len(body), 0x1d, 1, 7, 0) + body)
    reply = nl.split(s.recv(1 << 16))
    assert reply[0].type == nl.NLMSG_ERROR
    assert reply[0].error == -errno.EMSGSIZE
    s.close()
    assert still_serving(daemon)


def test_big_dump_spans_records(client):
    for i in range(400):
        assert add(client, "dev%03d" % i, BLK)[1].error == 0
    client.seq += 1
    client.send_raw(client.message(client.family, nl.NLM_F_REQUEST |
                                   nl.NLM_F_DUMP, client.seq, 5))
    names, records = [], 0
    while True:
        rec = client.sock.recv(1 << 20)
        records += 1
        assert len(rec) <= 32 * 1024
        msgs = nl.split(rec)
        names += [m.attr("DEV_NAME") for m in msgs if m.type == client.family]
        if msgs[-1].type == nl.NLMSG_DONE:
            break
    assert len(names) == 400 and records > 1


def test_non_root_gets_eperm_on_admin(daemon):
    os.chmod(daemon.sock, 0o666)  # as if nobody were in group uvdpa
    code = r'''
import errno, sys
sys.path.insert(0, %r)
import nlclient as nl
c = nl.Client(%r)
got, end = c.vdpa("MGMTDEV_GET", dump=True)
assert end.error == 0 and len(got) == 3, end.error
got, end = c.vdpa("DEV_GET", dump=True)
assert end.error == 0
for cmd, attrs in (("DEV_NEW", nl.strz("DEV_NAME", "u") +
                    nl.strz("MGMTDEV_DEV_NAME", "vdpasim_blk")),
                   ("DEV_DEL", nl.strz("DEV_NAME", "u")),
                   ("DEV_ATTR_SET", nl.strz("DEV_NAME", "u")),
                   ("DEV_VSTATS_GET", nl.strz("DEV_NAME", "u"))):
    got, end = c.vdpa(cmd, attrs)
    assert end.error == -errno.EPERM, (cmd, end.error)
print("ok")
''' % (os.path.dirname(nl.__file__), daemon.sock)
    p = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup",
                        "--clear-groups", "/usr/bin/python3", "-c", code],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and p.stdout.strip() == "ok", p.stderr
    assert still_serving(daemon)


def test_many_clients_at_once(daemon):
    socks = []
    for _ in range(200):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        s.connect(daemon.sock)
        socks.append(s)
    socks[0].send(b"garbage!")
    for i, s in enumerate(socks[1:]):
        s.send(nl.Client.message(nl.GENL_ID_CTRL, nl.NLM_F_REQUEST, i, 3,
                                 nl.strz(nl.CTRL_ATTR_FAMILY_NAME, "vdpa")))
    for s in socks[1:]:
        s.settimeout(10)
        assert nl.split(s.recv(4096))[0].type == nl.GENL_ID_CTRL
    for s in socks:
        s.close()
    assert still_serving(daemon)
