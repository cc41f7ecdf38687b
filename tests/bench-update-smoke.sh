#!/bin/bash
# Smoke test of the update payload benchmark, so it keeps building and running: offline, on one
# small pair of generated files and a 4 MiB synthetic image, it must exit 0 and print one JSON
# object with every figure. It never looks at how fast or how small anything was: benchmarks
# print figures, tests do not time.
set -u
. "$top_srcdir/tests/lib.sh"

command -v python3 >/dev/null || skip "python3 not found"
[ -x "$top_builddir/bench/update_apply" ] || fail "bench/update_apply was not built"
make_scratch

# A pair with something to share: the new file is the old one with a changed middle.
head -c 300000 /dev/urandom >"$SCRATCH/old"
{ head -c 100000 "$SCRATCH/old"; head -c 5000 /dev/urandom; tail -c +105001 "$SCRATCH/old"; } >"$SCRATCH/new"

bash "$top_srcdir/bench/update.sh" --offline --no-archive --quick --json --synthetic-mib 4 \
	--cache "$SCRATCH/cache" --pair "$SCRATCH/old" "$SCRATCH/new" >"$SCRATCH/out.json" 2>"$SCRATCH/err" ||
	fail "bench/update.sh failed: $(cat "$SCRATCH/err")"

python3 - "$SCRATCH/out.json" <<'PY' || fail "bench/update.sh --json: unexpected output: $(cat "$SCRATCH/out.json")"
import json
import sys

with open(sys.argv[1]) as f:
    doc = json.load(f)
assert doc["benchmark"] == "update" and doc["quick"] is True
assert len(doc["pairs"]) == 1, doc["pairs"]
pair = doc["pairs"][0]
assert pair["old_bytes"] == 300000 and pair["new_bytes"] == 300000
for key in ("pcrgate_bytes", "apply_mb_per_s", "apply_vm_hwm_kib", "decoder_ceiling_bytes"):
    assert isinstance(pair[key], (int, float)) and pair[key] > 0, key
for key in ("bsdiff_bytes", "xdelta3_bytes", "zstd_bytes", "meets_target", "best_other"):
    assert key in pair, key
assert set(pair["seconds"]) == {"bsdiff", "xdelta3", "zstd", "pcrgate"}
inst = doc["install"]
assert inst["image_bytes"] == 4 << 20
for key in ("payload_bytes", "seconds", "mb_per_s", "vm_hwm_kib", "decoder_ceiling_bytes"):
    assert isinstance(inst[key], (int, float)) and inst[key] >= 0, key
PY
finish
