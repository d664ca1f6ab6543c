"""Reference vhost-user peers for end-to-end tests.

- StorageDaemon: qemu-storage-daemon exporting a block node as a
  vhost-user-blk server (null-co, or a raw file with aio=io_uring).
- TestPmd: DPDK's dpdk-testpmd in interactive mode, driven through its stdin,
  either as a virtio-user front end (a vhost-user client: the traffic source)
  or as DPDK's own vhost PMD (a vhost-user server: a loopback peer in io
  forward mode, which sends every frame it receives back out).
- ensure_hugepages(): what DPDK needs before it starts.

Every process is started in its own session and stopped by its own pid only
(SIGTERM, then SIGKILL); its output goes to a log file in the test's workdir.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

QSD = os.environ.get("UVDPA_QSD", "qemu-storage-daemon")
TESTPMD = os.environ.get("UVDPA_TESTPMD", "dpdk-testpmd")
HUGEPAGE_MOUNT = Path("/dev/hugepages")


def wait_for_path(path: Path, timeout: float, proc: subprocess.Popen | None = None) -> bool:
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if proc is not None and proc.poll() is not None:
            return False
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True


def stop_process(proc: subprocess.Popen | None, grace: float = 5.0) -> int | None:
    """SIGTERM the process (by its pid), SIGKILL it after grace seconds."""
    if proc is None:
        return None
    if proc.poll() is None:
        try:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


# ---- qemu-storage-daemon ------------------------------------------------

class StorageDaemon:
    """qemu-storage-daemon with one vhost-user-blk export on a unix socket.

    Build with null() or raw_file(), then start() (or use as a context
    manager); the socket exists once start() returns.
    """

    def __init__(self, sock: Path, blockdevs: list[str], node: str, workdir: Path, *,
                 num_queues: int = 1, writable: bool = True, logical_block_size: int = 0,
                 name: str = "qsd"):
        self.sock = Path(sock)
        self.workdir = Path(workdir)
        self.log_path = self.workdir / f"{name}.log"
        export = (f"type=vhost-user-blk,id=e0,node-name={node},addr.type=unix,"
                  f"addr.path={self.sock},writable={'on' if writable else 'off'},"
                  f"num-queues={num_queues}")
        if logical_block_size:
            export += f",logical-block-size={logical_block_size}"
        self.argv = [QSD]
        for b in blockdevs:
            self.argv += ["--blockdev", b]
        self.argv += ["--export", export]
        self.proc: subprocess.Popen | None = None

    @classmethod
    def null(cls, sock: Path, workdir: Path, size: int = 1 << 30, **kw) -> "StorageDaemon":
        """A null-co device: reads return zeroes, writes are discarded."""
        return cls(sock, [f"driver=null-co,node-name=n0,size={int(size)},read-zeroes=on"],
                   "n0", workdir, **kw)

    @classmethod
    def raw_file(cls, sock: Path, path: Path, workdir: Path, aio: str = "io_uring",
                 direct: bool = False, **kw) -> "StorageDaemon":
        """A raw image file (it must exist; its size is the disk's).

        aio: io_uring, native or threads. direct (O_DIRECT) must stay off for
        files on tmpfs such as /dev/shm, which has no O_DIRECT.
        """
        return cls(sock, [
            f"driver=file,node-name=f0,filename={path},aio={aio},"
            f"cache.direct={'on' if direct else 'off'}",
            "driver=raw,node-name=d0,file=f0",
        ], "d0", workdir, **kw)

    def start(self, timeout: float = 10) -> "StorageDaemon":
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self.sock.exists():
            self.sock.unlink()
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        if not wait_for_path(self.sock, timeout, self.proc):
            self.stop()
            raise RuntimeError(f"qemu-storage-daemon did not listen on {self.sock}:\n{self.log()}")
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log(self) -> str:
        try:
            return self.log_path.read_bytes().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def stop(self) -> int | None:
        rc = stop_process(self.proc)
        if getattr(self, "_log", None):
            self._log.close()
        return rc

    def __enter__(self) -> "StorageDaemon":
        return self.start() if self.proc is None else self

    def __exit__(self, *exc) -> None:
        self.stop()


# ---- hugepages ----------------------------------------------------------

def _meminfo(key: str) -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def _hugetlbfs_mounted(path: Path) -> bool:
    with open("/proc/self/mounts") as f:
        return any(l.split()[1] == str(path) and l.split()[2] == "hugetlbfs" for l in f)


def ensure_hugepages(free_pages: int = 320, total_pages: int = 1024) -> str | None:
    """Make free_pages 2 MiB hugepages free and hugetlbfs mounted.

    Raises vm.nr_hugepages (never lowers it: other users of this machine may
    hold some) and mounts hugetlbfs on /dev/hugepages when nothing is there.
    Returns None when ready, else the reason it could not be done.
    """
    if _meminfo("Hugepagesize") != 2048:
        return f"hugepage size is {_meminfo('Hugepagesize')} kB, not 2048"
    try:
        if _meminfo("HugePages_Free") < free_pages:
            want = max(total_pages, _meminfo("HugePages_Total") + free_pages - _meminfo("HugePages_Free"))
            with open("/proc/sys/vm/nr_hugepages", "w") as f:
                f.write(str(want))
        if not _hugetlbfs_mounted(HUGEPAGE_MOUNT):
            HUGEPAGE_MOUNT.mkdir(parents=True, exist_ok=True)
            r = subprocess.run(["mount", "-t", "hugetlbfs", "nodev", str(HUGEPAGE_MOUNT)],
                               capture_output=True, text=True)
            if r.returncode != 0 and not _hugetlbfs_mounted(HUGEPAGE_MOUNT):
                return f"cannot mount hugetlbfs on {HUGEPAGE_MOUNT}: {r.stderr.strip()}"
    except OSError as e:
        return f"cannot set up hugepages: {e}"
    free = _meminfo("HugePages_Free")
    if free < free_pages:
        return f"only {free} free 2 MiB hugepages (need {free_pages})"
    return None


# ---- DPDK testpmd -------------------------------------------------------

PROMPT = "testpmd> "
_STAT_RE = {
    "rx_packets": r"RX-packets:\s*(\d+)",
    "rx_missed": r"RX-missed:\s*(\d+)",
    "rx_bytes": r"RX-bytes:\s*(\d+)",
    "rx_errors": r"RX-errors:\s*(\d+)",
    "rx_nombuf": r"RX-nombuf:\s*(\d+)",
    "tx_packets": r"TX-packets:\s*(\d+)",
    "tx_errors": r"TX-errors:\s*(\d+)",
    "tx_bytes": r"TX-bytes:\s*(\d+)",
    "rx_pps": r"Rx-pps:\s*(\d+)",
    "tx_pps": r"Tx-pps:\s*(\d+)",
}


def parse_port_stats(text: str) -> dict[str, int]:
    """Counters of one 'show port stats N' block (the last one in text)."""
    start = text.rfind("NIC statistics for port")
    if start < 0:
        raise ValueError(f"no port statistics in:\n{text}")
    block = text[start:]
    out = {}
    for key, rx in _STAT_RE.items():
        m = re.search(rx, block)
        if m:
            out[key] = int(m.group(1))
    return out


def pick_cpus() -> tuple[int, int]:
    """Two CPUs for two testpmds (the same one twice if only one is allowed)."""
    cpus = sorted(os.sched_getaffinity(0))
    return cpus[0], cpus[-1]


def testpmd_unavailable_reason() -> str | None:
    if shutil.which(TESTPMD) is None:
        return f"{TESTPMD} is missing (scripts/e2e-deps.sh installs dpdk-dev)"
    if shutil.which("stdbuf") is None:
        return "stdbuf (coreutils) is missing"
    return None


class TestPmd:
    """An interactive dpdk-testpmd driven through stdin.

    Its stdout is made line-buffered with stdbuf (testpmd's printf output
    would otherwise sit in a pipe buffer until exit); a reader thread keeps
    everything it prints, and cmd() waits for the next prompt.

    Both of testpmd's lcores (main + one forwarding core) are put on one CPU
    (--lcores 0@N,1@N): the forwarding core busy-polls, so two testpmds on a
    2-CPU machine get one CPU each.
    """

    __test__ = False  # not a pytest test class despite the name

    def __init__(self, vdev: str, workdir: Path, *, cpu: int = 0, name: str = "testpmd",
                 mem_mb: int = 256, mbufs: int = 8192, eal_args: list[str] = (),
                 app_args: list[str] = ()):
        self.workdir = Path(workdir)
        self.name = name
        self.log_path = self.workdir / f"{name}.log"
        self.argv = [
            "stdbuf", "-oL", "-eL", TESTPMD,
            # EAL: no PCI scan, hugepages from memfd (no runtime files left
            # behind), one fd for all memory (vhost-user has a region limit),
            # VA as IOVA (what virtio-user passes to the back end)
            "--no-pci", "--in-memory", "--single-file-segments", "--iova-mode=va",
            "-m", str(mem_mb), f"--lcores=0@{cpu},1@{cpu}",
            "--log-level=lib.vhost.config:warning", "--vdev", vdev, *eal_args,
            "--", "-i", "--nb-cores=1", f"--total-num-mbufs={mbufs}", *app_args,
        ]
        self.proc: subprocess.Popen | None = None
        self._buf = ""
        self._lock = threading.Condition()
        self._reader: threading.Thread | None = None

    @classmethod
    def virtio_user(cls, sock: Path, workdir: Path, *, name: str = "testpmd-virtio-user",
                    queues: int = 1, devargs: str = "", **kw) -> "TestPmd":
        """A virtio-user port (vhost-user client) on the server at sock."""
        vdev = f"net_virtio_user0,path={sock},queues={queues}"
        if devargs:
            vdev += "," + devargs
        return cls(vdev, workdir, name=name, **kw)

    @classmethod
    def vhost(cls, sock: Path, workdir: Path, *, name: str = "testpmd-vhost",
              queues: int = 1, devargs: str = "", **kw) -> "TestPmd":
        """DPDK's vhost PMD (vhost-user server listening on sock)."""
        vdev = f"net_vhost0,iface={sock},queues={queues}"
        if devargs:
            vdev += "," + devargs
        return cls(vdev, workdir, name=name, **kw)

    # -- process ------------------------------------------------------

    def _read(self) -> None:
        fd = self.proc.stdout.fileno()
        with open(self.log_path, "ab") as log:
            while True:
                try:
                    chunk = os.read(fd, 65536)
                except OSError:
                    chunk = b""
                if not chunk:
                    break
                log.write(chunk)
                log.flush()
                with self._lock:
                    self._buf += chunk.decode(errors="replace")
                    self._lock.notify_all()
        with self._lock:
            self._lock.notify_all()

    def start(self, timeout: float = 30) -> "TestPmd":
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log_path.write_bytes(b"")
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._wait_prompt(0, timeout, "start")
        return self

    def output(self) -> str:
        with self._lock:
            return self._buf

    def _wait_prompt(self, mark: int, timeout: float, what: str) -> str:
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                at = self._buf.find(PROMPT, mark)
                if at >= 0:
                    return self._buf[mark:at]
                if self.proc.poll() is not None and not self._reader.is_alive():
                    raise RuntimeError(f"{self.name} exited ({self.proc.returncode}) during "
                                       f"{what!r}:\n{self._buf[-4000:]}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{self.name}: no prompt after {what!r} in {timeout} s:\n"
                                       f"{self._buf[-4000:]}")
                self._lock.wait(min(left, 0.2))

    def cmd(self, line: str, timeout: float = 15) -> str:
        """Send one command; return what testpmd printed before its next prompt."""
        with self._lock:
            # everything up to and including the last prompt is old output
            mark = self._buf.rfind(PROMPT)
            mark = mark + len(PROMPT) if mark >= 0 else len(self._buf)
        self.proc.stdin.write((line + "\n").encode())
        self.proc.stdin.flush()
        return self._wait_prompt(mark, timeout, line)

    def port_stats(self, port: int = 0) -> dict[str, int]:
        """Counters of 'show port stats PORT': rx_packets, tx_packets, ..."""
        return parse_port_stats(self.cmd(f"show port stats {port}"))

    def wait_for_output(self, pattern: str, timeout: float) -> re.Match | None:
        """Wait until testpmd's output matches pattern (e.g. a link event)."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                m = rx.search(self._buf)
                if m or time.monotonic() >= deadline or self.proc.poll() is not None:
                    return m
                self._lock.wait(0.2)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 15) -> int | None:
        """quit (stops forwarding and closes ports), else SIGTERM/SIGKILL."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write(b"stop\nquit\n")
                self.proc.stdin.flush()
                self.proc.stdin.close()
                self.proc.wait(timeout=timeout)
            except (OSError, subprocess.TimeoutExpired):
                stop_process(self.proc)
        if self._reader:
            self._reader.join(timeout=5)
        return self.proc.returncode

    def __enter__(self) -> "TestPmd":
        return self.start() if self.proc is None else self

    def __exit__(self, *exc) -> None:
        self.stop()
