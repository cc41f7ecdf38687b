#!/bin/bash
# Smoke test of bench/run, so that the one report of every benchmark keeps being written:
# `bench/run --quick` (the smoke tests' durations) must exit 0 and write a report.json that
# parses and has every benchmark either with figures or skipped with a reason, and a report.md
# with a table for each benchmark that has figures. Then the two other ways out: a benchmark
# whose tools are missing is recorded as skipped with the reason, and one that fails makes
# bench/run exit non-zero after writing the report with the failure in it. It never looks at
# how fast anything was: benchmarks print figures, tests do not time.
set -u
. "$top_srcdir/tests/lib.sh"

command -v python3 >/dev/null || skip "python3 not found"
# The interpreter itself (python3 on PATH may be a wrapper script, which needs more than python3).
python=$(python3 -c 'import sys; print(sys.executable)') && [ -x "$python" ] || fail "no python3 interpreter found"
run=$top_srcdir/bench/run
make_scratch
# As root the verifier benchmark serves as nobody, which must reach its files under the scratch
# directory (its TMPDIR here).
if [ "$(id -u)" = 0 ]; then
	chmod o+x "$SCRATCH" || fail "cannot open $SCRATCH to the verifier's user"
fi

TMPDIR=$SCRATCH "$python" "$run" --quick --build "$top_builddir" --out "$SCRATCH/quick" >"$SCRATCH/quick.log" 2>&1 ||
	fail "bench/run --quick failed: $(tail -n 40 "$SCRATCH/quick.log"; cat "$SCRATCH/quick/report.md" 2>/dev/null)"

# check.py DIR [EXPECT...]: the report in DIR is whole; each EXPECT is NAME=STATUS.
cat >"$SCRATCH/check.py" <<'PY'
import json
import math
import re
import sys

out = sys.argv[1]
doc = json.load(open(out + "/report.json"))
md = open(out + "/report.md").read()
names = ["evidence", "verifier", "boot", "update"]
assert [b["name"] for b in doc["benchmarks"]] == names, [b["name"] for b in doc["benchmarks"]]
for key in ("date", "machine", "tools", "build", "summary", "load_average"):
    assert key in doc, key
for key in ("cpu_model", "cores", "memory_bytes", "kernel"):
    assert doc["machine"][key], "machine." + key
for tool in ("openssl", "tpm2-tools", "swtpm", "bsdiff", "xdelta3", "zstd", "sqlite3", "postgresql"):
    assert set(doc["tools"][tool]) == {"path", "version"}, tool
expect = dict(a.split("=") for a in sys.argv[2:])
sections = re.split(r"^## ", md, flags=re.M)
for b in doc["benchmarks"]:
    name = b["name"]
    if name in expect:
        assert b["status"] == expect[name], "%s: %s (%s)" % (name, b["status"], b["reason"])
    if b["status"] == "skipped":
        assert b["reason"], name + ": skipped without a reason"
        continue
    if b["status"] == "failed":
        assert b["reason"], name + ": failed without a reason"
        assert "**Failed**" in md, name + ": the failure is not in report.md"
        continue
    assert b["status"] == "ok" and b["figures"], name + ": no figures"
    for f in b["figures"]:
        assert f["name"] and f["unit"] is not None and f["better"] in ("higher", "lower"), f
        v = f["value"]
        assert isinstance(v, (int, float)) and math.isfinite(v), f
        for r in f["references"]:
            assert r["tool"] and (r["value"] is not None or r.get("note")), f
    for p in b["skipped"]:
        assert p["part"] and p["reason"], p
    section = [s for s in sections if s.startswith(name + ":")]
    assert section and "| Figure | Value | Reference |" in section[0], name + ": no table in report.md"
print("ok: %s: %s" % (out, ", ".join("%s %s" % (b["name"], b["status"]) for b in doc["benchmarks"])))
PY

"$python" "$SCRATCH/check.py" "$SCRATCH/quick" || fail "bench/run --quick: an incomplete report"
"$python" - "$SCRATCH/quick/report.json" <<'PY' || fail "bench/run --quick: a benchmark failed"
import json
import sys

doc = json.load(open(sys.argv[1]))
# Each benchmark ran, or says why it could not (a tool missing here); none failed.
for b in doc["benchmarks"]:
    print("%s: %s%s" % (b["name"], b["status"], " (%s)" % b["reason"] if b["reason"] else ""))
    assert b["status"] == "ok" or (b["status"] == "skipped" and b["reason"]), b["name"]
    for p in b["skipped"]:
        print("  not measured: %s: %s" % (p["part"], p["reason"]))
PY

# Missing tools: with only python3 on PATH the scripts' benchmarks cannot run (no bash, openssl,
# curl): skipped, with the reason; bench/evidence still runs, without tpm2_checkquote.
mkdir "$SCRATCH/bin" && ln -s "$python" "$SCRATCH/bin/python3" || fail "cannot make $SCRATCH/bin"
PATH=$SCRATCH/bin "$python" "$run" --quick --only evidence,verifier --build "$top_builddir" --out "$SCRATCH/bare" \
	>"$SCRATCH/bare.log" 2>&1 || fail "bench/run without tools failed: $(tail -n 20 "$SCRATCH/bare.log")"
"$python" "$SCRATCH/check.py" "$SCRATCH/bare" evidence=ok verifier=skipped boot=skipped update=skipped ||
	fail "bench/run without tools: $(cat "$SCRATCH/bare.log")"
grep -q 'needs bash, openssl, curl' "$SCRATCH/bare/report.md" || fail "bench/run: no reason for the skip in report.md"

# A failing benchmark: the report is still written, with the failure, and the exit status is 1.
"$python" "$run" --quick --only evidence --args evidence=--no-such-option --build "$top_builddir" \
	--out "$SCRATCH/failed" >"$SCRATCH/failed.log" 2>&1
rc=$?
[ "$rc" = 1 ] || fail "bench/run with a failing benchmark exited $rc: $(cat "$SCRATCH/failed.log")"
"$python" "$SCRATCH/check.py" "$SCRATCH/failed" evidence=failed verifier=skipped ||
	fail "bench/run with a failing benchmark: an incomplete report"
echo "PASS: bench/run writes the report: figures, skips with reasons, failures"
