#!/bin/bash
# Side by side with virt-v2v: the same VMware .vmx VM (the Debian-like
# guest of fixtures/guest/make-linux-guest.sh on a pvscsi disk with a
# vmxnet3 NIC) converted by
#   virt-v2v -i vmx VM.vmx -o local -os DIR -of qcow2
# and by ferry convert VM.vmx -o DIR -O qcow2 --no-guestfix.  What both
# emit is compared: disk count and virtual sizes, the bytes virt-v2v leaves
# alone (the partition table and the swap partition), and domain XML facts
# read with xmllint: memory, vCPUs, firmware, disk bus, NIC model and MAC.
# Those must be equal.  The machine type is printed as a note when it
# differs: ferry chooses q35 for any guest it expects to boot there
# (--machine=auto) while virt-v2v picks by its own rules, and both are
# valid targets for this guest.  The NIC has a generated MAC
# (ethernet0.generatedAddress), the one key virt-v2v 2.2 reads: for a static
# MAC (addressType "static", ethernet0.address) virt-v2v writes no <mac>
# and the guest gets a new address, while ferry keeps it on purpose (a
# static MAC is usually pinned by licences or DHCP reservations); that
# difference is not exercised here because every virt-v2v run costs
# minutes under TCG.
#
# virt-v2v needs a guest it can inspect and convert (installed kernel
# packages, a bootloader it can update, an initramfs tool, a modprobe
# configuration directory).  The fixture's
# fake tools are made to answer what virt-v2v asks (dpkg -L, a linux-image
# package, update-initramfs in any form) by editing the root filesystem
# with debugfs, without an appliance.  When virt-v2v still cannot convert
# the guest here, or does not finish within FERRY_V2V_TIMEOUT seconds
# (TCG is slow), the test is skipped with virt-v2v's own error.
source "$(dirname "$0")/lib.sh"
need virt-v2v qemu-img xmllint debugfs sfdisk python3 cc
[[ -x /bin/busybox ]] || skip "busybox-static is needed by the guest fixture"
export LIBGUESTFS_BACKEND=direct LIBGUESTFS_BACKEND_SETTINGS=force_tcg
# virt-v2v takes about 4.5 minutes here under TCG (appliance boot,
# inspection, conversion); past the budget the test is skipped.
v2v_timeout=${FERRY_V2V_TIMEOUT:-420}

# ---- the guest ----
bash "$SRCDIR/fixtures/guest/make-linux-guest.sh" debian guest.img \
  || fail "make-linux-guest.sh failed"
k1=6.1.0-18-amd64
read -r p1start p1size p2start p2size < <(sfdisk -J guest.img | python3 -c '
import json, sys
p = json.load(sys.stdin)["partitiontable"]["partitions"]
print(p[0]["start"], p[0]["size"], p[1]["start"], p[1]["size"])')
dd if=guest.img of=root.ext4 bs=512 skip="$p1start" count="$p1size" status=none
cat > dpkg <<'EOF'
#!/bin/sh
# A fake dpkg: file lists from /var/lib/dpkg/info, everything else succeeds.
echo "dpkg $*" >> /var/log/ferry-fixture-tools.log
if [ "$1" = -L ]; then cat "/var/lib/dpkg/info/$2.list"; exit $?; fi
exit 0
EOF
cat > update-initramfs <<'EOF'
#!/bin/sh
echo "update-initramfs $*" >> /var/log/ferry-fixture-tools.log
exit 0
EOF
# Kernel modules virt-v2v lists (and reads the architecture of): tiny
# x86-64 ELF objects are enough.
mods=(virtio virtio_pci virtio_blk virtio_net virtio_balloon virtio-rng)
echo 'int ferry_fixture_module;' > mod.c
cc -c -o mod.ko mod.c 2> /dev/null || skip "no C compiler for the fixture's kernel modules"
{
  printf '/boot/vmlinuz-%s\n/boot/config-%s\n/lib/modules/%s\n' $k1 $k1 $k1
  for m in "${mods[@]}"; do printf '/lib/modules/%s/kernel/drivers/virtio/%s.ko\n' $k1 $m; done
} > image.list
printf 'CONFIG_VIRTIO=y\nCONFIG_VIRTIO_PCI=y\nCONFIG_VIRTIO_BLK=y\nCONFIG_VIRTIO_NET=y\nCONFIG_SCSI_VIRTIO=y\nCONFIG_HW_RANDOM_VIRTIO=y\n' > config
debugfs -R "cat /var/lib/dpkg/status" root.ext4 2> /dev/null > status
cat >> status <<EOF
Package: linux-image-$k1
Status: install ok installed
Priority: optional
Section: kernel
Installed-Size: 400000
Maintainer: Debian Kernel Team <debian-kernel@lists.debian.org>
Architecture: amd64
Source: linux-signed-amd64 (6.1.76+1)
Version: 6.1.76-1
Description: Linux 6.1 for 64-bit PCs (signed)

EOF
cat > edits <<EOF
rm /usr/bin/dpkg
write dpkg /usr/bin/dpkg
sif /usr/bin/dpkg mode 0100755
rm /usr/sbin/update-initramfs
write update-initramfs /usr/sbin/update-initramfs
sif /usr/sbin/update-initramfs mode 0100755
rm /var/lib/dpkg/status
write status /var/lib/dpkg/status
write image.list /var/lib/dpkg/info/linux-image-$k1.list
write config /boot/config-$k1
mkdir /etc/modprobe.d
write /dev/null /etc/modprobe.d/ferry-fixture.conf
mkdir /usr/lib/modules/$k1/kernel
mkdir /usr/lib/modules/$k1/kernel/drivers
mkdir /usr/lib/modules/$k1/kernel/drivers/virtio
EOF
for m in "${mods[@]}"; do
  echo "write mod.ko /usr/lib/modules/$k1/kernel/drivers/virtio/$m.ko" >> edits
done
debugfs -w -f edits root.ext4 > debugfs.log 2>&1 || fail "debugfs: $(cat debugfs.log)"
dd if=root.ext4 of=guest.img bs=512 seek="$p1start" conv=notrunc,sparse status=none
qemu-img convert -f raw -O vmdk guest.img deb1.vmdk
cat > deb1.vmx <<'EOF'
.encoding = "UTF-8"
config.version = "8"
virtualHW.version = "19"
displayName = "deb1"
guestOS = "debian12-64"
memSize = "1536"
numvcpus = "2"
cpuid.coresPerSocket = "1"
scsi0.virtualDev = "pvscsi"
scsi0.present = "TRUE"
scsi0:0.deviceType = "scsi-hardDisk"
scsi0:0.fileName = "deb1.vmdk"
scsi0:0.present = "TRUE"
ethernet0.virtualDev = "vmxnet3"
ethernet0.networkName = "VM Network"
ethernet0.addressType = "generated"
ethernet0.generatedAddress = "00:50:56:12:34:56"
ethernet0.present = "TRUE"
uuid.bios = "42 1c 55 66 77 88 99 aa-bb cc dd ee ff 00 11 33"
EOF

# ---- ferry (no guest conversion: the XML facts and untouched bytes are
# what is compared) ----
run_ferry convert -q --no-guestfix -O qcow2 deb1.vmx -o ferry

# ---- virt-v2v ----
mkdir v2v
rc=0
timeout "$v2v_timeout" virt-v2v -i vmx deb1.vmx -o local -os v2v -of qcow2 \
  > v2v.log 2>&1 || rc=$?
if [[ $rc != 0 ]]; then
  cat v2v.log
  if [[ $rc == 124 ]]; then
    skip "virt-v2v did not finish within ${v2v_timeout} s (TCG); its last line: $(grep -v '^$' v2v.log | tail -1)"
  fi
  skip "virt-v2v cannot convert the fixture guest here (exit $rc): $(grep 'virt-v2v: error' v2v.log | head -1)"
fi

# ---- disks ----
v2v_disks=(v2v/deb1-sd?)
ferry_disks=(ferry/deb1-sd?.qcow2)
[[ ${#v2v_disks[@]} == "${#ferry_disks[@]}" ]] \
  || fail "disk count: virt-v2v ${#v2v_disks[@]}, ferry ${#ferry_disks[@]}"
vsize () { qemu-img info --output=json "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["virtual-size"])'; }
[[ $(vsize "${v2v_disks[0]}") == $(vsize "${ferry_disks[0]}") ]] \
  || fail "virtual size: virt-v2v $(vsize "${v2v_disks[0]}"), ferry $(vsize "${ferry_disks[0]}")"
qemu-img convert -O raw "${v2v_disks[0]}" v2v.raw
qemu-img convert -O raw "${ferry_disks[0]}" ferry.raw
python3 - v2v.raw ferry.raw "$p2start" "$p2size" <<'PY' || fail "bytes virt-v2v leaves alone differ"
import hashlib, sys
def h(path, off, n):
    d = hashlib.sha256()
    with open(path, "rb") as f:
        f.seek(off)
        while n:
            b = f.read(min(n, 1 << 20))
            d.update(b)
            n -= len(b)
    return d.hexdigest()
a, b, s, n = sys.argv[1], sys.argv[2], int(sys.argv[3]) * 512, int(sys.argv[4]) * 512
assert h(a, 446, 66) == h(b, 446, 66), "partition table"
assert h(a, s, n) == h(b, s, n), "swap partition"
PY

# ---- domain XML facts ----
fx=ferry/deb1.xml vx=v2v/deb1.xml
[[ -f $vx ]] || fail "virt-v2v wrote no $vx: $(ls v2v)"
fact () { xmllint --xpath "$2" "$1" 2> /dev/null || :; }
mem_kib () { # the <memory> element in KiB, whatever its unit
  local v u
  v=$(fact "$1" 'string(/domain/memory)')
  u=$(fact "$1" 'string(/domain/memory/@unit)')
  case ${u:-KiB} in
    KiB|k) echo "$v" ;; MiB|M) echo $((v * 1024)) ;; GiB|G) echo $((v * 1048576)) ;;
    b|bytes) echo $((v / 1024)) ;; *) echo "?$v$u" ;;
  esac
}
firmware () { # efi when a loader or firmware='efi' is set, else bios
  if [[ $(fact "$1" 'string(/domain/os/@firmware)') == efi ]] \
     || [[ -n $(fact "$1" 'string(/domain/os/loader)') ]]; then echo efi; else echo bios; fi
}
same () { # NAME FERRY V2V
  [[ $2 == "$3" ]] || fail "$1: ferry '$2', virt-v2v '$3'"
  note "same $1: $2"
}
same memory_kib "$(mem_kib $fx)" "$(mem_kib $vx)"
same vcpus "$(fact $fx 'string(/domain/vcpu)')" "$(fact $vx 'string(/domain/vcpu)')"
same firmware "$(firmware $fx)" "$(firmware $vx)"
same disk_count "$(fact $fx 'count(/domain/devices/disk[@device="disk"])')" \
  "$(fact $vx 'count(/domain/devices/disk[@device="disk"])')"
same disk_bus "$(fact $fx 'string(/domain/devices/disk[@device="disk"][1]/target/@bus)')" \
  "$(fact $vx 'string(/domain/devices/disk[@device="disk"][1]/target/@bus)')"
same nic_model "$(fact $fx 'string(/domain/devices/interface[1]/model/@type)')" \
  "$(fact $vx 'string(/domain/devices/interface[1]/model/@type)')"
same mac "$(fact $fx 'string(/domain/devices/interface[1]/mac/@address)')" \
  "$(fact $vx 'string(/domain/devices/interface[1]/mac/@address)')"
[[ $(fact $fx 'string(/domain/devices/interface[1]/mac/@address)') == 00:50:56:12:34:56 ]] \
  || fail "the source MAC is not kept"
fm=$(fact $fx 'string(/domain/os/type/@machine)')
vm=$(fact $vx 'string(/domain/os/type/@machine)')
if [[ $fm != "$vm" ]]; then
  note "machine type differs on purpose: ferry '$fm' (its --machine=auto choice), virt-v2v '$vm'"
else
  note "same machine: $fm"
fi
fs=$(fact $fx 'string(/domain/cpu/@mode)') vs=$(fact $vx 'string(/domain/cpu/@mode)')
[[ $fs == "$vs" ]] || note "cpu mode differs: ferry '$fs', virt-v2v '${vs:-(none)}'"
note "ok: ferry's domain facts match virt-v2v's"
