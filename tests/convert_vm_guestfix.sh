#!/bin/bash
# ferry convert VM.vmx -o DIR runs guest conversion on the boot disk after
# the copy: the converted disk's fstab names /dev/vdX (read back with
# guestfish, independently), the report carries the guest facts, and the
# source VMDK is untouched.  A disk without an OS makes the conversion
# fail after the copy, with the disks as copied and the failed step in
# the report.
source "$(dirname "$0")/lib.sh"
source "$SRCDIR/fixtures/guest/testlib.sh"
gf_need

gf_guest rhel rhel.img
qemu-img convert -q -f raw -O vmdk rhel.img rhel.vmdk
rm rhel.img
before=$(gf_sha rhel.vmdk)
vmx_one_disk rhel9.vmx rhel9 rhel9-64 2048 2 rhel.vmdk 00:50:56:01:02:03

gf_ferry 0 convert -q -O qcow2 rhel9.vmx -o out
[[ $(gf_sha rhel.vmdk) == "$before" ]] || fail "the source VMDK changed"
gf_json out/rhel9.report.json 'j["guest"]["distro"] == "rhel" and j["guest"]["committed"] and j["guest"]["failed_step"] is None'
gf_json out/rhel9.report.json 'any(c["file"] == "/etc/fstab" for c in j["guest"]["changes"])'
gf_oracle fstab.txt -a out/rhel9-sda.qcow2 -i <<'GF'
echo ==uuid==
vfs-uuid /dev/sda1
echo ==fstab==
cat /etc/fstab
GF
uuid=$(gf_section fstab.txt uuid)
[[ -n $uuid ]] && grep -q "^UUID=$uuid " fstab.txt || fail "converted disk's fstab: $(cat fstab.txt)"
grep -q '/dev/sd' fstab.txt && fail "converted disk's fstab still names /dev/sdX"
qemu-img check -q out/rhel9-sda.qcow2 || fail "qemu-img check after guest conversion"

# No OS on the boot disk: exit 1 after the copy, the report says why.
gf_guest noos noos.img
qemu-img convert -q -f raw -O vmdk noos.img noos.vmdk
sed 's/rhel.vmdk/noos.vmdk/; s/rhel9"/noos"/' rhel9.vmx > noos.vmx
gf_ferry 1 convert -q noos.vmx -o out2
grep -q "no-guestfix" "$T/stderr" || fail "the failure does not mention --no-guestfix"
gf_json out2/noos.report.json 'j["guest"]["failed_step"] is not None and not j["guest"]["committed"]'
qemu-img compare -q -f vmdk -F raw noos.vmdk out2/noos-sda.raw || fail "the copied disk was changed"
note "convert with guest conversion ok"
