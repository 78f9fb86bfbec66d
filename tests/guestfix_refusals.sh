# ferry guestfix refuses, with one clear line and exit code 1, the disks
# it must not change: no operating system, two operating systems without
# --root, a filesystem that needs journal recovery.  The disk stays byte-for-byte unchanged each time.
# Three appliance launches.
source "$(dirname "$0")/lib.sh"
source "$SRCDIR/fixtures/guest/testlib.sh"
gf_need

gf_guest noos noos.img
gf_guest two two.img
gf_guest dirty dirty.img
declare -A sums
for d in noos two dirty; do sums[$d]=$(gf_sha $d.img); done

unchanged () {
  [[ $(gf_sha "$1.img") == "${sums[$1]}" ]] || fail "$1.img changed"
}

gf_ferry 1 guestfix noos.img
grep -q '^ferry: guestfix step inspect failed (noos.img is unchanged): noos.img: no operating system found' "$T/stderr" \
  || fail "no clear no-OS message"
unchanged noos

gf_ferry 1 guestfix two.img
grep -q 'two.img: 2 operating systems found (roots: /dev/sda1, /dev/sda2); choose one with --root' "$T/stderr" \
  || fail "no clear message for two operating systems"
unchanged two

gf_ferry 1 guestfix dirty.img
grep -q 'dirty.img: the filesystem on /dev/sda1 was not unmounted cleanly (its journal needs recovery)' "$T/stderr" \
  || fail "no clear message for a dirty filesystem"
unchanged dirty
note "ok: no OS, two OSes without --root and a dirty filesystem refused; disks unchanged"
