# Helpers for the agent's update tests; sourced after tests/lib.sh, agent-lib.sh, boot-lib.sh and
# verifier-lib.sh, never run. Run under with-swtpm with PCRGATE_SWTPM_EK_CA=1 PCRGATE_SWTPM_ABRMD=1.
#
# update_setup builds the whole chain of one update: the vendor's keys (`pcrgate key`: a root
# and its signer, a second signer under it, another root and its signer), a device whose
# pcrgate.conf trusts the vendor's trust store, factory release 1.0.0 (security version 1) in
# slot a with its signed PCR policy, the TPM provisioned (counter at 1), slot a booted, a
# verifier that serves bundles from its bundle_dir, the device enrolled and a reference
# policy drafted from its boot log. After it:
#   UPDATE_DIR   the vendor's side: root/, signer/, revoked-signer/, other-root/, other-signer/
#                (pcrgate key), releases/NAME/ (slot/, pcrs.txt, pcr-policy.json, content.key,
#                bundle.pcrb), refpolicy.json (the reference policy stored as "default")
#   BUNDLE_DIR   the verifier's bundle_dir: GET $VERIFIER_URL/v1/bundles/FILE serves BUNDLE_DIR/FILE
#   DEVICE       the device's id at the verifier
#   SLOT         the slot the device booted last (device_reboot sets it)
# The agent's config (PCRGATE_AGENT_CONFIG) names the boot config, pcrgate-boot, the verifier's
# CA for downloads and update_tries = UPDATE_TRIES (2); update_conf changes one of its keys.

UPDATE_TRIES=2
RELEASE_END_OF_SUPPORT=2031-06-30
UPDATE_SERVER_PIDS=

# A command whose output only matters when it fails: update_run WHAT COMMAND...
update_run() {
	local what=$1
	shift
	"$@" >"$UPDATE_DIR/run.out" 2>"$UPDATE_DIR/run.err" ||
		fail "$what failed: $(cat "$UPDATE_DIR/run.err" "$UPDATE_DIR/run.out")"
}

# Sets KEY = VALUE in the agent's config (replacing an earlier value); no VALUE removes KEY.
update_conf() {
	sed -i "/^$1 = /d" "$AGENT_DIR/agent.conf" || fail "cannot edit $AGENT_DIR/agent.conf"
	[ $# -lt 2 ] || echo "$1 = $2" >>"$AGENT_DIR/agent.conf"
}

# A reboot into whatever pcrgate-boot picks; the slot it booted in SLOT.
device_reboot() {
	boot_reboot
	boot_cmd boot >"$UPDATE_DIR/boot.out" 2>"$UPDATE_DIR/boot.err" ||
		fail "pcrgate-boot boot failed: $(cat "$UPDATE_DIR/boot.err" "$UPDATE_DIR/boot.out")"
	SLOT=$(boot_get SLOT "$UPDATE_DIR/boot.out")
	case $SLOT in
	a | b) export SLOT ;;
	*) fail "pcrgate-boot booted no slot: $(cat "$UPDATE_DIR/boot.out")" ;;
	esac
}

# The boot state in one line: "primary=a a=good:0 b=trial:2 fallback=b:tries_exhausted".
update_boot_state() {
	boot_cmd status --json 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin); s = d["slots"]; f = d["last_fallback"]
fb = "-" if f is None else "%s:%s" % (f.get("slot"), f.get("reason"))
print("primary=%s a=%s:%d b=%s:%d fallback=%s" % (d["primary"], s["a"]["status"], s["a"]["tries"],
      s["b"]["status"], s["b"]["tries"], fb))' || fail "pcrgate-boot status --json failed"
}

# update_expect_state STATE: the boot state must be STATE (update_boot_state's format).
update_expect_state() {
	local got
	got=$(update_boot_state) || exit 1
	[ "$got" = "$1" ] || fail "boot state: $got, expected $1"
}

# A digest of a slot directory's file names, sizes, modes and contents; a slot that is not
# there fails. It runs in $(...), so: d=$(update_slot_digest a) || exit 1
update_slot_digest() {
	[ -d "$BOOT_DIR/slots/$1" ] || fail "there is no slot directory $BOOT_DIR/slots/$1"
	(
		cd "$BOOT_DIR/slots/$1" || exit 1
		find . -printf '%p %y %s %m\n' | LC_ALL=C sort
		find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum
	) | sha256sum | cut -d' ' -f1
}

# Back to "running slot a, nothing pending": slot b marked bad, the update record and any
# download kept for a resume gone, a reboot into slot a. update_reset_to_a CONTEXT
update_reset_to_a() {
	boot_cmd mark-bad b >/dev/null 2>&1 || fail "$1: mark-bad b failed"
	rm -rf "$AGENT_DIR/state/update.json" "$AGENT_DIR/state/download"
	device_reboot
	[ "$SLOT" = a ] || fail "$1: the reset booted slot $SLOT"
}

# update_agent RC ARGS...: pcrgate-agent must exit RC within 2 minutes (a download that never
# ends must not hang the test); its output in $AGENT_DIR/out and err.
update_agent() {
	local want=$1 rc
	shift
	timeout 120 "$AGENT" "$@" >"$AGENT_DIR/out" 2>"$AGENT_DIR/err"
	rc=$?
	[ "$rc" -ne 124 ] || fail "pcrgate-agent $* did not finish within 2 minutes: $(cat "$AGENT_DIR/out" "$AGENT_DIR/err")"
	[ "$rc" -eq "$want" ] ||
		fail "pcrgate-agent $* exited $rc, expected $want: $(cat "$AGENT_DIR/out" "$AGENT_DIR/err")"
}

# update_said TEXT: the last agent command printed TEXT (a fixed string), on stdout or stderr.
update_said() {
	cat "$AGENT_DIR/out" "$AGENT_DIR/err" | grep -qF -- "$1" ||
		fail "pcrgate-agent did not say '$1': $(cat "$AGENT_DIR/out" "$AGENT_DIR/err")"
}

# No install directory (SLOTS/.install-*) may be left: update_no_install_dir WHAT
update_no_install_dir() {
	! compgen -G "$BOOT_DIR/slots/.install*" >/dev/null || fail "$1: the installer left $(ls -a "$BOOT_DIR/slots")"
}

# A member of the agent's update.json: update_json PYTHON_EXPRESSION_ON_d
update_json() {
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print('"$1"')' "$AGENT_DIR/state/update.json"
}

# Signs a slot manifest with a signer of the vendor: update_sign_manifest DIR [SIGNER]
update_sign_manifest() {
	rm -f "$1/manifest.sig"
	update_run "signing $1/manifest" pcrgate key sign --cert "$UPDATE_DIR/${2:-signer}/cert.pem" \
		--key "$UPDATE_DIR/${2:-signer}/key.pem" --in "$1/manifest" --out "$1/manifest.sig"
}

# The release's signed PCR policy: PCR 8 as a slot with MANIFEST boots it (either slot: no
# --as, so no PCR 9), counter <= SV. update_sign_policy MANIFEST SV PCRS_OUT POLICY_OUT
update_sign_policy() {
	update_run "pcrgate policy predict" pcrgate policy predict --manifest "$1" --out "$3"
	update_run "pcrgate policy sign" pcrgate policy sign --key "$AGENT_DIR/vendor.key" --pcrs "$3" \
		--security-version "$2" --out "$4"
}

# Lets the verifier accept a release in either slot: update_policy_allow SLOTDIR NAME VERSION SV
# (the reference policy, UPDATE_DIR/refpolicy.json, stored again as "default"), with
# scripts/policy-add-release: its PCR 8 and 9 values and its image events on PCR 8.
update_policy_allow() {
	update_run "adding $2 to the reference policy" python3 "$top_srcdir/scripts/policy-add-release" \
		"$UPDATE_DIR/refpolicy.json" "$1" "$2" "$3" "$4"
	admin policy put default "$UPDATE_DIR/refpolicy.json"
}

update_cleanup() {
	local pid
	for pid in $UPDATE_SERVER_PIDS; do
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	UPDATE_SERVER_PIDS=
}

update_setup() {
	local a
	need swtpm_ioctl
	agent_setup
	boot_setup
	UPDATE_DIR=$SCRATCH/vendor
	mkdir -p "$UPDATE_DIR/releases" || fail "cannot create $UPDATE_DIR"

	# The vendor's keys; the device trusts the root through a trust store (roots/, crl/).
	update_run "pcrgate key root" pcrgate key root --out "$UPDATE_DIR/root" --subject "pcrgate test vendor"
	update_run "pcrgate key signer" pcrgate key signer --root "$UPDATE_DIR/root" --out "$UPDATE_DIR/signer"
	update_run "pcrgate key signer" pcrgate key signer --root "$UPDATE_DIR/root" --out "$UPDATE_DIR/revoked-signer" \
		--subject "pcrgate test signer to revoke"
	update_run "pcrgate key root" pcrgate key root --out "$UPDATE_DIR/other-root" --subject "pcrgate test other vendor"
	update_run "pcrgate key signer" pcrgate key signer --root "$UPDATE_DIR/other-root" --out "$UPDATE_DIR/other-signer"
	update_run "pcrgate key trust-store" pcrgate key trust-store --root "$UPDATE_DIR/root" --out "$BOOT_DIR/trust"
	sed -i "s|^boot.trust = .*|boot.trust = $BOOT_DIR/trust|" "$BOOT_CONF" || fail "cannot edit $BOOT_CONF"

	BUNDLE_DIR=$SCRATCH/verifier/bundles
	mkdir -p "$BUNDLE_DIR" && chmod 755 "$BUNDLE_DIR" || fail "cannot create $BUNDLE_DIR"
	verifier_setup "sqlite:$SCRATCH/verifier/verifier.db" "bundle_dir = $BUNDLE_DIR"
	trap 'update_cleanup; verifier_stop_all lenient; rm -rf "$SCRATCH"' EXIT
	{
		echo "boot_eventlog = $BOOT_LOG"
		echo "firmware_eventlog = $SCRATCH/no-firmware-log"
		echo "boot_config = $BOOT_CONF"
		echo "boot_command = $PCRGATE_BOOT"
		echo "update_tries = $UPDATE_TRIES"
		echo "download_ca = $VERIFIER_DIR/tls.pem"
	} >>"$AGENT_DIR/agent.conf"

	# The TPM: provisioning defines the counter and raises it once, to 1.
	agent_ok provision
	agent_expect_counter 1 "after provisioning"

	# Factory release 1.0.0 in slot a, as the vendor ships it: images, signed manifest, and the
	# release's signed PCR policy, which the agent unwraps the first update's content key under.
	a=$BOOT_DIR/slots/a
	rm -rf "$a"
	boot_images "$a"
	boot_manifest "$a" 1.0.0 1
	update_sign_manifest "$a"
	update_sign_policy "$a/manifest" 1 "$UPDATE_DIR/factory-pcrs.txt" "$a/pcr-policy.json"
	device_reboot
	[ "$SLOT" = a ] || fail "the factory image booted slot $SLOT"

	agent_ok enroll
	DEVICE=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["device_id"])' "$AGENT_DIR/state/device.json") ||
		fail "no device id after enrollment"

	# The reference policy: drafted from the boot (PCR 8's events and the release measured),
	# then every release a test builds is added by update_policy_allow.
	update_run "pcrgate policy from-eventlog" pcrgate policy from-eventlog "$BOOT_LOG" --name gw --pcrs 8 \
		--release-name gw-1.0.0 --release-version 1.0.0 --security-version 1 --out "$UPDATE_DIR/refpolicy.json"
	python3 - "$UPDATE_DIR/refpolicy.json" <<-'EOF' || fail "the drafted policy is not as expected: $(cat "$UPDATE_DIR/refpolicy.json")"
		import json, sys
		p = json.load(open(sys.argv[1]))
		assert len(p["releases"]) == 1 and p["releases"][0]["name"] == "gw-1.0.0", p["releases"]
		assert p["min_security_version"] == 1 and "8" in p["measurements"], p
	EOF
	update_policy_allow "$a" gw-1.0.0 1.0.0 1
	agent_ok attest --out "$UPDATE_DIR/attest.json"
	python3 -c 'import json,sys; d = json.load(open(sys.argv[1])); assert d["verdict"] == "pass" and d["release"] == "gw-1.0.0", d' \
		"$UPDATE_DIR/attest.json" || fail "the factory device does not attest: $(cat "$UPDATE_DIR/attest.json")"
}

# release_build NAME VERSION SV [full|delta] [--encrypt] [--signer NAME] [--compatible STRING]
#               [--base SLOTDIR]
# The vendor builds release NAME from the running slot's images with 4 KiB of the kernel
# changed: its slot manifest (signed by `pcrgate bundle create` with the signer), its PCR policy
# signed over `policy predict --manifest`, and a bundle (full, or a delta against --base, by default
# the running slot), encrypted with a fresh content key with --encrypt, with an end of support
# (RELEASE_END_OF_SUPPORT) and notes. Each chunk holds 64 KiB so even small images make several.
# The release is added to the reference policy. The bundle is UPDATE_DIR/releases/NAME/bundle.pcrb;
# release_rebuild makes another of the same release.
release_build() {
	local name=$1 version=$2 sv=$3 type=full encrypt='' signer=signer compatible=acme,gw-100 base
	local dir=$UPDATE_DIR/releases/$1
	local -a args
	base=$BOOT_DIR/slots/${SLOT:?no slot booted}
	shift 3
	while [ $# -gt 0 ]; do
		case $1 in
		full | delta) type=$1 ;;
		--encrypt) encrypt=1 ;;
		--signer) signer=$2; shift ;;
		--compatible) compatible=$2; shift ;;
		--base) base=$2; shift ;;
		*) fail "release_build: unknown argument $1" ;;
		esac
		shift
	done
	rm -rf "$dir"
	mkdir -p "$dir/slot" || fail "cannot create $dir"
	cp "$base/kernel" "$base/initrd" "$base/dtb" "$dir/slot/" || fail "cannot copy the images of $base"
	head -c 4096 /dev/urandom | dd of="$dir/slot/kernel" bs=1 seek=5000 conv=notrunc status=none ||
		fail "cannot change the kernel of $name"
	boot_manifest "$dir/slot" "$version" "$sv" "$compatible"
	update_sign_policy "$dir/slot/manifest" "$sv" "$dir/pcrs.txt" "$dir/pcr-policy.json"
	head -c 32 /dev/urandom >"$dir/content.key"
	printf 'Release %s: a test build.\n' "$name" >"$dir/notes"
	args=(--slot "$dir/slot" --release "$name" --signer-cert "$UPDATE_DIR/$signer/cert.pem"
		--signer-key "$UPDATE_DIR/$signer/key.pem" --pcr-policy "$dir/pcr-policy.json" --level 3
		--chunk-size 65536 --end-of-support "$RELEASE_END_OF_SUPPORT" --notes "$dir/notes")
	[ "$type" = delta ] && args+=(--base-slot "$base")
	[ -n "$encrypt" ] && args+=(--content-key "$dir/content.key")
	printf '%s\0' "${args[@]}" >"$dir/create.args"
	update_run "pcrgate bundle create $name" pcrgate bundle create "${args[@]}" -o "$dir/bundle.pcrb"
	update_policy_allow "$dir/slot" "$name" "$version" "$sv"
}

# release_build_chunks NAME VERSION SECURITY_VERSION: an encrypted full release whose images are
# the running slot's with 64 KiB more kernel, so that its payload (random bytes: incompressible)
# has at least three 64 KiB chunks whatever sizes the factory images got; its bundle's layout
# read (bundle_layout).
release_build_chunks() {
	local big=$UPDATE_DIR/big-$1
	mkdir -p "$big" && cp "$BOOT_DIR/slots/${SLOT:?no slot booted}/"{kernel,initrd,dtb} "$big/" &&
		head -c 65536 /dev/urandom >>"$big/kernel" || fail "cannot make the images of $1"
	release_build "$1" "$2" "$3" full --encrypt --base "$big"
	bundle_layout "$UPDATE_DIR/releases/$1/bundle.pcrb"
	[ "$PAYLOAD_LEN" -gt $((2 * (65536 + 16))) ] || fail "$1 has fewer than 3 chunks ($PAYLOAD_LEN bytes)"
}

# release_rebuild NAME FILE: another bundle of release NAME, made as release_build made its own
# (an encrypted one differs in its key salt and so in every chunk and in its manifest's digest).
release_rebuild() {
	local -a args
	mapfile -d '' args <"$UPDATE_DIR/releases/$1/create.args" || fail "release $1 was not built"
	update_run "pcrgate bundle create $1 again" pcrgate bundle create "${args[@]}" -o "$2"
}

# release_publish NAME [URL]: the verifier serves release NAME's bundle from its bundle_dir (as
# NAME.pcrb), knows the release (version, security version and manifest digest from the bundle;
# its content key) with URL as where devices download it (default: the verifier's copy), and
# targets it at the device.
release_publish() {
	local dir=$UPDATE_DIR/releases/$1
	cp "$dir/bundle.pcrb" "$BUNDLE_DIR/$1.pcrb" && chmod 644 "$BUNDLE_DIR/$1.pcrb" ||
		fail "cannot copy the bundle of $1 into $BUNDLE_DIR"
	admin release put "$1" --bundle "$dir/bundle.pcrb" --bundle-url "${2:-$VERIFIER_URL/v1/bundles/$1.pcrb}" \
		--content-key-file "$dir/content.key"
	admin target "$1" --device "$DEVICE"
}

# update_server DIR: a small HTTPS server (the verifier's TLS certificate) for the files of DIR,
# at UPDATE_SERVER_URL. It logs "METHOD PATH RANGE" for each request to DIR/requests.log, and
# answers "Range: bytes=A-B" as update_server_mode last said (read at each request):
#   range            with bytes A to B (206), as a file server does
#   overlong OFFSET  when A >= OFFSET (a request for the payload, after the bundle's head): with
#                    every byte from A to the end of the file, and a Content-Range that says so
#   endless OFFSET   when A >= OFFSET: with a 206 that claims bytes A to B but has no
#                    Content-Length, then the file from A on and zeros for ever
#   stall OFFSET     when B >= OFFSET: with the bytes from A up to OFFSET, and then nothing while
#                    the connection stays open
#   norange          never: every request gets the whole file (200), as a server without Range
#   hold OFFSET      when A >= OFFSET: creates DIR/held and waits until it is gone (a minute at
#                    most), then as range does
# and otherwise as range does.
update_server() {
	local port_file=$UPDATE_DIR/server.port pid i
	rm -f "$port_file"
	update_server_mode range
	python3 - "$1" "$UPDATE_DIR/server.mode" "$VERIFIER_DIR/tls.pem" "$VERIFIER_DIR/tls.key" "$port_file" \
		2>>"$UPDATE_DIR/server.err" <<-'EOF' &
		import http.server, os, re, ssl, sys, time
		root, mode_file, cert, key, port_file = sys.argv[1:6]
		class Handler(http.server.BaseHTTPRequestHandler):
		    protocol_version = "HTTP/1.0"
		    def log_message(self, fmt, *args):
		        pass
		    def do_GET(self):
		        mode = open(mode_file).read().split()
		        offset = int(mode[1]) if len(mode) > 1 else 0
		        rng = self.headers.get("Range")
		        with open(os.path.join(root, "requests.log"), "a") as log:
		            log.write("%s %s %s\n" % (self.command, self.path, rng))
		        try:
		            data = open(os.path.join(root, os.path.basename(self.path)), "rb").read()
		        except OSError:
		            self.send_error(404)
		            return
		        m = None if mode[0] == "norange" else re.fullmatch(r"bytes=(\d+)-(\d*)", rng or "")
		        if m is None:
		            self.send_response(200)
		            self.send_header("Content-Length", str(len(data)))
		            self.end_headers()
		            self.wfile.write(data)
		            return
		        a = int(m.group(1))
		        b = min(int(m.group(2)) if m.group(2) else len(data) - 1, len(data) - 1)
		        if mode[0] == "stall":
		            how = "stall" if b >= offset else "range"
		        else:
		            how = mode[0] if a >= offset else "range"
		        if how == "overlong":
		            b = len(data) - 1
		        if how == "hold":
		            held = os.path.join(root, "held")
		            open(held, "w").close()
		            for _ in range(1200):
		                if not os.path.exists(held):
		                    break
		                time.sleep(0.05)
		        self.send_response(206)
		        self.send_header("Content-Range", "bytes %d-%d/%d" % (a, b, len(data)))
		        if how != "endless":
		            self.send_header("Content-Length", str(b + 1 - a))
		        self.end_headers()
		        try:
		            if how == "endless":
		                self.wfile.write(data[a:])
		                while True:
		                    self.wfile.write(bytes(65536))
		            elif how == "stall":
		                self.wfile.write(data[a:offset])
		                self.wfile.flush()
		                time.sleep(3600)
		            else:
		                self.wfile.write(data[a:b + 1])
		        except OSError:
		            pass
		server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
		server.daemon_threads = True
		ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
		ctx.load_cert_chain(cert, key)
		server.socket = ctx.wrap_socket(server.socket, server_side=True)
		with open(port_file + ".tmp", "w") as f:
		    f.write(str(server.server_address[1]))
		os.rename(port_file + ".tmp", port_file)
		server.serve_forever()
	EOF
	pid=$!
	UPDATE_SERVER_PIDS="$UPDATE_SERVER_PIDS $pid"
	for ((i = 0; i < 250; i++)); do
		if [ -s "$port_file" ]; then
			UPDATE_SERVER_URL=https://127.0.0.1:$(cat "$port_file")
			return 0
		fi
		kill -0 "$pid" 2>/dev/null || fail "the test's HTTPS server exited: $(cat "$UPDATE_DIR/server.err")"
		sleep 0.04
	done
	fail "the test's HTTPS server did not start: $(cat "$UPDATE_DIR/server.err")"
}

# update_server_mode MODE [OFFSET]: how update_server answers from now on.
update_server_mode() {
	echo "$*" >"$UPDATE_DIR/server.mode.tmp" && mv "$UPDATE_DIR/server.mode.tmp" "$UPDATE_DIR/server.mode" ||
		fail "cannot set the server's mode"
}

# The bundle's parts, as `pcrgate bundle inspect` reads its header: bundle_layout FILE sets
# MANIFEST_LEN, SIG_LEN, PAYLOAD_LEN and PAYLOAD_OFF (the payload's offset: the manifest and its
# signature end there, so the manifest starts at PAYLOAD_OFF - SIG_LEN - MANIFEST_LEN).
bundle_layout() {
	local out
	out=$(pcrgate bundle inspect "$1" --json 2>"$UPDATE_DIR/run.err" | python3 -c '
import json, sys
h = json.load(sys.stdin)["header"]
print(h["manifest_length"], h["signature_length"], h["payload_length"], h["payload_offset"])') ||
		fail "pcrgate bundle inspect $1 failed: $(cat "$UPDATE_DIR/run.err")"
	read -r MANIFEST_LEN SIG_LEN PAYLOAD_LEN PAYLOAD_OFF <<<"$out"
}
