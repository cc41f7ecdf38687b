#!/bin/bash
# End-to-end test of the verifier with a real device: pcrgate-verifierd over HTTPS on loopback
# (SQLite by default; PostgreSQL when run by attest-flow-pg.sh), a swtpm with EK certificates
# from a private CA, pcrgate-boot measuring a slot, and pcrgate-agent enrolling (EK certificate
# chain, certified update key, credential activation) and attesting against a reference policy
# drafted from the device's own event log. Then a release is targeted at the device: the answer
# carries a signed authorization the agent checks and a content key only its TPM can unwrap.
# Then the attacks of issue 5, each refused with its check named and recorded.
set -u
. "$top_srcdir/tests/lib.sh"

if [ -z "${PCRGATE_SWTPM_EK_CA_DIR:-}" ]; then
	PCRGATE_SWTPM_EK_CA=1 PCRGATE_SWTPM_ABRMD=1 exec "$top_srcdir/tests/integration/with-swtpm" "$BASH" "$0" "$@"
fi

. "$top_srcdir/tests/integration/agent-lib.sh"
. "$top_srcdir/tests/integration/boot-lib.sh"
. "$top_srcdir/tests/verifier/verifier-lib.sh"

agent_need curl python3 tpm2_readpublic
make_scratch
agent_setup
boot_setup
DB=${VERIFIER_DB:-sqlite:$SCRATCH/verifier/verifier.db}
verifier_setup "$DB"
cd "$SCRATCH" || fail "cannot enter $SCRATCH"
{
	echo "boot_eventlog = $BOOT_LOG"
	echo "firmware_eventlog = $SCRATCH/no-firmware-log"
} >>"$AGENT_DIR/agent.conf"

agent_ok provision
boot_install a 1.0 1
boot_cmd boot >boot.out 2>&1 || fail "pcrgate-boot did not boot: $(cat boot.out)"

# ---- Enrollment ----
# First an enrollment whose activation fails (a wrong secret): the AK stays unproven.
"$AGENT" certify --nonce 00 --out certify.json >/dev/null 2>&1 || fail "pcrgate-agent certify failed"
tpm2_readpublic -c 0x81010001 -o ek.pub >/dev/null 2>&1 || fail "no EK at 0x81010001"
tpm2_readpublic -c 0x81000010 -o ak.pub >/dev/null 2>&1 || fail "no AK at 0x81000010"
python3 - <<-'EOF' || fail "cannot build the enrollment request"
	import base64, json
	b = lambda f: base64.b64encode(open(f, "rb").read()).decode()
	json.dump({"ek_public": b("ek.pub"), "ak_public": b("ak.pub"),
	           "update_key_certification": json.load(open("certify.json"))}, open("enroll-nocert.json", "w"))
EOF
api POST /v1/enroll enroll-nocert.json
[ "$status" = 403 ] && [ "$(jget 'd["check"]')" = ek-certificate ] ||
	fail "an enrollment without an EK certificate: $status $(cat resp)"
"$AGENT" enroll >enroll.out 2>&1 || fail "pcrgate-agent enroll failed: $(cat enroll.out)"
DEVICE=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["device_id"])' "$AGENT_DIR/state/device.json") ||
	fail "no device id after enrollment"
echo "ok: enrolled as $DEVICE (EK certificate chain, update key certification, credential activation)"
"$AGENT" enroll >enroll2.out 2>&1 || fail "a second pcrgate-agent enroll failed: $(cat enroll2.out)"

# ---- Policy and a passing attestation ----
pcrgate policy from-eventlog "$BOOT_LOG" --name gw --pcrs 8 --release-name v1 --release-version 1.0 \
	--security-version 1 --out policy.json >draft.out 2>&1 || fail "from-eventlog failed: $(cat draft.out)"
admin policy put default policy.json
"$AGENT" attest --out attest.json >attest.out 2>&1 || fail "attestation failed: $(cat attest.out attest.json)"
python3 -c 'import json; d = json.load(open("attest.json")); assert d["verdict"] == "pass" and d["release"] == "v1", d' ||
	fail "the verdict is not pass on v1: $(cat attest.json)"
echo "ok: the device attests (quote, event log, policy): pass, release v1"

# ---- A release targeted at the device: authorization and content key ----
head -c 32 /dev/urandom >content.key
manifest=$(head -c 64 /dev/urandom | sha256sum | cut -d' ' -f1)
admin release put v2 --version 2.0 --security-version 2 --manifest-digest "$manifest" \
	--bundle-url https://updates.example/v2.bundle --content-key-file content.key
admin target v2 --device "$DEVICE"
"$AGENT" attest --out attest2.json >attest2.out 2>&1 || fail "attestation failed: $(cat attest2.out)"
[ -s "$AGENT_DIR/state/authorization.json" ] || fail "no authorization saved: $(cat attest2.out)"
python3 - "$AGENT_DIR/state/authorization.json" "$DEVICE" "$manifest" <<-'EOF' || fail "the authorization's claims are wrong"
	import base64, json, sys
	a = json.load(open(sys.argv[1]))
	tok = a["token"]
	p = tok.split(".")[1]; c = json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
	assert c["device"] == sys.argv[2] and c["manifest_digest"] == sys.argv[3], c
	assert c["release"] == "v2" and c["security_version"] == 2 and c["exp"] > c["iat"], c
	h = tok.split(".")[0]; assert json.loads(base64.urlsafe_b64decode(h + "=" * (-len(h) % 4)))["alg"] == "ES256"
	open("wrapped.bin", "wb").write(base64.b64decode(a["content_key_wrapped"]))
EOF
echo "ok: the release targeted at the device comes with an ES256 authorization bound to it"
# The content key opens only in this TPM, under a policy the vendor signed for its PCRs and version.
pcrgate eventlog pcrs --json "$BOOT_LOG" >pcrs.json 2>/dev/null || fail "cannot replay the boot log"
pcrgate policy sign --key "$AGENT_DIR/vendor.key" --pcrs pcrs.json --security-version 1 --out signed.json \
	>sign.out 2>&1 || fail "pcrgate policy sign failed: $(cat sign.out)"
agent_ok unwrap --policy signed.json --in wrapped.bin --out unwrapped.key
cmp -s content.key unwrapped.key || fail "the unwrapped content key differs"
echo "ok: the wrapped content key unwraps with the update key under the signed policy"

# ---- Attacks ----
# request NAME NONCE_HEX EVIDENCE_FILE [DEVICE [REPORT]]: an attestation request body in NAME,
# with REPORT (an update report, JSON text) when given.
request() {
	python3 -c 'import json, sys
d = {"device_id": sys.argv[4], "nonce": sys.argv[2], "evidence": json.load(open(sys.argv[3]))}
if len(sys.argv) > 5:
    d["report"] = sys.argv[5]
json.dump(d, open(sys.argv[1], "w"))' "$1" "$2" "$3" "${4:-$DEVICE}" ${5+"$5"}
}
# nonce [DEVICE]: a fresh nonce in $NONCE.
nonce() {
	printf '{"device_id": "%s"}' "${1:-$DEVICE}" >nonce.json
	api POST /v1/attest/nonce nonce.json
	[ "$status" = 200 ] || fail "no nonce: $status $(cat resp)"
	NONCE=$(jget 'd["nonce"]')
}
# refused CHECK BODY_FILE: the attestation must fail at CHECK.
refused() {
	api POST /v1/attest "$2"
	[ "$status" = 200 ] || fail "$1: HTTP $status $(cat resp)"
	[ "$(jget 'd["verdict"]')" = fail ] && [ "$(jget 'd["failed_check"]')" = "$1" ] ||
		fail "expected a failure at $1: $(cat resp)"
}
# A genuine evidence document for a fresh nonce: ev.json, its request good.json.
genuine() {
	nonce
	agent_ok quote --nonce "$NONCE" --out ev.json
	request good.json "$NONCE" ev.json
}

genuine
api POST /v1/attest good.json
[ "$(jget 'd["verdict"]')" = pass ] || fail "a genuine attestation fails: $(cat resp)"
refused nonce good.json
echo "ok: replayed evidence (its nonce used) is refused at the nonce check"

# A second device, imported by the operator: its nonce, our evidence. Its EK is our ECC EK
# (provisioning makes it) with a byte changed, its AK ours under another qualified name.
tpm2_readpublic -c 0x81010002 -o ek2.pub >/dev/null 2>&1 || fail "no ECC EK at 0x81010002"
# Its TLS key is a software key here; the operator's import has the verifier certify it.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out other-tls.key 2>/dev/null &&
	openssl pkey -in other-tls.key -pubout -outform DER -out other-tls.der 2>/dev/null ||
	fail "cannot make the second device's TLS key"
python3 - <<-'EOF' || fail "cannot build the import request"
	import base64, json, struct
	b = lambda f: base64.b64encode(open(f, "rb").read()).decode()
	ek = bytearray(open("ek2.pub", "rb").read()); ek[-1] ^= 1
	open("ek2.pub", "wb").write(bytes(ek))
	# The TLS key as a TPM2B_PUBLIC: ECC P-256, ECDSA-SHA256, the agent's TLS key attributes.
	point = open("other-tls.der", "rb").read()[-64:]
	area = struct.pack(">HHIH", 0x0023, 0x000b, 0x00040472, 0) + struct.pack(">HHHHH", 0x0010, 0x0018, 0x000b, 0x0003, 0x0010)
	area += struct.pack(">H", 32) + point[:32] + struct.pack(">H", 32) + point[32:]
	tls = base64.b64encode(struct.pack(">H", len(area)) + area).decode()
	json.dump({"ek_public": b("ek2.pub"), "ak_public": b("ak.pub"), "tls_key_public": tls,
	           "ak_qualified_name": "000b" + "11" * 32, "group": "other"}, open("import.json", "w"))
EOF
admin --json import import.json
python3 -c 'import json,sys; open("other-tls.pem", "w").write(json.load(open(sys.argv[1]))["client_certificate"])' \
	"$SCRATCH/admin.out" || fail "no client certificate from the import: $(cat "$SCRATCH/admin.out")"
OTHER=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["device_id"])' "$SCRATCH/admin.out") &&
	[ -n "$OTHER" ] || fail "no device id from the import: $(cat "$SCRATCH/admin.out")"
# Device requests need the device's own TLS client certificate: none, or another device's, is refused.
printf '{"device_id": "%s"}' "$OTHER" >other-nonce.json
API_IDENTITY=none api POST /v1/attest/nonce other-nonce.json
[ "$status" = 401 ] && [ "$(jget 'd["check"]')" = client-certificate ] ||
	fail "a device request without a client certificate: $status $(cat resp)"
api POST /v1/attest/nonce other-nonce.json
[ "$status" = 403 ] && [ "$(jget 'd["check"]')" = client-certificate ] ||
	fail "a device request with another device's client certificate: $status $(cat resp)"
echo "ok: device requests without the device's own TLS client certificate are refused"
API_IDENTITY=other-tls nonce "$OTHER"
other_nonce=$NONCE
agent_ok quote --nonce "$other_nonce" --out ev-other.json
request other.json "$other_nonce" ev-other.json
refused nonce other.json
grep -q "another device" resp || fail "the refusal does not say the nonce is another device's: $(cat resp)"
echo "ok: a nonce issued to another device is refused"
# Nonces carry the verifier's MAC: one it never issued, of its size or another, is refused.
for forged in "$(openssl rand -hex 32)" "$(openssl rand -hex 20)"; do
	agent_ok quote --nonce "$forged" --out ev-forged.json
	request forged.json "$forged" ev-forged.json
	refused nonce forged.json
	grep -q "never issued" resp || fail "the refusal of a forged nonce does not say so: $(cat resp)"
done
echo "ok: nonces the verifier never issued are refused"
# Our evidence sent as the other device's: the quote is not by the AK enrolled for it.
request as-other.json "$other_nonce" ev-other.json "$OTHER"
API_IDENTITY=other-tls refused qualified-signer as-other.json
echo "ok: a quote by an AK not enrolled for the device is refused"

# Tampered evidence: a PCR value, the event log (changed, dropped, reordered events), the selection.
tamper() {
	python3 - "$1" "$2" <<-'EOF' || fail "cannot tamper $2"
		import base64, json, struct, sys
		d = json.load(open("ev.json")); how = sys.argv[2]
		def events(log):
		    # crypto-agile: the Spec ID event (TCG_PCR_EVENT), then TCG_PCR_EVENT2s.
		    off = 32 + struct.unpack_from("<I", log, 28)[0]
		    nalg = struct.unpack_from("<I", log, 32 + 24)[0]
		    sizes = {}
		    for i in range(nalg):
		        a, s = struct.unpack_from("<HH", log, 32 + 28 + 4 * i)
		        sizes[a] = s
		    out = []
		    while off < len(log):
		        start = off
		        off += 8
		        n = struct.unpack_from("<I", log, off)[0]; off += 4
		        for _ in range(n):
		            a = struct.unpack_from("<H", log, off)[0]; off += 2 + sizes[a]
		        size = struct.unpack_from("<I", log, off)[0]; off += 4 + size
		        out.append((start, off))
		    return out
		log = bytearray(base64.b64decode(d["eventlogs"]["boot"]))
		ev = events(log); head = log[:ev[0][0]]
		parts = [bytes(log[s:e]) for s, e in ev]
		if how == "pcr":
		    v = d["pcrs"]["sha256"]["8"]; d["pcrs"]["sha256"]["8"] = ("0" if v[0] != "0" else "1") + v[1:]
		elif how == "selection":
		    del d["pcrs"]["sha256"]["9"]
		elif how == "changed":
		    # the first digest of the last event (pcr, type, count, alg come first)
		    p = bytearray(parts[-1]); p[14] ^= 1; parts[-1] = bytes(p)
		    log = head + b"".join(parts)
		elif how == "dropped":
		    log = head + b"".join(parts[:-1])
		elif how == "reordered":
		    # two events on one PCR swap places (on different PCRs the order would not matter)
		    idx = [struct.unpack_from("<I", p, 0)[0] for p in parts]
		    i = next(i for i in range(len(parts)) for j in range(i + 1, len(parts)) if idx[i] == idx[j] and parts[i] != parts[j])
		    j = next(j for j in range(i + 1, len(parts)) if idx[j] == idx[i] and parts[j] != parts[i])
		    parts[i], parts[j] = parts[j], parts[i]
		    log = head + b"".join(parts)
		d["eventlogs"]["boot"] = base64.b64encode(bytes(log)).decode()
		json.dump(d, open(sys.argv[1], "w"))
	EOF
}
for how in pcr:pcr-digest selection:pcr-selection changed:eventlog dropped:eventlog reordered:eventlog; do
	genuine
	tamper "t-${how%%:*}.json" "${how%%:*}"
	request bad.json "$NONCE" "t-${how%%:*}.json"
	refused "${how#*:}" bad.json
done
echo "ok: a changed PCR value, a changed, dropped or reordered event and another PCR set are refused"

# resetCount going backwards: the stored floor is above what the TPM says.
sqlite_or_psql() {
	case $DB in
	sqlite:*) python3 -c 'import sqlite3,sys; c = sqlite3.connect(sys.argv[1]); c.execute(sys.argv[2]); c.commit()' \
		"${DB#sqlite:}" "$1" ;;
	*) psql -q "$PCRGATE_PG_URL" -c "$1" >/dev/null ;;
	esac || fail "cannot run: $1"
}
sqlite_or_psql "UPDATE devices SET reset_count = reset_count + 5 WHERE id = '$DEVICE'"
genuine
refused clock good.json
sqlite_or_psql "UPDATE devices SET reset_count = reset_count - 5 WHERE id = '$DEVICE'"
echo "ok: resetCount going backwards is refused at the clock check"

# A keep-alive connection keeps its client certificate's standing only while that key is the
# one enrolled: after a re-enrollment (here: the enrolled key changed in the store) the next
# request on the same connection is refused.
mkfifo go
python3 - "${VERIFIER_URL#https://}" "$VERIFIER_DIR/tls.pem" "$OTHER" go >keepalive.out 2>&1 <<-'PY' &
	import http.client, json, ssl, sys
	host, port = sys.argv[1].rsplit(":", 1)
	ctx = ssl.create_default_context(cafile=sys.argv[2])
	ctx.load_cert_chain("other-tls.pem", "other-tls.key")
	conn = http.client.HTTPSConnection(host, int(port), context=ctx)
	def nonce():
	    sock = conn.sock
	    conn.request("POST", "/v1/attest/nonce", json.dumps({"device_id": sys.argv[3]}),
	                 {"Content-Type": "application/json"})
	    # The second request must have gone over the connection the first one opened.
	    assert sock is None or conn.sock is sock, "the connection was not kept open"
	    r = conn.getresponse()
	    return r.status, r.read().decode()
	first = nonce()
	print("first", first[0], flush=True)
	open(sys.argv[4]).read()
	second = nonce()
	print("second", second[0], second[1], flush=True)
	assert first[0] == 200 and second[0] == 403 and "not the TLS key enrolled" in second[1], (first, second)
PY
pypid=$!
for ((i = 0; i < 250; i++)); do grep -q "^first" keepalive.out && break; sleep 0.04; done
grep -q "^first 200" keepalive.out || { kill "$pypid"; fail "keep-alive: the first request: $(cat keepalive.out)"; }
other_spki=$(python3 -c 'import hashlib,sys; print(hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest())' \
	other-tls.der)
sqlite_or_psql "UPDATE devices SET tls_spki = '$(printf '0%.0s' {1..64})' WHERE id = '$OTHER'"
timeout 10 sh -c 'echo go >go' || fail "keep-alive: the client is gone: $(cat keepalive.out)"
wait "$pypid" || fail "keep-alive: a connection outlived its key's enrollment: $(cat keepalive.out)"
sqlite_or_psql "UPDATE devices SET tls_spki = '$other_spki' WHERE id = '$OTHER'"
API_IDENTITY=other-tls nonce "$OTHER"
echo "ok: a device enrolled again loses the connections it kept open"

# Oversized evidence: refused with 413 before any work; malformed JSON: 400.
head -c $((2 * 1024 * 1024)) /dev/zero | tr '\0' 'a' | sed 's/^/{"device_id":"x","evidence":"/; s/$/"}/' >big.json
# (Refused from its headers, whoever sends it: curl, which copes with the early answer, sends it.)
API_IDENTITY=none api POST /v1/attest big.json
[ "$status" = 413 ] || fail "oversized evidence: HTTP $status"
printf '{"device_id": "%s", "evidence": {' "$DEVICE" >broken.json
api POST /v1/attest broken.json
[ "$status" = 400 ] || fail "malformed JSON: HTTP $status"
echo "ok: oversized evidence is refused with 413, malformed JSON with 400"

# SQL metacharacters in every string field are data, never SQL.
meta="x'; DROP TABLE devices; --\"\\"
python3 -c 'import json,sys; json.dump({"device_id": sys.argv[1]}, open("meta-nonce.json", "w"))' "$meta"
# Device requests for such an id are refused at the TLS identity (the certificate names another
# device) before any lookup; the admin API, the report and the group below still take them to SQL.
api POST /v1/attest/nonce meta-nonce.json
[ "$status" = 403 ] || fail "a device id with SQL metacharacters: HTTP $status"
genuine
python3 - "$meta" <<-'EOF'
	import json, sys
	d = json.load(open("good.json")); d["device_id"] = sys.argv[1]; json.dump(d, open("meta.json", "w"))
EOF
api POST /v1/attest meta.json
[ "$status" = 403 ] || fail "an attestation for a device id with SQL metacharacters: HTTP $status"
# A report whose every field carries them, bound into a genuine quote by the agent.
"$AGENT" report --release "$meta" --outcome failed --reason "$meta" >report.out 2>&1 ||
	fail "pcrgate-agent report failed: $(cat report.out)"
# reported NAME REPORT: a request in NAME with REPORT, bound into a genuine quote for a fresh
# nonce (the quote's qualifying data is sha256(nonce || report)).
reported() {
	local binding
	nonce
	binding=$({ boot_hex2bin "$NONCE"; printf '%s' "$2"; } | sha256sum | cut -d' ' -f1)
	agent_ok quote --nonce "$binding" --out "ev-$1"
	request "$1" "$NONCE" "ev-$1" "$DEVICE" "$2"
}
# A report with the release's version and end of support, bound into a genuine quote by hand: the
# verifier stores both (device view, audit entry below); a date that does not exist, and a
# version too long, are refused though their binding is right.
report='{"release":"v2","outcome":"installed","version":"2.0","end_of_support":"2031-06-30"}'
reported eos.json "$report"
api POST /v1/attest eos.json
[ "$status" = 200 ] || fail "a report with version and end_of_support: HTTP $status $(cat resp)"
admin device "$DEVICE"
grep -q '^outcomes\[[0-9]*\]\.end_of_support: 2031-06-30$' "$SCRATCH/admin.out" &&
	grep -q '^outcomes\[[0-9]*\]\.version: 2.0$' "$SCRATCH/admin.out" ||
	fail "pcrgate admin device does not show the reported end of support: $(cat "$SCRATCH/admin.out")"
reported eos-bad.json "${report/2031-06-30/2031-02-29}"
api POST /v1/attest eos-bad.json
[ "$status" = 400 ] && grep -q end_of_support resp || fail "an end_of_support that is no date: HTTP $status $(cat resp)"
reported eos-long.json "${report/2.0/$(printf '2%.0s' {1..65})}"
api POST /v1/attest eos-long.json
[ "$status" = 400 ] && grep -q 'member version' resp || fail "a version of 65 bytes: HTTP $status $(cat resp)"
echo "ok: a report's version and end of support are stored and shown; a date that does not exist is refused"
printf '{"group": "%s"}' "x'\'' OR 1=1; --" >meta-group.json
api PUT "/v1/admin/devices/$DEVICE/group" meta-group.json
[ "$status" = 401 ] || fail "the admin API without a token: HTTP $status"
admin group "$DEVICE" "x' OR 1=1; --"
admin --json device "$DEVICE"
grep -q "x' OR 1=1; --" "$SCRATCH/admin.out" || fail "the group was not stored verbatim: $(cat "$SCRATCH/admin.out")"
admin --json devices
[ "$(python3 -c 'import json; print(len(json.load(open("'"$SCRATCH"'/admin.out"))["devices"]))')" = 2 ] ||
	fail "the devices table changed: $(cat "$SCRATCH/admin.out")"
admin group "$DEVICE" gateways
echo "ok: SQL metacharacters in device ids, groups and reports are stored and compared as data"

# A measurement the policy does not allow, a release it does not know, a security version below its minimum.
python3 -c '
import json; p = json.load(open("policy.json"))
p["min_security_version"] = 5
json.dump(p, open("policy-min.json", "w"))' || fail "cannot edit the policy"
admin policy put default policy-min.json
genuine
refused security-version-below-minimum good.json
admin policy put default policy.json
boot_install a 1.1 1
boot_reboot >/dev/null 2>&1 || fail "cannot reboot"
boot_cmd boot >boot.out 2>&1 || fail "pcrgate-boot did not boot: $(cat boot.out)"
genuine
api POST /v1/attest good.json
python3 -c 'import json; d = json.load(open("resp")); codes = {r["code"] for r in d["reasons"]}
assert d["verdict"] == "fail" and {"measurement-not-allowed", "unknown-release"} <= codes, d' ||
	fail "a kernel the policy does not allow: $(cat resp)"
echo "ok: a measurement not in the policy, an unknown release and a low security version are refused with reasons"

# A revoked device.
admin revoke "$DEVICE"
api POST /v1/attest good.json
[ "$(jget 'd["failed_check"]')" = revoked ] || fail "a revoked device: $(cat resp)"
nonce_status=$(printf '{"device_id": "%s"}' "$DEVICE" >n.json; api POST /v1/attest/nonce n.json; echo "$status")
[ "$nonce_status" = 403 ] || fail "a revoked device gets a nonce: $nonce_status"
echo "ok: a revoked device is refused"

# Every verdict is recorded with its reasons, under the device the request named (the quote
# by an AK not enrolled for it was sent as $OTHER), and the audit log's chain verifies.
# recorded DEVICE CHECK...: each CHECK is among DEVICE's recorded failures.
recorded() {
	admin --json attestations --device "$1" --limit 100
	python3 - "$SCRATCH/admin.out" "${@:2}" <<-'EOF' || fail "verdicts of $1 not recorded: $(cat "$SCRATCH/admin.out")"
		import json, sys
		rows = json.load(open(sys.argv[1]))["attestations"]
		checks = {x["failed_check"] for x in rows}
		assert set(sys.argv[2:]) <= checks, set(sys.argv[2:]) - checks
		# The reasons as the array the attestation's answer had, not JSON text in a string.
		for x in rows:
		    assert isinstance(x["reasons"], list), x
		    assert x["verdict"] == "pass" or x["failed_check"] in {r["code"] for r in x["reasons"]}, x
	EOF
}
recorded "$DEVICE" nonce pcr-digest pcr-selection eventlog clock security-version-below-minimum revoked
recorded "$OTHER" qualified-signer
# ?limit= is digits only, 1 to 1000.
for bad in %2B5 %205 0 1001 5x; do
	API_IDENTITY=token api GET "/v1/admin/attestations?limit=$bad"
	[ "$status" = 400 ] || fail "/v1/admin/attestations?limit=$bad: HTTP $status"
done
admin audit export "$SCRATCH/audit.jsonl"
pcrgate audit verify "$SCRATCH/audit.jsonl" >audit.out 2>&1 || fail "the audit chain does not verify: $(cat audit.out)"
grep -q '"action":"enroll-activated"' audit.jsonl && grep -q '"action":"authorize-update"' audit.jsonl &&
	grep -q '"action":"device-revoke"' audit.jsonl || fail "the audit log misses decisions"
python3 - "$meta" <<-'EOF' || fail "the update outcome with SQL metacharacters is not recorded verbatim"
	import json, sys
	outcomes = [e["detail"] for e in map(json.loads, open("audit.jsonl")) if e["action"] == "update-outcome"]
	assert {"release": sys.argv[1], "outcome": "failed", "reason": sys.argv[1]} in outcomes, outcomes
	assert {"release": "v2", "outcome": "installed", "reason": None, "version": "2.0",
	        "end_of_support": "2031-06-30"} in outcomes, outcomes
EOF
echo "ok: verdicts are recorded with their reasons; the audit chain verifies"

# A second verifier process on the same store: stateless, so a nonce from one is good at the other.
admin allow-reenroll "$OTHER"
sqlite_or_psql "UPDATE devices SET state = 'active' WHERE id = '$DEVICE'"
pcrgate policy from-eventlog "$BOOT_LOG" --name gw --pcrs 8 --release-name v1.1 --release-version 1.1 \
	--security-version 1 --out policy11.json >draft.out 2>&1 || fail "from-eventlog failed: $(cat draft.out)"
admin policy put default policy11.json
verifier_config "$VERIFIER_DIR/second.conf" "$DB"
verifier_start "$VERIFIER_DIR/second.conf" "$VERIFIER_DIR/second.log"
SECOND=$REPLY
API_URL=$SECOND nonce
agent_ok quote --nonce "$NONCE" --out ev.json
request good.json "$NONCE" ev.json
api POST /v1/attest good.json
[ "$(jget 'd["verdict"]')" = pass ] || fail "a nonce from the second verifier, evidence to the first: $(cat resp)"
API_URL=$SECOND api POST /v1/attest good.json
[ "$(jget 'd["failed_check"]')" = nonce ] || fail "the second verifier accepts a used nonce: $(cat resp)"
echo "ok: two verifiers on one store serve one device: nonce from one, evidence to the other"

# A third verifier with the shortest nonce_ttl: the first's nonces (300 s) are beyond it; its
# own expire (waited for on SQLite only: the check is the same on both stores).
VERIFIER_NONCE_TTL=1 verifier_config "$VERIFIER_DIR/third.conf" "$DB"
out=$("$VERIFIERD" --config "$VERIFIER_DIR/third.conf" --check-config 2>&1) && fail "--check-config passed nonce_ttl = 1"
grep -q "nonce_ttl: '1' is not seconds (10 to 86400)" <<<"$out" || fail "nonce_ttl = 1: $out"
VERIFIER_NONCE_TTL=10 verifier_config "$VERIFIER_DIR/third.conf" "$DB"
verifier_start "$VERIFIER_DIR/third.conf" "$VERIFIER_DIR/third.log"
THIRD=$REPLY
nonce
agent_ok quote --nonce "$NONCE" --out ev.json
request long.json "$NONCE" ev.json
API_URL=$THIRD refused nonce long.json
grep -q "later than nonce_ttl" resp || fail "a nonce beyond the verifier's nonce_ttl: $(cat resp)"
if [ "${DB%%:*}" = sqlite ]; then
	API_URL=$THIRD nonce
	agent_ok quote --nonce "$NONCE" --out ev.json
	request late.json "$NONCE" ev.json
	# Issued in second S, it expires at S + 10: refused from then on.
	sleep 11
	refused nonce late.json
	grep -q "expired" resp || fail "the refusal of an expired nonce does not say so: $(cat resp)"
	# A used nonce replayed before it expires, its write held up past the expiry (here by another
	# writer holding SQLite's lock from just after the first attestation to 1.2 s after the
	# expiry, so the replay has the rest of the nonce's 10 s to reach the verifier's first check
	# of it): its expiry is judged again when it is stored, so the replay is refused.
	API_URL=$THIRD nonce
	exp=$(jget 'd["expires_at"]')
	agent_ok quote --nonce "$NONCE" --out ev.json
	request used.json "$NONCE" ev.json
	api POST /v1/attest used.json
	[ "$(jget 'd["verdict"]')" = pass ] || fail "an attestation with the third verifier's nonce: $(cat resp)"
	python3 -c 'import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(max(0, int(sys.argv[2]) + 1.2 - time.time()))
c.execute("ROLLBACK")' "${DB#sqlite:}" "$exp" >holder.out &
	holder=$!
	for ((i = 0; i < 250; i++)); do grep -q locked holder.out && break; sleep 0.02; done
	grep -q locked holder.out || fail "the lock holder did not take SQLite's lock"
	refused nonce used.json
	wait "$holder" || fail "the lock holder failed"
	grep -q "expired before its attestation was stored" resp ||
		fail "a replay whose write crossed the nonce's expiry: $(cat resp)"
fi
echo "ok: an expired nonce, one beyond the verifier's nonce_ttl, and a replay that crosses the expiry are refused"

# A stored reasons value that is not JSON (a damaged store) is a 500 naming the attestation.
admin --json attestations --device "$OTHER" --limit 1
att=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["attestations"][0]["id"])' "$SCRATCH/admin.out") ||
	fail "no attestation of $OTHER: $(cat "$SCRATCH/admin.out")"
sqlite_or_psql "UPDATE attestations SET reasons = 'not json' WHERE id = '$att'"
API_IDENTITY=token api GET "/v1/admin/attestations?device=$OTHER"
[ "$status" = 500 ] && grep -q "attestations $att: the stored reasons is not JSON" "$SCRATCH/resp" ||
	fail "a damaged reasons value: HTTP $status $(cat "$SCRATCH/resp")"
sqlite_or_psql "UPDATE attestations SET reasons = '[]' WHERE id = '$att'"
echo "ok: the admin API answers reasons as JSON, and a damaged one with 500"

curl -sf --cacert "$VERIFIER_DIR/tls.pem" "$VERIFIER_URL/metrics" >metrics.txt || fail "no /metrics"
# The replays refused above at this verifier count as failed verdicts with the reason nonce.
grep -Eq '^pcrgate_verifier_verdicts_total\{verdict="fail",reason="nonce"\} [1-9][0-9]*$' metrics.txt ||
	fail "/metrics has no failed verdicts for reason nonce: $(grep pcrgate_verifier_verdicts_total metrics.txt)"
agent_no_handles "the verifier flow"
verifier_stop_all
echo "PASS: verifier flow on ${DB%%:*}"
