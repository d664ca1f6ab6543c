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
import subprocess
import sys
import tempfile
import time

from benchlib import (QUIET, ROOT, check_built, cpu_s, med, spawn, stop,
                      unwind_on_sigterm, wait_for, wait_quiet)

DISK = 128 << 20
QSD = os.environ.get("UVDPA_QSD", "qemu-storage-daemon")


class Targets:
    def __init__(self, args, tmp):
        self.args, self.tmp, self.procs = args, tmp, []
        self.sockets, self.pids = {}, {}

    def spawn(self, argv, name, env=None):
        with open(os.path.join(self.tmp, name + ".log"), "wb") as log:
            p = spawn(argv, log, self.args.be_cpu, env)
        self.procs.append(p)
        return p

    def start_uvdpad(self):
        run = os.path.join(self.tmp, "run")
        env = dict(os.environ, UVDPA_RUNTIME_DIR=run)
        build = self.args.build
        p = self.spawn([os.path.join(build, "daemon", "uvdpad"),
                        "--runtime-dir", run, "--state-dir",
                        os.path.join(self.tmp, "state"),
                        "--log-level", "warn"], "uvdpad", env)
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
        p = self.spawn(argv, name)
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
                wait_quiet(args.quiet_wait)
                r = bench(args, t, targets.sockets[t], targets.pids[t],
                          ["--rw", rw, "--qd", str(qd), "--wait", w,
                           "--seconds", str(args.seconds)])
                res.setdefault((case, t), []).append(r)
        print(f"# round {rnd + 1}/{args.rounds} done", flush=True)
    return names, res


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
    check_built(args.build,
                ("daemon/uvdpad", "cli/uvdpa", "bench/bench-vhost-blk"))
    if not shutil.which(QSD):
        sys.exit(f"{QSD} not found")
    unwind_on_sigterm()
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
