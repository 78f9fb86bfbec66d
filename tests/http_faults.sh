#!/bin/bash
# HTTP faults, from tests/tools/http_fault_server.py: connection resets and
# 503 answers are retried and the output is still exact; a file whose ETag
# changes during the copy aborts with the URL named and no DEST left; a
# server that ignores Range serves streamOptimized and raw (read front to
# back, restarted after a reset) and is refused clearly for
# monolithicSparse; --retries=0 gives up cleanly; a server refusing HEAD
# still works; proxies come from http_proxy; an OVA read ahead in Range
# requests survives resets and stops cleanly when the file changes.
source "$(dirname "$0")/lib.sh"
need qemu-img python3 cmp

export no_proxy=127.0.0.1 NO_PROXY=127.0.0.1
unset http_proxy HTTP_PROXY https_proxy HTTPS_PROXY all_proxy ALL_PROXY

mkdir www
size=$((32 * MiB))
mixed_raw www/disk.raw $size
fill_random www/disk.raw $((8 * MiB)) $((6 * MiB))
qemu-img convert -q -f raw -O vmdk www/disk.raw www/sparse.vmdk
qemu-img convert -q -f raw -O vmdk -o subformat=streamOptimized www/disk.raw www/stream.vmdk
(cd www && qemu-img create -q -f vmdk -b sparse.vmdk -F vmdk snap.vmdk)
qemu-io -f vmdk -c "write -P 0x77 5M 3M" www/snap.vmdk > /dev/null
qemu_raw www/snap.vmdk snap-want.raw

# The interpreter itself (a version manager's shim can take a second to
# start it, every time).
PY=$(python3 -c 'import sys; print(sys.executable)')

# fault NAME ARGS...: start the fault server with ARGS; sets U (its URL)
# and LOG (its request log).
fault () {
  local name=$1 i
  shift
  LOG=$T/$name.log
  "$PY" "$SRCDIR/tests/tools/http_fault_server.py" --root "$T/www" \
    --port-file "$T/$name.port" --log "$LOG" "$@" &
  cleanup_hooks+=("kill $! 2> /dev/null")
  for ((i = 0; i < 100; i++)); do
    [[ -s $T/$name.port ]] && break
    sleep 0.05
  done
  [[ -s $T/$name.port ]] || fail "fault server $name did not start"
  U=http://127.0.0.1:$(cat "$T/$name.port")
}

# same URL WANT-RAW [FERRY-OPTIONS...]: ferry converts URL to exactly WANT.
same () {
  local url=$1 want=$2
  shift 2
  rm -f out.raw
  run_ferry convert -q "$@" "$url" out.raw
  compare_raw out.raw "$want"
  rm -f out.raw
  note "ok: $url $*"
}

# Connection resets in the middle of answers: resumed where they broke.
fault drop --drop-after 300000 --drop-times 4
same "$U/disk.raw" www/disk.raw
grep -q 'drop after' "$LOG" || fail "no connection was dropped"
fault drop2 --drop-after 300000 --drop-times 4
same "$U/snap.vmdk" snap-want.raw --connections=2
[[ $(grep -c 'drop after' "$LOG") == 4 ]] || fail "expected 4 drops"

# 503 answers: at open (HEAD) and in the middle of the copy.
fault busy --fail-503 2
same "$U/sparse.vmdk" www/disk.raw
fault busy2 --fail-503 3 --fail-503-skip 4
same "$U/disk.raw" www/disk.raw --threads=2
[[ $(grep -c ' 503$' "$LOG") == 3 ]] || fail "expected 3 answers 503"

# --retries=0: the first reset is the end, cleanly.
fault drop0 --drop-after 300000 --drop-times 100
expect_input_error "$U/disk.raw" out.raw "giving up after 0 retries" \
  "$FERRY" convert -q --retries=0 "$U/disk.raw" out.raw
# More resets than retries: the same, after the retries.
expect_input_error "$U/disk.raw" out.raw "giving up after 2 retries" \
  "$FERRY" convert -q --retries=2 --connections=1 --threads=1 "$U/disk.raw" out.raw
# A server that keeps answering 503.
fault busy3 --fail-503 1000
expect_input_error "$U/disk.raw" out.raw "HTTP status 503" \
  "$FERRY" convert -q --retries=1 "$U/disk.raw" out.raw

# The file changes during the copy (another ETag from the 4th request on).
fault etag --etag-change-after 3
expect_input_error "$U/disk.raw" out.raw "changed during the transfer" \
  "$FERRY" convert -q "$U/disk.raw" out.raw
expect_msg "ETag"
fault etag2 --etag-change-after 6
expect_input_error "$U/sparse.vmdk" out.raw "changed during the transfer" \
  "$FERRY" convert -q "$U/sparse.vmdk" out.raw

# No Range support: raw and streamOptimized are read front to back...
fault norange --no-range
same "$U/stream.vmdk" www/disk.raw
same "$U/disk.raw" www/disk.raw
# ...but a monolithicSparse VMDK needs random access: said clearly.
expect_input_error "$U/sparse.vmdk" out.raw \
  "server does not support Range requests; a monolithicSparse VMDK needs random access" \
  "$FERRY" convert -q "$U/sparse.vmdk" out.raw
expect_fail 1 "server does not support Range requests" "$FERRY" info "$U/disk.raw"
# No Range and resets: the stream starts again and skips what it had.
fault norange-drop --no-range --drop-after 3000000 --drop-times 2
same "$U/stream.vmdk" www/disk.raw
[[ $(grep -c 'drop after' "$LOG") == 2 ]] || fail "expected 2 drops"
fault norange-drop0 --no-range --drop-after 3000000 --drop-times 2
expect_input_error "$U/disk.raw" out.raw "giving up after 0 retries" \
  "$FERRY" convert -q --retries=0 "$U/disk.raw" out.raw
# No Range, and the file changes: the restarted stream is refused.
fault norange-etag --no-range --drop-after 3000000 --drop-times 1 --etag-change-after 2
expect_input_error "$U/stream.vmdk" out.raw "changed during the transfer" \
  "$FERRY" convert -q "$U/stream.vmdk" out.raw

# An OVA with Range support is read ahead in chunks, each a request of its
# own: resets are resumed and the VM comes out exact; a file that changes
# during the walk stops it with no disk left behind.
mkdir ova
sed -e 's/ovf:capacity="40" ovf:capacityAllocationUnits="byte \* 2^30"/ovf:capacity="48" ovf:capacityAllocationUnits="byte * 2^20"/' \
    -e 's/ovf:capacity="100" ovf:capacityAllocationUnits="byte \* 2^30"/ovf:capacity="8" ovf:capacityAllocationUnits="byte * 2^20"/' \
    "$SRCDIR/fixtures/vm/vmware-export.ovf" > ova/app01.ovf
grep -q 'capacity="48"' ova/app01.ovf || fail "OVF fixture edit failed"
qemu-img create -q -f raw ova/d1.raw 48M
fill_random ova/d1.raw $((2 * MiB)) $((22 * MiB))
qemu-img create -q -f raw ova/d2.raw 8M
fill_random ova/d2.raw $((1 * MiB)) $((1 * MiB))
for n in 1 2; do
  qemu-img convert -q -f raw -O vmdk -o subformat=streamOptimized ova/d$n.raw ova/app01-disk$n.vmdk
done
sed -i -e "s/ovf:size=\"1306355712\"/ovf:size=\"$(stat -c %s ova/app01-disk1.vmdk)\"/" \
       -e "s/ovf:size=\"68608\"/ovf:size=\"$(stat -c %s ova/app01-disk2.vmdk)\"/" ova/app01.ovf
(cd ova && for f in app01.ovf app01-disk1.vmdk app01-disk2.vmdk; do
             echo "SHA256($f)= $(sha256sum $f | cut -d' ' -f1)"
           done > app01.mf
         tar --format=ustar -cf ../www/vm.ova app01.ovf app01.mf app01-disk1.vmdk app01-disk2.vmdk)
fault ova-drop --drop-after 3000000 --drop-times 3
run_ferry convert -q --no-guestfix "$U/vm.ova" -o ova-out
qemu-img compare -q -f raw -F raw ova/d1.raw ova-out/app01-sda.raw || fail "OVA with resets: sda differs"
qemu-img compare -q -f raw -F raw ova/d2.raw ova-out/app01-sdb.raw || fail "OVA with resets: sdb differs"
[[ $(grep -c 'drop after' "$LOG") == 3 ]] || fail "expected 3 drops"
(( $(grep -c 'GET /vm.ova' "$LOG") > 4 )) || fail "the OVA was not read in several requests"
fault ova-etag --etag-change-after 3
expect_fail 1 "changed during the transfer" "$FERRY" convert -q --no-guestfix "$U/vm.ova" -o ova-out2
left=$(find ova-out2 -name '*.raw*' 2> /dev/null || :)
[[ -z $left ]] || fail "disk outputs left behind: $left"
note "ok: OVA over HTTP read ahead, with resets and a changing file"

# A server that refuses HEAD: the size comes from the first range answer.
fault nohead --no-head
same "$U/sparse.vmdk" www/disk.raw
same "$U/disk.raw" www/disk.raw

# Proxies from the environment: a host that does not exist, reached
# through the fault server acting as a forward proxy.
fault proxy --proxy
rm -f out.raw
http_proxy=$U no_proxy= NO_PROXY= run_ferry convert -q http://ferry-test.invalid/sparse.vmdk out.raw
compare_raw out.raw www/disk.raw
grep -q 'GET http://ferry-test.invalid/sparse.vmdk' "$LOG" || fail "the proxy was not used"
note "all HTTP faults ok"
