#!/usr/bin/env bash
# vmguard guest image recipe driver. See guest/README.md.
#
#   guest/build.sh              build if needed; print the output dir on stdout
#   guest/build.sh --print-dir  print the output dir, do not build
#   guest/build.sh --check      exit 0 if the output dir is complete, 1 if not
#
# Exit status: 0 ok, 1 build failed (or --check: not cached), 2 missing
# packages / bad usage. Progress goes to stderr; only the dir goes to stdout.
set -euo pipefail

GUEST_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
KERNEL_TARBALL=/usr/src/linux-source-6.12.tar.xz
KERNEL_PKG=linux-source-6.12
BUSYBOX_PKG=busybox-static
# The kernel is cached separately from the initramfs (see "Caches" below), and
# its cache key covers guest/kernel/*, the package versions and BTF on/off, but
# not this script. BUMP THIS whenever build_kernel() (or anything else here)
# changes what goes into the kernel outputs; otherwise the old kernel is reused.
KERNEL_RECIPE_VERSION=3

mode=build
case "${1:-}" in
"") ;;
--print-dir) mode=print ;;
--check) mode=check ;;
-h | --help)
	sed -n '2,9s/^# \{0,1\}//p' "$0"
	exit 0
	;;
*)
	echo "[guest] unknown argument '$1' (use --print-dir, --check or nothing)" >&2
	exit 2
	;;
esac
[ $# -le 1 ] || { echo "[guest] too many arguments" >&2; exit 2; }

# BTF goes in when pahole is available (VMGUARD_GUEST_BTF=0 turns it off).
btf=no
if [ "${VMGUARD_GUEST_BTF:-1}" != 0 ] && command -v pahole >/dev/null 2>&1; then
	btf=yes
fi
# Static programs: musl-gcc (musl-tools) if present, else gcc -static (glibc).
if command -v musl-gcc >/dev/null 2>&1; then CC_STATIC=musl-gcc; else CC_STATIC=gcc; fi

# ------------------------------------------------------------------- caches
# Two build levels, each cached on its own, plus the image dir that joins them:
#
#   <cache>/guest/kernel-<khash>/    vmlinux bzImage System.map config kernel.info
#                                    modules.cpio.gz (kernel/modules/*, built
#                                    against this kernel, under /vmguard/modules)
#     khash: KERNEL_RECIPE_VERSION, every file under guest/kernel/, the versions
#     of linux-source-6.12 (and dwarves when BTF is on), BTF on/off. ~15 min.
#   <cache>/guest/userland-<uhash>/  initramfs.cpio.gz
#     uhash: every other file under guest/ but *.md (init, scripts, programs,
#     this script), the busybox-static and libc (musl-dev / libc6-dev)
#     versions, the static compiler. Seconds.
#   <cache>/guest/<hash>/            the image: hard links to the kernel files,
#     initramfs.cpio.gz = userland's initramfs.cpio.gz followed by the kernel's
#     modules.cpio.gz (Linux unpacks concatenated gzip'd cpio archives in
#     order), and manifest.json.
#     hash: sha256 over khash and uhash.
#
# So editing a program or a script rebuilds only the initramfs.
pkg_version() { # installed version of a Debian package, or "missing"
	local v
	v=$(dpkg-query -W -f='${db:Status-Status} ${Version}' "$1" 2>/dev/null || true)
	case "$v" in
	"installed "?*) echo "${v#installed }" ;;
	*) echo missing ;;
	esac
}
KERNEL_PKGS=("$KERNEL_PKG")
[ "$btf" = no ] || KERNEL_PKGS+=(dwarves)
if [ "$CC_STATIC" = musl-gcc ]; then LIBC_PKG=musl-dev; else LIBC_PKG=libc6-dev; fi
# programs32/*.c are i386 programs (gcc -m32 -static, glibc's i386 libc from gcc-multilib).
USERLAND_PKGS=("$BUSYBOX_PKG" "$LIBC_PKG" libc6-dev-i386)
pkg_versions() { # pkg_versions PKG...: "pkg=version" lines, as pkg_version says for each
	# One dpkg-query for all of them: every `vmguard run` without --kernel computes the cache key, and each
	# dpkg-query costs ~25 ms idle. The lines are the same as one query per package would give.
	local p v
	local -A installed=()
	while IFS='=' read -r p v; do
		case "$v" in
		"installed "?*) installed[$p]=${v#installed } ;;
		esac
	done < <(dpkg-query -W -f='${Package}=${db:Status-Status} ${Version}\n' "$@" 2>/dev/null || true)
	for p in "$@"; do
		printf '%s=%s\n' "$p" "${installed[$p]:-missing}"
	done
}
files_digest() { # files_digest FIND-ARGS...: content sha256 + relative path, sorted
	(cd "$GUEST_DIR" && find "$@" -type f ! -name '*.md' -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum)
}
kernel_hash() {
	{
		echo "kernel-recipe-version=$KERNEL_RECIPE_VERSION"
		files_digest ./kernel
		pkg_versions "${KERNEL_PKGS[@]}"
		echo "btf=$btf"
	} | sha256sum | cut -c1-16
}
userland_hash() {
	{
		files_digest . -path ./kernel -prune -o
		pkg_versions "${USERLAND_PKGS[@]}"
		echo "cc=$CC_STATIC"
	} | sha256sum | cut -c1-16
}

KHASH=$(kernel_hash)
UHASH=$(userland_hash)
HASH=$(printf 'kernel=%s\nuserland=%s\n' "$KHASH" "$UHASH" | sha256sum | cut -c1-16)
CACHE_ROOT=${VMGUARD_CACHE_DIR:-$HOME/.cache/vmguard}
GUEST_CACHE=$CACHE_ROOT/guest
KERNEL_DIR=$GUEST_CACHE/kernel-$KHASH
USERLAND_DIR=$GUEST_CACHE/userland-$UHASH
OUT_DIR=$GUEST_CACHE/$HASH

case $mode in
print)
	echo "$OUT_DIR"
	exit 0
	;;
check)
	[ -f "$OUT_DIR/.complete" ] && exit 0 || exit 1
	;;
esac
if [ -f "$OUT_DIR/.complete" ]; then
	echo "$OUT_DIR"
	exit 0
fi

# ------------------------------------------------------------ prerequisites
# Kernel build tools are only needed when the kernel is not cached yet.
missing_pkgs=()
need_pkg() { # need_pkg PACKAGE TEST...
	local pkg=$1
	shift
	if ! "$@" >/dev/null 2>&1; then
		case " ${missing_pkgs[*]-} " in *" $pkg "*) ;; *) missing_pkgs+=("$pkg") ;; esac
	fi
}
pkg_installed() { [ "$(pkg_version "$1")" != missing ]; }
need_pkg "$BUSYBOX_PKG" pkg_installed "$BUSYBOX_PKG"
need_pkg "$BUSYBOX_PKG" test -x /bin/busybox
need_pkg build-essential command -v gcc
need_pkg build-essential test -f /usr/lib/x86_64-linux-gnu/libc.a
need_pkg gcc-multilib test -f /usr/lib32/libc.a
need_pkg cpio command -v cpio
need_pkg gzip command -v gzip
need_pkg util-linux command -v flock
if [ ! -f "$KERNEL_DIR/.complete" ]; then
	need_pkg "$KERNEL_PKG" test -f "$KERNEL_TARBALL"
	need_pkg build-essential command -v make
	need_pkg binutils command -v readelf
	need_pkg bc command -v bc
	need_pkg bison command -v bison
	need_pkg flex command -v flex
	need_pkg libelf-dev test -f /usr/include/libelf.h
	need_pkg libssl-dev test -f /usr/include/openssl/opensslv.h
	need_pkg xz-utils command -v xz
fi
if [ ${#missing_pkgs[@]} -gt 0 ]; then
	echo "[guest] missing packages: ${missing_pkgs[*]} -- install them with: apt-get install -y ${missing_pkgs[*]}" >&2
	exit 2
fi
# Optional: musl-tools (musl-gcc), dwarves (pahole -> BTF).
[ "$CC_STATIC" = musl-gcc ] ||
	echo "[guest] note: musl-gcc not found (apt-get install -y musl-tools); using gcc -static" >&2
[ "$btf" = yes ] || echo "[guest] note: building without BTF (pahole from package dwarves not used)" >&2

# -------------------------------------------------------------------- helpers
T_START=$(date +%s)
step_t=$T_START
step() { # step MESSAGE: announce a step (and close the previous one)
	echo "[guest] $*" >&2
	step_t=$(date +%s)
}
step_done() {
	echo "[guest]   done in $(($(date +%s) - step_t))s" >&2
}
die() {
	echo "[guest] ERROR: $*" >&2
	exit 1
}

mkdir -p "$GUEST_CACHE"

# One builder per cache entry at a time: a second caller waits on the entry's
# lock and then reuses what the first one published. Only one lock is held at
# a time (userland, then kernel, then image), so callers cannot deadlock.
LOCK_FD=
LOCK_FILE=
take_lock() { # take_lock KEY WHAT
	LOCK_FILE=$GUEST_CACHE/.lock-$1
	exec {LOCK_FD}>"$LOCK_FILE"
	if ! flock -n "$LOCK_FD"; then
		echo "[guest] another build of the $2 is running; waiting for it ..." >&2
		flock "$LOCK_FD"
		echo "[guest] ... the other build of the $2 finished" >&2
	fi
}
release_lock() { # release_lock [remove]: after a successful publish, drop the lock file too
	[ "${1:-}" != remove ] || rm -f "$LOCK_FILE"
	exec {LOCK_FD}>&-
	LOCK_FD= LOCK_FILE=
}

# A stage builds in <cache>/guest/.build-<key>-<pid>/{src,rootfs,out} with its
# log in build.log, then moves out/ into place atomically (with .complete in it).
BUILD= LOG= SRC= OUT= ROOTFS=
begin_stage() { # begin_stage KEY
	BUILD=$GUEST_CACHE/.build-$1-$$
	LOG=$BUILD/build.log
	SRC=$BUILD/src
	OUT=$BUILD/out
	ROOTFS=$BUILD/rootfs
	rm -rf "$BUILD"
	mkdir -p "$SRC" "$OUT" "$ROOTFS"
	: >"$LOG"
}
publish_stage() { # publish_stage DEST: atomic rename of out/ (holding .complete) to DEST
	: >"$OUT/.complete"
	if [ -e "$1" ]; then
		rm -rf "$1" # stale, incomplete leftover (we hold the lock)
	fi
	mv -T "$OUT" "$1"
	rm -rf "$BUILD"
	BUILD=
	release_lock remove
}
cleanup() {
	local rc=$?
	[ -n "$BUILD" ] || return 0
	# The kernel tree is big: never keep it. Keep the log of a failed build.
	rm -rf "$SRC" "$ROOTFS" "$OUT"
	echo "[guest] FAILED (exit $rc) after $(($(date +%s) - T_START))s; log: $LOG" >&2
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

run_logged() { # run_logged CMD...: run with output in $LOG; on failure show its tail
	echo "+ $*" >>"$LOG"
	if ! "$@" >>"$LOG" 2>&1; then
		echo "[guest] command failed: $*" >&2
		echo "[guest] ---- last 40 lines of $LOG ----" >&2
		tail -n 40 "$LOG" >&2
		echo "[guest] ---- full log: $LOG ----" >&2
		exit 1
	fi
}

write_cpio_gz() { # write_cpio_gz DIR FILE: DIR's contents as a gzip'd newc cpio archive
	# Reproducible: fixed mtimes, sorted order, owner root, no device/inode numbers.
	find "$1" -exec touch -h -d @0 {} +
	(cd "$1" && find . -mindepth 1 | LC_ALL=C sort |
		cpio -o -H newc -R 0:0 --reproducible --quiet) | gzip -9 -n >"$2"
}

cached_or_not() { [ -f "$1/.complete" ] && echo cached || echo "to build"; }
echo "[guest] building guest image $HASH: userland $UHASH ($(cached_or_not "$USERLAND_DIR")), kernel $KHASH (btf=$btf, $(cached_or_not "$KERNEL_DIR"))" >&2

# ---------------------------------------------------------------- userland
# First, because it takes seconds and catches mistakes in programs/ early.
build_userland() {
	step "initramfs: busybox + programs/*.c ($CC_STATIC -static -O2) ..."
	for d in bin sbin usr/bin usr/sbin dev proc sys tmp run root etc vmguard/bin vmguard/scripts; do
		mkdir -p "$ROOTFS/$d"
	done
	cp /bin/busybox "$ROOTFS/bin/busybox"
	/bin/busybox --list-full | while read -r applet; do
		[ -e "$ROOTFS/$applet" ] || [ -L "$ROOTFS/$applet" ] || ln -s /bin/busybox "$ROOTFS/$applet"
	done
	[ -L "$ROOTFS/bin/sh" ] || die "busybox has no sh applet"
	install -m 0755 "$GUEST_DIR/initramfs/init" "$ROOTFS/init"
	for s in "$GUEST_DIR"/initramfs/scripts/*; do
		install -m 0755 "$s" "$ROOTFS/vmguard/scripts/$(basename "$s")"
	done
	for c in "$GUEST_DIR"/programs/*.c; do
		run_logged "$CC_STATIC" -static -O2 -Wall -Wextra -s -o "$ROOTFS/vmguard/bin/$(basename "$c" .c)" "$c" -lm -lpthread
	done
	for c in "$GUEST_DIR"/programs32/*.c; do
		run_logged gcc -m32 -static -O2 -Wall -Wextra -s -o "$ROOTFS/vmguard/bin/$(basename "$c" .c)" "$c" -lm
	done
	echo "root:x:0:0:root:/root:/bin/sh" >"$ROOTFS/etc/passwd"
	echo "root:x:0:" >"$ROOTFS/etc/group"
	echo "vmguard" >"$ROOTFS/etc/hostname"
	chmod 0755 "$ROOTFS" "$ROOTFS"/{bin,sbin,usr,usr/bin,usr/sbin,dev,proc,sys,run,etc,vmguard,vmguard/bin,vmguard/scripts}
	chmod 1777 "$ROOTFS/tmp"
	chmod 0700 "$ROOTFS/root"
	chmod 0644 "$ROOTFS"/etc/*
	write_cpio_gz "$ROOTFS" "$OUT/initramfs.cpio.gz"
	rm -rf "$ROOTFS"
	step_done
}

if [ ! -f "$USERLAND_DIR/.complete" ]; then
	take_lock "userland-$UHASH" "userland $UHASH"
	if [ -f "$USERLAND_DIR/.complete" ]; then
		release_lock
	else
		begin_stage "userland-$UHASH"
		build_userland
		publish_stage "$USERLAND_DIR"
	fi
fi

# -------------------------------------------------------------------- kernel
build_kernel() {
	local kt0
	kt0=$(date +%s)
	step "extracting $KERNEL_PKG ..."
	tar -xf "$KERNEL_TARBALL" -C "$SRC"
	KSRC=$(find "$SRC" -mindepth 1 -maxdepth 1 -type d | head -n 1)
	[ -f "$KSRC/Makefile" ] || die "no kernel tree found in $KERNEL_TARBALL"
	step_done

	export KBUILD_BUILD_USER=vmguard KBUILD_BUILD_HOST=vmguard
	KMAKE=(make -C "$KSRC" ARCH=x86_64)

	step "kernel: configuring (allnoconfig + kernel/vmguard.config$([ "$btf" = yes ] && echo ' + kernel/btf.config')) ..."
	FRAGMENT=$BUILD/fragment.config
	cat "$GUEST_DIR/kernel/vmguard.config" >"$FRAGMENT"
	[ "$btf" = no ] || cat "$GUEST_DIR/kernel/btf.config" >>"$FRAGMENT"
	run_logged "${KMAKE[@]}" KCONFIG_ALLCONFIG="$FRAGMENT" allnoconfig
	run_logged "${KMAKE[@]}" olddefconfig
	# The fragment must not lie: every CONFIG_X=value must be in the final
	# .config verbatim, and every "# CONFIG_X is not set" must not be enabled.
	dropped=()
	while IFS= read -r line; do
		case "$line" in
		CONFIG_*=*)
			grep -qxF -- "$line" "$KSRC/.config" ||
				dropped+=("$line (final: $(grep -E "^(# )?${line%%=*}[= ]" "$KSRC/.config" || echo 'absent'))")
			;;
		"# CONFIG_"*" is not set")
			sym=${line#\# }
			sym=${sym%% *}
			if grep -qE "^$sym=" "$KSRC/.config"; then
				dropped+=("$line (final: $(grep -E "^$sym=" "$KSRC/.config"))")
			fi
			;;
		esac
	done <"$FRAGMENT"
	if [ ${#dropped[@]} -gt 0 ]; then
		echo "[guest] ERROR: kernel config fragment options did not survive (unmet dependencies?):" >&2
		printf '[guest]   %s\n' "${dropped[@]}" >&2
		exit 1
	fi
	step_done

	# "modules" too, although every driver is built in: only a build that includes it writes
	# Module.symvers (the kernel's exports), which the out-of-tree modules below link against.
	step "kernel: make -j$(nproc) vmlinux bzImage modules (this takes ~$([ "$btf" = yes ] && echo 15 || echo 8) min on 2 cores) ..."
	run_logged "${KMAKE[@]}" -j"$(nproc)" vmlinux bzImage modules
	[ -f "$KSRC/Module.symvers" ] || die "the kernel build wrote no Module.symvers"
	step_done

	# Test modules (kernel/modules/<name>/), built against this very tree.
	# Debug info stripped: the initramfs stays small; .BTF (not a debug
	# section) stays in.
	local mod_src mod_root=$BUILD/modroot name
	mkdir -p "$mod_root/vmguard/modules"
	for mod_src in "$GUEST_DIR"/kernel/modules/*/; do
		name=$(basename "$mod_src")
		step "kernel: module $name ..."
		cp -r "$mod_src" "$BUILD/module-$name"
		run_logged "${KMAKE[@]}" M="$BUILD/module-$name" modules
		[ -f "$BUILD/module-$name/$name.ko" ] || die "module $name: no $name.ko built"
		run_logged strip --strip-debug -o "$mod_root/vmguard/modules/$name.ko" "$BUILD/module-$name/$name.ko"
		step_done
	done
	chmod 0755 "$mod_root" "$mod_root/vmguard" "$mod_root/vmguard/modules"
	chmod 0644 "$mod_root"/vmguard/modules/*
	write_cpio_gz "$mod_root" "$OUT/modules.cpio.gz"

	step "kernel: collecting outputs ..."
	cp "$KSRC/vmlinux" "$OUT/vmlinux"
	cp "$KSRC/arch/x86/boot/bzImage" "$OUT/bzImage"
	cp "$KSRC/System.map" "$OUT/System.map"
	cp "$KSRC/.config" "$OUT/config"
	local krel banner has_btf=false
	krel=$(make -s -C "$KSRC" ARCH=x86_64 kernelrelease)
	banner=$(strings -n 20 "$OUT/vmlinux" | grep -m1 '^Linux version .* #[0-9]' || true)
	if readelf -S -W "$OUT/vmlinux" | grep -E '[[:space:]]\.BTF[[:space:]]' >/dev/null; then has_btf=true; fi
	if [ "$btf" = yes ] && [ "$has_btf" != true ]; then
		die "BTF was configured but vmlinux has no .BTF section (see $LOG)"
	fi
	# Facts for the image's manifest.json, one key=value per line.
	{
		echo "kernel_hash=$KHASH"
		echo "kernel_recipe_version=$KERNEL_RECIPE_VERSION"
		echo "kernel_release=$krel"
		echo "kernel_version=$banner"
		echo "btf=$has_btf"
		echo "build_date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
		echo "build_seconds=$(($(date +%s) - kt0))"
		pkg_versions "${KERNEL_PKGS[@]}" | sed 's/^/package./'
	} >"$OUT/kernel.info"
	step_done

	step "removing the kernel build tree ..."
	rm -rf "$SRC"
	step_done
}

if [ ! -f "$KERNEL_DIR/.complete" ]; then
	take_lock "kernel-$KHASH" "kernel $KHASH"
	if [ -f "$KERNEL_DIR/.complete" ]; then
		release_lock
	else
		# Builds killed hard (no trap) leave multi-GB kernel trees behind: drop
		# the trees of builders that no longer run (their build.log stays).
		for stale in "$GUEST_CACHE"/.build-*-*; do
			[ -d "$stale" ] || continue
			kill -0 "${stale##*-}" 2>/dev/null || rm -rf "$stale/src" "$stale/rootfs" "$stale/out"
		done
		begin_stage "kernel-$KHASH"
		echo "[guest] building kernel $KHASH (btf=$btf) in $BUILD" >&2
		build_kernel
		publish_stage "$KERNEL_DIR"
	fi
fi

# --------------------------------------------------------------------- image
kinfo() { sed -n "s/^$1=//p" "$KERNEL_DIR/kernel.info"; }
size() { stat -c %s "$OUT/$1"; }
json_str() { printf '"%s"' "$(printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g')"; }
assemble_image() {
	step "image $HASH: linking kernel-$KHASH + userland-$UHASH ..."
	local f
	for f in "$KERNEL_DIR"/{vmlinux,bzImage,System.map,config,modules.cpio.gz} "$USERLAND_DIR/initramfs.cpio.gz"; do
		[ -f "$f" ] || die "cache entry incomplete: $f is missing (delete its dir and rebuild)"
	done
	for f in "$KERNEL_DIR"/{vmlinux,bzImage,System.map,config,modules.cpio.gz}; do
		# Hard links: same filesystem, no extra space. (cp if linking fails.)
		ln "$f" "$OUT/" 2>/dev/null || cp "$f" "$OUT/"
	done
	# The modules go in as a second archive after the userland one.
	cat "$USERLAND_DIR/initramfs.cpio.gz" "$KERNEL_DIR/modules.cpio.gz" >"$OUT/initramfs.cpio.gz"
	{
		echo "{"
		echo "  \"hash\": $(json_str "$HASH"),"
		echo "  \"kernel_hash\": $(json_str "$KHASH"),"
		echo "  \"userland_hash\": $(json_str "$UHASH"),"
		echo "  \"kernel_release\": $(json_str "$(kinfo kernel_release)"),"
		echo "  \"kernel_version\": $(json_str "$(kinfo kernel_version)"),"
		echo "  \"build_date\": $(json_str "$(date -u +%Y-%m-%dT%H:%M:%SZ)"),"
		echo "  \"build_seconds\": $(($(date +%s) - T_START)),"
		echo "  \"kernel_build_date\": $(json_str "$(kinfo build_date)"),"
		echo "  \"kernel_build_seconds\": $(kinfo build_seconds),"
		echo "  \"btf\": $(kinfo btf),"
		echo "  \"static_cc\": $(json_str "$CC_STATIC"),"
		echo "  \"packages\": {"
		{
			sed -n 's/^package\.//p' "$KERNEL_DIR/kernel.info"
			pkg_versions "${USERLAND_PKGS[@]}"
		} | sed -e 's/^\([^=]*\)=\(.*\)$/    "\1": "\2",/' -e '$ s/,$//'
		echo "  },"
		echo "  \"sizes\": {"
		echo "    \"vmlinux\": $(size vmlinux),"
		echo "    \"bzImage\": $(size bzImage),"
		echo "    \"System.map\": $(size System.map),"
		echo "    \"config\": $(size config),"
		echo "    \"modules.cpio.gz\": $(size modules.cpio.gz),"
		echo "    \"initramfs.cpio.gz\": $(size initramfs.cpio.gz)"
		echo "  }"
		echo "}"
	} >"$OUT/manifest.json"
	step_done
}

take_lock "$HASH" "image $HASH"
if [ -f "$OUT_DIR/.complete" ]; then
	release_lock remove
	echo "$OUT_DIR"
	exit 0
fi
begin_stage "$HASH"
assemble_image
publish_stage "$OUT_DIR"

echo "[guest] done in $(($(date +%s) - T_START))s: $OUT_DIR" >&2
ls -l "$OUT_DIR" | tail -n +2 | sed 's/^/[guest]   /' >&2
echo "$OUT_DIR"
