#!/bin/bash
# `pcrgate bundle` end to end: keys and a trust store from `pcrgate key`, a signed PCR policy
# from `pcrgate policy sign`, slots with small random images, and bundles of them (full and
# delta, encrypted and not) created, inspected, verified and extracted back to the same bytes,
# checked with openssl and sha256sum. Then the attacks, each refused with a message naming the
# failed check and nothing written: bad signature, unknown and revoked signers, rollback, other
# hardware, payloads swapped between bundles, endless data, a tampered chunk, a delta against
# the wrong base, truncation, caps, a missing or wrong content key.
set -u
. "$top_srcdir/tests/lib.sh"

make_scratch
cd "$SCRATCH" || fail "cannot enter $SCRATCH"

quiet() {
	"$@" >log 2>&1 || fail "'$*' failed: $(cat log)"
}

# A slot: make_slot DIR VERSION SECURITY_VERSION [BASE_DIR] (images derived from BASE_DIR's when given).
make_slot() {
	local dir=$1 img
	mkdir -p "$dir"
	if [ $# -ge 4 ]; then
		cp "$4/kernel" "$4/initrd" "$4/dtb" "$dir/"
		head -c 3000 /dev/urandom | dd of="$dir/kernel" bs=1 seek=70000 conv=notrunc status=none
		head -c 2000 /dev/urandom >>"$dir/initrd"
	else
		head -c 200000 /dev/urandom >"$dir/kernel"
		head -c 60000 /dev/urandom >"$dir/initrd"
		head -c 3000 /dev/urandom >"$dir/dtb"
	fi
	{
		echo "pcrgate-manifest 1"
		echo "compatible=acme,gw-100"
		echo "version=$2"
		echo "security_version=$3"
		for img in kernel initrd dtb; do
			echo "image=$img size=$(stat -c %s "$dir/$img") sha256=$(sha256sum "$dir/$img" | cut -d' ' -f1)"
		done
	} >"$dir/manifest"
}

# The payload's offset in a bundle, from inspect.
payload_offset() {
	pcrgate bundle inspect "$1" | sed -n 's/^payload: [0-9]* bytes at offset \([0-9]*\)$/\1/p'
}

# Flips one byte of a file at an offset: flip FILE OFFSET
flip() {
	local byte
	byte=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
	printf "$(printf '\\%03o' $(((byte ^ 1) % 256)))" | dd of="$1" bs=1 seek="$2" count=1 conv=notrunc status=none
}

# Extract must fail with message $2 and leave nothing: no_extract BUNDLE MESSAGE ARGS...
no_extract() {
	local bundle=$1 msg=$2
	shift 2
	expect_status 1 pcrgate bundle extract "$bundle" --trust trust --out "$SCRATCH/never" "$@"
	expect_err "$msg"
	[ ! -e "$SCRATCH/never" ] || fail "extract of $bundle left $SCRATCH/never"
	! ls -d "$SCRATCH"/never.tmp.* >/dev/null 2>&1 || fail "extract of $bundle left a temporary directory"
}

# Keys: a root with a signer and a revoked signer, another root, the policy key.
quiet pcrgate key root --out root
quiet pcrgate key signer --root root --out signer
quiet pcrgate key signer --root root --out revoked --subject "revoked signer"
quiet pcrgate key revoke --root root --cert revoked/cert.pem
quiet pcrgate key trust-store --root root --out trust
quiet pcrgate key root --out other-root --subject "other root"
quiet pcrgate key signer --root other-root --out other
quiet pcrgate key policy --out policy.key
printf 'sha256:8=%064d\nsha256:9=%064d\n' 0 0 >pcrs.txt
quiet pcrgate policy sign --key policy.key --pcrs pcrs.txt --security-version 7 --out policy7.json
quiet pcrgate policy sign --key policy.key --pcrs pcrs.txt --security-version 6 --out policy6.json
head -c 32 /dev/urandom >content.key
head -c 32 /dev/urandom >wrong.key

make_slot base 4.1.0 6
make_slot new 4.2.0 7 base
make_slot unrelated 4.1.0 6
sign=(--signer-cert signer/cert.pem --signer-key signer/key.pem)

# Usage errors.
expect_status 2 pcrgate bundle create --slot new
expect_err "are required"
expect_status 2 pcrgate bundle create --slot new --release r --pcr-policy policy7.json -o x "${sign[@]}" \
	--chunk-size 1000
expect_err "--chunk-size '1000' is not a number from 65536"
expect_status 2 pcrgate bundle verify full.pcrb
expect_err "--trust DIR is required"
expect_status 2 pcrgate bundle inspect
expect_status 0 pcrgate bundle create --help
grep -q "^usage: pcrgate bundle create" out || fail "create --help prints no usage"

# A policy for another security version than the slot's is refused at creation.
expect_status 1 pcrgate bundle create --slot new --release r1 "${sign[@]}" --pcr-policy policy6.json -o bad.pcrb
expect_err "pcr_policy.counter.security_version"
[ ! -e bad.pcrb ] || fail "a refused create left bad.pcrb"

# Full, full encrypted, delta encrypted; the slot manifest is signed by create (no manifest.sig).
common=(--release gw-100-4.2.0 "${sign[@]}" --pcr-policy policy7.json --chunk-size 65536 --level 3)
quiet pcrgate bundle create --slot new "${common[@]}" --end-of-support 2030-12-31 -o full.pcrb
quiet pcrgate bundle create --slot new "${common[@]}" --content-key content.key -o enc.pcrb
quiet pcrgate bundle create --slot new --base-slot base "${common[@]}" --content-key content.key -o delta.pcrb
[ "$(stat -c %s delta.pcrb)" -lt "$(stat -c %s full.pcrb)" ] || fail "the delta is not smaller than the full bundle"

# An existing bundle is replaced only with --force.
cp enc.pcrb again.pcrb
expect_status 2 pcrgate bundle create --slot new "${common[@]}" --content-key content.key -o again.pcrb
expect_err "bundle create: again.pcrb exists; --force replaces it"
cmp -s enc.pcrb again.pcrb || fail "a refused create changed again.pcrb"
quiet pcrgate bundle create --slot new "${common[@]}" --content-key content.key -o again.pcrb --force
# Two bundles of one content key: each has its own key_salt, so their payloads differ.
cmp -s <(tail -c 1000 enc.pcrb) <(tail -c 1000 again.pcrb) && fail "two bundles under one content key share ciphertext"
expect_status 0 pcrgate bundle inspect again.pcrb --json
grep -q '"key_salt": "[0-9a-f]\{64\}"' out || fail "inspect --json lacks payload.key_salt"

expect_status 0 pcrgate bundle inspect full.pcrb
grep -q "^UNVERIFIED" out || fail "inspect does not say UNVERIFIED"
grep -q "^end_of_support: 2030-12-31$" out || fail "inspect lacks end_of_support"
expect_status 0 pcrgate bundle inspect delta.pcrb --json
grep -q '"verified": false' out || fail "inspect --json lacks verified: false"
grep -q '"type": "delta"' out || fail "inspect --json lacks the payload type"
# manifest_digest: the sha256 of the exact manifest bytes (offset 28, length M from the header).
digest=$(python3 -c '
import hashlib, struct, sys
b = open(sys.argv[1], "rb").read()
m = struct.unpack(">I", b[12:16])[0]
print(hashlib.sha256(b[28:28 + m]).hexdigest())' full.pcrb) || fail "cannot hash the manifest"
expect_status 0 pcrgate bundle inspect full.pcrb
grep -qx "manifest_digest: $digest" out || fail "inspect shows another manifest_digest than $digest"
expect_status 0 pcrgate bundle inspect full.pcrb --json
python3 -c 'import json, sys; assert json.load(open("out"))["manifest_digest"] == sys.argv[1]' "$digest" ||
	fail "inspect --json shows another manifest_digest than $digest"

expect_status 0 pcrgate bundle verify full.pcrb --trust trust --compatible acme,gw-100 --min-security-version 7
grep -q "^bundle verified: release gw-100-4.2.0" out || fail "verify output: $(cat out)"
expect_status 0 pcrgate bundle verify enc.pcrb --trust trust --content-key content.key
expect_status 0 pcrgate bundle verify delta.pcrb --trust trust --content-key content.key --base-slot base

# Extract each and compare with the slot, and check the slot's signature with openssl.
for b in full enc delta; do
	expect_status 0 pcrgate bundle extract $b.pcrb --trust trust --content-key content.key --base-slot base \
		--out ex-$b
	for f in kernel initrd dtb manifest; do
		cmp -s new/$f ex-$b/$f || fail "extracted $b: $f differs"
	done
	openssl cms -verify -binary -inform DER -in ex-$b/manifest.sig -content ex-$b/manifest \
		-CAfile root/cert.pem -purpose any -out /dev/null 2>log || fail "extracted $b: signature: $(cat log)"
	(cd ex-$b && sed -n 's/^image=\([a-z]*\) size=[0-9]* sha256=\([0-9a-f]*\)$/\2  \1/p' manifest | sha256sum -c --quiet) ||
		fail "extracted $b: images differ from the manifest"
done
expect_status 1 pcrgate bundle extract full.pcrb --trust trust --out ex-full
expect_err "exists"

# Bad signature: one byte of the signed manifest changed (inside the release name).
cp full.pcrb badsig.pcrb
off=$(grep -abo 'gw-100-4.2.0' badsig.pcrb | head -1 | cut -d: -f1)
flip badsig.pcrb "$off"
expect_status 1 pcrgate bundle verify badsig.pcrb --trust trust
expect_err "bundle verify: manifest signature"
no_extract badsig.pcrb "manifest signature"

# Unknown and revoked signers.
quiet pcrgate bundle create --slot new --release r1 --signer-cert other/cert.pem --signer-key other/key.pem \
	--pcr-policy policy7.json -o other.pcrb
no_extract other.pcrb "manifest signature"
quiet pcrgate bundle create --slot new --release r1 --signer-cert revoked/cert.pem --signer-key revoked/key.pem \
	--pcr-policy policy7.json -o revoked.pcrb
no_extract revoked.pcrb "manifest signature"
expect_err "the certificate is revoked by a CRL of the trust store"

# Rollback and other hardware.
no_extract full.pcrb "security version: 7 is below the minimum 8" --min-security-version 8
no_extract full.pcrb "compatible: the bundle is for \"acme,gw-100\"" --compatible acme,gw-200

# Mix and match: the encrypted bundle's payload behind the plain bundle's manifest.
fo=$(payload_offset full.pcrb)
eo=$(payload_offset enc.pcrb)
{ head -c "$fo" full.pcrb; tail -c +$((eo + 1)) enc.pcrb | head -c $(($(stat -c %s full.pcrb) - fo)); } >mix.pcrb
no_extract mix.pcrb "chunk 0 (payload bytes 0 to 65535): sha256 differs from the manifest"

# Endless data after the payload.
{ cat full.pcrb; head -c 100000 /dev/zero; } >endless.pcrb
no_extract endless.pcrb "data after the manifest's stored_size"

# A chunk tampered mid-stream.
cp full.pcrb tampered.pcrb
flip tampered.pcrb $((fo + 2 * 65536 + 100))
no_extract tampered.pcrb "chunk 2 (payload bytes 131072 to 196607): sha256 differs"

# A delta against the wrong base, or without one.
no_extract delta.pcrb "base: the slot in --base-slot unrelated is not the one the delta was made against" \
	--content-key content.key --base-slot unrelated
no_extract delta.pcrb "--base-slot DIR names the installed slot" --content-key content.key

# Content key missing or wrong.
no_extract enc.pcrb "--content-key FILE is required"
no_extract enc.pcrb "chunk 0: decryption failed" --content-key wrong.key

# Truncated bundles.
head -c 100 full.pcrb >trunc1.pcrb
no_extract trunc1.pcrb "truncated manifest"
head -c $(($(stat -c %s full.pcrb) - 10)) full.pcrb >trunc2.pcrb
no_extract trunc2.pcrb "payload: truncated in chunk"

# Caps: a manifest length beyond 256 KiB, a signature length of 0, a wrong magic.
cp full.pcrb caps.pcrb
printf '\377\377\377\377' | dd of=caps.pcrb bs=1 seek=12 conv=notrunc status=none
no_extract caps.pcrb "at offset 12: bundle: manifest length 4294967295 out of range"
cp full.pcrb caps.pcrb
printf '\0\0\0\0' | dd of=caps.pcrb bs=1 seek=16 conv=notrunc status=none
no_extract caps.pcrb "signature length 0 out of range"
expect_status 1 pcrgate bundle inspect policy7.json
expect_err "bad magic"

finish
