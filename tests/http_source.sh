#!/bin/bash
# HTTP sources served by nginx (Range support): every VMDK layout that
# spans several files (multi-extent, snapshot chains, descriptor plus flat
# extent) fetches its extent and parent files next to the descriptor; ESXi
# datastore URLs keep their ?dcPath=&dsName= query for those files; raw and
# streamOptimized work too; a missing URL is a clear exit 1; one and eight
# connections give the same bytes.  Oracle: qemu-img's conversion of the
# local files.
source "$(dirname "$0")/lib.sh"
need qemu-img qemu-io nginx python3 cmp

start_nginx () {
  # An ESXi datastore: files only with the datacenter and datastore.
  nginx_start "" "$(cat <<EOF
    location /folder/ {
      if (\$arg_dcPath != "ha-datacenter") { return 404; }
      if (\$arg_dsName != "datastore1") { return 404; }
      alias $T/datastore/;
    }
EOF
)"
}

mkdir -p www datastore/vm1
size=$((64 * MiB))
mixed_raw base.raw $size

# One of each: monolithicSparse, streamOptimized, raw, multi-extent
# sparse (a 5 GiB disk, so three 2 GiB extent files), a snapshot chain.
qemu-img convert -q -f raw -O vmdk base.raw www/sparse.vmdk
qemu-img convert -q -f raw -O vmdk -o subformat=streamOptimized base.raw www/stream.vmdk
cp base.raw www/disk.raw
make_vmdk twoGbMaxExtentSparse www/split.vmdk 5G
qio www/split.vmdk "write -P 0x5a 1M 1M" "write -P 0x5b $((2 * GiB - 32768)) 64k" \
  "write -P 0x5c $((5 * GiB - 65536)) 65536"
ls www/split-s00*.vmdk > /dev/null || fail "expected split extent files"
(cd www && qemu-img create -q -f vmdk -b sparse.vmdk -F vmdk snap1.vmdk)
qio www/snap1.vmdk "write -P 0xa1 1M 64k" "write -z 4M 1M"
(cd www && qemu-img create -q -f vmdk -b snap1.vmdk -F vmdk snap2.vmdk)
qio www/snap2.vmdk "write -P 0xb1 1032k 8k" "write -P 0xb2 $((size - 4096)) 4096"

# The datastore: a descriptor with its -flat.vmdk (as ESXi stores a thick
# disk) and a sparse snapshot on top of it.
qemu-img convert -q -f raw -O vmdk -o subformat=monolithicFlat base.raw datastore/vm1/disk.vmdk
(cd datastore/vm1 && qemu-img create -q -f vmdk -b disk.vmdk -F vmdk disk-000001.vmdk)
qio datastore/vm1/disk-000001.vmdk "write -P 0xd1 3M 128k"
grep -a -q 'disk-flat.vmdk' datastore/vm1/disk.vmdk || fail "no flat extent"

start_nginx
U=http://127.0.0.1:$PORT

# http_check URL LOCAL-VMDK [FORMAT] [FERRY-OPTIONS...]: ferry's conversion
# of URL equals qemu-img's conversion of the local file.
http_check () {
  local url=$1 local=$2 fmt=${3:-vmdk}
  shift 3 || shift $#
  rm -f out.raw want.raw
  run_ferry convert -q "$@" "$url" out.raw
  qemu_raw "$local" want.raw "$fmt"
  # qemu-img compare skips holes (cmp would read gigabytes of them).
  [[ $(stat -c %s out.raw) == $(stat -c %s want.raw) ]] || fail "$url: size differs"
  qemu-img compare -q -f raw -F raw want.raw out.raw || fail "$url: output differs"
  rm -f out.raw want.raw
  note "ok: $url $*"
}

http_check "$U/sparse.vmdk" www/sparse.vmdk vmdk
http_check "$U/stream.vmdk" www/stream.vmdk vmdk
http_check "$U/disk.raw" www/disk.raw raw
http_check "$U/split.vmdk" www/split.vmdk vmdk
http_check "$U/snap2.vmdk" www/snap2.vmdk vmdk
# Every extent and parent came over HTTP.
for f in split-s001.vmdk split-s003.vmdk snap1.vmdk sparse.vmdk; do
  grep -q "GET /$f " nginx/access.log || fail "$f was not fetched"
done

# Connections: one, and eight.
http_check "$U/sparse.vmdk" www/sparse.vmdk vmdk --connections=1
http_check "$U/snap2.vmdk" www/snap2.vmdk vmdk --connections=8 --threads=8

# ESXi datastore URLs: the extent and the parent are fetched with the
# same query (nginx answers 404 without it).
ds="$U/folder/vm1/disk-000001.vmdk?dcPath=ha-datacenter&dsName=datastore1"
http_check "$ds" datastore/vm1/disk-000001.vmdk vmdk
grep -q 'GET /folder/vm1/disk-flat.vmdk?dcPath=ha-datacenter&dsName=datastore1 ' \
  nginx/access.log || fail "disk-flat.vmdk was not fetched with the query"
# Without the query the server refuses: the message names the file and
# the status, and keeps the datastore parameters.
expect_fail 1 "HTTP status 404" "$FERRY" convert -q "$U/folder/vm1/disk.vmdk" out.raw
expect_msg "/folder/vm1/disk.vmdk: HTTP status 404"
no_dest out.raw

# info and checksum over HTTP agree with the local file.
run_ferry info "$ds" > info.txt
grep -q "^source: *$U/folder/vm1/disk-000001.vmdk?dcPath=ha-datacenter&dsName=datastore1\$" info.txt \
  || fail "info does not name the source: $(cat info.txt)"
want=$("$FERRY" checksum datastore/vm1/disk-000001.vmdk | cut -d' ' -f1)
got=$("$FERRY" checksum --connections=2 "$ds" | cut -d' ' -f1)
[[ $want == "$got" ]] || fail "checksum over HTTP $got, local $want"

# A missing file: exit 1, the URL and the status; nothing written.
expect_input_error "$U/missing.vmdk" out.raw "HTTP status 404" \
  "$FERRY" convert -q "$U/missing.vmdk" out.raw
# A missing extent file names the extent's URL.
cp www/split.vmdk www/split-bad.vmdk
sed -i 's/split-s002.vmdk/split-s009.vmdk/' www/split-bad.vmdk
expect_input_error "$U/split-s009.vmdk" out.raw "HTTP status 404" \
  "$FERRY" convert -q "$U/split-bad.vmdk" out.raw

# -v reports the source by its URL and the bytes read stay near the data.
run_ferry convert -v --overwrite "$U/sparse.vmdk" out.raw
grep -q "$U/sparse.vmdk: vmdk (monolithicSparse)" "$T/stderr" || fail "-v does not name the URL"
note "all HTTP sources ok"
