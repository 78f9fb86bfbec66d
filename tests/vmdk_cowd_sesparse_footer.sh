#!/bin/bash
# Files qemu-img cannot create, built by ferry-fixgen from the format facts:
# COWD (vmfsSparse), SESparse, and streamOptimized as VMware writes it (the
# grain directory in a footer).  qemu-img reads all of them, so it is the
# oracle; the fixgen input raw is a second one.
source "$(dirname "$0")/lib.sh"
need qemu-img cmp
need_fixgen

size=$((40 * 1048576 + 1536))
mixed_raw base.raw $size
# A zero run long enough to leave whole grain tables unallocated.
truncate -s $((size + 20 * 1048576)) base.raw
fill_random base.raw $((size + 20 * 1048576 - 8192)) 8192
size=$(stat -c %s base.raw)

"$FIXGEN" cowd base.raw cowd.vmdk
"$FIXGEN" cowd --granularity 1 base.raw cowd1.vmdk
"$FIXGEN" sesparse base.raw ses.vmdk
"$FIXGEN" stream-footer base.raw footer.vmdk
"$FIXGEN" stream-footer --front-gd base.raw frontgd.vmdk

for f in cowd.vmdk cowd1.vmdk ses.vmdk footer.vmdk frontgd.vmdk; do
  check_convert $f
  run_ferry convert -q $f again.raw
  compare_raw again.raw base.raw
  rm -f again.raw
done

# The footer layout streams from a pipe as well.
"$FERRY" convert -q - piped.raw < footer.vmdk 2> "$T/stderr" \
  || { cat "$T/stderr"; fail "footer stream from stdin failed"; }
check_no_sanitizer "$T/stderr"
compare_raw piped.raw base.raw

# The bare extent files (no descriptor) are readable too.
run_ferry convert -q cowd-delta.vmdk bare.raw
compare_raw bare.raw base.raw

# A SESparse whose journal needs replaying is refused clearly.
"$FIXGEN" sesparse --dirty base.raw dirty.vmdk
expect_input_error dirty-sesparse.vmdk out.raw "journal is dirty" \
  "$FERRY" convert -q dirty.vmdk out.raw

# A footer stream whose footer was cut off.
head -c $(( $(stat -c %s footer.vmdk) - 1024 )) footer.vmdk > nofooter.vmdk
expect_input_error nofooter.vmdk out.raw "no footer marker at offset" \
  "$FERRY" convert -q nofooter.vmdk out.raw
note "COWD, SESparse and footer streams ok"
