#!/bin/bash
# Bad state and change files: truncated JSON, wrong types, ranges past the
# end, overlapping ranges, a change-id gap, a source whose size changed.
# Each is a clear error naming the file and field, and the target is not
# touched (its bytes and its state file are unchanged).
source "$(dirname "$0")/lib.sh"
need python3 cmp

MiB=1048576
size=$((16 * MiB))
mixed_raw src.raw $((40 * MiB))
truncate -s $size src.raw
run_ferry sync -q src.raw dst.raw --state st.json --change-id c0
cp dst.raw dst.before
cp st.json st.before

untouched () {
  cmp -s dst.raw dst.before || fail "the target was modified"
  cmp -s st.json st.before || fail "the state file was modified"
}

bad_changes () { # bad_changes EXIT REGEX JSON-TEXT
  printf '%s\n' "$3" > bad.json
  expect_fail "$1" "bad.json" "$FERRY" sync -q src.raw dst.raw --state st.json --changes bad.json
  expect_msg "$2"
  untouched
}

bad_changes 1 "offset [0-9]+: the JSON document ends early" \
  '{"changeId": "c1", "previousChangeId": "c0", "startOffset": 0, "length": 16777216, "changedArea": [{"start": 0,'
bad_changes 1 "changedArea\[1\]\.length: not an integer" \
  '{"changeId": "c1", "previousChangeId": "c0", "startOffset": 0, "length": 16777216, "changedArea": [{"start": 0, "length": 512}, {"start": 4096, "length": "lots"}]}'
bad_changes 1 "changedArea\[0\]\.start: .* negative" \
  '{"changeId": "c1", "previousChangeId": "c0", "startOffset": 0, "length": 16777216, "changedArea": [{"start": -512, "length": 512}]}'
bad_changes 1 "changedArea\[0\] .* lies outside startOffset" \
  '{"changeId": "c1", "previousChangeId": "c0", "startOffset": 0, "length": 16777216, "changedArea": [{"start": 16776704, "length": 1024}]}'
bad_changes 1 "startOffset 0 \+ length 33554432 is past the end of the disk" \
  '{"changeId": "c1", "previousChangeId": "c0", "startOffset": 0, "length": 33554432, "changedArea": []}'
bad_changes 1 "changed ranges overlap" \
  '{"changeId": "c1", "previousChangeId": "c0", "startOffset": 0, "length": 16777216, "changedArea": [{"start": 0, "length": 65536}, {"start": 4096, "length": 512}]}'
bad_changes 1 "changeId: missing" \
  '{"previousChangeId": "c0", "startOffset": 0, "length": 16777216, "changedArea": []}'
bad_changes 1 "changedArea: not an array" \
  '{"changeId": "c1", "previousChangeId": "c0", "startOffset": 0, "length": 16777216, "changedArea": 7}'
bad_changes 1 "offset [0-9]+: unexpected data after the JSON document" \
  '{"changeId": "c1", "previousChangeId": "c0", "startOffset": 0, "length": 16777216, "changedArea": []} {'
# A gap: the list follows c5, the target holds c0.
bad_changes 1 "relative to change id c5, but dst.raw holds change id c0: a sync is missing" \
  '{"changeId": "c6", "previousChangeId": "c5", "startOffset": 0, "length": 16777216, "changedArea": [{"start": 0, "length": 512}]}'
expect_msg "--full"

# Damaged state files.
bad_state () { # bad_state REGEX STATE-TEXT
  printf '%s\n' "$2" > st.json
  changes_json ok.json c1 c0 $size 0:512
  expect_fail 1 "st.json" "$FERRY" sync -q src.raw dst.raw --state st.json --changes ok.json
  expect_msg "$1"
  cmp -s dst.raw dst.before || fail "the target was modified"
  cp st.before st.json
}
bad_state "offset [0-9]+: the JSON document ends early" "$(head -c 60 st.before)"
bad_state "version: 7 is not a state version" '{"version": 7, "source": "src.raw", "size": 16777216, "target": "dst.raw", "format": "raw"}'
bad_state "size: not an integer" '{"version": 1, "source": "src.raw", "size": "big", "target": "dst.raw", "format": "raw"}'
bad_state "target: missing" '{"version": 1, "source": "src.raw", "size": 16777216, "format": "raw"}'
bad_state "format: 'vhdx' is not raw or qcow2" '{"version": 1, "source": "src.raw", "size": 16777216, "target": "dst.raw", "format": "vhdx"}'
bad_state "in_progress.done\[0\]: past the end of the disk" '{"version": 1, "source": "src.raw", "size": 16777216, "target": "dst.raw", "format": "raw", "change_id": "c0", "in_progress": {"change_id": "c1", "done": [{"offset": 16777216, "length": 512}]}}'
bad_state "not a JSON object" '[1, 2, 3]'

# The source changed size: refused, --full suggested.
truncate -s $((size + MiB)) src.raw
changes_json ok.json c1 c0 $((size + MiB)) 0:512
expect_fail 1 "src.raw" "$FERRY" sync -q src.raw dst.raw --state st.json --changes ok.json
expect_msg "now $((size + MiB)) bytes, but dst.raw was copied from $size bytes: run with --full"
untouched

# --full starts again from scratch and accepts the new size.
run_ferry sync -q --full src.raw dst.raw --state st.json --change-id n0
cmp src.raw dst.raw || fail "--full did not make a fresh copy"

# No change list after the first sync is a usage error; state of another
# target is refused.
expect_fail 2 "give --changes or --bitmap" "$FERRY" sync -q src.raw dst.raw --state st.json
cp dst.raw other.raw
expect_fail 2 "belongs to the target dst.raw" "$FERRY" sync -q src.raw other.raw --state st.json --changes ok.json
note "bad state and change files ok"
