#!/bin/bash
# Peak RSS of ferry must not grow with the disk: convert a 4 GiB and a
# 40 GiB VMDK with the same data density (2%, spread over the disk) to raw
# and to qcow2, and print ferry's peak RSS for each.
#   bench/rss-vs-size.sh [--ferry PATH] [--workdir DIR]
set -euo pipefail
export LC_ALL=C
repo=$(cd "$(dirname "$0")/.." && pwd)
ferry=$repo/build/release/ferry
work=${TMPDIR:-/tmp}/ferry-rss
while (($#)); do
  case $1 in
    --ferry) ferry=$2; shift 2 ;;
    --workdir) work=$2; shift 2 ;;
    *) echo "usage: $0 [--ferry PATH] [--workdir DIR]" >&2; exit 2 ;;
  esac
done
command -v /usr/bin/time > /dev/null || { echo "$0: needs /usr/bin/time (apt-get install time)" >&2; exit 2; }
mkdir -p "$work"
cd "$work"

echo "command: $0; ferry: $ferry ($("$ferry" --version))"
printf '%-8s %-18s %-6s %12s %10s\n' size source output "data (MiB)" "RSS (MiB)"
for gib in 4 40; do
  raw=disk-$gib.raw
  if [[ ! -f $raw ]]; then
    truncate -s ${gib}G $raw
    # One 1 MiB chunk of seeded random data every 50 MiB: 2% data.
    n=$((gib * 1024 / 50))
    { openssl enc -aes-128-ctr -pass pass:rss -nosalt -pbkdf2 < /dev/zero 2>/dev/null || :; } \
      | head -c $((n * 1048576)) > chunks.bin
    for ((i = 0; i < n; i++)); do
      dd if=chunks.bin of=$raw bs=1M skip=$i seek=$((i * 50)) count=1 conv=notrunc status=none
    done
    rm -f chunks.bin
    for sub in monolithicSparse streamOptimized; do
      qemu-img convert -f raw -O vmdk -o subformat=$sub $raw disk-$gib-$sub.vmdk
    done
  fi
  for sub in monolithicSparse streamOptimized; do
    for fmt in raw qcow2; do
      rm -f out out.part
      /usr/bin/time -f %M -o rss.txt "$ferry" convert -q -O $fmt disk-$gib-$sub.vmdk out
      printf '%-8s %-18s %-6s %12d %10.1f\n' "${gib}G" $sub $fmt $((gib * 1024 / 50)) \
        "$(awk '{ print $1 / 1024 }' rss.txt)"
    done
  done
done
rm -f out
