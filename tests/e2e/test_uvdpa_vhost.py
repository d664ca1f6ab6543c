"""uvdpad's vhost_vdpa bus driver against real front ends: a Linux guest
(QEMU, TCG) on vdpasim_blk and vdpasim_net, and DPDK testpmd's virtio-user
on vdpasim_net. What the guest or testpmd saw is checked against what
uvdpa's own counters say."""
import time

from daemon import vstat
from guest import Guest, run_guest, vhost_user_blk_args, vhost_user_net_args
from peers import TestPmd, pick_cpus
from test_reference_peers import DISK_SIZE, NET_UP, WRITES

BLK_SCRIPT = r"""
wait_for /dev/vda 10
sectors=$(cat /sys/block/vda/size)
echo "vda: $sectors sectors"
[ "$sectors" -eq {sectors} ] || fail "vda has $sectors sectors, want {sectors}"
for w in {writes}; do
	off=${{w%:*}}; len=${{w#*:}}
	yes "uvdpa $off" | head -c $len >/tmp/want
	dd if=/tmp/want of=/dev/vda bs=$len seek=$((off / len)) count=1 oflag=direct 2>/dev/null ||
		fail "write of $len at $off"
done
sync
for w in {writes}; do
	off=${{w%:*}}; len=${{w#*:}}
	yes "uvdpa $off" | head -c $len >/tmp/want
	dd if=/dev/vda of=/tmp/got bs=$len skip=$((off / len)) count=1 iflag=direct 2>/dev/null ||
		fail "read of $len at $off"
	cmp -s /tmp/want /tmp/got || fail "read-back mismatch at $off"
	echo "readback ok $off $len"
done
# an untouched block reads as zeros
dd if=/dev/vda of=/tmp/got bs=4096 skip=$((2 * 256)) count=1 iflag=direct 2>/dev/null
[ "$(od -v -An -tx1 /tmp/got | tr -d ' \n' | tr -d 0)" = "" ] || fail "untouched block not zero"
echo "blk ok"
"""


def test_guest_on_vdpasim_blk(guest_image, workdir, uvdpad):
    uvdpad.cli("dev", "add", "name", "blk0", "mgmtdev", "vdpasim_blk")
    script = BLK_SCRIPT.format(sectors=DISK_SIZE // 512,
                               writes=" ".join(f"{o}:{n}" for o, n in WRITES))
    res = run_guest(guest_image, script, workdir,
                    extra_args=vhost_user_blk_args(uvdpad.socket("blk0")),
                    timeout=120, name="blk")
    print(uvdpad.read_log()[-2000:])
    res.check()
    assert "blk ok" in res.console
    for off, n in WRITES:
        assert f"readback ok {off} {n}" in res.console
    # the guest negotiated features: config show says so
    cfg = uvdpad.cli("-j", "dev", "config", "show", "blk0")
    assert "blk0" in cfg
    log = uvdpad.read_log()
    assert "front end connected" in log and "front end gone" in log


NET_MAC = "52:54:00:12:34:56"
NET_MTU = 9000

NET_SCRIPT = NET_UP + r"""
echo "mtu: $(cat /sys/class/net/$dev/mtu)"
# echo requests to a neighbour that has the guest's own MAC: the device
# loops them back, the driver counts them, the stack drops them
ip addr add 169.254.77.1/16 dev "$dev"
arp -i "$dev" -s 169.254.77.2 {mac} || fail "arp -s"
ping -c {count} -i 0.05 -W 1 169.254.77.2 >/dev/null
s=/sys/class/net/$dev/statistics
echo "net: $dev tx=$(cat $s/tx_packets) rx=$(cat $s/rx_packets)"
# stay up while the host reads uvdpa's view of the device
sleep 30
"""


def test_guest_on_vdpasim_net(guest_image, workdir, uvdpad):
    count = 20
    uvdpad.cli("dev", "add", "name", "net0", "mgmtdev", "vdpasim_net",
               "mac", NET_MAC, "mtu", str(NET_MTU))
    g = Guest(guest_image, NET_SCRIPT.format(count=count, mac=NET_MAC),
              workdir, name="net", cmdline=["ipv6.disable=1"],
              extra_args=vhost_user_net_args(uvdpad.socket("net0"),
                                             mac=NET_MAC,
                                             extra=f"host_mtu={NET_MTU}"))
    with g.start():
        m = g.wait_for(r"net: \S+ tx=(\d+) rx=(\d+)", 120)
        assert m, g.console()[-3000:]
        # while the guest runs: what uvdpa says of the device
        cfg = uvdpad.cli("dev", "config", "show", "net0")
        rxs = uvdpad.cli("dev", "vstats", "show", "net0", "qidx", "0")
        txs = uvdpad.cli("dev", "vstats", "show", "net0", "qidx", "1")
        g.kill()
    print(cfg + rxs + txs)
    tx, rx = int(m.group(1)), int(m.group(2))
    assert tx == count and rx == tx, g.console()[-3000:]
    assert f"NET_SET_MTU {NET_MTU}" in uvdpad.read_log()
    assert cfg.startswith(f"net0: mac {NET_MAC} link up link_announce false "
                          f"mtu {NET_MTU} \n  negotiated_features ")
    # QEMU serves the MAC from its own config: MAC stays with QEMU;
    # host_mtu makes it negotiate MTU (and tell it with NET_SET_MTU)
    assert cfg.endswith("negotiated_features MTU VERSION_1 "
                        "ACCESS_PLATFORM\n"), cfg
    # the device counted exactly the guest's frames, all looped back
    assert vstat(txs, "tx packets") == tx and vstat(rxs, "rx packets") == rx
    assert vstat(rxs, "rx drops") == 0 and vstat(rxs, "rx overruns") == 0


def test_testpmd_on_vdpasim_net(workdir, hugepages, uvdpad):
    # tx_first sends to 02:00:00:00:00:00; the filter drops other unicast
    uvdpad.cli("dev", "add", "name", "net0", "mgmtdev", "vdpasim_net",
               "mac", "02:00:00:00:00:00")
    cpu_a, _ = pick_cpus()
    with TestPmd.virtio_user(uvdpad.socket("net0"), workdir, cpu=cpu_a) as vu:
        vu.cmd("start tx_first 32")
        time.sleep(1)
        first = vu.port_stats()
        time.sleep(1)
        vu.cmd("stop")
        last = vu.port_stats()
        # negotiated: config show has the features, vstats counts
        cfg = uvdpad.cli("dev", "config", "show", "net0")
        rxs = uvdpad.cli("dev", "vstats", "show", "net0", "qidx", "0")
        txs = uvdpad.cli("dev", "vstats", "show", "net0", "qidx", "1")
    print(f"testpmd: {last}\n{cfg}{rxs}{txs}")
    assert last["rx_packets"] > first["rx_packets"] > 0, (first, last)
    assert "negotiated_features" in cfg and "VERSION_1" in cfg
    # every frame testpmd sent was taken, and either looped back or, when
    # testpmd had no RX buffer posted, counted as an overrun (the kernel
    # simulator's rule); none was filtered out
    assert vstat(txs, "tx packets") == last["tx_packets"], (txs, last)
    assert vstat(rxs, "rx packets") + vstat(rxs, "rx overruns") == \
        vstat(txs, "tx packets"), (rxs, txs)
    assert vstat(rxs, "rx drops") == 0 and vstat(txs, "tx errors") == 0
    # testpmd stopped polling with up to a ring of frames delivered to it
    # but not yet read: its count trails the device's by at most that
    backlog = vstat(rxs, "rx packets") - last["rx_packets"]
    assert 0 <= backlog <= 256, (rxs, last)
