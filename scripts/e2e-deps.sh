#!/usr/bin/env bash
# Install what the end-to-end tests (tests/e2e) need: QEMU, qemu-storage-daemon,
# DPDK's testpmd, busybox for the guest's initramfs, and a Debian guest kernel
# unpacked into a cache directory with its modules.dep made.
#
# Idempotent: packages already installed are left alone, and a kernel already
# unpacked is reused without asking apt anything, so a second run costs a few
# dpkg queries. Must run as root (or with sudo at hand).
#
#   UVDPA_E2E_CACHE     where the kernel goes (default /var/cache/uvdpa-e2e)
#   UVDPA_E2E_REFRESH=1 fetch the kernel linux-image-amd64 points at now, even
#                       when one is already unpacked
set -euo pipefail

cache=${UVDPA_E2E_CACHE:-/var/cache/uvdpa-e2e}

PACKAGES=(
	qemu-system-x86		# qemu-system-x86_64 (and seabios)
	qemu-system-common	# qemu-storage-daemon (Debian 12 ships it here)
	qemu-utils		# qemu-img
	busybox-static		# the guest's userland
	cpio			# initramfs archives
	gzip
	kmod			# depmod/modprobe: the guest modules' load order
	dpdk-dev		# dpdk-testpmd (virtio-user and the vhost PMD)
	fio			# load and verify on the virtio bus's files
	nbdkit			# an NBD server for the blk parent (qemu-nbd: qemu-utils)
	e2fsprogs util-linux iproute2 iputils-ping	# mkfs.ext4, losetup, ip netns, ping
	python3-pytest		# the tests themselves
)

sudo=""
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null || { echo "e2e-deps: need root (or sudo)" >&2; exit 1; }
	sudo=sudo
fi
export DEBIAN_FRONTEND=noninteractive
updated=0
apt_update() {
	if [ $updated -eq 0 ]; then
		$sudo apt-get update -qq
		updated=1
	fi
}

missing=()
for p in "${PACKAGES[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing+=("$p")
	fi
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "e2e-deps: installing ${missing[*]}"
	apt_update
	$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# ---- the guest kernel ----------------------------------------------------
# $cache/kernel is a symlink to the unpacked tree of one linux-image package
# (boot/vmlinuz-VER, lib/modules/VER with modules.dep); $cache/kernel/.ready
# names the package and is written last, so a half-done unpack is redone.
if [ -e "$cache/kernel/.ready" ] && [ "${UVDPA_E2E_REFRESH:-0}" != 1 ]; then
	exit 0
fi

# The package linux-image-amd64 depends on, e.g. linux-image-6.1.0-56-amd64.
kpkg_of_meta() {
	apt-cache depends linux-image-amd64 2>/dev/null |
		awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }'
}
kpkg=$(kpkg_of_meta)
if [ -z "$kpkg" ]; then
	apt_update
	kpkg=$(kpkg_of_meta)
fi
[ -n "$kpkg" ] || { echo "e2e-deps: cannot tell which kernel linux-image-amd64 depends on" >&2; exit 1; }
kver_pkg=$(apt-cache policy "$kpkg" | awk '/Candidate:/ { print $2; exit }')

$sudo mkdir -p "$cache/debs"
deb=$(ls "$cache/debs/${kpkg}_"*.deb 2>/dev/null | head -n 1 || true)
if [ -z "$deb" ]; then
	echo "e2e-deps: downloading $kpkg $kver_pkg"
	tmp=$($sudo mktemp -d "$cache/debs/.dl.XXXXXX")
	# apt's sandbox user cannot write into a root-only directory: download as root
	(cd "$tmp" && $sudo apt-get download -qq -o APT::Sandbox::User=root "$kpkg") || {
		apt_update
		(cd "$tmp" && $sudo apt-get download -qq -o APT::Sandbox::User=root "$kpkg")
	}
	$sudo mv "$tmp"/*.deb "$cache/debs/"
	$sudo rmdir "$tmp"
	deb=$(ls "$cache/debs/${kpkg}_"*.deb | head -n 1)
fi

name=$(basename "$deb" .deb)
tree=$cache/$name
echo "e2e-deps: unpacking $(basename "$deb")"
$sudo rm -rf "$tree" "$tree.tmp"
$sudo mkdir -p "$tree.tmp"
$sudo dpkg-deb -x "$deb" "$tree.tmp"
kver=$(ls "$tree.tmp/lib/modules" | head -n 1)
[ -n "$kver" ] && [ -e "$tree.tmp/boot/vmlinuz-$kver" ] ||
	{ echo "e2e-deps: $deb has no kernel and modules" >&2; exit 1; }
# the package's postinst makes modules.dep; we never run it, so do it here
$sudo depmod -b "$tree.tmp" "$kver"
$sudo mv "$tree.tmp" "$tree"
$sudo ln -sfn "$name" "$cache/kernel"
echo "$name $kver" | $sudo tee "$tree/.ready" >/dev/null
# keep only the kernel just unpacked (each tree is ~400 MiB)
for old in "$cache"/linux-image-*; do
	[ -d "$old" ] && [ "$old" != "$tree" ] && $sudo rm -rf "$old"
done
echo "e2e-deps: guest kernel $kver in $cache/kernel"
