#!/usr/bin/env bash
# Benchmark ferry's NBD source against nbdcopy (libnbd-bin): a qemu-nbd
# export of a sparse raw disk (about half data; see bench/lib.sh) copied to
# a raw file by both, rounds alternating the order.
#
#   bench/nbd-vs-nbdcopy.sh [--size SIZE] [--rounds N] [--ferry PATH]
#                           [--workdir DIR] [--keep]
#
# qemu-nbd serves the disk read-only on a unix socket with --shared=8, so
# both tools may use several connections (qemu-nbd advertises multi-conn on
# a read-only export).  Both make the output durable: ferry fsyncs it,
# nbdcopy is given --flush.  Every output must equal the disk.  Prints the
# medians and ferry / nbdcopy (goal: <= 1.1).
#
# Exit status: 0 all outputs equal; 1 an output differs or a tool failed;
# 2 usage or setup error.
BENCH_DESC="Compare ferry's NBD source with nbdcopy on a qemu-nbd export."
source "$(dirname "$0")/lib.sh"
bench_parse "$@"
bench_setup qemu-nbd nbdcopy qemu-img

raw=$workdir/disk.raw
out=$workdir/out.raw
sock=$workdir/nbd.sock
pidf=$workdir/qemu-nbd.pid

cleanup () {
  [[ -s $pidf ]] && kill "$(cat "$pidf")" 2> /dev/null || :
  rm -f "$out" "$out.part" "$logf" "$timef" "$sock" "$pidf"
  if ! $keep; then
    rm -f "$raw" "$raw.stamp"
    rmdir "$workdir" 2> /dev/null || :
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

gen_disk "$raw" || :
sync
if ((${#sock} > 100)); then
  sock=$(mktemp -u /tmp/ferry-bench-nbd.XXXXXX.sock)
fi
rm -f "$sock" "$pidf"
qemu-nbd --fork --pid-file="$pidf" -t -r --shared=8 -f raw --cache=writeback \
  -k "$sock" "$raw"
uri="nbd+unix:///?socket=$sock"

print_header
echo "qemu-nbd:  $(qemu-nbd --version | head -n 1), read-only, --shared=8"
echo "nbdcopy:   $(nbdcopy --version | head -n 1)"
echo "allocated: $(du -B1 "$raw" | cut -f1) of $size bytes"
echo

declare -A cmd
cmd[ferry]=$(quote "$ferry" convert -q "$uri" "$out")
# One connection: whether several help depends on the server and the load.
cmd[ferry-c1]=$(quote "$ferry" convert -q --connections=1 "$uri" "$out")
cmd[nbdcopy]=$(quote nbdcopy --flush "$uri" "$out")
tools=(ferry ferry-c1 nbdcopy)
for tool in "${tools[@]}"; do
  echo "  $tool: ${cmd[$tool]}"
done
cat "$raw" > /dev/null
declare -A times=() cpus=()
status=0
for ((r = 1; r <= rounds; r++)); do
  for ((k = 0; k < ${#tools[@]}; k++)); do
    tool=${tools[(k + r - 1) % ${#tools[@]}]}
    rm -f "$out" "$out.part"
    # nbdcopy writes into an existing file; it is made empty, as ferry
    # makes its own.
    [[ $tool == nbdcopy ]] && truncate -s "$size" "$out"
    timed "$tool" bash -c "${cmd[$tool]}"
    times[$tool]+="$t_sec "
    cpus[$tool]+="$t_cpu "
    if ! cmp -s "$raw" "$out"; then
      echo "bench: $tool round $r: output differs from the disk" >&2
      status=1
    fi
    echo "  $tool round $r: $t_sec s ($t_cpu CPU s), output allocated $(du -B1 "$out" | cut -f1) bytes"
  done
done
rm -f "$out"
fm=$(median ${times[ferry]})
f1=$(median ${times[ferry-c1]})
nm=$(median ${times[nbdcopy]})
fc=$(median ${cpus[ferry]}) f1c=$(median ${cpus[ferry-c1]}) nc=$(median ${cpus[nbdcopy]})
echo
echo "load:      $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min) at the end"
echo
printf '%-34s %9s %11s %16s\n' case "ferry s" "nbdcopy s" "ferry/nbdcopy"
printf '%-34s %9s %11s %16s\n' "" "(median)" "(median)" "(goal <= 1.10)"
printf '%-34s %9.2f %11.2f %16s\n' "qemu-nbd raw -> raw" "$fm" "$nm" "$(ratio "$fm" "$nm")"
printf '%-34s %9.2f %11.2f %16s\n' "  ferry --connections=1" "$f1" "$nm" "$(ratio "$f1" "$nm")"
printf '%-34s %9.2f %11.2f %16s\n' "  CPU s (user + system)" "$fc" "$nc" "$(ratio "$fc" "$nc")"
printf '%-34s %9.2f %11.2f %16s\n' "  CPU s, ferry --connections=1" "$f1c" "$nc" "$(ratio "$f1c" "$nc")"
if ((status != 0)); then
  echo
  echo "bench: FAILED: outputs differ" >&2
fi
exit "$status"
