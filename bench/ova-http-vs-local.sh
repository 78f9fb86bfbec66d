#!/usr/bin/env bash
# Benchmark an OVA streamed over HTTP against the local conversion of the
# same OVA and of its disk alone, and show the OVA is not written to disk
# on the way.
#
#   bench/ova-http-vs-local.sh [--size SIZE] [--rounds N] [--ferry PATH]
#                              [--workdir DIR] [--keep]
#
# The generated disk (about half data; see bench/lib.sh) becomes a
# streamOptimized VMDK, packed with an OVF and a SHA-256 manifest into an
# OVA (ovf, mf, disks: the order VMware writes) served by nginx on
# 127.0.0.1.  Timed, rounds rotating the order:
#
#   vmdk       ferry convert -q DISK1.vmdk out.raw
#              (the disk alone, local: no manifest, no checksum)
#   vmdk-csum  ferry convert -q --checksum DISK1.vmdk out.raw
#              (the disk alone with the disk checksum the VM report has)
#   ova-local  ferry convert -q --no-guestfix LOCAL/vm.ova -o DIR
#   ova-http   ferry convert -q --no-guestfix http://.../vm.ova -o DIR
#              (the whole VM: manifest checked, both disks with their
#              checksums, libvirt XML; the same work, only the transport
#              differs)
#   ova-http-nv  the same with --no-verify (no manifest check)
#
# During each OVA run the space used under its TMPDIR and DIR is sampled
# every 0.1 s: the peak shows no OVA-sized file was staged.  (The sampling
# runs during both OVA cases, so both pay for it alike.)
# Prints the medians, ova-http / ova-local (goal: <= 1.2) and, for the
# record, ova-http / vmdk and ova-http-nv / vmdk-csum (the disk streamed
# out of the OVA over HTTP against the same disk converted from a local
# file, with the same checksum and no manifest).
#
# Exit status: 0 all outputs equal; 1 an output differs, a tool failed or
# an OVA-sized file appeared; 2 usage or setup error.
BENCH_DESC="Compare an OVA streamed over HTTP with the local conversion of the OVA and of its disk."
source "$(dirname "$0")/lib.sh"
bench_parse "$@"
bench_setup qemu-img nginx tar sha256sum sha1sum du python3

raw=$workdir/disk.raw
www=$workdir/ova-www
stage=$workdir/ova-stage
out=$workdir/out.raw
outdir=$workdir/ova-out
localdir=$workdir/ova-local-out
tmp=$workdir/ova-tmp

cleanup () {
  stop_servers
  [[ -n ${mon:-} ]] && kill "$mon" 2> /dev/null || :
  rm -rf "$out" "$outdir" "$localdir" "$tmp" "$logf" "$timef" "$workdir/du.log" "$workdir/du.log.new"
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
cmd[vmdk]=$(quote "$ferry" convert -q "$vmdk" "$out")
cmd[vmdk-csum]="$(quote "$ferry" convert -q --checksum "$vmdk" "$out") > /dev/null"
cmd[ova-http-nv]="TMPDIR=$(quote "$tmp") $(quote "$ferry" convert -q --no-guestfix --no-verify "$url" -o "$outdir")"
cmd[ova-local]="TMPDIR=$(quote "$tmp") $(quote "$ferry" convert -q --no-guestfix "$www/vm.ova" -o "$localdir")"
cmd[ova-http]="TMPDIR=$(quote "$tmp") $(quote "$ferry" convert -q --no-guestfix "$url" -o "$outdir")"
tools=(vmdk vmdk-csum ova-local ova-http ova-http-nv)
for tool in "${tools[@]}"; do
  echo "  $tool: ${cmd[$tool]}"
done
cat "$vmdk" "$www/vm.ova" > /dev/null

# Peak bytes allocated under TMPDIR and DIR while an OVA converts.  One
# python process samples both every 0.1 s: a shell loop of du's forked
# several processes per sample and took CPU from the conversion it was
# watching, on a 2-CPU machine measurably more from the CPU-bound HTTP
# case than from the local one.
monitor () {
  exec python3 - "$tmp" "$1" "$workdir/du.log" <<'PY'
import os, sys, time
def used(top):
    n = 0
    for root, dirs, files in os.walk(top):
        for f in files:
            try:
                n += os.lstat(os.path.join(root, f)).st_blocks * 512
            except OSError:
                pass  # removed under us
    return n
tmp, out, log = sys.argv[1:4]
pa = pb = 0
while True:
    pa = max(pa, used(tmp))
    pb = max(pb, used(out))
    with open(log + ".new", "w") as f:
        f.write(f"{pa} {pb}\n")
    os.replace(log + ".new", log)
    time.sleep(0.1)
PY
}

declare -A times=() cpus=()
status=0
for ((r = 1; r <= rounds; r++)); do
  for ((k = 0; k < ${#tools[@]}; k++)); do
    tool=${tools[(k + r - 1) % ${#tools[@]}]}
    rm -rf "$out" "$out.part" "$outdir" "$localdir" "$tmp"
    sync
    dir=$outdir
    [[ $tool == ova-local ]] && dir=$localdir
    if [[ $tool != vmdk* ]]; then
      mkdir -p "$tmp"
      echo "0 0" > "$workdir/du.log"
      monitor "$dir" &
      mon=$!
    fi
    timed "$tool" bash -c "${cmd[$tool]}"
    times[$tool]+="$t_sec "
    cpus[$tool]+="$t_cpu "
    if [[ $tool == vmdk* ]]; then
      cmp -s "$raw" "$out" || { echo "bench: $tool round $r: output differs" >&2; status=1; }
      continue
    fi
    kill "$mon" 2> /dev/null || :
    wait "$mon" 2> /dev/null || :
    mon=
    read -r peak_tmp peak_out < "$workdir/du.log"
    disk=$(find "$dir" -name '*sda*.raw' | head -n 1)
    if [[ -z $disk ]] || ! cmp -s "$raw" "$disk"; then
      echo "bench: $tool round $r: no disk or the disk differs (files: $(ls "$dir"))" >&2
      status=1
    fi
    final_out=$(du -sB1 "$dir" | cut -f1)
    held=$(cd "$dir" && ls | tr '\n' ' ')
    echo "  $tool round $r: $t_sec s; peak TMPDIR $peak_tmp bytes; DIR peak $peak_out, at the end $final_out bytes (OVA: $ova_bytes)"
    # Staging the OVA would show up as a peak an OVA above the outputs.
    if ((peak_tmp > ova_bytes / 10 || peak_out > final_out + ova_bytes / 10)); then
      echo "bench: $tool round $r: an OVA-sized file was written" >&2
      status=1
    fi
  done
done
echo "  DIR holds: $held"
rm -rf "$out" "$outdir" "$localdir" "$tmp"
vm=$(median ${times[vmdk]})
cm=$(median ${times[vmdk-csum]})
lm=$(median ${times[ova-local]})
om=$(median ${times[ova-http]})
nm=$(median ${times[ova-http-nv]})
echo
for tool in "${tools[@]}"; do
  printf '%-13s %s (CPU s: %s)\n' "$tool s:" "${times[$tool]}" "${cpus[$tool]}"
done
echo "load:        $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min) at the end"
echo
printf '%-36s %9s %9s %15s\n' case "local s" "http s" "http/local"
printf '%-36s %9s %9s %15s\n' "" "(median)" "(median)" ""
printf '%-36s %9.2f %9.2f %15s\n' "OVA local vs OVA http (goal <= 1.2)" "$lm" "$om" "$(ratio "$om" "$lm")"
printf '%-36s %9.2f %9.2f %15s\n' "disk alone local vs OVA http" "$vm" "$om" "$(ratio "$om" "$vm")"
printf '%-36s %9.2f %9.2f %15s\n' "disk+checksum vs OVA http no-verify" "$cm" "$nm" "$(ratio "$nm" "$cm")"
if ((status != 0)); then
  echo
  echo "bench: FAILED" >&2
fi
exit "$status"
