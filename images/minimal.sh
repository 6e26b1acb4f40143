#!/bin/bash
# images/minimal.sh OUTDIR: the recipe of the `minimal` image, the one tests
# use. It writes OUTDIR/vmlinuz, OUTDIR/initrd.img and OUTDIR/rootfs.img and
# nothing else outside its download cache.
#
#   vmlinuz     Debian's cloud kernel, taken from its package (apt-get
#               download + dpkg-deb -x; never installed on this machine)
#   initrd.img  busybox, the virtio modules in dependency order and an /init
#               that mounts /dev/vda and switches to /sbin/sprig-init
#   rootfs.img  ext4 made with mke2fs -d (no mounts, no loop devices):
#               busybox, sprig-init (also as sprite-env), a few files in
#               /etc and /.sprite/docs for agents working inside
#
# Environment: SPRIG_INIT (required) the built sprig-init; SPRIG_CACHE the
# download cache (default ${XDG_CACHE_HOME:-$HOME/.cache}/sprig).
set -Eeuo pipefail

say() { echo "image minimal: $*" >&2; }
die() { echo "image minimal: error: $*" >&2; exit 1; }
# Anything else that fails says so once (from the main shell, not subshells).
trap '[ "$BASH_SUBSHELL" != 0 ] || die "\"$BASH_COMMAND\" failed (line $LINENO)"' ERR

KERNEL_META=linux-image-cloud-amd64
BUSYBOX=/bin/busybox
ROOTFS_SIZE=256M
# The drivers the initramfs loads: PCI virtio, the disk, the agent's port,
# the SCSI disks checkpoints are shown on (/.sprite/checkpoints), and the
# balloon, which only reports free memory so the host can drop it.
# Their dependencies come along (from each module's modinfo "depends=").
MODULES="virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_blk virtio_console virtio_scsi sd_mod virtio_balloon"

[ $# -eq 1 ] || die "usage: minimal.sh OUTDIR"
out=$1
[ -d "$out" ] || die "$out is not a directory"
[ -n "${SPRIG_INIT:-}" ] || die "SPRIG_INIT is not set (the path of the built sprig-init)"
[ -f "$SPRIG_INIT" ] && [ -x "$SPRIG_INIT" ] || die "SPRIG_INIT=$SPRIG_INIT is not an executable file"
cache=${SPRIG_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sprig}
for tool in apt-cache apt-get dpkg-deb cpio gzip mke2fs; do
	command -v "$tool" >/dev/null || die "$tool is missing"
done
[ -x "$BUSYBOX" ] || die "$BUSYBOX is missing (install busybox-static)"
if ldd "$BUSYBOX" >/dev/null 2>&1; then
	die "$BUSYBOX is dynamically linked (install busybox-static)"
fi

dl=
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sprig-minimal.XXXXXX")
trap 'rm -rf "$tmp" ${dl:+"$dl"}' EXIT

# --- kernel ---------------------------------------------------------------

pkg=$(apt-cache depends "$KERNEL_META" 2>/dev/null |
	sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -n 1) || true
[ -n "$pkg" ] || die "cannot resolve $KERNEL_META (is apt's package list there? try apt-get update)"
kver=${pkg#linux-image-}
mkdir -p "$cache" || die "cannot create the cache directory $cache"
shopt -s nullglob
debs=("$cache/${pkg}"_*.deb)
deb=${debs[0]:-}
if [ -n "$deb" ] && dpkg-deb --info "$deb" >/dev/null 2>&1; then
	say "using cached kernel $pkg"
else
	say "downloading kernel $pkg"
	dl=$(mktemp -d "$cache/download.XXXXXX")
	if ! (cd "$dl" && apt-get -q download "$pkg") >"$tmp/apt.log" 2>&1; then
		rm -rf "$dl"
		die "apt-get download $pkg failed: $(grep -m 1 '^E:' "$tmp/apt.log" || tail -n 1 "$tmp/apt.log")"
	fi
	debs=("$dl/${pkg}"_*.deb)
	deb=${debs[0]:-}
	[ -n "$deb" ] || { rm -rf "$dl"; die "apt-get download $pkg left no .deb"; }
	# Older kernels go; a rename, so an interrupted download never looks cached.
	for old in "$cache"/linux-image-*-cloud-amd64_*.deb; do
		rm -f "$old"
	done
	mv "$deb" "$cache/"
	rm -rf "$dl"
	dl=
	deb=$cache/${deb##*/}
fi
if ! dpkg-deb -x "$deb" "$tmp/kernel" 2>"$tmp/dpkg.log"; then
	rm -f "$deb"
	die "cannot unpack $deb (removed it from the cache; run again): $(tail -n 1 "$tmp/dpkg.log")"
fi
[ -f "$tmp/kernel/boot/vmlinuz-$kver" ] || die "$pkg has no /boot/vmlinuz-$kver"
moddir=$tmp/kernel/lib/modules/$kver
[ -d "$moddir" ] || moddir=$tmp/kernel/usr/lib/modules/$kver
[ -d "$moddir" ] || die "$pkg has no modules directory for $kver"

# --- initrd.img -----------------------------------------------------------

say "building initrd.img"
ird=$tmp/initrd
mkdir -p "$ird/bin" "$ird/dev" "$ird/proc" "$ird/sys" "$ird/newroot" "$ird/lib/modules"
cp "$BUSYBOX" "$ird/bin/busybox"
for applet in $("$BUSYBOX" --list); do
	[ "$applet" = busybox ] || ln -s busybox "$ird/bin/$applet"
done

# Modules by name ("-" and "_" are the same to the kernel), compressed or not.
declare -A modfile=() builtin=() added=()
while IFS= read -r f; do
	n=${f##*/}
	n=${n%%.ko*}
	modfile[${n//-/_}]=$f
done < <(find "$moddir" -name '*.ko' -o -name '*.ko.xz' -o -name '*.ko.zst' -o -name '*.ko.gz')
if [ -f "$moddir/modules.builtin" ]; then
	while IFS= read -r f; do
		n=${f##*/}
		n=${n%%.ko*}
		builtin[${n//-/_}]=1
	done <"$moddir/modules.builtin"
fi
order=()

# Copies module $1 (uncompressed: busybox insmod may not read .xz) after
# the modules it depends on, appending to $order.
add_module() {
	local name=${1//-/_} f dst deps dep
	[ -z "${added[$name]:-}" ] || return 0
	added[$name]=1
	[ -z "${builtin[$name]:-}" ] || return 0
	f=${modfile[$name]:-}
	[ -n "$f" ] || die "kernel module $name is not in $pkg"
	dst=$ird/lib/modules/$name.ko
	case $f in
	*.ko) cp "$f" "$dst" ;;
	*.ko.xz) xz -dc "$f" >"$dst" || die "cannot decompress $f (xz)" ;;
	*.ko.zst) zstd -qdc "$f" >"$dst" || die "cannot decompress $f (zstd)" ;;
	*.ko.gz) gzip -dc "$f" >"$dst" || die "cannot decompress $f" ;;
	esac
	# No early exit in the pipe: tr would die of SIGPIPE and fail it.
	deps=$(tr '\0' '\n' <"$dst" | sed -n 's/^depends=//p')
	deps=${deps%%$'\n'*}
	for dep in ${deps//,/ }; do
		add_module "$dep"
	done
	order+=("$name")
}
for m in $MODULES; do
	add_module "$m"
done
# The root filesystem is mounted by the initramfs: ext4 must be there too.
if [ -z "${builtin[ext4]:-}" ]; then
	add_module ext4
fi
printf '%s\n' "${order[@]}" >"$ird/lib/modules/load"

cat >"$ird/init" <<'EOF'
#!/bin/sh
# sprig minimal initramfs: load the virtio drivers, mount the root disk and
# hand over to sprig-init. On failure: say why on the console, power off.
export PATH=/bin

fail() {
	echo "sprig initrd: $*; powering off"
	poweroff -f
	exit 1
}

mount -t devtmpfs devtmpfs /dev || fail "cannot mount /dev"
exec </dev/console >/dev/console 2>&1
mount -t proc proc /proc || fail "cannot mount /proc"
mount -t sysfs sysfs /sys || fail "cannot mount /sys"

while read -r m; do
	insmod "/lib/modules/$m.ko" || fail "cannot load module $m"
done </lib/modules/load
# The balloon reports free memory to the host, which punches it out of
# the guest's RAM file. Linux reports free blocks of 2 MiB and up; from
# 128 KiB (order 5) the file keeps ~15% less (after a guest filled and
# freed 128 MiB: 86 MiB against 100).
echo 5 >/sys/module/page_reporting/parameters/page_reporting_order 2>/dev/null || true

root=/dev/vda
for arg in $(cat /proc/cmdline); do
	case $arg in
	root=/dev/*) root=${arg#root=} ;;
	esac
done
i=0
while [ ! -b "$root" ]; do
	i=$((i + 1))
	[ $i -le 500 ] || fail "no $root after 5 s"
	usleep 10000
done
mount -t ext4 -o rw "$root" /newroot || fail "cannot mount $root"
[ -x /newroot/sbin/sprig-init ] || fail "$root has no /sbin/sprig-init"
for d in dev proc sys; do
	mount --move "/$d" "/newroot/$d" || fail "cannot move /$d"
done
exec switch_root /newroot /sbin/sprig-init
fail "switch_root failed"
EOF
chmod 0755 "$ird/init"
(cd "$ird" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --reproducible --quiet) |
	gzip -n -9 >"$out/initrd.img"
cp "$tmp/kernel/boot/vmlinuz-$kver" "$out/vmlinuz"

# --- rootfs.img -----------------------------------------------------------

say "building rootfs.img"
root=$tmp/root
mkdir -p "$root"
for d in bin sbin etc dev proc sys run root home mnt tmp var/tmp var/log \
	usr/bin usr/sbin usr/local/bin usr/local/sbin; do
	mkdir -p "$root/$d"
done
chmod 0755 "$root"
chmod 0700 "$root/root"
chmod 1777 "$root/tmp" "$root/var/tmp"
ln -s /run "$root/var/run"
cp "$BUSYBOX" "$root/bin/busybox"
# One link per applet where a Linux system keeps it; init is sprig-init's.
for applet in $("$BUSYBOX" --list-full); do
	case ${applet##*/} in
	busybox | init | linuxrc) continue ;;
	esac
	[ -e "$root/$applet" ] || [ -L "$root/$applet" ] || ln -s /bin/busybox "$root/$applet"
done
install -m 0755 "$SPRIG_INIT" "$root/sbin/sprig-init"
# sprite-env is sprig-init called by that name (it asks the host through it).
ln -s /sbin/sprig-init "$root/usr/bin/sprite-env"
mkdir -p "$root/.sprite/docs"
cat >"$root/.sprite/docs/agent-context.md" <<'EOF'
# You are in a sprite

This machine is a sprite: a Linux VM run by sprig. Its disk persists; it
sleeps when idle and wakes, processes intact, when used again.

## Checkpoints
- `sprite-env checkpoints` lists this sprite's checkpoints (* marks the one
  its disk grew from); `sprite-env checkpoints create -m "what works"`
  checkpoints the disk live, in milliseconds.
- `sprite-env checkpoints restore v3` puts the disk back to v3 and restarts
  the sprite; `restore undo` goes back to before the last restore.
- `/.sprite/checkpoints/v3/` holds v3's files, read-only, for the five
  newest checkpoints on the way to where the disk is now:
  `diff -r /.sprite/checkpoints/v3/etc /etc`, or copy one file back.
- Checkpoint before anything risky. A broken sprite is one restore away.

## Staying awake
- The sprite sleeps after a while with no client. For a long unattended run:
  `sprite-env keepalive 2h` (or `off`).
EOF

cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat >"$root/etc/group" <<'EOF'
root:x:0:
tty:x:5:
nogroup:x:65534:
EOF
cat >"$root/etc/shadow" <<'EOF'
root:*:19000:0:99999:7:::
nobody:*:19000:0:99999:7:::
EOF
chmod 0640 "$root/etc/shadow"
cat >"$root/etc/profile" <<'EOF'
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PS1='\u@\h:\w\$ '
umask 022
EOF
cat >"$root/etc/hosts" <<'EOF'
127.0.0.1	localhost
::1		localhost ip6-localhost ip6-loopback
EOF
cat >"$root/etc/os-release" <<'EOF'
NAME="sprig minimal"
ID=sprig-minimal
PRETTY_NAME="sprig minimal (busybox)"
EOF
: >"$root/etc/fstab"
ln -s /proc/self/mounts "$root/etc/mtab"

truncate -s "$ROOTFS_SIZE" "$out/rootfs.img"
mke2fs -q -F -t ext4 -T default -L sprig-root -E root_owner=0:0 -d "$root" "$out/rootfs.img" \
	>"$tmp/mke2fs.log" 2>&1 || die "mke2fs failed: $(tail -n 1 "$tmp/mke2fs.log")"
# mke2fs -d copies owners: without root, hand every file to root here.
if [ "$(id -u)" != 0 ]; then
	(cd "$root" && find . -mindepth 1 | sed 's|^\.||' |
		while IFS= read -r p; do
			printf 'sif "%s" uid 0\nsif "%s" gid 0\n' "$p" "$p"
		done) >"$tmp/owners.debugfs"
	debugfs -w -f "$tmp/owners.debugfs" "$out/rootfs.img" >/dev/null 2>&1 ||
		die "debugfs could not give the files to root"
fi
say "done: $(du -sh "$out" | cut -f1) in $out (kernel $kver)"
