#!/bin/sh
# Generate small VMDK seed files for the fuzz targets into DIR.
#
#   make-seeds.sh DIR
#
# With qemu-img/qemu-io: monolithicSparse (with data, zero and unwritten
# grains), the same with zeroed grains, streamOptimized, the separate
# extent file of a twoGbMaxExtentSparse disk (a KDMV file without an
# embedded descriptor), and the descriptor text of monolithicFlat and
# twoGbMaxExtentSparse disks (*.descriptor).  With python3: hand-made COWD
# (vmfsSparse) and SESparse files.  With gzip/xz/zstd/bzip2: compressed
# copies of a small raw file and of the streamOptimized seed (*.gz, *.xz,
# *.zst, *.bz2).  Whatever tool is missing is skipped
# with a note; the script fails only if DIR cannot be written.
set -u

dir=${1:?usage: make-seeds.sh DIR}
mkdir -p "$dir" || exit 1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ferry-seeds.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM

note () { echo "make-seeds: $*" >&2; }

if command -v qemu-img >/dev/null 2>&1 && command -v qemu-io >/dev/null 2>&1
then
  # monolithicSparse, 4 MiB: a patterned grain, a partial grain, a zero
  # write and a grain at the very end; the rest never written.
  for variant in plain zeroed; do
    f=$tmp/sparse-$variant.vmdk
    opts=subformat=monolithicSparse
    [ "$variant" = zeroed ] && opts=$opts,zeroed_grain=on
    if qemu-img create -q -f vmdk -o "$opts" "$f" 4M &&
       qemu-io -f vmdk -c 'write -P 0xab 0 64k' -c 'write -P 0x5c 200k 3k' \
         -c 'write -z 1M 128k' -c 'write -P 0x01 4032k 64k' "$f" >/dev/null
    then
      cp "$f" "$dir/monolithic-sparse-$variant.vmdk"
    else
      note "qemu could not make a monolithicSparse ($variant) seed"
    fi
  done

  # streamOptimized, 2 MiB, from a raw file with some data in it.
  raw=$tmp/data.raw
  if qemu-img create -q -f raw "$raw" 2M &&
     qemu-io -f raw -c 'write -P 0x11 0 64k' -c 'write -P 0x22 512k 4k' \
       -c 'write -P 0x33 2040k 8k' "$raw" >/dev/null &&
     qemu-img convert -q -f raw -O vmdk -o subformat=streamOptimized \
       "$raw" "$tmp/stream.vmdk"
  then
    cp "$tmp/stream.vmdk" "$dir/stream-optimized.vmdk"
  else
    note "qemu could not make a streamOptimized seed"
  fi

  # monolithicFlat: only the descriptor (the -flat file is just data).
  if qemu-img create -q -f vmdk -o subformat=monolithicFlat "$tmp/flat.vmdk" 1M
  then
    cp "$tmp/flat.vmdk" "$dir/monolithic-flat.descriptor"
  else
    note "qemu could not make a monolithicFlat seed"
  fi

  # twoGbMaxExtentSparse: the descriptor, and the first extent file, which
  # is a KDMV sparse file with no descriptor of its own.
  if qemu-img create -q -f vmdk -o subformat=twoGbMaxExtentSparse \
       "$tmp/split.vmdk" 1M &&
     qemu-io -f vmdk -c 'write -P 0x77 64k 64k' "$tmp/split.vmdk" >/dev/null
  then
    cp "$tmp/split.vmdk" "$dir/two-gb-sparse.descriptor"
    [ -f "$tmp/split-s001.vmdk" ] &&
      cp "$tmp/split-s001.vmdk" "$dir/two-gb-sparse-s001.vmdk"
  else
    note "qemu could not make a twoGbMaxExtentSparse seed"
  fi
else
  note "qemu-img/qemu-io not found: no sparse or streamOptimized seeds"
fi

if command -v python3 >/dev/null 2>&1; then
  python3 - "$dir" <<'EOF' || note "python3 could not make COWD/SESparse seeds"
import struct, sys, os
out = sys.argv[1]

def sec(n):
    return n * 512

# COWD (vmfsSparse): 2048 sectors, grain 8 sectors, one grain directory
# entry at sector 4 pointing to a grain table (4096 x u32) at sector 5.
cap, gran, gd, gt, data = 2048, 8, 4, 5, 37
f = bytearray(sec(data + 2 * gran))
struct.pack_into("<4sIIIIII", f, 0, b"COWD", 1, 3, cap, gran, gd, 1)
struct.pack_into("<I", f, sec(gd), gt)
struct.pack_into("<I", f, sec(gt) + 0 * 4, data)          # grain 0
struct.pack_into("<I", f, sec(gt) + 3 * 4, data + gran)   # grain 3
f[sec(data):sec(data + gran)] = b"\xc0" * sec(gran)
f[sec(data + gran):sec(data + 2 * gran)] = b"\xd3" * sec(gran)
open(os.path.join(out, "cowd.vmdk"), "wb").write(f)

# SESparse: 2048 sectors; header at 0, volatile header at 1, grain
# directory at 2 (1 sector), grain tables at 3 (64 sectors), grains at 67.
cap, vol, gd, gt, gt_size, grains, n_grains = 2048, 1, 2, 3, 64, 67, 4
f = bytearray(sec(grains + 8 * n_grains))
struct.pack_into("<QQQQQQ", f, 0, 0xcafebabe, 0x200000001, cap, 8, 64, 0)
struct.pack_into("<QQ", f, 80, vol, 1)
struct.pack_into("<QQQQ", f, 128, gd, 1, gt, gt_size)
struct.pack_into("<QQ", f, 192, grains, 8 * n_grains)
struct.pack_into("<Q", f, sec(vol), 0xcafecafe)
struct.pack_into("<Q", f, sec(gd), 0x1000000000000000)     # table 0

def alloc(idx):
    return (3 << 60) | ((idx & 0xfff) << 48) | (idx >> 12)

for grain, raw in ((0, alloc(0)), (1, alloc(1)), (2, 2 << 60), (5, 1 << 60),
                   (255, alloc(3))):
    struct.pack_into("<Q", f, sec(gt) + grain * 8, raw)
for i in range(n_grains):
    f[sec(grains + 8 * i):sec(grains + 8 * (i + 1))] = bytes([0x40 + i]) * 4096
open(os.path.join(out, "sesparse.vmdk"), "wb").write(f)

# A KDMV file with no embedded descriptor at all (descriptor offset and size
# zero in the header), made from qemu's split extent when there is one:
# the reader then takes the capacity from the header.
src = os.path.join(out, "two-gb-sparse-s001.vmdk")
if os.path.exists(src):
    f = bytearray(open(src, "rb").read())
    struct.pack_into("<QQ", f, 28, 0, 0)
    open(os.path.join(out, "sparse-no-descriptor.vmdk"), "wb").write(f)

# streamOptimized the way VMware writes it: the header says the grain
# directory is at the end (GD_AT_END) and a footer (marker, header copy,
# end-of-stream marker) at the end of the file says where it is.
src = os.path.join(out, "stream-optimized.vmdk")
if os.path.exists(src):
    f = bytearray(open(src, "rb").read())
    footer = bytes(f[:512])
    struct.pack_into("<Q", f, 56, 0xffffffffffffffff)
    marker = bytearray(512)
    struct.pack_into("<QII", marker, 0, 1, 0, 3)
    f += marker + footer + bytes(512)
    open(os.path.join(out, "stream-gd-at-end.vmdk"), "wb").write(f)
EOF
else
  note "python3 not found: no COWD/SESparse seeds"
fi

# Compressed copies of a small raw image and of the streamOptimized seed,
# for the decompressing transport.
printf 'ferry seed %0500d\n' 0 > "$tmp/small.raw"
seq 1 15000 | head -c 70000 >> "$tmp/small.raw"
for src in "$tmp/small.raw" "$dir/stream-optimized.vmdk"; do
  [ -f "$src" ] || continue
  b=$(basename "$src")
  for z in gzip:gz xz:xz zstd:zst bzip2:bz2; do
    prog=${z%%:*}
    if command -v "$prog" >/dev/null 2>&1; then
      "$prog" -c < "$src" > "$dir/$b.${z#*:}" || note "$prog failed"
    else
      note "$prog not found: no .${z#*:} seeds"
    fi
  done
done
exit 0
