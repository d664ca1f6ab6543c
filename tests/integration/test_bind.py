"""Binding devices to bus drivers through the real uvdpad and CLI: the
`driver` word of `dev add`, `dev bind`/`dev unbind` (driverctl
set-override semantics), overrides kept in the state dir across a restart
of uvdpad, and the errors a wrong word gets. The virtio_vdpa classes
themselves (TAP, FUSE) are driven in tests/e2e."""
import os

from conftest import Daemon, endpoint, need_cli


def show(d, name):
    return d.cli("dev", "show", name, check=0).stdout


def test_add_unbound_then_bind(d):
    d.cli("dev", "add", "name", "n0", "mgmtdev", "vdpasim_net", "driver",
          "none", check=0)
    out = show(d, "n0")
    assert "driver" not in out and "endpoint" not in out
    assert not os.path.exists(endpoint(d, 0))
    d.cli("dev", "bind", "n0", "driver", "vhost_vdpa", check=0)
    assert show(d, "n0").endswith(
        "driver vhost_vdpa endpoint %s\n" % endpoint(d, 0))
    assert os.path.exists(os.path.join(d.run_dir, "by-name", "n0"))
    d.cli("dev", "unbind", "n0", check=0)
    assert "driver" not in show(d, "n0")
    assert not os.path.exists(endpoint(d, 0))
    assert not os.path.lexists(os.path.join(d.run_dir, "by-name", "n0"))


def test_override_kept_across_restart(tmpbase):
    need_cli()
    d = Daemon(tmpbase).start()
    try:
        d.cli("dev", "add", "name", "b0", "mgmtdev", "vdpasim_blk", check=0)
        d.cli("dev", "unbind", "b0", check=0)
        with open(os.path.join(d.state_dir, "overrides")) as f:
            assert f.read() == "b0 none\n"
    finally:
        assert d.stop() == 0
    d = Daemon(tmpbase).start()
    try:
        # restored after the restart, and still left unbound
        assert "driver" not in show(d, "b0")
        # another name takes the default driver
        d.cli("dev", "add", "name", "b1", "mgmtdev", "vdpasim_blk", check=0)
        assert "driver vhost_vdpa" in show(d, "b1")
        d.cli("dev", "bind", "b0", "driver", "vhost_vdpa", check=0)
        assert "driver vhost_vdpa" in show(d, "b0")
        with open(os.path.join(d.state_dir, "overrides")) as f:
            assert f.read() == "b0 vhost_vdpa\n"
        # deleting the device forgets its override
        d.cli("dev", "del", "b0", check=0)
        with open(os.path.join(d.state_dir, "overrides")) as f:
            assert f.read() == ""
    finally:
        assert d.stop() == 0


def test_default_driver_none(tmpbase):
    need_cli()
    d = Daemon(tmpbase, ["--default-driver", "none"]).start()
    try:
        d.cli("dev", "add", "name", "n0", "mgmtdev", "vdpasim_net", check=0)
        assert "driver" not in show(d, "n0")
        d.cli("dev", "add", "name", "n1", "mgmtdev", "vdpasim_net",
              "driver", "vhost_vdpa", check=0)
        assert "driver vhost_vdpa" in show(d, "n1")
    finally:
        assert d.stop() == 0


def test_bind_errors(d):
    d.cli("dev", "add", "name", "n0", "mgmtdev", "vdpasim_net", check=0)
    p = d.cli("dev", "bind", "n0", "driver", "vfio", check=1)
    assert "no such bus driver" in p.stderr and "vfio" in p.stderr
    assert "driver vhost_vdpa" in show(d, "n0")  # nothing lost
    p = d.cli("dev", "bind", "n0", check=1)
    assert p.stderr == "driver is not set.\n"
    p = d.cli("dev", "bind", "nope", "driver", "vhost_vdpa", check=1)
    assert "device not found" in p.stderr
    p = d.cli("dev", "unbind", "nope", check=1)
    assert "device not found" in p.stderr
    p = d.cli("dev", "add", "name", "x", "mgmtdev", "vdpasim_net", "driver",
              "vfio", check=1)
    assert "no such bus driver" in p.stderr
    assert d.cli("dev", "show", "x").returncode != 0  # not created


def test_add_option_errors(d):
    # owner/group/mode belong to a vhost_vdpa socket
    p = d.cli("dev", "add", "name", "x", "mgmtdev", "vdpasim_net", "driver",
              "none", "mode", "0600", check=1)
    assert "vhost_vdpa socket" in p.stderr
    # ifname is a network device's
    p = d.cli("dev", "add", "name", "x", "mgmtdev", "vdpasim_blk", "ifname",
              "tap9", check=1)
    assert "network devices only" in p.stderr
    p = d.cli("dev", "add", "name", "x", "mgmtdev", "vdpasim_net", "ifname",
              "a-name-that-is-too-long", check=1)
    assert "1 to 15 bytes" in p.stderr
    # the blk parent's words on a simulator
    p = d.cli("dev", "add", "name", "x", "mgmtdev", "vdpasim_blk",
              "path", "/", check=1)
    assert "0x1010 is not supported by vdpasim_blk" in p.stderr
    p = d.cli("dev", "add", "name", "x", "mgmtdev", "vdpasim_blk",
              "path", "/no/such/file", check=1)
    assert p.stderr == 'path "/no/such/file": No such file or directory\n'
    p = d.cli("dev", "add", "name", "x", "mgmtdev", "vdpasim_blk",
              "direct", "maybe", check=1)
    assert p.stderr == "direct: on or off expected\n"
    p = d.cli("dev", "add", "name", "x", "mgmtdev", "blk", "path", "/",
              "aio", "threads", check=1)
    assert p.stderr == "aio: auto, io_uring or inline expected\n"
    p = d.cli("dev", "add", "name", "x", "mgmtdev", "vdpasim_blk",
              "logical_block_size", "1000", check=1)
    assert "512 or 4096" in p.stderr
    assert d.cli("dev", "show", "x").returncode != 0


def test_resize_errors(d):
    d.cli("dev", "add", "name", "b0", "mgmtdev", "vdpasim_blk", check=0)
    p = d.cli("dev", "resize", "b0", "capacity", "1G", check=1)
    assert "vdpasim_blk devices cannot be resized" in p.stderr
    p = d.cli("dev", "resize", "b0", "capacity", "12Q", check=1)
    assert "capacity \"12Q\"" in p.stderr
    p = d.cli("dev", "resize", "b0", check=1)
    assert p.stderr == "capacity is not set.\n"


def test_virtio_vdpa_without_privileges(tmpbase):
    """uvdpad run by a user who may make neither a TAP nor a FUSE mount:
    binding to virtio_vdpa is refused with what is missing, and nothing
    is left behind."""
    need_cli()
    import subprocess
    import time
    from conftest import UVDPA, UVDPAD
    base = os.path.join(tmpbase, "nobody")
    os.mkdir(base)
    os.chmod(base, 0o777)
    env = dict(PATH="/usr/bin:/bin", UVDPA_RUNTIME_DIR=base + "/run")
    asuser = ["setpriv", "--reuid=nobody", "--regid=nogroup",
              "--clear-groups", "env"] + ["%s=%s" % kv for kv in env.items()]
    daemon = subprocess.Popen(asuser + [UVDPAD, "--state-dir", base + "/st",
                                        "--log-level", "warn"],
                              stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            if os.path.exists(base + "/run/uvdpad.sock"):
                break
            time.sleep(0.05)

        def cli(*args):
            return subprocess.run(asuser + [UVDPA] + list(args),
                                  capture_output=True, text=True, timeout=60)

        p = cli("dev", "add", "name", "n0", "mgmtdev", "vdpasim_net",
                "driver", "virtio_vdpa")
        assert p.returncode == 1 and "CAP_NET_ADMIN" in p.stderr, p.stderr
        p = cli("dev", "add", "name", "b0", "mgmtdev", "vdpasim_blk",
                "driver", "virtio_vdpa")
        assert p.returncode == 1 and "FUSE" in p.stderr, p.stderr
        assert cli("dev", "show").stdout == ""
        # the vhost bus needs no privilege: a rebind that fails keeps it
        assert cli("dev", "add", "name", "b1", "mgmtdev",
                   "vdpasim_blk").returncode == 0
        p = cli("dev", "bind", "b1", "driver", "virtio_vdpa")
        assert p.returncode == 1 and "stays bound to vhost_vdpa" in p.stderr
        assert "driver vhost_vdpa" in cli("dev", "show", "b1").stdout
    finally:
        daemon.terminate()
        assert daemon.wait(30) == 0
