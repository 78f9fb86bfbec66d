#!/bin/bash
# ferry convert VM.vmx -o DIR: disks, libvirt XML, KubeVirt YAML and the
# report in one command.  Oracles: qemu-img compare per disk, ferry's
# checksum against the independent sha256tree.py, virt-xml-validate and
# virsh's test driver for the XML, a YAML parser for the manifests.
# Critical pre-flight findings stop the run before anything is written.
source "$(dirname "$0")/lib.sh"
need qemu-img qemu-io python3

cp "$SRCDIR/fixtures/vm/esxi67-bios.vmx" web01.vmx
i=0
for f in web01.vmdk web01_1.vmdk; do
  make_vmdk monolithicSparse $f $((48 + i * 16))M
  qio $f "write -P $((0x30 + i)) 1M 1M" "write -P 0x77 $((30 + i))M 64k"
  i=$((i + 1))
done

for fmt in raw qcow2; do
  rm -rf out
  run_ferry convert -q --no-guestfix -O $fmt web01.vmx -o out
  ls out > listing
  for want in web01-sda.$fmt web01-sdb.$fmt web01.xml web01.kubevirt.yaml web01.report.json; do
    grep -qx "$want" listing || fail "$fmt: out/$want missing: $(cat listing)"
  done
  # sda is the boot disk, scsi0:0.
  qemu-img compare -q -f vmdk -F $fmt web01.vmdk out/web01-sda.$fmt || fail "sda differs"
  qemu-img compare -q -f vmdk -F $fmt web01_1.vmdk out/web01-sdb.$fmt || fail "sdb differs"
  qemu-img convert -O raw web01.vmdk sda.raw
  want=$(python3 "$SRCDIR/tests/tools/sha256tree.py" sda.raw | cut -d' ' -f1)
  python3 - out/web01.report.json "$want" $fmt "$PWD/out" <<'PY' || fail "$fmt: report is wrong"
import json, sys
r = json.load(open(sys.argv[1]))
d = r["disks"]
assert len(d) == 2, d
assert d[0]["checksum"] == sys.argv[2], (d[0]["checksum"], sys.argv[2])
assert d[0]["target_format"] == sys.argv[3]
assert d[0]["target_path"] == sys.argv[4] + "/web01-sda." + sys.argv[3]
assert d[0]["virtual_size"] == 48 * 1048576 and d[1]["virtual_size"] == 64 * 1048576
assert r["vm"]["memory_mib"] == 8192 and r["vm"]["vcpus"] == 4
assert any("usb" in json.dumps(w).lower() for w in r["warnings"]), r["warnings"]
PY
  if command -v virt-xml-validate > /dev/null; then
    virt-xml-validate out/web01.xml domain > /dev/null || fail "$fmt: XML does not validate"
  fi
  if command -v virsh > /dev/null; then
    virsh -q -c test:///default define out/web01.xml > /dev/null || fail "$fmt: virsh define failed"
  fi
  grep -q "source file=\"$PWD/out/web01-sda.$fmt\"" out/web01.xml || fail "XML does not point at sda"
  grep -q "mac address=\"00:0c:29:3a:5b:7c\"" out/web01.xml || fail "XML lacks the source MAC"
  python3 - out/web01.kubevirt.yaml <<'PY' || fail "$fmt: KubeVirt YAML is wrong"
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
vm = [d for d in docs if d["kind"] == "VirtualMachine"][0]
dom = vm["spec"]["template"]["spec"]["domain"]
assert dom["memory"]["guest"] in ("8Gi", "8192Mi"), dom["memory"]
assert dom["cpu"]["cores"] * dom["cpu"]["sockets"] == 4, dom["cpu"]
assert dom["devices"]["interfaces"][0]["macAddress"] == "00:0c:29:3a:5b:7c"
assert len([d for d in docs if d["kind"] in ("DataVolume", "PersistentVolumeClaim")]) == 2
PY
  note "$fmt: VM conversion ok"
done

# Existing disk files are not replaced without --overwrite.
expect_fail 3 "already exists" "$FERRY" convert -q --no-guestfix -O qcow2 web01.vmx -o out

# A critical finding (a multi-writer shared disk) stops before anything is
# written; --force goes on.
sed 's/^scsi0:1.fileName.*/&\nscsi0:1.sharing = "multi-writer"/' web01.vmx > shared.vmx
expect_fail 1 "critical" "$FERRY" convert -q shared.vmx -o out2
expect_msg "shared-disk"
[[ ! -e out2 ]] || fail "a stopped conversion created out2"
run_ferry convert -q --no-guestfix --force shared.vmx -o out2
[[ -e out2/web01.xml ]] || fail "--force did not convert"

# A disk file that is missing: a clear error naming it.
sed 's/web01_1.vmdk/gone.vmdk/' web01.vmx > missing.vmx
rc=0
"$FERRY" convert -q missing.vmx -o out3 2> "$T/stderr" || rc=$?
[[ $rc == 1 ]] || fail "missing disk: exit $rc"
grep -q "gone.vmdk" "$T/stderr" || fail "missing disk not named: $(cat "$T/stderr")"
note "convert VM ok"
