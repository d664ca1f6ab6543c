#!/usr/bin/env python3
"""uvdpad's vhost-user-blk back end against qemu-storage-daemon, in one run.

Starts uvdpad (a vdpasim_blk device, 128 MiB of RAM) and qemu-storage-daemon
twice (a 128 MiB raw file on /dev/shm with aio=io_uring, and null-co with
read-zeroes), every back end pinned to one CPU, and drives each with
bench-vhost-blk (uvdpa's own vhost-user front end) pinned to the other:
4 KiB random reads, then writes, at queue depth 1, 16 and 128, the front
end busy-polling and, separately, sleeping on its call eventfd. Targets
alternate within each round; medians over the rounds are printed, with the
ratio uvdpa / qsd-tmpfs, the back ends' CPU use under load, and their CPU
time while idle (/proc/PID/stat utime+stime over 2 s): with no front end,
and with a front end connected and its queue started but silent.

usage: bench/vhost-blk.py [--build DIR] [--rounds N] [--seconds S]
                          [--fe-cpu N] [--be-cpu N] [--quiet-wait S]
                          [--quick]
Before each run it waits (up to --quiet-wait seconds) until the rest of
the machine is idle, and it reports how busy the rest was meanwhile.
Every process started here is stopped by its pid.
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
DISK = 128 << 20
QSD = os.environ.get("UVDPA_QSD", "qemu-storage-daemon")
QUIET = 0.3  # CPUs the rest of the machine may use in a "quiet" run


def wait_for(path, proc, timeout=10.0):
    end = time.monotonic() + timeout
    while not os.path.exists(path):
        if proc.poll() is not None or time.monotonic() > end:
            raise RuntimeError(f"{proc.args[0]} did not create {path}")
        time.sleep(0.02)


def stop(proc):
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def cpu_s(pid):
    """utime + stime of every thread of pid, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Targets:
    def __init__(self, args, tmp):
        self.args, self.tmp, self.procs = args, tmp, []
        self.sockets, self.pids = {}, {}

    def spawn(self, argv, log, env=None):
        argv = ["taskset", "-c", str(self.args.be_cpu)] + argv
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                             stderr=subprocess.STDOUT, env=env,
                             start_new_session=True)
        self.procs.append(p)
        return p

    def start_uvdpad(self):
        run = os.path.join(self.tmp, "run")
        env = dict(os.environ, UVDPA_RUNTIME_DIR=run)
        build = self.args.build
        log = open(os.path.join(self.tmp, "uvdpad.log"), "wb")
        p = self.spawn([os.path.join(build, "daemon", "uvdpad"),
                        "--runtime-dir", run, "--state-dir",
                        os.path.join(self.tmp, "state"),
                        "--log-level", "warn"], log, env)
        wait_for(os.path.join(run, "uvdpad.sock"), p)
        subprocess.run([os.path.join(build, "cli", "uvdpa"), "dev", "add",
                        "name", "blk0", "mgmtdev", "vdpasim_blk"],
                       env=env, check=True)
        sock = os.path.join(run, "by-name", "blk0")
        wait_for(sock, p)
        self.sockets["uvdpa"], self.pids["uvdpa"] = sock, p.pid

    def start_qsd(self, name, blockdevs, node):
        sock = os.path.join(self.tmp, name + ".sock")
        argv = [QSD]
        for b in blockdevs:
            argv += ["--blockdev", b]
        argv += ["--export", "type=vhost-user-blk,id=e0,node-name=" + node +
                 ",addr.type=unix,addr.path=" + sock + ",writable=on"]
        log = open(os.path.join(self.tmp, name + ".log"), "wb")
        p = self.spawn(argv, log)
        wait_for(sock, p)
        self.sockets[name], self.pids[name] = sock, p.pid

    def start(self):
        self.start_uvdpad()
        img = os.path.join(self.args.shm, os.path.basename(self.tmp) + ".img")
        self.img = img
        with open(img, "wb") as f:  # every page real, as the fill makes
            f.write(b"\0" * DISK)
        self.start_qsd("qsd-tmpfs", [
            f"driver=file,node-name=f0,filename={img},aio=io_uring,"
            "cache.direct=off", "driver=raw,node-name=d0,file=f0"], "d0")
        self.start_qsd("qsd-null", [
            f"driver=null-co,node-name=n0,size={DISK},read-zeroes=on"], "n0")

    def stop(self):
        for p in reversed(self.procs):
            stop(p)
        if getattr(self, "img", None) and os.path.exists(self.img):
            os.unlink(self.img)


def busy_cpus(secs=0.5):
    """CPUs' worth of work the whole machine did over secs (/proc/stat)."""
    def busy():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:9]]
        return (sum(v) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")
    b0 = busy()
    time.sleep(secs)
    return (busy() - b0) / secs


def wait_quiet(args):
    """Noisy neighbours: wait (up to --quiet-wait s) for an idle machine."""
    end = time.monotonic() + args.quiet_wait
    while busy_cpus() > 0.25 and time.monotonic() < end:
        pass


def bench(args, target, sock, pid, extra):
    argv = [os.path.join(args.build, "bench", "bench-vhost-blk"),
            "--socket", sock, "--label", target, "--cpu", str(args.fe_cpu),
            "--pid", str(pid)] + extra
    p = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    if p.returncode:
        raise RuntimeError(f"{' '.join(argv)}: {p.stderr.strip()}")
    line = p.stdout.strip().splitlines()[-1]
    return dict(kv.split("=", 1) for kv in line.split())


def idle_cpu(targets, secs=2.0):
    """Back ends' CPU % with no front end, then with a silent one."""
    out = {}
    for t, pid in targets.pids.items():
        c0 = cpu_s(pid)
        time.sleep(secs)
        out[t] = [(cpu_s(pid) - c0) / secs * 100]
    for t, pid in targets.pids.items():
        r = bench(targets.args, t, targets.sockets[t], pid,
                  ["--idle", str(secs)])
        out[t].append(float(r["be_cpu_pct"]))
    return out


def cases(args):
    qds = [1, 16, 128]
    waits = ["poll", "sleep"]
    if args.quick:
        qds, waits = [1, 128], ["poll"]
    return [(rw, qd, w) for rw in ("read", "write") for w in waits
            for qd in qds]


def run(args, targets):
    names = list(targets.sockets)
    res = {}  # (case, target) -> [result dicts]
    for t in ("uvdpa", "qsd-tmpfs"):
        r = bench(args, t, targets.sockets[t], targets.pids[t], ["--fill"])
        print(f"# fill {t}: {r['blocks']} blocks in {r['seconds']} s",
              flush=True)
    for rnd in range(args.rounds):
        order = names[rnd % len(names):] + names[:rnd % len(names)]
        for case in cases(args):
            rw, qd, w = case
            for t in order:  # alternate: no target always runs first
                wait_quiet(args)
                r = bench(args, t, targets.sockets[t], targets.pids[t],
                          ["--rw", rw, "--qd", str(qd), "--wait", w,
                           "--seconds", str(args.seconds)])
                res.setdefault((case, t), []).append(r)
        print(f"# round {rnd + 1}/{args.rounds} done", flush=True)
    return names, res


def med(rs, key):
    return statistics.median(float(r[key]) for r in rs)


def report(names, res, idle, args):
    print(f"\n4 KiB random I/O, IOPS (median of {args.rounds}; "
          f"{args.seconds} s each; front end on CPU {args.fe_cpu}, "
          f"back ends on CPU {args.be_cpu})")
    head = f"{'rw':5} {'wait':5} {'qd':>3} " + "".join(
        f"{n:>11}" for n in names) + f" {'uvdpa/tmpfs':>11}  back-end CPU " \
        + "/".join(names)
    print(head + "  others")
    for case in cases(args):
        rw, qd, w = case
        iops = {n: med(res[(case, n)], "iops") for n in names}
        be = "/".join(f"{med(res[(case, n)], 'be_cpu'):.2f}" for n in names)
        ratio = iops["uvdpa"] / iops["qsd-tmpfs"]
        others = max(float(r["others"]) for n in names
                     for r in res[(case, n)])
        print(f"{rw:5} {w:5} {qd:3} " +
              "".join(f"{iops[n]:11.0f}" for n in names) +
              f" {ratio:11.2f}  {be:14}  {others:.2f}")
    print("(back-end CPU: median CPUs used by each back end under load; "
          "others: the most CPUs\n the rest of the machine used during "
          "any run of the row: above ~0.2, a neighbour interfered)")
    print(f"\nMedians of the quiet runs only (others < {QUIET}), "
          "[runs counted]:")
    for case in cases(args):
        cells = []
        for n in names:
            q = [r for r in res[(case, n)] if float(r["others"]) < QUIET]
            cells.append(f"{med(q, 'iops'):9.0f} [{len(q)}]" if q
                         else f"{'-':>9} [0]")
        print(f"  {case[0]:5} {case[2]:5} qd={case[1]:<3} " + " ".join(cells))
    print("\nAll runs (IOPS per round, others in parentheses; others is "
          "tick-based, rough when\n processes sleep often):")
    for case in cases(args):
        for n in names:
            print(f"  {case[0]:5} {case[2]:5} qd={case[1]:<3} {n:10} " +
                  " ".join(f"{r['iops']:>8}({r['others']})"
                           for r in res[(case, n)]))
    print("\nIdle CPU of each back end (% of one CPU over 2 s): "
          "no front end / a front end with a started, silent queue")
    for n in names:
        print(f"  {n:10} {idle[n][0]:6.2f} % / {idle[n][1]:6.2f} %")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--fe-cpu", type=int, default=0)
    ap.add_argument("--be-cpu", type=int, default=1)
    ap.add_argument("--shm", default="/dev/shm")
    ap.add_argument("--quiet-wait", type=float, default=30,
                    help="wait up to this long for an idle machine "
                         "before each run")
    ap.add_argument("--quick", action="store_true",
                    help="QD 1 and 128, polling only")
    args = ap.parse_args()
    for exe in ("daemon/uvdpad", "cli/uvdpa", "bench/bench-vhost-blk"):
        if not os.access(os.path.join(args.build, exe), os.X_OK):
            sys.exit(f"{exe} is not built in {args.build}")
    if not shutil.which(QSD):
        sys.exit(f"{QSD} not found")
    tmp = tempfile.mkdtemp(prefix="uvdpa-vhb-")
    targets = Targets(args, tmp)
    try:
        targets.start()
        names, res = run(args, targets)
        idle = idle_cpu(targets)
        report(names, res, idle, args)
    finally:
        targets.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
