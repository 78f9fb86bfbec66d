#!/bin/bash
# qcow2 output: qemu-img check finds no errors or leaks, qemu-img compare
# equals the source, qemu-img info shows the cluster size and compression
# type asked for, and qemu-io reads back the patterns written into the
# source.  A failed or killed run never leaves DEST; a killed run leaves a
# .part whose header has the dirty bit set.
source "$(dirname "$0")/lib.sh"
need qemu-img qemu-io python3

size=$((70 * 1048576 + 4096))   # not a cluster multiple
mixed_raw base.raw $size
# Compressible text over several clusters, and patterns qemu-io can check.
{ seq 1 400000 || :; } | head -c $((3 * 1048576)) \
  | dd of=base.raw bs=1M seek=40 conv=notrunc status=none
qemu-img convert -q -f raw -O vmdk -o subformat=streamOptimized base.raw s.vmdk
qemu-img convert -q -f raw -O vmdk base.raw m.vmdk
qio m.vmdk "write -P 0x5a 50M 192k" "write -P 0xa5 $((size - 4096)) 4096" "write -z 40M 64k"
qemu_raw m.vmdk m.raw

check_qcow2 () { # check_qcow2 SRC OUT CLUSTER COMPRESSION
  local src=$1 out=$2 cs=$3 ct=$4 rc=0
  qemu-img check -q "$out" || rc=$?
  [[ $rc == 0 ]] || { qemu-img check "$out" >&2; fail "$out: qemu-img check exit $rc"; }
  qemu-img compare -q -f vmdk -F qcow2 "$src" "$out" || fail "$out differs from $src"
  qemu-img info --output=json "$out" > info.json
  python3 - info.json "$cs" "$ct" <<'PY' || fail "$out: qemu-img info shows the wrong format details"
import json, sys
i = json.load(open(sys.argv[1]))
assert i["format"] == "qcow2", i
assert i["cluster-size"] == int(sys.argv[2]), i["cluster-size"]
d = i["format-specific"]["data"]
assert d["compat"] == "1.1", d
assert d["compression-type"] == sys.argv[3], d
PY
}

for opts in "" "--compress" "--compress=zlib" "--compress=zstd" \
            "--preallocate=metadata" "--cluster-size=4k" \
            "--cluster-size=2M --compress=zlib" "--cluster-size=512"; do
  cs=65536
  case $opts in *cluster-size=4k*) cs=4096 ;; *cluster-size=2M*) cs=2097152 ;;
                *cluster-size=512*) cs=512 ;; esac
  ct=zlib
  case $opts in --compress|*zstd*) ct=zstd ;; esac
  for src in s.vmdk m.vmdk; do
    rm -f out.qcow2
    run_ferry convert -q -O qcow2 $opts $src out.qcow2
    check_qcow2 $src out.qcow2 $cs $ct
  done
  # The patterns written with qemu-io read back through qemu's own driver.
  qemu-io -f qcow2 -c "read -P 0x5a 50M 192k" -c "read -P 0xa5 $((size - 4096)) 4096" \
          -c "read -P 0 40M 64k" out.qcow2 > qio.out || fail "qemu-io read failed"
  grep -q "Pattern verification failed" qio.out && fail "qemu-io pattern mismatch ($opts)"
  note "ok: qcow2 $opts"
done

# Compressed output is smaller than plain output of the same disk; zero
# clusters stay unallocated.
run_ferry convert -q -O qcow2 s.vmdk plain.qcow2
run_ferry convert -q -O qcow2 --compress=zstd s.vmdk small.qcow2
(( $(stat -c %s small.qcow2) < $(stat -c %s plain.qcow2) )) || fail "compression saved nothing"
qemu-img map --output=json plain.qcow2 > map.json
python3 - map.json $size <<'PY' || fail "plain.qcow2 allocates zero clusters"
import json, sys
m = json.load(open(sys.argv[1]))
data = sum(e["length"] for e in m if e["data"])
assert data < int(sys.argv[2]) // 4, data
PY

# --checksum on qcow2 output equals ferry checksum of the source.
rm -f c.qcow2
"$FERRY" convert --checksum --progress=none -O qcow2 m.vmdk c.qcow2 > sum.out 2> "$T/stderr"
check_no_sanitizer "$T/stderr"
want=$(python3 "$SRCDIR/tests/tools/sha256tree.py" m.raw | cut -d' ' -f1)
grep -q "$want" sum.out || fail "convert --checksum: $(cat sum.out) != $want"

# Refusals: existing DEST, qcow2 on a block-device path, bad options.
expect_fail 3 "already exists" "$FERRY" convert -q -O qcow2 s.vmdk c.qcow2
expect_fail 2 "cluster-size" "$FERRY" convert -q -O qcow2 --cluster-size=3000 s.vmdk x.qcow2
no_dest x.qcow2
expect_fail 2 "cannot be combined" "$FERRY" convert -q -O qcow2 --compress --preallocate=metadata s.vmdk x.qcow2
no_dest x.qcow2

# Bad input mid-way: no DEST, no .part.
cp s.vmdk cut.vmdk
truncate -s $(( $(stat -c %s cut.vmdk) * 2 / 3 )) cut.vmdk
expect_fail 1 "cut.vmdk" "$FERRY" convert -q -O qcow2 cut.vmdk cut.qcow2
no_dest cut.qcow2

# Killed mid-way: DEST absent, DEST.part dirty.  The source is a pipe fed
# half the stream and then held open, so ferry is blocked mid-copy.
mkfifo feed
( head -c $(( $(stat -c %s s.vmdk) / 2 )) s.vmdk; sleep 30 ) > feed &
feeder=$!
cleanup_hooks+=("kill $feeder 2>/dev/null")
"$FERRY" convert -q -O qcow2 - killed.qcow2 < feed &
pid=$!
for _ in $(seq 50); do [[ -s killed.qcow2.part ]] && break; sleep 0.2; done
sleep 1
kill -9 $pid
wait $pid 2>/dev/null || :
kill $feeder 2>/dev/null || :
[[ ! -e killed.qcow2 ]] || fail "a killed run left killed.qcow2"
[[ -e killed.qcow2.part ]] || fail "no killed.qcow2.part to inspect"
python3 - killed.qcow2.part <<'PY' || fail "the killed image's dirty bit is not set"
import struct, sys
h = open(sys.argv[1], "rb").read(80)
assert h[:4] == b"QFI\xfb"
assert struct.unpack(">Q", h[72:80])[0] & 1
PY
note "qcow2 target ok"
