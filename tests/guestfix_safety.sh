# ferry guestfix never leaves a half-changed disk: a step that fails after
# the overlay holds changes leaves the target byte-for-byte as it was (raw
# and qcow2), naming the step; --dry-run reports the changes and writes
# nothing.  Two appliance launches.
source "$(dirname "$0")/lib.sh"
source "$SRCDIR/fixtures/guest/testlib.sh"
gf_need

# Usage and input errors come before any appliance launch.
expect_fail 2 "--format=vmdk: expected raw or qcow2" "$FERRY" guestfix --format=vmdk x.img
expect_fail 2 "expected one DISK" "$FERRY" guestfix
expect_fail 1 "missing.img" "$FERRY" guestfix missing.img
expect_error_line missing.img

gf_guest debian debian.img
qemu-img convert -f raw -O qcow2 debian.img debian.qcow2
sum_raw=$(gf_sha debian.img)
sum_qcow2=$(gf_sha debian.qcow2)
mkdir ovl

# --- a failure in the last guest step: every earlier change discarded ----
# FERRY_GUESTFIX_FAIL_STEP is the test hook of guestfix/guestfix.c.
FERRY_GUESTFIX_FAIL_STEP=linux-selinux \
  gf_ferry 4 guestfix --json --tmpdir ovl debian.qcow2
grep -q '^ferry: guestfix step linux-selinux failed (debian.qcow2 is unchanged): injected failure' "$T/stderr" \
  || fail "the failed step is not named"
cp "$T/stdout" fail.json
gf_json fail.json 'j["failed_step"] == "linux-selinux" and not j["committed"] and "injected failure" in j["error"]'
# It did get that far: the overlay held changes when it was dropped.
gf_json fail.json 'len(j["changes"]) >= 10 and "open-vm-tools" in j["removed_packages"]'
[[ $(gf_sha debian.qcow2) == "$sum_qcow2" ]] || fail "debian.qcow2 changed after a failed run"
[[ -z $(ls -A ovl) ]] || fail "overlay left behind: $(ls -A ovl)"
note "ok: failure injected at linux-selinux, qcow2 target unchanged"

# --- dry run: all steps run in the overlay, nothing is written ----------
gf_ferry 0 guestfix --dry-run --tmpdir ovl --format raw debian.img
grep -E -q '^dry run: [1-9][0-9]* changes found, debian.img not changed' "$T/stdout" \
  || fail "no dry-run summary: $(cat "$T/stdout")"
grep -E -q '/etc/fstab: device names: /dev/sda1 -> UUID=[0-9a-f-]+, .*/dev/sdb1 -> /dev/vdb1' "$T/stdout" \
  || fail "the dry run does not list the fstab change"
grep -q '^kernel 6.1.0-18-amd64: initramfs regenerated with update-initramfs' "$T/stdout" \
  || fail "the dry run does not report the initramfs"
[[ $(gf_sha debian.img) == "$sum_raw" ]] || fail "debian.img changed by --dry-run"
[[ -z $(ls -A ovl) ]] || fail "overlay left behind: $(ls -A ovl)"
note "ok: --dry-run reported the changes and left the raw disk unchanged"
