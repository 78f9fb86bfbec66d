#!/bin/bash
# Warm migration into an NBD export, end to end: the first sync writes the
# disk into a qemu-nbd export in place, the cutover applies the last change
# list and converts the guest on the export (the overlay's backing file is
# the export's URI; the commit writes through it).  Oracles: qemu-img
# compare for the copy, guestfish on the exported file for the conversion
# (fstab names UUID= / /dev/vdX), the state records the conversion.
# Two appliance launches (the conversion, the read-back).
source "$(dirname "$0")/lib.sh"
source "$SRCDIR/fixtures/guest/testlib.sh"
gf_need
need qemu-nbd qemu-io

S=$T
if ((${#T} > 80)); then
  S=$(mktemp -d /tmp/ferry-cnbd.XXXXXX)
  cleanup_hooks+=("rm -rf '$S'")
fi

gf_guest debian src.raw
size=$(stat -c %s src.raw)
qemu-img create -q -f raw dst.raw "$size"
qemu_nbd_start "$S/d.sock" -f raw dst.raw
uri="nbd+unix:///?socket=$S/d.sock"

run_ferry sync -q src.raw "$uri" --state st.json --change-id c0
qemu-img compare -q -f raw -F raw src.raw "$uri" || fail "first sync into the export differs"

# The VM keeps running: the unpartitioned tail changes.
fill_random src.raw $((255 * MiB + 4096)) 65536
changes_json ch1.json c1 c0 "$size" $((255 * MiB + 4096)):65536
gf_ferry 0 cutover src.raw "$uri" --state st.json --changes ch1.json
grep -q "guest converted" "$T/stdout" || fail "cutover did not report a conversion"
grep -q '"converted": *true' st.json || fail "the state does not record the conversion"
qemu_nbd_stop "$S/d.sock"

# The tail is the source's; the guest's files are converted.
cmp -s <(tail -c +$((255 * MiB + 1)) src.raw) <(tail -c +$((255 * MiB + 1)) dst.raw) \
  || fail "the last change did not reach the export"
gf_oracle "$T/fstab" -a dst.raw -i <<< "cat /etc/fstab"
fstab=$(cat "$T/fstab")
echo "$fstab" >&2
grep -E -q '^UUID=[0-9a-f-]+[[:space:]]+/[[:space:]]' <<< "$fstab" || fail "root in fstab is not UUID="
grep -q '/dev/sd' <<< "$fstab" && fail "fstab still names /dev/sdX"
note "ok: sync and cutover with guest conversion into an NBD export"
