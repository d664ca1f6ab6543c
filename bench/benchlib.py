"""What the bench scripts share: starting, waiting for and stopping their
processes by pid, CPU time from /proc, and waiting for a quiet machine.

Imported by bench/blk.py, bench/vhost-blk.py and bench/virtio-blk.py (run
from anywhere: Python puts the script's own directory on sys.path).
"""

import os
import signal
import statistics
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
QUIET = 0.3  # CPUs the rest of the machine may use in a "quiet" run
BUSY = 0.25  # above this, wait_quiet() keeps waiting
CLK_TCK = os.sysconf("SC_CLK_TCK")


def check_built(build, exes):
    """Exit with a message unless every path in exes (relative to build) is
    an executable."""
    for exe in exes:
        if not os.access(os.path.join(build, exe), os.X_OK):
            sys.exit(f"{exe} is not built in {build}")


def spawn(argv, log, cpus=None, env=None):
    """Start argv in its own session (a ^C to the script does not reach
    it: stop() does, by pid), on cpus (taskset -c) when given; its output
    goes to log (a file object or a subprocess constant)."""
    if cpus is not None:
        argv = ["taskset", "-c", str(cpus)] + argv
    return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                            stderr=subprocess.STDOUT, env=env,
                            start_new_session=True)


def wait_for(path, proc, timeout=10.0):
    """Wait for proc to create path; RuntimeError if it exits first or
    takes longer than timeout seconds."""
    end = time.monotonic() + timeout
    while not os.path.exists(path):
        if proc.poll() is not None or time.monotonic() > end:
            raise RuntimeError(f"{proc.args[0]} did not create {path}")
        time.sleep(0.02)


def stop(proc, timeout=10):
    """SIGTERM proc (by its pid), SIGKILL after timeout seconds."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def cpu_s(pid):
    """utime + stime of every thread of pid, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def machine_busy_s():
    """Seconds every CPU of the machine spent busy so far (/proc/stat: all
    but idle and iowait)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    return (sum(v) - v[3] - v[4]) / CLK_TCK


def busy_cpus(secs=0.5):
    """CPUs' worth of work the whole machine did over secs."""
    b0 = machine_busy_s()
    time.sleep(secs)
    return (machine_busy_s() - b0) / secs


def wait_quiet(quiet_wait):
    """Noisy neighbours: wait (up to quiet_wait s) for an idle machine."""
    end = time.monotonic() + quiet_wait
    while busy_cpus() > BUSY and time.monotonic() < end:
        pass


def med(rs, key):
    """The median of key over result dicts (values as numbers or text)."""
    return statistics.median(float(r[key]) for r in rs)


def unwind_on_sigterm():
    """SIGTERM unwinds like ^C: the script's finally stops, by pid, what it
    started (its processes run in sessions of their own and get no signal
    of the script's)."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
