#!/bin/bash
# Warm migration ends with guest conversion: `ferry cutover` applies the
# final change list and then converts the guest on the target.
#   - a conversion that fails leaves the target equal to the source (cmp)
#     and the state unconverted; the same cutover run again only converts;
#   - the converted target's fstab names UUID= / /dev/vdX and carries the
#     NoCloud seed given at cutover (read back with guestfish);
#   - the state records the conversion, and a later sync into the target
#     is refused (target unchanged); a version 1 state is still read;
#   - a data disk (no operating system) is left as copied by default.
# Three appliance launches (conversion, data disk, guestfish read-back):
# the failed conversion fails at its overlay step, before the appliance
# (what a failure inside the appliance leaves is guestfix_linux.sh's).
source "$(dirname "$0")/lib.sh"
source "$SRCDIR/fixtures/guest/testlib.sh"
gf_need
need cmp

MiB=1048576
gf_guest debian src.raw
size=$(stat -c %s src.raw)

run_ferry sync -q src.raw dst.raw --state st.json --change-id c0
cmp src.raw dst.raw || fail "first sync differs"

# An older ferry's state (version 1, no conversion fields) is read.
python3 - st.json <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
s["version"] = 1
s.pop("converted", None)
s.pop("converted_at", None)
json.dump(s, open(sys.argv[1], "w"))
PY

# The source changes while the VM runs: the unpartitioned tail (255 MiB
# on) and a stretch of the swap partition.
fill_random src.raw $((255 * MiB + 4096)) 65536
fill_random src.raw $((230 * MiB)) 8192
changes_json ch1.json c1 c0 "$size" $((230 * MiB)):8192 $((255 * MiB + 4096)):65536

printf '#cloud-config\nruncmd:\n  - [ touch, /var/tmp/ferry-cutover ]\n' > user-data

# --- the conversion fails: the target is the source's final copy --------
FERRY_GUESTFIX_FAIL_STEP=overlay gf_ferry 4 cutover src.raw dst.raw \
  --state st.json --changes ch1.json --cloud-init-user-data user-data
grep -q 'guestfix step overlay failed (dst.raw is unchanged)' "$T/stderr" \
  || fail "the failure does not name the step"
grep -q 'run the same cutover again' "$T/stderr" || fail "no advice after the failure"
cmp src.raw dst.raw || fail "after a failed conversion the target is not the source's copy"
gf_json st.json 'j["change_id"] == "c1" and not j["converted"] and j["in_progress"] is None'

# --- the same cutover again: nothing to copy, the guest is converted ----
gf_ferry 0 cutover -v src.raw dst.raw --state st.json --changes ch1.json \
  --cloud-init-user-data user-data
grep -q 'already holds change id c1: nothing to copy' "$T/stderr" || fail "the copy was not skipped"
grep -q '^dst.raw: guest converted (' "$T/stdout" || fail "no conversion line: $(cat "$T/stdout")"
gf_json st.json 'j["version"] == 2 and j["converted"] is True and j["converted_at"].endswith("Z") and j["change_id"] == "c1"'
# Only the guest's files changed: the synced tail is intact.
cmp <(dd if=src.raw bs=4096 skip=$((255 * 256)) status=none) \
    <(dd if=dst.raw bs=4096 skip=$((255 * 256)) status=none) \
  || fail "the tail of the disk differs after the conversion"

# --- a converted target takes no more syncs -----------------------------
before=$(gf_sha dst.raw)
fill_random src.raw $((255 * MiB + 4096)) 4096
changes_json ch2.json c2 c1 "$size" $((255 * MiB + 4096)):4096
expect_fail 2 "was converted for KVM at cutover" "$FERRY" sync src.raw dst.raw --state st.json --changes ch2.json
expect_msg 'it is final \(--full'
expect_fail 2 "was converted for KVM at cutover" "$FERRY" cutover src.raw dst.raw --state st.json --changes ch2.json
[[ $(gf_sha dst.raw) == "$before" ]] || fail "a refused sync changed the target"

# --- a data disk: left as copied, said so --------------------------------
gf_guest noos data.raw
run_ferry sync -q data.raw data-dst.raw --state data-st.json --change-id d0
fill_random data.raw $((250 * MiB)) 4096
changes_json dch1.json d1 d0 "$(stat -c %s data.raw)" $((250 * MiB)):4096
gf_ferry 0 cutover data.raw data-dst.raw --state data-st.json --changes dch1.json
grep -q 'no operating system found; guest conversion skipped' "$T/stderr" || fail "the data disk was not reported"
cmp data.raw data-dst.raw || fail "the data disk's target differs from its source"
gf_json data-st.json 'j["change_id"] == "d1" and not j["converted"]'

# --- the converted guest, read back --------------------------------------
gf_oracle out.txt --format=raw -a dst.raw <<GF
run
echo ==uuid1==
vfs-uuid /dev/sda1
echo ==uuid2==
vfs-uuid /dev/sda2
mount /dev/sda1 /
echo ==fstab==
cat /etc/fstab
echo ==grub==
cat /etc/default/grub
echo ==modules==
cat /etc/initramfs-tools/modules
download /var/lib/cloud/seed/nocloud/user-data $PWD/seed-user-data
echo ==meta==
cat /var/lib/cloud/seed/nocloud/meta-data
echo ==end==
GF
u1=$(gf_section out.txt uuid1)
u2=$(gf_section out.txt uuid2)
[[ -n $u1 && -n $u2 ]] || fail "vfs-uuid gave nothing"
gf_has out.txt fstab "^UUID=$u1 +/ +ext4 +errors=remount-ro"
gf_has out.txt fstab "^UUID=$u2 +none +swap"
gf_has out.txt fstab '^/dev/vdb1 +/data'
gf_hasnt out.txt fstab '/dev/[sh]d'
gf_has out.txt grub '^GRUB_CMDLINE_LINUX="root=/dev/vda1"$'
gf_has out.txt modules '^virtio_blk$'
cmp seed-user-data user-data || fail "the seed user-data differs from the input"
# Generated from the guest's /etc/hostname.
gf_has out.txt meta '^local-hostname: vmware-guest$'
gf_has out.txt meta '^instance-id: ferry-vmware-guest-[0-9a-f]{16}$'
note "ok: cutover converted the guest once, refused later syncs, skipped a data disk"
