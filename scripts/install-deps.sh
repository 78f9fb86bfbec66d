#!/bin/bash
# Install the Debian 12 packages ferry needs to build and test.  Only what
# is missing is installed; sudo is used when not running as root.
set -euo pipefail

pkgs=(
  build-essential cmake pkg-config clang libclang-rt-14-dev
  zlib1g-dev libdeflate-dev libzstd-dev libssl-dev libcurl4-openssl-dev
  libnbd-dev libarchive-dev libxml2-dev libjson-c-dev libcmocka-dev
  qemu-utils nbdkit libnbd-bin nginx-light python3 curl ca-certificates
  openssl libyaml-dev python3-yaml libvirt-clients libvirt-daemon time
  libguestfs-dev libguestfs-tools linux-image-amd64 busybox-static e2fsprogs fdisk
  cryptsetup-bin
  qemu-block-extra
  virt-v2v libxml2-utils
  ntfs-3g libwin-hivex-perl libhivex-bin xorriso
  debootstrap qemu-system-x86 seabios
  genisoimage libarchive-tools
  gzip xz-utils zstd bzip2 strace
)

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  exit 0
fi

sudo=()
if [[ $(id -u) != 0 ]]; then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo=(sudo)
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -q
"${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
