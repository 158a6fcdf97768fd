#!/bin/bash
# virtiofsd for the virtiofs baseline: the C daemon shipped in bookworm's
# qemu-system-common 7.2 package, unpacked into the cache (not installed).
# Prints its path.
set -euo pipefail

CACHE=${VBRIDGE_CACHE:-/var/cache/vbridge}
ver=$(apt-cache show qemu-system-common | sed -n 's/^Version: \(1:7\.2.*\)/\1/p' |
	sort -V | tail -n 1)
[ -n "$ver" ] || { echo "fetch-virtiofsd: no qemu-system-common 7.2 in apt" >&2; exit 1; }
dir=$CACHE/virtiofsd/${ver#1:}
if [ ! -x "$dir/usr/lib/qemu/virtiofsd" ]; then
	rm -rf "$dir"
	mkdir -p "$dir/dl"
	(cd "$dir/dl" && apt-get download -q "qemu-system-common=$ver" >&2)
	dpkg-deb -x "$dir"/dl/*.deb "$dir"
	rm -rf "$dir/dl"
fi
echo "$dir/usr/lib/qemu/virtiofsd"
