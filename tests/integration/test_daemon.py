"""uvdpad's life: start, one instance per runtime dir, stale sockets,
clean stop, paths that do not fit a socket address, options."""
import os
import signal
import socket
import subprocess

from conftest import UVDPAD, Daemon


def test_help_and_version():
    p = subprocess.run([UVDPAD, "--help"], capture_output=True, text=True)
    assert p.returncode == 0 and "--runtime-dir" in p.stdout
    p = subprocess.run([UVDPAD, "--version"], capture_output=True, text=True)
    assert p.returncode == 0 and p.stdout.startswith("uvdpad ")


def test_bad_options(tmpbase):
    for args in (["--log-level", "loud"], ["--default-driver", "vhost-vdpa"],
                 ["--bogus"], ["extra"]):
        p = subprocess.run([UVDPAD, "--runtime-dir", tmpbase] + args,
                           capture_output=True, text=True)
        assert p.returncode != 0, args
        assert p.stderr, args


def test_sigterm_removes_socket(tmpbase):
    d = Daemon(tmpbase).start()
    assert os.path.exists(d.sock)
    assert oct(os.stat(d.sock).st_mode & 0o777) == "0o660"
    assert d.stop(signal.SIGTERM) == 0
    assert not os.path.exists(d.sock)
    assert "stopped" in d.read_log()


def test_sigint_stops_cleanly(tmpbase):
    d = Daemon(tmpbase).start()
    assert d.stop(signal.SIGINT) == 0
    assert not os.path.exists(d.sock)


def test_second_instance_refused(tmpbase):
    d = Daemon(tmpbase).start()
    try:
        p = subprocess.run([UVDPAD, "--runtime-dir", d.run_dir,
                            "--state-dir", d.state_dir],
                           capture_output=True, text=True, timeout=30)
        assert p.returncode == 1
        assert "another uvdpad pid %d already serves" % d.proc.pid in p.stderr
        # the first one is untouched
        c = d.client()
        c.close()
    finally:
        assert d.stop() == 0


def test_sigkill_leftovers_do_not_stop_next_start(tmpbase):
    d = Daemon(tmpbase).start()
    d.proc.kill()
    d.proc.wait()
    assert os.path.exists(d.sock)  # a stale socket nobody listens on
    d2 = Daemon(tmpbase).start()
    c = d2.client()
    got, end = c.vdpa("MGMTDEV_GET", dump=True)
    assert end.error == 0 and len(got) == 3
    c.close()
    assert d2.stop() == 0


def test_stale_non_socket_file_replaced(tmpbase):
    os.makedirs(os.path.join(tmpbase, "run"))
    with open(os.path.join(tmpbase, "run", "uvdpad.sock"), "w") as f:
        f.write("junk")
    d = Daemon(tmpbase).start()
    assert d.stop() == 0


def test_runtime_dir_too_long(tmpbase):
    deep = os.path.join(tmpbase, "d" * 90)
    p = subprocess.run([UVDPAD, "--runtime-dir", deep, "--state-dir",
                        os.path.join(tmpbase, "state")],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 1
    assert "too long" in p.stderr and "UNIX socket address" in p.stderr
    assert not os.path.exists(deep)


def test_open_file_limit_raised(daemon):
    with open("/proc/%d/limits" % daemon.proc.pid) as f:
        line = [ln for ln in f if ln.startswith("Max open files")][0]
    soft, hard = line.split()[3:5]
    assert soft == hard


def test_env_runtime_dir(tmpbase):
    run = os.path.join(tmpbase, "envrun")
    env = dict(os.environ, UVDPA_RUNTIME_DIR=run,
               UVDPA_STATE_DIR=os.path.join(tmpbase, "st"))
    p = subprocess.Popen([UVDPAD], env=env, stderr=subprocess.PIPE)
    d = Daemon(tmpbase)
    d.proc, d.sock = p, os.path.join(run, "uvdpad.sock")
    d.wait_ready()
    assert os.path.isdir(os.path.join(tmpbase, "st"))
    assert d.stop() == 0


def test_client_vanishing_mid_request(daemon):
    """A client that sends and closes before reading does not hurt."""
    for _ in range(50):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        s.connect(daemon.sock)
        s.send(b"\x14\x00\x00\x00\x10\x00\x05\x00" + b"\0" * 8 +
               b"\x03\x01\x00\x00")
        s.close()
    c = daemon.client()
    c.close()
