#!/bin/bash
# Every VMDK variant qemu-img can create converts to the same raw bytes
# qemu-img produces: sizes that are not grain multiples, zeroed grains,
# split extents past 2 GiB, streamOptimized through a pipe.
source "$(dirname "$0")/lib.sh"
need qemu-img qemu-io cmp

size=$((48 * 1048576 + 3 * 512))     # not a multiple of the 64 KiB grain
mixed_raw base.raw $size

for sub in monolithicSparse monolithicFlat twoGbMaxExtentSparse \
           twoGbMaxExtentFlat streamOptimized; do
  qemu-img convert -q -f raw -O vmdk -o subformat=$sub base.raw $sub.vmdk
  check_convert $sub.vmdk
done

# zeroed_grain=on: zero writes become GTE=1 grains.
make_vmdk monolithicSparse zg.vmdk $size -o zeroed_grain=on
qio zg.vmdk "write -P 0x11 0 1M" "write -z 256k 128k" "write -P 0x22 3M 70k" \
            "write -z 3M 64k"
check_convert zg.vmdk
run_ferry info --json zg.vmdk > zg.json
grep -q '"zero": *[1-9]' zg.json || fail "no zero extents reported: $(cat zg.json)"

# Split extents across the 2 GiB boundary: data in the first and the second
# extent files and straddling the boundary.
for sub in twoGbMaxExtentSparse twoGbMaxExtentFlat; do
  make_vmdk $sub big-$sub.vmdk 5G
  qio big-$sub.vmdk "write -P 0x33 1M 64k" \
                    "write -P 0x44 $((2048 * 1048576 - 32768)) 65536" \
                    "write -P 0x55 $((5120 * 1048576 - 512)) 512"
  ls big-$sub*.vmdk | wc -l | grep -qx 4 || fail "$sub: expected 3 extent files + descriptor"
  check_convert big-$sub.vmdk
done

# streamOptimized from a pipe (sequential mode).
qemu_raw streamOptimized.vmdk want.raw
"$FERRY" convert -q - piped.raw < streamOptimized.vmdk 2> "$T/stderr" \
  || { cat "$T/stderr"; fail "convert from stdin failed"; }
check_no_sanitizer "$T/stderr"
compare_raw piped.raw want.raw

# --sequential on a file takes the same path.
run_ferry convert -q --sequential streamOptimized.vmdk seq.raw
compare_raw seq.raw want.raw

# The checksum of a stream equals that of the file it holds (the stream
# path folds the same tree of digests).
sum_pipe=$("$FERRY" checksum - < streamOptimized.vmdk | cut -d' ' -f1)
sum_file=$("$FERRY" checksum base.raw | cut -d' ' -f1)
[[ $sum_pipe == "$sum_file" ]] || fail "checksum of the stream $sum_pipe != $sum_file"

# qemu ends its streams after the last grain, without an end-of-stream
# marker (its grain directory is at the front): a disk whose last grain
# holds data must still stream.
head -c 1048576 /dev/urandom > tail.raw
qemu-img convert -q -f raw -O vmdk -o subformat=streamOptimized tail.raw tail.vmdk
"$FERRY" convert -q - tail-out.raw < tail.vmdk 2> "$T/stderr" \
  || { cat "$T/stderr"; fail "a qemu stream without an end marker did not convert"; }
compare_raw tail-out.raw tail.raw

# A monolithicSparse cannot be streamed: a clear error, nothing left.
expect_fail 1 "streamOptimized" "$FERRY" convert -q - nope.raw < monolithicSparse.vmdk
no_dest nope.raw
note "all subformats match qemu-img"
