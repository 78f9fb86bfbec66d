#!/bin/bash
# Incremental sync with DiskChangeInfo JSON change lists: after every round
# of writes (random data, zeros, across cluster boundaries) the target
# equals the source, for raw and qcow2 targets, and each round copies
# about the size of its delta, not the disk.
source "$(dirname "$0")/lib.sh"
need qemu-img python3 cmp

MiB=1048576
size=$((96 * MiB))
mixed_raw src.raw $size

for fmt in raw qcow2; do
  dst=dst.$fmt
  rm -f $dst st-$fmt.json
  run_ferry sync -q -O $fmt src.raw $dst --state st-$fmt.json --change-id c0
  qemu-img compare -q -f raw -F $fmt src.raw $dst || fail "$fmt: first sync differs"
  [[ $fmt == qcow2 ]] && { qemu-img check -q $dst || fail "first sync: qemu-img check"; }
  grep -q '"change_id":"c0"' <(tr -d ' \n' < st-$fmt.json) || fail "state does not record c0"
done

prev=c0
for round in 1 2 3 4; do
  areas=()
  # Random writes, some unaligned to clusters, and zeroed ranges.
  for i in 1 2 3 4 5; do
    off=$(( (RANDOM * 4099 + round * 7919 * 512) % (size - 2 * MiB) / 512 * 512 ))
    len=$(( (RANDOM % 300 + 1) * 512 ))
    fill_random src.raw $off $len
    areas+=("$off:$len")
  done
  zoff=$(( (round * 13 + 5) * MiB ))
  head -c $((192 * 1024)) /dev/zero | dd of=src.raw bs=512 seek=$((zoff / 512)) conv=notrunc status=none
  areas+=("$zoff:$((192 * 1024))")
  # Overlapping writes are merged by the test, as CBT would report them.
  python3 - ch$round.json c$round $prev $size "${areas[@]}" <<'PY'
import json, sys
f, new, prev, size = sys.argv[1:5]
r = sorted((int(a.split(":")[0]), int(a.split(":")[1])) for a in sys.argv[5:])
m = []
for s, l in r:
    if m and s <= m[-1][0] + m[-1][1]:
        e = max(m[-1][0] + m[-1][1], s + l); m[-1][1] = e - m[-1][0]
    else:
        m.append([s, l])
json.dump({"changeId": new, "previousChangeId": prev, "startOffset": 0,
           "length": int(size),
           "changedArea": [{"start": s, "length": l} for s, l in m]}, open(f, "w"))
PY
  for fmt in raw qcow2; do
    "$FERRY" sync -v --progress=none src.raw dst.$fmt --state st-$fmt.json \
      --changes ch$round.json 2> "$T/stderr" || { cat "$T/stderr"; fail "round $round $fmt"; }
    check_no_sanitizer "$T/stderr"
    copied=$(sed -n 's/.*ranges (\([0-9]*\) copied.*/\1/p' "$T/stderr")
    (( copied < 4 * MiB )) || fail "round $round $fmt: copied $copied bytes for a small delta"
    qemu-img compare -q -f raw -F $fmt src.raw dst.$fmt || fail "round $round $fmt: target differs"
    [[ $fmt == qcow2 ]] && { qemu-img check -q dst.qcow2 || fail "round $round: qemu-img check"; }
  done
  prev=c$round
  note "round $round ok"
done

# The zeroed range became a hole in the raw target.
python3 - dst.raw $(( (4 * 13 + 5) * MiB )) <<'PY' || fail "zeroed range is allocated in dst.raw"
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
off = int(sys.argv[2])
assert os.lseek(fd, off, os.SEEK_HOLE) < off + 192 * 1024
PY

# A list with no changed areas (the guest wrote nothing since c4) is a valid
# sync: nothing copied, targets unchanged, the state moves to the new id.
changes_json ch4e.json c4e c4 $size
for fmt in raw qcow2; do
  run_ferry sync -q src.raw dst.$fmt --state st-$fmt.json --changes ch4e.json
  qemu-img compare -q -f raw -F $fmt src.raw dst.$fmt || fail "empty list $fmt: target differs"
  grep -q '"change_id":"c4e"' <(tr -d ' \n' < st-$fmt.json) || fail "empty list $fmt: state not at c4e"
done

# cutover --verify: the final sync and a checksum comparison (a data
# disk: guest conversion is tested in cutover_guestfix.sh).
fill_random src.raw $((50 * MiB)) 4096
changes_json ch5.json c5 c4e $size $((50 * MiB)):4096
for fmt in raw qcow2; do
  "$FERRY" cutover -q --no-guestfix --verify src.raw dst.$fmt --state st-$fmt.json --changes ch5.json > out.txt \
    || fail "cutover $fmt"
  grep -q "^verified: sha256-tree:" out.txt || fail "cutover $fmt: no verification line"
done
# ... and --verify catches a target that differs.
changes_json ch6.json c6 c5 $size 0:512
printf 'x' | dd of=dst.raw bs=1 seek=$((70 * MiB)) conv=notrunc status=none
expect_fail 3 "verification failed" "$FERRY" cutover -q --verify src.raw dst.raw --state st-raw.json --changes ch6.json
note "JSON change lists ok"
