#!/usr/bin/env bash
# Installs the Debian packages sprig needs to build, test and run, if any are
# missing. As root it runs apt-get; otherwise it prints the command to run.
set -euo pipefail

packages=(
	cmake gcc make pkg-config
	libsqlite3-dev libcjson-dev libmicrohttpd-dev libwslay-dev
	libcurl4-openssl-dev libssl-dev libcmocka-dev libvterm-dev libssh-dev libhttp-parser-dev nettle-dev
	libncurses-dev tmux openssh-server
	qemu-system-x86 qemu-utils
	musl-tools busybox-static e2fsprogs cpio
	curl python3 bsdutils sqlite3 jq
	clang libclang-rt-14-dev
)

missing=()
for p in "${packages[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing+=("$p")
	fi
done
# The minimal image's recipe downloads Debian's cloud kernel package: apt's
# package lists must be there even when every package above is.
if [ ${#missing[@]} -eq 0 ]; then
	if ! apt-cache show linux-image-cloud-amd64 >/dev/null 2>&1; then
		if [ "$(id -u)" -eq 0 ]; then
			echo "fetching apt's package lists (the image recipe needs them)" >&2
			apt-get update -q >&2
		else
			echo "apt's package lists are missing; run: sudo apt-get update" >&2
			exit 1
		fi
	fi
	exit 0
fi

cmd="apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
	echo "sprig needs these Debian packages: ${missing[*]}" >&2
	echo "install them with:  sudo apt-get update && sudo $cmd" >&2
	exit 1
fi
echo "installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >&2
$cmd >&2
