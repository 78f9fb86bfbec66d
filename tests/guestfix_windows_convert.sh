# ferry convert on Windows VMs described by a .vmx, end to end: the phony
# Windows disks of fixtures/guest/make-windows-guest.sh as streamOptimized
# VMDKs, a fake virtio-win (fixtures/guest/make-virtio-win.sh).
#  - Windows Server 2022 (BIOS, pvscsi, vmxnet3) with --virtio-win ISO:
#    the 2k22 drivers, boot-start viostor and its DriverDatabase binding,
#    the first-boot service; libvirt XML valid, virtio disk and NIC; the
#    report lists the drivers and the first-boot actions;
#  - Windows 11 Pro (UEFI, LSI Logic SAS, vmxnet3, ProductName "Windows 10
#    Pro" as real ones say, build 22631) with VIRTIO_WIN=DIR instead of the
#    option: the w11 drivers are chosen; Fast Startup is on but there is no
#    hiberfil.sys: converted, with a note in the report;
#  - the same VMs without virtio-win (or with a path that does not
#    exist): refused before anything is copied, naming --virtio-win and
#    VIRTIO_WIN; no output directory is created;
#  - Windows 11 shut down with Fast Startup (HiberbootEnabled=1 and a
#    hiberfil.sys with a non-HIBR, non-zero header): ferry guestfix refuses
#    it, explaining Fast Startup and how to turn it off; disk unchanged.
# The converted disks are read back with guestfish (one appliance launch
# for both) and hivexget; the XML with virt-xml-validate and python.
source "$(dirname "$0")/lib.sh"
source "$SRCDIR/fixtures/guest/testlib.sh"
gf_need
need hivexget hivexregedit virt-xml-validate
command -v xorriso >/dev/null || command -v genisoimage >/dev/null \
  || skip "neither xorriso nor genisoimage is installed"
unset VIRTIO_WIN

fx=$(bash "$SRCDIR/fixtures/guest/make-windows-guest.sh") \
  || fail "building the Windows guest fixtures failed"
# The client fixture is what libguestfs calls a Windows 10.0 client.
for l in 'type: windows' 'product: Windows 10 Pro' 'major: 10' 'minor: 0' \
         'variant: Client' 'arch: x86_64' 'controlset: ControlSet001' \
         'hostname: win11-pc'; do
  grep -qx -- "$l" "$fx/win11.inspect" \
    || fail "fixture inspection lacks '$l': $(cat "$fx/win11.inspect")"
done
bash "$SRCDIR/fixtures/guest/make-virtio-win.sh" vw vw.iso 2> /dev/null \
  || fail "building the fake virtio-win failed"

for v in win2022 win11; do
  qemu-img convert -q -f raw -O vmdk -o subformat=streamOptimized \
    "$fx/$v.img" "$v.vmdk"
done
sum_2022=$(gf_sha win2022.vmdk)
sum_11=$(gf_sha win11.vmdk)
cp --sparse=always "$fx/faststartup.img" fast.img
sum_fast=$(gf_sha fast.img)

vmx_one_disk win2022.vmx win2022 windows2019srv-64 4096 2 win2022.vmdk 00:50:56:0a:0b:01 bios pvscsi
vmx_one_disk win11.vmx win11 windows11-64 4096 2 win11.vmdk 00:50:56:0a:0b:02 efi lsisas1068

# --- Windows Server 2022, --virtio-win ISO ---------------------------------
gf_ferry 0 convert -q win2022.vmx -o out1 --virtio-win "$PWD/vw.iso"
# --- Windows 11, VIRTIO_WIN=DIR, qcow2 -------------------------------------
VIRTIO_WIN=$PWD/vw gf_ferry 0 convert -q -O qcow2 win11.vmx -o out2
[[ $(gf_sha win2022.vmdk) == "$sum_2022" && $(gf_sha win11.vmdk) == "$sum_11" ]] \
  || fail "a source VMDK changed"

# The report: guest facts, drivers installed, first-boot actions pending.
# json_all FILE EXPR...: every Python EXPR over the JSON in FILE (bound to
# j, its "guest" object to g) is true; one interpreter for all of them.
json_all () {
  python3 - "$@" <<'PY' || fail "JSON check failed in $1"
import json, sys
j = json.load(open(sys.argv[1]))
g = j["guest"]
for e in sys.argv[2:]:
    if not eval(e, {"j": j, "g": g}):
        print(json.dumps(j, indent=1), file=sys.stderr)
        sys.exit("false: " + e)
PY
}
c1=() c2=()
for d in viostor vioscsi netkvm balloon viorng; do
  c1+=("any(c['step'] == 'windows-virtio' and c['what'].startswith('driver $d from virtio-win ') and '/2k22/amd64:' in c['what'] for c in g['changes'])")
  c2+=("any(c['step'] == 'windows-virtio' and c['what'].startswith('driver $d from virtio-win ') and '/w11/amd64:' in c['what'] for c in g['changes'])")
done
for p in 'install the virtio drivers with pnputil' 'install the QEMU guest agent' \
         'uninstall VMware Tools' 'bring offline disks online'; do
  c1+=("any(n['step'] == 'windows-firstboot' and n['text'].startswith('pending for the first boot: $p') for n in g['notes'])")
  c2+=("any(n['step'] == 'windows-firstboot' and n['text'].startswith('pending for the first boot: $p') for n in g['notes'])")
done
json_all out1/win2022.report.json "${c1[@]}" \
  'g["os_type"] == "windows" and g["committed"] and g["failed_step"] is None' \
  'g["product_name"] == "Windows Server 2022 Standard" and j["vm"]["firmware"] == "bios"' \
  'any(c["file"] == "/Windows/System32/drivers/viostor.sys" and c["what"].startswith("boot disk driver viostor from virtio-win viostor/2k22/amd64/") for c in g["changes"])' \
  'any(c["step"] == "windows-registry" and c["file"].endswith("Services\\viostor") for c in g["changes"])' \
  'not any("Fast Startup" in n["text"] for n in g["notes"])'
json_all out2/win11.report.json "${c2[@]}" \
  'g["os_type"] == "windows" and g["committed"] and g["failed_step"] is None' \
  'g["product_name"] == "Windows 10 Pro" and j["vm"]["firmware"] == "efi"' \
  'any(c["file"] == "/Windows/System32/drivers/viostor.sys" and c["what"].startswith("boot disk driver viostor from virtio-win viostor/w11/amd64/") for c in g["changes"])' \
  'any(n["step"] == "inspect" and "Fast Startup is enabled" in n["text"] and "no hiberfil.sys" in n["text"] and "HiberbootEnabled" in n["text"] for n in g["notes"])'
note "ok: reports list the drivers and the pending first-boot actions"

# The libvirt XML: valid, Windows, virtio disk and NIC, no VMware devices.
for x in out1/win2022.xml out2/win11.xml; do
  virt-xml-validate "$x" domain > /dev/null || fail "$x does not validate"
done
python3 - out1/win2022.xml out2/win11.xml <<'PY' || fail "libvirt XML checks"
import sys, xml.etree.ElementTree as ET
for f, fw in zip(sys.argv[1:], (None, "efi")):
    d = ET.parse(f).getroot()
    disks = [e for e in d.findall("devices/disk") if e.get("device") == "disk"]
    assert len(disks) == 1, f + ": one disk expected"
    assert disks[0].find("target").get("bus") == "virtio", f + ": disk bus not virtio"
    nics = d.findall("devices/interface")
    assert len(nics) == 1 and nics[0].find("model").get("type") == "virtio", f + ": NIC not virtio"
    assert nics[0].find("mac").get("address").startswith("00:50:56:0a:0b:"), f
    assert d.find("clock").get("offset") == "localtime", f + ": not set up as Windows"
    assert d.find("os").get("firmware") == fw, f + ": firmware"
    assert not d.findall("devices/controller[@model='vmpvscsi']"), f
PY
note "ok: libvirt XML valid, virtio disk bus and virtio NIC"

# --- without virtio-win: refused before the copy, nothing written ----------
gf_ferry 2 convert -q win2022.vmx -o out3
grep -qxF 'ferry: win2022.vmx: guestOS "windows2019srv-64" is Windows, and its conversion needs the virtio drivers: give the virtio-win ISO or directory with --virtio-win PATH or VIRTIO_WIN=PATH (or copy the disks only with --no-guestfix); nothing was converted' "$T/stderr" \
  || fail "no clear error without virtio-win"
[[ ! -e out3 ]] || fail "out3 was created: $(ls -R out3)"
VIRTIO_WIN= gf_ferry 2 convert -q win11.vmx -o out3
grep -qF 'guestOS "windows11-64" is Windows' "$T/stderr" \
  || fail "an empty VIRTIO_WIN was taken as a path"
gf_ferry 1 convert -q win2022.vmx -o out3 --virtio-win "$PWD/missing.iso"
grep -qx "ferry: virtio-win $PWD/missing.iso: No such file or directory" "$T/stderr" \
  || fail "no clear error for a missing virtio-win path"
[[ ! -e out3 ]] || fail "out3 was created: $(ls -R out3)"
note "ok: Windows VM without virtio-win refused before the copy, nothing written"

# --- Fast Startup: refused, disk unchanged ---------------------------------
gf_ferry 1 guestfix --virtio-win vw fast.img
grep -q '^ferry: guestfix step inspect failed (fast.img is unchanged): fast.img: Windows on /dev/sda1 was shut down with Fast Startup (HKLM\\SYSTEM\\ControlSet001\\Control\\Session Manager\\Power\\HiberbootEnabled is 1 and hiberfil.sys, 65536 bytes, holds a saved session: header "RSTR")' "$T/stderr" \
  || fail "no clear Fast Startup refusal"
for w in 'hibernates the Windows kernel session into hiberfil.sys' \
         'powercfg /h off' 'hold Shift while choosing Shut down' \
         'shutdown /s /full'; do
  grep -qF -- "$w" "$T/stderr" || fail "the Fast Startup refusal does not say '$w'"
done
[[ $(gf_sha fast.img) == "$sum_fast" ]] || fail "fast.img changed"
note "ok: Windows shut down with Fast Startup refused, disk unchanged"

# --- read back both converted disks: one appliance launch ------------------
fb=/Windows/ferry/firstboot
gf_oracle out.txt --format=raw -a out1/win2022-sda.raw \
  --format=qcow2 -a out2/win11-sda.qcow2 <<EOF
run
mount-ro /dev/sda1 /
echo ==viostor.sys==
cat /Windows/System32/drivers/viostor.sys
echo ==netkvm.sys==
cat /Windows/Drivers/VirtIO/netkvm.sys
echo ==scripts==
ls $fb/scripts
echo ==end==
download /Windows/System32/config/SYSTEM $PWD/SYSTEM
download /Windows/System32/config/SOFTWARE $PWD/SOFTWARE
umount-all
mount-ro /dev/sdb1 /
echo ==w11-viostor.sys==
cat /Windows/System32/drivers/viostor.sys
echo ==w11-vioscsi.sys==
cat /Windows/System32/drivers/vioscsi.sys
echo ==w11-virtio==
ls /Windows/Drivers/VirtIO
echo ==w11-netkvm.sys==
cat /Windows/Drivers/VirtIO/netkvm.sys
echo ==w11-scripts==
ls $fb/scripts
echo ==end==
download /Windows/System32/config/SYSTEM $PWD/SYSTEM-w11
download /Windows/System32/config/SOFTWARE $PWD/SOFTWARE-w11
EOF
gf_is out.txt viostor.sys 'fake virtio-win viostor/2k22/amd64/viostor.sys'
gf_is out.txt netkvm.sys 'fake virtio-win NetKVM/2k22/amd64/netkvm.sys'
gf_is out.txt w11-viostor.sys 'fake virtio-win viostor/w11/amd64/viostor.sys'
gf_is out.txt w11-vioscsi.sys 'fake virtio-win vioscsi/w11/amd64/vioscsi.sys'
gf_is out.txt w11-netkvm.sys 'fake virtio-win NetKVM/w11/amd64/netkvm.sys'
scripts=$(printf '%s\n' 10-virtio-drivers.bat 20-qemu-guest-agent.bat \
            30-remove-vmware-tools.bat 40-disks-online.bat)
gf_is out.txt scripts "$scripts"
gf_is out.txt w11-scripts "$scripts"
expected=$(printf '%s\n' balloon.{cat,inf,sys} blnsvr.exe netkvm.{cat,inf,sys} \
             netkvmco.exe netkvmp.exe qemu-ga-x86_64.msi vioscsi.{cat,inf,pdb,sys} \
             viorng.{cat,inf,sys} viorngci.dll viorngum.dll viostor.{cat,inf,pdb,sys} | sort)
[[ $(gf_section out.txt w11-virtio | sort) == "$expected" ]] \
  || fail "win11 Drivers/VirtIO: $(gf_section out.txt w11-virtio)"

# hivexget KEY prints every value as "Name"=type:value.
key () { hivexget "$1" "$2" > key.txt || fail "hivexget $1 '$2' failed"; }
has () { grep -qxF -- "$1" key.txt || fail "$2: no line '$1' in: $(cat key.txt)"; }
for h in SYSTEM SYSTEM-w11; do
  key $h 'ControlSet001\Services\viostor'
  has '"Type"=dword:00000001' "$h viostor"
  has '"Start"=dword:00000000' "$h viostor"
  has '"Group"="SCSI miniport"' "$h viostor"
  has '"ImagePath"=str(2):"system32\\drivers\\viostor.sys"' "$h viostor"
  key $h 'DriverDatabase\DeviceIds\PCI\VEN_1AF4&DEV_1042&SUBSYS_11001AF4&REV_01'
  has '"ferry_viostor.inf"=hex(3):01,ff,00,00' "$h DeviceIds"
  key $h 'ControlSet001\Services\ferry-firstboot'
  has '"Start"=dword:00000002' "$h ferry-firstboot"
  has '"ImagePath"=str(2):"%SystemRoot%\\System32\\cmd.exe /c start /b %SystemRoot%\\ferry\\firstboot\\run.bat"' "$h ferry-firstboot"
done
for s in SOFTWARE SOFTWARE-w11; do
  [[ $(hivexget $s 'Microsoft\Windows\CurrentVersion' DevicePath) == '%SystemRoot%\inf;%SystemRoot%\Drivers\VirtIO' ]] \
    || fail "$s DevicePath: $(hivexget $s 'Microsoft\Windows\CurrentVersion' DevicePath)"
done
# Fast Startup was reported, not changed.
[[ $(hivexget SYSTEM-w11 'ControlSet001\Control\Session Manager\Power' HiberbootEnabled) == 1 ]] \
  || fail "HiberbootEnabled changed"
[[ $(hivexget SOFTWARE-w11 'Microsoft\Windows NT\CurrentVersion' CurrentBuild) == 22631 ]] \
  || fail "win11 CurrentBuild changed"

note "ok: Windows Server 2022 and Windows 11 converted by ferry convert: 2k22 and w11 drivers, boot-start viostor, DriverDatabase, first-boot service, DevicePath"
