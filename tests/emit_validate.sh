# The emitters' output is accepted by the real consumers: every libvirt
# domain the unit test writes validates against libvirt's schema
# (virt-xml-validate) and defines in libvirt's test driver, and libvirt's
# own reading of it (virsh dumpxml) keeps the name, uuid, memory, CPUs,
# firmware, disks and MACs; every KubeVirt stream parses with PyYAML and
# uses only KubeVirt/CDI field names at the right paths; every report is
# well-formed JSON of the documented shape.
#
# The files come from tests/unit/test_emit.c (hand-built VMs: BIOS Linux,
# EFI + secure boot Windows with a vTPM and 3 NICs, 13 disks over four
# controllers, an old Windows XP on machine pc, ...), written into
# $FERRY_EMIT_OUT.

source "$(dirname "$0")/lib.sh"

need virt-xml-validate virsh
PY=
for p in /usr/bin/python3 python3; do
  if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import yaml' 2>/dev/null; then
    PY=$p
    break
  fi
done
[[ $PY ]] || skip "no python3 with the yaml module (python3-yaml)"

test_emit="$(dirname "$FERRY")/tests/test_emit"
[[ -x $test_emit ]] || fail "$test_emit not built"
check="$SRCDIR/tests/tools/check_emit.py"

out=$T/out
mkdir -p "$out"
FERRY_EMIT_OUT=$out "$test_emit" >"$T/unit.log" 2>&1 \
  || { cat "$T/unit.log" >&2; fail "test_emit failed"; }

shopt -s nullglob
xmls=("$out"/*.xml)
yamls=("$out"/*.kubevirt.yaml)
reports=("$out"/*.report.json)
(( ${#xmls[@]} >= 8 )) || fail "only ${#xmls[@]} domain files written"
(( ${#yamls[@]} >= 8 )) || fail "only ${#yamls[@]} KubeVirt files written"
(( ${#reports[@]} == ${#xmls[@]} )) || fail "reports and domains differ in number"

for x in "${xmls[@]}"; do
  b=$(basename "$x")
  virt-xml-validate "$x" domain >"$T/validate.log" 2>&1 \
    || { cat "$T/validate.log" >&2; fail "$b does not validate against libvirt's domain schema"; }
  # Define and read back in one test-driver session (each connection to
  # test:///default starts from the same fresh state).  The domain is
  # found by the uuid when there is one, else by name.
  id=$("$PY" -c 'import sys, xml.etree.ElementTree as E
r = E.parse(sys.argv[1]).getroot()
print(r.findtext("uuid") or r.findtext("name"))' "$x")
  printf 'define "%s"\ndumpxml --inactive "%s"\n' "$x" "$id" \
    | virsh -q -c test:///default >"$T/dump.xml" 2>"$T/virsh.err" \
    || { cat "$T/virsh.err" >&2; fail "$b: virsh define failed"; }
  [[ ! -s $T/virsh.err ]] || { cat "$T/virsh.err" >&2; fail "$b: virsh reported errors"; }
  # virsh prints "Domain ... defined from ..." before the XML and its
  # prompt after it.
  sed -n '/^<domain/,/^<\/domain>/p' "$T/dump.xml" >"$T/libvirt.xml"
  "$PY" "$check" domain "$x" "$T/libvirt.xml" || fail "$b: libvirt read it differently"
  note "$b: validates, defines, reads back"
done

for y in "${yamls[@]}"; do
  "$PY" "$check" kubevirt "$y" || fail "$(basename "$y"): KubeVirt checks"
  note "$(basename "$y"): field paths and references ok"
done

for r in "${reports[@]}"; do
  "$PY" "$check" report "$r" || fail "$(basename "$r"): report checks"
done

# The checker is not a rubber stamp: a misspelt field and a broken
# reference are caught.
sed 's/bootOrder/bootorder/' "$out/web01.kubevirt.yaml" >"$T/typo.kubevirt.yaml"
if "$PY" "$check" kubevirt "$T/typo.kubevirt.yaml" 2>/dev/null; then
  fail "check_emit.py accepted a misspelt field"
fi
sed '0,/name: web01-disk-0/s//name: web01-disk-9/' "$out/web01.kubevirt.yaml" >"$T/ref.kubevirt.yaml"
if "$PY" "$check" kubevirt "$T/ref.kubevirt.yaml" 2>/dev/null; then
  fail "check_emit.py accepted a dangling DataVolume reference"
fi
# ...and so are libvirt's tools: a domain with a bad element does not pass.
sed 's|<vcpu placement="static">|<vcpus placement="static">|; s|</vcpu>|</vcpus>|' \
  "$out/web01.xml" >"$T/bad.xml"
if virt-xml-validate "$T/bad.xml" domain >/dev/null 2>&1; then
  fail "virt-xml-validate accepted a broken domain"
fi

echo "PASS: $test_name: ${#xmls[@]} domains, ${#yamls[@]} KubeVirt streams, ${#reports[@]} reports"
