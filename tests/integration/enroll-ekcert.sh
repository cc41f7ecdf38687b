#!/bin/bash
# EK certificate verification (verifier/ekcert.c). swtpm_setup manufactures a TPM whose EK
# certificates swtpm's local CA (swtpm-localca, configured privately here) signs; they verify
# against that CA and certify the EKs the TPM holds, and are refused against the real
# manufacturers' CAs, with a flipped signature byte, or for another EK. Certificates with the
# tolerated field defects verify and report them; a bad signature never does. Every real
# manufacturer CA file loads.
set -u
. "$top_srcdir/tests/lib.sh"

for tool in swtpm swtpm_setup swtpm_ioctl swtpm_localca tpm2_readpublic openssl; do
	command -v "$tool" >/dev/null 2>&1 || skip "$tool not found"
done
TOOL=$top_builddir/tests/integration/enroll_tool
[ -x "$TOOL" ] || fail "$TOOL is not built"
make_scratch
swtpm_pid=
stop_swtpm() {
	[ -n "$swtpm_pid" ] || return 0
	swtpm_ioctl --unix "$SCRATCH/sock.ctrl" -s >/dev/null 2>&1 || kill "$swtpm_pid" 2>/dev/null
	wait "$swtpm_pid" 2>/dev/null
	swtpm_pid=
}
trap 'stop_swtpm; rm -rf "$SCRATCH"' EXIT
cd "$SCRATCH" || fail "cannot enter $SCRATCH"

# swtpm's local CA, with its own state directory, and a TPM with EK certificates it signed.
mkdir ca state certs trust
cat >localca.conf <<END
statedir = $SCRATCH/ca
signingkey = $SCRATCH/ca/signkey.pem
issuercert = $SCRATCH/ca/issuercert.pem
certserial = $SCRATCH/ca/certserial
END
printf -- '--platform-manufacturer pcrgate\n--platform-version 1\n--platform-model test\n' >localca.options
cat >setup.conf <<END
create_certs_tool = swtpm_localca
create_certs_tool_config = $SCRATCH/localca.conf
create_certs_tool_options = $SCRATCH/localca.options
END
swtpm_setup --tpm2 --tpmstate "$SCRATCH/state" --config "$SCRATCH/setup.conf" --create-ek-cert \
	--write-ek-cert-files "$SCRATCH/certs" --pcr-banks sha256 </dev/null >setup.log 2>&1 ||
	fail "swtpm_setup failed: $(tail -5 setup.log)"
cp ca/swtpm-localca-rootca-cert.pem ca/issuercert.pem trust/ || fail "swtpm-localca made no CA certificates"
rsa=certs/ek-rsa2048.crt
ecc=$(ls certs/ek-secp*.crt 2>/dev/null | head -n 1)
[ -s "$rsa" ] && [ -n "$ecc" ] || fail "swtpm_setup wrote no EK certificates: $(ls certs)"

# The EKs' public areas, read from that TPM.
swtpm socket --tpm2 --tpmstate dir="$SCRATCH/state" --server type=unixio,path="$SCRATCH/sock" \
	--ctrl type=unixio,path="$SCRATCH/sock.ctrl" --flags not-need-init,startup-clear </dev/null >swtpm.log 2>&1 &
swtpm_pid=$!
for ((i = 0; i < 500; i++)); do
	[ -S "$SCRATCH/sock" ] && swtpm_ioctl --unix "$SCRATCH/sock.ctrl" -g >/dev/null 2>&1 && break
	sleep 0.02
done
export TPM2TOOLS_TCTI=swtpm:path=$SCRATCH/sock
tpm2_readpublic -c 0x81010001 -o ekrsa.pub >/dev/null 2>&1 || fail "cannot read the RSA EK"
tpm2_readpublic -c 0x81010016 -o ekecc.pub >/dev/null 2>&1 || fail "cannot read the ECC EK"
tpm2_readpublic -c 0x81010001 -f pem -o ekrsa.pem >/dev/null 2>&1 || fail "cannot export the RSA EK"
stop_swtpm

ok() { # ok CERT CA [EK_PUB]: verification must pass
	"$TOOL" ekcert "$@" >out 2>err || fail "ekcert $* refused: $(cat err)"
}
refused() { # refused PATTERN CERT CA [EK_PUB]
	local pattern=$1
	shift
	"$TOOL" ekcert "$@" >out 2>err && fail "ekcert $* accepted: $(cat out)"
	grep -q -- "$pattern" err || fail "ekcert $*: '$pattern' not in: $(cat err)"
}

ok "$rsa" trust ekrsa.pub
grep -qx 'ek=match' out && grep -qx 'defects=0x0' out || fail "unexpected result: $(cat out)"
ok "$ecc" trust ekecc.pub
cat trust/*.pem >bundle.pem
ok "$rsa" bundle.pem ekrsa.pub
echo "ok: swtpm's EK certificates chain to its local CA and certify the TPM's EKs"

refused "certifies another key" "$rsa" trust ekecc.pub
refused "certifies another key" "$ecc" trust ekrsa.pub
cp "$rsa" flipped.der
size=$(stat -c %s flipped.der)
printf "$(printf '\\%03o' $((0x$(tail -c 1 flipped.der | od -An -tx1 | tr -d ' ') ^ 1)))" |
	dd of=flipped.der bs=1 seek=$((size - 1)) conv=notrunc 2>/dev/null
cmp -s "$rsa" flipped.der && fail "the signature byte was not flipped"
refused "certificate signature failure" flipped.der trust
mkdir rootonly && cp ca/issuercert.pem rootonly/
refused "no self-signed root" "$rsa" rootonly
echo "ok: refused for another EK, with a flipped signature byte, without a root"

# The real manufacturers' CAs: every file loads; swtpm's certificates do not chain to them.
if [ -n "${PCRGATE_TESTDATA:-}" ] && [ -d "$PCRGATE_TESTDATA/ek-ca" ]; then
	files=$(ls "$PCRGATE_TESTDATA"/ek-ca/*.pem | wc -l)
	"$TOOL" trust "$PCRGATE_TESTDATA/ek-ca" >out 2>err || fail "the manufacturers' CAs do not load: $(cat err)"
	loaded=$(cat out)
	read -r a i < <(sed 's/anchors=\([0-9]*\) intermediates=\([0-9]*\)/\1 \2/' out)
	[ "$a" -gt 0 ] && [ $((a + i)) -eq "$files" ] || fail "$files CA files, loaded: $loaded"
	refused "not issued by a configured manufacturer CA" "$rsa" "$PCRGATE_TESTDATA/ek-ca"
	echo "ok: all $files manufacturer CA files load ($loaded); swtpm's EK certificate is untrusted there"
else
	skip_part "shared test data ek-ca not found (PCRGATE_TESTDATA=${PCRGATE_TESTDATA:-unset})"
fi

# Field defects, on a certificate the local CA signs for the RSA EK: a negative serial number,
# an unknown critical extension, a validity that ended. Tolerated and reported (0x7).
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out req.key >/dev/null 2>&1 &&
	openssl req -new -key req.key -subj /CN=ek -out req.csr >/dev/null 2>&1 || fail "openssl req failed"
printf 'keyUsage=critical,keyEncipherment\n2.23.133.99.1=critical,DER:05:00\n' >ext.cnf
openssl x509 -req -in req.csr -force_pubkey ekrsa.pem -CA ca/issuercert.pem -CAkey ca/signkey.pem \
	-set_serial -5 -days -1 -extfile ext.cnf -outform der -out defects.der >/dev/null 2>&1 ||
	fail "openssl x509 -req failed"
ok defects.der trust ekrsa.pub
grep -qx 'defects=0x7' out || fail "defects not reported: $(cat out)"
# As an NV index holds it: the TCG header (0x1001, type 0, size) and padding after it.
{
	printf '\x10\x01\x00'
	printf "$(printf '\\%03o\\%03o' $(($(stat -c %s defects.der) >> 8)) $(($(stat -c %s defects.der) & 255)))"
	cat defects.der
	head -c 37 /dev/zero | tr '\0' '\377'
} >nv.bin
ok nv.bin trust ekrsa.pub
grep -qx 'defects=0xf' out || fail "NV wrapping not reported: $(cat out)"
cp defects.der defects-flipped.der
size=$(stat -c %s defects-flipped.der)
printf "$(printf '\\%03o' $((0x$(tail -c 1 defects.der | od -An -tx1 | tr -d ' ') ^ 1)))" |
	dd of=defects-flipped.der bs=1 seek=$((size - 1)) conv=notrunc 2>/dev/null
refused "certificate signature failure" defects-flipped.der trust
# Signed by a CA of our own that is not configured: the defects never make it trusted.
openssl req -x509 -newkey rsa:2048 -nodes -keyout own.key -subj /CN=own-root -days 1 -out own.pem >/dev/null 2>&1 ||
	fail "openssl req -x509 failed"
openssl x509 -req -in req.csr -force_pubkey ekrsa.pem -CA own.pem -CAkey own.key -set_serial 7 -days 1 \
	-outform der -out own.der >/dev/null 2>&1 || fail "openssl x509 -req failed"
refused "not issued by a configured manufacturer CA" own.der trust
echo "ok: defects tolerated and reported; a bad signature or an unknown root never"
finish
