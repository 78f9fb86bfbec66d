#!/bin/bash
# NBD sources: qemu-nbd exports of a raw and a qcow2 file, over TCP and a
# unix socket (nbd+unix://), convert to the exported content; block status
# keeps a sparse 4 GiB export holding 16 MiB cheap to copy; multi-conn
# (qemu-nbd --shared=4) is used with --connections=4; --nbd-request-size
# splits reads; nbdkit's error filter shows transient read errors retried,
# a dropped server reconnected, and persistent errors failing cleanly.
# Oracle: qemu-img compare against the exported image.
source "$(dirname "$0")/lib.sh"
need qemu-img qemu-io qemu-nbd python3

# Sockets need short paths (108 bytes); the scratch directory may be deep.
S=$T
if ((${#T} > 80)); then
  S=$(mktemp -d /tmp/ferry-nbd.XXXXXX)
  cleanup_hooks+=("rm -rf '$S'")
fi

free_port () {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# stop PIDFILE...: stop servers and wait until they are gone (servers
# take a second or more to exit: signal them all first).
stop () {
  local f pid pids=() i
  for f; do
    [[ -s $f ]] || continue
    pid=$(cat "$f")
    rm -f "$f"
    kill "$pid" 2> /dev/null && pids+=("$pid")
  done
  for pid in "${pids[@]}"; do
    for ((i = 0; i < 200; i++)); do
      kill -0 "$pid" 2> /dev/null || break
      sleep 0.05
    done
    kill -9 "$pid" 2> /dev/null || :
  done
}
servers=()
cleanup_hooks+=('stop "${servers[@]}"')

# qnbd NAME tcp|unix QEMU-NBD-ARGS...: start qemu-nbd (--fork returns once
# it listens, -t keeps it serving between clients); sets URI.
qnbd () {
  local name=$1 kind=$2 port try
  shift 2
  servers+=("$S/$name.pid")
  if [[ $kind == unix ]]; then
    qemu-nbd --fork --pid-file "$S/$name.pid" -t -k "$S/$name.sock" "$@"
    URI="nbd+unix:///?socket=$S/$name.sock"
    return
  fi
  for try in 1 2 3 4 5; do
    port=$(free_port)
    if qemu-nbd --fork --pid-file "$S/$name.pid" -t -b 127.0.0.1 -p "$port" \
         -x "$name" "$@" 2> "$T/$name.err"; then
      URI="nbd://127.0.0.1:$port/$name"
      return
    fi
  done
  cat "$T/$name.err" >&2
  fail "qemu-nbd did not start"
}

# same URI IMAGE FORMAT [FERRY-OPTIONS...]: ferry's copy of URI has the
# content of IMAGE.
same () {
  local uri=$1 img=$2 fmt=$3
  shift 3
  rm -f out.raw
  run_ferry convert -q "$@" "$uri" out.raw
  qemu-img compare -q -f "$fmt" -F raw "$img" out.raw || fail "$uri: output differs from $img"
  rm -f out.raw
  note "ok: $uri $*"
}

size=$((64 * MiB))
mixed_raw disk.raw $size
fill_random disk.raw $((40 * MiB)) $((3 * MiB))
qemu-img convert -q -f raw -O qcow2 disk.raw disk.qcow2
qemu-io -f qcow2 -c "write -P 0x42 10M 1M" -c "write -z 40M 1M" disk.qcow2 > /dev/null

qnbd raw tcp -r -f raw disk.raw
raw_uri=$URI
same "$URI" disk.raw raw
same "$URI" disk.raw raw --nbd-request-size=64k --connections=1
qnbd qcow unix -r -f qcow2 disk.qcow2
same "$URI" disk.qcow2 qcow2
# The checksum over NBD is the local one.
want=$("$FERRY" checksum --source-format=raw disk.raw | cut -d' ' -f1)
got=$("$FERRY" checksum "$raw_uri" | cut -d' ' -f1)
[[ $got == "$want" ]] || fail "checksum over NBD $got, local $want"

# Sparse: 4 GiB holding 16 MiB.  Block status means only the data moves:
# ferry's own count (rchar) and, independently, what qemu-nbd read from
# the file (its rchar) stay far below the 4 GiB.
truncate -s 4G sparse.raw
for off in 0 $((1 * GiB)) $((2 * GiB + 12345 * 512)) $((4 * GiB - 4 * MiB)); do
  fill_random sparse.raw "$off" $((4 * MiB))
done
qnbd sparse unix -r -f raw sparse.raw
server_rchar () { sed -n 's/^rchar: //p' "/proc/$(cat "$S/sparse.pid")/io"; }
before=$(server_rchar)
rm -f out.raw
run_ferry convert -v "$URI" out.raw
served=$(($(server_rchar) - before))
qemu-img compare -q -f raw -F raw sparse.raw out.raw || fail "sparse export differs"
read_bytes=$(ferry_bytes_read)
[[ -n $read_bytes ]] || fail "no 'source bytes read' in -v output"
((read_bytes < 64 * MiB)) || fail "ferry read $read_bytes bytes for 16 MiB of data"
((served < 64 * MiB)) || fail "qemu-nbd read $served bytes for 16 MiB of data"
((served >= 16 * MiB)) || fail "qemu-nbd read only $served bytes: not measured?"
note "sparse 4 GiB export: ferry read $read_bytes bytes, qemu-nbd $served"
rm -f out.raw

# Multi-conn: qemu-nbd allows it on a read-only export shared by 4.
qnbd multi tcp -r --shared=4 -f raw disk.raw
rm -f out.raw
run_ferry convert -v -v --connections=4 "$URI" out.raw
grep -q '4 connections' "$T/stderr" || fail "multi-conn not used: $(grep -i connection "$T/stderr")"
qemu-img compare -q -f raw -F raw disk.raw out.raw || fail "multi-conn output differs"
rm -f out.raw
same "$URI" disk.raw raw --connections=1 --threads=1

# A missing export and a dead address are input errors naming the URI.
expect_input_error "${URI%/*}/nosuch" out.raw "nosuch" "$FERRY" convert -q "${URI%/*}/nosuch" out.raw
expect_input_error "nbd+unix:///?socket=$S/none.sock" out.raw "none.sock" \
  "$FERRY" convert -q "nbd+unix:///?socket=$S/none.sock" out.raw

# nbdkit: read errors while a flag file exists.
if command -v nbdkit > /dev/null; then
  # nbdk NAME ARGS...: nbdkit on a unix socket, in the background.
  nbdk () {
    local name=$1
    shift
    nbdkit -P "$S/$name.pid" -U "$S/$name.sock" "$@"
    servers+=("$S/$name.pid")
    URI="nbd+unix:///?socket=$S/$name.sock"
  }
  # Transient: errors for a moment, then none; the copy retries through.
  touch "$S/flaky"
  nbdk flaky --filter=error file disk.raw error-pread-rate=100% error-pread-file="$S/flaky"
  rm -f out.raw
  "$FERRY" convert "$URI" out.raw 2> "$T/flaky.err" &
  ferry_pid=$!
  sleep 0.5
  rm -f "$S/flaky"
  wait $ferry_pid || { cat "$T/flaky.err" >&2; fail "convert did not recover from transient errors"; }
  check_no_sanitizer "$T/flaky.err"
  grep -q retrying "$T/flaky.err" || fail "no retry reported"
  qemu-img compare -q -f raw -F raw disk.raw out.raw || fail "output differs after retries"
  rm -f out.raw
  note "ok: transient read errors retried"

  # Persistent: the retries run out, exit 1, nothing left.
  touch "$S/broken"
  nbdk broken --filter=error file disk.raw error-pread-rate=100% error-pread-file="$S/broken"
  expect_input_error "nbd+unix:///?socket=$S/broken.sock" out.raw "gave up after 2 retries" \
    "$FERRY" convert -q --retries=2 "$URI" out.raw

  # The server dies in the middle of the copy (the connections drop) and
  # comes back on the same socket: the connections are made again and the
  # copy completes.
  nbdk slow --filter=delay file disk.raw rdelay=40ms
  rm -f out.raw
  "$FERRY" convert -v --connections=2 --threads=2 "$URI" out.raw 2> "$T/slow.err" &
  ferry_pid=$!
  sleep 0.4
  kill -9 "$(cat "$S/slow.pid")"
  rm -f "$S/slow.sock" "$S/slow.pid"
  nbdkit -P "$S/slow.pid" -U "$S/slow.sock" --filter=delay file disk.raw rdelay=40ms
  wait $ferry_pid || { cat "$T/slow.err" >&2; fail "convert did not survive a server restart"; }
  check_no_sanitizer "$T/slow.err"
  grep -q reconnected "$T/slow.err" || fail "no reconnection: $(cat "$T/slow.err")"
  qemu-img compare -q -f raw -F raw disk.raw out.raw || fail "output differs after reconnecting"
  note "ok: server restart survived"
else
  note "nbdkit not installed: fault cases skipped"
fi
note "all NBD sources ok"
