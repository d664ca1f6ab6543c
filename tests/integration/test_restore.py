"""uvdpad keeps its devices in the state dir: after a SIGKILL or a clean
stop, the next start creates them again with the same names, indices
(so the same vhost-vdpa-N sockets), parent settings, socket permissions
and bindings. A line it cannot use is reported, and a device it cannot
create is kept for the next start rather than forgotten."""
import os
import signal
import stat

from conftest import Daemon, need_cli


def snapshot(d):
    return (d.cli("dev", "show", check=0).stdout,
            d.cli("dev", "config", "show", check=0).stdout)


def populate(d):
    d.cli("dev", "add", "name", "n0", "mgmtdev", "vdpasim_net", "mac",
          "00:35:09:19:48:05", "mtu", "9000", check=0)
    d.cli("dev", "add", "name", "gap", "mgmtdev", "vdpasim_blk", check=0)
    d.cli("dev", "add", "name", "b1", "mgmtdev", "vdpasim_blk", "mode",
          "0600", check=0)
    d.cli("dev", "add", "name", "n2", "mgmtdev", "vdpasim_net",
          "device_features", "0x300020000", "driver", "none",
          check=0)
    d.cli("dev", "del", "gap", check=0)  # index 1 stays free


def test_restore_after_sigkill_and_sigterm(tmpbase):
    need_cli()
    d = Daemon(tmpbase).start()
    populate(d)
    before = snapshot(d)
    assert "vhost-vdpa-2" in before[0] and "vhost-vdpa-1" not in before[0]
    d.stop(signal.SIGKILL)
    for sig in (signal.SIGTERM, None):
        d = Daemon(tmpbase).start()
        try:
            assert snapshot(d) == before
            sock = os.path.join(d.run_dir, "vhost-vdpa-2")
            assert stat.S_IMODE(os.stat(sock).st_mode) == 0o600
            assert os.readlink(os.path.join(d.run_dir, "by-name", "b1")) == \
                "../vhost-vdpa-2"
            assert "restored 3 devices" in d.read_log()
        finally:
            if sig:
                assert d.stop(sig) == 0
    # a new device takes the free index, as it would have before
    d.cli("dev", "add", "name", "new", "mgmtdev", "vdpasim_blk", check=0)
    assert "vhost-vdpa-1" in d.cli("dev", "show", "new", check=0).stdout
    assert d.stop() == 0


def test_restore_keeps_what_it_cannot_create(tmpbase):
    need_cli()
    d = Daemon(tmpbase).start()
    d.cli("dev", "add", "name", "n0", "mgmtdev", "vdpasim_net", check=0)
    assert d.stop() == 0
    path = os.path.join(d.state_dir, "devices")
    with open(path) as f:
        good = f.read()
    ghost = good.replace("name=n0", "name=ghost").replace(
        "mgmtdev=vdpasim_net", "mgmtdev=nosuch").replace("index=0", "index=5")
    with open(path, "w") as f:
        f.write(good + "this is not a device\n" + ghost)
    d = Daemon(tmpbase).start()
    try:
        log = d.read_log()
        assert "devices:2: not a device; ignored" in log
        assert "ghost: management device nosuch is gone" in log
        assert "n0" in d.cli("dev", "show", check=0).stdout
        # a change rewrites the file: the ghost is still there, the junk not
        d.cli("dev", "add", "name", "n1", "mgmtdev", "vdpasim_net", check=0)
        with open(path) as f:
            now = f.read()
        assert "name=ghost" in now and "not a device" not in now
        assert "name=n1" in now
    finally:
        assert d.stop() == 0


def test_vdpasim_blk_ramdisk_survives(tmpbase):
    """The simulator's ramdisk is a file under the runtime dir: a restart
    finds the data again; deleting the device removes it; a new device of
    the same name starts with zeros."""
    need_cli()
    d = Daemon(tmpbase).start()
    d.cli("dev", "add", "name", "b0", "mgmtdev", "vdpasim_blk", check=0)
    disk = os.path.join(d.run_dir, "vdpasim_blk", "b0")
    assert os.path.getsize(disk) == 128 << 20
    with open(disk, "r+b") as f:  # what a guest would have written
        f.seek(1 << 20)
        f.write(b"kept across restarts")
    d.stop(signal.SIGKILL)
    d = Daemon(tmpbase).start()
    try:
        with open(disk, "rb") as f:
            f.seek(1 << 20)
            assert f.read(20) == b"kept across restarts"
        assert d.stop() == 0  # a clean stop keeps it too
        d = Daemon(tmpbase).start()
        with open(disk, "rb") as f:
            f.seek(1 << 20)
            assert f.read(20) == b"kept across restarts"
        d.cli("dev", "del", "b0", check=0)
        assert not os.path.exists(disk)
        d.cli("dev", "add", "name", "b0", "mgmtdev", "vdpasim_blk", check=0)
        with open(disk, "rb") as f:
            f.seek(1 << 20)
            assert f.read(20) == bytes(20)
    finally:
        assert d.stop() == 0


def test_blk_parent_restored_with_its_path(tmpbase):
    """A blk device's image path (with a space and a %, encoded in the
    file) and settings come back after a SIGKILL."""
    need_cli()
    img = os.path.join(tmpbase, "disk 100%.img")
    with open(img, "wb") as f:
        f.truncate(8 << 20)
    d = Daemon(tmpbase).start()
    d.cli("dev", "add", "name", "b0", "mgmtdev", "blk", "path", img,
          "num_queues", "2", "serial", "s-1", "readonly", "aio", "io_uring",
          check=0)
    before = snapshot(d)
    d.stop(signal.SIGKILL)
    d = Daemon(tmpbase).start()
    try:
        assert snapshot(d) == before
        assert "num_queues 2 " in before[1] and "read_only true" in before[1]
        with open(os.path.join(d.state_dir, "devices")) as f:
            line = f.read()
        assert "path=" + img.replace("%", "%25").replace(" ", "%20") in line
        assert " aio=1" in line
    finally:
        assert d.stop() == 0
