#!/usr/bin/env bash
# Benchmark "ferry convert" against "qemu-img convert" on the same VMDKs.
#
#   bench/convert-vs-qemu-img.sh [--size SIZE] [--rounds N] [--ferry PATH]
#                                [--workdir DIR] [--keep]
#
# A raw disk of SIZE is generated with seeded, reproducible content (about
# 20% random data, 20% compressible text, 60% zeros left as holes, in
# interleaved chunks of 1-8 MiB), converted to VMDKs with qemu-img, and each
# case in CASES below is converted back by both tools, alternating, for N
# rounds.  Every ferry output must equal qemu-img's byte for byte.  See
# bench/README.md for how to read the output.
#
# Exit status: 0 all outputs equal; 1 an output differs or a tool failed;
# 2 usage or setup error.
set -euo pipefail
export LC_ALL=C

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_dir=$(cd "$script_dir/.." && pwd)

# The cases: "SOURCE-SUBFORMAT OUTPUT-FORMAT".  The source is the generated
# disk converted by qemu-img to a VMDK of that subformat; both tools convert
# it to OUTPUT-FORMAT.  A new case needs only a line here (and, for a new
# output format, a branch in outputs_equal).
# SOURCE-SUBFORMAT "raw" is the generated raw disk itself; OUTPUT-FORMAT
# "qcow2-zstd" is qcow2 with zstd-compressed clusters (qemu-img -c).
CASES=(
  "streamOptimized raw"
  "monolithicSparse raw"
  "monolithicSparse qcow2"
  "streamOptimized qcow2"
  "raw qcow2-zstd"
)

# Changing the seed or the generator changes the data; bump GEN_VERSION when
# the generator changes so a kept work directory is regenerated.
SEED="ferry-bench-1"
GEN_VERSION=1

size_arg=4G
rounds=3
ferry=
workdir=${TMPDIR:-/tmp}/ferry-bench
keep=false
cmdline=$(printf '%q ' "$0" "$@")
cmdline=${cmdline% }

usage () {
  cat <<EOF
Usage: $0 [OPTIONS]

Compare 'ferry convert' with 'qemu-img convert' on generated VMDKs.

Options:
  --size SIZE     virtual disk size, e.g. 256M, 4G (default 4G; a multiple
                  of 512 bytes; suffixes K, M, G, T are powers of 1024)
  --rounds N      timed runs of each tool per case (default 3)
  --ferry PATH    the ferry program (default: build/ferry in the repository)
  --workdir DIR   scratch directory (default \${TMPDIR:-/tmp}/ferry-bench)
  --keep          keep the work directory; a later run with the same size
                  reuses the generated images
  -h, --help      this text
EOF
}

die () { echo "bench: $*" >&2; exit 2; }
note () { echo "bench: $*" >&2; }

while (($#)); do
  case $1 in
    --size) size_arg=${2:?--size needs a value}; shift 2 ;;
    --size=*) size_arg=${1#*=}; shift ;;
    --rounds) rounds=${2:?--rounds needs a value}; shift 2 ;;
    --rounds=*) rounds=${1#*=}; shift ;;
    --ferry) ferry=${2:?--ferry needs a value}; shift 2 ;;
    --ferry=*) ferry=${1#*=}; shift ;;
    --workdir) workdir=${2:?--workdir needs a value}; shift 2 ;;
    --workdir=*) workdir=${1#*=}; shift ;;
    --keep) keep=true; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument '$1'" ;;
  esac
done

# ---------------------------------------------------------------- checks

parse_size () {
  local s=$1 n unit
  [[ $s =~ ^([0-9]+)([KkMmGgTt]?)(i?B)?$ ]] || return 1
  n=${BASH_REMATCH[1]} unit=${BASH_REMATCH[2],,}
  case $unit in
    '') echo "$((10#$n))" ;;
    k) echo "$((10#$n << 10))" ;;
    m) echo "$((10#$n << 20))" ;;
    g) echo "$((10#$n << 30))" ;;
    t) echo "$((10#$n << 40))" ;;
  esac
}

size=$(parse_size "$size_arg") || die "--size $size_arg: expected a size such as 256M or 4G"
((size > 0 && size % 512 == 0)) || die "--size $size_arg: must be a positive multiple of 512 bytes"
[[ $rounds =~ ^[1-9][0-9]*$ ]] || die "--rounds $rounds: expected a number >= 1"

if [[ -z $ferry ]]; then
  ferry=$repo_dir/build/ferry
fi
[[ -x $ferry && ! -d $ferry ]] || die "$ferry: not an executable (build ferry, or give --ferry PATH)"
ferry=$(cd "$(dirname "$ferry")" && pwd)/$(basename "$ferry")

for tool in qemu-img openssl cmp seq dd od sha256sum truncate awk; do
  command -v "$tool" >/dev/null || die "$tool not found (qemu-img: package qemu-utils)"
done
[[ -x /usr/bin/time ]] || die "/usr/bin/time not found (install the 'time' package: apt-get install time)"

mkdir -p "$workdir"
workdir=$(cd "$workdir" && pwd)

MiB=$((1 << 20))

# The generated files and the outputs; everything else in workdir is left
# alone.
raw=$workdir/disk.raw
stamp=$workdir/disk.stamp
out_ref=$workdir/out.qemu-img
out_ferry=$workdir/out.ferry
logf=$workdir/run.log
timef=$workdir/run.time

# shellcheck disable=SC2317  # called through the trap
cleanup () {
  rm -f "$out_ref" "$out_ferry" "$out_ferry.part" "$logf" "$timef"
  if ! $keep; then
    rm -f "$raw" "$stamp" "$workdir"/src-*.vmdk "$workdir"/tmp-*.vmdk
    rmdir "$workdir" 2>/dev/null || :
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Rough space check: the raw image, the VMDKs and two outputs hold about
# 40% data each (less for streamOptimized).
avail_kib=$(df -Pk "$workdir" | awk 'NR == 2 { print $4 }')
need_kib=$((size * 22 / 10 / 1024))
if [[ -n $avail_kib ]] && ((avail_kib < need_kib)); then
  note "warning: $workdir has $((avail_kib / 1024)) MiB free; about $((need_kib / 1024)) MiB may be needed"
fi

# ---------------------------------------------------------------- data

# AES-128-CTR keyed by the seed: the same bytes on every machine.
key=$(printf '%s' "$SEED" | sha256sum | cut -c1-32)

# LEN bytes of seeded pseudo-random data; TAG (a number) selects the stream.
random_bytes () {
  local len=$1 tag=$2
  head -c "$len" /dev/zero \
    | openssl enc -aes-128-ctr -K "$key" -iv "$(printf '%032x' "$tag")" -nosalt
}

# LEN bytes of numbered text lines: compresses several times, not to nothing.
text_bytes () {
  local len=$1 first=$2
  { seq -f "%012.0f the quick brown fox jumps over the lazy dog $first" \
      "$first" 1e15 2>/dev/null || :; } | head -c "$len"
}

write_at () {
  dd of="$raw" bs=1M seek="$1" oflag=seek_bytes conv=notrunc iflag=fullblock status=none
}

# Chunks of 1-8 MiB, each random data, text or zeros (a hole), drawn from the
# seeded stream with weights 2:2:6.  A kind that would exceed its share of
# the disk (20%, 20%, 60%) gives way to the kind furthest below its share,
# so even a small disk has the intended mix.
generate () {
  local nchunks=$((size / MiB + 2)) off=0 i=0 t s len k j
  local -a layout have=(0 0 0) budget=($((size / 5)) $((size / 5)) $((size - 2 * (size / 5))))

  note "generating a ${size_arg} disk in $workdir"
  rm -f "$raw" "$stamp" "$workdir"/src-*.vmdk
  truncate -s "$size" "$raw"
  # Two seeded bytes per chunk: its kind and its length.
  read -r -a layout < <(random_bytes $((2 * nchunks)) 0 | od -An -v -tu1 | tr -s ' \n' ' '; echo)
  ((${#layout[@]} == 2 * nchunks)) || die "generator error: short layout"
  while ((off < size)); do
    t=${layout[2 * i]} s=${layout[2 * i + 1]}
    len=$(((1 + s % 8) * MiB))
    ((len > size - off)) && len=$((size - off))
    case $((t % 10)) in 0|1) k=0 ;; 2|3) k=1 ;; *) k=2 ;; esac
    if ((have[k] + len > budget[k])); then
      for j in 0 1 2; do
        ((budget[j] - have[j] > budget[k] - have[k])) && k=$j
      done
    fi
    case $k in
      0) random_bytes "$len" $((off / 512 + 1)) | write_at "$off" ;;
      1) text_bytes "$len" $((off / 64)) | write_at "$off" ;;
    esac
    have[k]=$((have[k] + len))
    off=$((off + len)) i=$((i + 1))
  done
  [[ $(stat -c %s "$raw") == "$size" ]] || die "generator error: $raw is not $size bytes"
  note "$i chunks: random $((have[0] * 100 / size))%, text $((have[1] * 100 / size))%, zeros $((have[2] * 100 / size))%"
}

want_stamp="gen=$GEN_VERSION seed=$SEED size=$size"
subformats=()
for c in "${CASES[@]}"; do
  read -r sub _ <<<"$c"
  [[ $sub == raw ]] && continue
  [[ " ${subformats[*]} " == *" $sub "* ]] || subformats+=("$sub")
done

if [[ -f $stamp && $(<"$stamp") == "$want_stamp" && -f $raw ]]; then
  note "reusing the disk generated earlier in $workdir"
else
  generate
fi
for sub in "${subformats[@]}"; do
  src=$workdir/src-$sub.vmdk
  if [[ ! -f $src || ! -f $stamp ]]; then
    note "qemu-img: making $sub VMDK"
    rm -f "$workdir/tmp-$sub.vmdk"
    qemu-img convert -f raw -O vmdk -o subformat="$sub" "$raw" "$workdir/tmp-$sub.vmdk"
    mv "$workdir/tmp-$sub.vmdk" "$src"
  fi
done
# Write the generated files back now, so their writeback is not charged to
# the first timed run (an fsync on ext4 can wait for other files' data).
sync "$raw" "$workdir"/src-*.vmdk
echo "$want_stamp" >"$stamp"

# ---------------------------------------------------------------- runs

# outputs_equal FORMAT A B: same disk content?
outputs_equal () {
  case $1 in
    raw) cmp -s "$2" "$3" ;;
    qcow2*) qemu-img compare -q -f qcow2 -F qcow2 "$2" "$3" ;;
    *) qemu-img compare -q -f "$1" -F "$1" "$2" "$3" ;;
  esac
}

# timed NAME CMD...: run CMD under /usr/bin/time; set t_sec and t_kib.
timed () {
  local name=$1 rc=0
  shift
  # Start each run with no dirty pages from earlier runs (the page cache
  # itself is kept).
  sync
  /usr/bin/time -f '%e %M' -o "$timef" "$@" >"$logf" 2>&1 || rc=$?
  if ((rc != 0)); then
    echo "bench: $name failed (exit $rc): $*" >&2
    sed 's/^/  | /' "$logf" >&2
    # /usr/bin/time adds "Command exited with non-zero status" to its file.
    exit 1
  fi
  read -r t_sec t_kib < <(tail -n 1 "$timef")
}

# The words of a command, quoted so it can be pasted into a shell.
quote () { local q; q=$(printf '%q ' "$@"); echo "${q% }"; }

median () { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
maxof () { printf '%s\n' "$@" | sort -g | tail -n 1; }

cpu_model=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || :)
[[ -n $cpu_model ]] || cpu_model=$(lscpu 2>/dev/null | awk -F': *' '/^Model name/ { print $2; exit }')

echo "command:   $cmdline"
mem_gib=$(awk '/^MemTotal:/ { printf "%.1f", $2 / 1048576 }' /proc/meminfo 2>/dev/null || :)
echo "machine:   $(nproc) CPUs, ${cpu_model:-unknown CPU}, ${mem_gib:-?} GiB RAM, $(uname -sr)"
echo "workdir:   $workdir ($(df -PT "$workdir" | awk 'NR == 2 { print $2 }'))"
echo "qemu-img:  $(command -v qemu-img), $(qemu-img --version | head -n 1)"
echo "ferry:     $ferry, $("$ferry" --version 2>/dev/null || echo 'version unknown')"
echo "disk:      $size bytes ($size_arg), seed $SEED; $rounds rounds per tool and case"
echo

declare -a rows=()
status=0

for c in "${CASES[@]}"; do
  read -r sub fmt <<<"$c"
  name="$sub -> $fmt"
  src=$workdir/src-$sub.vmdk srcfmt=vmdk
  if [[ $sub == raw ]]; then src=$raw srcfmt=raw; fi
  # ferry fsyncs its output before it renames it into place; qemu-img
  # convert defaults to cache mode "unsafe" (no flush at all), so it is
  # asked for "writeback", which flushes once at the end.
  case $fmt in
    qcow2-zstd)
      qemu_cmd=(qemu-img convert -t writeback -f "$srcfmt" -O qcow2 -c
                -o compression_type=zstd "$src" "$out_ref")
      ferry_cmd=("$ferry" convert -q -O qcow2 --compress=zstd "$src" "$out_ferry") ;;
    *)
      qemu_cmd=(qemu-img convert -t writeback -f "$srcfmt" -O "$fmt" "$src" "$out_ref")
      ferry_cmd=("$ferry" convert -q -O "$fmt" "$src" "$out_ferry") ;;
  esac
  # The source: the descriptor and any extent files (twoGbMaxExtent*).
  shopt -s nullglob
  src_files=("$src" "${src%.vmdk}"-*.vmdk)
  shopt -u nullglob
  echo "case $name: source $(du -cb --apparent-size "${src_files[@]}" | tail -n 1 | cut -f1) bytes in ${#src_files[@]} file(s)"
  echo "  qemu-img: $(quote "${qemu_cmd[@]}")"
  echo "  ferry:    $(quote "${ferry_cmd[@]}")"

  # Untimed warm-up read so the source (and any extent files) is in the
  # page cache for both tools.
  cat "${src_files[@]}" >/dev/null

  q_t=() q_m=() f_t=() f_m=()
  for ((r = 1; r <= rounds; r++)); do
    # Alternate which tool goes first, so neither always runs right after
    # the other's writeback.
    if ((r % 2)); then order=(qemu ferry); else order=(ferry qemu); fi
    for tool in "${order[@]}"; do
      if [[ $tool == qemu ]]; then
        rm -f "$out_ref"
        timed qemu-img "${qemu_cmd[@]}"
        q_t+=("$t_sec") q_m+=("$t_kib")
      else
        rm -f "$out_ferry" "$out_ferry.part"
        timed ferry "${ferry_cmd[@]}"
        f_t+=("$t_sec") f_m+=("$t_kib")
      fi
    done
    if ! outputs_equal "$fmt" "$out_ref" "$out_ferry"; then
      echo "bench: $name: round $r: ferry's output differs from qemu-img's" >&2
      cmp "$out_ref" "$out_ferry" 2>&1 | head -n 3 | sed 's/^/  | /' >&2 || :
      status=1
    fi
  done
  # The reference itself must be the generated disk (checked after the
  # timed runs so that reading 2 x SIZE does not come between them).
  if [[ $fmt == raw ]] && ! cmp -s "$raw" "$out_ref"; then
    echo "bench: $name: qemu-img's output differs from the generated disk" >&2
    status=1
  fi
  echo "  qemu-img s: ${q_t[*]}"
  echo "  ferry s:    ${f_t[*]}"
  echo "  output bytes allocated: qemu-img $(du -B1 "$out_ref" | cut -f1), ferry $(du -B1 "$out_ferry" | cut -f1)"
  rm -f "$out_ref" "$out_ferry"

  qm=$(median "${q_t[@]}") fm=$(median "${f_t[@]}")
  rows+=("$(awk -v n="$name" -v q="$qm" -v f="$fm" -v sz="$size" \
              -v fr="$(maxof "${f_m[@]}")" -v qr="$(maxof "${q_m[@]}")" 'BEGIN {
    ratio = q > 0 ? sprintf("%.2f", f / q) : "-"
    mbs = f > 0 ? sprintf("%.0f", sz / 1e6 / f) : "-"
    printf "%-26s %10.2f %9.2f %14s %10s %9.1f %12.1f\n", n, q, f, ratio, mbs, fr / 1024, qr / 1024
  }')")
done

echo
printf '%-26s %10s %9s %14s %10s %9s %12s\n' case "qemu-img s" "ferry s" "ferry/qemu-img" "ferry MB/s" "ferry RSS" "qemu-img RSS"
printf '%-26s %10s %9s %14s %10s %9s %12s\n' "" "(median)" "(median)" "(lower=better)" "" "(MiB)" "(MiB)"
printf '%s\n' "${rows[@]}"

if ((status != 0)); then
  echo
  echo "bench: FAILED: outputs differ" >&2
fi
exit "$status"
