#!/bin/bash
# Install everything vbridge needs on a fresh Debian 12 machine: the
# bookworm-backports and trixie deb-src sources, build tools, the
# libraries the backend links and QEMU's build dependencies.
# Idempotent: a second run only checks that the packages are present.
set -euo pipefail

[ "$(id -u)" = 0 ] || { echo "setup-host: must run as root" >&2; exit 1; }

SRC=/etc/apt/sources.list.d/vbridge.sources
if [ ! -f "$SRC" ]; then
	mirror=$(awk '/^URIs:/ && $2 ~ /debian\/?$/ { print $2; exit }' \
		/etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
	: "${mirror:=http://deb.debian.org/debian}"
	cat >"$SRC" <<EOS
Types: deb deb-src
URIs: $mirror
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: $mirror
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOS
	rm -f /var/lib/apt/vbridge-updated
fi

if [ ! -f /var/lib/apt/vbridge-updated ]; then
	apt-get update -q
	touch /var/lib/apt/vbridge-updated
fi

PKGS=(
	build-essential bc bison flex kmod cpio xz-utils zstd dpkg-dev
	pkg-config git sparse busybox-static dwarves
	libpng-dev libvncserver-dev
	ninja-build python3-venv libglib2.0-dev libpixman-1-dev libslirp-dev
	libfdt-dev libattr1-dev libcap-ng-dev libseccomp-dev libssl-dev
	clang libclang-rt-14-dev
	seabios qemu-system-data ipxe-qemu libdrm-tests
	stress-ng fio libfuse3-dev fuse3 gnuplot-nox
	libelf-dev debootstrap device-tree-compiler
)
missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing+=("$p")
done
dpkg-query -W -f='${Version}' meson 2>/dev/null | grep -q '^1\.[5-9]' ||
	missing+=(meson/bookworm-backports)
if [ ${#missing[@]} -gt 0 ]; then
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
		"${missing[@]}"
fi
