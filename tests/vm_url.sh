#!/bin/bash
# ferry convert URL -o DIR for VM descriptions over HTTP (nginx on
# 127.0.0.1): a .vmx on an ESXi-style /folder/ datastore URL (its disks
# fetched next to it with ?dcPath=&dsName= kept, a snapshot delta chain, a
# "[datastore2] dir/x.vmdk" path mapped to the other datastore's /folder/
# URL, the .vmsd snapshot list read next to it), an .ovf on a plain web
# server, and one VirtualSystem of a vApp (--vm).  Oracles: qemu-img
# compare against the source files, virt-xml-validate, python's json for
# the report.  A missing disk (404) is a clear exit 1 naming the URL and
# leaves no output; a '..' disk path is refused.
source "$(dirname "$0")/lib.sh"
need qemu-img qemu-io nginx python3

start_nginx () {
  # ESXi datastores by name; anything else is a 404.
  nginx_start "$(cat <<EOF
  map \$arg_dsName \$dsdir { datastore1 ds1; datastore2 ds2; default ""; }
EOF
)" "$(cat <<EOF
    location ~ ^/folder/(?<dspath>.*)\$ {
      if (\$arg_dcPath != "ha-datacenter") { return 404; }
      if (\$dsdir = "") { return 404; }
      alias $T/\$dsdir/\$dspath;
    }
EOF
)"
}

xml_ok () {
  if command -v virt-xml-validate > /dev/null; then
    virt-xml-validate "$1" domain > /dev/null || fail "$1 does not validate"
  fi
}

# ---- datastore1: vm1 with a snapshot chain; datastore2: a shared disk ----
mkdir -p ds1/vm1 ds2/shared www/app www/shop
make_vmdk monolithicSparse ds1/vm1/vm1.vmdk 48M
qio ds1/vm1/vm1.vmdk "write -P 0x31 1M 1M" "write -P 0x32 40M 64k"
(cd ds1/vm1 && qemu-img create -q -f vmdk -b vm1.vmdk -F vmdk vm1-000001.vmdk)
qio ds1/vm1/vm1-000001.vmdk "write -P 0x41 1M 64k" "write -z 40M 64k" "write -P 0x42 47M 4k"
make_vmdk monolithicFlat ds2/shared/data.vmdk 16M
qio ds2/shared/data.vmdk "write -P 0x51 0 1M" "write -P 0x52 15M 4k"
cat > ds1/vm1/vm1.vmx <<'EOF'
.encoding = "UTF-8"
displayName = "vm1"
guestOS = "debian11-64"
memSize = "1024"
numvcpus = "2"
scsi0.virtualDev = "pvscsi"
scsi0.present = "TRUE"
scsi0:0.deviceType = "scsi-hardDisk"
scsi0:0.fileName = "vm1-000001.vmdk"
scsi0:0.present = "TRUE"
scsi0:1.deviceType = "scsi-hardDisk"
scsi0:1.fileName = "[datastore2] shared/data.vmdk"
scsi0:1.present = "TRUE"
ethernet0.virtualDev = "vmxnet3"
ethernet0.networkName = "VM Network"
ethernet0.addressType = "static"
ethernet0.address = "00:50:56:3f:00:11"
ethernet0.present = "TRUE"
EOF
cat > ds1/vm1/vm1.vmsd <<'EOF'
.encoding = "UTF-8"
snapshot.lastUID = "1"
snapshot.current = "1"
snapshot.numSnapshots = "1"
snapshot0.uid = "1"
snapshot0.filename = "vm1-Snapshot1.vmsn"
snapshot0.displayName = "before the move"
snapshot0.numDisks = "1"
snapshot0.disk0.fileName = "vm1.vmdk"
snapshot0.disk0.node = "scsi0:0"
EOF
# vm2: its second disk is missing (404).
mkdir -p ds1/vm2
make_vmdk monolithicSparse ds1/vm2/vm2.vmdk 8M
qio ds1/vm2/vm2.vmdk "write -P 0x61 0 64k"
sed -e 's/"vm1"/"vm2"/' -e 's/vm1-000001.vmdk/vm2.vmdk/' \
    -e 's/\[datastore2\] shared\/data.vmdk/vm2_1.vmdk/' ds1/vm1/vm1.vmx > ds1/vm2/vm2.vmx
# vm3: a disk outside its folder.
mkdir -p ds1/vm3
sed -e 's/"vm1"/"vm3"/' -e 's/vm1-000001.vmdk/..\/vm1\/vm1.vmdk/' \
    -e '/scsi0:1/d' ds1/vm1/vm1.vmx > ds1/vm3/vm3.vmx

# vm4: a disk that is a URL of its own.
mkdir -p ds1/vm4
sed -e 's/"vm1"/"vm4"/' -e 's|vm1-000001.vmdk|http://127.0.0.1:1/x.vmdk|' \
    -e '/scsi0:1/d' ds1/vm1/vm1.vmx > ds1/vm4/vm4.vmx

# ---- a plain web server: an OVF and a vApp ----
sed -e 's/ovf:capacity="40" ovf:capacityAllocationUnits="byte \* 2^30"/ovf:capacity="64" ovf:capacityAllocationUnits="byte * 2^20"/' \
    -e 's/ovf:capacity="100" ovf:capacityAllocationUnits="byte \* 2^30"/ovf:capacity="32" ovf:capacityAllocationUnits="byte * 2^20"/' \
    "$SRCDIR/fixtures/vm/vmware-export.ovf" > www/app/app01.ovf
grep -q 'capacity="64"' www/app/app01.ovf || fail "fixture edit failed"
for n in 1 2; do
  qemu-img create -q -f raw d$n.raw $((64 / n))M
  fill_random d$n.raw $((n * 1048576)) 1048576
  qemu-img convert -q -f raw -O vmdk -o subformat=streamOptimized d$n.raw www/app/app01-disk$n.vmdk
done
cp "$SRCDIR/fixtures/vm/vapp-collection.ovf" www/shop/shop.ovf
qemu-img create -q -f raw web.raw 64M
fill_random web.raw 0 65536
qemu-img convert -q -f raw -O vmdk -o subformat=streamOptimized web.raw www/shop/shop-web-disk1.vmdk
qemu-img create -q -f raw db.raw 32M
fill_random db.raw 1048576 65536
qemu-img convert -q -f raw -O vmdk -o subformat=streamOptimized db.raw www/shop/shop-db-disk1.vmdk

start_nginx
base=http://127.0.0.1:$PORT
q='dcPath=ha-datacenter&dsName=datastore1'

# ---- the .vmx on the datastore ----
url="$base/folder/vm1/vm1.vmx?$q"
run_ferry convert -q --no-guestfix "$url" -o out1
for f in vm1-sda.raw vm1-sdb.raw vm1.xml vm1.kubevirt.yaml vm1.report.json; do
  [[ -f out1/$f ]] || fail "out1/$f missing: $(ls out1)"
done
qemu-img compare -q -f vmdk -F raw ds1/vm1/vm1-000001.vmdk out1/vm1-sda.raw \
  || fail "vmx over http: sda differs from the delta chain"
qemu-img compare -q -f vmdk -F raw ds2/shared/data.vmdk out1/vm1-sdb.raw \
  || fail "vmx over http: sdb differs from [datastore2] shared/data.vmdk"
xml_ok out1/vm1.xml
grep -q 'mac address="00:50:56:3f:00:11"' out1/vm1.xml || fail "XML lacks the MAC"
python3 - out1/vm1.report.json "$PORT" <<'PY' || fail "vmx over http: report is wrong"
import json, sys
r = json.load(open(sys.argv[1]))
port = sys.argv[2]
d = r["disks"]
assert d[0]["source_path"] == f"http://127.0.0.1:{port}/folder/vm1/vm1-000001.vmdk?dcPath=ha-datacenter&dsName=datastore1", d[0]
assert d[1]["source_path"] == f"http://127.0.0.1:{port}/folder/shared/data.vmdk?dcPath=ha-datacenter&dsName=datastore2", d[1]
assert d[1]["source_file"] == "[datastore2] shared/data.vmdk"
s = r["snapshots"]
assert s["count"] == 1 and s["list"][0]["name"] == "before the move" and s["list"][0]["current"], s
assert s["file"].endswith("/folder/vm1/vm1.vmsd?dcPath=ha-datacenter&dsName=datastore1"), s["file"]
assert "current snapshot" in s["converted"], s
assert r["vm"]["memory_mib"] == 1024 and r["vm"]["vcpus"] == 2
PY
# The descriptions were fetched through the transport (in nginx's log).
grep -q 'GET /folder/vm1/vm1.vmsd?dcPath' nginx/access.log || fail "the .vmsd was not fetched"
note "ok: .vmx on an ESXi /folder/ URL"

# inspect over a URL: snapshots, resolved disk URLs.
run_ferry inspect --json "$url" > inspect.json
python3 - inspect.json <<'PY' || fail "inspect over http is wrong"
import json, sys
v = json.load(open(sys.argv[1]))
assert v["has_snapshots"] and len(v["snapshots"]) == 1, v["snapshots"]
assert v["snapshots"][0]["current"] and v["snapshots"][0]["parent"] is None
assert "dsName=datastore2" in v["disks"][1]["path"], v["disks"][1]
PY

# A missing disk: exit 1 naming the URL, nothing left in the output dir.
url2="$base/folder/vm2/vm2.vmx?$q"
expect_fail 1 "/folder/vm2/vm2_1.vmdk" "$FERRY" convert -q --no-guestfix "$url2" -o out2
expect_msg "404"
if ls out2/* > /dev/null 2>&1; then fail "404: outputs left behind: $(ls out2)"; fi
note "ok: a 404 disk is a clear error, no outputs"

# A disk outside the VM's folder.
expect_fail 1 "'..'" "$FERRY" convert -q --no-guestfix "$base/folder/vm3/vm3.vmx?$q" -o out3
if ls out3/* > /dev/null 2>&1; then fail "'..': outputs left behind"; fi

# A disk given as a URL of its own (credentials must not follow it).
expect_fail 1 "is a URL of its own" "$FERRY" convert -q --no-guestfix "$base/folder/vm4/vm4.vmx?$q" -o out3a
[[ ! -e out3a ]] || fail "a refused description created the output directory"
sed 's|ovf:href="app01-disk1.vmdk"|ovf:href="http://127.0.0.1:1/app01-disk1.vmdk"|' \
  www/app/app01.ovf > www/app/elsewhere.ovf
expect_fail 1 "refused: it is a URL" "$FERRY" convert -q --no-guestfix "$base/app/elsewhere.ovf" -o out3b
[[ ! -e out3b ]] || fail "a refused description created the output directory"

# ---- an OVF on a plain web server ----
run_ferry convert -q --no-guestfix "$base/app/app01.ovf" -o out4
for n in 1 2; do
  l=$([[ $n == 1 ]] && echo a || echo b)
  qemu-img compare -q -f raw -F raw d$n.raw out4/app01-sd$l.raw \
    || fail "ovf over http: disk $n differs"
done
xml_ok out4/app01.xml
note "ok: .ovf over http"

# ---- a vApp: one system chosen with --vm ----
expect_fail 1 "shop-web, shop-db" "$FERRY" convert -q --no-guestfix "$base/shop/shop.ovf" -o out5
expect_msg "choose one with --vm"
run_ferry convert -q --no-guestfix --vm shop-db "$base/shop/shop.ovf" -o out5
[[ $(ls out5 | grep -c '\.raw$') == 1 ]] || fail "--vm shop-db: expected one disk: $(ls out5)"
qemu-img compare -q -f raw -F raw db.raw out5/shop-db-sda.raw || fail "vApp: shop-db's disk differs"
grep -q 'mac address="00:50:56:8a:00:02"' out5/shop-db.xml || fail "vApp: shop-db's MAC"
xml_ok out5/shop-db.xml
grep -q "VirtualSystemCollection" out5/shop-db.report.json || fail "vApp: the report does not say only one system was converted"
note "ok: vApp --vm"
