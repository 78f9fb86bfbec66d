# ferry guestfix on guests it cannot convert as they are, and on an
# encrypted one it can with a passphrase:
#   - root inside LUKS, no --key-file: "no operating system found" names
#     the encrypted device and how to give a key; exit 1; disk unchanged.
#   - wrong passphrase: the device is named, exit 1, disk unchanged.
#   - right passphrase (from a file, never argv): converted; guestfish
#     with the passphrase shows the changes inside the encrypted root;
#     the passphrase is in no output (nor, with -v -v, in the trace).
#   - root and /boot filesystems full: refused before any change (step
#     space), naming each filesystem and "no space left"; exit 1; disk
#     byte-for-byte unchanged; no overlay left behind.
# Appliance launches: one for the fixtures, four ferry runs, one reader.
source "$(dirname "$0")/lib.sh"
source "$SRCDIR/fixtures/guest/testlib.sh"
gf_need
need cryptsetup

pass='ferry-luks-Pq7vX2-passphrase'
echo "$pass" > right.key
echo 'not-the-passphrase' > wrong.key
chmod 600 right.key wrong.key
: > empty.key

# --- option errors, before any appliance launch ---------------------------
expect_fail 2 "--key-file nodevice: expected DEVICE:FILE" \
  "$FERRY" guestfix --key-file nodevice x.img
expect_fail 2 "--key-file sda2:right.key: DEVICE must be a device name" \
  "$FERRY" guestfix --key-file sda2:right.key x.img
expect_fail 2 "--key-file nodevice: expected DEVICE:FILE" \
  "$FERRY" convert --key-file nodevice vm.vmx -o out
help=$("$FERRY" convert vm.vmx -o out --help)
grep -q -- '--key-file=DEVICE:FILE' <<< "$help" \
  || fail "convert --help does not list --key-file"

gf_guest_failpaths right.key luks.img full.img
declare -A sums
for d in luks full; do sums[$d]=$(gf_sha $d.img); done
unchanged () {
  [[ $(gf_sha "$1.img") == "${sums[$1]}" ]] || fail "$1.img changed"
}
mkdir ovl
no_overlay () {
  [[ -z $(ls -A ovl) ]] || fail "overlay left behind: $(ls -A ovl)"
  local extra
  extra=$(ls | grep -v -E '^(ovl|luks\.img|full\.img|(right|wrong|empty)\.key|failpaths\..*|stdout|stderr|.*\.json|oracle\..*)$' || :)
  [[ -z $extra ]] || fail "files left next to the disks: $extra"
}

# A passphrase file that cannot be used: step check, no launch.
expect_fail 1 "--key-file /dev/sda2:missing.key: " \
  "$FERRY" guestfix --key-file /dev/sda2:missing.key luks.img
expect_fail 1 "--key-file all:empty.key: the passphrase file is empty" \
  "$FERRY" guestfix --key-file all:empty.key luks.img
unchanged luks

# --- encrypted root, no key ----------------------------------------------
gf_ferry 1 guestfix --tmpdir ovl luks.img
grep -q '^ferry: guestfix step inspect failed (luks.img is unchanged): luks.img: no operating system found (inspection found no root filesystem); /dev/sda2 is LUKS-encrypted and the root filesystem may be inside: give the passphrase in a file with --key-file /dev/sda2:FILE' "$T/stderr" \
  || fail "no clear message naming the encrypted device"
unchanged luks
no_overlay
note "ok: encrypted root without a key refused, /dev/sda2 named (${SECONDS}s)"

# --- wrong key -----------------------------------------------------------
# With -v -v: libguestfs traces the call, its key argument masked.
gf_ferry 1 guestfix -v -v --tmpdir ovl --key-file /dev/sda2:wrong.key luks.img
grep -q 'cryptsetup_open "/dev/sda2" "\*\*\*"' "$T/stderr" \
  || fail "no trace of the masked cryptsetup_open call with -v -v"
if grep -F -q -- "not-the-passphrase" "$T/stdout" "$T/stderr"; then
  fail "the (wrong) passphrase appears in ferry's output"
fi
grep -q '^ferry: guestfix step decrypt failed (luks.img is unchanged): luks.img: the passphrase in wrong.key does not open the LUKS-encrypted device /dev/sda2 (' "$T/stderr" \
  || fail "no clear message for a wrong passphrase"
unchanged luks
no_overlay
note "ok: wrong passphrase refused, /dev/sda2 named (${SECONDS}s)"

# --- right key, converted; the passphrase is never printed ---------------
gf_ferry 0 guestfix --json --tmpdir ovl --key-file all:right.key luks.img
cp "$T/stdout" luks.json
if grep -F -q -- "$pass" "$T/stdout" "$T/stderr"; then
  fail "the passphrase appears in ferry's output"
fi
gf_json luks.json 'j["committed"] and j["failed_step"] is None and j["root"].startswith("/dev/mapper/luks-") and j["distro"] == "debian"'
gf_json luks.json 'any(c["file"] == "/etc/fstab" for c in j["changes"]) and any(c["file"] == "/etc/crypttab" for c in j["changes"])'
no_overlay
[[ $(gf_sha luks.img) != "${sums[luks]}" ]] || fail "luks.img was not changed"

gf_keyed_script right.key > oracle.gfs <<'GFS'
run
cryptsetup-open /dev/sda2 check
@KEY@
mount /dev/mapper/check /
mount /dev/sda1 /boot
echo ==fstab==
cat /etc/fstab
echo ==crypttab==
cat /etc/crypttab
echo ==modules==
cat /etc/initramfs-tools/modules
echo ==data==
cat /srv/data.txt
echo ==bootuuid==
vfs-uuid /dev/sda1
echo ==end==
GFS
gf_oracle oracle.out --keys-from-stdin --format=raw -a luks.img -f oracle.gfs
gf_has oracle.out fstab "^UUID=$GF_LUKS_ROOT_UUID +/ +ext4"
gf_hasnt oracle.out fstab '/dev/sd'
gf_has oracle.out crypttab '^sda2_crypt +(/dev/vda2|UUID=)'
gf_hasnt oracle.out crypttab '/dev/sd'
gf_has oracle.out modules '^virtio_blk$'
gf_is oracle.out data "guest data that must survive"
boot_uuid=$(gf_section oracle.out bootuuid)
gf_has oracle.out fstab "^(UUID=$boot_uuid|/dev/vda1) +/boot "
note "ok: with the right passphrase the encrypted root was converted (fstab, crypttab, initramfs modules) (${SECONDS}s)"

# --- full filesystems: refused before any change, each one named --------
gf_ferry 1 guestfix --tmpdir ovl full.img
grep -E -q '^ferry: guestfix step space failed \(full.img is unchanged\): full.img: ' "$T/stderr" \
  || fail "the space refusal does not name the step"
# /boot: statvfs says it is full.
grep -E -q 'no space left on the guest filesystem /dev/sda1 \(mounted on /boot\): [0-9]+ (bytes|KiB) free, guestfix needs at least 2048 KiB there' "$T/stderr" \
  || fail "no clear message for the full /boot filesystem"
# /: statvfs counts ext4's own reserve as free; the allocation fails.
grep -E -q 'no space left on the guest filesystem /dev/sda2 \(mounted on /\): guestfix needs at least 2048 KiB there \(edits and new files\) and cannot allocate it' "$T/stderr" \
  || fail "no clear message for the full root filesystem"
unchanged full
no_overlay
note "ok: full root and /boot filesystems refused, both named (${SECONDS}s)"
