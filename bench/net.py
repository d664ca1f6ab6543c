#!/usr/bin/python3
"""bench-net: 64-byte packets/s through uvdpad's vdpasim_net against DPDK's
own vhost PMD, both driven by the same dpdk-testpmd virtio-user front end.

  bench/net.py [BUILD_DIR] [--seconds S] [--runs N] [--perf PREFIX]
               [--also BUILD_DIR2] [--syscalls]

A testpmd with a virtio-user port (--no-pci --vdev
net_virtio_user0,path=SOCK; io forward; `start tx_first 32`; 64-byte
frames; both its lcores on one CPU A, --lcores 0@A,1@A) circulates frames
for S seconds (default 10) through
  (a) uvdpa: uvdpad's vdpasim_net device, created with mac
      02:00:00:00:00:00 (tx_first's destination: the simulator's MAC
      filter drops other unicast); uvdpad runs on the other CPU B (started
      under taskset: its data path workers uvdpa-w-N and its control
      thread);
  (b) DPDK: a second testpmd with --vdev net_vhost0,iface=SOCK,queues=1
      in io forward mode (a loopback), both its lcores on CPU B.
(a) and (b) alternate, N times each (default 3): the machine is noisy, so
the two are compared within one run and by medians. Per run: Mpps from
the RX counter delta between two `show port stats` samples S seconds
apart (after a 1 s warm-up); the back end's CPU use over the interval and
its CPU ns per packet; for uvdpad, how often its workers slept
(voluntary context switches) and its CPU time over 2 s after the traffic
stopped (testpmd still connected but not polling): workers must sleep.
Then the medians and the ratio uvdpa/DPDK.

--perf PREFIX: `perf record --call-graph dwarf` (frame pointers are
omitted in release builds) of uvdpad in the first uvdpa run into
PREFIX.uvdpa and of the vhost testpmd in the first DPDK run into
PREFIX.dpdk; read them with `perf report -i FILE --no-children`.
--also BUILD_DIR2: a second uvdpad build in the same alternation (e.g. a
candidate fix against the tree's build).
--syscalls: per run, both sides' write/read/epoll_wait calls per second
(perf stat on syscall tracepoints; light, but not free): the front end's
writes are its kicks (eventfd writes), which a back end that keeps
notifications off while it polls does not get.

Needs root (hugepages), dpdk-testpmd (Debian's dpdk-dev), 2 CPUs. Figures
are printed; nothing is asserted.
"""

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
from peers import TestPmd, ensure_hugepages, testpmd_unavailable_reason  # noqa: E402

MAC = "02:00:00:00:00:00"  # where tx_first sends (port 0's peer)
WARMUP = 1.0
IDLE = 2.0


def threads(pid):
    """{tid: name} of pid's threads."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                out[int(tid)] = f.read().strip()
        except (FileNotFoundError, ProcessLookupError):
            pass
    return out


def thread_sample(pid):
    """{"name[tid]": (cpu ns, voluntary context switches, run-queue wait ns)}
    of pid's threads."""
    out = {}
    for tid, name in threads(pid).items():
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                ns, wait = (int(x) for x in f.read().split()[:2])
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                vcs = next(int(l.split()[1]) for l in f
                           if l.startswith("voluntary_ctxt_switches"))
        except (FileNotFoundError, ProcessLookupError):
            continue
        out[f"{name}[{tid}]"] = (ns, vcs, wait)
    return out


def delta(s0, s1):
    """{thread: (cpu ms, voluntary switches, run-queue wait ms)} between two
    samples."""
    return {k: ((s1[k][0] - s0[k][0]) / 1e6, s1[k][1] - s0[k][1],
                (s1[k][2] - s0[k][2]) / 1e6) for k in s1 if k in s0}


def preempted(d, dt):
    """Run-queue wait of the busiest thread of delta d, as a share of dt:
    how much of the interval other processes took its CPU."""
    busy = max(d.values(), key=lambda v: v[0] + v[2])
    return busy[2] / 1e3 / dt


class Uvdpad:
    def __init__(self, build, workdir, cpu, tag):
        self.build = build
        self.run_dir = os.path.join(workdir, f"run-{tag}")
        self.env = dict(os.environ, UVDPA_RUNTIME_DIR=self.run_dir)
        self.log_path = os.path.join(workdir, f"uvdpad-{tag}.log")
        self._log = open(self.log_path, "w")
        # the whole daemon on CPU B: its workers (uvdpa-w-*) inherit it
        self.proc = subprocess.Popen(
            ["taskset", "-c", str(cpu), os.path.join(build, "daemon", "uvdpad"),
             "--runtime-dir", self.run_dir,
             "--state-dir", os.path.join(workdir, f"state-{tag}")],
            env=self.env, stdin=subprocess.DEVNULL, stdout=self._log,
            stderr=subprocess.STDOUT, start_new_session=True)
        sock = os.path.join(self.run_dir, "uvdpad.sock")
        deadline = time.monotonic() + 20
        while not os.path.exists(sock):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("uvdpad did not start:\n" + self.log())
            time.sleep(0.02)
        self.cli("dev", "add", "name", "net0", "mgmtdev", "vdpasim_net", "mac", MAC)

    @property
    def pid(self):
        return self.proc.pid  # taskset exec()s uvdpad: the same pid

    def cli(self, *args):
        p = subprocess.run([os.path.join(self.build, "cli", "uvdpa"), *args],
                           capture_output=True, text=True, env=self.env, timeout=30)
        if p.returncode:
            raise RuntimeError(f"uvdpa {' '.join(args)}: {p.stdout}{p.stderr}")
        return p.stdout

    def socket(self):
        return os.path.join(self.run_dir, "by-name", "net0")

    def log(self):
        with open(self.log_path) as f:
            return f.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode


def perf_start(pid, out, seconds):
    if not out:
        return None
    return subprocess.Popen(
        ["perf", "record", "--call-graph", "dwarf", "-F", "1999", "-o", out,
         "-p", str(pid), "--", "sleep", str(seconds)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


SYSCALLS = ("write", "read", "epoll_wait")


def syscalls_start(pid, seconds):
    """perf stat of pid's write/read/epoll_wait calls (kicks are eventfd
    writes) over seconds; None when not asked for."""
    return subprocess.Popen(
        ["perf", "stat", "-x,", "-e", ",".join(f"syscalls:sys_enter_{c}" for c in SYSCALLS),
         "-p", str(pid), "--", "sleep", str(seconds)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def syscalls_end(proc, seconds):
    """{syscall: calls per second} from syscalls_start()."""
    out = {}
    for line in proc.communicate(timeout=60)[1].splitlines():
        f = line.split(",")
        if len(f) > 2 and f[0].isdigit() and "sys_enter_" in f[2]:
            out[f[2].split("sys_enter_")[1]] = int(f[0]) / seconds
    return out


def measure(vu, seconds, backend_pid, perf_out, syscalls=False):
    """Start the loop; Mpps over seconds after a warm-up; back end threads."""
    vu.cmd("start tx_first 32")
    time.sleep(WARMUP)
    s0 = vu.port_stats()
    t0 = time.monotonic()
    b0 = thread_sample(backend_pid)
    f0 = thread_sample(vu.proc.pid)
    perf = perf_start(backend_pid, perf_out, seconds)
    sc = [syscalls_start(pid, seconds) for pid in (vu.proc.pid, backend_pid)] if syscalls else []
    time.sleep(seconds)
    s1 = vu.port_stats()
    t1 = time.monotonic()
    b1 = thread_sample(backend_pid)
    f1 = thread_sample(vu.proc.pid)
    vu.cmd("stop")
    if perf:
        perf.wait(60)
    if sc:
        r_sc = [syscalls_end(p, seconds) for p in sc]
    dt = t1 - t0
    rx = s1["rx_packets"] - s0["rx_packets"]
    r = {"mpps": rx / dt / 1e6,
         "tx_mpps": (s1["tx_packets"] - s0["tx_packets"]) / dt / 1e6,
         "threads": delta(b0, b1)}
    # other processes on the two CPUs: the machine is shared
    r["steal_fe"] = preempted(delta(f0, f1), dt)
    r["steal_be"] = preempted(r["threads"], dt)
    cpu_ms = sum(v[0] for v in r["threads"].values())
    r["cpu"] = cpu_ms / 1e3 / dt
    r["ns_per_pkt"] = cpu_ms * 1e6 / rx if rx else float("nan")
    r["syscalls"] = ""
    if sc:
        r["syscalls"] = "\n      syscalls/s: " + "; ".join(
            f"{who} " + ", ".join(f"{c} {v:.0f}" for c, v in calls.items())
            for who, calls in zip(("front end", "back end"), r_sc))
    return r


def run_uvdpa(d, workdir, cpu_a, seconds, idx, perf_out, syscalls):
    vu = TestPmd.virtio_user(d.socket(), workdir, cpu=cpu_a,
                             name=f"testpmd-uvdpa-{idx}")
    with vu:
        r = measure(vu, seconds, d.pid, perf_out, syscalls)
        # while connected: a reset (disconnect) makes vstats unavailable
        r["vstats"] = " | ".join(
            " ".join(d.cli("dev", "vstats", "show", "net0", "qidx", str(q)).split())
            for q in (0, 1))
        # traffic stopped, testpmd connected but not polling: workers sleep
        time.sleep(0.2)
        i0 = thread_sample(d.pid)
        time.sleep(IDLE)
        r["idle"] = delta(i0, thread_sample(d.pid))
    r["sleeps"] = sum(v[1] for k, v in r["threads"].items() if k.startswith("uvdpa-w"))
    return r


def run_dpdk(workdir, cpu_a, cpu_b, seconds, idx, perf_out, syscalls):
    sock = os.path.join(workdir, f"vhost-{idx}.sock")
    with TestPmd.vhost(sock, workdir, cpu=cpu_b, name=f"testpmd-vhost-{idx}") as vh:
        vh.cmd("start")  # io forward: every frame received goes back out
        vu = TestPmd.virtio_user(sock, workdir, cpu=cpu_a, name=f"testpmd-dpdk-{idx}")
        with vu:
            r = measure(vu, seconds, vh.proc.pid, perf_out, syscalls)
        vh.cmd("stop")
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("build", nargs="?", default=os.path.join(ROOT, "build"))
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--perf", metavar="PREFIX",
                    help="perf record the back ends of the first runs into PREFIX.uvdpa/.dpdk")
    ap.add_argument("--also", metavar="BUILD_DIR2",
                    help="a second uvdpad build, alternated with the first")
    ap.add_argument("--syscalls", action="store_true",
                    help="count both sides' write/read/epoll_wait calls (perf stat): "
                         "the front end's writes are its kicks")
    ap.add_argument("--keep", action="store_true", help="keep the work dir (logs)")
    args = ap.parse_args()

    why = testpmd_unavailable_reason() or ensure_hugepages(free_pages=300)
    if why:
        sys.exit(f"bench-net: {why}")
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        sys.exit("bench-net: needs two CPUs")
    cpu_a, cpu_b = cpus[0], cpus[1]
    builds = {"uvdpa": os.path.abspath(args.build)}
    if args.also:
        builds["uvdpa-2"] = os.path.abspath(args.also)
    workdir = tempfile.mkdtemp(prefix="uvdpa-bnet-")
    print(f"bench-net: {args.runs} x ({', '.join(builds)}, DPDK vhost), "
          f"{args.seconds:g} s each, 64-byte frames, io forward, tx_first 32; "
          f"testpmd virtio-user on CPU {cpu_a}, back end on CPU {cpu_b}")
    for tag, b in builds.items():
        print(f"  {tag}: {b}/daemon/uvdpad")
    daemons = {}
    ok = False
    res = {k: [] for k in [*builds, "dpdk"]}
    idles, last = [], {}
    try:
        for tag, b in builds.items():
            daemons[tag] = Uvdpad(b, workdir, cpu_b, tag)
            print(f"  {tag} threads on CPUs: " + ", ".join(
                f"{name} {sorted(os.sched_getaffinity(tid))}"
                for tid, name in sorted(threads(daemons[tag].pid).items())))
        for i in range(args.runs):
            for tag, d in daemons.items():
                perf = f"{args.perf}.{tag}" if args.perf and i == 0 else None
                r = run_uvdpa(d, workdir, cpu_a, args.seconds, f"{tag}-{i}", perf,
                              args.syscalls)
                res[tag].append(r["mpps"])
                idle_ms = sum(v[0] for v in r["idle"].values())
                idles.append((tag, r["idle"]))
                last[tag] = r
                print(f"run {i + 1} {tag:8} {r['mpps']:6.3f} Mpps (tx {r['tx_mpps']:6.3f}), "
                      f"uvdpad CPU {r['cpu'] * 100:3.0f} % = {r['ns_per_pkt']:5.1f} ns/pkt, "
                      f"worker sleeps {r['sleeps']}, waited for CPU: front end "
                      f"{r['steal_fe'] * 100:2.0f} %, uvdpad {r['steal_be'] * 100:2.0f} %; idle {IDLE:g} s after: "
                      f"{idle_ms:.3f} ms CPU{r['syscalls']}",
                      flush=True)
            perf = f"{args.perf}.dpdk" if args.perf and i == 0 else None
            r = run_dpdk(workdir, cpu_a, cpu_b, args.seconds, i, perf, args.syscalls)
            res["dpdk"].append(r["mpps"])
            print(f"run {i + 1} {'DPDK':8} {r['mpps']:6.3f} Mpps (tx {r['tx_mpps']:6.3f}), "
                  f"vhost testpmd CPU {r['cpu'] * 100:3.0f} % = {r['ns_per_pkt']:5.1f} ns/pkt, "
                  f"waited for CPU: front end {r['steal_fe'] * 100:2.0f} %, "
                  f"vhost {r['steal_be'] * 100:2.0f} %{r['syscalls']}",
                  flush=True)
        med = {k: statistics.median(v) for k, v in res.items()}
        print("median " + ", ".join(f"{k} {v:.3f} Mpps" for k, v in med.items()))
        for tag in builds:
            ratios = [a / b for a, b in zip(res[tag], res["dpdk"])]
            print(f"{tag}/DPDK: {med[tag] / med['dpdk']:.2f} (ratio of medians); "
                  f"per run: {' '.join(f'{x:.2f}' for x in ratios)}")
        tag, worst = max(idles, key=lambda x: sum(v[0] for v in x[1].values()))
        print(f"uvdpad idle CPU over {IDLE:g} s after the traffic (worst run, {tag}): "
              + ", ".join(f"{k} {v[0]:.3f} ms ({v[1]} wakeups)" for k, v in sorted(worst.items())))
        for tag, r in last.items():
            print(f"{tag} device counters after its last run: {r['vstats']}")
        ok = True
    finally:
        for tag, d in daemons.items():
            rc = d.stop()
            if rc != 0:
                print(f"{tag}: uvdpad exited {rc}:\n{d.log()[-2000:]}")
        if args.keep or not ok:
            print(f"bench-net: logs in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
