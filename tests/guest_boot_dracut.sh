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

rc=0
t0=$SECONDS
image=$(bash "$SRCDIR/fixtures/guest/make-debian-boot.sh" dracut) || rc=$?
[[ $rc == 77 ]] && skip "the Debian guest image cannot be built here (see above)"
[[ $rc == 0 && -s $image ]] || fail "building the Debian dracut guest image failed"
note "guest image $image ready after $((SECONDS - t0)) s"

marker=FERRY-BOOT-OK
# dracut's systemd initramfs: the root device job times out (rd.timeout),
# then the emergency action runs instead of a shell (rd.shell=0).
gave_up='Timed out waiting for device|Boot has failed|Could not boot'

# boot NAME TIMEOUT QEMU-ARGS...: as in guest_boot.sh.  Sets boot_secs.
boot () {
  local name=$1 limit=$2 pid start=$SECONDS
  shift 2
  : > "$name.serial"
  qemu-system-x86_64 -accel tcg -machine pc -m 1024 -smp 1 \
    -nodefaults -display none -no-reboot -monitor none \
    -serial "file:$name.serial" "$@" 2> "$name.qemu.err" &
  pid=$!
  echo "$pid" > "$T/$name.qpid"
  while kill -0 "$pid" 2>/dev/null; do
    grep -a -E -q "$marker|$gave_up" "$name.serial" && sleep 2 && break
    ((SECONDS - start < limit)) || { note "$name: no result after $limit s"; break; }
    sleep 1
  done
  kill "$pid" 2>/dev/null || :
  wait "$pid" 2>/dev/null || :
  rm -f "$T/$name.qpid"
  boot_secs=$((SECONDS - start))
  echo "$boot_secs" > "$name.secs"
  if grep -v -q 'terminating on signal' "$name.qemu.err"; then
    note "$name: qemu said: $(head -c 2000 "$name.qemu.err")"
  fi
}

show () { tail -n 25 "$1.serial" | tr -d '\r' >&2; }

(
  boot pvscsi 900 -snapshot \
    -drive "if=none,id=d0,file=$image,format=raw" \
    -device pvscsi,id=scsi0 -device scsi-hd,drive=d0,bus=scsi0.0
  boot novirtio 600 -snapshot \
    -drive "if=none,id=d0,file=$image,format=raw" -device virtio-blk-pci,drive=d0
) &
boots=$!
cleanup_hooks+=("kill $boots 2>/dev/null"
  'for f in "$T"/*.qpid; do [[ -f $f ]] && kill "$(cat "$f")" 2>/dev/null; done')

# c. The VMware VM: a flat VMDK (descriptor + the image as its extent).
qemu-img create -q -f vmdk -o subformat=monolithicFlat debian12.vmdk \
  "$(stat -c %s "$image")"
cp --sparse=always "$image" debian12-flat.vmdk
cat > debian12.vmx <<'VMX'
.encoding = "UTF-8"
config.version = "8"
virtualHW.version = "19"
displayName = "debian12"
guestOS = "debian12-64"
memSize = "1024"
numvcpus = "1"
firmware = "bios"
scsi0.present = "TRUE"
scsi0.virtualDev = "pvscsi"
scsi0:0.present = "TRUE"
scsi0:0.fileName = "debian12.vmdk"
scsi0:0.deviceType = "scsi-hardDisk"
ethernet0.present = "TRUE"
ethernet0.virtualDev = "vmxnet3"
VMX

t1=$SECONDS
gf_ferry 0 convert -q debian12.vmx -o out
note "ferry convert (copy and guest conversion) took $((SECONDS - t1)) s"
gf_json out/debian12.report.json 'j["guest"]["distro"] == "debian" and j["guest"]["committed"] and any(k["tool"] == "dracut" and k["regenerated"] for k in j["guest"]["kernels"])'
disk=out/debian12-sda.raw
[[ -f $disk ]] || fail "no $disk: $(ls out)"

wait "$boots" || :
# a. VMware-style controller: boots.
grep -a -q "$marker root=/dev/sda1 " pvscsi.serial \
  || { show pvscsi; fail "the fixture did not boot on pvscsi with its root on /dev/sda1"; }
note "pvscsi boot: marker after $(cat pvscsi.secs) s"

# b. virtio-blk, unconverted: no virtio_blk in the initramfs, no root.
if grep -a -q "$marker" novirtio.serial; then
  show novirtio
  fail "the unconverted fixture booted on virtio-blk"
fi
grep -a -E -q "$gave_up" novirtio.serial \
  || { show novirtio; fail "the unconverted fixture did not fail to find its root on virtio-blk"; }
note "virtio-blk boot of the unconverted disk failed as expected after $(cat novirtio.secs) s"

# c. Converted: boots on virtio-blk + virtio-net.
boot converted 900 \
  -drive "if=none,id=d0,file=$disk,format=raw" -device virtio-blk-pci,drive=d0 \
  -netdev user,id=n0,restrict=on -device virtio-net-pci,netdev=n0,romfile=
grep -a -q "$marker root=/dev/vda1 " converted.serial \
  || { show converted; fail "the converted guest did not boot on virtio-blk with its root on /dev/vda1"; }
note "converted guest on virtio: marker after $boot_secs s"
note "dracut guest boot tests ok in $((SECONDS - t0)) s"
