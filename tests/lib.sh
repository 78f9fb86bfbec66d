# Functions shared by the integration tests.  Each test script starts with
#
#   source "$(dirname "$0")/lib.sh"
#
# ctest passes FERRY (the program), FIXGEN (the fixture generator), SRCDIR
# and TESTTMP (a scratch directory of the test's own).  Outside ctest the
# script can be run by hand:
#
#   FERRY=/tmp/build/ferry FIXGEN=/tmp/build/ferry-fixgen bash tests/NAME.sh
#
# Exit status: 0 pass, 77 skipped (a needed tool is missing), anything
# else fails.

set -euo pipefail
export LC_ALL=C

test_name=$(basename "$0" .sh)
: "${SRCDIR:=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
: "${TESTTMP:=${TMPDIR:-/tmp}/ferry-tests/$test_name}"
: "${FERRY:=ferry}"
: "${FIXGEN:=ferry-fixgen}"

# Sanitizer exit status must not be mistaken for ferry's own codes (exit 1
# is "bad input", which many tests expect).
for v in ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS; do
  case ":${!v:-}:" in
    *:exitcode=*) ;;
    *) export "$v=${!v:+${!v}:}exitcode=86" ;;
  esac
done
export UBSAN_OPTIONS="$UBSAN_OPTIONS:halt_on_error=1:print_stacktrace=1"

mkdir -p "$TESTTMP"
T=$(mktemp -d "$TESTTMP/run.XXXXXX")
cleanup_hooks=()
cleanup () {
  local rc=$? h
  for h in "${cleanup_hooks[@]}"; do eval "$h" || :; done
  if [[ ${FERRY_TEST_KEEP:-} ]]; then
    echo "kept $T" >&2
  else
    rm -rf "$T"
  fi
  return $rc
}
trap cleanup EXIT
cd "$T"

skip () { echo "SKIP: $test_name: $*"; exit 77; }
fail () { echo "FAIL: $test_name: $*" >&2; exit 1; }
note () { echo "# $*"; }

# need PROGRAM...: skip the test unless every program is available.
need () {
  local p
  for p; do
    command -v "$p" >/dev/null 2>&1 || skip "$p is not installed"
  done
}

# need_fixgen: skip unless the fixture generator was built.
need_fixgen () {
  command -v "$FIXGEN" >/dev/null 2>&1 || [[ -x $FIXGEN ]] \
    || skip "fixture generator $FIXGEN is not built"
}

# Fail if a sanitizer reported anything in FILE (a log of stderr).
check_no_sanitizer () {
  if grep -E -q 'Sanitizer|runtime error:' "$1"; then
    cat "$1" >&2
    fail "sanitizer report in $1"
  fi
}

# run_ferry ARGS...: run ferry, stderr kept in $T/stderr (and shown), fail
# on a non-zero exit.
run_ferry () {
  local rc=0
  "$FERRY" "$@" 2> "$T/stderr" || rc=$?
  cat "$T/stderr" >&2
  check_no_sanitizer "$T/stderr"
  [[ $rc == 0 ]] || fail "ferry $* exited with $rc"
}

# expect_fail CODE SUBSTRING COMMAND...: COMMAND must exit with CODE and
# print SUBSTRING (fixed string) on stderr.  Its stderr stays in $T/stderr
# for further checks (expect_msg).
expect_fail () {
  local code=$1 want=$2 rc=0
  shift 2
  "$@" > "$T/stdout" 2> "$T/stderr" || rc=$?
  cat "$T/stderr" >&2
  check_no_sanitizer "$T/stderr"
  [[ $rc == "$code" ]] || fail "$* exited with $rc, expected $code"
  grep -F -q -- "$want" "$T/stderr" \
    || fail "$*: stderr does not contain '$want'"
}

# expect_msg REGEX: the stderr of the last expect_fail matches the extended
# REGEX (case-insensitive).
expect_msg () {
  grep -E -i -q -- "$1" "$T/stderr" \
    || fail "stderr does not match /$1/: $(cat "$T/stderr")"
}

# expect_error_line FILE: ferry's error is one line, "ferry: FILE...: ...".
expect_error_line () {
  local lines
  lines=$(grep -c '^ferry: ' "$T/stderr" || :)
  grep -q "^ferry: .*$1.*: " "$T/stderr" \
    || fail "no 'ferry: ...$1...: reason' line on stderr"
  [[ $lines -ge 1 ]] || fail "no error line"
}

# expect_input_error FILE DEST REGEX COMMAND...: the convention for bad
# input: exit 1, one error line naming FILE and matching REGEX (the field or
# offset and the reason), and nothing left at DEST or DEST.part.
expect_input_error () {
  local file=$1 dest=$2 re=$3
  shift 3
  expect_fail 1 "$file" "$@"
  expect_error_line "$file"
  expect_msg "$re"
  no_dest "$dest"
}

# no_dest DEST: neither DEST nor DEST.part exists.
no_dest () {
  [[ ! -e $1 ]] || fail "$1 was left behind"
  [[ ! -e $1.part ]] || fail "$1.part was left behind"
}

# compare_raw A B: two raw images are byte-for-byte equal (same size too).
compare_raw () {
  local sa sb
  sa=$(stat -c %s "$1")
  sb=$(stat -c %s "$2")
  [[ $sa == "$sb" ]] || fail "$1 is $sa bytes, $2 is $sb bytes"
  cmp "$1" "$2" || fail "$1 and $2 differ"
}

# qemu_raw SOURCE OUT [FORMAT]: the oracle, qemu-img's own conversion.
qemu_raw () {
  qemu-img convert -f "${3:-vmdk}" -O raw "$1" "$2"
}

# check_convert SOURCE [FERRY-OPTIONS...]: ferry converts SOURCE to raw with
# the same bytes qemu-img produces; qemu-img compare agrees as well.
check_convert () {
  local src=$1 out want
  shift
  out="$T/ferry-$(basename "$src").raw"
  want="$T/qemu-$(basename "$src").raw"
  rm -f "$out" "$want"
  run_ferry convert -q "$@" "$src" "$out"
  qemu_raw "$src" "$want"
  compare_raw "$out" "$want"
  qemu-img compare -q -f vmdk -F raw "$src" "$out" \
    || fail "qemu-img compare: $src differs from $out"
  note "ok: $src"
  rm -f "$out" "$want"
}

# make_vmdk SUBFORMAT FILE SIZE [qemu-img create options...]
make_vmdk () {
  local sub=$1 file=$2 size=$3
  shift 3
  qemu-img create -q -f vmdk -o "subformat=$sub" "$@" "$file" "$size"
}

# qio FILE COMMAND...: run qemu-io commands on a VMDK ("write -P 0xab 1M 64k").
qio () {
  local file=$1 c args=()
  shift
  for c; do args+=(-c "$c"); done
  qemu-io -f vmdk "${args[@]}" "$file" > /dev/null
}

# fill_random FILE OFFSET LENGTH: random bytes into a raw file at OFFSET
# (both in bytes, multiples of 512).
fill_random () {
  head -c "$3" /dev/urandom \
    | dd of="$1" bs=512 seek=$(($2 / 512)) conv=notrunc status=none
}

# mixed_raw FILE SIZE: a raw image holding random data, text, a run of
# zeros written as data, and holes, at offsets that straddle grain and
# grain-table boundaries.
mixed_raw () {
  local f=$1 size=$2
  truncate -s "$size" "$f"
  fill_random "$f" 0 4096
  fill_random "$f" 61440 8192                   # across the first grain end
  { seq 1 20000 || :; } | head -c 65536 | dd of="$f" bs=512 seek=$((1048576 / 512)) \
    conv=notrunc status=none
  head -c 131072 /dev/zero | dd of="$f" bs=512 seek=$((2097152 / 512)) \
    conv=notrunc status=none
  fill_random "$f" $((33554432 - 512)) 1024     # across a 32 MiB table end
  fill_random "$f" $((size - 4096)) 4096        # the last sectors
}

# Little-endian integers in files.
get_u32 () { od -An -v --endian=little -t u4 -j "$2" -N 4 "$1" | tr -d ' '; }
get_u64 () { od -An -v --endian=little -t u8 -j "$2" -N 8 "$1" | tr -d ' '; }

put_le () { # FILE OFFSET VALUE NBYTES
  local f=$1 off=$2 v=$3 n=$4 i s=
  for ((i = 0; i < n; i++)); do
    s+=$(printf '\\x%02x' $(((v >> (8 * i)) & 0xff)))
  done
  printf "$s" | dd of="$f" bs=1 seek="$off" conv=notrunc status=none
}
put_u32 () { put_le "$1" "$2" "$3" 4; }
put_u64 () { put_le "$1" "$2" "$3" 8; }

# put_bytes FILE OFFSET < DATA: overwrite bytes in place.
put_bytes () { dd of="$1" bs=1 seek="$2" conv=notrunc status=none; }

# Fields of a hosted sparse (KDMV) header.
kdmv_capacity () { get_u64 "$1" 12; }       # sectors
kdmv_grain () { get_u64 "$1" 20; }          # sectors
kdmv_desc_offset () { get_u64 "$1" 28; }    # sectors
kdmv_desc_size () { get_u64 "$1" 36; }      # sectors
kdmv_gtes_per_gt () { get_u32 "$1" 44; }
kdmv_rgd () { get_u64 "$1" 48; }            # sectors
kdmv_gd () { get_u64 "$1" 56; }             # sectors
kdmv_overhead () { get_u64 "$1" 64; }       # sectors

# kdmv_gte_offset FILE GD-SECTOR GRAIN-INDEX: byte offset of the grain table
# entry for GRAIN-INDEX, through the directory at GD-SECTOR.
kdmv_gte_offset () {
  local f=$1 gd=$2 idx=$3 per gt
  per=$(kdmv_gtes_per_gt "$f")
  gt=$(get_u32 "$f" $((gd * 512 + idx / per * 4)))
  [[ $gt != 0 ]] || fail "$f: grain table for grain $idx is not allocated"
  echo $((gt * 512 + idx % per * 4))
}

# kdmv_set_gte FILE GRAIN-INDEX VALUE: set the entry in the grain table and
# in its redundant copy (readers may use either).
kdmv_set_gte () {
  local f=$1 idx=$2 v=$3 gd
  for gd in $(kdmv_gd "$f") $(kdmv_rgd "$f"); do
    [[ $gd != 0 ]] || continue
    put_u32 "$f" "$(kdmv_gte_offset "$f" "$gd" "$idx")" "$v"
  done
}

# kdmv_get_gte FILE GRAIN-INDEX: the entry through the primary directory.
kdmv_get_gte () {
  get_u32 "$1" "$(kdmv_gte_offset "$1" "$(kdmv_gd "$1")" "$2")"
}

# The descriptor embedded in a sparse VMDK, as text.
desc_get () {
  dd if="$1" bs=512 skip="$(kdmv_desc_offset "$1")" \
    count="$(kdmv_desc_size "$1")" status=none | tr -d '\0'
}

# desc_put FILE < TEXT: replace the embedded descriptor (zero padded).
desc_put () {
  local f=$1 size text
  size=$(($(kdmv_desc_size "$f") * 512))
  text=$(cat; echo x)
  text=${text%x}
  ((${#text} <= size)) || fail "$f: new descriptor is larger than $size bytes"
  { printf '%s' "$text"; head -c $((size - ${#text})) /dev/zero; } \
    | dd of="$f" bs=512 seek="$(kdmv_desc_offset "$f")" conv=notrunc \
      status=none
}

# desc_edit FILE SED-SCRIPT: edit a descriptor, embedded or separate.
desc_edit () {
  local f=$1 script=$2
  if [[ $(head -c 4 "$f") == KDMV ]]; then
    desc_get "$f" | sed -e "$script" | desc_put "$f"
  else
    sed -i -e "$script" "$f"
  fi
}

# desc_value FILE KEY: a key's value in a descriptor, without quotes.
desc_value () {
  local text
  if [[ $(head -c 4 "$1") == KDMV ]]; then text=$(desc_get "$1"); else text=$(cat "$1"); fi
  sed -n -e "s/^$2[ ]*=[ ]*\"\\{0,1\\}\\([^\"]*\\)\"\\{0,1\\}[ ]*\$/\\1/p" <<< "$text" | head -n 1
}

# zlib_stored BYTE COUNT: a zlib stream (one stored deflate block) that
# inflates to COUNT bytes of BYTE; COUNT < 65536.
zlib_stored () {
  local byte=$1 n=$2 a b
  a=$(((1 + n * byte) % 65521))
  b=$(((n + byte * n * (n + 1) / 2) % 65521))
  printf '\x78\x01\x01'
  printf "$(printf '\\x%02x\\x%02x\\x%02x\\x%02x' $((n & 255)) $((n >> 8)) \
    $((~n & 255)) $(((~n >> 8) & 255)))"
  head -c "$n" /dev/zero | tr '\0' "$(printf '\\%03o' "$byte")"
  printf "$(printf '\\x%02x\\x%02x\\x%02x\\x%02x' $((b >> 8)) $((b & 255)) \
    $((a >> 8)) $((a & 255)))"
}

# ferry_bytes_read: the "source bytes read: N" figure of the last run_ferry
# with -v.
ferry_bytes_read () {
  sed -n -e 's/.*source bytes read: \([0-9]*\).*/\1/p' "$T/stderr" | tail -n 1
}

# allocated FILE: bytes the file occupies on disk.
allocated () { du --block-size=1 "$1" | cut -f1; }

MiB=1048576
GiB=1073741824

# vt ARGS...: the VMDK damage/inspection tool (tests/tools/vmdktool.py).
vt () { python3 "$SRCDIR/tests/tools/vmdktool.py" "$@"; }

# free_port: a TCP port on 127.0.0.1 nobody listens on now.
free_port () {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# nginx_start [HTTP-TEXT [SERVER-TEXT [LISTEN-OPTS]]]: nginx as the
# current user, everything under $T/nginx, on a free 127.0.0.1 port (set in
# PORT), stopped by the cleanup hooks.  HTTP-TEXT goes into the http block,
# SERVER-TEXT into the server block after "root $T/www;", LISTEN-OPTS after
# the listen address (e.g. "ssl").
nginx_start () {
  local http_text=${1:-} server_text=${2:-} listen_opts=${3:-}
  local d=$T/nginx try port user=
  mkdir -p "$d/tmp"
  [[ $(id -u) == 0 ]] && user="user $(id -un) $(id -gn);"
  for try in 1 2 3 4 5; do
    port=$(free_port)
    cat > "$d/nginx.conf" <<EOF
$user
worker_processes 1;
error_log $d/error.log;
pid $d/nginx.pid;
events { worker_connections 128; }
http {
  access_log $d/access.log;
  client_body_temp_path $d/tmp/body;
  proxy_temp_path $d/tmp/proxy;
  fastcgi_temp_path $d/tmp/fastcgi;
  uwsgi_temp_path $d/tmp/uwsgi;
  scgi_temp_path $d/tmp/scgi;
  default_type application/octet-stream;
  sendfile on;
$http_text
  server {
    listen 127.0.0.1:$port $listen_opts;
    root $T/www;
$server_text
  }
}
EOF
    if nginx -p "$d" -c "$d/nginx.conf" -e "$d/error.log" 2> "$d/start.log"; then
      PORT=$port
      cleanup_hooks+=("kill \$(cat '$d/nginx.pid') 2> /dev/null")
      return 0
    fi
    grep -q 'Address already in use' "$d/start.log" "$d/error.log" 2> /dev/null \
      || { cat "$d/start.log" "$d/error.log" >&2; fail "nginx did not start"; }
  done
  fail "nginx: no free port"
}

# qemu_nbd_start SOCKET ARGS...: serve with qemu-nbd on a unix socket in
# the background (stopped by the cleanup hooks); waits until it listens.
qemu_nbd_start () {
  local sock=$1 pidf
  shift
  pidf="$sock.pid"
  rm -f "$sock" "$pidf"
  qemu-nbd -t --fork --pid-file="$pidf" -k "$sock" "$@"
  cleanup_hooks+=("qemu_nbd_stop $sock")
}
qemu_nbd_stop () {
  local pidf="$1.pid" pid
  [[ -f $pidf ]] || return 0
  pid=$(cat "$pidf")
  kill "$pid" 2>/dev/null || :
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  rm -f "$pidf" "$1"
}

# changes_json FILE NEW PREV SIZE START:LEN...: a DiskChangeInfo file.
changes_json () {
  local f=$1 new=$2 prev=$3 size=$4 a sep=''
  shift 4
  {
    printf '{"changeId": "%s", "previousChangeId": "%s", "startOffset": 0, "length": %s, "changedArea": [' "$new" "$prev" "$size"
    for a; do printf '%s{"start": %s, "length": %s}' "$sep" "${a%%:*}" "${a##*:}"; sep=', '; done
    printf ']}\n'
  } > "$f"
}

# vmx_one_disk FILE NAME GUESTOS MEMSIZE VCPUS VMDK MAC [FIRMWARE [CTRL]]:
# the .vmx of a VM as vSphere writes it, with one disk on a SCSI
# controller (default pvscsi) and one vmxnet3 NIC with a static MAC.
# Callers append any further lines.
vmx_one_disk () {
  local f=$1 name=$2 os=$3 mem=$4 cpus=$5 vmdk=$6 mac=$7
  local fw=${8:-bios} ctrl=${9:-pvscsi}
  cat > "$f" <<VMX
.encoding = "UTF-8"
config.version = "8"
virtualHW.version = "19"
displayName = "$name"
guestOS = "$os"
memSize = "$mem"
numvcpus = "$cpus"
firmware = "$fw"
scsi0.present = "TRUE"
scsi0.virtualDev = "$ctrl"
scsi0:0.present = "TRUE"
scsi0:0.fileName = "$vmdk"
scsi0:0.deviceType = "scsi-hardDisk"
ethernet0.present = "TRUE"
ethernet0.virtualDev = "vmxnet3"
ethernet0.addressType = "static"
ethernet0.address = "$mac"
VMX
}
