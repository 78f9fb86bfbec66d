#!/bin/bash
# Install what is missing, build, and run the whole test suite:
#   1. the sanitize configuration (ASan + UBSan): unit and integration tests
#   2. the release configuration builds warning-free (-Werror)
#   3. clang libFuzzer targets, 30 seconds each (longer: FERRY_FUZZ_SECONDS)
# Set FERRY_FUZZ_SECONDS=0 to skip the fuzz runs while iterating.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

mkdir -p build
jobs=$(nproc)
start=$SECONDS

scripts/build.sh build/sanitize Sanitize
(cd build/sanitize && ctest --output-on-failure -j"$jobs")

scripts/build.sh build/release RelWithDebInfo -DBUILD_TESTING=OFF

fuzz_seconds=${FERRY_FUZZ_SECONDS:-30}
if [[ $fuzz_seconds != 0 ]]; then
  CC=clang scripts/build.sh build/fuzz RelWithDebInfo -DFERRY_FUZZ=ON \
    -DFERRY_FUZZ_SECONDS="$fuzz_seconds"
  (cd build/fuzz && ctest --output-on-failure -R '^fuzz_' -j"$jobs")
fi
echo "test.sh: all tests passed in $((SECONDS - start)) s"
