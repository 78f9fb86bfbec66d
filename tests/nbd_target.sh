# NBD exports as targets: ferry convert SOURCE nbd://... writes the disk into
# a qemu-nbd or nbdkit export (TCP and unix sockets, one connection and
# multi-conn), zero ranges really become zero on an export full of garbage,
# and exports that are too small, read-only or failing are refused with
# exit code 3.  Oracle: qemu-img compare against the source VMDK.
source "$(dirname "$0")/lib.sh"
need qemu-img qemu-io qemu-nbd

size=$((64 * MiB))

# Sockets need short paths (108 bytes); the scratch directory may be deep.
S=$T
if ((${#T} > 80)); then
  S=$(mktemp -d /tmp/ferry-nbd.XXXXXX)
  cleanup_hooks+=("rm -rf '$S'")
fi

# free_port: a port nothing listens on (the servers retry if another
# process takes it first).
free_port () {
  local port
  while :; do
    port=$((20000 + RANDOM % 40000))
    (: < "/dev/tcp/127.0.0.1/$port") 2> /dev/null || break
  done
  echo "$port"
}

# stop_server PIDFILE: stop a server and wait until it is gone, so its
# image file is complete and closed.
stop_server () {
  local pid i
  [[ -s $1 ]] || return 0
  pid=$(cat "$1")
  rm -f "$1"
  kill "$pid" 2> /dev/null || return 0
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2> /dev/null || return 0
    sleep 0.05
  done
  kill -9 "$pid" 2> /dev/null || :
}

# qnbd NAME tcp|unix QEMU-NBD-ARGS...: start qemu-nbd in the background
# (--fork returns once it listens); sets URI.  -t keeps it serving after
# ferry disconnects; the test stops it.
qnbd () {
  local name=$1 kind=$2 port try
  shift 2
  cleanup_hooks+=("stop_server '$S/$name.pid'")
  if [[ $kind == unix ]]; then
    qemu-nbd --fork --pid-file "$S/$name.pid" -t -k "$S/$name.sock" "$@"
    URI="nbd+unix:///?socket=$S/$name.sock"
    return
  fi
  # A free port may be taken between the probe and the bind: retry.
  for try in 1 2 3 4 5; do
    port=$(free_port)
    if qemu-nbd --fork --pid-file "$S/$name.pid" -t -b 127.0.0.1 -p "$port" \
         "$@" 2> "$T/qemu-nbd.err"; then
      URI="nbd://127.0.0.1:$port"
      return
    fi
  done
  cat "$T/qemu-nbd.err" >&2
  fail "qemu-nbd did not start"
}

# nbdkit_start NAME tcp|unix NBDKIT-ARGS...: nbdkit forks once it listens.
nbdkit_start () {
  local name=$1 kind=$2 port try
  shift 2
  cleanup_hooks+=("stop_server '$S/$name.pid'")
  if [[ $kind == unix ]]; then
    nbdkit -P "$S/$name.pid" -U "$S/$name.sock" "$@"
    URI="nbd+unix:///?socket=$S/$name.sock"
    return
  fi
  for try in 1 2 3 4 5; do
    port=$(free_port)
    if nbdkit -P "$S/$name.pid" -i 127.0.0.1 -p "$port" "$@" \
         2> "$T/nbdkit.err"; then
      URI="nbd://127.0.0.1:$port"
      return
    fi
  done
  cat "$T/nbdkit.err" >&2
  fail "nbdkit did not start"
}

# garbage FILE SIZE: a raw file of random bytes, so that every zero range
# of the disk has to be written for the result to match.
garbage () { head -c "$2" /dev/urandom > "$1"; }

# The source: a monolithicSparse VMDK holding data (random, text, zeros
# written as data), zero grains (GTE=1) and unallocated space.
mixed_raw src.raw $size
qemu-img convert -q -f raw -O vmdk -o subformat=monolithicSparse,zeroed_grain=on \
  src.raw d.vmdk
qio d.vmdk "write -P 0x5a 40M 1M" "write -z 40M 512k" "write -z 48M 2M" \
  "write -P 0x77 $((size - 8 * MiB)) 64k"
qemu-img convert -q -f vmdk -O raw d.vmdk want.raw
garbage junk.raw $size

# compare_export FORMAT FILE: the export's file equals the source.
compare_export () {
  qemu-img compare -q -f vmdk -F "$1" d.vmdk "$2" \
    || fail "qemu-img compare: d.vmdk differs from $2 ($1)"
}

# 1. A raw file of garbage over TCP, one connection (qemu-nbd --shared=1
#    does not allow multi-conn).
cp junk.raw e1.raw
qnbd e1 tcp -f raw e1.raw
run_ferry convert -v d.vmdk "$URI"
grep -q ', 1 connection, ' "$T/stderr" || fail "expected one connection"
grep -q 'write_zeroes' "$T/stderr" || fail "expected write_zeroes"
stop_server "$S/e1.pid"
compare_export raw e1.raw
cmp want.raw e1.raw || fail "e1.raw differs from qemu-img's conversion"
note "ok: qemu-nbd raw over TCP, one connection"

# 2. A qcow2 (written full of garbage first) over a unix socket,
#    multi-conn with --shared=4.
qemu-img create -q -f qcow2 e2.qcow2 $size
qemu-img convert -q -n -f raw -O qcow2 junk.raw e2.qcow2
qnbd e2 unix -f qcow2 --shared=4 e2.qcow2
run_ferry convert -v --threads=8 --request-size=256k d.vmdk "$URI"
grep -q ', 4 connections (multi-conn)' "$T/stderr" \
  || fail "expected 4 connections with multi-conn"
stop_server "$S/e2.pid"
qemu-img check -q e2.qcow2 || fail "qemu-img check e2.qcow2"
compare_export qcow2 e2.qcow2
note "ok: qemu-nbd qcow2 over a unix socket, multi-conn"

# 3. A larger export: the disk is written, the bytes after it are left
#    alone, and -v says so.
garbage e3.raw $((80 * MiB))
cp e3.raw e3.orig
qnbd e3 tcp -f raw -e 4 e3.raw
run_ferry convert -v d.vmdk "$URI"
grep -q "export is $((80 * MiB)) bytes, larger than the virtual size $size" \
  "$T/stderr" || fail "no note about the larger export"
stop_server "$S/e3.pid"
cmp -n $size want.raw e3.raw || fail "e3.raw: the disk part differs"
cmp -i $size e3.orig e3.raw || fail "e3.raw: bytes after the disk changed"
note "ok: larger export"

# 4. A smaller export is refused before anything is written.
garbage e4.raw $((32 * MiB))
cp e4.raw e4.orig
qnbd e4 tcp -f raw e4.raw
expect_fail 3 "export is $((32 * MiB)) bytes, smaller than the virtual size $size" \
  "$FERRY" convert d.vmdk "$URI"
expect_error_line "$URI"
stop_server "$S/e4.pid"
cmp e4.orig e4.raw || fail "the small export was written to"
note "ok: smaller export refused"

# 5. A read-only export is refused.
cp junk.raw e5.raw
qnbd e5 unix -f raw -r e5.raw
expect_fail 3 "read-only" "$FERRY" convert d.vmdk "$URI"
expect_error_line "$URI"
stop_server "$S/e5.pid"
cmp junk.raw e5.raw || fail "the read-only export changed"
note "ok: read-only export refused"

# 6. A streamOptimized source read sequentially: the whole export is zeroed
#    first, then the grains land.
qemu-img convert -q -f vmdk -O vmdk -o subformat=streamOptimized d.vmdk s.vmdk
cp junk.raw e6.raw
# --shared=2 lets in two of the four connections ferry asks for; the
# others time out and ferry goes on with two.
qnbd e6 tcp -f raw -e 2 e6.raw
run_ferry convert -v --sequential s.vmdk "$URI"
grep -q ', 2 connections (multi-conn)' "$T/stderr" \
  || fail "expected 2 connections with --shared=2"
stop_server "$S/e6.pid"
compare_export raw e6.raw
note "ok: sequential streamOptimized source"

# 7. Not an output format for an export, and no server there.
port=$(free_port)
expect_fail 2 "its format is chosen by the server" \
  "$FERRY" convert -O qcow2 d.vmdk "nbd://127.0.0.1:$port"
expect_fail 3 "nbd://127.0.0.1:$port" "$FERRY" convert d.vmdk "nbd://127.0.0.1:$port"
expect_msg 'cannot connect'
note "ok: usage and connection errors"

# 8. TLS with a pre-shared key (nbds+unix://USER@/?socket=...&tls-psk-file=):
#    the copy works, and neither the key file nor the user name appears in
#    messages when the connection fails.
mkdir topsecret
echo "alice:$(head -c 32 /dev/urandom | od -An -v -tx1 | tr -d ' \n')" \
  > topsecret/keys.psk
cp junk.raw e8.raw
qnbd e8 unix --object "tls-creds-psk,id=tls0,endpoint=server,dir=$T/topsecret" \
  --tls-creds tls0 -f raw e8.raw
tls_uri="nbds+unix://alice@/?socket=$S/e8.sock&tls-psk-file=$T/topsecret/keys.psk"
run_ferry convert -q d.vmdk "$tls_uri"
expect_fail 3 "nbds+unix:///?socket=$S/e8.sock: cannot connect" \
  "$FERRY" convert d.vmdk "${tls_uri/alice/mallory}"
if grep -q -e topsecret -e mallory "$T/stderr"; then
  fail "a secret from the URI was printed"
fi
expect_fail 3 "nbds+unix:///?socket=$S/e8.sock: cannot connect" \
  "$FERRY" convert d.vmdk "${tls_uri/keys.psk/none.psk}"
if grep -q -e topsecret -e alice "$T/stderr"; then
  fail "a secret from the URI was printed"
fi
stop_server "$S/e8.pid"
compare_export raw e8.raw
note "ok: TLS with a pre-shared key"

# nbdkit as a second server.
if ! command -v nbdkit > /dev/null; then
  note "nbdkit is not installed; skipping the nbdkit cases"
  exit 0
fi

# 9. nbdkit memory plugin over a unix socket, filled with garbage first.
nbdkit_start m1 unix memory $size
qemu-img convert -q -n -f raw -O raw junk.raw "$URI"
run_ferry convert -v d.vmdk "$URI"
grep -q '(multi-conn)' "$T/stderr" || fail "nbdkit memory: expected multi-conn"
qemu-img compare -q -f vmdk -F raw d.vmdk "$URI" \
  || fail "qemu-img compare: d.vmdk differs from nbdkit memory"
stop_server "$S/m1.pid"
note "ok: nbdkit memory"

# 10. A server without write_zeroes (nozero filter): zeros are written.
nbdkit_start m2 tcp --filter=nozero memory $size
qemu-img convert -q -n -f raw -O raw junk.raw "$URI"
run_ferry convert -v d.vmdk "$URI"
grep -q 'zeros written as data' "$T/stderr" || fail "expected zeros as data"
qemu-img compare -q -f vmdk -F raw d.vmdk "$URI" \
  || fail "qemu-img compare: d.vmdk differs from nbdkit nozero"
stop_server "$S/m2.pid"
note "ok: nbdkit without write_zeroes"

# 11. Writes that fail: exit 3, the offset and the server's error, and a
#     warning that the export holds a partial copy.
nbdkit_start m3 unix --filter=error memory $size error-pwrite=EIO \
  error-pwrite-rate=100%
expect_fail 3 "nbd+unix:///?socket=$S/m3.sock" "$FERRY" convert d.vmdk "$URI"
expect_msg 'write of [0-9]+ bytes at offset [0-9]+: .*(Input/output error|EIO)'
expect_msg 'partial copy'
stop_server "$S/m3.pid"
note "ok: write errors"
