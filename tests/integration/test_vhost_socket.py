"""The vhost_vdpa bus driver's sockets as the management plane sets them
up: paths, the by-name link, dev show's endpoint, owner/group/mode for a
VM run by another user, a second front end refused, and removal."""
import errno
import os
import pwd
import socket
import stat
import struct
import subprocess

import nlclient as nl
from conftest import need_cli

GET_FEATURES = 1


def vu_get_features(path):
    """One vhost-user round trip: GET_FEATURES."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(path)
    s.sendall(struct.pack("=III", GET_FEATURES, 1, 0))
    hdr = s.recv(12)
    req, flags, size = struct.unpack("=III", hdr)
    feats = struct.unpack("=Q", s.recv(size))[0]
    s.close()
    return req, flags, feats


def add(c, name, mgmt, extra=b""):
    return c.vdpa("DEV_NEW", nl.strz("DEV_NAME", name) +
                  nl.strz("MGMTDEV_DEV_NAME", mgmt) + extra)[1]


def test_socket_and_link(daemon, client):
    assert add(client, "blk0", "vdpasim_blk").error == 0
    assert add(client, "net0", "vdpasim_net").error == 0
    path = os.path.join(daemon.run_dir, "vhost-vdpa-1")
    assert stat.S_ISSOCK(os.stat(path).st_mode)
    assert oct(os.stat(path).st_mode & 0o777) == "0o660"
    link = os.path.join(daemon.run_dir, "by-name", "net0")
    assert os.readlink(link) == "../vhost-vdpa-1"
    req, flags, feats = vu_get_features(link)
    assert req == GET_FEATURES and flags & 0x4  # a reply
    assert feats & (1 << 30)  # protocol features offered
    assert feats & (1 << 32)  # VERSION_1
    assert not feats & (1 << 33)  # ACCESS_PLATFORM hidden from front ends
    got, _ = client.vdpa("DEV_GET", nl.strz("DEV_NAME", "net0"))
    assert got[0].attr("UVDPA_DRIVER") == b"vhost_vdpa\0"
    assert got[0].attr("UVDPA_ENDPOINT") == path.encode() + b"\0"
    # deleting the device removes both
    assert client.vdpa("DEV_DEL", nl.strz("DEV_NAME", "net0"))[1].error == 0
    assert not os.path.exists(path) and not os.path.lexists(link)


def test_index_reused_for_socket(daemon, client):
    for n in ("a", "b"):
        assert add(client, n, "vdpasim_blk").error == 0
    assert client.vdpa("DEV_DEL", nl.strz("DEV_NAME", "a"))[1].error == 0
    assert add(client, "c", "vdpasim_blk").error == 0
    # c took the lowest free index, 0
    assert os.readlink(os.path.join(daemon.run_dir, "by-name", "c")) == \
        "../vhost-vdpa-0"


def as_nobody_connect(path):
    nobody = pwd.getpwnam("nobody")
    code = ("import socket; s = socket.socket(socket.AF_UNIX); "
            "s.connect(%r); print('connected')" % path)
    return subprocess.run(["setpriv", "--reuid=%d" % nobody.pw_uid,
                           "--regid=%d" % nobody.pw_gid, "--clear-groups",
                           "/usr/bin/python3", "-c", code],
                          capture_output=True, text=True, timeout=30)


def test_owner_lets_an_unprivileged_vm_connect(daemon, client):
    os.chmod(daemon.base, 0o755)
    nobody = pwd.getpwnam("nobody")
    assert add(client, "priv", "vdpasim_blk").error == 0
    p = as_nobody_connect(os.path.join(daemon.run_dir, "by-name", "priv"))
    assert p.returncode != 0 and "Permission denied" in p.stderr
    assert add(client, "vm", "vdpasim_blk",
               nl.u32(0x1002, nobody.pw_uid) + nl.u32(0x1004, 0o600)).error == 0
    path = os.path.join(daemon.run_dir, "vhost-vdpa-1")
    st = os.stat(path)
    assert st.st_uid == nobody.pw_uid and st.st_mode & 0o7777 == 0o600
    p = as_nobody_connect(os.path.join(daemon.run_dir, "by-name", "vm"))
    assert p.returncode == 0 and "connected" in p.stdout, p.stderr


def test_owner_group_mode_errors(daemon, client):
    end = add(client, "x", "vdpasim_blk", nl.u32(0x1004, 0o17777))
    assert end.error == -errno.EINVAL and "not a permission mode" in end.ext_msg
    end = add(client, "x", "vdpasim_blk", nl.u16(0x1002, 0))
    assert end.error == -errno.EINVAL
    assert end.ext_msg == "invalid attribute length"
    got, _ = client.vdpa("DEV_GET", dump=True)
    assert got == []


def test_cli_owner_group_mode(daemon):
    need_cli()
    daemon.cli("dev", "add", "name", "v", "mgmtdev", "vdpasim_net",
               "mac", "02:00:00:00:00:00", "owner", "nobody", "group",
               "nogroup", "mode", "0666", check=0)
    st = os.stat(os.path.join(daemon.run_dir, "vhost-vdpa-0"))
    assert st.st_uid == pwd.getpwnam("nobody").pw_uid
    assert st.st_mode & 0o7777 == 0o666
    p = daemon.cli("dev", "add", "name", "w", "mgmtdev", "vdpasim_blk",
                   "owner", "no-such-user-here", check=1)
    assert "no such user" in p.stderr


def test_second_front_end_refused(daemon, client):
    assert add(client, "b", "vdpasim_blk").error == 0
    path = os.path.join(daemon.run_dir, "by-name", "b")
    first = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    first.connect(path)
    second = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    second.settimeout(5)
    second.connect(path)
    try:
        second.sendall(struct.pack("=III", GET_FEATURES, 1, 0))
        answer = second.recv(12)
    except (ConnectionResetError, BrokenPipeError):
        answer = b""
    assert answer == b""  # closed without an answer
    second.close()
    # the first one is served
    first.settimeout(5)
    first.sendall(struct.pack("=III", GET_FEATURES, 1, 0))
    assert len(first.recv(20)) >= 12
    first.close()
    assert "refused a second front end" in daemon.read_log()
