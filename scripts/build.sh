#!/bin/bash
# Configure and build one configuration of ferry.
#   scripts/build.sh DIR BUILD_TYPE [cmake options...]
set -euo pipefail
cd "$(dirname "$0")/.."
dir=$1 type=$2
mkdir -p "$(dirname "$dir")"
shift 2
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE="$type" "$@" > "$dir.configure.log" 2>&1 \
  || { mkdir -p "$dir"; cat "$dir.configure.log" >&2; exit 1; }
cmake --build "$dir" -j"$(nproc)"
