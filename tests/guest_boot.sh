#!/bin/bash
# A real Debian 12 guest, installed the way VMware leaves it (initramfs
# with only the VMware storage drivers, /dev/sda in fstab and GRUB; see
# fixtures/guest/make-debian-boot.sh), boots under QEMU (TCG) and says so
# on its serial console:
#   a. on pvscsi, as on VMware: it reaches multi-user (the fixture is a
#      valid guest);
#   b. on virtio-blk, unconverted: the initramfs cannot find its root and
#      gives up (the boot check can fail);
#   c. converted by 'ferry convert VM.vmx -o DIR' from a streamOptimized
#      VMDK on pvscsi: the result boots on virtio-blk + virtio-net and
#      reaches multi-user with the root on /dev/vda.
# The oracle is the guest's own kernel, initramfs and systemd.
#
#      When this ferry's convert has --cloud-init-user-data, a NoCloud
#      seed is passed too, and the booted guest must find it: the marker
#      line says seed=yes and lists meta-data and user-data (the fixture
#      has no cloud-init, so the files in place are the proof).
#      TODO: without the option the seed part is skipped (noted).
#
# The first run builds the image with debootstrap (about 10 minutes on a
# busy 2-CPU machine; cached outside the tree afterwards).  Each boot
# takes 2-4 minutes under TCG there, and the guest conversion inside
# 'ferry convert' about as long; boots a and b run while c converts.
source "$(dirname "$0")/lib.sh"
source "$SRCDIR/fixtures/guest/testlib.sh"
need qemu-system-x86_64 qemu-img
gf_need

t0=$SECONDS
gf_boot_image

boot_marker=FERRY-BOOT-OK
boot_gave_up='Gave up waiting for root|ALERT! .* does not exist'

# a and b boot in the background while the VMDK is made and converted for
# c on the other CPU.
gf_boot_unconverted "$image"

# c. The VMware VM as exported: a streamOptimized VMDK on pvscsi.
t1=$SECONDS
qemu-img convert -f raw -O vmdk -o subformat=streamOptimized "$image" debian12.vmdk
before=$(gf_sha debian12.vmdk)
vmx_one_disk debian12.vmx debian12 debian12-64 1024 1 debian12.vmdk 00:50:56:01:02:03
note "streamOptimized VMDK made in $((SECONDS - t1)) s"

seed=()
# (The help is read whole first: grep -q would close the pipe early and
# pipefail would count ferry's SIGPIPE as "no option".)
convert_help=$("$FERRY" convert debian12.vmx -o out --help 2>&1 || :)
if grep -q -- --cloud-init-user-data <<< "$convert_help"; then
  printf '#cloud-config\nhostname: converted\n' > user-data
  printf 'instance-id: ferry-guest-boot\nlocal-hostname: converted\n' > meta-data
  seed=(--cloud-init-user-data user-data --cloud-init-meta-data meta-data)
else
  note "TODO: ferry convert has no --cloud-init-user-data yet; the NoCloud seed is not checked"
fi

t1=$SECONDS
gf_ferry 0 convert -q "${seed[@]}" debian12.vmx -o out
note "ferry convert (copy and guest conversion) took $((SECONDS - t1)) s"
[[ $(gf_sha debian12.vmdk) == "$before" ]] || fail "the source VMDK changed"
gf_json out/debian12.report.json 'j["guest"]["distro"] == "debian" and j["guest"]["committed"]'
disk=out/debian12-sda.raw
[[ -f $disk ]] || fail "no $disk: $(ls out)"

# a and b: the unconverted guest boots on pvscsi, not on virtio-blk.
gf_check_unconverted

# c. Converted: boots on virtio-blk + virtio-net, root /dev/vda1.
gf_boot_converted "$disk"
if ((${#seed[@]})); then
  grep -a -q "$boot_marker root=/dev/vda1 seed=yes seedfiles=.*meta-data" converted.serial \
    && grep -a "$boot_marker" converted.serial | grep -q "user-data" \
    || fail "the converted guest has no NoCloud seed: $(grep -a "$boot_marker" converted.serial)"
fi
note "guest boot tests ok in $((SECONDS - t0)) s"
