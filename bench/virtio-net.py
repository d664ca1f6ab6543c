#!/usr/bin/python3
"""bench-virtio-net: frames/s through a vdpasim_net device bound to
virtio-net → TAP (the device loops the frames the host sends out of the
TAP back into it), beside a plain TAP-to-TAP forwarder.

  bench/virtio-net.py [BUILD_DIR] [--seconds S] [--runs N]
                      [--sizes 64,1500] [--pin] [--poll-us U]

  (a) uvdpa: `bench-virtio-net dev` (a vdpasim_net device with MAC
      02:00:00:00:00:01 and vv_net on it, in one process: what uvdpad does
      with the device bound to virtio_vdpa); frames to the device's MAC go
      out of its TAP, through the device's TX queue, the simulator's
      loopback and its RX queue, and into the host stack through the same
      TAP. One thread moves the frames between TAP and queues; the
      simulator's worker is the device.
  (b) forwarder: `bench-tap-forward` reads the frames from TAP A and
      writes them into TAP B, with the same kernel interfaces as (a)'s
      thread (vnet header, one multishot io_uring read, batched writes):
      the ceiling of (a), whose thread does the same reads and writes plus
      the virtqueue work, with a device on top.

The same generator drives both: `bench-virtio-net gen`, a PACKET_MMAP TX
ring with the qdisc bypassed, sending frames of LEN bytes (ethertype
0x88b5: the host stack takes them in and has no handler for them) for S
seconds (default 5) as fast as it can. Frames/s is the receiving TAP's
rx_packets over the interval (after a 1 s warm-up); what the TAP's queue
cannot take is dropped there (tx_dropped), as for any NIC. The data path's
CPU time over the interval gives CPU µs per frame (for (a) the device's
worker included: its busy-poll window counts).

(b) does less than (a) must: no virtqueue on either side, no device (the
simulator's worker copies each frame from its TX buffer into an RX buffer
and completes both queues), no hand-off between two threads; its writes go
to another TAP, (a)'s to the one it reads, whose every freed frame wakes
the read's poll entry. It is a ceiling, not a like-for-like peer. With
--pin, (a)'s two threads share CPU 1 as (b)'s one thread has it; other
processes on that CPU take less from two threads than from one, so on a
loaded machine frames/s flatters (a): frames per CPU second does not.

(a) and (b) alternate, N times each (default 3); medians and the ratios
(a)/(b) are printed. --pin puts the generator on CPU 0 and the data path
(forwarder; vv_net's thread and the simulator's worker) on CPU 1; by
default the scheduler places them. --poll-us sets the simulator's busy-poll
window (default 50). Needs root. Figures are printed; nothing is asserted.
"""

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time

from benchlib import ROOT, cpu_s

DEV_MAC = "02:00:00:00:00:01"
WARMUP = 1.0


def sh(*args):
    subprocess.run(list(args), check=True, capture_output=True, timeout=30)


def stat(ifname, what):
    with open(f"/sys/class/net/{ifname}/statistics/{what}") as f:
        return int(f.read())


def bring_up(ifname):
    # no IPv6: no router solicitations or MLD reports among the frames
    sh("sysctl", "-qw", f"net.ipv6.conf.{ifname}.disable_ipv6=1")
    sh("ip", "link", "set", ifname, "up")
    end = time.time() + 5
    while time.time() < end:  # linkwatch attaches the real qdisc
        out = subprocess.run(["ip", "-o", "link", "show", ifname],
                             capture_output=True, text=True).stdout
        if "LOWER_UP" in out and "qdisc noop" not in out:
            return
        time.sleep(0.05)
    raise RuntimeError(f"{ifname} does not come up")


class DataPath:
    """A program that prints "ready" and runs until SIGTERM."""

    def __init__(self, argv):
        self.p = subprocess.Popen(argv, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        line = self.p.stdout.readline()
        if line.strip() != "ready":
            self.p.kill()
            raise RuntimeError(f"{argv[0]}: {line} {self.p.stderr.read()}")

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        out, err = self.p.communicate(timeout=30)
        return out.strip()


def measure(args, dp, tx_if, rx_if, dst, size):
    """Run the generator into tx_if; frames/s and CPU µs/frame on rx_if."""
    gen = [os.path.join(args.build, "bench", "bench-virtio-net"), "gen",
           tx_if, dst, str(size), str(WARMUP + args.seconds + 0.5)]
    if args.pin:
        gen += ["--cpu", "0"]
    g = subprocess.Popen(gen, stdout=subprocess.PIPE, text=True)
    time.sleep(WARMUP)
    rx0, c0, t0 = stat(rx_if, "rx_packets"), cpu_s(dp.p.pid), time.time()
    drop0 = stat(tx_if, "tx_dropped")
    time.sleep(args.seconds)
    rx1, c1, t1 = stat(rx_if, "rx_packets"), cpu_s(dp.p.pid), time.time()
    drop1 = stat(tx_if, "tx_dropped")
    g.communicate(timeout=30)
    frames = rx1 - rx0
    return {"fps": frames / (t1 - t0),
            "cpu_us": (c1 - c0) * 1e6 / frames if frames else float("inf"),
            "cpu": (c1 - c0) / (t1 - t0),
            "tap_drop": (drop1 - drop0) / (t1 - t0)}


def run_uvdpa(args, size):
    argv = [os.path.join(args.build, "bench", "bench-virtio-net"), "dev",
            "vvbench0", DEV_MAC]
    if args.pin:
        argv += ["--cpu", "1"]
    if args.poll_us is not None:
        argv += ["--poll-us", str(args.poll_us)]
    dp = DataPath(argv)
    try:
        bring_up("vvbench0")
        r = measure(args, dp, "vvbench0", "vvbench0", DEV_MAC, size)
    finally:
        r_out = dp.stop()
    r["device"] = r_out
    return r


def run_forwarder(args, size):
    argv = [os.path.join(args.build, "bench", "bench-tap-forward"),
            "vvfwd-a", "vvfwd-b"]
    if args.pin:
        argv += ["--cpu", "1"]
    dp = DataPath(argv)
    try:
        bring_up("vvfwd-a")
        bring_up("vvfwd-b")
        with open("/sys/class/net/vvfwd-b/address") as f:
            dst = f.read().strip()
        r = measure(args, dp, "vvfwd-a", "vvfwd-b", dst, size)
    finally:
        dp.stop()
    return r


def fmt(r):
    return (f"{r['fps'] / 1e3:8.1f} kframes/s  {r['cpu_us']:6.2f} CPU µs/frame"
            f"  (CPU {r['cpu'] * 100:4.0f}%, TAP queue drops "
            f"{r['tap_drop'] / 1e3:.1f} k/s)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("build", nargs="?", default=os.path.join(ROOT, "build"))
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--sizes", default="64,1500")
    ap.add_argument("--pin", action="store_true")
    ap.add_argument("--poll-us", type=int)
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench-virtio-net: TAP interfaces need root")
    with open("/proc/loadavg") as f:
        print(f"load average at start: {f.read().split()[0]}, "
              f"{os.cpu_count()} CPUs; "
              f"{'pinned' if args.pin else 'not pinned'}")
    for size in (int(s) for s in args.sizes.split(",")):
        res = {"uvdpa": [], "forwarder": []}
        for i in range(args.runs):
            for name, fn in (("forwarder", run_forwarder),
                             ("uvdpa", run_uvdpa)):
                r = fn(args, size)
                res[name].append(r)
                print(f"{size:5d} B run {i + 1} {name:9s} {fmt(r)}")
        med = {k: {m: statistics.median(x[m] for x in v)
                   for m in ("fps", "cpu_us", "cpu", "tap_drop")}
               for k, v in res.items()}
        for k in ("forwarder", "uvdpa"):
            print(f"{size:5d} B median  {k:9s} {fmt(med[k])}")
        print(f"{size:5d} B uvdpa/forwarder: frames/s "
              f"{med['uvdpa']['fps'] / med['forwarder']['fps']:.2f}x, "
              f"frames per CPU second "
              f"{med['forwarder']['cpu_us'] / med['uvdpa']['cpu_us']:.2f}x")
        print(f"      device counters of the last run:"
              f"{res['uvdpa'][-1]['device']}")
    with open("/proc/loadavg") as f:
        print(f"load average at the end: {f.read().split()[0]}")


if __name__ == "__main__":
    main()
