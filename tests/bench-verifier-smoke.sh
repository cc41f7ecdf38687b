#!/bin/bash
# Smoke test of the verifier benchmark, so it keeps building and running: bench/verifier.sh with
# one device for 2 s on SQLite must exit 0 and print one JSON object with every
# figure and target, and every attestation it made must have passed. It never looks at how
# fast anything was: benchmarks print figures, tests do not time.
set -u
. "$top_srcdir/tests/lib.sh"

command -v python3 >/dev/null || skip "python3 not found"
command -v curl >/dev/null || skip "curl not found"
command -v openssl >/dev/null || skip "openssl not found"
[ -x "$top_builddir/bench/verifier_load" ] || fail "bench/verifier_load was not built"
[ -x "$top_builddir/verifier/pcrgate-verifierd" ] || fail "verifier/pcrgate-verifierd was not built"
make_scratch
# As root the verifier serves as nobody, which must reach its files under the scratch directory.
if [ "$(id -u)" = 0 ]; then
	chmod o+x "$SCRATCH" || fail "cannot open $SCRATCH to the verifier's user"
fi

TMPDIR=$SCRATCH "$BASH" "$top_srcdir/bench/verifier.sh" --quick --devices 1 --paced 200 --seconds 2 \
	--warmup 0.5 --backends sqlite --json >"$SCRATCH/out.json" 2>"$SCRATCH/err" || fail "bench/verifier.sh failed: $(cat "$SCRATCH/err")"

python3 - "$SCRATCH/out.json" <<'PY' || fail "bench/verifier.sh --json: unexpected output: $(cat "$SCRATCH/out.json")"
import json
import math
import sys

doc = json.load(open(sys.argv[1]))


def positive(v, what):
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
        sys.exit("%s is not a positive number: %r" % (what, v))


assert doc["benchmark"] == "verifier"
for key in ("seconds", "warmup", "verifier_threads", "cores"):
    positive(doc["config"][key], "config." + key)
positive(doc["targets"]["attestations_per_s_min"], "targets")
for fig in ("pipeline", "openssl_ecdsa_p256"):
    for key in ("per_s_one_thread", "per_s_all_cores", "per_s_per_core", "us"):
        positive(doc["local"][fig][key], "local.%s.%s" % (fig, key))
assert doc["config"]["paced"] == [200], doc["config"]
points = doc["sqlite"]["points"]
# One point as fast as answered, then one paced (one device offering 200 attestations/s).
assert len(points) == 2 and [p["devices"] for p in points] == [1, 1], points
assert "offered_per_s" not in points[0] and points[1]["offered_per_s"] == 200, points
for p in points:
    for key in ("attestations", "attestations_per_s", "p50_ms", "p99_ms"):
        positive(p[key], "sqlite." + key)
    # Correctness, not speed: every simulated device's attestation passed, and no request failed.
    if p["non_pass"] != 0 or p["errors"] != 0:
        sys.exit("non-pass verdicts or errors: %r" % p)
print("ok: bench/verifier.sh --json has every figure; %d + %d attestations, all pass"
      % (points[0]["attestations"], points[1]["attestations"]))
PY
