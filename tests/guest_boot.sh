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

rc=0
t0=$SECONDS
image=$(bash "$SRCDIR/fixtures/guest/make-debian-boot.sh") || rc=$?
[[ $rc == 77 ]] && skip "the Debian guest image cannot be built here (see above)"
[[ $rc == 0 && -s $image ]] || fail "building the Debian guest image failed"
note "guest image $image ready after $((SECONDS - t0)) s"

marker=FERRY-BOOT-OK
gave_up='Gave up waiting for root|ALERT! .* does not exist'

# boot NAME TIMEOUT QEMU-ARGS...: boot under TCG with the serial console in
# NAME.serial; stop at the marker line, at the initramfs giving up, when
# the guest powers off or reboots (-no-reboot), or after TIMEOUT seconds.
# Sets boot_secs.
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
    grep -E -q "$marker|$gave_up" "$name.serial" && sleep 2 && break
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

# show NAME: the end of a serial log, for a failure message.
show () { tail -n 25 "$1.serial" | tr -d '\r' >&2; }

# a and b boot in the background, one after the other on one vCPU, while
# the VMDK is made and converted for c on the other CPU.
(
  boot pvscsi 900 -snapshot \
    -drive "if=none,id=d0,file=$image,format=raw" \
    -device pvscsi,id=scsi0 -device scsi-hd,drive=d0,bus=scsi0.0
  boot novirtio 600 -snapshot \
    -drive "if=none,id=d0,file=$image,format=raw" -device virtio-blk-pci,drive=d0
) &
boots=$!
# A failing test leaves no QEMU behind: the subshell first (so it starts
# no further boot), then the QEMU it runs.
cleanup_hooks+=("kill $boots 2>/dev/null"
  'for f in "$T"/*.qpid; do [[ -f $f ]] && kill "$(cat "$f")" 2>/dev/null; done')

# c. The VMware VM as exported: a streamOptimized VMDK on pvscsi.
t1=$SECONDS
qemu-img convert -f raw -O vmdk -o subformat=streamOptimized "$image" debian12.vmdk
before=$(gf_sha debian12.vmdk)
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
ethernet0.addressType = "static"
ethernet0.address = "00:50:56:01:02:03"
VMX
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

wait "$boots" || :
# a. VMware-style controller: boots.
grep -q "$marker" pvscsi.serial || { show pvscsi; fail "the fixture did not boot on pvscsi"; }
grep -q "$marker root=/dev/sda1 " pvscsi.serial \
  || { show pvscsi; fail "on pvscsi the root is not /dev/sda1: $(grep "$marker" pvscsi.serial)"; }
note "pvscsi boot: marker after $(cat pvscsi.secs) s"

# b. virtio-blk, unconverted: the initramfs has no virtio_blk and the
# root named /dev/sda1 never appears.
if grep -q "$marker" novirtio.serial; then
  show novirtio
  fail "the unconverted fixture booted on virtio-blk"
fi
grep -E -q "$gave_up" novirtio.serial \
  || { show novirtio; fail "the unconverted fixture did not fail to find its root on virtio-blk"; }
note "virtio-blk boot of the unconverted disk failed as expected after $(cat novirtio.secs) s"

boot converted 900 \
  -drive "if=none,id=d0,file=$disk,format=raw" -device virtio-blk-pci,drive=d0 \
  -netdev user,id=n0,restrict=on -device virtio-net-pci,netdev=n0,romfile=
grep -q "$marker" converted.serial \
  || { show converted; fail "the converted guest did not boot on virtio-blk"; }
grep -q "$marker root=/dev/vda1 " converted.serial \
  || { show converted; fail "the converted guest's root is not /dev/vda1: $(grep "$marker" converted.serial)"; }
if ((${#seed[@]})); then
  grep -a -q "$marker root=/dev/vda1 seed=yes seedfiles=.*meta-data" converted.serial \
    && grep -a "$marker" converted.serial | grep -q "user-data" \
    || fail "the converted guest has no NoCloud seed: $(grep -a "$marker" converted.serial)"
fi
note "converted guest on virtio: marker after $boot_secs s: $(grep -a "$marker" converted.serial | tr -d '\r')"
note "guest boot tests ok in $((SECONDS - t0)) s"
