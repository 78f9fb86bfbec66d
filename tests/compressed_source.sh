#!/bin/bash
# Compressed sources (gzip, xz, zstd, bzip2), recognised by their magic
# bytes whatever the file is called, decompressed as a stream: raw and
# streamOptimized VMDK images convert from a local file, from standard
# input and over HTTP; formats that need random access are refused with a
# "decompress it first" message; truncated and corrupted files exit 1
# naming the file and the uncompressed offset, leaving no output.  Oracle:
# qemu-img compare against the uncompressed images.
source "$(dirname "$0")/lib.sh"
need qemu-img gzip xz zstd bzip2 nginx python3

size=$((40 * MiB))
mixed_raw d.raw $size
qemu-img convert -q -f raw -O vmdk -o subformat=streamOptimized d.raw stream.vmdk
qemu-img convert -q -f raw -O vmdk d.raw sparse.vmdk
qemu-img convert -q -f raw -O qcow2 d.raw d.qcow2

mkdir www
for f in d.raw stream.vmdk; do
  gzip -c "$f" > "www/$f.gz"
  xz -T1 -c -3 "$f" > "www/$f.xz"
  zstd -q -c "$f" > "www/$f.zst"
done
bzip2 -c d.raw > www/d.raw.bz2
# A name that says nothing: detection is by content.
cp www/d.raw.zst www/plain.img

# same SOURCE-IMAGE SOURCE-FORMAT OUT: OUT has the image's contents.
same () {
  [[ $(stat -c %s "$3") == "$size" ]] || fail "$3: size $(stat -c %s "$3"), expected $size"
  qemu-img compare -q -f "$2" -F raw "$1" "$3" || fail "$3 differs from $1"
}

# 1. Local files, every compression, raw and streamOptimized.
for z in gz xz zst; do
  run_ferry convert -q "www/d.raw.$z" out.raw
  same d.raw raw out.raw
  run_ferry convert -q --overwrite "www/stream.vmdk.$z" out.raw
  same stream.vmdk vmdk out.raw
  rm -f out.raw
  note "ok: local .$z"
done
run_ferry convert -q www/d.raw.bz2 out.raw
same d.raw raw out.raw
run_ferry convert -v --overwrite www/plain.img out.raw
grep -q 'zstd-compressed' "$T/stderr" || fail "-v does not say the source is compressed"
same d.raw raw out.raw
# qcow2 output from a compressed stream.
run_ferry convert -q -O qcow2 www/stream.vmdk.zst out.qcow2
qemu-img compare -q -f vmdk -F qcow2 stream.vmdk out.qcow2 || fail "qcow2 output differs"
rm -f out.raw out.qcow2
note "ok: bzip2, detection by content, qcow2 output"

# 2. Several gzip members back to back (as pigz or cat a.gz b.gz make).
head -c $((size / 2)) d.raw | gzip -c > multi.gz
tail -c $((size / 2)) d.raw | gzip -c >> multi.gz
run_ferry convert -q multi.gz out.raw
same d.raw raw out.raw
rm -f out.raw
note "ok: multi-member gzip"

# 3. Standard input.
for z in gz xz zst; do
  run_ferry convert -q - out.raw < "www/stream.vmdk.$z"
  same stream.vmdk vmdk out.raw
  rm -f out.raw
done
cat www/d.raw.gz | run_ferry convert -q - out.raw
same d.raw raw out.raw
rm -f out.raw
note "ok: standard input"

# 4. HTTP (nginx, with Range support: the compressed file is still read
#    front to back).
start_nginx () { nginx_start; }
start_nginx
U=http://127.0.0.1:$PORT
for z in gz xz zst; do
  run_ferry convert -q "$U/d.raw.$z" out.raw
  same d.raw raw out.raw
  run_ferry convert -q --overwrite "$U/stream.vmdk.$z" out.raw
  same stream.vmdk vmdk out.raw
  rm -f out.raw
done
note "ok: HTTP"

# 5. Formats that need random access: refused, naming the file and saying
#    what to do; nothing written.
gzip -c sparse.vmdk > sparse.vmdk.gz
zstd -q -c d.qcow2 > d.qcow2.zst
expect_input_error sparse.vmdk.gz out.raw 'gzip-compressed: decompress it first' \
  "$FERRY" convert -q sparse.vmdk.gz out.raw
expect_input_error d.qcow2.zst out.raw 'zstd-compressed qcow2 .*decompress it first' \
  "$FERRY" convert -q d.qcow2.zst out.raw
note "ok: random-access formats refused"

# 6. Truncated files: exit 1, the file, the uncompressed offset; no output
#    (the target's .part file is removed).
for f in d.raw.gz d.raw.xz d.raw.zst d.raw.bz2 stream.vmdk.gz stream.vmdk.zst; do
  n=$(stat -c %s "www/$f")
  head -c $((n * 2 / 3)) "www/$f" > "trunc-$f"
  expect_input_error "trunc-$f" out.raw 'uncompressed offset [0-9]+.*truncated' \
    "$FERRY" convert -q "trunc-$f" out.raw
  [[ $f == stream.vmdk.* ]] || continue
  expect_input_error "standard input" out.raw 'uncompressed offset [0-9]+' \
    "$FERRY" convert -q - out.raw < "trunc-$f"
done
# Cut inside the gzip trailer: all data is there, the length check is not.
n=$(stat -c %s www/d.raw.gz)
head -c $((n - 3)) www/d.raw.gz > trail.gz
expect_input_error trail.gz out.raw 'truncated' "$FERRY" convert -q trail.gz out.raw
note "ok: truncated files"

# 7. Corrupted files: a flipped byte in the compressed data or in the gzip
#    CRC; each format's integrity check catches it.
flip () { # FILE OFFSET
  python3 - "$@" <<'PY'
import sys
path, off = sys.argv[1], int(sys.argv[2])
with open(path, "r+b") as f:
    f.seek(off); b = f.read(1); f.seek(off); f.write(bytes([b[0] ^ 0x5a]))
PY
}
for f in d.raw.gz d.raw.xz d.raw.zst d.raw.bz2; do
  cp "www/$f" "bad-$f"
  flip "bad-$f" $(($(stat -c %s "bad-$f") / 2))
  expect_input_error "bad-$f" out.raw 'corrupt .* data at uncompressed offset [0-9]+' \
    "$FERRY" convert -q "bad-$f" out.raw
done
cp www/d.raw.gz badcrc.gz
flip badcrc.gz $(($(stat -c %s badcrc.gz) - 6))
expect_input_error badcrc.gz out.raw "corrupt gzip data at uncompressed offset $size.*check" \
  "$FERRY" convert -q badcrc.gz out.raw
# Garbage after the gzip stream is not silently ignored.
{ cat www/d.raw.gz; echo garbage; } > tail.gz
expect_input_error tail.gz out.raw 'after the end of the gzip stream' \
  "$FERRY" convert -q tail.gz out.raw
note "ok: corrupted files"
