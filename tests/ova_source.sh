#!/bin/bash
# ferry convert VM.ova -o DIR: the archive is read as a stream, the .ovf
# parsed from its member, streamOptimized disks converted while the tar
# streams, and the .mf manifest (SHA256/SHA1) checked.  Oracles: qemu-img
# compare against the VMDKs put in the archive, sha256sum/sha1sum for the
# manifest, python's tarfile for the bad archives.
source "$(dirname "$0")/lib.sh"
need qemu-img tar sha256sum sha1sum python3

# An OVF in the shape of an ovftool export, with small disks.
sed -e 's/ovf:capacity="40" ovf:capacityAllocationUnits="byte \* 2^30"/ovf:capacity="64" ovf:capacityAllocationUnits="byte * 2^20"/' \
    -e 's/ovf:capacity="100" ovf:capacityAllocationUnits="byte \* 2^30"/ovf:capacity="32" ovf:capacityAllocationUnits="byte * 2^20"/' \
    "$SRCDIR/fixtures/vm/vmware-export.ovf" > app01.ovf
grep -q 'capacity="64"' app01.ovf || fail "fixture edit failed"

i=0
for n in 1 2; do
  size=$((64 / n))M
  qemu-img create -q -f raw d$n.raw $size
  fill_random d$n.raw $((i * 1048576)) 1048576
  fill_random d$n.raw $((16 * 1048576 + 65536 * n)) 196608
  qemu-img convert -q -f raw -O vmdk -o subformat=streamOptimized d$n.raw app01-disk$n.vmdk
  i=$((i + 3))
done
sed -i -e "s/ovf:size=\"1306355712\"/ovf:size=\"$(stat -c %s app01-disk1.vmdk)\"/" \
       -e "s/ovf:size=\"68608\"/ovf:size=\"$(stat -c %s app01-disk2.vmdk)\"/" app01.ovf

# VMware's manifest format: SHA256 for the disks, SHA1 for the descriptor.
make_mf () {
  echo "SHA1(app01.ovf)= $(sha1sum app01.ovf | cut -d' ' -f1)"
  for f in app01-disk1.vmdk app01-disk2.vmdk; do
    echo "SHA256($f)= $(sha256sum $f | cut -d' ' -f1)"
  done
}
make_mf > app01.mf

ova () { # OUT MEMBER...: a ustar archive, members in the order given
  local out=$1
  shift
  tar --format=ustar -cf "$out" "$@"
}

# check_out DIR: both disks converted and equal to the VMDKs; XML and report.
check_out () {
  local f
  for f in app01-sda.raw app01-sdb.raw app01.xml app01.kubevirt.yaml app01.report.json; do
    [[ -s $1/$f ]] || fail "$1/$f missing: $(ls "$1")"
  done
  qemu-img compare -q -f vmdk -F raw app01-disk1.vmdk "$1/app01-sda.raw" || fail "sda differs"
  qemu-img compare -q -f vmdk -F raw app01-disk2.vmdk "$1/app01-sdb.raw" || fail "sdb differs"
}

no_disks () {
  local left
  left=$(find "$1" -name '*.raw*' 2>/dev/null || :)
  [[ -z $left ]] || fail "disk outputs left behind: $left"
}

# corrupt OVA MEMBER OFFSET: flip a byte of MEMBER's data inside OVA.  Byte
# 400 of a VMDK is header padding the reader never interprets, so only the
# manifest can notice.
corrupt () {
  python3 - "$@" <<'PY'
import sys, tarfile
path, member, off = sys.argv[1], sys.argv[2], int(sys.argv[3])
with tarfile.open(path) as t:
    pos = t.getmember(member).offset_data + off
with open(path, "r+b") as f:
    f.seek(pos); b = f.read(1); f.seek(pos); f.write(bytes([b[0] ^ 0x5a]))
PY
}

# 1. VMware's order (ovf, mf, disks): one pass, manifest checked.
ova good.ova app01.ovf app01.mf app01-disk1.vmdk app01-disk2.vmdk
run_ferry convert --no-guestfix good.ova -o out1 > stdout
check_out out1
grep -q 'one pass' stdout || fail "one pass not reported: $(cat stdout)"
grep -qi 'manifest' "$T/stderr" && fail "unexpected manifest message"
note "ok: ovf, mf, disks in one pass"

# 2. The manifest last: digests recorded while streaming are checked.
ova mflast.ova app01.ovf app01-disk1.vmdk app01-disk2.vmdk app01.mf
run_ferry convert --no-guestfix mflast.ova -o out2 > stdout
check_out out2
grep -q 'one pass' stdout || fail "one pass not reported"
note "ok: manifest after the disks"

# 3. A corrupted byte in disk 2: exit 1 naming the member, no disk output
#    (disk 1 was already converted and is removed).
for order in first last; do
  if [[ $order == first ]]; then cp good.ova bad.ova; else cp mflast.ova bad.ova; fi
  corrupt bad.ova app01-disk2.vmdk 400
  expect_fail 1 "app01-disk2.vmdk" "$FERRY" convert --no-guestfix bad.ova -o out3$order
  expect_msg 'SHA256 digest mismatch'
  no_disks out3$order
  note "ok: digest mismatch (manifest $order) fails and removes the disks"
done

# 4. --no-verify converts the same archive.
run_ferry convert --no-guestfix --no-verify bad.ova -o out4 > stdout
check_out out4
note "ok: --no-verify"

# 5. No manifest: a warning, and success.
ova nomf.ova app01.ovf app01-disk1.vmdk app01-disk2.vmdk
run_ferry convert --no-guestfix nomf.ova -o out5 > stdout
check_out out5
grep -q 'no .mf manifest' "$T/stderr" || fail "no warning about the missing manifest"
note "ok: missing manifest is a warning"

# 6. A manifest that lists a member the archive lacks.
mkdir extra
{ make_mf; echo "SHA256(app01-disk3.vmdk)= $(printf '%064d' 0)"; } > extra/app01.mf
cp app01.ovf app01-disk1.vmdk app01-disk2.vmdk extra/
(cd extra && tar --format=ustar -cf ../extra.ova app01.ovf app01.mf app01-disk1.vmdk app01-disk2.vmdk)
expect_fail 1 "app01-disk3.vmdk" "$FERRY" convert --no-guestfix extra.ova -o out6
no_disks out6
note "ok: manifest entry without a member"

# 7. Traversal names and links are refused, naming the member.
python3 - <<'PY'
import io, tarfile
def add(t, name, data=b"", **kw):
    ti = tarfile.TarInfo(name)
    for k, v in kw.items():
        setattr(ti, k, v)
    ti.size = len(data)
    t.addfile(ti, io.BytesIO(data) if data else None)
ovf = open("app01.ovf", "rb").read()
with tarfile.open("evil.ova", "w", format=tarfile.USTAR_FORMAT) as t:
    add(t, "app01.ovf", ovf)
    add(t, "../evil.vmdk", b"x" * 10)
with tarfile.open("abs.ova", "w", format=tarfile.USTAR_FORMAT) as t:
    add(t, "app01.ovf", ovf)
    add(t, "/tmp/abs.vmdk", b"x" * 10)
with tarfile.open("link.ova", "w", format=tarfile.USTAR_FORMAT) as t:
    add(t, "app01.ovf", ovf)
    add(t, "app01-disk1.vmdk", type=tarfile.SYMTYPE, linkname="/etc/passwd")
with tarfile.open("fifo.ova", "w", format=tarfile.USTAR_FORMAT) as t:
    add(t, "app01.ovf", ovf)
    add(t, "app01-disk1.vmdk", type=tarfile.FIFOTYPE)
PY
expect_fail 1 "../evil.vmdk" "$FERRY" convert --no-guestfix evil.ova -o out7
expect_msg '"\.\."'
expect_fail 1 "/tmp/abs.vmdk" "$FERRY" convert --no-guestfix abs.ova -o out7
expect_msg 'absolute'
expect_fail 1 "app01-disk1.vmdk" "$FERRY" convert --no-guestfix link.ova -o out7
expect_msg 'symbolic link'
expect_fail 1 "app01-disk1.vmdk" "$FERRY" convert --no-guestfix fifo.ova -o out7
expect_msg 'FIFO'
no_disks out7
note "ok: traversal, absolute, symlink and FIFO members refused"

# 8. The .ovf last: a local file is read a second time.
ova ovflast.ova app01-disk1.vmdk app01-disk2.vmdk app01.mf app01.ovf
run_ferry convert --no-guestfix ovflast.ova -o out8 > stdout
check_out out8
grep -q 'two passes' stdout || fail "two passes not reported: $(cat stdout)"
note "ok: ovf last, two passes"

# 9. A truncated archive fails cleanly.
head -c $(( $(stat -c %s good.ova) - 300000 )) good.ova > trunc.ova
expect_fail 1 "trunc.ova" "$FERRY" convert --no-guestfix trunc.ova -o out9
no_disks out9
note "ok: truncated archive"

# 10. Over HTTP from a server without Range support (python's http.server):
#     the archive is a pure stream, converted in one pass; an archive with
#     the .ovf last cannot be read twice and says so.
port=$(free_port)
python3 -m http.server --bind 127.0.0.1 "$port" > http.log 2>&1 &
srv=$!
cleanup_hooks+=("kill $srv 2> /dev/null")
for _ in $(seq 50); do
  python3 -c "import socket; socket.create_connection(('127.0.0.1', $port))" 2> /dev/null && break
  sleep 0.1
done
run_ferry convert --no-guestfix "http://127.0.0.1:$port/good.ova" -o out10 > stdout
check_out out10
grep -q 'one pass' stdout || fail "http: one pass not reported"
expect_fail 1 "cannot be read twice" "$FERRY" convert --no-guestfix "http://127.0.0.1:$port/ovflast.ova" -o out10b
no_disks out10b
note "ok: streamed over HTTP without Range"

need gzip xz
# 11. Compressed disk members: disk 1 gzip'd with ovf:compression="gzip"
#     (the href names the stored file), disk 2 gzip'd under its plain name
#     (recognised by its magic bytes).  The manifest lists the digests of
#     the members as stored, compressed.
mkdir gz
gzip -c app01-disk1.vmdk > gz/app01-disk1.vmdk.gz
gzip -c app01-disk2.vmdk > gz/app01-disk2.vmdk
sed -e "s|ovf:href=\"app01-disk1.vmdk\" ovf:id=\"file1\" ovf:size=\"[0-9]*\"|ovf:href=\"app01-disk1.vmdk.gz\" ovf:id=\"file1\" ovf:size=\"$(stat -c %s gz/app01-disk1.vmdk.gz)\" ovf:compression=\"gzip\"|" \
    app01.ovf > gz/app01.ovf
grep -q 'ovf:compression="gzip"' gz/app01.ovf || fail "ovf edit failed"
(cd gz && { echo "SHA1(app01.ovf)= $(sha1sum app01.ovf | cut -d' ' -f1)"
            for f in app01-disk1.vmdk.gz app01-disk2.vmdk; do
              echo "SHA256($f)= $(sha256sum $f | cut -d' ' -f1)"
            done; } > app01.mf
          tar --format=ustar -cf ../gz.ova app01.ovf app01.mf app01-disk1.vmdk.gz app01-disk2.vmdk)
run_ferry convert --no-guestfix gz.ova -o out11 > stdout
check_out out11
grep -qi 'manifest' "$T/stderr" && fail "unexpected manifest message"
# A flipped byte in the gzip header's time stamp decompresses fine: only
# the manifest, over the stored bytes, notices.
cp gz.ova gzbad.ova
corrupt gzbad.ova app01-disk2.vmdk 5
expect_fail 1 "app01-disk2.vmdk" "$FERRY" convert --no-guestfix gzbad.ova -o out11b
expect_msg 'SHA256 digest mismatch'
no_disks out11b
note "ok: gzip-compressed members, manifest over the stored bytes"

# 12. An OVA on standard input, plain and gzip-compressed as a whole, and
#     an xz-compressed .ova.xz file; something else on standard input is
#     refused.
run_ferry convert --no-guestfix - -o out12 < good.ova > stdout
check_out out12
gzip -c gz.ova | run_ferry convert --no-guestfix - -o out12b > stdout
check_out out12b
# A compressed OVA file: its name ends in .xz, its content decides.
xz -T1 -c good.ova > whole.ova.xz
run_ferry convert --no-guestfix whole.ova.xz -o out12d > stdout
check_out out12d
expect_fail 1 "not an OVA" "$FERRY" convert --no-guestfix - -o out12c < app01.ovf
no_disks out12c
note "ok: OVA from standard input"

# 13. An archive much larger than the 4 MiB chunks a local OVA is read
#     ahead in, with members the VM does not use between the disks: with
#     --no-verify they are seeked over, else read and hashed; the disks
#     come out the same either way.
mkdir big
for n in 1 2; do
  qemu-img create -q -f raw big/d$n.raw $((64 / n))M
  fill_random big/d$n.raw $((3 * 1048576)) $((13 * 1048576))
  qemu-img convert -q -f raw -O vmdk -o subformat=streamOptimized big/d$n.raw big/app01-disk$n.vmdk
done
head -c $((9 * 1048576 + 4321)) /dev/urandom > big/notes.bin
head -c $((5 * 1048576)) /dev/urandom > big/extra.iso
sed -e "s/ovf:size=\"$(stat -c %s app01-disk1.vmdk)\"/ovf:size=\"$(stat -c %s big/app01-disk1.vmdk)\"/" \
    -e "s/ovf:size=\"$(stat -c %s app01-disk2.vmdk)\"/ovf:size=\"$(stat -c %s big/app01-disk2.vmdk)\"/" \
    app01.ovf > big/app01.ovf
(cd big && { echo "SHA1(app01.ovf)= $(sha1sum app01.ovf | cut -d' ' -f1)"
             for f in notes.bin app01-disk1.vmdk extra.iso app01-disk2.vmdk; do
               echo "SHA256($f)= $(sha256sum $f | cut -d' ' -f1)"
             done; } > app01.mf
           tar --format=ustar -cf ../big.ova app01.ovf app01.mf notes.bin app01-disk1.vmdk extra.iso app01-disk2.vmdk)
for mode in verify no-verify; do
  flag=()
  [[ $mode == no-verify ]] && flag=(--no-verify)
  run_ferry convert --no-guestfix "${flag[@]}" big.ova -o out13$mode > stdout
  qemu-img compare -q -f raw -F raw big/d1.raw out13$mode/app01-sda.raw || fail "$mode: sda differs"
  qemu-img compare -q -f raw -F raw big/d2.raw out13$mode/app01-sdb.raw || fail "$mode: sdb differs"
done
# The manifest is still checked for the members the VM does not use.
cp big.ova bigbad.ova
corrupt bigbad.ova extra.iso $((3 * 1048576 + 7))
expect_fail 1 "extra.iso" "$FERRY" convert --no-guestfix bigbad.ova -o out13bad
expect_msg 'SHA256 digest mismatch'
no_disks out13bad
note "ok: an archive of many read-ahead chunks, unused members skipped or hashed"

# 14. A pax archive, each member behind an extended header: the digest of
#     a member read ahead is taken from the file at the offset libarchive
#     reports after all its headers, so a wrong offset would fail the
#     manifest check.  The big archive's disks span several read-ahead
#     chunks; its manifest covers every member.
python3 - <<'PY'
import tarfile
with tarfile.open("pax.ova", "w", format=tarfile.PAX_FORMAT) as t:
    for n in ["app01.ovf", "app01.mf", "notes.bin", "app01-disk1.vmdk",
              "extra.iso", "app01-disk2.vmdk"]:
        ti = t.gettarinfo("big/" + n, arcname=n)
        ti.pax_headers = {"comment": "ferry test " * (90 if "disk" in n else 1)}
        with open("big/" + n, "rb") as f:
            t.addfile(ti, f)
PY
run_ferry convert --no-guestfix pax.ova -o out14 > stdout
qemu-img compare -q -f raw -F raw big/d1.raw out14/app01-sda.raw || fail "pax: sda differs"
qemu-img compare -q -f raw -F raw big/d2.raw out14/app01-sdb.raw || fail "pax: sdb differs"
grep -qi 'manifest' "$T/stderr" && fail "pax: unexpected manifest message: $(cat "$T/stderr")"
cp pax.ova paxbad.ova
corrupt paxbad.ova app01-disk1.vmdk $((5 * 1048576 + 3))
# The flipped byte is inside a grain's deflate data: the disk reader may
# stop on it first, or the manifest check; either way exit 1, no disks.
expect_fail 1 "app01-disk1.vmdk" "$FERRY" convert --no-guestfix paxbad.ova -o out14bad
expect_msg 'compressed grain .* is not valid|SHA256 digest mismatch'
no_disks out14bad
note "ok: pax extended headers, digests read from the read-ahead chunks"

# 15. A disk whose data is bad while its digest is right (the manifest was
#     made from the bad file): the conversion stops inside the member, with
#     its digest still being computed in the other thread, and must end
#     with the reader's error, no disks and no hang.
mkdir badgrain
cp big/app01.ovf big/app01-disk2.vmdk badgrain/
cp big/app01-disk1.vmdk badgrain/
python3 - badgrain/app01-disk1.vmdk <<'PY'
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(5 * 1048576 + 1000); b = f.read(64)
    f.seek(5 * 1048576 + 1000); f.write(bytes(x ^ 0x5a for x in b))
PY
(cd badgrain && { echo "SHA1(app01.ovf)= $(sha1sum app01.ovf | cut -d' ' -f1)"
                  for f in app01-disk1.vmdk app01-disk2.vmdk; do
                    echo "SHA256($f)= $(sha256sum $f | cut -d' ' -f1)"
                  done; } > app01.mf
                tar --format=ustar -cf ../badgrain.ova app01.ovf app01.mf app01-disk1.vmdk app01-disk2.vmdk)
expect_fail 1 "app01-disk1.vmdk" timeout 60 "$FERRY" convert --no-guestfix badgrain.ova -o out15
expect_msg 'compressed grain at offset [0-9]+ .* is not valid zlib data'
no_disks out15
note "ok: a bad grain under a right digest fails cleanly"
