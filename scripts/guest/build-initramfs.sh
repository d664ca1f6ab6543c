#!/usr/bin/env bash
# Build the e2e guest's initramfs: static busybox, the virtio modules of the
# cached Debian kernel (scripts/e2e-deps.sh puts it there) and an /init that
# loads them, mounts proc/sys/dev and runs /test.sh.
#
#   scripts/guest/build-initramfs.sh OUTDIR [KERNEL_ROOT]
#
# Writes OUTDIR/initramfs.cpio.gz, OUTDIR/vmlinuz (a symlink into
# KERNEL_ROOT) and OUTDIR/kernel-version. KERNEL_ROOT defaults to
# ${UVDPA_E2E_CACHE:-/var/cache/uvdpa-e2e}/kernel.
#
# The archive has no /test.sh: the harness (tests/e2e/guest.py) appends a
# second small cpio.gz holding one for each boot (Linux unpacks concatenated
# archives in order). /init then prints
#     @@ UVDPA-E2E EXIT <status> @@
# on the console (ttyS0) and powers the guest off. With no /test.sh it runs
# an interactive shell on the console instead, for debugging by hand.
#
#   UVDPA_GUEST_MODULES  modules to load, dependencies are added in load order
#                        (default: virtio_pci virtio_blk virtio_net)
set -euo pipefail

[ $# -ge 1 ] || { echo "usage: $0 OUTDIR [KERNEL_ROOT]" >&2; exit 2; }
out=$1
root=${2:-${UVDPA_E2E_CACHE:-/var/cache/uvdpa-e2e}/kernel}
wanted=${UVDPA_GUEST_MODULES:-virtio_pci virtio_blk virtio_net}

[ -d "$root/lib/modules" ] || { echo "build-initramfs: no kernel in $root: run scripts/e2e-deps.sh" >&2; exit 1; }
root=$(cd "$root" && pwd -P)
kver=$(ls "$root/lib/modules" | head -n 1)
[ -e "$root/boot/vmlinuz-$kver" ] || { echo "build-initramfs: no vmlinuz-$kver in $root/boot" >&2; exit 1; }
busybox=${UVDPA_BUSYBOX:-/bin/busybox}	# busybox-static's, which needs no libc
[ -x "$busybox" ] || { echo "build-initramfs: $busybox is missing (busybox-static)" >&2; exit 1; }
command -v cpio >/dev/null || { echo "build-initramfs: cpio is missing" >&2; exit 1; }
modprobe=$(command -v modprobe || echo /usr/sbin/modprobe)
[ -x "$modprobe" ] || modprobe=/sbin/modprobe

mkdir -p "$out"
stage=$(mktemp -d "${TMPDIR:-/tmp}/uvdpa-initramfs.XXXXXX")
trap 'rm -rf "$stage"' EXIT

mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,run,mnt,root,etc/e2e,lib/modules/"$kver"}
cp "$busybox" "$stage/bin/busybox"
for applet in $("$busybox" --list); do
	[ "$applet" = busybox ] || ln -s busybox "$stage/bin/$applet"
done
# the kernel opens /dev/console for init before /init can mount devtmpfs
if [ "$(id -u)" -eq 0 ]; then
	mknod -m 600 "$stage/dev/console" c 5 1
fi

# Load order from modprobe's own dependency resolution (modules.dep made by
# depmod in e2e-deps.sh), each module once, in first-seen order.
: >"$stage/etc/e2e/modules"
for m in $wanted; do
	"$modprobe" -d "$root" -S "$kver" --show-depends "$m" ||
		{ echo "build-initramfs: modprobe cannot resolve $m" >&2; exit 1; }
done | awk '$1 == "insmod" && !seen[$2]++ { print $2 }' | while read -r ko; do
	rel=${ko#"$root"/lib/modules/"$kver"/}
	mkdir -p "$stage/lib/modules/$kver/$(dirname "$rel")"
	cp "$ko" "$stage/lib/modules/$kver/$rel"
	echo "/lib/modules/$kver/$rel" >>"$stage/etc/e2e/modules"
done
[ -s "$stage/etc/e2e/modules" ] || { echo "build-initramfs: no modules to load" >&2; exit 1; }

cat >"$stage/init" <<'INIT'
#!/bin/sh
# uvdpa e2e guest init: load the virtio modules, run /test.sh, power off.
PATH=/bin:/sbin:/usr/bin:/usr/sbin
export PATH HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
exec </dev/console >/dev/console 2>&1
read -r up _ </proc/uptime
echo "uvdpa-e2e: init at ${up}s"
for ko in $(cat /etc/e2e/modules); do
	insmod "$ko" || echo "uvdpa-e2e: insmod $ko failed"
done
if [ -f /test.sh ]; then
	read -r up _ </proc/uptime
	echo "uvdpa-e2e: running /test.sh at ${up}s"
	sh /test.sh
	rc=$?
	sync
	echo "@@ UVDPA-E2E EXIT $rc @@"
else
	echo "uvdpa-e2e: no /test.sh, starting a shell (exit powers off)"
	setsid cttyhack sh
fi
poweroff -f
INIT
chmod 755 "$stage/init"

# Helpers test scripts may source: . /lib/e2e.sh
cat >"$stage/lib/e2e.sh" <<'LIB'
# sh helpers for e2e guest test scripts (busybox sh)
fail() { echo "FAIL: $*"; exit 1; }
# wait_for PATH [SECONDS]: wait until PATH exists (device nodes appear late)
wait_for() {
	_n=$(( ${2:-10} * 10 ))
	while [ ! -e "$1" ]; do
		_n=$((_n - 1))
		[ $_n -gt 0 ] || fail "$1 did not appear"
		sleep 0.1
	done
}
# first_netdev: name of the first non-loopback network interface
first_netdev() {
	for _d in /sys/class/net/*; do
		[ "${_d##*/}" = lo ] || { echo "${_d##*/}"; return 0; }
	done
	return 1
}
LIB

echo "$kver" >"$out/kernel-version"
ln -sfn "$root/boot/vmlinuz-$kver" "$out/vmlinuz"

# An uncompressed vmlinux with a PVH entry note boots directly from QEMU's
# -kernel, skipping the in-guest xz decompression that takes ~8 s under TCG
# (boot to /init: ~3 s instead of ~11 s). The harness uses it when present.
rm -f "$out/vmlinux"
if grep -q '^CONFIG_PVH=y' "$root/boot/config-$kver" 2>/dev/null && [ -x /usr/bin/python3 ]; then
	/usr/bin/python3 - "$root/boot/vmlinuz-$kver" "$out/vmlinux.tmp" <<'PY' &&
import bz2, gzip, lzma, sys, zlib
# Find the compressed payload inside the bzImage by its magic and inflate it.
image = open(sys.argv[1], "rb").read()
def xz(b): return lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(b)
def lzma_alone(b): return lzma.LZMADecompressor(format=lzma.FORMAT_ALONE).decompress(b)
def gz(b): return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(b)
def bz(b): return bz2.BZ2Decompressor().decompress(b)
for magic, inflate in ((b"\xfd7zXZ\x00", xz), (b"\x1f\x8b\x08", gz),
                       (b"BZh", bz), (b"\x5d\x00\x00", lzma_alone)):
    at = image.find(magic)
    while at >= 0:
        try:
            elf = inflate(image[at:])
        except Exception:
            elf = b""
        if elf[:4] == b"\x7fELF":
            open(sys.argv[2], "wb").write(elf)
            sys.exit(0)
        at = image.find(magic, at + 1)
sys.exit("no ELF payload found")
PY
		mv "$out/vmlinux.tmp" "$out/vmlinux" ||
		{ rm -f "$out/vmlinux.tmp"; echo "build-initramfs: no vmlinux (booting the bzImage, slower)" >&2; }
fi
(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort |
	cpio -o -H newc -R 0:0 --quiet | gzip -6 -n) >"$out/initramfs.cpio.gz.tmp"
mv "$out/initramfs.cpio.gz.tmp" "$out/initramfs.cpio.gz"
echo "build-initramfs: $out/initramfs.cpio.gz ($(du -k "$out/initramfs.cpio.gz" | cut -f1) KiB, kernel $kver," \
	"modules: $(sed 's|.*/||; s|\.ko.*||' "$stage/etc/e2e/modules" | tr '\n' ' ' | sed 's/ $//'))"
