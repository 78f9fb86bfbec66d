#!/usr/bin/env bash
# Benchmark an OVA streamed over HTTP against the local conversion of the
# same disk, and show the OVA is not written to disk on the way.
#
#   bench/ova-http-vs-local.sh [--size SIZE] [--rounds N] [--ferry PATH]
#                              [--workdir DIR] [--keep]
#
# The generated disk (about half data; see bench/lib.sh) becomes a
# streamOptimized VMDK, packed with an OVF and a SHA-256 manifest into an
# OVA (ovf, mf, disks: the order VMware writes) served by nginx on
# 127.0.0.1.  Timed, rounds alternating the order:
#
#   local  ferry convert -q DISK1.vmdk out.raw   (the disk alone, local)
#   ova    ferry convert -q --no-guestfix http://.../vm.ova -o DIR
#          (the whole VM: manifest checked, both disks, libvirt XML)
#
# During each OVA run the space used under its TMPDIR and DIR is sampled
# every 0.1 s: the peak shows no OVA-sized file was staged.  Prints the
# medians and ova / local (goal: <= 1.2).
#
# Exit status: 0 all outputs equal; 1 an output differs, a tool failed or
# an OVA-sized file appeared; 2 usage or setup error.
BENCH_DESC="Compare an OVA streamed over HTTP with the local conversion of its disk."
source "$(dirname "$0")/lib.sh"
bench_parse "$@"
bench_setup qemu-img nginx tar sha256sum sha1sum du

raw=$workdir/disk.raw
www=$workdir/ova-www
stage=$workdir/ova-stage
out=$workdir/out.raw
outdir=$workdir/ova-out
tmp=$workdir/ova-tmp

cleanup () {
  stop_servers
  [[ -n ${mon:-} ]] && kill "$mon" 2> /dev/null || :
  rm -rf "$out" "$outdir" "$tmp" "$logf" "$timef" "$workdir/du.log"
  if ! $keep; then
    rm -rf "$www" "$stage" "$raw" "$raw.stamp" "$workdir/nginx"
    rmdir "$workdir" 2> /dev/null || :
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fresh=false
gen_disk "$raw" && fresh=true
mkdir -p "$www" "$stage"
if $fresh || [[ ! -f $www/vm.ova ]]; then
  note "making the OVA"
  rm -f "$www/vm.ova"
  (
    cd "$stage"
    qemu-img convert -f raw -O vmdk -o subformat=streamOptimized "$raw" app01-disk1.vmdk
    qemu-img create -q -f raw d2.raw 32M
    qemu-img convert -f raw -O vmdk -o subformat=streamOptimized d2.raw app01-disk2.vmdk
    rm -f d2.raw
    # The project's OVF fixture (an ovftool export), sized to these disks.
    sed -e "s/ovf:capacity=\"40\" ovf:capacityAllocationUnits=\"byte \\* 2^30\"/ovf:capacity=\"$((size / MiB))\" ovf:capacityAllocationUnits=\"byte * 2^20\"/" \
        -e 's/ovf:capacity="100" ovf:capacityAllocationUnits="byte \* 2^30"/ovf:capacity="32" ovf:capacityAllocationUnits="byte * 2^20"/' \
        -e "s/ovf:size=\"1306355712\"/ovf:size=\"$(stat -c %s app01-disk1.vmdk)\"/" \
        -e "s/ovf:size=\"68608\"/ovf:size=\"$(stat -c %s app01-disk2.vmdk)\"/" \
        "$repo_dir/fixtures/vm/vmware-export.ovf" > app01.ovf
    grep -q "ovf:capacity=\"$((size / MiB))\"" app01.ovf || die "OVF fixture edit failed"
    {
      echo "SHA1(app01.ovf)= $(sha1sum app01.ovf | cut -d' ' -f1)"
      for f in app01-disk1.vmdk app01-disk2.vmdk; do
        echo "SHA256($f)= $(sha256sum "$f" | cut -d' ' -f1)"
      done
    } > app01.mf
    tar --format=ustar -cf "$www/vm.ova" app01.ovf app01.mf app01-disk1.vmdk app01-disk2.vmdk
  )
fi
vmdk=$stage/app01-disk1.vmdk
ova_bytes=$(stat -c %s "$www/vm.ova")
sync
start_nginx "$www"
url=http://127.0.0.1:$PORT/vm.ova

print_header
echo "server:    $(nginx -v 2>&1), $url ($ova_bytes bytes)"
echo

declare -A cmd
cmd[local]=$(quote "$ferry" convert -q "$vmdk" "$out")
cmd[ova]="TMPDIR=$(quote "$tmp") $(quote "$ferry" convert -q --no-guestfix "$url" -o "$outdir")"
tools=(local ova)
for tool in "${tools[@]}"; do
  echo "  $tool: ${cmd[$tool]}"
done
cat "$vmdk" "$www/vm.ova" > /dev/null

# Peak bytes allocated under TMPDIR and DIR while the OVA converts.
monitor () {
  local a b pa=0 pb=0
  while :; do
    # Either may not exist yet.
    a=$(du -sB1 "$tmp" 2> /dev/null | cut -f1) || a=0
    b=$(du -sB1 "$outdir" 2> /dev/null | cut -f1) || b=0
    ((${a:-0} > pa)) && pa=$a
    ((${b:-0} > pb)) && pb=$b
    echo "$pa $pb" > "$workdir/du.log"
    sleep 0.1
  done
}

declare -A times=() cpus=()
status=0
for ((r = 1; r <= rounds; r++)); do
  for ((k = 0; k < 2; k++)); do
    tool=${tools[(k + r - 1) % 2]}
    rm -rf "$out" "$out.part" "$outdir" "$tmp"
    if [[ $tool == ova ]]; then
      mkdir -p "$tmp"
      echo "0 0" > "$workdir/du.log"
      monitor &
      mon=$!
    fi
    timed "$tool" bash -c "${cmd[$tool]}"
    times[$tool]+="$t_sec "
    cpus[$tool]+="$t_cpu "
    if [[ $tool == local ]]; then
      cmp -s "$raw" "$out" || { echo "bench: local round $r: output differs" >&2; status=1; }
      continue
    fi
    kill "$mon" 2> /dev/null || :
    wait "$mon" 2> /dev/null || :
    mon=
    read -r peak_tmp peak_out < "$workdir/du.log"
    disk=$(find "$outdir" -name 'app01*-sda.raw' -o -name '*sda*.raw' | head -n 1)
    if [[ -z $disk ]] || ! cmp -s "$raw" "$disk"; then
      echo "bench: ova round $r: no disk or the disk differs (files: $(ls "$outdir"))" >&2
      status=1
    fi
    final_out=$(du -sB1 "$outdir" | cut -f1)
    echo "  ova round $r: $t_sec s; peak TMPDIR $peak_tmp bytes; DIR peak $peak_out, at the end $final_out bytes (OVA: $ova_bytes)"
    # Staging the OVA would show up as a peak an OVA above the outputs.
    if ((peak_tmp > ova_bytes / 10 || peak_out > final_out + ova_bytes / 10)); then
      echo "bench: ova round $r: an OVA-sized file was written" >&2
      status=1
    fi
  done
done
echo "  DIR holds: $(cd "$outdir" && ls | tr '\n' ' ')"
rm -rf "$out" "$outdir" "$tmp"
lm=$(median ${times[local]})
om=$(median ${times[ova]})
echo
echo "local s: ${times[local]} (CPU s: ${cpus[local]})"
echo "ova s:   ${times[ova]} (CPU s: ${cpus[ova]})"
echo "load:      $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min) at the end"
echo
printf '%-34s %9s %9s %14s\n' case "local s" "ova s" "ova/local"
printf '%-34s %9s %9s %14s\n' "" "(median)" "(median)" "(goal <= 1.20)"
printf '%-34s %9.2f %9.2f %14s\n' "streamOptimized local vs OVA http" "$lm" "$om" "$(ratio "$om" "$lm")"
if ((status != 0)); then
  echo
  echo "bench: FAILED" >&2
fi
exit "$status"
