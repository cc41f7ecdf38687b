#!/bin/bash
# Smoke test of the evidence benchmark, so it keeps building and running: a very short run must
# exit 0 and print one JSON object with every figure, reference and target. It never looks at
# how fast anything was: benchmarks print figures, tests do not time.
set -u
. "$top_srcdir/tests/lib.sh"

command -v python3 >/dev/null || skip "python3 not found"
bench=$top_builddir/bench/evidence
[ -x "$bench" ] || fail "$bench was not built"
make_scratch

"$bench" --seconds 0.05 --runs 2 --json >"$SCRATCH/out.json" 2>"$SCRATCH/err" ||
	fail "bench/evidence failed: $(cat "$SCRATCH/err")"

python3 - "$SCRATCH/out.json" <<'EOF' || fail "bench/evidence --json: unexpected output"
import json
import math
import sys

with open(sys.argv[1]) as f:
    doc = json.load(f)


def get(path):
    node = doc
    for key in path.split("."):
        if not isinstance(node, dict) or key not in node:
            sys.exit("missing key %s" % path)
        node = node[key]
    return node


def positive(path):
    v = get(path)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
        sys.exit("%s is not a positive number: %r" % (path, v))


assert get("benchmark") == "evidence"
for key in ("config.seconds", "targets.replay_us_max", "targets.quote_ratio_min"):
    positive(key)
for key in ("openssl_version", "openssl_method", "tpm2_checkquote", "tpm2_checkquote_version", "pcrgate_cli"):
    get("reference." + key)

syn = "eventlog.synthetic."
assert get(syn + "events") == 100 and get(syn + "banks") == ["sha1", "sha256"]
for fig in ("parse_replay", "parse", "replay"):
    positive(syn + fig + ".us_per_log")
    positive(syn + fig + ".logs_per_s")
assert isinstance(get(syn + "meets_target"), bool)
if get("eventlog.real.present"):
    for key in ("logs", "events", "logs_per_s", "events_per_s", "us_per_log"):
        positive("eventlog.real." + key)

statuses = {"measured", "not installed", "unsupported", "failed"}
for name in ("rsa2048-rsassa", "rsa2048-rsapss", "p256-ecdsa"):
    q = "quote.%s." % name
    for key in ("verify_per_s", "verify_us", "openssl_verify_per_s", "openssl_verify_us", "ratio",
                "target_ratio_min"):
        positive(q + key)
    assert isinstance(get(q + "meets_target"), bool)
    assert "signature" in get(q + "checks") and "pcr-digest" in get(q + "checks")
    status = get(q + "tpm2_checkquote.status")
    if status not in statuses:
        sys.exit("%s: tpm2_checkquote status %r" % (name, status))
    # A quote pcrgate accepts must not be refused by tpm2_checkquote, except RSAPSS by 5.4.
    if status == "failed":
        sys.exit("%s: tpm2_checkquote failed: %s" % (name, get(q + "tpm2_checkquote.note")))
    if status == "measured":
        positive(q + "tpm2_checkquote.ms_per_quote")
    if get(q + "pcrgate_cli.status") == "measured":
        positive(q + "pcrgate_cli.ms_per_quote")
    elif get(q + "pcrgate_cli.status") == "failed":
        sys.exit("%s: the pcrgate command failed: %s" % (name, get(q + "pcrgate_cli.note")))
print("ok: bench/evidence --json has every figure")
EOF
cat "$SCRATCH/err" >&2
