#!/usr/bin/env bash
# Debian's own 6.12 kernel, for tests that introspect a kernel vmguard did not build (full distribution
# config: KASLR, PTI, modules for virtio, ...). Fetched with apt-get download and unpacked with dpkg-deb
# (nothing is installed on the host); vmlinuz (a bzImage), System.map and config are kept in
#   ${VMGUARD_CACHE_DIR:-$HOME/.cache/vmguard}/distro-kernel-<release>/   (<release>: 6.12.N+deb12-amd64)
#
#   guest/distro-kernel.sh          fetch if needed; print the dir on stdout
#   guest/distro-kernel.sh --check  exit 0 if it is cached, 1 if not
#
# The image package ships a placeholder System.map ("The real System.map is in the ... -dbg package"), so
# the real one is taken from linux-image-<release>-dbg: a 1 GB download, once, of which only System.map
# (near the start of its archive) is unpacked.
#
# The package is the one the meta-package linux-image-6.12-amd64 depends on now. When apt cannot tell
# (no package lists, offline), the newest cached copy is used. Progress goes to stderr.
set -euo pipefail

META_PKG=linux-image-6.12-amd64
CACHE_ROOT=${VMGUARD_CACHE_DIR:-$HOME/.cache/vmguard}

mode=fetch
case "${1:-}" in
"") ;;
--check) mode=check ;;
-h | --help)
	sed -n '2,11s/^# \{0,1\}//p' "$0"
	exit 0
	;;
*)
	echo "[distro-kernel] unknown argument '$1' (use --check or nothing)" >&2
	exit 2
	;;
esac

# The image package the meta-package depends on (linux-image-6.12.N+deb12-amd64), or nothing.
image_package() {
	apt-cache show --no-all-versions "$META_PKG" 2>/dev/null |
		sed -n 's/^Depends: *\(linux-image-[^ ,]*\).*/\1/p' | head -n 1
}
newest_cached() {
	local marker
	marker=$(ls -d "$CACHE_ROOT"/distro-kernel-*/.complete 2>/dev/null | sort -V | tail -n 1)
	[ -n "$marker" ] && dirname "$marker"
}

package=$(image_package)
if [ -z "$package" ] && [ "$mode" = fetch ] && [ "$(id -u)" -eq 0 ]; then
	echo "[distro-kernel] apt does not know $META_PKG; running apt-get update ..." >&2
	apt-get update -q >/dev/null 2>&1 || true
	package=$(image_package)
fi
if [ -z "$package" ]; then
	if dir=$(newest_cached); then
		[ "$mode" = check ] || echo "$dir"
		exit 0
	fi
	[ "$mode" = check ] && exit 1
	echo "[distro-kernel] cannot resolve $META_PKG (apt-get update?) and nothing is cached" >&2
	exit 1
fi
release=${package#linux-image-}
dir=$CACHE_ROOT/distro-kernel-$release
if [ -f "$dir/.complete" ]; then
	[ "$mode" = check ] || echo "$dir"
	exit 0
fi
[ "$mode" = check ] && exit 1

echo "[distro-kernel] fetching $package ..." >&2
mkdir -p "$CACHE_ROOT"
# The download goes to a world-readable temporary dir (apt fetches as its sandbox user, who may not
# reach the cache under a private home); the files are staged next to their final place and renamed
# into it, so a cache dir is either complete or absent.
work=$(mktemp -d)
out=$(mktemp -d "$CACHE_ROOT/.distro-kernel-XXXXXX")
trap 'rm -rf "$work" "$out"' EXIT
chmod 0755 "$work"
fail() {
	echo "[distro-kernel] $*" >&2
	exit 1
}
(cd "$work" && apt-get download -q -o APT::Sandbox::User=root "$package" >&2)
deb=$(ls "$work"/"$package"_*.deb)
dpkg-deb -x "$deb" "$work/root"
for f in vmlinuz config; do
	[ -f "$work/root/boot/$f-$release" ] || fail "$deb has no /boot/$f-$release"
	cp "$work/root/boot/$f-$release" "$out/$f"
done
echo "[distro-kernel] fetching $package-dbg for System.map ..." >&2
(cd "$work" && apt-get download -q -o APT::Sandbox::User=root "$package-dbg" >&2)
# tar stops after the one file; dpkg-deb then dies of SIGPIPE, which is expected.
dpkg-deb --fsys-tarfile "$work/$package-dbg"_*.deb 2>/dev/null |
	tar -xO --occurrence=1 "./usr/lib/debug/boot/System.map-$release" >"$out/System.map" || true
grep -q ' T _text$' "$out/System.map" || fail "no System.map-$release with _text in $package-dbg"
{
	echo "package=$package"
	echo "version=$(dpkg-deb -f "$deb" Version)"
	echo "release=$release"
} >"$out/kernel.info"
: >"$out/.complete"
chmod 0755 "$out"
rm -rf "$dir"
mv -T "$out" "$dir"
echo "[distro-kernel] cached in $dir" >&2
echo "$dir"
