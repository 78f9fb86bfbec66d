#!/bin/bash
# ferry inspect on the VM description fixtures (fixtures/vm/): each good
# .vmx/.ovf gives exit 0 and JSON whose memory, vCPUs, firmware, disk count
# and MACs are what the fixture says (checked with python3's json); each
# malformed one gives exit 1 and one error line naming the file and the
# reason.  Also: the table output, content sniffing for other file names,
# paths resolved next to the source, usage errors (exit 2).
source "$(dirname "$0")/lib.sh"
need python3

fx=$SRCDIR/fixtures/vm
cp "$fx"/* .

# check FIXTURE PYTHON-EXPRESSIONS...: inspect --json FIXTURE exits 0; the
# JSON has every documented field with its type, and each expression holds
# for vm (the JSON; disks, present, cdroms and macs are shorthands).  One
# python3 run per fixture: its startup is the slow part of this test.
check () {
  local f=$1
  shift
  run_ferry inspect --json "$f" > "$f.json"
  python3 - "$f.json" "$@" <<'EOF' || fail "$f: JSON check failed"
import json, sys
vm = json.load(open(sys.argv[1]))
S = (str, type(None))
top = {"source": str, "source_format": str, "name": str, "uuid": S,
       "guest_os": S, "annotation": S, "memory_mib": int, "vcpus": int,
       "cores_per_socket": int, "firmware": str, "secure_boot": bool,
       "nested_hv": bool, "vtpm": bool, "has_snapshots": bool,
       "usb_devices": int, "controllers": list, "disks": list, "nics": list,
       "serials": list, "warnings": list, "snapshot_file": S,
       "snapshots": list}
sub = {"snapshots": {"uid": int, "parent": (int, type(None)), "name": str,
                     "description": S, "current": bool},
       "controllers": {"bus": str, "index": int, "model": S, "present": bool,
                       "shared_bus": bool},
       "disks": {"kind": str, "bus": str, "controller": int, "unit": int,
                 "file": S, "path": S, "device_type": S, "mode": S,
                 "present": bool, "independent": bool, "rdm": bool,
                 "shared": bool, "capacity": int, "id": S},
       "nics": {"model": S, "mac": S, "mac_static": bool, "network": S,
                "present": bool, "start_connected": bool},
       "serials": {"type": S, "target": S}}
def fields(obj, spec, where):
    if set(obj) != set(spec):
        sys.exit(f"{where}: fields {sorted(obj)} != {sorted(spec)}")
    for k, t in spec.items():
        if not isinstance(obj[k], t) or (t is int and isinstance(obj[k], bool)):
            sys.exit(f"{where}.{k}: {obj[k]!r} is not {t}")
fields(vm, top, "vm")
for k, spec in sub.items():
    for i, o in enumerate(vm[k]):
        fields(o, spec, f"{k}[{i}]")
assert vm["firmware"] in ("bios", "efi")
assert all(w for w in vm["warnings"])
disks = [d for d in vm["disks"] if d["kind"] == "disk"]
present = [d for d in disks if d["present"]]
cdroms = [d for d in vm["disks"] if d["kind"] == "cdrom"]
macs = [n["mac"] for n in vm["nics"]]
ok = True
for expr in sys.argv[2:]:
    if not eval(expr):
        print(f"{sys.argv[1]}: not true: {expr}", file=sys.stderr)
        ok = False
sys.exit(0 if ok else 1)
EOF
}

note "good .vmx fixtures"
check esxi67-bios.vmx \
  'vm["source_format"] == "vmx"' 'vm["name"] == "web01"' \
  'vm["memory_mib"] == 8192' 'vm["vcpus"] == 4' 'vm["cores_per_socket"] == 2' \
  'vm["firmware"] == "bios"' 'not vm["secure_boot"]' \
  'vm["uuid"] == "564d1234-5678-9abc-def0-123456789abc"' \
  'len(disks) == 2' 'len(cdroms) == 1' \
  '[c["model"] for c in vm["controllers"] if c["bus"] == "scsi"] == ["lsilogic"]' \
  'macs == ["00:0c:29:3a:5b:7c"]' 'vm["nics"][0]["model"] == "e1000"' \
  'not vm["nics"][0]["mac_static"]' \
  'vm["annotation"] == "Web front end\nOwner: ops | team \"blue\""' \
  'disks[0]["path"].endswith("/web01.vmdk")' 'vm["usb_devices"] == 2'

check esxi7-efi-secureboot.vmx \
  'vm["memory_mib"] == 32768' 'vm["vcpus"] == 8' \
  'vm["firmware"] == "efi"' 'vm["secure_boot"]' 'vm["vtpm"]' \
  'vm["has_snapshots"]' \
  'sorted(c["bus"] for c in vm["controllers"]) == ["nvme", "sata", "scsi"]' \
  '[c["model"] for c in vm["controllers"] if c["bus"] == "scsi"] == ["pvscsi"]' \
  'len(disks) == 12' 'len(present) == 11' 'len(cdroms) == 1' \
  'sum(d["independent"] for d in disks) == 1' \
  'sum(d["rdm"] for d in disks) == 1' 'sum(d["shared"] for d in disks) == 1' \
  'macs == ["00:50:56:3f:00:01", "00:50:56:9a:12:34", "00:0c:29:ab:cd:ef"]' \
  '[n["mac_static"] for n in vm["nics"]] == [True, False, False]' \
  '[n["model"] for n in vm["nics"]] == ["vmxnet3", "vmxnet3", "e1000e"]' \
  'vm["serials"] == [{"type": "file", "target": "serial0.log"}]' \
  'any("independent-persistent" in w for w in vm["warnings"])' \
  'any("raw device mapping" in w for w in vm["warnings"])' \
  'any("multi-writer" in w for w in vm["warnings"])' \
  'any("snapshot" in w for w in vm["warnings"])' \
  'any("serial0" in w for w in vm["warnings"])' \
  'any("USB" in w for w in vm["warnings"])'

check esxi8-windows.vmx \
  'vm["memory_mib"] == 16384' 'vm["vcpus"] == 4' 'vm["firmware"] == "efi"' \
  'not vm["secure_boot"]' 'vm["nested_hv"]' \
  '[c["model"] for c in vm["controllers"] if c["bus"] == "scsi"] == ["lsisas1068"]' \
  'len(disks) == 2' 'macs == ["00:50:56:b1:22:33"]'

# The .vmsd next to it: the snapshot list, the current one marked.
check esxi7-snapshots.vmx \
  'vm["has_snapshots"]' 'vm["snapshot_file"].endswith("esxi7-snapshots.vmsd")' \
  '[s["name"] for s in vm["snapshots"]] == ["before upgrade", "after upgrade \"ok\""]' \
  '[s["current"] for s in vm["snapshots"]] == [False, True]' \
  '[s["parent"] for s in vm["snapshots"]] == [None, 1]' \
  'vm["snapshots"][0]["description"] == "Debian 11 as installed"' \
  'disks[0]["file"] == "db02-000002.vmdk"' \
  'any("current: \"after upgrade" in w for w in vm["warnings"])'
check esxi67-bios.vmx 'vm["snapshots"] == []' 'vm["snapshot_file"] is None'

note "good .ovf fixtures"
check vmware-export.ovf \
  'vm["source_format"] == "ovf"' 'vm["name"] == "app01"' \
  'vm["memory_mib"] == 4096' 'vm["vcpus"] == 2' 'vm["firmware"] == "efi"' \
  'vm["secure_boot"]' 'vm["nested_hv"]' 'len(disks) == 2' \
  '[d["capacity"] for d in disks] == [40 << 30, 100 << 30]' \
  '[d["id"] for d in disks] == ["vmdisk1", "vmdisk2"]' \
  'disks[0]["path"].endswith("/app01-disk1.vmdk")' \
  'macs == ["00:50:56:8a:1b:2c"]' 'vm["nics"][0]["network"] == "VM Network"'

check virtualbox-export.ovf \
  'vm["name"] == "devbox"' 'vm["memory_mib"] == 2048' 'vm["vcpus"] == 2' \
  'vm["firmware"] == "efi"' 'len(disks) == 2' 'len(cdroms) == 1' \
  '[d["bus"] for d in disks] == ["sata", "sata"]' \
  'macs == ["08:00:27:d1:e2:f3", "08:00:27:a4:b5:c6"]' \
  '[n["model"] for n in vm["nics"]] == ["e1000", "vlance"]'

# A vApp: one system chosen with --vm; without it the names are listed.
cp vapp-collection.ovf vapp.ovf
run_ferry inspect --json --vm shop-web vapp.ovf > vapp.json
python3 -c 'import json,sys; v = json.load(open("vapp.json")); assert v["name"] == "shop-web" and v["vcpus"] == 2 and v["nics"][0]["mac"] == "00:50:56:8a:00:01", v' \
  || fail "vApp --vm shop-web"
expect_fail 1 "shop-web, shop-db" "$FERRY" inspect vapp.ovf
expect_msg "choose one with --vm NAME"
expect_fail 1 'no VirtualSystem named "x"' "$FERRY" inspect --vm x vapp.ovf

note "malformed fixtures: exit 1, one line naming the file and the reason"
bad () { # bad FILE REGEX
  expect_fail 1 "$1" "$FERRY" inspect --json "$1"
  expect_error_line "$1"
  expect_msg "$2"
  [[ $(wc -l < "$T/stderr") == 1 ]] || fail "$1: more than one line on stderr"
  [[ ! -s $T/stdout ]] || fail "$1: output despite the error"
}
bad unterminated-quote.vmx 'line 3: key memSize: unterminated quoted value'
bad duplicate-key.vmx 'line 8: duplicate key MEMSIZE \(already set on line 3\)'
bad bad-memsize.vmx 'line 3: key memSize: expected a decimal number, not "lots"'
bad huge-vcpus.vmx 'line 4: key numvcpus: .* too large \(maximum 4096'
bad no-equals.vmx "line 3: .*no '='"
bad billion-laughs.ovf 'line 2: document type declaration .* refused'
bad external-entity.ovf 'line 2: document type declaration .* refused'
bad bad-units.ovf 'AllocationUnits "furlongs \* 2\^20" is not a unit of bytes'
bad missing-disk-ref.ovf 'HostResource "ovf:/disk/vmdisk2" names no Disk'
# The entity's target is never read into anything.
grep -q root: "$T/stderr" && fail "external entity content leaked"

note "table output"
run_ferry inspect esxi7-efi-secureboot.vmx > table.txt
for want in 'name:        db-cluster-a' 'firmware:    efi (secure boot)' \
            'scsi0:2      disk   yes      independent-persistent' \
            '00:50:56:3f:00:01 static' 'warnings:'; do
  grep -F -q -- "$want" table.txt || fail "table lacks '$want'"
done

note "format by content; paths next to the source"
cp vmware-export.ovf descriptor.xml
cp esxi8-windows.vmx config.txt
mkdir -p sub
cp esxi67-bios.vmx sub/
run_ferry inspect --json descriptor.xml > sniff1.json
run_ferry inspect --json config.txt > sniff2.json
run_ferry inspect --json "$T/sub/esxi67-bios.vmx" > abs.json
python3 - "$T" <<'EOF' || fail "format by content / paths next to the source"
import json, sys
a = json.load(open("sniff1.json")); b = json.load(open("sniff2.json"))
assert a["source_format"] == "ovf" and b["source_format"] == "vmx", (a, b)
vm = json.load(open("abs.json"))
assert vm["disks"][0]["path"] == sys.argv[1] + "/sub/web01.vmdk", vm["disks"][0]
EOF

note "usage and unreadable sources"
run_ferry inspect --help > help.txt
for field in memory_mib vcpus firmware disks nics mac start_connected warnings; do
  grep -q -- "$field" help.txt || fail "--help does not document $field"
done
expect_fail 2 "expected one SOURCE" "$FERRY" inspect
expect_fail 2 "Usage" "$FERRY" inspect --bogus esxi8-windows.vmx
expect_fail 2 "expected one SOURCE" "$FERRY" inspect a.vmx b.vmx
expect_fail 1 "nonexistent.vmx" "$FERRY" inspect nonexistent.vmx
expect_fail 1 "is a directory" "$FERRY" inspect sub
: > empty.ovf
expect_fail 1 "empty.ovf" "$FERRY" inspect empty.ovf
echo ok
