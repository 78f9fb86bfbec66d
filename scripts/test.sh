#!/bin/bash
# Install what is missing, build, and run the whole test suite:
#   1. the sanitize configuration (ASan + UBSan): unit and integration tests
#   2. the tsan configuration (ThreadSanitizer): the tests of the threaded
#      paths (copy threads, stream writer, read-ahead and its tap, the
#      hashing thread, NBD connections)
#   3. the release configuration builds warning-free (-Werror)
#   4. clang libFuzzer targets, 30 seconds each (longer: FERRY_FUZZ_SECONDS)
# Set FERRY_FUZZ_SECONDS=0 to skip the fuzz runs while iterating.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

mkdir -p build
jobs=$(nproc)
start=$SECONDS

scripts/build.sh build/sanitize Sanitize
(cd build/sanitize && ctest --output-on-failure -j"$jobs")

# A race is reported on stderr (the tests fail on any sanitizer report)
# and makes ferry exit 66.
scripts/build.sh build/tsan Tsan
(cd build/tsan && ctest --output-on-failure -j"$jobs" \
  -R '^(ova_source|http_faults|http_source|compressed_source|nbd_source|nbd_target|sync_kill_resume|sync_nbd_bitmap|vmdk_subformats|sparse_output|qcow2_target|raw_target)$')

scripts/build.sh build/release RelWithDebInfo -DBUILD_TESTING=OFF

fuzz_seconds=${FERRY_FUZZ_SECONDS:-30}
if [[ $fuzz_seconds != 0 ]]; then
  CC=clang scripts/build.sh build/fuzz RelWithDebInfo -DFERRY_FUZZ=ON \
    -DFERRY_FUZZ_SECONDS="$fuzz_seconds"
  (cd build/fuzz && ctest --output-on-failure -R '^fuzz_' -j"$jobs")
fi
echo "test.sh: all tests passed in $((SECONDS - start)) s"
