#!/bin/bash
# The Debian 12 guest of guest_boot.sh with its initramfs made by Debian's
# dracut instead of initramfs-tools ('make-debian-boot.sh dracut': an
# exclusive driver list of the VMware hardware, virtio drivers and the
# qemu dracut module left out), under QEMU (TCG):
#   a. on pvscsi it reaches multi-user (the fixture is a valid guest);
#   b. on virtio-blk, unconverted, the initramfs times out waiting for its
#      root (the boot check can fail);
#   c. converted by 'ferry convert VM.vmx -o DIR' (dracut run in the
#      appliance), it boots on virtio-blk with the root on /dev/vda1.
# The oracle is the guest's own kernel, initramfs and systemd.  Lean on
# purpose (guest_boot.sh covers the seed and the source left unchanged):
# the source is a monolithicFlat VMDK over a copy of the image, nothing to
# compress; a and b boot while c converts.
source "$(dirname "$0")/lib.sh"
source "$SRCDIR/fixtures/guest/testlib.sh"
need qemu-system-x86_64 qemu-img
gf_need

t0=$SECONDS
gf_boot_image dracut

boot_marker=FERRY-BOOT-OK
# dracut's systemd initramfs: the root device job times out (rd.timeout),
# then the emergency action runs instead of a shell (rd.shell=0).
boot_gave_up='Timed out waiting for device|Boot has failed|Could not boot'

# a and b boot in the background while c converts.
gf_boot_unconverted "$image"

# c. The VMware VM: a flat VMDK (descriptor + the image as its extent).
qemu-img create -q -f vmdk -o subformat=monolithicFlat debian12.vmdk \
  "$(stat -c %s "$image")"
cp --sparse=always "$image" debian12-flat.vmdk
vmx_one_disk debian12.vmx debian12 debian12-64 1024 1 debian12.vmdk 00:50:56:01:02:05

t1=$SECONDS
gf_ferry 0 convert -q debian12.vmx -o out
note "ferry convert (copy and guest conversion) took $((SECONDS - t1)) s"
gf_json out/debian12.report.json 'j["guest"]["distro"] == "debian" and j["guest"]["committed"] and any(k["tool"] == "dracut" and k["regenerated"] for k in j["guest"]["kernels"])'
disk=out/debian12-sda.raw
[[ -f $disk ]] || fail "no $disk: $(ls out)"

# a and b: the unconverted guest boots on pvscsi, not on virtio-blk.
gf_check_unconverted

# c. Converted: boots on virtio-blk + virtio-net, root /dev/vda1.
gf_boot_converted "$disk"
note "dracut guest boot tests ok in $((SECONDS - t0)) s"
