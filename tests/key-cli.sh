#!/bin/bash
# `pcrgate key` end to end: root, signer, policy key, sign, verify, revoke, trust store and a
# root rotation; usage errors; file modes of private keys and refusal to overwrite; and openssl
# as an independent check of what the commands make (x509 -text, verify -x509_strict with the
# CRL, cms -verify of the signatures, and signatures made by openssl checked by pcrgate).
set -u
. "$top_srcdir/tests/lib.sh"

make_scratch
cd "$SCRATCH" || fail "cannot enter $SCRATCH"
pcrgate=$top_builddir/tools/pcrgate
command -v openssl >/dev/null || skip "openssl is not installed"

mode_of() {
	stat -c %a "$1"
}

# Usage errors.
expect_status 2 "$pcrgate" key
expect_status 0 "$pcrgate" key --help
expect_out "trust-store"
expect_status 2 "$pcrgate" key frobnicate
expect_err "unknown command 'frobnicate'"
expect_status 2 "$pcrgate" key root
expect_err "key root: --out is required"
expect_status 2 "$pcrgate" key root --out r --days 0
expect_err "is not a number from 1 to"
expect_status 2 "$pcrgate" key root --out r --cert x
expect_err "unknown option"
expect_status 2 "$pcrgate" key signer --out s
expect_err "--root (one) and --out are required"
expect_status 2 "$pcrgate" key sign --cert a --in b --out c
expect_err "one --key for each --cert"
for c in root signer policy revoke trust-store sign verify; do
	expect_status 0 "$pcrgate" key "$c" --help
	expect_out "usage: pcrgate key $c"
done

# A root and a signer: private keys 0600, certificates as openssl reads them.
umask 022
expect_status 0 "$pcrgate" key root --out root --subject "Example root"
expect_out "root root/cert.pem: CN=Example root, sha256 "
[ "$(mode_of root/key.pem)" = 600 ] || fail "root/key.pem has mode $(mode_of root/key.pem)"
[ "$(mode_of root/cert.pem)" = 644 ] || fail "root/cert.pem has mode $(mode_of root/cert.pem)"
[ "$(mode_of root)" = 700 ] || fail "root/ has mode $(mode_of root)"
openssl x509 -in root/cert.pem -noout -text >root.txt || fail "openssl cannot read root/cert.pem"
grep -q "CA:TRUE, pathlen:0" root.txt || fail "root is not CA:TRUE pathlen 0: $(cat root.txt)"
grep -A1 "Basic Constraints: critical" root.txt >/dev/null || fail "root's basicConstraints is not critical"
grep -q "Certificate Sign, CRL Sign" root.txt || fail "root lacks keyCertSign, cRLSign"
grep -q "Subject Key Identifier" root.txt || fail "root lacks a subject key identifier"
grep -q "ASN1 OID: prime256v1" root.txt || fail "root's key is not P-256"
openssl pkey -in root/key.pem -noout || fail "openssl cannot read root/key.pem"
expect_status 2 "$pcrgate" key root --out root
expect_err "root/key.pem exists; --force replaces it"

expect_status 0 "$pcrgate" key signer --root root --out signer --days 30
[ "$(mode_of signer/key.pem)" = 600 ] || fail "signer/key.pem has mode $(mode_of signer/key.pem)"
openssl x509 -in signer/cert.pem -noout -text >signer.txt || fail "openssl cannot read signer/cert.pem"
grep -q "CA:FALSE" signer.txt || fail "signer is not CA:FALSE"
grep -q "Code Signing" signer.txt || fail "signer lacks the codeSigning usage"
grep -q "Digital Signature" signer.txt || fail "signer lacks digitalSignature"
grep -q "Authority Key Identifier" signer.txt || fail "signer lacks an authority key identifier"
serial=$(openssl x509 -in signer/cert.pem -noout -serial | cut -d= -f2)
[ ${#serial} -eq 32 ] || fail "signer serial $serial is not 16 bytes"
openssl verify -x509_strict -CAfile root/cert.pem signer/cert.pem >/dev/null ||
	fail "openssl does not verify the signer against the root"
expect_status 0 "$pcrgate" key signer --root root --out signer2 --subject "Second signer"
serial2=$(openssl x509 -in signer2/cert.pem -noout -serial | cut -d= -f2)
[ "$serial" != "$serial2" ] || fail "two signers share serial $serial"
# A root key that is not the root's.
expect_status 1 "$pcrgate" key signer --root root --root-key signer/key.pem --out signer3
expect_err "--root-key signer/key.pem is not the key of root/cert.pem"
[ ! -e signer3/key.pem ] || fail "a failed signer command left a key"
# A key named with a query (a PIN in a pkcs11: URI) is named without it.
cp signer/key.pem 'signer/key?pin-value=271828' || fail "cannot copy the signer's key"
expect_status 1 "$pcrgate" key signer --root root --root-key 'signer/key?pin-value=271828' --out signer3
expect_err "--root-key signer/key?\.\.\. is not the key of root/cert.pem"
! grep -q 271828 "$SCRATCH/err" || fail "the key's query is shown: $(cat "$SCRATCH/err")"

# The policy key is what `pcrgate policy` loads.
expect_status 0 "$pcrgate" key policy --out policy.pem --pub policy.pub
[ "$(mode_of policy.pem)" = 600 ] || fail "policy.pem has mode $(mode_of policy.pem)"
expect_status 2 "$pcrgate" key policy --out policy.pem
expect_status 0 "$pcrgate" key policy --out policy.pem --pub policy.pub --force
[ "$(mode_of policy.pem)" = 600 ] || fail "policy.pem replaced with mode $(mode_of policy.pem)"
expect_status 0 "$pcrgate" policy auth-digest --key policy.pem
cp out digest.priv
expect_status 0 "$pcrgate" policy auth-digest --key policy.pub
cmp -s out digest.priv || fail "the policy key's public part names another key"

# Trust store, sign, verify; openssl agrees both ways.
expect_status 0 "$pcrgate" key trust-store --root root --out store
ls store/roots/*.pem >/dev/null 2>&1 || fail "no root in the store"
[ -z "$(ls store/crl)" ] || fail "a CRL in the store before any revocation"
printf 'pcrgate-manifest 1\nrelease 1.0\n' >data
expect_status 0 "$pcrgate" key sign --cert signer/cert.pem --key signer/key.pem --in data --out data.sig
expect_status 2 "$pcrgate" key sign --cert signer/cert.pem --key signer/key.pem --in data --out data.sig
expect_err "key sign: data.sig exists; --force replaces it"
expect_status 0 "$pcrgate" key sign --cert signer/cert.pem --key signer/key.pem --in data --out data.sig --force
expect_status 0 "$pcrgate" key verify --trust store --in data --sig data.sig
expect_out "signer 1: CN=pcrgate release signer: verified, root CN=Example root"
openssl cms -verify -binary -inform DER -in data.sig -content data -CAfile root/cert.pem -purpose any \
	-out /dev/null 2>err || fail "openssl cms does not verify pcrgate's signature: $(cat err)"
openssl cms -cmsout -print -inform DER -in data.sig >cms.txt || fail "openssl cannot print the signature"
grep -q "sha256" cms.txt || fail "the signature does not use sha256"
! grep -qi "smimeCapabilities" cms.txt || fail "the signature carries S/MIME capabilities"
grep -q "eContent: <ABSENT>" cms.txt || fail "the signature is not detached"
openssl cms -sign -binary -md sha256 -nosmimecap -in data -signer signer2/cert.pem -inkey signer2/key.pem \
	-outform DER -out data2.sig || fail "openssl cannot sign"
expect_status 0 "$pcrgate" key verify --trust store --in data --sig data2.sig
expect_out "CN=Second signer: verified"
# A single PEM file of roots is a store too.
expect_status 0 "$pcrgate" key verify --trust root/cert.pem --in data --sig data.sig
printf 'changed\n' >>data
expect_status 1 "$pcrgate" key verify --trust store --in data --sig data.sig
expect_err "does not match the signed data"

# Revocation: the CRL is re-issued with a new number each time; devices refuse the signer.
printf 'pcrgate-manifest 1\nrelease 1.0\n' >data
expect_status 0 "$pcrgate" key revoke --root root --cert signer/cert.pem --crl-out crl-copy.pem
expect_out "crl root/crl.pem: number 1, 1 revoked"
cmp -s root/crl.pem crl-copy.pem || fail "--crl-out differs from root/crl.pem"
expect_status 2 "$pcrgate" key revoke --root root --cert signer/cert.pem --crl-out crl-copy.pem
expect_err "key revoke: crl-copy.pem exists; --force replaces it"
grep -q "^$serial .*CN=pcrgate release signer$" root/revoked || fail "root/revoked lacks $serial: $(cat root/revoked)"
expect_status 0 "$pcrgate" key revoke --root root --cert signer/cert.pem
expect_out "already revoked"
expect_out "number 2, 1 revoked"
[ "$(wc -l <root/revoked)" -eq 1 ] || fail "a certificate revoked twice is listed twice"
openssl crl -in root/crl.pem -noout -text >crl.txt || fail "openssl cannot read the CRL"
grep -A1 "CRL Number" crl.txt | grep -q "^ *2$" || fail "the CRL's number is not 2: $(cat crl.txt)"
grep -q "Serial Number: $serial" crl.txt || fail "the CRL does not list $serial"
openssl crl -in root/crl.pem -CAfile root/cert.pem -noout 2>&1 | grep -q "verify OK" ||
	fail "openssl does not verify the CRL's signature"
! openssl verify -crl_check -CAfile root/cert.pem -CRLfile root/crl.pem signer/cert.pem >/dev/null 2>&1 ||
	fail "openssl still accepts the revoked signer"
openssl verify -crl_check -CAfile root/cert.pem -CRLfile root/crl.pem signer2/cert.pem >/dev/null ||
	fail "openssl refuses the signer that was not revoked"
expect_status 2 "$pcrgate" key trust-store --root root --out store
expect_err "already holds a trust store"
# A --force that fails leaves the old store as it was; one that succeeds leaves no temporary directory.
cp -r store store-before
expect_status 1 "$pcrgate" key trust-store --root root --root nonexistent --out store --force
diff -r store store-before >/dev/null || fail "a failed trust-store --force changed the store"
expect_status 0 "$pcrgate" key trust-store --root root --out store --force
expect_out "1 revoked"
! ls -d store.tmp.* >/dev/null 2>&1 || fail "trust-store left a temporary directory"
[ "$(ls store/crl | wc -l)" -eq 1 ] || fail "the replaced store lacks its CRL: $(ls store/crl)"
mkdir -p notastore && touch notastore/keep
expect_status 2 "$pcrgate" key trust-store --root root --out notastore --force
expect_err "holds files other than a trust store"
[ -e notastore/keep ] || fail "trust-store --force removed a file it does not own"
expect_status 1 "$pcrgate" key verify --trust store --in data --sig data.sig
expect_err "revoked by a CRL of the trust store"
expect_status 0 "$pcrgate" key verify --trust store --in data --sig data2.sig
# Without the CRL (a device may have none) the revoked signer still verifies.
expect_status 0 "$pcrgate" key verify --trust root/cert.pem --in data --sig data.sig
# A certificate of another root cannot be revoked here.
expect_status 0 "$pcrgate" key root --out other
expect_status 0 "$pcrgate" key signer --root other --out other-signer
expect_status 1 "$pcrgate" key revoke --root root --cert other-signer/cert.pem
expect_err "was not issued by the root in root"
expect_status 1 "$pcrgate" key verify --trust store --in data --sig data.sig
expect_status 0 "$pcrgate" key sign --cert other-signer/cert.pem --key other-signer/key.pem --in data --out other.sig
expect_status 1 "$pcrgate" key verify --trust store --in data --sig other.sig
expect_err "no chain to a root of the trust store"

# Root rotation: signed under the old and the new root, against a store holding both.
expect_status 0 "$pcrgate" key sign --cert signer2/cert.pem --key signer2/key.pem \
	--cert other-signer/cert.pem --key other-signer/key.pem --in data --out both.sig
expect_status 0 "$pcrgate" key trust-store --root root --root other --out store2
expect_status 0 "$pcrgate" key verify --trust store2 --in data --sig both.sig
[ "$(grep -c ': verified, root' out)" -eq 2 ] || fail "not both signers verified: $(cat out)"
# A device with the old store only accepts it through the old root.
expect_status 0 "$pcrgate" key verify --trust store --in data --sig both.sig
[ "$(grep -c ': verified, root' out)" -eq 1 ] || fail "expected one verified signer: $(cat out)"
expect_out "not verified: no chain"
cat root/cert.pem other/cert.pem >both-roots.pem
openssl cms -verify -binary -inform DER -in both.sig -content data -CAfile both-roots.pem -purpose any \
	-out /dev/null 2>err || fail "openssl cms does not verify the two-signer signature: $(cat err)"

finish
