/*
 * pcrgate-agent update and approve: from the verifier's authorization to a slot armed for a
 * trial boot (docs/updates.md "Installing an update"). Attest first; fetch the bundle's
 * header and signed manifest and verify them before a payload byte is fetched; check that
 * the authorization names exactly this bundle; ask for consent; download the payload
 * (resumable); unwrap the content key in the TPM; install into the other slot through
 * pcrgate_bundle_install; arm it. Nothing here writes to the running slot.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "agent.h"
#include "bundle.h"
#include "counter.h"
#include "jsonutil.h"
#include "policy.h"
#include "truststore.h"
#include "update_internal.h"

#define AUTHZ_FILE_MAX (64u * 1024)
#define WRAPPED_MAX 1024 /* bytes of a wrapped content key (RSA up to 4096 bits, and room) */

/* The authorization just received (STATE_DIR/authorization.json): what the bundle must be. */
struct authz {
	json_t *doc;
	const char *release, *version, *url, *digest_hex;
	uint64_t security_version;
	uint8_t digest[32];
	uint8_t wrapped[WRAPPED_MAX];
	size_t wrapped_len;
	json_int_t exp;
};

static int load_authz(const struct agent_config *cfg, struct authz *a, pcrgate_errinfo *ei)
{
	const json_t *claims, *sv, *exp;
	size_t n = 0;
	int r;

	memset(a, 0, sizeof(*a));
	if ((r = agent_state_read(cfg, AGENT_AUTHORIZATION_FILE, &a->doc, ei)) != PCRGATE_OK)
		return r;
	claims = json_object_get(a->doc, "claims");
	a->release = json_string_value(json_object_get(a->doc, "release"));
	a->version = json_string_value(json_object_get(a->doc, "version"));
	a->url = json_string_value(json_object_get(a->doc, "bundle_url"));
	a->digest_hex = json_string_value(json_object_get(claims, "manifest_digest"));
	sv = json_object_get(claims, "security_version");
	exp = json_object_get(claims, "exp");
	if (a->release == NULL || a->version == NULL || a->digest_hex == NULL || !json_is_integer(sv) ||
	    json_integer_value(sv) < 0 || !json_is_integer(exp))
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, PCRGATE_NO_OFFSET,
					   "authorization: release, version, manifest_digest, security_version or exp missing");
	a->security_version = (uint64_t)json_integer_value(sv);
	a->exp = json_integer_value(exp);
	if (pcrgate_hex_decode(a->digest_hex, a->digest, sizeof(a->digest), &n) != PCRGATE_OK || n != 32)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, PCRGATE_NO_OFFSET,
					   "authorization: manifest_digest is not a SHA-256 digest");
	if (json_object_get(a->doc, "content_key_wrapped") != NULL &&
	    (r = jsonutil_get_b64(a->doc, "authorization", "content_key_wrapped", a->wrapped, sizeof(a->wrapped),
				  &a->wrapped_len, ei)) != PCRGATE_OK)
		return r;
	return PCRGATE_OK;
}

static void free_authz(struct authz *a)
{
	OPENSSL_cleanse(a->wrapped, sizeof(a->wrapped));
	json_decref(a->doc);
	a->doc = NULL;
}

/* A stale authorization (a replay, or one that outlived a long download) installs nothing. */
static int check_fresh(const struct authz *a, pcrgate_errinfo *ei)
{
	if ((json_int_t)time(NULL) >= a->exp)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_VERIFY, PCRGATE_NO_OFFSET,
					   "authorization: expired at %" JSON_INTEGER_FORMAT
					   "; run pcrgate-agent update again for a fresh one",
					   a->exp);
	return PCRGATE_OK;
}

/* The bundle must be the one the verifier authorized: manifest digest, release and versions. */
static int check_bundle_matches(const struct pcrgate_bundle *b, const struct authz *a, pcrgate_errinfo *ei)
{
	const struct pcrgate_bundle_manifest *m = pcrgate_bundle_get_manifest(b);
	uint8_t md[32];
	int r;

	if ((r = pcrgate_bundle_manifest_sha256(b, md, ei)) != PCRGATE_OK)
		return r;
	if (!pcrgate_ct_equal(md, a->digest, 32))
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_VERIFY, PCRGATE_NO_OFFSET,
					   "authorization: it is for another bundle (manifest digest %s), not this one",
					   a->digest_hex);
	if (strcmp(pcrgate_bundle_manifest_release(m), a->release) != 0 ||
	    strcmp(pcrgate_bundle_manifest_version(m), a->version) != 0 ||
	    pcrgate_bundle_manifest_security_version(m) != a->security_version)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_VERIFY, PCRGATE_NO_OFFSET,
					   "authorization: release %s version %s security version %" PRIu64
					   " differ from the bundle's",
					   a->release, a->version, a->security_version);
	return PCRGATE_OK;
}

/* Whether the update may be installed now: 1 yes, 0 deferred (a message says why). */
static int consent_given(const struct agent_config *cfg, const struct pcrgate_bundle_manifest *m,
			 const struct authz *a)
{
	json_t *ok = NULL;
	pcrgate_errinfo ei;
	const char *digest;
	struct tm tm;
	time_t now = time(NULL);
	unsigned minute;
	int approved = 0;

	if (cfg->update_consent == AGENT_CONSENT_AUTO)
		return 1;
	pcrgate_errinfo_clear(&ei);
	if (agent_state_read(cfg, AGENT_APPROVAL_FILE, &ok, &ei) == PCRGATE_OK) {
		digest = json_string_value(json_object_get(ok, "manifest_digest"));
		approved = digest != NULL && strcmp(digest, a->digest_hex) == 0;
		json_decref(ok);
	}
	/* A local approval also lets an update run outside the window: a person decided. */
	if (approved)
		return 1;
	if (cfg->update_consent == AGENT_CONSENT_WINDOW && localtime_r(&now, &tm) != NULL) {
		minute = (unsigned)(tm.tm_hour * 60 + tm.tm_min);
		if (cfg->window_start < cfg->window_end ? minute >= cfg->window_start && minute < cfg->window_end
							: minute >= cfg->window_start || minute < cfg->window_end)
			return 1;
		printf("deferred: outside the maintenance window %02u:%02u-%02u:%02u\n", cfg->window_start / 60,
		       cfg->window_start % 60, cfg->window_end / 60, cfg->window_end % 60);
		return 0;
	}
	printf("waiting for approval: run pcrgate-agent approve %s\n", pcrgate_bundle_manifest_release(m));
	return 0;
}

/* What a person deciding on the update sees (also kept in pending.json for approve). */
static int describe(const struct agent_config *cfg, const struct pcrgate_bundle_manifest *m, const struct authz *a,
		    pcrgate_errinfo *ei)
{
	const char *eos = pcrgate_bundle_manifest_end_of_support(m), *notes = pcrgate_bundle_manifest_notes(m);
	json_t *doc;
	int r;

	printf("update: release %s (version %s, security version %" PRIu32 ", %" PRIu64 " bytes)\n",
	       pcrgate_bundle_manifest_release(m), pcrgate_bundle_manifest_version(m),
	       pcrgate_bundle_manifest_security_version(m), pcrgate_bundle_manifest_stored_size(m));
	if (eos != NULL)
		printf("end of support: %s\n", eos);
	if (cfg->update_consent == AGENT_CONSENT_AUTO)
		return PCRGATE_OK;
	doc = json_pack("{s:s,s:s,s:I,s:s,s:s?,s:s?}", "release", pcrgate_bundle_manifest_release(m), "version",
			pcrgate_bundle_manifest_version(m), "security_version",
			(json_int_t)pcrgate_bundle_manifest_security_version(m), "manifest_digest", a->digest_hex,
			"end_of_support", eos, "notes", notes);
	if (doc == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
	r = agent_state_write(cfg, AGENT_PENDING_FILE, doc, 0600, ei);
	json_decref(doc);
	return r;
}

/* The running slot's signed policy unwraps the content key (the TPM checks PCRs and counter). */
static int unwrap_key(pcrgate_tpm *tpm, const struct agent_config *cfg, const struct host_config *host,
		      unsigned running, const struct authz *a, uint8_t key[PCRGATE_BUNDLE_KEY_SIZE], pcrgate_errinfo *ei)
{
	uint8_t *policy = NULL, *plain = NULL;
	size_t plen = 0, klen = 0;
	char path[AGENT_PATH_MAX], why[sizeof(ei->message)];
	int r;

	if (a->wrapped_len == 0)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_VERIFY, PCRGATE_NO_OFFSET,
					   "the payload is encrypted, and the authorization carries no content key");
	if ((r = update_slot_path(host, running, AGENT_SLOT_POLICY_FILE, path, sizeof(path), ei)) != PCRGATE_OK)
		return r;
	if ((r = pcrgate_file_read(path, POLICY_FILE_MAX, &policy, &plen, ei)) != PCRGATE_OK) {
		/* The reader's message names the file and the system's reason. */
		snprintf(why, sizeof(why), "%s", ei->message[0] != '\0' ? ei->message : pcrgate_strerror(r));
		return pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET,
					   "the running slot's signed policy cannot be read (%s): the content key cannot "
					   "be unwrapped",
					   why);
	}
	r = agent_unwrap(tpm, cfg, policy, plen, a->wrapped, a->wrapped_len, &plain, &klen, ei);
	free(policy);
	if (r != PCRGATE_OK)
		return r;
	if (klen != PCRGATE_BUNDLE_KEY_SIZE) {
		OPENSSL_clear_free(plain, klen);
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_VERIFY, PCRGATE_NO_OFFSET,
					   "the content key has %zu bytes, not %u", klen, PCRGATE_BUNDLE_KEY_SIZE);
	}
	memcpy(key, plain, klen);
	OPENSSL_clear_free(plain, klen);
	return PCRGATE_OK;
}

/* A delta's base: the running slot's image, written into the download directory. */
static int write_base(const struct agent_config *cfg, const struct host_config *host, unsigned running,
		      const struct pcrgate_bundle_manifest *m, char *path, size_t cap, pcrgate_errinfo *ei)
{
	char slot[AGENT_PATH_MAX];
	uint8_t sha[32];
	uint64_t size = 0;
	FILE *f;
	int r;

	if (update_download_path(cfg, "base.img", path, cap, ei) != PCRGATE_OK)
		return ei->code;
	if ((r = update_slot_path(host, running, NULL, slot, sizeof(slot), ei)) != PCRGATE_OK)
		return r;
	if ((f = fopen(path, "wbe")) == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "%s: %s", path, strerror(errno));
	r = pcrgate_slot_image_write(slot, f, sha, &size, ei);
	if (fclose(f) != 0 && r == PCRGATE_OK)
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "%s: %s", path, strerror(errno));
	if (r != PCRGATE_OK)
		return r;
	if (size != pcrgate_bundle_manifest_base_size(m) ||
	    !pcrgate_ct_equal(sha, pcrgate_bundle_manifest_base_sha256(m), 32))
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_VERIFY, PCRGATE_NO_OFFSET,
					   "the delta was made against another base than the running slot %c",
					   'a' + (int)running);
	return PCRGATE_OK;
}

/* The files the slot carries besides the boot's: its signed policy, its release, the bundle's head. */
static int install(const struct host_config *host, unsigned target, struct pcrgate_bundle *b, FILE *f, const uint8_t *key, const char *base, pcrgate_errinfo *ei)
{
	const struct pcrgate_bundle_manifest *m = pcrgate_bundle_get_manifest(b);
	const char *eos = pcrgate_bundle_manifest_end_of_support(m);
	struct pcrgate_slot_file extra[3];
	char dir[AGENT_PATH_MAX], *release = NULL;
	uint8_t *head = NULL;
	size_t plen, hlen;
	json_t *rel;
	int r;

	if ((r = update_slot_path(host, target, NULL, dir, sizeof(dir), ei)) != PCRGATE_OK)
		return r;
	rel = json_pack("{s:s,s:s,s:I,s:s?}", "release", pcrgate_bundle_manifest_release(m), "version",
			pcrgate_bundle_manifest_version(m), "security_version",
			(json_int_t)pcrgate_bundle_manifest_security_version(m), "end_of_support", eos);
	if (rel == NULL || (release = json_dumps(rel, JSON_INDENT(2) | JSON_SORT_KEYS)) == NULL) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
		goto fail;
	}
	if ((r = pcrgate_bundle_head_bytes(b, &head, &hlen, ei)) != PCRGATE_OK)
		goto fail;
	extra[0].name = AGENT_SLOT_POLICY_FILE;
	extra[0].data = (const uint8_t *)pcrgate_bundle_manifest_pcr_policy(m, &plen);
	extra[0].len = plen;
	extra[1].name = AGENT_SLOT_RELEASE_FILE;
	extra[1].data = (const uint8_t *)release;
	extra[1].len = strlen(release);
	extra[2].name = AGENT_SLOT_BUNDLE_HEAD;
	extra[2].data = head;
	extra[2].len = hlen;
	if ((r = pcrgate_slot_dir_remove(dir, ei)) != PCRGATE_OK)
		goto fail;
	if (fseeko(f, (off_t)pcrgate_bundle_payload_offset(b), SEEK_SET) != 0) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "seeking to the payload: %s",
					strerror(errno));
		goto fail;
	}
	r = pcrgate_bundle_install(b, f, key, base, dir, extra, 3, ei);
fail:
	free(head);
	free(release);
	json_decref(rel);
	return r;
}

/* Whether the bundle changes the trust store's roots (applied by the commit). */
static int has_trust_update(const struct pcrgate_bundle_manifest *m)
{
	return pcrgate_bundle_manifest_roots_added(m) > 0 || pcrgate_bundle_manifest_roots_removed(m) > 0;
}

/*
 * A root rotation is written into boot.trust by the commit, after the counter is raised: a
 * boot.trust that cannot take it (a PEM file) is found now, before anything is installed.
 */
static int check_trust_target(const struct host_config *host, const struct pcrgate_bundle_manifest *m,
			      pcrgate_errinfo *ei)
{
	int kind;

	if (!has_trust_update(m))
		return PCRGATE_OK;
	if ((kind = pcrgate_truststore_dir_kind(host->trust, ei)) < 0)
		return kind;
	if (kind != PCRGATE_TRUST_DIR_STORE)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_CONFIG, PCRGATE_NO_OFFSET,
					   "release %s rotates the trust roots, but boot.trust %s is not a trust-store "
					   "directory (roots/, crl/): make it one (pcrgate key trust-store) first",
					   pcrgate_bundle_manifest_release(m), host->trust);
	return PCRGATE_OK;
}

/* The state file of the update in progress. */
static int record(const struct agent_config *cfg, const struct pcrgate_bundle_manifest *m, const struct authz *a,
		  unsigned running, unsigned target, const char *state, pcrgate_errinfo *ei)
{
	char from[2] = {(char)('a' + running), 0}, to[2] = {(char)('a' + target), 0};
	json_t *doc;
	int r;

	doc = json_pack("{s:s,s:s,s:I,s:s,s:s,s:s,s:s?,s:s,s:b,s:b}", "release", pcrgate_bundle_manifest_release(m),
			"version", pcrgate_bundle_manifest_version(m), "security_version",
			(json_int_t)pcrgate_bundle_manifest_security_version(m), "manifest_digest", a->digest_hex, "slot",
			to, "from_slot", from, "end_of_support", pcrgate_bundle_manifest_end_of_support(m), "state",
			state, "reported", 0, "trust_update", has_trust_update(m));
	if (doc == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
	r = agent_state_write(cfg, AGENT_UPDATE_FILE, doc, 0600, ei);
	json_decref(doc);
	return r;
}

/* An update recorded earlier: armed (reboot first) or waiting for its commit. 1 when it stands in
 * the way, 0 when there is none, or an error (a record that cannot be read). */
static int pending_update(const struct agent_config *cfg, pcrgate_errinfo *ei)
{
	json_t *doc = NULL;
	const char *state, *release, *slot;
	int busy = 0, r;

	/* Only a missing record means no update: an unreadable one may hold a report still owed. */
	if ((r = agent_state_read(cfg, AGENT_UPDATE_FILE, &doc, ei)) != PCRGATE_OK)
		return r == PCRGATE_ERR_NOT_FOUND ? 0 : r;
	state = json_string_value(json_object_get(doc, "state"));
	release = json_string_value(json_object_get(doc, "release"));
	slot = json_string_value(json_object_get(doc, "slot"));
	if (state != NULL && strcmp(state, "installing") != 0) {
		printf("release %s is %s in slot %s: %s\n", release ? release : "?", state, slot ? slot : "?",
		       strcmp(state, "armed") == 0 ? "reboot to try it, then pcrgate-agent commit"
						   : "run pcrgate-agent commit");
		busy = 1;
	}
	json_decref(doc);
	return busy;
}

int agent_update(pcrgate_tpm *tpm, const struct agent_config *cfg, const char *bundle_file, int *outcome,
		 pcrgate_errinfo *ei)
{
	struct pcrgate_bundle_policy pol = {NULL, 0};
	struct pcrgate_truststore *ts = NULL;
	struct pcrgate_bundle *b = NULL;
	const struct pcrgate_bundle_manifest *m;
	struct host_config host;
	struct authz a;
	struct signed_policy sp;
	uint8_t key[PCRGATE_BUNDLE_KEY_SIZE];
	char version[PCRGATE_MANIFEST_STRING_MAX + 1], base[AGENT_PATH_MAX] = "";
	struct update_source src;
	pcrgate_errinfo rei;
	const char *policy, *check;
	unsigned running, target;
	uint64_t counter = 0;
	json_t *resp = NULL;
	size_t plen;
	FILE *f = NULL;
	int r, lock = -1, authorized = 0, have_key = 0;

	memset(&a, 0, sizeof(a));
	*outcome = AGENT_UPDATE_FAILED;
	if ((r = agent_lock_file(cfg, AGENT_UPDATE_LOCK_FILE, &lock, ei)) != PCRGATE_OK)
		return r;
	if ((r = agent_boot_settings(cfg, &host, ei)) != PCRGATE_OK ||
	    (r = agent_running_slot(cfg, &running, version, sizeof(version), ei)) != PCRGATE_OK)
		goto fail;
	target = 1 - running;
	if ((r = pending_update(cfg, ei)) != 0) {
		if (r > 0) {
			*outcome = AGENT_UPDATE_NOTHING;
			r = PCRGATE_OK;
		}
		goto fail;
	}
	/* Attest first: an authorization comes only with a passing verdict for this boot. */
	if ((r = agent_attest(tpm, cfg, NULL, 0, &resp, &authorized, ei)) != PCRGATE_OK)
		goto fail;
	if ((check = agent_failed_check(resp)) != NULL) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_VERIFY, PCRGATE_NO_OFFSET,
					"attestation failed at %s: no update is authorized", check);
		goto fail;
	}
	if (!authorized) {
		printf("no update: the verifier authorized none\n");
		*outcome = AGENT_UPDATE_NOTHING;
		goto fail;
	}
	if ((r = load_authz(cfg, &a, ei)) != PCRGATE_OK || (r = check_fresh(&a, ei)) != PCRGATE_OK)
		goto fail;
	if (bundle_file == NULL && a.url == NULL) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, PCRGATE_NO_OFFSET,
					"authorization: no bundle_url, and no --bundle FILE given");
		goto fail;
	}
	/* The head first, verified, before a payload byte is fetched. */
	if ((r = pcrgate_truststore_load(&ts, host.trust, ei)) != PCRGATE_OK ||
	    (r = agent_counter_read(pcrgate_tpm_esys(tpm), cfg->counter_index, &counter, ei)) != PCRGATE_OK)
		goto fail;
	if (counter > UINT32_MAX) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_VERIFY, PCRGATE_NO_OFFSET, "the counter is beyond any release");
		goto fail;
	}
	pol.compatible = host.compatible[0] != '\0' ? host.compatible : NULL;
	pol.min_security_version = (uint32_t)counter;
	src.url = a.url;
	src.digest_hex = a.digest_hex;
	if ((r = update_open_bundle(cfg, bundle_file, &src, ts, &pol, &b, &f, ei)) != PCRGATE_OK)
		goto fail;
	m = pcrgate_bundle_get_manifest(b);
	policy = pcrgate_bundle_manifest_pcr_policy(m, &plen);
	if ((r = check_bundle_matches(b, &a, ei)) != PCRGATE_OK ||
	    (r = policy_parse((const uint8_t *)policy, plen, &sp, ei)) != PCRGATE_OK) {
		update_discard_download(cfg);
		goto fail;
	}
	/* The release's policy must speak of this device's counter, or its key never opens under it. */
	if (sp.nv_index != cfg->counter_index) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_VERIFY, PCRGATE_NO_OFFSET,
					"release %s: its signed PCR policy is for the counter at NV index 0x%08x, "
					"but this device's counter_index is 0x%08x",
					pcrgate_bundle_manifest_release(m), (unsigned)sp.nv_index,
					(unsigned)cfg->counter_index);
		update_discard_download(cfg);
		goto fail;
	}
	/* The commit raises the counter after mark-good: a raise it could not make would leave the
	 * release good with the counter behind it, so such a release is refused here. */
	if (pcrgate_bundle_manifest_security_version(m) - counter > COUNTER_MAX_RAISE) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, PCRGATE_NO_OFFSET,
					"release %s: security version %" PRIu32 " is more than %u above the counter "
					"(%" PRIu64 "); a commit raises it by at most that much",
					pcrgate_bundle_manifest_release(m), pcrgate_bundle_manifest_security_version(m),
					COUNTER_MAX_RAISE, counter);
		update_discard_download(cfg);
		goto fail;
	}
	if ((r = check_trust_target(&host, m, ei)) != PCRGATE_OK)
		goto fail;
	if ((r = describe(cfg, m, &a, ei)) != PCRGATE_OK)
		goto fail;
	if (!consent_given(cfg, m, &a)) {
		*outcome = AGENT_UPDATE_DEFERRED;
		goto fail;
	}
	if (bundle_file == NULL && (r = update_fetch_payload(cfg, &src, b, &f, ei)) != PCRGATE_OK)
		goto fail;
	/* Every chunk checked, whatever the source, before the other slot (the fallback) is emptied. */
	if ((r = update_check_payload(cfg, bundle_file, b, f, ei)) != PCRGATE_OK)
		goto fail;
	if ((r = check_fresh(&a, ei)) != PCRGATE_OK)
		goto fail;
	if (pcrgate_bundle_manifest_encryption(m) == PCRGATE_BUNDLE_ENC_AES256GCM) {
		if ((r = unwrap_key(tpm, cfg, &host, running, &a, key, ei)) != PCRGATE_OK)
			goto fail;
		have_key = 1;
	}
	if (pcrgate_bundle_manifest_payload_type(m) == PCRGATE_BUNDLE_DELTA &&
	    (r = write_base(cfg, &host, running, m, base, sizeof(base), ei)) != PCRGATE_OK)
		goto fail;
	/* From here the other slot changes: recorded first, emptied, written, then armed. */
	if ((r = record(cfg, m, &a, running, target, "installing", ei)) != PCRGATE_OK ||
	    (r = agent_boot_change(cfg, "mark-empty", target, 0, ei)) != PCRGATE_OK ||
	    (r = install(&host, target, b, f, have_key ? key : NULL, base[0] ? base : NULL, ei)) != PCRGATE_OK ||
	    (r = agent_boot_change(cfg, "set-trial", target, cfg->update_tries, ei)) != PCRGATE_OK ||
	    (r = record(cfg, m, &a, running, target, "armed", ei)) != PCRGATE_OK)
		goto fail;
	update_discard_download(cfg);
	(void)agent_state_remove(cfg, AGENT_PENDING_FILE, ei);
	(void)agent_state_remove(cfg, AGENT_APPROVAL_FILE, ei);
	printf("installed release %s into slot %c; armed for %u trial boots; reboot to try it\n",
	       pcrgate_bundle_manifest_release(m), 'a' + (int)target, cfg->update_tries);
	*outcome = AGENT_UPDATE_DONE;
	/* The outcome travels inside an attestation; a verifier out of reach does not undo the install. */
	pcrgate_errinfo_clear(&rei);
	if (agent_send_report(tpm, cfg, pcrgate_bundle_manifest_release(m), "installed", NULL,
			      pcrgate_bundle_manifest_version(m), pcrgate_bundle_manifest_end_of_support(m),
			      &rei) != PCRGATE_OK)
		agent_report_undelivered("update", "installed", 0, &rei);
	r = PCRGATE_OK;
fail:
	OPENSSL_cleanse(key, sizeof(key));
	if (base[0] != '\0')
		unlink(base);
	if (f != NULL)
		fclose(f);
	pcrgate_bundle_free(&b);
	pcrgate_truststore_free(&ts);
	json_decref(resp);
	free_authz(&a);
	agent_unlock(&lock);
	return r;
}

int agent_approve(const struct agent_config *cfg, const char *release, pcrgate_errinfo *ei)
{
	json_t *doc = NULL, *ok = NULL;
	const char *rel, *digest, *eos, *notes;
	int r, lock = -1;

	if ((r = agent_lock_file(cfg, AGENT_UPDATE_LOCK_FILE, &lock, ei)) != PCRGATE_OK)
		return r;
	if ((r = agent_state_read(cfg, AGENT_PENDING_FILE, &doc, ei)) != PCRGATE_OK) {
		if (r == PCRGATE_ERR_NOT_FOUND)
			pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET,
					    "no update is waiting for approval (pcrgate-agent update finds one)");
		goto fail;
	}
	rel = json_string_value(json_object_get(doc, "release"));
	digest = json_string_value(json_object_get(doc, "manifest_digest"));
	eos = json_string_value(json_object_get(doc, "end_of_support"));
	notes = json_string_value(json_object_get(doc, "notes"));
	if (rel == NULL || digest == NULL) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, PCRGATE_NO_OFFSET, "%s: release or manifest_digest missing",
					AGENT_PENDING_FILE);
		goto fail;
	}
	if (release != NULL && strcmp(release, rel) != 0) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_VERIFY, PCRGATE_NO_OFFSET,
					"the update waiting for approval is release %s, not %s", rel, release);
		goto fail;
	}
	printf("release %s (version %s, security version %" JSON_INTEGER_FORMAT ")\n", rel,
	       json_string_value(json_object_get(doc, "version")) ? json_string_value(json_object_get(doc, "version"))
								    : "?",
	       json_integer_value(json_object_get(doc, "security_version")));
	if (eos != NULL)
		printf("end of support: %s\n", eos);
	if (notes != NULL)
		printf("notes:\n%s\n", notes);
	if ((ok = json_pack("{s:s,s:s,s:I}", "release", rel, "manifest_digest", digest, "approved_at",
			    (json_int_t)time(NULL))) == NULL) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
		goto fail;
	}
	if ((r = agent_state_write(cfg, AGENT_APPROVAL_FILE, ok, 0600, ei)) != PCRGATE_OK)
		goto fail;
	printf("approved release %s: pcrgate-agent update installs it\n", rel);
fail:
	json_decref(ok);
	json_decref(doc);
	agent_unlock(&lock);
	return r;
}
