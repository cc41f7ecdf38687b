#!/bin/bash
# Real TPM quotes from the shared test data through `pcrgate quote verify`: keylime's vector
# from its tpm2-tools files and from its JSON, trustee's swtpm vector from its JSON; then
# tampered copies, each of which must be rejected by the check that owns the damage.
set -u
. "$top_srcdir/tests/lib.sh"

need_testdata quotes
command -v python3 >/dev/null || skip "python3 is needed to read the JSON vectors"
make_scratch
Q=$PCRGATE_TESTDATA/quotes
K=$Q/keylime-checkquote
T=$Q/trustee-swtpm

# Writes NAME.pem, NAME.attest, NAME.sig, NAME.nonce (hex, may be empty), NAME.pcrs (BANK:INDEX=HEX)
# and NAME.values (the digests in quote order) from a JSON vector.
from_json() {
	python3 - "$1" "$SCRATCH/$2" <<'EOF' || fail "cannot convert $1"
import json, sys
v = json.load(open(sys.argv[1]))
out = sys.argv[2]
open(out + ".pem", "w").write(v["ak_public_pem"])
open(out + ".attest", "wb").write(bytes.fromhex(v["attest_hex"]))
open(out + ".sig", "wb").write(bytes.fromhex(v["signature_hex"]))
open(out + ".nonce", "w").write(v["nonce_hex"] or "")
with open(out + ".pcrs", "w") as f, open(out + ".values", "wb") as g:
    for bank, pcrs in v["pcrs"].items():
        for index in sorted(pcrs, key=int):
            f.write("%s:%s=%s\n" % (bank, index, pcrs[index]))
            g.write(bytes.fromhex(pcrs[index]))
EOF
}

# Copies a file with bit 0 of byte OFFSET flipped.
flip() {
	python3 - "$1" "$2" "$3" <<'EOF' || fail "cannot flip a bit of $1"
import sys
b = bytearray(open(sys.argv[1], "rb").read())
b[int(sys.argv[3])] ^= 1
open(sys.argv[2], "wb").write(bytes(b))
EOF
}

# accept DESCRIPTION ARGS...: verification must pass.
accept() {
	local what=$1
	shift
	pcrgate quote verify "$@" >"$SCRATCH/out" 2>"$SCRATCH/err" ||
		fail "$what: rejected: $(cat "$SCRATCH/err")"
	echo "ok: $what"
}

# reject DESCRIPTION CHECK ARGS...: verification must fail with exit 1, naming CHECK.
reject() {
	local what=$1 check=$2 rc
	shift 2
	pcrgate quote verify "$@" >"$SCRATCH/out" 2>"$SCRATCH/err"
	rc=$?
	[ "$rc" -eq 1 ] || fail "$what: exit $rc, expected 1 ($(cat "$SCRATCH/err"))"
	grep -q "^pcrgate: quote verify: $check: " "$SCRATCH/err" ||
		fail "$what: expected check '$check', got: $(cat "$SCRATCH/err")"
	echo "ok: $what rejected by $check"
}

usage_error() {
	local what=$1 rc
	shift
	pcrgate quote verify "$@" >/dev/null 2>"$SCRATCH/err"
	rc=$?
	[ "$rc" -eq 2 ] || fail "$what: exit $rc, expected 2 ($(cat "$SCRATCH/err"))"
	echo "ok: $what is a usage error"
}

# --- keylime: tpm2-tools files (serialized PCR file, nonce.txt's bytes are the extraData) ---
KT=(--ak "$K/ak.pem" --attest "$K/quote.tpms_attest" --sig "$K/quote.tpmt_signature")
accept "keylime tpm2-tools files" "${KT[@]}" --pcrs "$K/pcrs.tpm2_quote_pcr_out" --nonce-file "$K/nonce.txt"
grep -q "checked: size signature magic type nonce pcr-selection pcr-digest" "$SCRATCH/out" ||
	fail "summary does not list the checks: $(cat "$SCRATCH/out")"
grep -q "skipped:.*qualified-signer.*eventlog" "$SCRATCH/out" || fail "summary does not list skipped checks"
# A PEM AK does not say whether it is a restricted signing key: the summary says it went unchecked.
grep -q "skipped:.*ak-attributes (a PEM or DER AK does not carry them)" "$SCRATCH/out" ||
	fail "summary does not say the AK's attributes were not checked: $(cat "$SCRATCH/out")"

# --- keylime: its JSON, as BANK:INDEX=HEX lines, bare values, and the vector itself ---
from_json "$K/vector-tpm_util_test_checkquote.json" k
KJ=(--ak "$SCRATCH/k.pem" --attest "$SCRATCH/k.attest" --sig "$SCRATCH/k.sig")
nonce=$(cat "$SCRATCH/k.nonce")
accept "keylime JSON, text PCRs" "${KJ[@]}" --pcrs "$SCRATCH/k.pcrs" --nonce "$nonce"
accept "keylime JSON, values PCRs" "${KJ[@]}" --pcrs "$SCRATCH/k.values" --pcrs-format values --nonce "$nonce"
accept "keylime JSON, vector PCRs" "${KJ[@]}" --pcrs "$K/vector-tpm_util_test_checkquote.json" --nonce "$nonce"

# --- trustee: 24 SHA-256 PCRs quoted by swtpm, no nonce ---
from_json "$T/vector.json" t
[ -s "$SCRATCH/t.nonce" ] && fail "trustee vector unexpectedly has a nonce"
TJ=(--ak "$SCRATCH/t.pem" --attest "$SCRATCH/t.attest" --sig "$SCRATCH/t.sig")
accept "trustee JSON" "${TJ[@]}" --pcrs "$SCRATCH/t.pcrs"
accept "trustee JSON, vector PCRs" "${TJ[@]}" --pcrs "$T/vector.json"

# --json: the verdict and the parsed fields.
pcrgate quote verify "${TJ[@]}" --pcrs "$T/vector.json" --json >"$SCRATCH/json" || fail "trustee --json rejected"
python3 - "$SCRATCH/json" <<'EOF' || fail "--json output is wrong: $(cat "$SCRATCH/json")"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["verdict"] == "accepted" and r["failed_check"] is None
assert r["checks"]["pcr-digest"] == "passed" and r["checks"]["nonce"] == "skipped"
assert r["quote"]["pcr_selection"] == {"sha256": list(range(24))}
assert r["signature"] == {"scheme": "rsassa", "hash": "sha256"}
EOF
echo "ok: --json"

# --- tampering: keylime's own negative cases, and each check's ---
flip "$K/quote.tpms_attest" "$SCRATCH/attest.flip" 5
reject "keylime attest bit flipped" signature --ak "$K/ak.pem" --attest "$SCRATCH/attest.flip" \
	--sig "$K/quote.tpmt_signature" --pcrs "$K/pcrs.tpm2_quote_pcr_out" --nonce-file "$K/nonce.txt"
flip "$K/quote.tpmt_signature" "$SCRATCH/sig.flip" 100
reject "keylime signature bit flipped" signature --ak "$K/ak.pem" --attest "$K/quote.tpms_attest" \
	--sig "$SCRATCH/sig.flip" --pcrs "$K/pcrs.tpm2_quote_pcr_out" --nonce-file "$K/nonce.txt"
# The serialized file's first value starts at 132 (selection) + 4 (count) + 4 (list count) + 2 (size).
flip "$K/pcrs.tpm2_quote_pcr_out" "$SCRATCH/pcrs.flip" 150
reject "keylime PCR value bit flipped" pcr-digest "${KT[@]}" --pcrs "$SCRATCH/pcrs.flip" \
	--nonce-file "$K/nonce.txt"
flip "$SCRATCH/k.values" "$SCRATCH/values.flip" 0
reject "keylime values bit flipped" pcr-digest "${KJ[@]}" --pcrs "$SCRATCH/values.flip" --pcrs-format values
printf 'a%s' "$(tail -c +2 "$K/nonce.txt")" >"$SCRATCH/nonce.wrong"
reject "keylime wrong nonce" nonce "${KT[@]}" --pcrs "$K/pcrs.tpm2_quote_pcr_out" --nonce-file "$SCRATCH/nonce.wrong"
reject "keylime nonce of another length" nonce "${KJ[@]}" --nonce "${nonce}00"
# keylime flips byte 5 of the PCR file, which lands in the selection (the high byte of the first
# bank's id): refused while reading the file, naming the input, the byte and the bank.
flip "$K/pcrs.tpm2_quote_pcr_out" "$SCRATCH/pcrs.sel" 5
pcrgate quote verify "${KT[@]}" --pcrs "$SCRATCH/pcrs.sel" >/dev/null 2>"$SCRATCH/err"
rc=$?
[ $rc -eq 1 ] || fail "keylime PCR file with a damaged selection: exit $rc, expected 1"
grep -qx "pcrgate: quote verify: --pcrs $SCRATCH/pcrs.sel: at offset 4: PCR bank 0x010b is not known" \
	"$SCRATCH/err" || fail "keylime PCR file with a damaged selection: $(cat "$SCRATCH/err")"
[ "$(wc -l <"$SCRATCH/err")" -eq 1 ] || fail "more than one line on stderr: $(cat "$SCRATCH/err")"
echo "ok: keylime PCR file with a damaged selection rejected at its offset"

# Over the caps: one byte over reaches the library's size check, a larger file is not even read.
head -c 2305 /dev/zero >"$SCRATCH/attest.2305"
reject "attest one byte over the cap" size --ak "$K/ak.pem" --attest "$SCRATCH/attest.2305" \
	--sig "$K/quote.tpmt_signature"
head -c 100000 /dev/zero >"$SCRATCH/big"
reject "attest far over the cap" size --ak "$K/ak.pem" --attest "$SCRATCH/big" --sig "$K/quote.tpmt_signature"
reject "signature far over the cap" size --ak "$K/ak.pem" --attest "$K/quote.tpms_attest" --sig "$SCRATCH/big"

{ cat "$SCRATCH/k.pcrs"; echo "sha256:17=$(printf '%064d' 0)"; } >"$SCRATCH/k.more"
reject "keylime one PCR more than quoted" pcr-selection "${KJ[@]}" --pcrs "$SCRATCH/k.more" --nonce "$nonce"
sed 's/^sha256:16=/sha256:15=/' "$SCRATCH/k.pcrs" >"$SCRATCH/k.other"
reject "keylime another PCR than quoted" pcr-selection "${KJ[@]}" --pcrs "$SCRATCH/k.other" --nonce "$nonce"
sed 's/^sha256:16=/sha1:16=/; s/=\(.\{40\}\).*/=\1/' "$SCRATCH/k.pcrs" >"$SCRATCH/k.bank"
reject "keylime another bank than quoted" pcr-selection "${KJ[@]}" --pcrs "$SCRATCH/k.bank" --nonce "$nonce"

grep -v '^sha256:23=' "$SCRATCH/t.pcrs" >"$SCRATCH/t.less"
reject "trustee one PCR fewer than quoted" pcr-selection "${TJ[@]}" --pcrs "$SCRATCH/t.less"
sed 's/^sha256:17=f/sha256:17=e/' "$SCRATCH/t.pcrs" >"$SCRATCH/t.value"
reject "trustee PCR value changed" pcr-digest "${TJ[@]}" --pcrs "$SCRATCH/t.value"
reject "trustee nonce expected but absent" nonce "${TJ[@]}" --nonce 00
reject "trustee wrong AK" signature --ak "$SCRATCH/k.pem" --attest "$SCRATCH/t.attest" --sig "$SCRATCH/t.sig"

# --- usage errors exit 2 ---
usage_error "missing --sig" --ak "$K/ak.pem" --attest "$K/quote.tpms_attest"
usage_error "both nonces" "${KT[@]}" --nonce 00 --nonce-file "$K/nonce.txt"
usage_error "--eventlog without --pcrs" "${KT[@]}" --eventlog "$K/nonce.txt"
usage_error "bad hex nonce" "${KT[@]}" --nonce xyz
usage_error "unknown option" "${KT[@]}" --frobnicate
for prev in -1:0:0 " 1:0:0" +1:0:0 "1: 0:0" 1:0:0x 1:0 1:4294967296:0 18446744073709551616:0:0; do
	usage_error "--previous-clock '$prev'" "${KT[@]}" --previous-clock "$prev"
done
reject "--previous-clock at its limits" clock "${KT[@]}" --previous-clock 0:4294967295:4294967295
pcrgate quote verify --help | grep -q -- '--nonce-file' || fail "verify --help does not list options"
pcrgate quote --help | grep -q verify || fail "quote --help does not list verify"
echo "PASS: real quotes verify; every tampered copy is rejected by its check"
