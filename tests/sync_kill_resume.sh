#!/bin/bash
# A sync killed with SIGKILL resumes from its last checkpoint: the rerun
# reports work already done and copies less, the first copy never appears
# as DEST while incomplete, and after the rerun DEST equals the source.
# The source is served by nbdkit with a delay so kills land mid-copy.
source "$(dirname "$0")/lib.sh"
need nbdkit qemu-img python3 cmp

MiB=1048576
size=$((192 * MiB))
truncate -s $size src.raw
fill_random src.raw 0 $((size - 16 * MiB))
sock=$T/nbd.sock
slow="nbd+unix:///?socket=$sock"

nbdkit_start () { # nbdkit_start DELAY
  rm -f "$sock"
  nbdkit -U "$sock" -P "$T/nbdkit.pid" --filter=delay file src.raw rdelay="$1"
  cleanup_hooks+=("nbdkit_stop")
  for _ in $(seq 50); do [[ -S $sock ]] && break; sleep 0.1; done
}
nbdkit_stop () {
  [[ -f $T/nbdkit.pid ]] && kill "$(cat "$T/nbdkit.pid")" 2>/dev/null || :
  rm -f "$T/nbdkit.pid"
  sleep 0.2
}

# run_and_kill STATE MIN ARGS...: start a sync, and SIGKILL it as soon as
# STATE records more than MIN bytes done (so the kill lands after a
# checkpoint and before the end, however fast the machine is).
run_and_kill () {
  local st=$1 min=$2 pid
  shift 2
  "$FERRY" sync -q --threads=1 --checkpoint-interval=0.1 "$@" 2> "$T/killed.err" &
  pid=$!
  for _ in $(seq 600); do
    kill -0 $pid 2>/dev/null || fail "the sync finished before it could be killed"
    [[ -s $st ]] && (( $(done_bytes "$st") > min )) && break
    sleep 0.05
  done
  kill -9 $pid 2>/dev/null || fail "the sync finished before it could be killed"
  wait $pid 2>/dev/null || :
  check_no_sanitizer "$T/killed.err"
}

# done_bytes STATE: bytes the state records as done.
done_bytes () {
  python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); ip=s.get("in_progress") or {}; print(sum(d["length"] for d in ip.get("done", [])))' "$1"
}

for fmt in raw qcow2; do
  dst=dst.$fmt st=st-$fmt.json
  nbdkit_start 10ms

  # The first copy, killed twice at different points.
  run_and_kill $st 0 -O $fmt "$slow" $dst --state $st --change-id c0
  [[ ! -e $dst ]] || fail "$fmt: an interrupted first copy is visible as $dst"
  [[ -e $dst.sync ]] || fail "$fmt: no staging file $dst.sync"
  d1=$(done_bytes $st)
  note "$fmt: first kill: $d1 bytes checkpointed"
  (( d1 > 0 )) || fail "$fmt: nothing checkpointed before the first kill"
  run_and_kill $st $d1 -O $fmt "$slow" $dst --state $st --change-id c0
  d2=$(done_bytes $st)
  note "$fmt: second kill: $d2 bytes checkpointed"
  (( d2 > d1 )) || fail "$fmt: the second run did not resume ($d1 -> $d2)"
  nbdkit_stop

  # Finish without the delay: it resumes, and copies only the rest.
  nbdkit_start 0
  "$FERRY" sync -v --progress=none -O $fmt "$slow" $dst --state $st --change-id c0 2> "$T/stderr" \
    || { cat "$T/stderr"; fail "$fmt: final run failed"; }
  check_no_sanitizer "$T/stderr"
  grep -q "resuming the sync to change id c0: $d2 of $size bytes already done" "$T/stderr" \
    || { cat "$T/stderr"; fail "$fmt: the final run did not resume from the checkpoint"; }
  nbdkit_stop
  qemu-img compare -q -f raw -F $fmt src.raw $dst || fail "$fmt: first copy differs"
  [[ ! -e $dst.sync ]] || fail "$fmt: staging file left behind"

  # A delta of 96 ranges of 1 MiB, killed mid-way, then resumed.
  areas=()
  for i in $(seq 0 95); do
    off=$(( (i * 2 + 1) * MiB ))
    fill_random src.raw $off $MiB
    areas+=("$off:$MiB")
  done
  changes_json ch1.json c1 c0 $size "${areas[@]}"
  nbdkit_start 10ms
  run_and_kill $st 0 "$slow" $dst --state $st --changes ch1.json
  d3=$(done_bytes $st)
  note "$fmt: delta kill: $d3 bytes checkpointed"
  (( d3 > 0 && d3 < 96 * MiB )) || fail "$fmt: delta checkpoint $d3 is not partial"
  nbdkit_stop
  nbdkit_start 0
  "$FERRY" sync -v --progress=none "$slow" $dst --state $st --changes ch1.json 2> "$T/stderr" \
    || { cat "$T/stderr"; fail "$fmt: delta rerun failed"; }
  grep -q "resuming the sync to change id c1: $d3 of $((96 * MiB)) bytes already done" "$T/stderr" \
    || { cat "$T/stderr"; fail "$fmt: the delta rerun did not resume"; }
  nbdkit_stop
  qemu-img compare -q -f raw -F $fmt src.raw $dst || fail "$fmt: target differs after the resumed delta"
  [[ $fmt == qcow2 ]] && { qemu-img check -q $dst || fail "qemu-img check after resume"; }
  note "$fmt: kill and resume ok"
done
