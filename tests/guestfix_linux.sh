# ferry guestfix on two VMware-style Linux guests, read back with guestfish:
# a RHEL 9-like one on a raw disk (no package tools: what cannot be done is
# reported) and a Debian 12-like one on a qcow2 disk (fake dpkg,
# update-initramfs and grub-mkconfig run inside the appliance).
# Three appliance launches: two ferry runs, one guestfish read-back.
source "$(dirname "$0")/lib.sh"
source "$SRCDIR/fixtures/guest/testlib.sh"
gf_need

gf_guest rhel rhel.img
gf_guest debian debian.raw
qemu-img convert -f raw -O qcow2 debian.raw debian.qcow2
rm debian.raw

# --- RHEL: raw, JSON result --------------------------------------------
gf_ferry 0 guestfix --json --tmpdir "$T" rhel.img
cp "$T/stdout" rhel.json
gf_json rhel.json 'j["committed"] and j["failed_step"] is None and not j["dry_run"]'
gf_json rhel.json 'j["os_type"] == "linux" and j["distro"] == "rhel" and j["major"] == 9 and j["root"] == "/dev/sda1"'
gf_json rhel.json 'j["selinux"] and j["package_format"] == "rpm" and j["package_management"] == "dnf"'
gf_json rhel.json 'any(c["file"] == "/etc/fstab" and "/dev/sda1 -> UUID=" in c["what"] and "/dev/sdb1 -> /dev/vdb1" in c["what"] for c in j["changes"])'
gf_json rhel.json '[k["version"] for k in j["kernels"]] == ["5.14.0-284.11.1.el9_2.x86_64"] and not j["kernels"][0]["regenerated"] and "no dracut" in j["kernels"][0]["detail"]'
gf_json rhel.json 'any("could not be listed" in n["text"] for n in j["notes"] if n["step"] == "linux-vmware-tools")'
gf_json rhel.json 'any("/data" in n["text"] for n in j["notes"] if n["step"] == "mount")'
gf_json rhel.json 'j["removed_packages"] == [] and j["launch_seconds"] > 0'
grep -q 'KVM is not usable here; the appliance runs under TCG' "$T/stderr" \
  || gf_json rhel.json 'not j["tcg"]'
[[ -z $(ls -A "$T" | grep ferry-guestfix) ]] || fail "the overlay was left in $T"
qemu-img check -q -f qcow2 debian.qcow2

# --- Debian: qcow2 (detected), text output ------------------------------
gf_ferry 0 guestfix debian.qcow2
cp "$T/stdout" debian.txt
grep -q '^debian.qcow2: .*(debian 12\.5), root /dev/sda1' debian.txt || fail "no guest line: $(cat debian.txt)"
grep -q 'changes committed to debian.qcow2' debian.txt || fail "no summary line"
grep -q '^kernel 6.1.0-18-amd64: initramfs regenerated with update-initramfs' debian.txt \
  || fail "kernel 6.1.0-18-amd64 not regenerated: $(cat debian.txt)"
grep -q '^kernel 4.9.0-old-686: initramfs NOT regenerated: the kernel has no virtio_blk' debian.txt \
  || fail "the kernel without virtio is not reported"
qemu-img check -q -f qcow2 debian.qcow2 || fail "debian.qcow2 is damaged after the commit"

# --- read both back with guestfish -------------------------------------
gf_oracle out.txt -a rhel.img --format=qcow2 -a debian.qcow2 <<'GF'
run
echo ==r-uuid1==
vfs-uuid /dev/sda1
echo ==r-uuid2==
vfs-uuid /dev/sda2
echo ==d-uuid1==
vfs-uuid /dev/sdb1
echo ==d-uuid2==
vfs-uuid /dev/sdb2
mount /dev/sda1 /
echo ==r-fstab==
cat /etc/fstab
echo ==r-crypttab==
cat /etc/crypttab
echo ==r-grub==
cat /etc/default/grub
echo ==r-grub-link==
is-symlink /etc/sysconfig/grub
echo ==r-bls==
cat /boot/loader/entries/0123456789abcdef-5.14.0-284.11.1.el9_2.x86_64.conf
echo ==r-devmap==
cat /boot/grub2/device.map
echo ==r-ifcfg==
cat /etc/sysconfig/network-scripts/ifcfg-eth0
echo ==r-rules==
exists /etc/udev/rules.d/70-persistent-net.rules
echo ==r-vmtoolsd==
exists /etc/systemd/system/multi-user.target.wants/vmtoolsd.service
echo ==r-sshd==
is-symlink /etc/systemd/system/multi-user.target.wants/sshd.service
echo ==r-vmware-tools==
exists /etc/vmware-tools
echo ==r-lvm==
exists /etc/lvm/devices/system.devices
echo ==r-dracut==
cat /etc/dracut.conf.d/ferry-virtio.conf
echo ==r-autorelabel==
is-file /.autorelabel
echo ==r-unit==
cat /etc/systemd/system/ferry-firstboot.service
echo ==r-unit-link==
readlink /etc/systemd/system/multi-user.target.wants/ferry-firstboot.service
echo ==r-qga==
cat /usr/local/lib/ferry/firstboot/scripts/50-qemu-guest-agent.sh
echo ==r-runner==
is-file /usr/local/lib/ferry/firstboot/run.sh
echo ==r-data==
cat /srv/data.txt
umount-all
mount /dev/sdb1 /
echo ==d-fstab==
cat /etc/fstab
echo ==d-grub==
cat /etc/default/grub
echo ==d-grubcfg==
cat /boot/grub/grub.cfg
echo ==d-devmap==
cat /boot/grub/device.map
echo ==d-resume==
cat /etc/initramfs-tools/conf.d/resume
echo ==d-modules==
cat /etc/initramfs-tools/modules
echo ==d-initrd==
cat /boot/initrd.img-6.1.0-18-amd64
echo ==d-tools-log==
cat /var/log/ferry-fixture-tools.log
echo ==d-nm==
cat /etc/NetworkManager/system-connections/Wired.nmconnection
echo ==d-rules==
exists /etc/udev/rules.d/70-persistent-net.rules
echo ==d-ovt-link==
is-symlink /etc/systemd/system/multi-user.target.wants/open-vm-tools.service
echo ==d-sysv==
is-symlink /etc/rc2.d/S01open-vm-tools
echo ==d-vmware-tools==
exists /etc/vmware-tools
echo ==d-qga==
cat /usr/local/lib/ferry/firstboot/scripts/50-qemu-guest-agent.sh
echo ==d-unit-link==
readlink /etc/systemd/system/multi-user.target.wants/ferry-firstboot.service
echo ==d-autorelabel==
exists /.autorelabel
echo ==end==
GF

# RHEL: UUID= where the filesystem is on the converted disk (the oracle:
# guestfish vfs-uuid), /dev/vdX for the disk that is not.
ru1=$(gf_section out.txt r-uuid1) ru2=$(gf_section out.txt r-uuid2)
[[ -n $ru1 && -n $ru2 ]] || fail "vfs-uuid gave nothing for the RHEL disk"
gf_has out.txt r-fstab "^UUID=$ru1 +/ +ext4"
gf_has out.txt r-fstab "^UUID=$ru2 +swap"
gf_has out.txt r-fstab '^/dev/vdb1 +/data'
gf_has out.txt r-fstab '^UUID=1b2c3d4e-0000-4000-8000-000000000001 /srv/backup'
gf_hasnt out.txt r-fstab '/dev/[sh]d'
gf_is out.txt r-crypttab 'luks-secret /dev/vdb2 none luks,nofail'
gf_has out.txt r-grub '^GRUB_CMDLINE_LINUX="crashkernel=1G-4G:192M root=/dev/vda1 resume=/dev/vda2 rhgb quiet"$'
gf_is out.txt r-grub-link true
gf_has out.txt r-bls '^options root=/dev/vda1 ro .*resume=/dev/vda2'
gf_has out.txt r-devmap '^\(hd0\) +/dev/vda$'
gf_hasnt out.txt r-ifcfg 'HWADDR'
gf_has out.txt r-ifcfg '^IPADDR=192.0.2.10$'
gf_has out.txt r-ifcfg '^GATEWAY=192.0.2.1$'
gf_is out.txt r-rules false
gf_is out.txt r-vmtoolsd false
gf_is out.txt r-sshd true
gf_is out.txt r-vmware-tools false
gf_is out.txt r-lvm false
gf_has out.txt r-dracut '^add_drivers\+=" virtio_blk virtio_scsi virtio_net virtio_pci "$'
gf_is out.txt r-autorelabel true
gf_has out.txt r-unit '^ExecStart=/bin/sh /usr/local/lib/ferry/firstboot/run.sh$'
gf_has out.txt r-unit '^WantedBy=multi-user.target$'
gf_is out.txt r-unit-link /etc/systemd/system/ferry-firstboot.service
gf_has out.txt r-qga '^dnf -y install qemu-guest-agent$'
gf_is out.txt r-runner true
gf_is out.txt r-data 'guest data that must survive'

# Debian
du1=$(gf_section out.txt d-uuid1) du2=$(gf_section out.txt d-uuid2)
[[ -n $du1 && -n $du2 ]] || fail "vfs-uuid gave nothing for the Debian disk"
gf_has out.txt d-fstab "^UUID=$du1 +/ +ext4"
gf_has out.txt d-fstab "^UUID=$du2 +none +swap"
gf_has out.txt d-fstab '^/dev/vdb1 +/data'
gf_has out.txt d-fstab '^/dev/sr0 +/media/cdrom0'
gf_hasnt out.txt d-fstab '/dev/[sh]d'
gf_has out.txt d-grub '^GRUB_CMDLINE_LINUX_DEFAULT="quiet resume=/dev/vda2"$'
gf_has out.txt d-grub '^GRUB_CMDLINE_LINUX="root=/dev/vda1"$'
# Regenerated by the guest's grub-mkconfig, which named the appliance's
# device; renamed again afterwards.
gf_has out.txt d-grubcfg 'generated by the fake grub-mkconfig'
gf_has out.txt d-grubcfg 'root=/dev/vda1 ro quiet resume=/dev/vda2'
gf_hasnt out.txt d-grubcfg '/dev/sd'
gf_has out.txt d-devmap '/dev/vda$'
gf_is out.txt d-resume 'RESUME=/dev/vda2'
gf_has out.txt d-modules '^vmw_pvscsi$'
for m in virtio_blk virtio_scsi virtio_net virtio_pci; do
  gf_has out.txt d-modules "^$m\$"
  # The initramfs was made after the configuration had the drivers.
  gf_has out.txt d-initrd "(^| )$m( |\$)"
done
gf_has out.txt d-tools-log '^dpkg --purge --force-depends open-vm-tools$'
gf_has out.txt d-tools-log '^update-initramfs -u -k 6.1.0-18-amd64$'
gf_hasnt out.txt d-tools-log 'update-initramfs .*4.9.0-old'
gf_has out.txt d-tools-log '^grub-mkconfig -o /boot/grub/grub.cfg$'
gf_hasnt out.txt d-nm '^mac-address='
gf_has out.txt d-nm '^cloned-mac-address=preserve$'
gf_has out.txt d-nm '^method=auto$'
gf_is out.txt d-rules false
gf_is out.txt d-ovt-link false
gf_is out.txt d-sysv false
gf_is out.txt d-vmware-tools false
gf_has out.txt d-qga 'apt-get -y install qemu-guest-agent'
gf_is out.txt d-unit-link /etc/systemd/system/ferry-firstboot.service
gf_is out.txt d-autorelabel false
note "ok: RHEL-like (raw) and Debian-like (qcow2) guests fixed and read back"
