#!/usr/bin/env bash
# Time ferry's guest conversion ("ferry guestfix DISK") against
# virt-v2v's on the same Debian 12 VMware-style guest
# (fixtures/guest/make-debian-boot.sh): "virt-v2v-in-place -i disk DISK",
# or "virt-v2v -i disk DISK -o local -os DIR" where there is no in-place
# variant.  Both run the libguestfs appliance with the same settings
# (LIBGUESTFS_BACKEND=direct, and LIBGUESTFS_BACKEND_SETTINGS=force_tcg
# unless set otherwise), each on its own fresh copy of the image.
#
#   bench/guestfix-vs-virt-v2v.sh [--rounds N] [--ferry PATH] [--workdir DIR]
#
# Prints each run's wall-clock time and the ratio ferry / virt-v2v of the
# medians (goal: <= 1.0).  See bench/README.md.
#
# Exit status: 0 done; 1 a tool failed; 2 usage or setup error; 77 the
# guest image cannot be built here.
set -euo pipefail
export LC_ALL=C

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_dir=$(cd "$script_dir/.." && pwd)

rounds=1
ferry=$repo_dir/build/ferry
workdir=${TMPDIR:-/tmp}/ferry-bench-guestfix

usage () {
  sed -n '/^#   bench/,/^# Prints/p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}
while (($#)); do
  case $1 in
    --rounds) rounds=${2:?}; shift 2 ;;
    --ferry) ferry=${2:?}; shift 2 ;;
    --workdir) workdir=${2:?}; shift 2 ;;
    -h|--help) usage ;;
    *) echo "unknown option $1" >&2; usage ;;
  esac
done
[[ $rounds =~ ^[1-9][0-9]*$ ]] || { echo "--rounds must be a positive number" >&2; exit 2; }
[[ -x $ferry ]] || { echo "ferry not found at $ferry (build it, or --ferry PATH)" >&2; exit 2; }

export LIBGUESTFS_BACKEND=direct
export LIBGUESTFS_BACKEND_SETTINGS=${LIBGUESTFS_BACKEND_SETTINGS-force_tcg}

if command -v virt-v2v-in-place >/dev/null; then
  v2v_mode=in-place
elif command -v virt-v2v >/dev/null; then
  v2v_mode=local
else
  echo "neither virt-v2v-in-place nor virt-v2v is installed (package virt-v2v)" >&2
  exit 2
fi

rc=0
image=$(bash "$repo_dir/fixtures/guest/make-debian-boot.sh") || rc=$?
((rc == 0)) || exit "$rc"

mkdir -p "$workdir"
work=$(mktemp -d "$workdir/run.XXXXXX")
trap 'rm -rf "$work"' EXIT

# timed LOG COMMAND...: run COMMAND, its output in LOG; the wall-clock
# seconds in $secs.  A failure ends the benchmark.
timed () {
  local log=$1 start end
  shift
  start=$(date +%s.%N)
  if ! "$@" > "$log" 2>&1; then
    tail -n 30 "$log" >&2
    echo "failed: $*" >&2
    exit 1
  fi
  end=$(date +%s.%N)
  secs=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')
}

median () { printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

echo "command:   bench/guestfix-vs-virt-v2v.sh --rounds $rounds"
echo "machine:   $(nproc) CPUs, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n 1), $(awk '/MemTotal/ { printf "%.0f", $2 / 1048576 }' /proc/meminfo) GiB RAM, Linux $(uname -r)"
echo "settings:  LIBGUESTFS_BACKEND=$LIBGUESTFS_BACKEND LIBGUESTFS_BACKEND_SETTINGS=$LIBGUESTFS_BACKEND_SETTINGS"
echo "image:     $image ($(du -k "$image" | cut -f1) KiB allocated)"
echo "ferry:     $ferry, $("$ferry" --version 2>&1 | head -n 1)"
echo "virt-v2v:  $(virt-v2v --version 2>&1 | head -n 1) ($v2v_mode)"

ferry_times=() v2v_times=()
for ((r = 1; r <= rounds; r++)); do
  # Alternate which tool goes first, so neither always gets a warm cache.
  for tool in $( ((r % 2)) && echo "ferry v2v" || echo "v2v ferry"); do
    disk=$work/$tool.raw
    cp --sparse=always "$image" "$disk"
    sync
    if [[ $tool == ferry ]]; then
      cmd=("$ferry" guestfix -q "$disk")
      timed "$work/ferry.log" "${cmd[@]}"
      ferry_times+=("$secs")
    else
      if [[ $v2v_mode == in-place ]]; then
        cmd=(virt-v2v-in-place -i disk "$disk")
      else
        mkdir -p "$work/v2v-out"
        cmd=(virt-v2v -i disk "$disk" -o local -os "$work/v2v-out")
      fi
      timed "$work/v2v.log" "${cmd[@]}"
      v2v_times+=("$secs")
      rm -rf "$work/v2v-out"
    fi
    printf 'round %d  %-8s %7s s  %s\n' "$r" "$tool" "$secs" "${cmd[*]}"
    rm -f "$disk"
  done
done

fm=$(median "${ferry_times[@]}")
vm=$(median "${v2v_times[@]}")
awk -v f="$fm" -v v="$vm" 'BEGIN { printf "median    ferry %s s, virt-v2v %s s, ratio ferry/virt-v2v %.2f (goal <= 1.0)\n", f, v, f / v }'
