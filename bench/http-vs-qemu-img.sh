#!/usr/bin/env bash
# Benchmark ferry's HTTP source against the usual ways of converting a VMDK
# from a web server:
#
#   ferry      ferry convert http://.../disk.vmdk out.raw
#   qemu-http  qemu-img convert with qemu's curl (http) block driver
#   nbdkit     nbdkit curl + qemu-img convert from its NBD export (the way
#              KubeVirt's CDI imports a disk from a URL)
#
#   bench/http-vs-qemu-img.sh [--size SIZE] [--rounds N] [--ferry PATH]
#                             [--workdir DIR] [--keep]
#
# A raw disk (about half data, half holes; see bench/lib.sh) is made into a
# streamOptimized and a monolithicSparse VMDK, served by nginx on
# 127.0.0.1, and converted to raw by each tool, rounds alternating the
# order.  Every output must equal the generated disk.  Prints the medians
# and ferry / best-other (goal: <= 0.7).
#
# Exit status: 0 all outputs equal; 1 an output differs or a tool failed;
# 2 usage or setup error.
BENCH_DESC="Compare ferry's HTTP source with qemu-img's curl driver and with nbdkit curl + qemu-img."
source "$(dirname "$0")/lib.sh"
bench_parse "$@"
bench_setup qemu-img nbdkit nginx
qemu-img --help | grep -q -w http \
  || die "qemu-img has no http driver (install the package qemu-block-extra)"
[[ -n $(nbdkit curl --version 2> /dev/null) ]] \
  || die "nbdkit has no curl plugin (install the package nbdkit-plugin-curl)"

CASES=(streamOptimized monolithicSparse)
raw=$workdir/disk.raw
www=$workdir/www
out=$workdir/out.raw

cleanup () {
  stop_servers
  rm -f "$out" "$logf" "$timef"
  if ! $keep; then
    rm -rf "$www" "$raw" "$raw.stamp" "$workdir/nginx"
    rmdir "$workdir" 2> /dev/null || :
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$www"
fresh=false
gen_disk "$raw" && fresh=true
for sub in "${CASES[@]}"; do
  if $fresh || [[ ! -f $www/$sub.vmdk ]]; then
    note "qemu-img: making the $sub VMDK"
    qemu-img convert -f raw -O vmdk -o subformat="$sub" "$raw" "$www/tmp.vmdk"
    mv "$www/tmp.vmdk" "$www/$sub.vmdk"
  fi
done
sync
start_nginx "$www"

print_header
echo "qemu-img:  $(qemu-img --version | head -n 1)"
echo "nbdkit:    $(nbdkit --version | head -n 1)"
echo "server:    $(nginx -v 2>&1), http://127.0.0.1:$PORT/ (sendfile, Range)"
echo

rows=() cpurows=()
status=0
for sub in "${CASES[@]}"; do
  url=http://127.0.0.1:$PORT/$sub.vmdk
  declare -A cmd
  cmd[ferry]=$(quote "$ferry" convert -q "$url" "$out")
  cmd[qemu-http]=$(quote qemu-img convert -t writeback -f vmdk -O raw "$url" "$out")
  # nbdkit starts, qemu-img reads its socket ($uri), nbdkit exits with it.
  cmd[nbdkit]="nbdkit -r -U - curl url=$(quote "$url") --run $(quote "qemu-img convert -t writeback -f vmdk -O raw \"\$uri\" $(quote "$out")")"
  tools=(ferry qemu-http nbdkit)
  echo "case $sub -> raw: source $(stat -c %s "$www/$sub.vmdk") bytes at $url"
  for tool in "${tools[@]}"; do
    echo "  $tool: ${cmd[$tool]}"
  done
  # Warm the page cache so no tool pays for the first read of the file.
  cat "$www/$sub.vmdk" > /dev/null
  declare -A times=() cpus=()
  for ((r = 1; r <= rounds; r++)); do
    # Rotate the order from round to round.
    for ((k = 0; k < ${#tools[@]}; k++)); do
      tool=${tools[(k + r - 1) % ${#tools[@]}]}
      rm -f "$out" "$out.part"
      timed "$tool" bash -c "${cmd[$tool]}"
      times[$tool]+="$t_sec "
      cpus[$tool]+="$t_cpu "
      if ! cmp -s "$raw" "$out"; then
        echo "bench: $sub: $tool round $r: output differs from the generated disk" >&2
        status=1
      fi
    done
  done
  rm -f "$out"
  for tool in "${tools[@]}"; do
    printf '  %-10s s: %s (CPU s: %s)\n' "$tool" "${times[$tool]}" "${cpus[$tool]}"
  done
  fm=$(median ${times[ferry]})
  qm=$(median ${times[qemu-http]})
  nm=$(median ${times[nbdkit]})
  best=$(awk -v a="$qm" -v b="$nm" 'BEGIN { print (a < b) ? a : b }')
  fc=$(median ${cpus[ferry]}) qc=$(median ${cpus[qemu-http]}) nc=$(median ${cpus[nbdkit]})
  bestc=$(awk -v a="$qc" -v b="$nc" 'BEGIN { print (a < b) ? a : b }')
  rows+=("$(printf '%-18s %9.2f %13.2f %10.2f %20s' "$sub" "$fm" "$qm" "$nm" "$(ratio "$fm" "$best")")")
  cpurows+=("$(printf '%-18s %9.2f %13.2f %10.2f %20s' "$sub" "$fc" "$qc" "$nc" "$(ratio "$fc" "$bestc")")")
  unset cmd times cpus
done

echo
echo "load:      $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min) at the end"
echo
printf '%-18s %9s %13s %10s %20s\n' case "ferry s" "qemu-http s" "nbdkit s" "ferry/best-other"
printf '%-18s %9s %13s %10s %20s\n' "" "(median)" "(median)" "(median)" "(goal <= 0.70)"
printf '%s\n' "${rows[@]}"
echo
echo "CPU seconds (user + system, all processes of the tool; medians):"
printf '%-18s %9s %13s %10s %20s\n' case "ferry" "qemu-http" "nbdkit" "ferry/best-other"
printf '%s\n' "${cpurows[@]}"
if ((status != 0)); then
  echo
  echo "bench: FAILED: outputs differ" >&2
fi
exit "$status"
