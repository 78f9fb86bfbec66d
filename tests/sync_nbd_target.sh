# Warm sync into an NBD export: the first sync writes the whole disk into
# the export in place (there is no file beside it to stage in), a later
# sync applies a change list, and the result equals the source each time
# (qemu-img compare through the export).  A qcow2 DEST format is refused,
# and an export that stops answering fails the sync within --nbd-timeout
# (exit 3) instead of hanging.
source "$(dirname "$0")/lib.sh"
need qemu-img qemu-io qemu-nbd nbdkit setsid

size=$((32 * MiB))
S=$T
if ((${#T} > 80)); then
  S=$(mktemp -d /tmp/ferry-snbd.XXXXXX)
  cleanup_hooks+=("rm -rf '$S'")
fi

# The source: data, a hole, more data.
qemu-img create -q -f raw src.raw $size
qemu-io -f raw -c "write -P 0x5a 0 3M" -c "write -P 0xc3 20M 5M" src.raw > /dev/null
# The export starts full of garbage, so zeros must really be written.
qemu-img create -q -f raw dst.raw $size
qemu-io -f raw -c "write -P 0xee 0 $size" dst.raw > /dev/null
qemu_nbd_start "$S/d.sock" -f raw dst.raw
uri="nbd+unix:///?socket=$S/d.sock"

expect_fail 2 "takes raw" "$FERRY" sync -q -O qcow2 src.raw "$uri" --state st.json
run_ferry sync -q src.raw "$uri" --state st.json --change-id c1
qemu-img compare -q -f raw -F raw src.raw "$uri" || fail "first sync into the export differs"
grep -q '"c1"' st.json || fail "state does not record change id c1"
note "ok: first sync into an NBD export"

# A change: new data at 1M, and the 20M area zeroed.
qemu-io -f raw -c "write -P 0x11 1M 1M" -c "write -z 20M 5M" src.raw > /dev/null
changes_json ch2.json c2 c1 $size $((1 * MiB)):$((1 * MiB)) $((20 * MiB)):$((5 * MiB))
run_ferry sync -q --changes ch2.json src.raw "$uri" --state st.json
qemu-img compare -q -f raw -F raw src.raw "$uri" || fail "incremental sync into the export differs"
note "ok: incremental sync into an NBD export"
qemu_nbd_stop "$S/d.sock"

# An export that stops answering: the sync gives up within the timeout.
(trap '' PIPE; exec setsid nbdkit -f -P "$S/m.pid" -U "$S/m.sock" --filter=delay memory $size wdelay=1 2> "$S/m.log") &
for ((i = 0; i < 200; i++)); do
  [[ -s $S/m.pid && -S $S/m.sock ]] && break
  sleep 0.05
done
[[ -s $S/m.pid ]] || fail "nbdkit did not start"
pid=$(cat "$S/m.pid")
cleanup_hooks+=("kill -CONT $pid 2>/dev/null; kill $pid 2>/dev/null")
"$FERRY" sync -v --nbd-timeout=2 src.raw "nbd+unix:///?socket=$S/m.sock" \
  --state st2.json 2> "$T/frozen.err" &
fpid=$!
# Freeze the server once the copy has begun.
for ((i = 0; i < 100; i++)); do
  grep -q "NBD export of" "$T/frozen.err" && break
  sleep 0.05
done
sleep 0.1
kill -STOP "$pid"
t0=$SECONDS
rc=0
wait "$fpid" || rc=$?
took=$((SECONDS - t0))
kill -CONT "$pid"
cat "$T/frozen.err" >&2
check_no_sanitizer "$T/frozen.err"
[[ $rc == 3 ]] || fail "frozen export: exit $rc, expected 3"
grep -q "did not answer a .* within 2 s" "$T/frozen.err" \
  || fail "frozen export: no 'did not answer ... within 2 s' line"
((took <= 8)) || fail "frozen export: took $took s to fail"
note "ok: a frozen export fails the sync in about $took s"
