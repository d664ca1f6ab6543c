#!/usr/bin/env python3
"""The virtio_vdpa blk file against a plain FUSE passthrough, in one run.

Starts bench-virtio-blk (a vdpasim_blk device, 128 MiB of RAM, handed to
the host as a file by buses/virtio_vdpa's FUSE filesystem, in process)
and bench-fuse-passthrough (a libfuse3 passthrough of a 128 MiB tmpfs
file, built with the same FUSE mode, thread and options: what FUSE alone
allows), fills both files once, then runs Debian's fio on each, the
targets alternating within every round:
  4 KiB randread and randwrite, libaio, direct=1, iodepth 16 (IOPS);
  1 MiB sequential read and write, libaio, direct=1, iodepth 8 (MB/s).
The virtio-blk file runs twice: with the simulator's default busy-poll
window (adaptive, at most 50 us) and with none (--sim-poll-us 0), since
on a small machine a device that polls takes CPU the FUSE loop needs. Medians over the rounds
are printed with the ratio of each to FUSE (goal: 0.8 or more) and each
server's CPU per I/O.

usage: bench/virtio-blk.py [--build DIR] [--rounds N] [--seconds S]
                           [--iodepth N] [--pin FE,BE]
                           [--quiet-wait S] [--quick]
--pin runs fio on CPU FE and both servers on CPU BE (one CPU each side);
by default the scheduler places everything. Before each run it waits (up
to --quiet-wait seconds) for the rest of the machine to be idle and
reports how busy it was. Needs root (FUSE mounts with allow_other). Every
process started here is stopped by its pid.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from benchlib import (QUIET, ROOT, check_built, cpu_s, machine_busy_s, med,
                      stop, unwind_on_sigterm, wait_quiet)

SIZE = 128 << 20
REF = "fuse"


class Server:
    def __init__(self, name, argv, cpu):
        if cpu is not None:
            argv = ["taskset", "-c", str(cpu)] + argv
        self.name = name
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE,
                                     stderr=sys.stderr, text=True,
                                     start_new_session=True)
        line = self.proc.stdout.readline().strip()
        if not line or self.proc.poll() is not None:
            raise RuntimeError(f"{argv[0]} did not start")
        self.path = line
        self.pid = self.proc.pid

    def stop(self):
        stop(self.proc, 20)


def fio(args, path, rw, bs, qd, seconds, size=SIZE):
    argv = ["fio", "--name=bench", f"--filename={path}",
            "--ioengine=libaio", "--direct=1", f"--rw={rw}", f"--bs={bs}",
            f"--iodepth={qd}", f"--size={size}", "--output-format=json",
            "--randrepeat=0", "--norandommap"]
    if seconds:
        argv += [f"--runtime={seconds}", "--time_based"]
    if args.fe_cpu is not None:
        argv = ["taskset", "-c", str(args.fe_cpu)] + argv
    p = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    if p.returncode:
        raise RuntimeError(f"fio on {path}: {p.stderr.strip()}")
    job = json.loads(p.stdout)["jobs"][0]
    d = job["read"] if job["read"]["io_bytes"] else job["write"]
    fio_cpus = (job["usr_cpu"] + job["sys_cpu"]) / 100
    return d["iops"], d["bw_bytes"] / 1e6, d["total_ios"], fio_cpus


def cases(args):
    c = [("randread", "4k", args.iodepth), ("randwrite", "4k", args.iodepth),
         ("read", "1m", 8), ("write", "1m", 8)]
    return c[::2] if args.quick else c


def one(args, srv, case):
    rw, bs, qd = case
    c0 = cpu_s(srv.pid)
    t0 = time.monotonic()
    b0 = machine_busy_s()
    iops, mbs, ios, fio_cpus = fio(args, srv.path, rw, bs, qd,
                                   args.seconds)
    total = machine_busy_s() - b0
    wall = time.monotonic() - t0
    srv_cpu = cpu_s(srv.pid) - c0
    return {"iops": iops, "mbs": mbs,
            "cpu_us": srv_cpu / max(ios, 1) * 1e6,
            "srv_cpus": srv_cpu / wall,
            "others": max(total / wall - srv_cpu / wall - fio_cpus, 0)}


def run(args, servers):
    for s in servers:
        fio(args, s.path, "write", "1m", 8, 0)  # every page allocated
        print(f"# filled {s.name}: {s.path}", flush=True)
    res = {}
    k = len(servers)
    for rnd in range(args.rounds):
        order = servers[rnd % k:] + servers[:rnd % k]
        for case in cases(args):
            for s in order:
                wait_quiet(args.quiet_wait)
                res.setdefault((case, s.name), []).append(
                    one(args, s, case))
        print(f"# round {rnd + 1}/{args.rounds} done", flush=True)
    return res


def report(args, res, names):
    where = (f"fio on CPU {args.fe_cpu}, servers on CPU {args.be_cpu}"
             if args.fe_cpu is not None else "unpinned")
    print(f"\nfio libaio direct=1, median of {args.rounds} runs of "
          f"{args.seconds} s ({where}; {os.cpu_count()} CPUs)")
    vb = [n for n in names if n != REF]
    print(f"{'case':18}" + "".join(f"{n:>15}" for n in names) +
          "".join(f"{'ratio':>7}" for n in vb) + "   server CPU us/IO"
          "      others")
    for case in cases(args):
        rw, bs, qd = case
        key = "iops" if bs == "4k" else "mbs"
        unit = "IOPS" if key == "iops" else "MB/s"
        v = {n: med(res[(case, n)], key) for n in names}
        cpu = "/".join(f"{med(res[(case, n)], 'cpu_us'):.1f}" for n in names)
        busy = max(r["others"] for n in names for r in res[(case, n)])
        print(f"{rw + ' ' + bs + ' qd' + str(qd):18}" +
              "".join(f"{v[n]:15.0f}" for n in names) +
              "".join(f"{v[n] / v[REF]:7.2f}" for n in vb) +
              f"   {cpu:20} {busy:.2f}   {unit}")
    print(f"(ratio: {', '.join(vb)} each over {REF})")
    print(f"\nMedians of the quiet runs only (others < {QUIET}) [runs "
          "counted], and their ratios:")
    for case in cases(args):
        key = "iops" if case[1] == "4k" else "mbs"
        q = {n: [r[key] for r in res[(case, n)] if r["others"] < QUIET]
             for n in names}
        cells = " ".join(f"{statistics.median(q[n]):9.0f} [{len(q[n])}]"
                         if q[n] else f"{'-':>9} [0]" for n in names)
        ratios = " ".join(
            f"{statistics.median(q[n]) / statistics.median(q[REF]):5.2f}"
            if q[n] and q[REF] else "    -" for n in vb)
        print(f"  {case[0] + ' ' + case[1]:14} {cells}   {ratios}")
    print("(server CPU: the server process's CPU time per I/O; others: the "
          "most CPUs the rest\n of the machine used in any run of the row, "
          "fio and server excluded; tick-based, rough)")
    print("\nAll runs (value, server CPUs in use, others):")
    for case in cases(args):
        key = "iops" if case[1] == "4k" else "mbs"
        for n in names:
            print(f"  {case[0]:9} {n:10} " + " ".join(
                f"{r[key]:9.0f}({r['srv_cpus']:.2f},{r['others']:.2f})"
                for r in res[(case, n)]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--iodepth", type=int, default=16)
    ap.add_argument("--pin", help="FE,BE: fio on CPU FE, servers on BE")
    ap.add_argument("--shm", default="/dev/shm")
    ap.add_argument("--quiet-wait", type=float, default=30)
    ap.add_argument("--quick", action="store_true",
                    help="randread and sequential read only")
    args = ap.parse_args()
    args.fe_cpu = args.be_cpu = None
    if args.pin:
        args.fe_cpu, args.be_cpu = (int(x) for x in args.pin.split(","))
    check_built(args.build, ("bench/bench-virtio-blk",
                             "bench/bench-fuse-passthrough"))
    unwind_on_sigterm()
    tmp = tempfile.mkdtemp(prefix="uvdpa-bench-vblk.")
    backing = os.path.join(args.shm, f"uvdpa-bench-vblk.{os.getpid()}")
    servers = []
    try:
        with open(backing, "wb") as f:
            f.truncate(SIZE)
        vb = os.path.join(args.build, "bench", "bench-virtio-blk")
        os.mkdir(os.path.join(tmp, "fuse"))
        servers.append(Server("virtio-blk", [vb, os.path.join(tmp, "vblk")],
                              args.be_cpu))
        servers.append(Server("vblk-nopoll", [
            vb, os.path.join(tmp, "vblk0"), "--poll-us", "0"], args.be_cpu))
        servers.append(Server(REF, [
            os.path.join(args.build, "bench", "bench-fuse-passthrough"),
            os.path.join(tmp, "fuse"), backing], args.be_cpu))
        res = run(args, servers)
        report(args, res, [s.name for s in servers])
    finally:
        for s in servers:
            s.stop()
        if os.path.exists(backing):
            os.unlink(backing)
        for d in ("vblk", "vblk0", "fuse", ""):
            try:
                os.rmdir(os.path.join(tmp, d))
            except OSError:
                pass


if __name__ == "__main__":
    main()
