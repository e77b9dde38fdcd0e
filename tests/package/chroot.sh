# Sourced by tests/package/*.sh: a throw-away Debian 12 chroot.
#
# chroot_make ROOT CACHE LOG: a minimal bookworm in ROOT, copied from
# CACHE/bookworm (made there with debootstrap the first time), with /proc
# and /dev mounted and the host's resolv.conf; 1 on failure.
# chroot_release ROOT: unmount what chroot_make mounted (the tree stays).

chroot_make() {
	_root=$1 _cache=$2 _log=$3
	if [ ! -x "$_cache/bookworm/usr/bin/apt-get" ]; then
		echo "chroot: debootstrap bookworm into $_cache/bookworm (once)"
		rm -rf "$_cache/bookworm"
		mkdir -p "$_cache"
		debootstrap --variant=minbase bookworm "$_cache/bookworm" \
		    http://deb.debian.org/debian >"$_log" 2>&1 || return 1
	fi
	rm -rf "$_root"
	cp -a "$_cache/bookworm" "$_root" || return 1
	mount -t proc proc "$_root/proc" || return 1
	mount --bind /dev "$_root/dev" || return 1
	cp /etc/resolv.conf "$_root/etc/resolv.conf"
}

chroot_release() {
	for _m in "$1/dev" "$1/proc"; do
		if mountpoint -q "$_m"; then
			umount -l "$_m"
		fi
	done
	return 0
}
