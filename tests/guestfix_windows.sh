# ferry guestfix on a Windows guest: a phony Windows Server 2022 disk
# (NTFS, SYSTEM and SOFTWARE hives made with hivexregedit; libguestfs
# inspection says "Windows Server 2022", checked below) and a fake
# virtio-win tree and ISO with the real layout.
#  - hibernated guest (hiberfil.sys with a HIBR header): refused, disk
#    unchanged;
#  - virtio-win (a directory, through $VIRTIO_WIN) without viostor for
#    this Windows: refused naming the driver and path, disk unchanged;
#  - virtio-win ISO: the drivers for 2k22/amd64 copied, viostor.sys in
#    System32\drivers, the boot-start service and DriverDatabase entries,
#    DevicePath, the first-boot service and scripts;
#  - a Windows Server 2008 R2 disk and the virtio-win directory: the
#    2k8R2 drivers, bound through the CriticalDeviceDatabase instead;
# all read back with guestfish and hivexget (the oracles), not with ferry.
# Four appliance launches for ferry, one for reading back (plus one to
# build the guest disks when they are not cached yet).
source "$(dirname "$0")/lib.sh"
source "$SRCDIR/fixtures/guest/testlib.sh"
gf_need
need hivexget hivexregedit
command -v xorriso >/dev/null || command -v genisoimage >/dev/null \
  || skip "neither xorriso nor genisoimage is installed"

fx=$(bash "$SRCDIR/fixtures/guest/make-windows-guest.sh") \
  || fail "building the Windows guest fixture failed"

# The fixture is what libguestfs calls Windows Server 2022 (10.0 Server).
ins=$fx/win2022.inspect
for l in 'type: windows' 'product: Windows Server 2022 Standard' 'major: 10' \
         'minor: 0' 'variant: Server' 'arch: x86_64' 'systemroot: /Windows' \
         'controlset: ControlSet001' 'root: /dev/sda1' 'root: /dev/sdb1'; do
  grep -qx -- "$l" "$ins" || fail "fixture inspection lacks '$l': $(cat "$ins")"
done

cp --sparse=always "$fx/win2022.img" win.img
cp --sparse=always "$fx/hibernated.img" hib.img
cp --sparse=always "$fx/win2008r2.img" old.img
for l in 'type: windows' 'product: Windows Server 2008 R2 Standard' 'major: 6' \
         'minor: 1' 'variant: Server' 'arch: x86_64' 'controlset: ControlSet001'; do
  grep -qx -- "$l" "$fx/win2008r2.inspect" \
    || fail "fixture inspection lacks '$l': $(cat "$fx/win2008r2.inspect")"
done
grep -qx 'root: /dev/sdc1' "$ins" || fail "fixture: three roots expected: $(cat "$ins")"
bash "$SRCDIR/fixtures/guest/make-virtio-win.sh" vw vw.iso 2> /dev/null \
  || fail "building the fake virtio-win failed"
# The same tree without the block driver for Windows Server 2022.
cp -r vw vwbad
rm -r vwbad/viostor/2k22
sum_win=$(gf_sha win.img)
sum_hib=$(gf_sha hib.img)

# --- hibernated: refused before anything is mounted read-write -----------
gf_ferry 1 guestfix --virtio-win vw.iso hib.img
grep -q '^ferry: guestfix step inspect failed (hib.img is unchanged): hib.img: Windows on /dev/sda1 is hibernated (hiberfil.sys starts with "HIBR")' "$T/stderr" \
  || fail "no clear refusal of the hibernated guest"
[[ $(gf_sha hib.img) == "$sum_hib" ]] || fail "hib.img changed"
note "ok: hibernated Windows refused, disk unchanged"

# --- virtio-win without viostor for 2k22 ($VIRTIO_WIN, a directory) ------
VIRTIO_WIN=vwbad gf_ferry 1 guestfix win.img
grep -q '^ferry: guestfix step windows-virtio failed (win.img is unchanged): virtio-win vwbad has no viostor driver for Windows Server 2022 Standard (10.0 Server, build 20348, x86_64): expected viostor/2k22/amd64/viostor.sys' "$T/stderr" \
  || fail "no clear error for the missing boot driver"
[[ $(gf_sha win.img) == "$sum_win" ]] || fail "win.img changed after a failed run"
note "ok: virtio-win lacking viostor for this Windows refused, disk unchanged"

# --- the conversion, from the ISO ----------------------------------------
gf_ferry 0 guestfix --json --virtio-win "$PWD/vw.iso" win.img
cp "$T/stdout" win.json
gf_json win.json 'j["committed"] and j["os_type"] == "windows" and j["major"] == 10'
gf_json win.json 'any(c["step"] == "windows-virtio" and c["file"] == "/Windows/System32/drivers/viostor.sys" for c in j["changes"])'
gf_json win.json 'any(c["step"] == "windows-registry" and "Services\\viostor" in c["file"] for c in j["changes"])'
gf_json win.json 'any(c["step"] == "windows-firstboot" and c["file"].endswith("30-remove-vmware-tools.bat") for c in j["changes"])'
gf_json win.json 'any("{FE2F6A2C-196E-4210-9C04-2B1BC21F07EF}" in n["text"] for n in j["notes"])'
[[ $(gf_sha win.img) != "$sum_win" ]] || fail "win.img unchanged after a successful run"

# --- Windows Server 2008 R2, from the directory ---------------------------
gf_ferry 0 guestfix --virtio-win vw old.img
grep -q 'registry: Service="viostor", ClassGUID=' "$T/stdout" \
  || fail "no CriticalDeviceDatabase change listed: $(cat "$T/stdout")"

# --- read back: guestfish for files, hivexget for the registry -----------
fb=/Windows/ferry/firstboot
gf_oracle out.txt -a win.img -a old.img <<EOF
run
mount-ro /dev/sda1 /
echo ==virtio==
ls /Windows/Drivers/VirtIO
echo ==viostor.sys==
cat /Windows/System32/drivers/viostor.sys
echo ==vioscsi.sys==
cat /Windows/System32/drivers/vioscsi.sys
echo ==pvscsi.sys==
cat /Windows/System32/drivers/pvscsi.sys
echo ==scripts==
ls $fb/scripts
echo ==run.bat==
cat $fb/run.bat
echo ==drivers.bat==
cat $fb/scripts/10-virtio-drivers.bat
echo ==qemu-ga.bat==
cat $fb/scripts/20-qemu-guest-agent.bat
echo ==vmware.bat==
cat $fb/scripts/30-remove-vmware-tools.bat
echo ==disks.bat==
cat $fb/scripts/40-disks-online.bat
echo ==end==
download /Windows/System32/config/SYSTEM $PWD/SYSTEM
download /Windows/System32/config/SOFTWARE $PWD/SOFTWARE
umount-all
mount-ro /dev/sdb1 /
echo ==old-viostor.sys==
cat /Windows/System32/drivers/viostor.sys
echo ==old-virtio==
ls /Windows/Drivers/VirtIO
echo ==old-drivers.bat==
cat $fb/scripts/10-virtio-drivers.bat
echo ==end==
download /Windows/System32/config/SYSTEM $PWD/SYSTEM-2k8r2
EOF
# Batch files have DOS line ends (stripped for the checks below).
[[ $(gf_section out.txt run.bat | grep -c $'\r$') -gt 10 ]] \
  || fail "run.bat does not have DOS line ends"
sed -i 's/\r$//' out.txt

# The drivers for Windows Server 2022 on amd64, and nothing else.
expected=$(printf '%s\n' balloon.{cat,inf,sys} blnsvr.exe netkvm.{cat,inf,sys} \
             netkvmco.exe netkvmp.exe qemu-ga-x86_64.msi vioscsi.{cat,inf,pdb,sys} \
             viorng.{cat,inf,sys} viorngci.dll viorngum.dll viostor.{cat,inf,pdb,sys} | sort)
got=$(gf_section out.txt virtio | sort)
[[ $got == "$expected" ]] || fail "Drivers/VirtIO: expected
$expected
got
$got"
gf_is out.txt viostor.sys 'fake virtio-win viostor/2k22/amd64/viostor.sys'
gf_is out.txt vioscsi.sys 'fake virtio-win vioscsi/2k22/amd64/vioscsi.sys'
gf_is out.txt pvscsi.sys 'phony VMware pvscsi driver'
gf_is out.txt scripts "$(printf '%s\n' 10-virtio-drivers.bat 20-qemu-guest-agent.bat 30-remove-vmware-tools.bat 40-disks-online.bat)"
gf_has out.txt run.bat '^sc.exe delete ferry-firstboot'
gf_has out.txt run.bat 'FAILED \(exit code %rc%\), going on'
for inf in balloon netkvm vioscsi viorng viostor; do
  gf_has out.txt drivers.bat "^call :inf $inf\\.inf$"
done
gf_has out.txt drivers.bat '^pnputil /add-driver "%F%" /install$'
gf_has out.txt qemu-ga.bat '^msiexec /i "%SystemRoot%\\Drivers\\VirtIO\\qemu-ga-x86_64.msi" /qn /norestart'
gf_has out.txt vmware.bat '^msiexec /x \{FE2F6A2C-196E-4210-9C04-2B1BC21F07EF\} /qn /norestart REBOOT=ReallySuppress'
gf_has out.txt disks.bat '^echo san policy=OnlineAll'

# hivexget KEY prints every value as "Name"=type:value.
key () { hivexget "$1" "$2" > key.txt || fail "hivexget $1 '$2' failed"; }
has () { grep -qxF -- "$1" key.txt || fail "$2: no line '$1' in: $(cat key.txt)"; }

key SYSTEM 'ControlSet001\Services\viostor'
has '"Type"=dword:00000001' viostor
has '"Start"=dword:00000000' viostor
has '"ErrorControl"=dword:00000001' viostor
has '"Group"="SCSI miniport"' viostor
has '"ImagePath"=str(2):"system32\\drivers\\viostor.sys"' viostor
[[ $(wc -l < key.txt) == 5 ]] || fail "viostor: unexpected values: $(cat key.txt)"
key SYSTEM 'ControlSet001\Services\vioscsi'
has '"Start"=dword:00000000' vioscsi
has '"ImagePath"=str(2):"system32\\drivers\\vioscsi.sys"' vioscsi

# Windows 8 and later: the DriverDatabase binds the virtio ids.
for id in VEN_1AF4\&DEV_1001\&SUBSYS_00021AF4\&REV_00 VEN_1AF4\&DEV_1042\&SUBSYS_11001AF4\&REV_01; do
  key SYSTEM "DriverDatabase\\DeviceIds\\PCI\\$id"
  has '"ferry_viostor.inf"=hex(3):01,ff,00,00' "DeviceIds $id"
  key SYSTEM "DriverDatabase\\DriverPackages\\ferry_viostor.inf_boot\\Descriptors\\PCI\\$id"
  has '"Configuration"="ferry_viostor_boot"' "Descriptors $id"
done
for id in VEN_1AF4\&DEV_1004\&SUBSYS_00081AF4\&REV_00 VEN_1AF4\&DEV_1048\&SUBSYS_11001AF4\&REV_01; do
  key SYSTEM "DriverDatabase\\DeviceIds\\PCI\\$id"
  has '"ferry_vioscsi.inf"=hex(3):01,ff,00,00' "DeviceIds $id"
done
key SYSTEM 'DriverDatabase\DriverPackages\ferry_viostor.inf_boot\Configurations\ferry_viostor_boot'
has '"Service"="viostor"' configuration
has '"ConfigFlags"=dword:00000000' configuration
key SYSTEM 'DriverDatabase\DriverInfFiles\ferry_viostor.inf'
has '"Active"="ferry_viostor.inf_boot"' DriverInfFiles
key SYSTEM 'DriverDatabase\DriverPackages\ferry_viostor.inf_boot'
has '"Version"=hex(3):00,ff,09,00,00,00,00,00,7b,e9,36,4d,25,e3,ce,11,bf,c1,08,00,2b,e1,03,18,00,00,00,00,00,00,00,00,00,00,00,00,00,00,00,00,00,00,00,00,00,00,00,00' package

# The first-boot service.
key SYSTEM 'ControlSet001\Services\ferry-firstboot'
has '"Type"=dword:00000010' ferry-firstboot
has '"Start"=dword:00000002' ferry-firstboot
has '"ObjectName"="LocalSystem"' ferry-firstboot
has '"ImagePath"=str(2):"%SystemRoot%\\System32\\cmd.exe /c start /b %SystemRoot%\\ferry\\firstboot\\run.bat"' ferry-firstboot

# What was there stays.
key SYSTEM 'ControlSet001\Services\pvscsi'
has '"Start"=dword:00000000' pvscsi
[[ $(hivexget SYSTEM Select Current) == 1 ]] || fail "Select\\Current changed"

[[ $(hivexget SOFTWARE 'Microsoft\Windows\CurrentVersion' DevicePath) == '%SystemRoot%\inf;%SystemRoot%\Drivers\VirtIO' ]] \
  || fail "DevicePath: $(hivexget SOFTWARE 'Microsoft\Windows\CurrentVersion' DevicePath)"
[[ $(hivexget SOFTWARE 'Microsoft\Windows NT\CurrentVersion' ProductName) == 'Windows Server 2022 Standard' ]] \
  || fail "ProductName changed"
# Windows Server 2008 R2: the 2k8R2 drivers, the CriticalDeviceDatabase.
gf_is out.txt old-viostor.sys 'fake virtio-win viostor/2k8R2/amd64/viostor.sys'
gf_has out.txt old-virtio '^netkvm\.inf$'
gf_has out.txt old-drivers.bat '^pnputil -i -a "%F%"$'
cdd='ControlSet001\Control\CriticalDeviceDatabase'
for id in 'viostor VEN_1AF4&DEV_1001&SUBSYS_00021AF4&REV_00' \
          'viostor VEN_1AF4&DEV_1042&SUBSYS_11001AF4&REV_01' \
          'vioscsi VEN_1AF4&DEV_1004&SUBSYS_00081AF4&REV_00' \
          'vioscsi VEN_1AF4&DEV_1048&SUBSYS_11001AF4&REV_01'; do
  key SYSTEM-2k8r2 "$cdd\\PCI#${id#* }"
  has "\"Service\"=\"${id%% *}\"" "CriticalDeviceDatabase ${id#* }"
  has '"ClassGUID"="{4D36E97B-E325-11CE-BFC1-08002BE10318}"' "CriticalDeviceDatabase ${id#* }"
done
key SYSTEM-2k8r2 'ControlSet001\Services\viostor'
has '"Start"=dword:00000000' "2008 R2 viostor"
has '"ImagePath"=str(2):"system32\\drivers\\viostor.sys"' "2008 R2 viostor"
if hivexget SYSTEM-2k8r2 DriverDatabase > /dev/null 2>&1; then
  fail "a DriverDatabase was added to Windows Server 2008 R2"
fi

note "ok: Windows Server 2022 converted: drivers, boot-start viostor, DriverDatabase, DevicePath, first-boot service and scripts in place; Windows Server 2008 R2 through the CriticalDeviceDatabase"
