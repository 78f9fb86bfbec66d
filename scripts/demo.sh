#!/bin/bash
# Install what is missing, build ferry, and convert a generated sample VMDK
# (streamOptimized, as in an OVA export) to a sparse raw disk, then show
# that the result equals the source by an independent check.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh build/release RelWithDebInfo -DBUILD_TESTING=OFF > /dev/null
ferry=$PWD/build/release/ferry

demo=${TMPDIR:-/tmp}/ferry-demo
rm -rf "$demo"
mkdir -p "$demo"
cd "$demo"

# A 1 GiB disk: random data and text in a few places, the rest empty.
truncate -s 1G sample.raw
head -c 32M /dev/urandom | dd of=sample.raw bs=1M seek=1 conv=notrunc status=none
{ seq 1 2000000 || :; } | head -c 16M | dd of=sample.raw bs=1M seek=500 conv=notrunc status=none
head -c 1M /dev/urandom | dd of=sample.raw bs=1M seek=1023 conv=notrunc status=none
qemu-img convert -f raw -O vmdk -o subformat=streamOptimized sample.raw sample.vmdk

echo "== the source"
"$ferry" info sample.vmdk
echo
echo "== ferry convert --checksum sample.vmdk disk.raw"
"$ferry" convert --checksum --progress=plain sample.vmdk disk.raw
echo
echo "== the result"
ls -ls disk.raw
"$ferry" info disk.raw
echo
echo "== independent checks"
qemu-img compare -f vmdk -F raw sample.vmdk disk.raw
"$ferry" checksum sample.vmdk disk.raw
echo
echo "Demo files are in $demo"
