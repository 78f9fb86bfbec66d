#!/bin/bash
# Bad input: each broken file gives exit 1, one error line naming the file
# and the offset or field and the reason, no crash or hang, and nothing
# left at DEST.
source "$(dirname "$0")/lib.sh"
need qemu-img qemu-io python3

size=$((40 * 1048576))
mixed_raw base.raw $size
qemu-img convert -q -f raw -O vmdk base.raw good.vmdk
qemu-img convert -q -f raw -O vmdk -o subformat=streamOptimized base.raw stream.vmdk

bad () { # bad NAME: a fresh copy of good.vmdk called NAME
  cp good.vmdk "$1"
}
conv () { # conv FILE REGEX [ferry options]: the standard bad-input checks
  local f=$1 re=$2
  shift 2
  rm -f out.raw
  timeout 60 true
  expect_input_error "$f" out.raw "$re" timeout 60 "$FERRY" convert -q "$@" "$f" out.raw
}

# Truncated: the grain tables point past the new end.
bad trunc.vmdk
truncate -s $(( $(stat -c %s trunc.vmdk) / 2 )) trunc.vmdk
conv trunc.vmdk "past the end of the file"

# A grain table entry pointing past EOF.
bad gte-eof.vmdk
vt set gte-eof.vmdk "$(vt gte gte-eof.vmdk 0)" '<I' 0x7ffffff0
vt set gte-eof.vmdk "$(vt gte gte-eof.vmdk 0 rgd)" '<I' 0x7ffffff0
conv gte-eof.vmdk "grain 0 \(LBA 0\) points to sector 2147483632, past the end"

# Two entries sharing a grain.
bad overlap.vmdk
g0=$(vt get overlap.vmdk "$(vt gte overlap.vmdk 0)" '<I')
for gd in "" rgd; do
  vt set overlap.vmdk "$(vt gte overlap.vmdk 16 $gd)" '<I' "$g0"
done
conv overlap.vmdk "grain 16 .*overlaps another grain"

# Absurd capacity (header offset 12) and a grain size that is not a power
# of two (offset 20).
bad cap.vmdk
vt set cap.vmdk 12 '<Q' 0x4000000000000000
conv cap.vmdk "capacity 4611686018427387904 sectors at offset 12 is absurdly large"
bad gran.vmdk
vt set gran.vmdk 20 '<Q' 100
conv gran.vmdk "grain size 100 sectors at offset 20 is not a power of two"

# A descriptor without extents, with an unknown createType, with a missing
# extent file, and with extents that do not add up to the files.
printf '# Disk DescriptorFile\nversion=1\nCID=1\nparentCID=ffffffff\ncreateType="monolithicFlat"\n' > noext.vmdk
conv noext.vmdk "has no extents"
printf 'createType="superSparse"\nRW 2048 FLAT "x.raw" 0\n' > unk.vmdk
head -c 1048576 /dev/zero > x.raw
conv unk.vmdk 'unknown createType "superSparse"'
printf 'createType="monolithicFlat"\nRW 2048 FLAT "gone-flat.vmdk" 0\n' > missing.vmdk
conv missing.vmdk "extent file 'gone-flat.vmdk'.*No such file"
printf 'createType="monolithicFlat"\nRW 4096 FLAT "x.raw" 0\n' > short.vmdk
conv short.vmdk "x.raw: file is 1048576 bytes, but the descriptor's extent needs 2097152"
qemu-img convert -q -f raw -O vmdk -o subformat=twoGbMaxExtentSparse base.raw split.vmdk
sed -i "s/^RW $((size / 512)) SPARSE/RW $((size / 512 + 128)) SPARSE/" split.vmdk
conv split.vmdk "extent line says $((size / 512 + 128)) sectors, but the sparse header's capacity is $((size / 512))"
printf 'createType="monolithicFlat"\nRW 2048 FLAT\n' > nofile.vmdk
conv nofile.vmdk "line 2: FLAT extent without a file name"
printf 'createType="monolithicFlat"\nRW lots FLAT "x.raw"\n' > nosize.vmdk
conv nosize.vmdk "line 2: extent size 'lots'"

# parentCID mismatch is in vmdk_chains.sh; here the embedded descriptor's
# createType is damaged.
bad ct.vmdk
vt replace ct.vmdk 'createType="monolithicSparse"' 'createType="monolithicSparsX"'
conv ct.vmdk 'unknown createType "monolithicSparsX"'

# streamOptimized: a grain that inflates to the wrong size, read by random
# access and as a stream.
cp stream.vmdk infl.vmdk
m=$(vt first-marker infl.vmdk)
vt recompress infl.vmdk "$m" 4096
conv infl.vmdk "compressed grain at offset $m .*inflates to 4096 bytes, expected 65536"
rm -f out.raw
expect_input_error "standard input" out.raw "compressed grain at offset $m .*inflates to 4096 bytes" \
  sh -c "exec \"\$0\" convert -q - out.raw < infl.vmdk" "$FERRY"

# A marker whose LBA lies outside the disk (stream) or does not match the
# grain table (random access).
cp stream.vmdk lba.vmdk
m=$(vt first-marker lba.vmdk)
vt set lba.vmdk "$m" '<Q' $((size / 512 + 128))
rm -f out.raw
expect_input_error "standard input" out.raw "grain marker at offset $m: LBA $((size / 512 + 128)) is outside the disk" \
  sh -c "exec \"\$0\" convert -q - out.raw < lba.vmdk" "$FERRY"
conv lba.vmdk "grain marker at offset $m has LBA $((size / 512 + 128))"

# A stream cut short.
head -c $(( $(stat -c %s stream.vmdk) / 2 )) stream.vmdk > cut.vmdk
rm -f out.raw
expect_input_error "standard input" out.raw "ends at offset .* without an end-of-stream marker" \
  sh -c "exec \"\$0\" convert -q - out.raw < cut.vmdk" "$FERRY"

# Text-mode damage of the newline test bytes.
bad nl.vmdk
vt set nl.vmdk 75 '<B' 0x0a
conv nl.vmdk "newline test bytes at offset 73 are damaged"

# The primary grain directory is damaged: the redundant copy is used and
# the user is told.
bad rgd.vmdk
vt set rgd.vmdk "$(vt gd rgd.vmdk)" '<I' 0x7ffffff0
run_ferry convert --progress=none rgd.vmdk rgd.raw
grep -q "primary grain directory is damaged.*using the redundant copy" "$T/stderr" \
  || fail "no warning about the redundant grain directory"
compare_raw rgd.raw base.raw

# Random garbage never crashes or hangs (and is not taken for a VMDK when
# forced).
for i in 1 2 3 4 5; do
  head -c $((i * 70000)) /dev/urandom > junk$i.bin
  rc=0
  timeout 60 "$FERRY" convert -q --source-format=vmdk junk$i.bin out.raw 2> "$T/stderr" || rc=$?
  check_no_sanitizer "$T/stderr"
  [[ $rc == 1 ]] || fail "junk$i.bin: exit $rc, expected 1"
  no_dest out.raw
done
note "bad input ok"
