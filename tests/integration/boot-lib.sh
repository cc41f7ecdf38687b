# Helpers for the host port's tests (pcrgate-boot); sourced after tests/lib.sh, never run.
# They build a device in a scratch directory: a test PKI made with the openssl command
# line (root CA, a code-signing certificate, and certificates that must be refused), slot
# directories with random images, their manifests and detached CMS signatures, and a
# config file naming all of it. Under with-swtpm they also reach the private TPM.
#
# After boot_setup:
#   BOOT_DIR    the device: pki/, slots/a, slots/b, state, run/boot-eventlog.bin, pcrgate.conf,
#               run/images (where a boot writes the verified images for the next stage)
#   BOOT_CONF   its config file (pass with --config; tcti copied from PCRGATE_TCTI when set)
#   BOOT_LOG    the event log path
#   PCRGATE_BOOT  the pcrgate-boot binary of this build

BOOT_COUNTER=0x01500100
PCRGATE_BOOT=$top_builddir/boot/pcrgate-boot

# Quiet openssl: its chatter is not the test's output.
boot_openssl() {
	openssl "$@" >>"$BOOT_DIR/openssl.log" 2>&1 || fail "openssl $1 failed (see $BOOT_DIR/openssl.log)"
}

# A CA key and self-signed certificate: boot_ca NAME SUBJECT
boot_ca() {
	boot_openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$BOOT_DIR/pki/$1.key" -out "$BOOT_DIR/pki/$1.pem" -days 3650 -subj "/CN=$2" \
		-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
		-addext "subjectKeyIdentifier=hash"
}

# A leaf certificate issued by a CA: boot_leaf NAME CA EXTENDED_KEY_USAGE [START END]
# (START/END as YYYYMMDDHHMMSSZ make a certificate valid only then, e.g. long expired).
boot_leaf() {
	local name=$1 ca=$2 eku=$3 pki=$BOOT_DIR/pki
	cat >"$pki/$name.ext" <<-EOF
		basicConstraints=critical,CA:FALSE
		keyUsage=critical,digitalSignature
		extendedKeyUsage=$eku
		subjectKeyIdentifier=hash
		authorityKeyIdentifier=keyid
	EOF
	boot_openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$pki/$name.key" \
		-out "$pki/$name.csr" -subj "/CN=pcrgate test $name"
	if [ $# -ge 5 ]; then
		# Only `openssl ca` can date a certificate in the past.
		mkdir -p "$pki/ca-$name"
		: >"$pki/ca-$name/index.txt"
		cat >"$pki/ca-$name/ca.cnf" <<-EOF
			[ca]
			default_ca = test
			[test]
			database = $pki/ca-$name/index.txt
			new_certs_dir = $pki/ca-$name
			serial = $pki/ca-$name/serial
			default_md = sha256
			policy = any
			unique_subject = no
			[any]
			commonName = supplied
		EOF
		echo 01 >"$pki/ca-$name/serial"
		boot_openssl ca -batch -config "$pki/ca-$name/ca.cnf" -cert "$pki/$ca.pem" -keyfile "$pki/$ca.key" \
			-in "$pki/$name.csr" -out "$pki/$name.pem" -extfile "$pki/$name.ext" -startdate "$4" -enddate "$5" \
			-notext
	else
		boot_openssl x509 -req -in "$pki/$name.csr" -CA "$pki/$ca.pem" -CAkey "$pki/$ca.key" -CAcreateserial \
			-out "$pki/$name.pem" -days 30 -sha256 -extfile "$pki/$name.ext"
	fi
}

# The device, its PKI and config. Call once per test, after make_scratch.
boot_setup() {
	BOOT_DIR=$SCRATCH/device
	BOOT_CONF=$BOOT_DIR/pcrgate.conf
	BOOT_LOG=$BOOT_DIR/run/boot-eventlog.bin
	mkdir -p "$BOOT_DIR/pki" "$BOOT_DIR/slots/a" "$BOOT_DIR/slots/b" || fail "cannot create $BOOT_DIR"
	[ -x "$PCRGATE_BOOT" ] || fail "$PCRGATE_BOOT is not built"
	boot_ca root "pcrgate test root"
	boot_leaf signer root codeSigning
	boot_ca other-root "pcrgate other root"
	boot_leaf other-signer other-root codeSigning
	boot_leaf mail-signer root emailProtection
	boot_leaf expired-signer root codeSigning 20200101000000Z 20210101000000Z
	{
		[ -n "${PCRGATE_TCTI:-}" ] && echo "tcti = $PCRGATE_TCTI"
		echo "boot.state = $BOOT_DIR/state"
		echo "boot.slots = $BOOT_DIR/slots"
		echo "boot.eventlog = $BOOT_LOG"
		echo "boot.trust = $BOOT_DIR/pki/root.pem"
		echo "boot.run_dir = $BOOT_DIR/run/images"
		echo "boot.compatible = acme,gw-100"
		echo "boot.counter_index = $BOOT_COUNTER"
	} >"$BOOT_CONF"
}

# pcrgate-boot with the device's config.
boot_cmd() {
	local sub=$1
	shift
	"$PCRGATE_BOOT" "$sub" --config "$BOOT_CONF" "$@"
}

# Signs a slot's manifest: boot_sign SLOT [SIGNER] [DER|PEM]
boot_sign() {
	local dir=$BOOT_DIR/slots/$1 signer=${2:-signer} form=${3:-DER}
	boot_openssl cms -sign -binary -md sha256 -in "$dir/manifest" -signer "$BOOT_DIR/pki/$signer.pem" \
		-inkey "$BOOT_DIR/pki/$signer.key" -outform "$form" -out "$dir/manifest.sig"
}

# The manifest's image line for a file: boot_image_line NAME FILE
boot_image_line() {
	local size sum
	size=$(stat -c %s "$2") || fail "no image $2"
	sum=$(sha256sum "$2" | cut -d' ' -f1)
	echo "image=$1 size=$size sha256=$sum"
}

# Small random images for a slot directory: boot_images DIR writes DIR/kernel, initrd and dtb.
boot_images() {
	mkdir -p "$1" || fail "cannot create $1"
	head -c $((96 * 1024 + RANDOM)) /dev/urandom >"$1/kernel"
	head -c $((24 * 1024 + RANDOM)) /dev/urandom >"$1/initrd"
	head -c $((2 * 1024 + RANDOM % 4096)) /dev/urandom >"$1/dtb"
}

# A slot manifest (unsigned) for the images DIR holds of kernel, initrd and dtb:
# boot_manifest DIR VERSION SECURITY_VERSION [COMPATIBLE]
boot_manifest() {
	local img
	{
		echo "pcrgate-manifest 1"
		echo "compatible=${4:-acme,gw-100}"
		echo "version=$2"
		echo "security_version=$3"
		for img in kernel initrd dtb; do
			[ ! -e "$1/$img" ] || boot_image_line "$img" "$1/$img"
		done
	} >"$1/manifest"
}

# Installs a signed release into a slot: boot_install SLOT VERSION SECURITY_VERSION [kernel|full]
# (kernel: the slot holds a kernel only).
boot_install() {
	local dir=$BOOT_DIR/slots/$1
	rm -rf "$dir"
	boot_images "$dir"
	[ "${4:-full}" = full ] || rm -f "$dir/initrd" "$dir/dtb"
	boot_manifest "$dir" "$2" "$3"
	boot_sign "$1"
}

# Changes one byte of a file, by default the one in the middle: boot_tamper FILE [OFFSET]
boot_tamper() {
	local off byte
	off=${2:-$(($(stat -c %s "$1") / 2))}
	byte=$(od -An -tu1 -j "$off" -N1 "$1" | tr -d ' ')
	[ -n "$byte" ] || fail "$1 has no byte at offset $off"
	printf "$(printf '\\%03o' $(((byte + 1) % 256)))" |
		dd of="$1" bs=1 seek="$off" count=1 conv=notrunc status=none || fail "cannot change $1"
}

# A reboot: the TPM power-cycles (PCRs back to zero) and /run is empty again.
boot_reboot() {
	swtpm_ioctl --unix "$PCRGATE_SWTPM_CTRL" -i >/dev/null || fail "cannot power-cycle swtpm"
	tpm2_startup -c >/dev/null 2>&1 || fail "TPM2_Startup after the power cycle failed"
	rm -rf "$BOOT_DIR/run"
}

# Whether the counter's NV index is defined (fails when the TPM cannot be asked).
boot_counter_defined() {
	local handles
	handles=$(tpm2_getcap handles-nv-index) || fail "tpm2_getcap handles-nv-index failed"
	printf '%s\n' "$handles" | grep -qix -- "- $(printf '0x%x' "$BOOT_COUNTER")"
}

# Defines the anti-rollback counter as the agent will, and raises it to VALUE: boot_counter VALUE
boot_counter() {
	local want=$1 now
	if ! boot_counter_defined; then
		tpm2_nvdefine "$BOOT_COUNTER" -C o -s 8 -a "ownerread|ownerwrite|authread|authwrite|nt=counter" \
			>/dev/null || fail "tpm2_nvdefine of the counter failed"
	fi
	for ((;;)); do
		now=$(boot_counter_value) || fail "cannot read the counter"
		[ "$now" -ge "$want" ] && break
		tpm2_nvincrement -C o "$BOOT_COUNTER" >/dev/null || fail "tpm2_nvincrement failed"
	done
	[ "$now" -eq "$want" ] || fail "the counter is at $now, above the $want wanted"
}

# The counter's value in decimal: 0 while the index is not defined or never incremented (as
# pcrgate-boot counts it); any other failure to read it fails. It runs in $(...), where fail
# ends only the subshell, so: v=$(boot_counter_value) || fail ...
boot_counter_value() {
	local attrs hex
	boot_counter_defined || {
		echo 0
		return 0
	}
	# TPMA_NV_WRITTEN (bit 29): a counter's first increment sets it; before, there is nothing to read.
	attrs=$(tpm2_nvreadpublic "$BOOT_COUNTER" | sed -n '/^  attributes:/,/value:/s/^ *value: *\(0x[0-9A-Fa-f]*\)$/\1/p')
	[ -n "$attrs" ] || fail "tpm2_nvreadpublic $BOOT_COUNTER shows no attributes"
	if (((attrs & 0x20000000) == 0)); then
		echo 0
		return 0
	fi
	hex=$(tpm2_nvread -C o -s 8 "$BOOT_COUNTER" | od -An -tx1 | tr -d ' \n')
	[ "${#hex}" -eq 16 ] || fail "tpm2_nvread -C o $BOOT_COUNTER failed"
	echo $((16#$hex))
}

# A value from KEY=VALUE output: boot_get KEY FILE
boot_get() {
	sed -n "s/^$1=//p" "$2"
}

# Checks one KEY=VALUE line: boot_expect FILE KEY VALUE
boot_expect() {
	local got
	got=$(boot_get "$2" "$1")
	[ "$got" = "$3" ] || fail "$2=$got, expected $3 ($(tr '\n' ' ' <"$1"))"
}

# Checks an image line of a boot's output: boot_expect_image FILE KEY SLOT NAME. The path must
# be a file of its own in a private directory under the run directory (0700, file 0400), not
# the slot's file, holding the bytes of the slot's manifest entry (size and sha256).
boot_expect_image() {
	local path dir line
	path=$(boot_get "$2" "$1")
	dir=${path%/*}
	case $path in
	"$BOOT_DIR/run/images/"*/"$4") ;;
	*) fail "$2=$path is not a verified copy under $BOOT_DIR/run/images ($(tr '\n' ' ' <"$1"))" ;;
	esac
	[ -f "$path" ] && [ ! -L "$path" ] || fail "$2=$path is not a regular file"
	[ "$(stat -c %a "$dir")" = 700 ] || fail "$dir has mode $(stat -c %a "$dir"), not 700"
	[ "$(stat -c %a "$path")" = 400 ] || fail "$path has mode $(stat -c %a "$path"), not 400"
	[ "$(stat -c %h "$path")" = 1 ] || fail "$path is a link to another file"
	line=$(grep "^image=$4 " "$BOOT_DIR/slots/$3/manifest") || fail "slot $3's manifest has no image $4"
	[ "$line" = "$(boot_image_line "$4" "$path")" ] ||
		fail "$2=$path does not hold the verified bytes of image $4 of slot $3"
}

# The TPM's PCRs 8 and 9 in every active bank, as "bank:index=hex" lines sorted like pcrgate's output.
boot_tpm_pcrs() {
	local sel= bank
	for bank in $(tpm2_getcap pcrs | sed -n 's/^ *- \([a-z0-9_]*\): \[ *[0-9].*/\1/p'); do
		sel="${sel:+$sel+}$bank:8,9"
	done
	tpm2_pcrread "$sel" | awk '
	/^  [a-z0-9_]+:$/ { bank = $1; sub(/:$/, "", bank); next }
	/^ +[0-9]+ *: *0x[0-9A-Fa-f]+$/ {
		split($0, f, ":"); pcr = f[1]; value = f[2]
		gsub(/ /, "", pcr); gsub(/ |0x/, "", value)
		print bank ":" pcr "=" tolower(value)
	}' | sort -t: -k1,1 -k2,2n
}

# The active banks as a comma-separated list (for `pcrgate policy predict --banks`).
boot_banks() {
	tpm2_getcap pcrs | sed -n 's/^ *- \([a-z0-9_]*\): \[ *[0-9].*/\1/p' | paste -sd, -
}

# Hex to bytes on stdout.
boot_hex2bin() {
	printf "$(printf '%s' "$1" | sed 's/../\\x&/g')"
}

# A sha256 PCR extend: boot_extend PCR_HEX DIGEST_HEX prints sha256(PCR || DIGEST) in hex.
boot_extend() {
	{
		boot_hex2bin "$1"
		boot_hex2bin "$2"
	} | sha256sum | cut -d' ' -f1
}
