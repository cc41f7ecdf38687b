#!/bin/bash
# `pcrgate admin release put NAME --bundle FILE`: the verifier (SQLite, no TPM, no device
# certificates) stores the version, security version and manifest digest the bundle carries,
# the digest being the sha256 of the manifest's exact bytes; explicit options that agree are
# accepted, ones that disagree (and a NAME other than the bundle's release) are usage errors
# naming the option, refused before any request.
set -u
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/verifier/verifier-lib.sh"

command -v curl >/dev/null || skip "curl not installed"
command -v python3 >/dev/null || skip "python3 not installed"
[ -x "$VERIFIERD" ] || fail "$VERIFIERD is not built"
make_scratch
cd "$SCRATCH" || fail "cannot enter $SCRATCH"

quiet() {
	"$@" >log 2>&1 || fail "'$*' failed: $(cat log)"
}

# A release bundle: keys, a slot with small images, its signed PCR policy.
quiet pcrgate key root --out root
quiet pcrgate key signer --root root --out signer
quiet pcrgate key policy --out policy.key
mkdir -p slot
head -c 70000 /dev/urandom >slot/kernel
{
	echo "pcrgate-manifest 1"
	echo "compatible=acme,gw-100"
	echo "version=4.2.0"
	echo "security_version=7"
	echo "image=kernel size=70000 sha256=$(sha256sum slot/kernel | cut -d' ' -f1)"
} >slot/manifest
quiet pcrgate policy predict --manifest slot/manifest --out pcrs.txt
quiet pcrgate policy sign --key policy.key --pcrs pcrs.txt --security-version 7 --out policy.json
head -c 32 /dev/urandom >content.key
quiet pcrgate bundle create --slot slot --release gw-100-4.2.0 --signer-cert signer/cert.pem \
	--signer-key signer/key.pem --pcr-policy policy.json --content-key content.key -o r.pcrb
digest=$(python3 -c '
import hashlib, struct, sys
b = open(sys.argv[1], "rb").read()
m = struct.unpack(">I", b[12:16])[0]
print(hashlib.sha256(b[28:28 + m]).hexdigest())' r.pcrb) || fail "cannot hash the manifest"

# The verifier: HTTPS on loopback, an admin token.
verifier_setup_plain "sqlite:$SCRATCH/verifier/verifier.db"

# The release, its fields from the bundle.
put=(--bundle-url https://updates.example/r.pcrb --content-key-file content.key)
admin release put gw-100-4.2.0 --bundle r.pcrb "${put[@]}"
grep -q "release gw-100-4.2.0 stored (version 4.2.0, security version 7)" "$SCRATCH/admin.out" ||
	fail "release put --bundle said: $(cat "$SCRATCH/admin.out")"
# stored() NAME: the release's stored fields are the bundle's, and it is the only release.
stored() {
	admin --json release list
	python3 - "$SCRATCH/admin.out" "$1" "$digest" <<-'EOF' || fail "release $1: $(cat "$SCRATCH/admin.out")"
		import json, sys
		releases = json.load(open(sys.argv[1]))["releases"]
		assert [x["name"] for x in releases] == [sys.argv[2]], releases
		r = releases[0]
		assert (r["version"], r["security_version"], r["manifest_digest"]) == ("4.2.0", 7, sys.argv[3]), r
	EOF
}
stored gw-100-4.2.0
# Explicit options that agree (the digest in capitals too) are accepted.
admin release put gw-100-4.2.0 --bundle r.pcrb --version 4.2.0 --security-version 7 \
	--manifest-digest "$(printf '%s' "$digest" | tr a-f A-F)" "${put[@]}"
stored gw-100-4.2.0
echo "ok: release put --bundle stores the bundle's version, security version and manifest digest"

# Disagreements are usage errors naming the option; nothing is sent.
disagree() {
	local opt=$1
	shift
	pcrgate admin release put "$@" "${put[@]}" >out 2>err
	[ $? -eq 2 ] || fail "release put $*: not a usage error: $(cat err)"
	grep -q -- "$opt '.*' disagrees with the bundle's" err || fail "release put $*: $(cat err)"
}
disagree --version gw-100-4.2.0 --bundle r.pcrb --version 4.2.1
disagree --security-version gw-100-4.2.0 --bundle r.pcrb --security-version 8
disagree --manifest-digest gw-100-4.2.0 --bundle r.pcrb --manifest-digest "$(printf '%064d' 0)"
disagree NAME other-name --bundle r.pcrb
pcrgate admin release put gw-100-4.2.0 --version 4.2.0 "${put[@]}" >out 2>err
[ $? -eq 2 ] || fail "release put without --bundle and without --security-version: $(cat err)"
grep -q "usage: pcrgate admin release put NAME (--bundle FILE | --version V" err ||
	fail "release put without --bundle and without --security-version: $(cat err)"
pcrgate admin release put gw-100-4.2.0 --bundle policy.json "${put[@]}" >out 2>err
[ $? -eq 1 ] || fail "release put --bundle of a file that is no bundle: $(cat err)"
grep -q "policy.json: .*not a pcrgate bundle" err || fail "release put --bundle of a file that is no bundle: $(cat err)"
# A content key file of another size: refused before anything is sent, as bundle create refuses it.
head -c 31 content.key >short.key
expect_status 1 pcrgate admin release put gw-100-4.2.0 --bundle r.pcrb --bundle-url https://updates.example/r.pcrb \
	--content-key-file short.key
expect_err "content-key-file short.key: 31 bytes, a content key has exactly 32"
# None of them changed what the verifier holds.
stored gw-100-4.2.0
echo "ok: options that disagree with the bundle are usage errors naming the option"
verifier_stop_all
echo "PASS: admin release put --bundle"
