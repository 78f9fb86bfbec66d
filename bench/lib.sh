# Functions shared by the remote-source benchmarks (http-vs-qemu-img.sh,
# ova-http-vs-local.sh, nbd-vs-nbdcopy.sh).  Sourced, not run.
#
# A script sets USAGE_EXTRA (more --help text) and calls bench_parse "$@",
# then bench_setup, then uses gen_disk, timed, median, quote, start_nginx.

set -euo pipefail
export LC_ALL=C

bench_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_dir=$(cd "$bench_dir/.." && pwd)

size_arg=4G
rounds=3
ferry=
workdir=
keep=false
cmdline=$(printf '%q ' "$0" "$@")
cmdline=${cmdline% }

die () { echo "bench: $*" >&2; exit 2; }
note () { echo "bench: $*" >&2; }

bench_usage () {
  cat <<EOF
Usage: $0 [OPTIONS]

${BENCH_DESC:-}

Options:
  --size SIZE     virtual disk size, e.g. 256M, 4G (default 4G)
  --rounds N      timed runs of each tool per case (default 3)
  --ferry PATH    the ferry program (default: build/ferry in the repository)
  --workdir DIR   scratch directory, shared by the remote-source benchmarks
                  (default \${TMPDIR:-/tmp}/ferry-bench-remote)
  --keep          keep the generated images for a later run of the same size
  -h, --help      this text
EOF
}

bench_parse () {
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
      -h|--help) bench_usage; exit 0 ;;
      *) bench_usage >&2; die "unknown argument '$1'" ;;
    esac
  done
}

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

# bench_setup TOOL...: check options and tools, make the work directory.
bench_setup () {
  local tool
  size=$(parse_size "$size_arg") || die "--size $size_arg: expected a size such as 256M or 4G"
  ((size >= (1 << 20) && size % (1 << 20) == 0)) || die "--size $size_arg: must be a positive multiple of 1M"
  [[ $rounds =~ ^[1-9][0-9]*$ ]] || die "--rounds $rounds: expected a number >= 1"
  [[ -n $ferry ]] || ferry=$repo_dir/build/ferry
  [[ -x $ferry && ! -d $ferry ]] || die "$ferry: not an executable (build ferry, or give --ferry PATH)"
  ferry=$(cd "$(dirname "$ferry")" && pwd)/$(basename "$ferry")
  for tool in openssl cmp seq dd od truncate awk python3 "$@"; do
    command -v "$tool" > /dev/null || die "$tool not found"
  done
  [[ -x /usr/bin/time ]] || die "/usr/bin/time not found (package time)"
  [[ -n $workdir ]] || workdir=${TMPDIR:-/tmp}/ferry-bench-remote
  mkdir -p "$workdir"
  workdir=$(cd "$workdir" && pwd)
  timef=$workdir/run.time
  logf=$workdir/run.log
}

MiB=$((1 << 20))
SEED=ferry-bench-remote-1
GEN_VERSION=1

random_bytes () { # LEN TAG: seeded pseudo-random bytes (AES-128-CTR)
  local key
  key=$(printf '%s' "$SEED" | sha256sum | cut -c1-32)
  head -c "$1" /dev/zero \
    | openssl enc -aes-128-ctr -K "$key" -iv "$(printf '%032x' "$2")" -nosalt
}

text_bytes () { # LEN FIRST: numbered text lines (compress about 15x)
  { seq -f "%012.0f the quick brown fox jumps over the lazy dog $2" \
      "$2" 1e15 2> /dev/null || :; } | head -c "$1"
}

write_at () { # FILE OFFSET < DATA
  dd of="$1" bs=1M seek="$2" oflag=seek_bytes conv=notrunc iflag=fullblock status=none
}

# gen_disk FILE: a sparse raw disk of $size, about 30% random data, 20%
# text and 50% holes, in interleaved chunks of 1-8 MiB drawn from a seeded
# stream (the same bytes on every machine).  Reused when its stamp file
# says it was made the same way.
gen_disk () {
  local f=$1 stamp=$1.stamp want nchunks off=0 i=0 t s len k j
  local -a layout have=(0 0 0) budget
  want="gen=$GEN_VERSION seed=$SEED size=$size"
  if [[ -f $f && -f $stamp && $(< "$stamp") == "$want" ]]; then
    note "reusing $f"
    return 1
  fi
  budget=($((size * 3 / 10)) $((size / 5)) $((size - size * 3 / 10 - size / 5)))
  nchunks=$((size / MiB + 2))
  note "generating a $size_arg disk: $f"
  rm -f "$f" "$stamp"
  truncate -s "$size" "$f"
  read -r -a layout < <(random_bytes $((2 * nchunks)) 0 | od -An -v -tu1 | tr -s ' \n' ' '; echo)
  while ((off < size)); do
    t=${layout[2 * i]} s=${layout[2 * i + 1]}
    len=$(((1 + s % 8) * MiB))
    ((len > size - off)) && len=$((size - off))
    case $((t % 10)) in 0|1|2) k=0 ;; 3|4) k=1 ;; *) k=2 ;; esac
    if ((have[k] + len > budget[k])); then
      for j in 0 1 2; do
        ((budget[j] - have[j] > budget[k] - have[k])) && k=$j
      done
    fi
    case $k in
      0) random_bytes "$len" $((off / 512 + 1)) | write_at "$f" "$off" ;;
      1) text_bytes "$len" $((off / 64)) | write_at "$f" "$off" ;;
    esac
    have[k]=$((have[k] + len))
    off=$((off + len)) i=$((i + 1))
  done
  note "$i chunks: random $((have[0] * 100 / size))%, text $((have[1] * 100 / size))%, holes $((have[2] * 100 / size))%"
  echo "$want" > "$stamp"
  return 0
}

# timed NAME CMD...: run CMD under /usr/bin/time; sets t_sec (wall), t_cpu
# (user + system seconds of CMD and its children, which a busy machine
# inflates much less than the wall time) and t_kib (peak RSS).
timed () {
  local name=$1 rc=0
  shift
  sync
  /usr/bin/time -f '%e %M %U %S' -o "$timef" "$@" > "$logf" 2>&1 || rc=$?
  if ((rc != 0)); then
    echo "bench: $name failed (exit $rc): $*" >&2
    sed 's/^/  | /' "$logf" >&2
    exit 1
  fi
  read -r t_sec t_kib t_user t_sys < <(tail -n 1 "$timef")
  t_cpu=$(awk -v u="$t_user" -v s="$t_sys" 'BEGIN { printf "%.2f", u + s }')
}

quote () { local q; q=$(printf '%q ' "$@"); echo "${q% }"; }
median () { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio () { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0) ? a / b : 0 }'; }

free_port () {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_nginx ROOT: nginx (Range support) serving ROOT on 127.0.0.1; sets
# PORT; stopped by stop_servers.
server_pids=()
start_nginx () {
  local root=$1 d=$workdir/nginx try port user=
  command -v nginx > /dev/null || die "nginx not found (package nginx-light)"
  mkdir -p "$d/tmp"
  [[ $(id -u) == 0 ]] && user="user $(id -un) $(id -gn);"
  for try in 1 2 3 4 5; do
    port=$(free_port)
    cat > "$d/nginx.conf" <<EOF
$user
worker_processes 2;
error_log $d/error.log;
pid $d/nginx.pid;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path $d/tmp/body;
  proxy_temp_path $d/tmp/proxy;
  fastcgi_temp_path $d/tmp/fastcgi;
  uwsgi_temp_path $d/tmp/uwsgi;
  scgi_temp_path $d/tmp/scgi;
  default_type application/octet-stream;
  sendfile on;
  server {
    listen 127.0.0.1:$port;
    root $root;
  }
}
EOF
    if nginx -p "$d" -c "$d/nginx.conf" -e "$d/error.log" 2> "$d/start.log"; then
      PORT=$port
      server_pids+=("$(cat "$d/nginx.pid")")
      return 0
    fi
  done
  cat "$d/start.log" "$d/error.log" >&2
  die "nginx did not start"
}

stop_servers () {
  local pid
  for pid in "${server_pids[@]}"; do
    kill "$pid" 2> /dev/null || :
  done
}

print_header () {
  local cpu mem
  cpu=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo 2> /dev/null || :)
  mem=$(awk '/^MemTotal:/ { printf "%.1f", $2 / 1048576 }' /proc/meminfo 2> /dev/null || :)
  echo "command:   $cmdline"
  echo "machine:   $(nproc) CPUs, ${cpu:-unknown CPU}, ${mem:-?} GiB RAM, $(uname -sr)"
  echo "load:      $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min) at the start"
  echo "workdir:   $workdir ($(df -PT "$workdir" | awk 'NR == 2 { print $2 }'))"
  echo "ferry:     $ferry, $("$ferry" --version 2> /dev/null || echo 'version unknown')"
  echo "disk:      $size bytes ($size_arg), seed $SEED; $rounds rounds per tool"
}
