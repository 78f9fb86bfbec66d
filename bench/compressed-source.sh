#!/bin/bash
# Compressed raw sources: ferry converting DISK.raw.zst / DISK.raw.gz
# directly (decompressing as it reads) against decompressing to a file
# first and then running qemu-img convert on it.
#
#   bench/compressed-source.sh [FERRY [WORKDIR [SIZE-MIB]]]
#
# The disk is mostly data: each MiB holds 640 KiB of random bytes and
# 384 KiB of repetitive text, no holes.  One run of each; the outputs are
# compared with the original (cmp).
set -euo pipefail
export LC_ALL=C

ferry=${1:-$(cd "$(dirname "$0")/.." && pwd)/build/ferry}
work=${2:-${TMPDIR:-/tmp}/ferry-bench-compressed}
mib=${3:-1024}
for p in "$ferry" zstd gzip qemu-img python3; do
  command -v "$p" > /dev/null || [[ -x $p ]] || { echo "bench: $p not found" >&2; exit 2; }
done
mkdir -p "$work"
cd "$work"

if [[ ! -s disk.raw || $(stat -c %s disk.raw) != $((mib * 1048576)) ]]; then
  python3 - "$mib" <<'PY'
import os, sys
mib = int(sys.argv[1])
line = b"record %08d block %06d some repeated payload text.....\n"
with open("disk.raw", "wb") as f:
    for i in range(mib):
        text = b"".join(line % (j, i) for j in range(384 * 1024 // 64))
        f.write(os.urandom(640 * 1024) + text[:384 * 1024])
PY
  rm -f disk.raw.zst disk.raw.gz
fi
[[ -s disk.raw.zst ]] || zstd -q -c disk.raw > disk.raw.zst
[[ -s disk.raw.gz ]] || gzip -c disk.raw > disk.raw.gz

t () { # LABEL COMMAND...: wall-clock seconds of one run
  local s e
  s=$(date +%s.%N)
  "${@:2}"
  e=$(date +%s.%N)
  printf '%-44s %6.2f s\n' "$1" "$(echo "$e - $s" | bc)"
}

echo "disk: $mib MiB raw; zstd $(stat -c %s disk.raw.zst) bytes, gzip $(stat -c %s disk.raw.gz) bytes"
echo "load: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
for z in zst gz; do
  rm -f out.raw tmp.raw
  t "ferry convert disk.raw.$z out.raw" "$ferry" convert -q "disk.raw.$z" out.raw
  cmp out.raw disk.raw || { echo "bench: ferry output differs" >&2; exit 1; }
  rm -f out.raw
  if [[ $z == zst ]]; then dec=(zstd -q -dc disk.raw.zst); else dec=(gunzip -c disk.raw.gz); fi
  s=$(date +%s.%N)
  t "${dec[*]} > tmp.raw" sh -c '"$@" > tmp.raw' sh "${dec[@]}"
  t "qemu-img convert -f raw -O raw tmp.raw out.raw" qemu-img convert -f raw -O raw tmp.raw out.raw
  e=$(date +%s.%N)
  printf '%-44s %6.2f s\n' "  (decompress + qemu-img, total)" "$(echo "$e - $s" | bc)"
  cmp out.raw disk.raw || { echo "bench: qemu-img output differs" >&2; exit 1; }
  rm -f out.raw tmp.raw
done
