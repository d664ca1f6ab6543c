"""Boot a throw-away Linux guest under QEMU (TCG) and run a shell script in it.

The guest is Debian's kernel plus a busybox initramfs (scripts/e2e-deps.sh
and scripts/guest/build-initramfs.sh make them). Each boot gets the base
initramfs with a second small cpio.gz appended that holds /test.sh; the
guest's /init loads the virtio modules, runs /test.sh, prints
``@@ UVDPA-E2E EXIT <status> @@`` on its serial console and powers off.

Guest RAM is a shared memfd, so vhost-user back ends can map it; devices are
added through ``extra_args`` (see vhost_user_blk_args / vhost_user_net_args).

Typical use from pytest::

    image = GuestImage.build(tmp_dir)           # once per session (~2 s)
    res = run_guest(image, "blockdev --getsize64 /dev/vda",
                    extra_args=vhost_user_blk_args(sock), workdir=tmp_path)
    res.check()                                 # raises with the console tail
"""

from __future__ import annotations

import gzip
import os
import re
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("UVDPA_E2E_CACHE", "/var/cache/uvdpa-e2e"))
BUILD_INITRAMFS = REPO / "scripts" / "guest" / "build-initramfs.sh"
QEMU = os.environ.get("UVDPA_QEMU", "qemu-system-x86_64")

EXIT_RE = re.compile(r"@@ UVDPA-E2E EXIT (\d+) @@")
TEST_START_RE = re.compile(r"uvdpa-e2e: running /test.sh at ([0-9.]+)s")

# Kernel command line: serial console, little noise, and a panic ends QEMU at
# once (panic=-1 reboots, -no-reboot turns the reboot into an exit).
BASE_CMDLINE = ("console=ttyS0", "quiet", "panic=-1")


def unavailable_reason() -> str | None:
    """Why guests cannot be booted here, or None when they can."""
    if shutil.which(QEMU) is None:
        return f"{QEMU} is missing (scripts/e2e-deps.sh installs qemu-system-x86)"
    if not (CACHE / "kernel" / ".ready").exists():
        return f"no guest kernel in {CACHE}/kernel (run scripts/e2e-deps.sh)"
    if not os.path.exists("/bin/busybox"):
        return "busybox-static is missing (run scripts/e2e-deps.sh)"
    if shutil.which("cpio") is None:
        return "cpio is missing (run scripts/e2e-deps.sh)"
    return None


@dataclass
class GuestImage:
    """A kernel and the base initramfs built from it."""

    kernel: Path
    initramfs: Path
    kernel_version: str

    @classmethod
    def build(cls, outdir: Path, modules: list[str] | None = None,
              kernel_root: Path | None = None) -> "GuestImage":
        """Run build-initramfs.sh into outdir (about 2 s) and load the result.

        modules: modules to load in the guest (dependencies are added), by
        default virtio_pci virtio_blk virtio_net.
        """
        outdir = Path(outdir)
        env = dict(os.environ)
        if modules is not None:
            env["UVDPA_GUEST_MODULES"] = " ".join(modules)
        cmd = [str(BUILD_INITRAMFS), str(outdir)]
        if kernel_root is not None:
            cmd.append(str(kernel_root))
        r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
        if r.returncode != 0:
            raise RuntimeError(f"build-initramfs.sh failed ({r.returncode}):\n{r.stdout}{r.stderr}")
        return cls.load(outdir)

    @classmethod
    def load(cls, outdir: Path) -> "GuestImage":
        outdir = Path(outdir)
        # prefer the uncompressed ELF (PVH boot, no in-guest decompression)
        kernel = outdir / "vmlinux"
        if not kernel.exists():
            kernel = outdir / "vmlinuz"
        return cls(kernel=kernel, initramfs=outdir / "initramfs.cpio.gz",
                   kernel_version=(outdir / "kernel-version").read_text().strip())


# ---- per-boot cpio ------------------------------------------------------

def _newc_entry(name: str, mode: int, data: bytes, ino: int) -> bytes:
    namez = name.encode() + b"\0"
    fields = (ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(namez), 0)
    hdr = b"070701" + b"".join(b"%08X" % f for f in fields)
    out = hdr + namez
    out += b"\0" * (-len(out) % 4)
    out += data
    out += b"\0" * (-len(out) % 4)
    return out


def make_cpio(files: dict[str, bytes | tuple[bytes, int]]) -> bytes:
    """A gzipped newc archive of files (path -> data or (data, mode)).

    Parent directories are added as needed; entries overwrite those of an
    archive unpacked before (Linux unpacks concatenated archives in order).
    """
    entries: list[bytes] = []
    dirs: set[str] = set()
    ino = 1
    for path in sorted(files):
        value = files[path]
        data, mode = value if isinstance(value, tuple) else (value, 0o644)
        rel = path.lstrip("/")
        parts = rel.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            d = "/".join(parts[:i])
            if d not in dirs:
                dirs.add(d)
                entries.append(_newc_entry(d, 0o040755, b"", ino))
                ino += 1
        entries.append(_newc_entry(rel, 0o100000 | mode, data, ino))
        ino += 1
    entries.append(_newc_entry("TRAILER!!!", 0, b"", 0))
    return gzip.compress(b"".join(entries), compresslevel=1, mtime=0)


# ---- device arguments ---------------------------------------------------

def vhost_user_blk_args(sock: str | Path, dev_id: str = "blk0", num_queues: int = 1,
                        extra: str = "") -> list[str]:
    """QEMU args for a vhost-user-blk-pci device whose back end listens on sock."""
    dev = f"vhost-user-blk-pci,id={dev_id},chardev={dev_id}c,num-queues={num_queues}"
    if extra:
        dev += "," + extra
    return ["-chardev", f"socket,id={dev_id}c,path={sock}", "-device", dev]


def vhost_user_net_args(sock: str | Path, dev_id: str = "net0",
                        mac: str = "52:54:00:12:34:56", queues: int = 1,
                        extra: str = "") -> list[str]:
    """QEMU args for a virtio-net-pci device on a vhost-user netdev.

    vectors=0 (legacy INTx): QEMU 7.2 under TCG crashes with vhost-user net
    and MSI-X when the guest sets DRIVER_OK. romfile= (none): no iPXE option
    ROM, which would cost seconds of firmware time under TCG.
    """
    dev = f"virtio-net-pci,id={dev_id},netdev={dev_id}n,mac={mac},vectors=0,romfile="
    if extra:
        dev += "," + extra
    return ["-chardev", f"socket,id={dev_id}c,path={sock}",
            "-netdev", f"vhost-user,id={dev_id}n,chardev={dev_id}c,queues={queues}",
            "-device", dev]


# ---- running a guest ----------------------------------------------------

@dataclass
class GuestResult:
    console: str                 # everything the guest wrote on ttyS0
    status: int | None           # /test.sh's exit status, None if it never ended
    qemu_returncode: int | None  # None if QEMU had to be killed
    timed_out: bool
    duration: float              # wall seconds from QEMU start to exit
    test_started_at: float | None  # guest uptime when /test.sh started
    qemu_log: str = ""           # QEMU's own stdout/stderr

    def tail(self, lines: int = 60) -> str:
        return "\n".join(self.console.splitlines()[-lines:])

    def check(self) -> "GuestResult":
        """Raise AssertionError (with the console's tail) unless /test.sh exited 0."""
        if self.status != 0:
            why = ("timed out" if self.timed_out else
                   "never finished /test.sh" if self.status is None else
                   f"/test.sh exited {self.status}")
            raise AssertionError(
                f"guest {why} (qemu exit {self.qemu_returncode}, {self.duration:.1f} s)\n"
                f"--- console (tail) ---\n{self.tail()}\n--- qemu ---\n{self.qemu_log[-3000:]}")
        return self


class Guest:
    """One QEMU guest running a script; start() it, then wait() for it.

    Use this directly when the host must act while the guest runs (poll the
    console with wait_for); run_guest() does start+wait in one call.
    """

    def __init__(self, image: GuestImage, script: str, workdir: Path, *,
                 extra_args: list[str] = (), cmdline: list[str] = (),
                 files: dict[str, bytes | tuple[bytes, int]] | None = None,
                 memory_mb: int = 512, smp: int = 1, name: str = "guest",
                 cpu: int | None = None):
        self.image = image
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.console_path = self.workdir / f"{name}-console.log"
        self.qemu_log_path = self.workdir / f"{name}-qemu.log"
        self.initrd_path = self.workdir / f"{name}-initrd.cpio.gz"
        body = "#!/bin/sh\n. /lib/e2e.sh\n" + script
        extra_files = dict(files or {})
        extra_files["test.sh"] = (body.encode(), 0o755)
        with open(self.initrd_path, "wb") as f:
            f.write(image.initramfs.read_bytes())
            f.write(make_cpio(extra_files))
        # cpu: pin QEMU to one host CPU (e.g. away from a busy-polling peer)
        pin = ["taskset", "-c", str(cpu)] if cpu is not None else []
        self.argv = [
            *pin, QEMU, "-accel", "tcg", "-nodefaults", "-nographic", "-no-reboot",
            "-m", str(memory_mb), "-smp", str(smp),
            "-object", f"memory-backend-memfd,id=mem,size={memory_mb}M,share=on",
            "-numa", "node,memdev=mem",
            "-kernel", str(image.kernel), "-initrd", str(self.initrd_path),
            "-append", " ".join([*BASE_CMDLINE, *cmdline]),
            "-serial", f"file:{self.console_path}",
            *extra_args,
        ]
        self.proc: subprocess.Popen | None = None
        self.started = 0.0

    def start(self) -> "Guest":
        self.console_path.write_bytes(b"")
        self._qlog = open(self.qemu_log_path, "wb")
        self.started = time.monotonic()
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=self._qlog,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        return self

    def console(self) -> str:
        try:
            return self.console_path.read_bytes().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_for(self, pattern: str, timeout: float) -> re.Match | None:
        """Wait until the console matches pattern (a regex); None on timeout or exit."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            m = rx.search(self.console())
            if m:
                return m
            if self.proc.poll() is not None or time.monotonic() >= deadline:
                return rx.search(self.console())
            time.sleep(0.05)

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def wait(self, timeout: float = 60) -> GuestResult:
        timed_out = False
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            self.kill()
        duration = time.monotonic() - self.started
        self._qlog.close()
        console = self.console()
        m = EXIT_RE.search(console)
        s = TEST_START_RE.search(console)
        return GuestResult(
            console=console,
            status=int(m.group(1)) if m else None,
            qemu_returncode=None if timed_out else self.proc.returncode,
            timed_out=timed_out,
            duration=duration,
            test_started_at=float(s.group(1)) if s else None,
            qemu_log=self.qemu_log_path.read_bytes().decode(errors="replace"),
        )

    def __enter__(self) -> "Guest":
        return self.start() if self.proc is None else self

    def __exit__(self, *exc) -> None:
        self.kill()
        if getattr(self, "_qlog", None) and not self._qlog.closed:
            self._qlog.close()


def run_guest(image: GuestImage, script: str, workdir: Path, *, timeout: float = 60,
              **kwargs) -> GuestResult:
    """Boot a guest that runs script (busybox sh, /lib/e2e.sh sourced) and wait.

    kwargs: extra_args (QEMU arguments, e.g. vhost_user_blk_args(sock)),
    cmdline (extra kernel arguments, e.g. ["ipv6.disable=1"]), files (more
    files for the guest: {"path": data or (data, mode)}), memory_mb, smp, name,
    cpu (pin QEMU to that host CPU).
    The guest is killed after timeout seconds (result.timed_out).
    """
    g = Guest(image, script, workdir, **kwargs).start()
    try:
        return g.wait(timeout)
    finally:
        g.kill()


def host_binaries(names: list[str]) -> dict[str, tuple[bytes, int]]:
    """Host programs (e.g. mke2fs) and the shared libraries they load, as
    `files` for a guest: busybox lacks some tools (mkfs.ext4) that the
    Debian host has, and the guest runs the same x86-64 Debian userland ABI.
    Each program lands in /usr/sbin, its libraries where ldd found them."""
    files: dict[str, tuple[bytes, int]] = {}
    for name in names:
        path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
        if path is None:
            raise FileNotFoundError(name)
        real = os.path.realpath(path)
        files["usr/sbin/" + name] = (Path(real).read_bytes(), 0o755)
        out = subprocess.run(["ldd", real], capture_output=True, text=True,
                             check=True).stdout
        for lib in re.findall(r"(/\S+)\s+\(0x", out):
            files[lib.lstrip("/")] = (Path(os.path.realpath(lib)).read_bytes(), 0o755)
    return files
