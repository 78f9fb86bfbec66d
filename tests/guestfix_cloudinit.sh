#!/bin/bash
# cloud-init NoCloud seed: `ferry convert --cloud-init-* --cloud-init-iso`
# on a SLES 15-like guest writes the seed into the guest
# (/var/lib/cloud/seed/nocloud/), a "cidata" ISO next to the disks, a
# read-only CD-ROM for it in the domain XML and a cloudInitNoCloud volume
# in the KubeVirt manifest.  The same run checks the SUSE initramfs path
# (INITRD_MODULES in /etc/sysconfig/kernel, mkinitrd run in the guest) and
# UUID= names in fstab.  Oracles: guestfish (seed bytes, vfs-uuid, files),
# isoinfo and bsdtar (the ISO), virt-xml-validate, python3-yaml.
# Bad seed files are refused before anything is copied or launched.
# Two appliance launches: one ferry run, one guestfish read-back.
source "$(dirname "$0")/lib.sh"
source "$SRCDIR/fixtures/guest/testlib.sh"
gf_need
need isoinfo bsdtar virt-xml-validate cmp

kver=5.14.21-150500.53-default
gf_guest suse suse.img
qemu-img convert -q -f raw -O vmdk suse.img suse.vmdk
rm suse.img
vmx_one_disk sles15.vmx sles15 sles15-64 2048 2 suse.vmdk 00:50:56:01:02:04

# The seed: user-data with a multi-line script and non-ASCII text (kept
# byte for byte), network-config v2; meta-data generated.
cat > user-data <<'UD'
#cloud-config
hostname: sles15-kvm
users:
  - name: ops
    gecos: "Opérations"
    ssh_authorized_keys:
      - ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFerryTestKeyOnly ops@example
write_files:
  - path: /etc/ferry-marker
    content: |
      converted by ferry
runcmd:
  - [ sh, -c, 'echo "cloud-init ran" > /var/log/ferry-ci.log' ]
UD
cat > network-config <<'NC'
version: 2
ethernets:
  eth0:
    match:
      name: "e*"
    dhcp4: true
NC

# --- refused before anything is launched or copied ----------------------
head -c $((1024 * 1024 + 1)) /dev/zero > big
expect_fail 1 "at most 1048576 bytes" "$FERRY" guestfix --cloud-init-user-data big suse.vmdk
expect_fail 1 "cloud-init-meta-data nonexistent" "$FERRY" guestfix --cloud-init-meta-data nonexistent suse.vmdk
mkdir adir
expect_fail 1 "not a regular file" "$FERRY" convert sles15.vmx -o refused --cloud-init-user-data user-data --cloud-init-network-config adir
[[ ! -e refused/sles15-sda.raw ]] || fail "a disk was copied although the seed was refused"
expect_fail 2 "needs a seed" "$FERRY" convert sles15.vmx -o refused --cloud-init-iso
expect_fail 2 "no-guestfix" "$FERRY" convert sles15.vmx -o refused --no-guestfix --cloud-init-user-data user-data
expect_fail 2 "belong to 'ferry cutover'" "$FERRY" sync suse.vmdk x.raw --state x.json --cloud-init-user-data user-data
# A user-data file that is not configuration is taken, with a warning
# (seen here before the missing disk stops the run).
echo "hostname: no header" > plain
"$FERRY" guestfix --cloud-init-user-data plain missing.img > /dev/null 2> warn.txt && fail "guestfix on a missing disk succeeded"
grep -q 'starts with neither "#cloud-config" nor "#!"' warn.txt || fail "no warning for user-data without a header: $(cat warn.txt)"

# --- convert with the seed and the ISO ----------------------------------
gf_ferry 0 convert -q -O qcow2 sles15.vmx -o out --cloud-init-user-data user-data \
  --cloud-init-network-config network-config --cloud-init-iso
iso=out/sles15-cidata.iso
[[ -f $iso ]] || fail "no ISO written: $(ls out)"
gf_json out/sles15.report.json 'j["guest"]["distro"] == "sles" and j["guest"]["committed"]'
gf_json out/sles15.report.json 'sorted(c["file"] for c in j["guest"]["changes"] if c["step"] == "linux-cloudinit") == ["/var/lib/cloud/seed/nocloud/meta-data", "/var/lib/cloud/seed/nocloud/network-config", "/var/lib/cloud/seed/nocloud/user-data"]'
gf_json out/sles15.report.json 'not any(n["step"] == "linux-cloudinit" for n in j["guest"]["notes"])'
gf_json out/sles15.report.json 'any(k["version"] == "'$kver'" and k["regenerated"] and k["tool"] == "mkinitrd" for k in j["guest"]["kernels"])'

# The ISO, read by two independent readers.
isoinfo -d -i "$iso" > isoinfo.txt || fail "isoinfo cannot read the ISO"
grep -q '^Volume id: cidata$' isoinfo.txt || fail "volume id: $(grep -i 'volume id' isoinfo.txt)"
grep -q 'Rock Ridge' isoinfo.txt || fail "no Rock Ridge: $(cat isoinfo.txt)"
bsdtar -tf "$iso" | sort | grep -v '^\.$' > iso-list.txt
[[ $(cat iso-list.txt) == $'meta-data\nnetwork-config\nuser-data' ]] || fail "ISO members: $(cat iso-list.txt)"
bsdtar -xOf "$iso" user-data | cmp - user-data || fail "the ISO's user-data differs from the input"
bsdtar -xOf "$iso" network-config | cmp - network-config || fail "the ISO's network-config differs"
bsdtar -xOf "$iso" meta-data > iso-meta-data
grep -Eq '^instance-id: ferry-sles15-[0-9a-f]{16}$' iso-meta-data || fail "meta-data: $(cat iso-meta-data)"
grep -q '^local-hostname: sles15$' iso-meta-data || fail "meta-data: $(cat iso-meta-data)"

# libvirt: valid, and the ISO attached read-only.
virt-xml-validate out/sles15.xml domain > /dev/null || fail "domain XML does not validate"
python3 - out/sles15.xml "$(realpath "$iso")" <<'PY' || fail "domain XML: no cidata CD-ROM"
import sys, xml.etree.ElementTree as ET
d = ET.parse(sys.argv[1]).getroot()
cd = [x for x in d.findall("./devices/disk") if x.get("device") == "cdrom"
      and x.find("source") is not None and x.find("source").get("file") == sys.argv[2]]
assert len(cd) == 1, ET.tostring(d).decode()
assert cd[0].find("readonly") is not None
assert cd[0].find("target").get("bus") in ("sata", "scsi", "ide")
PY

# KubeVirt: the cloudInitNoCloud volume carries the files verbatim.
python3 - out/sles15.kubevirt.yaml user-data network-config <<'PY' || fail "KubeVirt: no cloudInitNoCloud volume"
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
vm = [d for d in docs if d["kind"] == "VirtualMachine"][0]["spec"]["template"]["spec"]
vols = [v for v in vm["volumes"] if "cloudInitNoCloud" in v]
assert len(vols) == 1, vm["volumes"]
ci = vols[0]["cloudInitNoCloud"]
assert ci["userData"] == open(sys.argv[2], encoding="utf-8").read(), ci
assert ci["networkData"] == open(sys.argv[3], encoding="utf-8").read(), ci
disks = [d for d in vm["domain"]["devices"]["disks"] if d["name"] == vols[0]["name"]]
assert len(disks) == 1 and "disk" in disks[0], vm["domain"]["devices"]["disks"]
PY

# --- the converted disk, read back with guestfish -----------------------
gf_oracle out.txt -a out/sles15-sda.qcow2 <<GF
run
echo ==uuid1==
vfs-uuid /dev/sda1
echo ==uuid2==
vfs-uuid /dev/sda2
mount /dev/sda1 /
download /var/lib/cloud/seed/nocloud/user-data $PWD/seed-user-data
download /var/lib/cloud/seed/nocloud/network-config $PWD/seed-network-config
download /var/lib/cloud/seed/nocloud/meta-data $PWD/seed-meta-data
echo ==mode-ud==
stat /var/lib/cloud/seed/nocloud/user-data
echo ==fstab==
cat /etc/fstab
echo ==kernel==
cat /etc/sysconfig/kernel
echo ==initrd==
cat /boot/initrd-$kver
echo ==tools-log==
cat /var/log/ferry-fixture-tools.log
echo ==grub==
cat /etc/default/grub
echo ==end==
GF
cmp seed-user-data user-data || fail "the guest's seed user-data differs from the input"
cmp seed-network-config network-config || fail "the guest's seed network-config differs from the input"
cmp seed-meta-data iso-meta-data || fail "the guest's meta-data differs from the ISO's"
gf_has out.txt mode-ud '^mode: 33152$'   # 0100600: a regular file, 0600
u1=$(gf_section out.txt uuid1)
u2=$(gf_section out.txt uuid2)
[[ $u1 =~ ^[0-9a-f-]{36}$ && $u2 =~ ^[0-9a-f-]{36}$ ]] || fail "vfs-uuid: '$u1' '$u2'"
gf_has out.txt fstab "^UUID=$u1 +/ +ext4"
gf_has out.txt fstab "^UUID=$u2 +swap +swap"
# The data disk is not part of this conversion: no UUID known.
gf_has out.txt fstab '^/dev/vdb1 +/data +xfs'
gf_hasnt out.txt fstab '/dev/[sh]d'
gf_has out.txt kernel '^INITRD_MODULES="vmw_pvscsi mptspi ata_piix virtio_blk virtio_scsi virtio_net virtio_pci"$'
gf_has out.txt kernel '^NO_KMS_IN_INITRD="no"$'
[[ $(gf_section out.txt kernel | grep -c INITRD_MODULES=) == 1 ]] || fail "INITRD_MODULES is set more than once"
gf_is out.txt initrd "vmw_pvscsi mptspi ata_piix virtio_blk virtio_scsi virtio_net virtio_pci"
gf_is out.txt tools-log "mkinitrd -k /boot/vmlinuz-$kver -i /boot/initrd-$kver"
gf_has out.txt grub 'resume=/dev/vda2'
note "ok: NoCloud seed in the guest and on the cidata ISO, attached in libvirt and KubeVirt; SUSE initramfs; fstab UUIDs"
