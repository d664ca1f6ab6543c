"""uvdpad for the end-to-end tests: the daemon of UVDPA_BUILD (default
build-san) in a test's workdir, its CLI, and reading its counters.

conftest.py's `uvdpad` fixture runs one per test; a test that restarts
it (test_reconnect.py) builds on Uvdpad directly."""
import contextlib
import os
import re
import signal
import subprocess

import pytest

from peers import wait_for_path

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.path.join(ROOT, os.environ.get("UVDPA_BUILD", "build-san"))
UVDPAD = os.path.join(BUILD, "daemon", "uvdpad")
UVDPA = os.path.join(BUILD, "cli", "uvdpa")


def need_built():
    if not (os.access(UVDPAD, os.X_OK) and os.access(UVDPA, os.X_OK)):
        pytest.skip("uvdpad or uvdpa not built in " + BUILD)


class Uvdpad:
    def __init__(self, workdir):
        self.run_dir = os.path.join(workdir, "run")
        self.log = os.path.join(workdir, "uvdpad.log")
        self.env = dict(os.environ, UVDPA_RUNTIME_DIR=self.run_dir)
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen(
                [UVDPAD, "--state-dir", os.path.join(workdir, "state"),
                 "--log-level", "debug"], env=self.env,
                stdout=subprocess.DEVNULL, stderr=log)
        sock = os.path.join(self.run_dir, "uvdpad.sock")
        assert wait_for_path(sock, 20, self.proc), self.read_log()

    def cli(self, *args):
        p = subprocess.run([UVDPA] + list(args), capture_output=True,
                           text=True, env=self.env, timeout=60)
        assert p.returncode == 0, (args, p.stdout, p.stderr)
        return p.stdout

    def socket(self, name):
        return os.path.join(self.run_dir, "by-name", name)

    def read_log(self):
        with open(self.log) as f:
            return f.read()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(30)


@contextlib.contextmanager
def running(workdir):
    """A Uvdpad for the with block; it must exit 0 on SIGTERM after it."""
    need_built()
    d = Uvdpad(workdir)
    try:
        yield d
    finally:
        rc = d.stop()
    assert rc == 0, d.read_log()[-3000:]


def vstat(out, key):
    """The number after key in `uvdpa dev vstats show` output, or None."""
    m = re.search(re.escape(key) + r" (\d+)", out)
    return int(m.group(1)) if m else None
