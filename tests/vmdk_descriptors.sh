#!/bin/bash
# Hand-written descriptors: mixed-case keys, comments, CRLF, several FLAT
# extents with offsets, ZERO and RDONLY extents, vmfs createTypes, and the
# path policy for extent files.
source "$(dirname "$0")/lib.sh"
need qemu-img cmp

truncate -s $((8 * 1048576)) whole.raw
for mb in 0 2 3 5 7; do fill_random whole.raw $((mb * 1048576 + 4096)) 200000; done
# Two flat files: the first holds 3 MiB of the disk after a 1 MiB prefix,
# the second the rest.  A ZERO extent of 1 MiB sits between them.
{ head -c 1048576 /dev/urandom; head -c $((3 * 1048576)) whole.raw; } > a-flat.bin
dd if=whole.raw of=b-flat.bin bs=1M skip=4 count=3 status=none
{ head -c $((3 * 1048576)) whole.raw; head -c 1048576 /dev/zero;
  dd if=whole.raw bs=1M skip=4 count=3 status=none; } > want.raw
dd if=/dev/zero of=want.raw bs=1M count=1 seek=7 conv=notrunc status=none
truncate -s $((8 * 1048576)) want.raw

printf '%s\r\n' \
  '# Disk DescriptorFile' \
  'VERSION=1' \
  'cid=fffffffe' \
  'ParentCID = ffffffff' \
  'CREATETYPE = "custom"' \
  '' \
  '# Extent description' \
  'RW 6144 FLAT "a-flat.bin" 2048' \
  'RDONLY 2048 ZERO' \
  'rdonly 6144 flat "b-flat.bin" 0' \
  'NOACCESS 2048 ZERO' \
  '#DDB' \
  'ddb.adapterType = "lsilogic"' > custom.vmdk
run_ferry convert -q custom.vmdk out.raw
compare_raw out.raw want.raw

# Every vmfs createType is a flat disk.
for ct in vmfs vmfsThin vmfsPreallocated vmfsEagerZeroedThick; do
  printf '# Disk DescriptorFile\nversion=1\nCID=12345678\nparentCID=ffffffff\ncreateType="%s"\nRW 16384 VMFS "whole.raw"\n' "$ct" > $ct.vmdk
  run_ferry convert -q $ct.vmdk $ct.raw
  compare_raw $ct.raw whole.raw
done

# Path policy: no '..' or absolute extent paths unless allowed.
mkdir sub
cp whole.raw "$T/abs.raw"
printf 'createType="monolithicFlat"\nRW 16384 FLAT "../whole.raw" 0\n' > sub/up.vmdk
expect_input_error sub/up.vmdk out2.raw "outside the descriptor's directory" \
  "$FERRY" convert -q sub/up.vmdk out2.raw
printf 'createType="monolithicFlat"\nRW 16384 FLAT "%s" 0\n' "$T/abs.raw" > sub/abs.vmdk
expect_input_error sub/abs.vmdk out2.raw "absolute path" \
  "$FERRY" convert -q sub/abs.vmdk out2.raw
run_ferry convert -q --allow-absolute-extents sub/up.vmdk out3.raw
compare_raw out3.raw whole.raw
run_ferry convert -q --allow-absolute-extents sub/abs.vmdk out4.raw
compare_raw out4.raw whole.raw

# A name with spaces, quoted.
cp whole.raw "disk one-flat.vmdk"
printf 'createType="monolithicFlat"\nRW 16384 FLAT "disk one-flat.vmdk" 0\n' > "disk one.vmdk"
run_ferry convert -q "disk one.vmdk" out5.raw
compare_raw out5.raw whole.raw
note "descriptors ok"
