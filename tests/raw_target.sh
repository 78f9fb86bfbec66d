#!/bin/bash
# The raw target and the command line: no overwriting by accident, DEST
# appears only when complete, --preallocate, block
# devices checked for size, checksums that match an independent
# implementation, JSON progress, --help and --version.
source "$(dirname "$0")/lib.sh"
need qemu-img python3 du

size=$((36 * 1048576))
mixed_raw base.raw $size
qemu-img convert -q -f raw -O vmdk -o subformat=streamOptimized base.raw s.vmdk

# Existing DEST: refused (exit 3) and untouched; --overwrite replaces it.
echo precious > out.raw
expect_fail 3 "out.raw" "$FERRY" convert -q s.vmdk out.raw
expect_msg "exists.*--overwrite"
[[ $(cat out.raw) == precious ]] || fail "existing DEST was modified"
run_ferry convert -q --overwrite s.vmdk out.raw
compare_raw out.raw base.raw

# Sparse by default, fully allocated with --preallocate.
rm -f out.raw
run_ferry convert -q s.vmdk out.raw
(( $(du -B1 out.raw | cut -f1) < size / 2 )) || fail "raw output is not sparse"
run_ferry convert -q --preallocate s.vmdk full.raw
(( $(du -B1 full.raw | cut -f1) >= size )) || fail "--preallocate left holes"
compare_raw full.raw base.raw

# The copy's page-aligned writes bypass the page cache (O_DIRECT on a
# second descriptor of the .part file); a stream whose length is not a
# multiple of the page ends with a write through the page cache, and a
# file system without O_DIRECT (tmpfs) is written through it throughout.
need strace
# LeakSanitizer cannot run under ptrace; the leak check is done by every
# other run of this script.
traced () { ASAN_OPTIONS="$ASAN_OPTIONS:detect_leaks=0" strace -f -o "$T/strace" "$@"; }
head -c $((3 * 1048576 + 1234)) /dev/urandom > odd.raw
traced -e trace=openat "$FERRY" convert -q - odd.out < odd.raw \
  || fail "convert from standard input failed"
grep -q 'odd.out.part", O_WRONLY|O_DIRECT' "$T/strace" || fail "no O_DIRECT descriptor: $(grep odd.out "$T/strace")"
cmp odd.raw odd.out || fail "odd-sized stream differs"
rm -f out.raw
traced -e trace=openat,pwrite64 "$FERRY" convert -q s.vmdk out.raw \
  || fail "convert failed under strace"
direct_fd=$(grep -o 'out.raw.part", O_WRONLY|O_DIRECT[^)]*) = [0-9]*' "$T/strace" | grep -o '[0-9]*$')
[[ -n $direct_fd ]] || fail "no O_DIRECT descriptor for out.raw.part"
grep -q "pwrite64($direct_fd," "$T/strace" || fail "nothing written with O_DIRECT"
compare_raw out.raw base.raw
if [[ -d /dev/shm && -w /dev/shm ]]; then
  shm=$(mktemp -d /dev/shm/ferry-raw.XXXXXX)
  cleanup_hooks+=("rm -rf '$shm'")
  run_ferry convert -q s.vmdk "$shm/out.raw"
  compare_raw "$shm/out.raw" base.raw
  run_ferry convert -q - "$shm/odd.out" < odd.raw
  cmp odd.raw "$shm/odd.out" || fail "odd-sized stream on tmpfs differs"
fi

# Checksums: convert --checksum, ferry checksum of source and target, and
# the independent Python implementation of the same definition agree.
want=$(python3 "$SRCDIR/tests/tools/sha256tree.py" base.raw | cut -d' ' -f1)
rm -f out.raw
"$FERRY" convert --checksum --progress=json s.vmdk out.raw > "$T/stdout" 2> "$T/progress"
check_no_sanitizer "$T/progress"
grep -q "$want" "$T/stdout" "$T/progress" || fail "convert --checksum did not print $want"
for f in s.vmdk out.raw base.raw; do
  got=$("$FERRY" checksum "$f" | cut -d' ' -f1)
  [[ $got == "$want" ]] || fail "checksum of $f is $got, expected $want"
done
# Every progress line is a JSON object; the last one says done.
cat "$T/stdout" "$T/progress" > "$T/all"
python3 - "$T/all" <<'PY' || fail "bad JSON progress"
import json, sys
lines = [l for l in open(sys.argv[1]) if l.startswith("{")]
assert lines, "no JSON lines"
objs = [json.loads(l) for l in lines]
assert objs[-1]["event"] == "done", objs[-1]
assert objs[-1]["done"] == objs[-1]["total"] == 36 * 1048576, objs[-1]
PY

# --help tells the truth about the subcommands; --version prints one.
"$FERRY" --help > help.txt
for c in convert info checksum; do grep -q "^  $c " help.txt || fail "--help lacks $c"; done
"$FERRY" --version | grep -Eq '^ferry [0-9]+\.[0-9]+' || fail "bad --version"
"$FERRY" convert --help | grep -q -- '--overwrite' || fail "convert --help lacks --overwrite"
expect_fail 2 "unknown" "$FERRY" frobnicate
expect_fail 2 "" "$FERRY" convert --no-such-option s.vmdk x.raw

# Block devices: refuse one smaller than the disk; write one that fits.
if [[ $(id -u) == 0 ]] && command -v losetup > /dev/null; then
  truncate -s $((size - 1048576)) small.img
  truncate -s $((size + 1048576)) big.img
  if sdev=$(losetup -f --show small.img 2>/dev/null) \
     && bdev=$(losetup -f --show big.img 2>/dev/null); then
    cleanup_hooks+=("losetup -d $sdev" "losetup -d $bdev")
    expect_fail 3 "$sdev" "$FERRY" convert -q s.vmdk "$sdev"
    expect_msg "smaller than"
    # Stale data on the device must not survive where the disk has zeros.
    head -c $((size + 1048576)) /dev/urandom > big.img.fill
    dd if=big.img.fill of="$bdev" bs=1M status=none conv=fsync
    run_ferry convert -q s.vmdk "$bdev"
    cmp -n $size "$bdev" base.raw || fail "block device content differs"
  else
    note "no loop devices here; block device checks skipped"
  fi
else
  note "not root or no losetup; block device checks skipped"
fi
note "raw target ok"
