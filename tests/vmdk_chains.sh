#!/bin/bash
# Snapshot chains: reads fall through to parents; parentCID is checked;
# loops and chains deeper than 255 are refused.
source "$(dirname "$0")/lib.sh"
need qemu-img qemu-io cmp

size=$((20 * 1048576))
mixed_raw base.raw $size
qemu-img convert -q -f raw -O vmdk base.raw base.vmdk
qemu-img create -q -f vmdk -b base.vmdk -F vmdk s1.vmdk
qio s1.vmdk "write -P 0xa1 1M 64k" "write -z 4M 1M" "write -P 0xa2 $((size - 65536)) 65536"
qemu-img create -q -f vmdk -o zeroed_grain=on -b s1.vmdk -F vmdk s2.vmdk
qio s2.vmdk "write -P 0xb1 1032k 8k" "write -z 0 4k" "write -P 0xb2 4M 4k"
# A streamOptimized-free flat base under a sparse snapshot as well.
qemu-img convert -q -f raw -O vmdk -o subformat=monolithicFlat base.raw flatbase.vmdk
qemu-img create -q -f vmdk -b flatbase.vmdk -F vmdk fs1.vmdk
qio fs1.vmdk "write -P 0xc1 2M 100k"

check_convert s1.vmdk
check_convert s2.vmdk
check_convert fs1.vmdk

# parentCID mismatch: change the CID the snapshot expects.
cp s1.vmdk s1-orig.vmdk
cid=$(grep -a -o 'parentCID=[0-9a-f]*' s2.vmdk | cut -d= -f2)
# Same length, last hex digit changed: the descriptor's layout is unchanged.
last=${cid: -1}
bad=${cid%?}$(printf '%x' $(( (0x$last + 1) % 16 )))
vt replace s2.vmdk "parentCID=$cid" "parentCID=$bad"
expect_input_error s2.vmdk out.raw "parentCID 0*$bad does not match" \
  "$FERRY" convert -q s2.vmdk out.raw
expect_msg "ignore-cid"
run_ferry convert -q --ignore-cid s2.vmdk out.raw
vt replace s2.vmdk "parentCID=$bad" "parentCID=$cid"
qemu_raw s2.vmdk want.raw
compare_raw out.raw want.raw

# A missing parent names the file.
mv s1.vmdk s1.away
expect_input_error s2.vmdk out2.raw "s1.vmdk" "$FERRY" convert -q s2.vmdk out2.raw
mv s1.away s1.vmdk

# A parent outside the directory is refused like an extent.
mkdir d
printf 'CID=00000001\nparentCID=00000002\ncreateType="monolithicFlat"\nparentFileNameHint="../base.vmdk"\nRW 40960 ZERO\n' > d/up.vmdk
expect_input_error d/up.vmdk out3.raw "outside the descriptor's directory" \
  "$FERRY" convert -q d/up.vmdk out3.raw

# A loop: a -> b -> a.
printf 'CID=0000000a\nparentCID=0000000b\ncreateType="vmfsSparse"\nparentFileNameHint="b.vmdk"\nRW 2048 ZERO\n' > a.vmdk
printf 'CID=0000000b\nparentCID=0000000a\ncreateType="vmfsSparse"\nparentFileNameHint="a.vmdk"\nRW 2048 ZERO\n' > b.vmdk
expect_input_error a.vmdk out4.raw "loops" "$FERRY" convert -q a.vmdk out4.raw

# 300 links: deeper than 255.
for i in $(seq 0 299); do
  if [[ $i == 299 ]]; then hint=''; else hint="parentFileNameHint=\"l$((i + 1)).vmdk\""; fi
  printf 'CID=%08x\nparentCID=%08x\ncreateType="vmfsSparse"\n%s\nRW 2048 ZERO\n' \
    $i $((i + 1)) "$hint" > l$i.vmdk
done
expect_input_error l0.vmdk out5.raw "deeper than 255" "$FERRY" convert -q l0.vmdk out5.raw
# ...while 200 links are fine.
sed -i '/parentFileNameHint/d; s/^parentCID=.*/parentCID=ffffffff/' l200.vmdk
run_ferry convert -q l0.vmdk out6.raw
cmp out6.raw <(head -c 1048576 /dev/zero) || fail "zero chain is not zero"
note "chains ok"
