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

printf '\n$ kill -TERM %s\n' "$pid"
kill -TERM "$pid"
wait "$pid"
echo "uvdpad exited $?; sockets left in $UVDPA_RUNTIME_DIR: $(ls "$UVDPA_RUNTIME_DIR" | grep -c sock || true)"
pid=

echo
echo "== the data path: both simulators driven through driver-side rings =="
"$build/demo/uvdpa-demo"
