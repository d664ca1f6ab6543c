#!/usr/bin/env bash
# Install the Debian packages uvdpa's build and tests need: only those
# missing, so running it again costs a dpkg query and nothing else.
set -euo pipefail

PACKAGES=(
	gcc make pkg-config meson ninja-build	# build
	libmnl-dev				# netlink messages (daemon, CLI)
	liburing-dev				# blk parent and TAP data paths
	libfuse3-dev fuse3			# virtio_vdpa: blk devices as files
	libnbd-dev				# blk parent on NBD servers
	libcmocka-dev				# unit tests
	python3-pytest				# daemon and CLI tests
	clang-format				# make format-check
	clang libclang-rt-14-dev		# ThreadSanitizer leg of make check
)

missing=()
for p in "${PACKAGES[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing+=("$p")
	fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null || { echo "deps: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
	sudo=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
