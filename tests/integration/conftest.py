"""Fixtures that run the real uvdpad (and the real uvdpa CLI) in a private
runtime dir. UVDPA_BUILD names the build directory (default build-san)."""
import os
import pwd
import signal
import subprocess
import sys
import tempfile
import time

import pytest

sys.path.insert(0, os.path.dirname(__file__))
import nlclient  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.path.join(ROOT, os.environ.get("UVDPA_BUILD", "build-san"))
UVDPAD = os.path.join(BUILD, "daemon", "uvdpad")
UVDPA = os.path.join(BUILD, "cli", "uvdpa")


class Daemon:
    def __init__(self, base, extra_args=()):
        self.base = base
        self.run_dir = os.path.join(base, "run")
        self.state_dir = os.path.join(base, "state")
        self.sock = os.path.join(self.run_dir, "uvdpad.sock")
        self.log = os.path.join(base, "uvdpad.log")
        self.args = list(extra_args)
        self.proc = None

    def start(self, wait=True):
        env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1")
        self.proc = subprocess.Popen(
            [UVDPAD, "--runtime-dir", self.run_dir, "--state-dir",
             self.state_dir, "--log-level", "debug"] + self.args,
            stdout=subprocess.DEVNULL, stderr=open(self.log, "a"), env=env)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=20):
        end = time.time() + timeout
        while time.time() < end:
            if self.proc.poll() is not None:
                raise RuntimeError("uvdpad exited %d:\n%s" %
                                   (self.proc.returncode, self.read_log()))
            try:
                c = nlclient.Client(self.sock, timeout=5)
                c.resolve()
                c.close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("uvdpad did not come up:\n" + self.read_log())

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise

    def read_log(self):
        try:
            with open(self.log) as f:
                return f.read()
        except OSError:
            return ""

    def client(self):
        c = nlclient.Client(self.sock)
        c.resolve()
        return c

    def cli(self, *args, check=None, user=None, input=None):
        """Run the uvdpa CLI against this daemon; returns CompletedProcess."""
        env = dict(os.environ, UVDPA_RUNTIME_DIR=self.run_dir)
        cmd = [UVDPA] + list(args)
        if user:
            pw = pwd.getpwnam(user)
            cmd = ["setpriv", "--reuid=%d" % pw.pw_uid,
                   "--regid=%d" % pw.pw_gid, "--clear-groups"] + cmd
        p = subprocess.run(cmd, capture_output=True, text=True, env=env,
                           input=input, timeout=60)
        if check is not None:
            assert p.returncode == check, (p.returncode, p.stdout, p.stderr)
        return p


@pytest.fixture
def tmpbase():
    with tempfile.TemporaryDirectory(prefix="uvdpa-test-") as d:
        os.chmod(d, 0o755)
        yield d


@pytest.fixture
def daemon(tmpbase):
    d = Daemon(tmpbase).start()
    yield d
    rc = d.stop()
    assert rc == 0, "uvdpad exited %d:\n%s" % (rc, d.read_log())
    assert not os.path.exists(d.sock), "SIGTERM left the socket behind"


@pytest.fixture
def client(daemon):
    c = daemon.client()
    yield c
    c.close()


def need_cli():
    if not os.access(UVDPA, os.X_OK):
        pytest.skip("the uvdpa CLI is not built")


@pytest.fixture(name="d")
def cli_daemon(daemon):
    """The daemon, for tests that drive it with the uvdpa CLI (skipped
    when the CLI is not built)."""
    need_cli()
    return daemon


def endpoint(d, index):
    """The vhost-user socket vhost_vdpa makes for device index."""
    return os.path.join(d.run_dir, "vhost-vdpa-%d" % index)
