#!/bin/bash
# Incremental sync from an NBD export's dirty bitmap: a qcow2 source with a
# persistent bitmap, written with qemu-io between rounds, exported by
# qemu-nbd -B; after every round the raw and qcow2 targets equal it.
source "$(dirname "$0")/lib.sh"
need qemu-img qemu-io qemu-nbd

MiB=1048576
size=$((128 * MiB))
qemu-img create -q -f qcow2 src.qcow2 $size
qemu-io -f qcow2 -c "write -P 0x11 0 8M" -c "write -P 0x22 60M 3M" -c "write -P 0x33 127M 1M" src.qcow2 > /dev/null
qemu-img bitmap --add src.qcow2 b0
sock=$T/nbd.sock
uri="nbd+unix:///?socket=$sock"

qemu_nbd_start "$sock" -r -f qcow2 src.qcow2
for fmt in raw qcow2; do
  run_ferry sync -q -O $fmt "$uri" dst.$fmt --state st-$fmt.json --change-id b0
done
qemu_nbd_stop "$sock"
for fmt in raw qcow2; do
  qemu-img compare -q -f qcow2 -F $fmt src.qcow2 dst.$fmt || fail "first sync $fmt differs"
done

for round in 1 2 3; do
  # Writes land in the bitmap of the previous round.
  qemu-io -f qcow2 \
    -c "write -P $((0x40 + round)) $((round * 5))M 64k" \
    -c "write -P $((0x50 + round)) $((round * 9 * MiB + 4096)) 12k" \
    -c "write -z $((60 + round))M 128k" \
    -c "write -P $((0x60 + round)) $((size - round * 65536)) 512" src.qcow2 > /dev/null
  qemu-img bitmap --add src.qcow2 b$round
  qemu_nbd_start "$sock" -r -f qcow2 -B b$((round - 1)) src.qcow2
  for fmt in raw qcow2; do
    "$FERRY" sync -v --progress=none "$uri" dst.$fmt --state st-$fmt.json \
      --bitmap b$((round - 1)) 2> "$T/stderr" || { cat "$T/stderr"; fail "round $round $fmt"; }
    check_no_sanitizer "$T/stderr"
    copied=$(sed -n 's/.*ranges (\([0-9]*\) copied.*/\1/p' "$T/stderr")
    (( copied <= 2 * MiB )) || fail "round $round $fmt: copied $copied bytes"
  done
  qemu_nbd_stop "$sock"
  qemu-img bitmap --remove src.qcow2 b$((round - 1))
  for fmt in raw qcow2; do
    qemu-img compare -q -f qcow2 -F $fmt src.qcow2 dst.$fmt || fail "round $round: $fmt differs"
  done
  qemu-img check -q dst.qcow2 || fail "round $round: qemu-img check dst.qcow2"
  note "round $round ok"
done

# A bitmap the server does not export.
qemu_nbd_start "$sock" -r -f qcow2 src.qcow2
expect_fail 1 "does not export the dirty bitmap 'nope'" \
  "$FERRY" sync -q "$uri" dst.raw --state st-raw.json --bitmap nope
qemu_nbd_stop "$sock"
note "NBD dirty bitmaps ok"
