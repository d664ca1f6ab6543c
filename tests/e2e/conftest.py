"""Fixtures for end-to-end tests against real peers (QEMU guests, DPDK).

Every test here is marked ``e2e``; a test whose tools are missing skips with
the reason (scripts/e2e-deps.sh installs them all). Select or leave them out
with ``-m e2e`` / ``-m "not e2e"``.
"""
import os
import shutil
import sys
import tempfile

import pytest

sys.path.insert(0, os.path.dirname(__file__))
import daemon  # noqa: E402
import guest  # noqa: E402
import peers  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line("markers", "e2e: end-to-end test with real peers (QEMU, DPDK)")


def pytest_collection_modifyitems(config, items):
    here = os.path.dirname(os.path.abspath(__file__))
    for item in items:
        if str(item.fspath).startswith(here + os.sep):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def guest_image(tmp_path_factory):
    """The kernel and base initramfs, built once per session (~2 s)."""
    why = guest.unavailable_reason()
    if why:
        pytest.skip(why)
    return guest.GuestImage.build(tmp_path_factory.mktemp("guest-image"))


@pytest.fixture(scope="session")
def ext4_image(tmp_path_factory):
    """guest_image with virtio_pci, virtio_blk and ext4 in the initramfs
    (a vhost-user-blk-pci disk the guest can format and mount)."""
    why = guest.unavailable_reason()
    if why:
        pytest.skip(why)
    return guest.GuestImage.build(tmp_path_factory.mktemp("guest-ext4"),
                                  modules=["virtio_pci", "virtio_blk", "ext4"])


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


@pytest.fixture
def workdir(request):
    """A short private directory (unix socket paths must stay < 108 bytes)
    for sockets and logs (guest console, QEMU, qemu-storage-daemon, testpmd).

    Removed after a pass; kept, and named in the report, after a failure
    (or always with UVDPA_E2E_KEEP=1).
    """
    d = tempfile.mkdtemp(prefix="uvdpa-e2e-")
    yield d
    rep = getattr(request.node, "rep_call", None)
    if os.environ.get("UVDPA_E2E_KEEP") == "1" or (rep is not None and rep.failed):
        print(f"\ne2e logs kept in {d}")
    else:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def uvdpad(workdir):
    """uvdpad (UVDPA_BUILD, default build-san) with its runtime and state
    dirs in workdir; it must exit 0 on SIGTERM at the end."""
    with daemon.running(workdir) as d:
        yield d


@pytest.fixture
def shm_file():
    """Factory: make_file(size) -> path of a new file on /dev/shm, removed after."""
    made = []

    def make(size, name="disk.raw"):
        fd, path = tempfile.mkstemp(prefix="uvdpa-e2e-", suffix="-" + name, dir="/dev/shm")
        os.ftruncate(fd, size)
        os.close(fd)
        made.append(path)
        return path

    yield make
    for p in made:
        try:
            os.unlink(p)
        except FileNotFoundError:
            pass


@pytest.fixture
def qsd_available():
    if shutil.which(peers.QSD) is None:
        pytest.skip(f"{peers.QSD} is missing (scripts/e2e-deps.sh installs qemu-system-common)")


@pytest.fixture
def hugepages():
    """Skip unless DPDK can run here: testpmd present, hugepages set up."""
    why = peers.testpmd_unavailable_reason() or peers.ensure_hugepages()
    if why:
        pytest.skip(why)
