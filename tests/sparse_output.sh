#!/bin/bash
# Unallocated and zero grains are neither read nor written: a 10 GiB VMDK
# holding 100 MiB of data becomes a raw file using about 100 MiB, and
# converting it reads about 100 MiB from the source.
source "$(dirname "$0")/lib.sh"
need qemu-img du

MiB=1048576
truncate -s 10G sparse.raw
# 100 chunks of 1 MiB spread over the disk, plus a 4 MiB run of zeros
# written as data (zero detection must keep it out of the output).
for i in $(seq 0 99); do
  fill_random sparse.raw $((i * 103 * MiB + (i % 7) * 65536)) $MiB
done
head -c $((4 * MiB)) /dev/zero | dd of=sparse.raw bs=1M seek=$((10239 - 8)) conv=notrunc status=none

for sub in monolithicSparse streamOptimized; do
  qemu-img convert -q -f raw -O vmdk -o subformat=$sub sparse.raw $sub.vmdk
  "$FERRY" convert -v --progress=none $sub.vmdk out.raw 2> "$T/stderr" \
    || { cat "$T/stderr"; fail "convert $sub failed"; }
  cat "$T/stderr"
  check_no_sanitizer "$T/stderr"
  used=$(du -B1 out.raw | cut -f1)
  note "$sub: output uses $used bytes on disk"
  (( used >= 100 * MiB && used <= 108 * MiB )) \
    || fail "$sub: output uses $used bytes, expected about 100 MiB"
  read_bytes=$(sed -n 's/.*source bytes read: \([0-9]*\).*/\1/p' "$T/stderr")
  [[ $read_bytes ]] || fail "no 'source bytes read' in -v output"
  src=$(stat -c %s $sub.vmdk)
  note "$sub: read $read_bytes bytes of a $src byte source"
  (( read_bytes <= src + 4 * MiB )) \
    || fail "$sub: read $read_bytes bytes, more than the file ($src)"
  (( read_bytes <= 110 * MiB )) \
    || fail "$sub: read $read_bytes bytes for 100 MiB of data"
  # Same content as the original (cmp is fast on sparse files? not with
  # 10 GiB of holes: compare with qemu-img, which skips holes).
  qemu-img compare -q -f raw -F raw out.raw sparse.raw \
    || fail "$sub: output differs from the source"
  rm -f out.raw
done
note "sparse output ok"
