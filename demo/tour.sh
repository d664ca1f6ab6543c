#!/usr/bin/env bash
# make demo: the seed's example, against a real uvdpad in a private runtime
# dir, then the data path of both simulators driven through real rings.
set -euo pipefail

build=${1:-build}
uvdpad=$build/daemon/uvdpad
uvdpa=$build/cli/uvdpa
dir=$(mktemp -d /tmp/uvdpa-demo-XXXXXX)
export UVDPA_RUNTIME_DIR=$dir/run UVDPA_STATE_DIR=$dir/state
pid=

cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT

step() {
	printf '\n$ %s\n' "$*"
	"$@"
}

echo "== uvdpad, the vdpa bus in user space, runtime dir $UVDPA_RUNTIME_DIR =="
"$uvdpad" --log-level warn &
pid=$!
for _ in $(seq 100); do
	[ -S "$UVDPA_RUNTIME_DIR/uvdpad.sock" ] && break
	sleep 0.05
done

step "$uvdpa" mgmtdev show
step "$uvdpa" dev add name vdpa-net1 mgmtdev vdpasim_net
step "$uvdpa" dev add name vdpa-blk1 mgmtdev vdpasim_blk
step "$uvdpa" dev show
step "$uvdpa" dev show -jp
step "$uvdpa" dev config show
printf '\n$ %s\n' "$uvdpa dev add name vdpa-net1 mgmtdev vdpasim_net   # again"
"$uvdpa" dev add name vdpa-net1 mgmtdev vdpasim_net || echo "(exit $?, as iproute2's vdpa)"
step "$uvdpa" dev del vdpa-net1
step "$uvdpa" dev show

echo
echo "== a Linux guest (QEMU, TCG) on vdpa-blk1, through \$RUNTIME/by-name/vdpa-blk1 =="
/usr/bin/python3 demo/guest.py "$UVDPA_RUNTIME_DIR/by-name/vdpa-blk1"

if [ "$(id -u)" -eq 0 ]; then
	echo
	echo "== the same disk moved to the host (driverctl's story): the virtio bus =="
	step "$uvdpa" dev bind vdpa-blk1 driver virtio_vdpa
	step "$uvdpa" dev show vdpa-blk1
	printf '\n$ dd if=%s bs=42 count=1 skip=7M iflag=skip_bytes\n' "$UVDPA_RUNTIME_DIR/blk/vdpa-blk1"
	dd if="$UVDPA_RUNTIME_DIR/blk/vdpa-blk1" bs=42 count=1 skip=7M iflag=skip_bytes 2>/dev/null
	echo "   <- what the guest wrote"
	step "$uvdpa" dev bind vdpa-blk1 driver vhost_vdpa
	step "$uvdpa" dev add name vdpa-net2 mgmtdev vdpasim_net mac 52:54:00:00:00:02 driver virtio_vdpa
	step ip -br link show vdpa-net2

	echo
	echo "== the blk parent: a disk image, two queues =="
	truncate -s 256M "$dir/disk0.img"
	step "$uvdpa" dev add name disk0 mgmtdev blk path "$dir/disk0.img" num_queues 2 serial demo-disk0
	step "$uvdpa" dev config show disk0
	step "$uvdpa" dev resize disk0 capacity 512M
	step "$uvdpa" dev vstats show disk0 qidx 1

	echo
	echo "== uvdpad killed with SIGKILL, started again: its devices come back =="
	printf '\n$ kill -KILL %s; uvdpad &\n' "$pid"
	kill -KILL "$pid"
	wait "$pid" 2>/dev/null || true
	"$uvdpad" --log-level warn &
	pid=$!
	for _ in $(seq 100); do
		"$uvdpa" dev show >/dev/null 2>&1 && break
		sleep 0.05
	done
	step "$uvdpa" dev show
else
	echo "(not root: the virtio bus part, which makes TAP interfaces and a FUSE mount, is left out)"
fi

printf '\n$ kill -TERM %s\n' "$pid"
kill -TERM "$pid"
wait "$pid"
echo "uvdpad exited $?; sockets left in $UVDPA_RUNTIME_DIR: $(ls "$UVDPA_RUNTIME_DIR" | grep -c sock || true)"
pid=

echo
echo "== the data path: both simulators driven through driver-side rings =="
"$build/demo/uvdpa-demo"
