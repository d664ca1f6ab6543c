#!/usr/bin/env python3
"""uvdpa's blk parent against qemu-storage-daemon on tmpfs files, in one run.

Starts uvdpad with two `blk` devices on files in /dev/shm (b0 with one
queue, b1 with two) and two qemu-storage-daemons exporting the same kind of
file over vhost-user-blk with aio=io_uring (num-queues 1 and 2), and drives
all four with bench-vhost-blk, uvdpa's own vhost-user front end:

  one queue    4 KiB randread and randwrite at queue depth 1, 32, 128, and
               128 KiB sequential read and write at depth 16 (MB/s); back
               ends pinned to --be-cpu, the front end (one thread, polling)
               to --fe-cpu, as bench/vhost-blk.py does.
  two queues   4 KiB randread and randwrite at depth 32 per queue, on the
               two-queue devices, using one queue and then both: the 1 -> 2
               queue ratio. The back ends may then run on every CPU; the
               front end is one thread on --fe-cpu serving its queues in
               turn and sleeping on their call eventfds when nothing is
               done, so its CPU use stays small and does not grow with the
               queues: what two queues gain is the back end's, out of the
               CPU time the front end leaves. (A polling front end takes a
               whole CPU of two: then a back end's second thread only
               time-slices with it, and a back end thread woken onto the
               front end's CPU loses half its time, whatever the queues.)

On tmpfs io_uring does every read and write in an io-wq thread of the
back end (perf shows iou-wrk-* in shmem_file_{read,write}_iter): that
thread shares the back end's CPUs (--be-cpu). qemu-storage-daemon pays
that; uvdpa's blk parent, with its default aio auto, does tmpfs I/O in its
worker instead (--aio io_uring measures it through the ring as qsd does).

Targets alternate within each round (the first one rotates); medians over
the rounds are printed, with the ratio uvdpa / qsd, the back ends' CPU use
and how busy the rest of the machine was. Before each run it waits (up to
--quiet-wait s) for the machine to be idle. Every process started here is
stopped by its pid; the image files are removed.

usage: bench/blk.py [--build DIR] [--rounds N] [--seconds S] [--size MIB]
                    [--fe-cpu N] [--be-cpu N[,N]] [--quiet-wait S]
                    [--parent blk|vdpasim_blk] [--aio MODE] [--quick]
--parent vdpasim_blk measures the simulator instead (128 MiB of RAM, one
queue, 4 KiB only: no 128 KiB or two-queue cases); it is there to try the
script without the blk parent.
"""

import argparse
import os
import shlex
import shutil
import subprocess
import sys
import tempfile

from benchlib import (QUIET, ROOT, check_built, med, spawn, stop,
                      unwind_on_sigterm, wait_for, wait_quiet)

QSD = os.environ.get("UVDPA_QSD", "qemu-storage-daemon")
SIM_SIZE = 128  # MiB, vdpasim_blk's fixed disk

# (name, --rw, sequential, block size, queue depth)
ONE_QUEUE = [
    ("randread 4k qd1", "randread", False, 4096, 1),
    ("randread 4k qd32", "randread", False, 4096, 32),
    ("randread 4k qd128", "randread", False, 4096, 128),
    ("randwrite 4k qd1", "randwrite", False, 4096, 1),
    ("randwrite 4k qd32", "randwrite", False, 4096, 32),
    ("randwrite 4k qd128", "randwrite", False, 4096, 128),
    ("read 128k seq qd16", "read", True, 128 << 10, 16),
    ("write 128k seq qd16", "write", True, 128 << 10, 16),
]
TWO_QUEUES = [
    ("randread 4k qd32/q", "randread", False, 4096, 32),
    ("randwrite 4k qd32/q", "randwrite", False, 4096, 32),
]


def set_affinity(pid, cpus):
    """Every thread of pid onto cpus (io_uring's own workers may refuse)."""
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            os.sched_setaffinity(int(tid), cpus)
        except OSError:
            pass


def be_cpus(args):
    """--be-cpu as a list: "1" or "0,1"."""
    return [int(c) for c in args.be_cpu.split(",")]


class Targets:
    """uvdpad (b0, b1) and two qemu-storage-daemons, each on its own file."""

    def __init__(self, args, tmp):
        self.args, self.tmp, self.procs, self.files = args, tmp, [], []
        self.sockets, self.pids, self.cmds = {}, {}, []
        self.size = (SIM_SIZE if args.parent == "vdpasim_blk"
                     else args.size) << 20

    def spawn(self, argv, name, env=None):
        argv = ["taskset", "-c", self.args.be_cpu] + argv
        self.cmds.append(shlex.join(argv))
        with open(os.path.join(self.tmp, name + ".log"), "wb") as log:
            p = spawn(argv, log, env=env)
        self.procs.append(p)
        return p

    def image(self, name):
        """A file on tmpfs, every page real, as a fill would leave it."""
        path = os.path.join(self.args.shm,
                            f"{os.path.basename(self.tmp)}-{name}.img")
        self.files.append(path)
        with open(path, "wb") as f:
            for _ in range(self.size >> 20):
                f.write(b"\0" * (1 << 20))
        return path

    def uvdpa(self, *words):
        argv = [os.path.join(self.args.build, "cli", "uvdpa")] + list(words)
        self.cmds.append(shlex.join(["uvdpa"] + list(words)))
        subprocess.run(argv, env=self.env, check=True,
                       stdout=subprocess.DEVNULL)

    def start_uvdpad(self):
        run = os.path.join(self.tmp, "run")
        self.env = dict(os.environ, UVDPA_RUNTIME_DIR=run)
        p = self.spawn([os.path.join(self.args.build, "daemon", "uvdpad"),
                        "--runtime-dir", run, "--state-dir",
                        os.path.join(self.tmp, "state"),
                        "--log-level", "warn"], "uvdpad", self.env)
        wait_for(os.path.join(run, "uvdpad.sock"), p)
        if self.args.parent == "vdpasim_blk":
            devs = [("b0", "uvdpa-1q", ["mgmtdev", "vdpasim_blk"])]
        else:
            aio = ["aio", self.args.aio]
            devs = [("b0", "uvdpa-1q", ["mgmtdev", "blk", "path",
                                        self.image("u1"), "num_queues", "1",
                                        *aio]),
                    ("b1", "uvdpa-2q", ["mgmtdev", "blk", "path",
                                        self.image("u2"), "num_queues", "2",
                                        *aio])]
        for dev, target, words in devs:
            self.uvdpa("dev", "add", "name", dev, *words)
            sock = os.path.join(run, "by-name", dev)
            wait_for(sock, p)
            self.sockets[target], self.pids[target] = sock, p.pid

    def start_qsd(self, target, queues):
        img = self.image(target)
        sock = os.path.join(self.tmp, target + ".sock")
        p = self.spawn([
            QSD, "--blockdev",
            f"driver=file,filename={img},aio=io_uring,cache.direct=off,"
            "node-name=f",
            "--export", "type=vhost-user-blk,id=e,node-name=f,"
            f"addr.type=unix,addr.path={sock},writable=on,"
            f"num-queues={queues}"], target)
        wait_for(sock, p)
        self.sockets[target], self.pids[target] = sock, p.pid

    def start(self):
        self.start_uvdpad()
        self.start_qsd("qsd-1q", 1)
        if "uvdpa-2q" in self.sockets:
            self.start_qsd("qsd-2q", 2)

    def stop(self):
        for p in reversed(self.procs):
            stop(p)
        for f in self.files:
            if os.path.exists(f):
                os.unlink(f)


def gen_argv(args, target, sock, pid, extra):
    return [os.path.join(args.build, "bench", "bench-vhost-blk"),
            "--socket", sock, "--label", target, "--cpu", str(args.fe_cpu),
            "--pid", str(pid)] + extra


def bench(args, targets, target, extra):
    argv = gen_argv(args, target, targets.sockets[target],
                    targets.pids[target], extra)
    p = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    if p.returncode:
        raise RuntimeError(f"{shlex.join(argv)}: {p.stderr.strip()}")
    line = p.stdout.strip().splitlines()[-1]
    return dict(kv.split("=", 1) for kv in line.split())


def case_argv(args, sec, case, queues):
    """The generator's options; sec "1q" polls, "mq" sleeps."""
    _, rw, seq, bs, qd = case
    return (["--rw", rw, "--bs", str(bs), "--qd", str(qd),
             "--queues", str(queues), "--seconds", str(args.seconds),
             "--wait", "poll" if sec == "1q" else "sleep"] +
            (["--seq"] if seq else []))


def plan(args, targets):
    """[(section, case, queues, [targets])], in the order they run."""
    one = ONE_QUEUE
    if args.parent == "vdpasim_blk":  # size_max 4096: 128 KiB is 34 descs
        one = [c for c in one if c[3] == 4096]
    if args.quick:
        one = [c for c in ONE_QUEUE if c[4] != 32]
    runs = [("1q", c, 1, ["uvdpa-1q", "qsd-1q"]) for c in one]
    if "uvdpa-2q" in targets.sockets:
        for c in TWO_QUEUES:
            for q in (1, 2):
                runs.append(("mq", c, q, ["uvdpa-2q", "qsd-2q"]))
    return runs


def fill(args, targets):
    for t in targets.sockets:
        r = bench(args, targets, t, ["--fill"])
        print(f"# fill {t}: {r['blocks']} blocks in {r['seconds']} s",
              flush=True)


def run(args, targets):
    res = {}  # (section, case name, queues, target) -> [result dicts]
    runs = plan(args, targets)
    every = list(range(os.cpu_count()))
    for rnd in range(args.rounds):
        section = None
        for sec, case, queues, names in runs:
            if sec != section:  # the back ends' CPUs for this section
                section = sec
                for t in targets.pids.values():
                    set_affinity(t, be_cpus(args) if sec == "1q" else every)
            k = rnd % len(names)
            for t in names[k:] + names[:k]:  # no target always runs first
                wait_quiet(args.quiet_wait)
                r = bench(args, targets, t, case_argv(args, sec, case, queues))
                res.setdefault((sec, case[0], queues, t), []).append(r)
        print(f"# round {rnd + 1}/{args.rounds} done", flush=True)
    return res


def others(rs):
    return max(float(r["others"]) for r in rs)


def report_one_queue(args, res):
    print(f"\nOne queue: IOPS (MB/s for 128 KiB), median of {args.rounds} "
          f"runs of {args.seconds} s; front end on CPU {args.fe_cpu}, "
          f"back ends on CPU {args.be_cpu}\n(io_uring's io-wq "
          "threads, which do tmpfs I/O, inherit the back ends' CPUs)")
    print(f"{'case':20} {'uvdpa':>9} {'qsd':>9} {'uvdpa/qsd':>9}   "
          f"{'MB/s uvdpa':>10} {'qsd':>7}   be CPU uvdpa/qsd  others")
    met = total = 0
    for name, *_ in ONE_QUEUE:
        u, q = (res.get(("1q", name, 1, t)) for t in ("uvdpa-1q", "qsd-1q"))
        if not u or not q:
            continue
        iu, iq = med(u, "iops"), med(q, "iops")
        total += 1
        met += iu >= 1.5 * iq
        print(f"{name:20} {iu:9.0f} {iq:9.0f} {iu / iq:9.2f}   "
              f"{med(u, 'mbps'):10.0f} {med(q, 'mbps'):7.0f}   "
              f"{med(u, 'be_cpu'):6.2f}/{med(q, 'be_cpu'):<6.2f}    "
              f"{max(others(u), others(q)):.2f}")
    print(f"goal uvdpa >= 1.5 x qsd with one queue: met in {met} of "
          f"{total} cases")


def report_two_queues(args, res):
    if not any(k[0] == "mq" for k in res):
        return
    print(f"\nTwo-queue devices, one queue then two: IOPS, median of "
          f"{args.rounds}; back ends on every CPU, the front end one "
          f"thread on CPU {args.fe_cpu}, sleeping when idle")
    print(f"{'case':20} {'uvdpa 1q':>9} {'2q':>9} {'2q/1q':>6}   "
          f"{'qsd 1q':>9} {'2q':>9} {'2q/1q':>6}   be CPU uvdpa 1q/2q  "
          "qsd 1q/2q  others")
    for name, *_ in TWO_QUEUES:
        cells, cpus, oth = [], [], 0.0
        for t in ("uvdpa-2q", "qsd-2q"):
            r1, r2 = res[("mq", name, 1, t)], res[("mq", name, 2, t)]
            i1, i2 = med(r1, "iops"), med(r2, "iops")
            cells.append(f"{i1:9.0f} {i2:9.0f} {i2 / i1:6.2f}")
            cpus.append(f"{med(r1, 'be_cpu'):.2f}/{med(r2, 'be_cpu'):.2f}")
            oth = max(oth, others(r1), others(r2))
        print(f"{name:20} {cells[0]}   {cells[1]}   {cpus[0]:>18}  "
              f"{cpus[1]:>9}  {oth:.2f}")


def report_quiet(res):
    """The same medians from the runs the rest of the machine left alone."""
    print(f"\nMedians of the quiet runs only (others < {QUIET}) "
          "[runs counted], and their ratio:")
    for (sec, name, queues, t), rs in res.items():
        if not t.startswith("uvdpa"):
            continue
        other = t.replace("uvdpa", "qsd")
        cells = []
        for n in (t, other):
            q = [r for r in res[(sec, name, queues, n)]
                 if float(r["others"]) < QUIET]
            cells.append((med(q, "iops") if q else None, len(q)))
        ratio = (f"{cells[0][0] / cells[1][0]:.2f}"
                 if cells[0][0] and cells[1][0] else "-")
        print(f"  {sec} {name:20} q={queues} " + " ".join(
            f"{n:.0f} [{c}]" if n else f"- [{c}]" for n, c in cells) +
            f"  {ratio}")


def report_runs(res):
    print("\nAll runs (IOPS per round, others in parentheses: CPUs the "
          "rest of the machine used;\n above ~0.2 a neighbour interfered; "
          "tick-based, rough when processes sleep often):")
    for (sec, name, queues, t), rs in res.items():
        print(f"  {sec} {name:20} q={queues} {t:9} " +
              " ".join(f"{r['iops']:>7}({r['others']})" for r in rs))


def header(args, targets):
    print("# " + shlex.join([sys.executable] + sys.argv))
    print(f"# {os.uname().release}, {os.cpu_count()} CPUs, load average "
          + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    for c in targets.cmds:
        print("# " + c)
    ex = gen_argv(args, "uvdpa-1q", targets.sockets["uvdpa-1q"],
                  targets.pids["uvdpa-1q"],
                  case_argv(args, "1q", ONE_QUEUE[1], 1))
    print("# e.g. " + shlex.join(ex), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--size", type=int, default=128,
                    help="MiB per image file")
    ap.add_argument("--fe-cpu", type=int, default=0)
    ap.add_argument("--be-cpu", default="1",
                    help="the back ends' CPUs in the one-queue section, "
                         "N or N,N")
    ap.add_argument("--shm", default="/dev/shm")
    ap.add_argument("--quiet-wait", type=float, default=30,
                    help="wait up to this long for an idle machine "
                         "before each run")
    ap.add_argument("--parent", choices=["blk", "vdpasim_blk"],
                    default="blk")
    ap.add_argument("--aio", choices=["auto", "io_uring", "inline"],
                    default="auto",
                    help="the blk devices' aio (auto: inline on tmpfs)")
    ap.add_argument("--quick", action="store_true",
                    help="no queue depth 32 in the one-queue section")
    args = ap.parse_args()
    check_built(args.build,
                ("daemon/uvdpad", "cli/uvdpa", "bench/bench-vhost-blk"))
    if not shutil.which(QSD):
        sys.exit(f"{QSD} not found")
    unwind_on_sigterm()
    tmp = tempfile.mkdtemp(prefix="uvdpa-blkb-")
    targets = Targets(args, tmp)
    try:
        targets.start()
        header(args, targets)
        fill(args, targets)
        res = run(args, targets)
        print("# load average after: " +
              " ".join(f"{x:.2f}" for x in os.getloadavg()))
        report_one_queue(args, res)
        report_two_queues(args, res)
        report_quiet(res)
        report_runs(res)
    finally:
        targets.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
