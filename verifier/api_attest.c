/*
 * pcrgate-verifierd: attestation. POST /v1/attest/nonce issues a single-use nonce to one active
 * device, writing nothing (NONCE_SIZE below); POST /v1/attest verifies its evidence with the
 * enrolled AK in DESIGN.md's order, then the device's reference policy, stores the verdict
 * with its reasons, and, when the device passed and an operator targeted a release at it,
 * answers with a signed authorization and the release's content key wrapped to the device's
 * update key. A report (an update outcome)
 * rides along bound into the quote: qualifying data = SHA-256(nonce || report).
 */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "attest/jsonutil.h"
#include "attest/tpmobj.h"
#include "boot/manifest.h"
#include "lib/authz.h"
#include "lib/evidence_internal.h"
#include "lib/reader.h"
#include "lib/refpolicy.h"
#include "pcrgate/evidence.h"
#include "verifier/api_internal.h"
#include "verifier/audit.h"
#include "verifier/keywrap.h"
#include "verifier/metrics.h"

/*
 * An attestation nonce carries its own proof of issue: 8 bytes of expiry (seconds since the
 * epoch, big-endian) and 8 random bytes, then the first 16 bytes of HMAC-SHA256 under the
 * store's nonce key (api_nonce_key_load) over a label, those 16 bytes and the device id.
 * Issuing one writes nothing, so a nonce costs no write transaction and nonce requests cannot
 * fill the database. The attestation that uses it checks the MAC (issued to this device by a
 * verifier of this store), the expiry, and records it as used in its own write transaction,
 * where a second use finds the row (consume_nonce).
 */
#define NONCE_EXPIRY 8
#define NONCE_HEAD (NONCE_EXPIRY + 8)
#define NONCE_TAG 16
#define NONCE_SIZE (NONCE_HEAD + NONCE_TAG)
#define NONCE_LABEL "pcrgate attest nonce v1"
/*
 * Seconds the verifiers of one store may disagree on the time: a nonce may expire up to this
 * much later than the checking verifier's nonce_ttl allows, and a used nonce's row is kept this
 * much past its expiry, so no verifier still taking the nonce finds its row gone.
 */
#define NONCE_CLOCK_SLACK 60
#define REPORT_MAX 4096
#define DEFAULT_POLICY "default"

/* ---- Parsed copies of what the store holds ---- */

/*
 * The enrolled AKs and the reference policies, parsed. Building an OpenSSL key from a TPM
 * public area (and its verification context) costs more than the quote's ECDSA check, and a
 * policy is parsed far more often than it changes. An entry is used only when what the store
 * gave in this request's transaction matches it exactly: an AK's bytes, a policy's digest
 * (the SHA-256 of its document, stored with it), so the cache never decides anything: a
 * re-enrolled AK or an edited policy misses, is parsed from the store's bytes and takes the
 * slot. A policy's document is fetched only on a miss. Bounded: one entry per slot, a
 * newcomer evicts.
 */
#define AK_SLOTS 1024
#define POLICY_SLOTS 16

struct parsed {
	unsigned refs; /* holders; the slot is one while the entry is in it */
	char key[API_MAX_NAME + 1];
	uint8_t *bytes; /* an AK: what it was parsed from; a policy: its document's digest */
	size_t len;
	pcrgate_akpub *ak;
	pcrgate_refpolicy *policy;
};

static struct {
	pthread_mutex_t mu;
	struct parsed *ak[AK_SLOTS];
	struct parsed *policy[POLICY_SLOTS];
} parsed_cache = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void parsed_free(struct parsed *e)
{
	if (e == NULL)
		return;
	pcrgate_akpub_free(&e->ak);
	pcrgate_refpolicy_free(&e->policy);
	free(e->bytes);
	free(e);
}

static size_t slot_of(const char *key, size_t slots)
{
	uint32_t h = 2166136261u;

	for (; *key != '\0'; key++)
		h = (h ^ (uint8_t)*key) * 16777619u;
	return h % slots;
}

/* The entry in slots[] for key parsed from bytes, with a reference for the caller; NULL when absent. */
static struct parsed *parsed_get(struct parsed **slots, size_t n, const char *key, const uint8_t *bytes, size_t len)
{
	struct parsed *e;

	pthread_mutex_lock(&parsed_cache.mu);
	e = slots[slot_of(key, n)];
	if (e != NULL && e->len == len && strcmp(e->key, key) == 0 && memcmp(e->bytes, bytes, len) == 0)
		e->refs++;
	else
		e = NULL;
	pthread_mutex_unlock(&parsed_cache.mu);
	return e;
}

/* Puts a new entry (one reference, the caller's) in its slot, which takes a reference too. */
static void parsed_put(struct parsed **slots, size_t n, struct parsed *e)
{
	struct parsed *old;
	size_t i = slot_of(e->key, n);

	pthread_mutex_lock(&parsed_cache.mu);
	e->refs++;
	old = slots[i];
	slots[i] = e;
	if (old != NULL && --old->refs > 0)
		old = NULL;
	pthread_mutex_unlock(&parsed_cache.mu);
	parsed_free(old);
}

static void parsed_release(struct parsed **ep)
{
	struct parsed *e = *ep;

	if (e == NULL)
		return;
	pthread_mutex_lock(&parsed_cache.mu);
	if (--e->refs > 0)
		e = NULL;
	pthread_mutex_unlock(&parsed_cache.mu);
	parsed_free(e);
	*ep = NULL;
}

/* Another reference to an entry the caller holds one of. */
static void parsed_ref(struct parsed *e)
{
	pthread_mutex_lock(&parsed_cache.mu);
	e->refs++;
	pthread_mutex_unlock(&parsed_cache.mu);
}

/* A new entry for key and bytes, with one reference; NULL when out of memory. */
static struct parsed *parsed_new(const char *key, const uint8_t *bytes, size_t len)
{
	struct parsed *e = calloc(1, sizeof(*e));

	if (e == NULL || (e->bytes = malloc(len != 0 ? len : 1)) == NULL) {
		free(e);
		return NULL;
	}
	e->refs = 1;
	snprintf(e->key, sizeof(e->key), "%s", key);
	memcpy(e->bytes, bytes, len);
	e->len = len;
	return e;
}

/* The device's enrolled AK, loaded from the ak_public the store gave. */
static int enrolled_ak(const struct api_device *dev, struct parsed **out, pcrgate_errinfo *ei)
{
	struct parsed *e;
	int r;

	if ((*out = parsed_get(parsed_cache.ak, AK_SLOTS, dev->id, dev->ak_public, dev->ak_public_len)) != NULL)
		return PCRGATE_OK;
	if ((e = parsed_new(dev->id, dev->ak_public, dev->ak_public_len)) == NULL ||
	    (e->ak = pcrgate_akpub_new()) == NULL) {
		parsed_free(e);
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
	}
	if ((r = pcrgate_akpub_load(e->ak, dev->ak_public, dev->ak_public_len, ei)) != PCRGATE_OK) {
		parsed_free(e);
		return r;
	}
	parsed_put(parsed_cache.ak, AK_SLOTS, e);
	*out = e;
	return PCRGATE_OK;
}

/* The cached policy the read found for name and digest (a reference for the caller), or NULL. */
static struct parsed *cached_policy(const char *name, const char *digest)
{
	return parsed_get(parsed_cache.policy, POLICY_SLOTS, name, (const uint8_t *)digest, strlen(digest));
}

/* ---- POST /v1/attest/nonce ---- */

/* The nonce request's device check (a read transaction). */
struct nonce_op {
	const char *device_id;
	int status; /* out: 0, or the refusal's HTTP status */
	const char *check, *why;
};

/* The device's state only (a nonce needs nothing else of it): "" when there is no such device. */
static int nonce_tx(vstore_tx *tx, void *arg, pcrgate_errinfo *ei)
{
	struct nonce_op *op = arg;
	char state[16] = "";
	struct api_text_buf b = {state, sizeof(state), 0};
	struct vparam p = VPARAM_TEXT(op->device_id);
	int r;

	op->status = 0;
	if ((r = vstore_exec(tx, "SELECT state FROM devices WHERE id = ?", &p, 1, api_text_buf_row, &b, NULL, ei)) !=
	    PCRGATE_OK)
		return r;
	if (state[0] == '\0') {
		op->status = 404, op->check = "device", op->why = "unknown device";
	} else if (strcmp(state, "revoked") == 0) {
		op->status = 403, op->check = "revoked", op->why = "the device is revoked";
	} else if (strcmp(state, "active") != 0) {
		op->status = 403, op->check = "activation", op->why = "the device has not completed credential activation";
	}
	return PCRGATE_OK;
}

#define NONCE_KEY_NAME "attest-nonce"

/* A vstore_rowfn: the key's bytes into the ctx's buffer; *got its length. */
struct key_row {
	uint8_t *out;
	size_t cap, got;
};

static int key_row(const struct vcol *cols, size_t ncols, void *arg, pcrgate_errinfo *ei)
{
	struct key_row *k = arg;

	(void)ei;
	if (ncols == 1)
		k->got = vcol_blob(&cols[0], k->out, k->cap);
	return 0;
}

static int nonce_key_tx(vstore_tx *tx, void *arg, pcrgate_errinfo *ei)
{
	struct api_ctx *ctx = arg;
	uint8_t fresh[sizeof(ctx->nonce_key)];
	struct vparam name = VPARAM_TEXT(NONCE_KEY_NAME);
	struct vparam p[3] = {name, VPARAM_BLOB(fresh, sizeof(fresh)), VPARAM_INT(time(NULL))};
	struct key_row k = {ctx->nonce_key, sizeof(ctx->nonce_key), 0};
	int r;

	/* Another verifier may make it at the same time: the first one stored is everyone's. */
	if (RAND_bytes(fresh, sizeof(fresh)) != 1)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_CRYPTO, PCRGATE_NO_OFFSET, "no random bytes for the nonce key");
	r = vstore_exec(tx, "INSERT INTO verifier_keys (name, value, created_at) VALUES (?, ?, ?) "
			    "ON CONFLICT (name) DO NOTHING",
			p, 3, NULL, NULL, NULL, ei);
	OPENSSL_cleanse(fresh, sizeof(fresh));
	if (r != PCRGATE_OK ||
	    (r = vstore_exec(tx, "SELECT value FROM verifier_keys WHERE name = ?", &name, 1, key_row, &k, NULL, ei)) !=
		    PCRGATE_OK)
		return r;
	if (k.got != sizeof(ctx->nonce_key))
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, PCRGATE_NO_OFFSET,
					   "the store's %s key is not %zu bytes", NONCE_KEY_NAME, sizeof(ctx->nonce_key));
	return PCRGATE_OK;
}

int api_nonce_key_load(struct api_ctx *ctx, pcrgate_errinfo *ei)
{
	return vstore_run(ctx->store, nonce_key_tx, ctx, ei);
}

/* The MAC of a nonce's first NONCE_HEAD bytes for device_id. */
static int nonce_tag(const struct api_ctx *ctx, const char *device_id, const uint8_t *head, uint8_t tag[NONCE_TAG])
{
	uint8_t msg[sizeof(NONCE_LABEL) + NONCE_HEAD + API_MAX_NAME], mac[EVP_MAX_MD_SIZE];
	size_t idlen = strlen(device_id), n = 0;
	unsigned mlen = 0;

	if (idlen > API_MAX_NAME)
		return -1;
	/* The label with its NUL, then the fixed-size head, then the id: one way to read any message. */
	memcpy(msg, NONCE_LABEL, sizeof(NONCE_LABEL));
	n += sizeof(NONCE_LABEL);
	memcpy(msg + n, head, NONCE_HEAD);
	n += NONCE_HEAD;
	memcpy(msg + n, device_id, idlen);
	n += idlen;
	if (HMAC(EVP_sha256(), ctx->nonce_key, sizeof(ctx->nonce_key), msg, n, mac, &mlen) == NULL || mlen < NONCE_TAG)
		return -1;
	memcpy(tag, mac, NONCE_TAG);
	OPENSSL_cleanse(mac, sizeof(mac));
	return 0;
}

/* A nonce is good until the second before its expiry: at expires_at it is expired. */
static const char *nonce_expired(int64_t expires_at, int64_t now)
{
	return expires_at <= now ? "the nonce expired" : NULL;
}

/*
 * Why the nonce is not one this store's verifiers issued to device_id and still fresh, or NULL
 * when it is; *expires_at its expiry then. Whether it was used already, and its expiry again
 * at that moment, are consume_nonce's.
 */
static const char *nonce_check(const struct api_ctx *ctx, const char *device_id, const uint8_t *nonce, size_t len,
			       int64_t *expires_at)
{
	uint8_t tag[NONCE_TAG];
	uint64_t exp = 0;
	int64_t now = time(NULL);
	struct reader rd;
	const char *why;

	if (len != NONCE_SIZE)
		return "the nonce was never issued (not the size of this verifier's nonces)";
	if (nonce_tag(ctx, device_id, nonce, tag) != 0)
		return "the nonce cannot be checked";
	if (CRYPTO_memcmp(tag, nonce + NONCE_HEAD, NONCE_TAG) != 0)
		return "the nonce was not issued to this device (it is another device's, or was never issued)";
	reader_init(&rd, nonce, NONCE_EXPIRY);
	if (reader_u64be(&rd, &exp) != 0 || exp > (uint64_t)INT64_MAX)
		return "the nonce expired";
	if ((why = nonce_expired((int64_t)exp, now)) != NULL)
		return why;
	/* Only a nonce_ttl lowered since it was issued (or a clock far off): held to the TTL in force. */
	if ((int64_t)exp - now > (int64_t)ctx->cfg.nonce_ttl + NONCE_CLOCK_SLACK)
		return "the nonce expires later than nonce_ttl allows";
	*expires_at = (int64_t)exp;
	return NULL;
}

int api_nonce(struct vreq *req, struct vresp *resp)
{
	struct api_ctx *ctx = req->app;
	uint8_t raw[NONCE_SIZE];
	char hex[2 * NONCE_SIZE + 1];
	struct nonce_op op;
	int64_t expires_at;
	pcrgate_errinfo ei;
	int r;

	memset(&op, 0, sizeof(op));
	if (api_req_string(resp, req->json, "device_id", API_MAX_NAME, 0, &op.device_id))
		return 0;
	pcrgate_errinfo_clear(&ei);
	if ((r = vstore_run_read(ctx->store, nonce_tx, &op, &ei)) != PCRGATE_OK)
		return api_fail(resp, "nonce", r, &ei);
	if (op.status != 0)
		return vresp_error(resp, op.status, op.check, "%s", op.why);
	expires_at = (int64_t)time(NULL) + ctx->cfg.nonce_ttl;
	pcrgate_store_be(raw, (uint64_t)expires_at, NONCE_EXPIRY);
	if (RAND_bytes(raw + NONCE_EXPIRY, NONCE_HEAD - NONCE_EXPIRY) != 1 ||
	    nonce_tag(ctx, op.device_id, raw, raw + NONCE_HEAD) != 0)
		return api_fail(resp, "nonce", PCRGATE_ERR_CRYPTO, NULL);
	pcrgate_hex_encode(raw, sizeof(raw), hex);
	return vresp_json(resp, 200, json_pack("{s:s,s:I}", "nonce", hex, "expires_at", (json_int_t)expires_at));
}

/* ---- POST /v1/attest ---- */

/* What the read transaction gathers: the device, its policy, the release targeted at it. */
struct attest_read {
	const char *device_id; /* in */
	struct api_device dev;
	char policy_name[API_MAX_NAME + 1];
	int have_policy;                 /* the policy's row exists */
	char policy_digest[API_MAX_TEXT + 1];
	struct parsed *policy;           /* a reference to the cached parse of that digest, or NULL */
	char *policy_doc;                /* malloc'd, fetched only when policy is NULL; NULL without a policy */
	int have_rollout;
	char rel_name[API_MAX_NAME + 1], rel_version[API_MAX_NAME + 1], rel_digest[API_MAX_TEXT + 1];
	char rel_url[API_MAX_TEXT + 1];
	int64_t rel_security_version;
	uint8_t content_key[2 * KEYWRAP_CONTENT_KEY_SIZE]; /* a stored key of another size reaches keywrap */
	size_t content_key_len;
};

static int rollout_row(const struct vcol *cols, size_t ncols, void *arg, pcrgate_errinfo *ei)
{
	struct attest_read *rd = arg;

	(void)ei;
	if (ncols != 6 || rd->have_rollout)
		return 0;
	rd->have_rollout = 1;
	vcol_text(&cols[0], rd->rel_name, sizeof(rd->rel_name));
	vcol_text(&cols[1], rd->rel_version, sizeof(rd->rel_version));
	rd->rel_security_version = vcol_int(&cols[2], 0);
	vcol_text(&cols[3], rd->rel_digest, sizeof(rd->rel_digest));
	vcol_text(&cols[4], rd->rel_url, sizeof(rd->rel_url));
	rd->content_key_len = vcol_blob(&cols[5], rd->content_key, sizeof(rd->content_key));
	return 0;
}

static int attest_read_tx(vstore_tx *tx, void *arg, pcrgate_errinfo *ei)
{
	struct attest_read *rd = arg;
	int r;

	free(rd->policy_doc);
	rd->policy_doc = NULL;
	parsed_release(&rd->policy);
	rd->have_policy = 0;
	rd->policy_digest[0] = '\0';
	rd->have_rollout = 0;
	if ((r = api_device_load(tx, rd->device_id, &rd->dev, ei)) != PCRGATE_OK || !rd->dev.found)
		return r;
	snprintf(rd->policy_name, sizeof(rd->policy_name), "%s", rd->dev.policy[0] != '\0' ? rd->dev.policy : DEFAULT_POLICY);
	{
		/* The digest first: the document (up to megabytes) only when no parse of it is cached. */
		struct vparam p = VPARAM_TEXT(rd->policy_name);
		struct api_text_buf digest = {rd->policy_digest, sizeof(rd->policy_digest), 0};

		if ((r = vstore_exec(tx, "SELECT digest FROM policies WHERE name = ?", &p, 1, api_text_buf_row, &digest,
				     NULL, ei)) != PCRGATE_OK)
			return r;
		rd->have_policy = digest.found;
		if (rd->have_policy && (rd->policy_digest[0] == '\0' ||
					(rd->policy = cached_policy(rd->policy_name, rd->policy_digest)) == NULL) &&
		    (r = vstore_exec(tx, "SELECT document FROM policies WHERE name = ?", &p, 1, api_text_row,
				     &rd->policy_doc, NULL, ei)) != PCRGATE_OK)
			return r;
	}
	{
		/* A rollout for this device wins over one for its group; the newest wins among equals. */
		struct vparam p[2] = {VPARAM_TEXT(rd->device_id), VPARAM_TEXT(rd->dev.grp)};

		return vstore_exec(tx, "SELECT rel.name, rel.version, rel.security_version, rel.manifest_digest, "
				       "rel.bundle_url, rel.content_key FROM rollouts r JOIN releases rel ON rel.name = "
				       "r.release WHERE r.active = 1 AND (r.device_id = ? OR (r.device_id IS NULL AND "
				       "r.grp = ?)) ORDER BY CASE WHEN r.device_id IS NULL THEN 1 ELSE 0 END, "
				       "r.created_at DESC, r.id LIMIT 1",
				   p, 2, rollout_row, rd, NULL, ei);
	}
}

/*
 * The reference policy the read found: the cached parse (another reference), else parsed
 * from the document fetched and cached under its digest. A row without a digest gives
 * nothing to know the document again by: its parse is used once, not kept.
 */
static int reference_policy(const struct attest_read *rd, struct parsed **out, pcrgate_errinfo *ei)
{
	size_t dlen = strlen(rd->policy_digest);
	struct parsed *e;
	int r;

	if (rd->policy != NULL) {
		parsed_ref(rd->policy);
		*out = rd->policy;
		return PCRGATE_OK;
	}
	if ((e = parsed_new(rd->policy_name, (const uint8_t *)rd->policy_digest, dlen)) == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
	if ((r = pcrgate_refpolicy_parse((const uint8_t *)rd->policy_doc, strlen(rd->policy_doc), &e->policy, ei)) !=
	    PCRGATE_OK) {
		parsed_free(e);
		return r;
	}
	if (dlen > 0)
		parsed_put(parsed_cache.policy, POLICY_SLOTS, e);
	*out = e;
	return PCRGATE_OK;
}

/* The verdict being built. */
struct verdict {
	int pass;
	const char *failed_check; /* static string */
	json_t *reasons;	  /* array of {code, detail} */
	const char *release;
	int64_t security_version;
};

static void verdict_fail(struct verdict *v, const char *check, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void verdict_fail(struct verdict *v, const char *check, const char *fmt, ...)
{
	char detail[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	v->pass = 0;
	if (v->failed_check == NULL)
		v->failed_check = check;
	json_array_append_new(v->reasons, json_pack("{s:s,s:s}", "code", check, "detail", detail));
}

/* What a device's report says (all NULL without one); release and outcome are always given. */
struct report {
	const char *release, *outcome, *reason, *version, *eos;
};

struct attest_write {
	const struct api_device *dev;
	const char *attestation_id;
	const uint8_t *nonce;
	size_t nonce_len;
	const char *nonce_why; /* nonce_check's refusal, NULL when the nonce is this device's and fresh */
	int64_t nonce_expires;
	struct report report;
	int quote_failed_before_nonce; /* the quote failed at a check the nonce check comes after */
	int quote_passed;	       /* every quote check passed (the clock state is authentic) */
	const pcrgate_quote_result *qr;
	struct verdict *v;
	/* the authorization, when one was prepared */
	const char *jti, *auth_release;
	int64_t auth_expires;
	/* out */
	int issued;
};

/*
 * Uses up the nonce nonce_check accepted: recorded as used, in the attestation's transaction,
 * so a second use finds it. Its expiry is judged again here, with the time of this attempt (a
 * wait for the writer lock, or a retry, may have passed it). A row is needed only until its
 * nonce expires, since an expired nonce is refused without one: each use removes those that
 * expired NONCE_CLOCK_SLACK ago. *why is set when the nonce is refused.
 */
static int consume_nonce(vstore_tx *tx, const struct attest_write *w, const char **why, pcrgate_errinfo *ei)
{
	int64_t now = time(NULL);
	struct vparam stale = VPARAM_INT(now - NONCE_CLOCK_SLACK);
	struct vparam p[2] = {VPARAM_INT(w->nonce_expires), VPARAM_BLOB(w->nonce, w->nonce_len)};
	long changes = 0;
	int r;

	/* Another device's nonce (or a forged one) is left alone: nothing is recorded for it. */
	if ((*why = w->nonce_why) != NULL)
		return PCRGATE_OK;
	if (nonce_expired(w->nonce_expires, now) != NULL) {
		*why = "the nonce expired before its attestation was stored";
		return PCRGATE_OK;
	}
	if ((r = vstore_exec(tx, "DELETE FROM used_nonces WHERE expires_at < ?", &stale, 1, NULL, NULL, NULL, ei)) !=
		    PCRGATE_OK ||
	    (r = vstore_exec(tx, "INSERT INTO used_nonces (expires_at, nonce) VALUES (?, ?) ON CONFLICT DO NOTHING", p,
			     2, NULL, NULL, &changes, ei)) != PCRGATE_OK)
		return r;
	if (changes != 1)
		*why = "the nonce was already used: replayed evidence";
	return PCRGATE_OK;
}

/* The device's row after an attestation: what is set, and which row (any, or one still as read). */
#define DEVICE_SET_CLOCK "clock = ?, reset_count = ?, restart_count = ?, updated_at = ?, "
#define DEVICE_SET_VERDICT "last_verdict = ?, last_attestation = ?"
#define DEVICE_SET_RELEASE "last_verdict = ?, last_attestation = ?, release = ?, security_version = ?"
#define DEVICE_WHERE " WHERE id = ?"
#define DEVICE_WHERE_AS_READ " WHERE id = ? AND state = 'active' AND ak_name = ?"

/*
 * One UPDATE of the device: its verdict always; its clock state only when authentic (it then
 * becomes the floor the next quote is held to); its release when the policy named one. With
 * as_read, only while the device is still active with the AK the read found: *changes says.
 */
static int device_update(vstore_tx *tx, const struct attest_write *w, int64_t now, int nonce_ok, int as_read,
			 long *changes, pcrgate_errinfo *ei)
{
	const struct verdict *v = w->v;
	int clock = w->quote_passed && nonce_ok;
	char sql[256];
	struct vparam p[10];
	size_t n = 0;

	if (clock) {
		p[n++] = VPARAM_INT(w->qr->clock.clock);
		p[n++] = VPARAM_INT(w->qr->clock.reset_count);
		p[n++] = VPARAM_INT(w->qr->clock.restart_count);
		p[n++] = VPARAM_INT(now);
	}
	p[n++] = VPARAM_TEXT(v->pass ? "pass" : "fail");
	p[n++] = VPARAM_TEXT(w->attestation_id);
	if (v->release != NULL) {
		p[n++] = VPARAM_TEXT(v->release);
		p[n++] = VPARAM_INT(v->security_version);
	}
	p[n++] = VPARAM_TEXT(w->dev->id);
	if (as_read)
		p[n++] = VPARAM_TEXT(w->dev->ak_name);
	snprintf(sql, sizeof(sql), "UPDATE devices SET %s%s%s", clock ? DEVICE_SET_CLOCK : "",
		 v->release != NULL ? DEVICE_SET_RELEASE : DEVICE_SET_VERDICT, as_read ? DEVICE_WHERE_AS_READ : DEVICE_WHERE);
	return vstore_exec(tx, sql, p, n, NULL, NULL, changes, ei);
}

/*
 * The device was revoked, or enrolled again, after the read: the verdict becomes the failure
 * of the check the device now fails, as if the read had found it so, and nothing the quote
 * vouched for (clock, release, report) is kept.
 */
static int device_changed(vstore_tx *tx, struct attest_write *w, pcrgate_errinfo *ei)
{
	struct verdict *v = w->v;
	struct verdict nv = {0, NULL, NULL, NULL, 0};
	struct api_device dev;
	int r;

	if ((r = api_device_load(tx, w->dev->id, &dev, ei)) != PCRGATE_OK)
		return r;
	if (!dev.found)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_NOT_FOUND, PCRGATE_NO_OFFSET, "device %s vanished",
					   w->dev->id);
	if ((nv.reasons = json_array()) == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
	if (strcmp(dev.state, "revoked") == 0)
		verdict_fail(&nv, "revoked", "the device is revoked");
	else if (strcmp(dev.state, "active") != 0)
		verdict_fail(&nv, "activation", "the device's AK never completed credential activation");
	else
		verdict_fail(&nv, "enrollment", "the device enrolled another AK during this attestation");
	json_decref(v->reasons);
	v->reasons = nv.reasons;
	v->failed_check = nv.failed_check;
	v->pass = 0;
	v->release = NULL;
	w->quote_passed = 0;
	return PCRGATE_OK;
}

static int attest_write_tx(vstore_tx *tx, void *arg, pcrgate_errinfo *ei)
{
	struct attest_write *w = arg;
	struct verdict *v = w->v;
	int64_t now = time(NULL);
	const char *why = NULL;
	char *reasons = NULL;
	json_t *detail;
	long changes = 0;
	int r, nonce_ok, as_read;

	w->issued = 0;
	/* The audit head first (audit_lock): a batch holds it across its attestations' devices. */
	if ((r = audit_lock(tx, ei)) != PCRGATE_OK || (r = consume_nonce(tx, w, &why, ei)) != PCRGATE_OK)
		return r;
	nonce_ok = why == NULL;
	/* A bad nonce ranks where the nonce check stands: after the signature, before the PCRs. */
	if (!nonce_ok && !w->quote_failed_before_nonce) {
		struct verdict nv = {0, NULL, json_array(), NULL, 0};

		verdict_fail(&nv, "nonce", "%s", why);
		json_decref(v->reasons);
		v->reasons = nv.reasons;
		v->failed_check = "nonce";
		v->pass = 0;
		v->release = NULL;
	}
	/*
	 * The device first, and only while it is as the read found it: a device revoked or
	 * enrolled again since then fails here, and gets no authorization.
	 */
	as_read = strcmp(w->dev->state, "active") == 0;
	if ((r = device_update(tx, w, now, nonce_ok, as_read, &changes, ei)) != PCRGATE_OK)
		return r;
	if (as_read && changes == 0 && ((r = device_changed(tx, w, ei)) != PCRGATE_OK ||
					(r = device_update(tx, w, now, nonce_ok, 0, NULL, ei)) != PCRGATE_OK))
		return r;
	if ((reasons = json_dumps(v->reasons, JSON_COMPACT)) == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
	{
		struct vparam p[11] = {VPARAM_TEXT(w->attestation_id),
				       VPARAM_TEXT(w->dev->id),
				       VPARAM_INT(now),
				       VPARAM_TEXT(v->pass ? "pass" : "fail"),
				       v->failed_check != NULL ? VPARAM_TEXT(v->failed_check) : VPARAM_NULL,
				       VPARAM_TEXT(reasons),
				       v->release != NULL ? VPARAM_TEXT(v->release) : VPARAM_NULL,
				       v->release != NULL ? VPARAM_INT(v->security_version) : VPARAM_NULL,
				       w->qr->parsed ? VPARAM_INT(w->qr->clock.clock) : VPARAM_NULL,
				       w->qr->parsed ? VPARAM_INT(w->qr->clock.reset_count) : VPARAM_NULL,
				       w->qr->parsed ? VPARAM_INT(w->qr->clock.restart_count) : VPARAM_NULL};

		r = vstore_exec(tx, "INSERT INTO attestations (id, device_id, created_at, verdict, failed_check, reasons, "
				    "release, security_version, clock, reset_count, restart_count) VALUES "
				    "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
				p, 11, NULL, NULL, NULL, ei);
	}
	free(reasons);
	if (r != PCRGATE_OK)
		return r;
	detail = json_pack("{s:s,s:s,s:s?,s:s?}", "attestation_id", w->attestation_id, "verdict", v->pass ? "pass" : "fail",
			   "failed_check", v->failed_check, "release", v->release);
	if ((r = api_audit(tx, "device", "attest", w->dev->id, detail, ei)) != PCRGATE_OK)
		return r;
	if (w->report.outcome != NULL && w->quote_passed && nonce_ok) {
		char oid[API_ID_HEX];
		struct vparam p[8];

		if (api_new_id(oid) != PCRGATE_OK)
			return pcrgate_errinfo_set(ei, PCRGATE_ERR_CRYPTO, PCRGATE_NO_OFFSET, "no random bytes");
		p[0] = VPARAM_TEXT(oid);
		p[1] = VPARAM_TEXT(w->dev->id);
		p[2] = VPARAM_TEXT(w->report.release);
		p[3] = VPARAM_TEXT(w->report.outcome);
		p[4] = w->report.reason != NULL ? VPARAM_TEXT(w->report.reason) : VPARAM_NULL;
		p[5] = VPARAM_INT(now);
		p[6] = w->report.version != NULL ? VPARAM_TEXT(w->report.version) : VPARAM_NULL;
		p[7] = w->report.eos != NULL ? VPARAM_TEXT(w->report.eos) : VPARAM_NULL;
		if ((r = vstore_exec(tx, "INSERT INTO outcomes (id, device_id, release, outcome, reason, created_at, "
					 "version, end_of_support) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
				     p, 8, NULL, NULL, NULL, ei)) != PCRGATE_OK)
			return r;
		/* version and end_of_support only when reported, so older reports' entries keep their form. */
		detail = json_pack("{s:s,s:s,s:s?,s:s*,s:s*}", "release", w->report.release, "outcome",
				   w->report.outcome, "reason", w->report.reason, "version", w->report.version,
				   "end_of_support", w->report.eos);
		if ((r = api_audit(tx, "device", "update-outcome", w->dev->id, detail, ei)) != PCRGATE_OK)
			return r;
	}
	if (w->jti != NULL && v->pass) {
		struct vparam p[6] = {VPARAM_TEXT(w->jti),	    VPARAM_TEXT(w->dev->id), VPARAM_TEXT(w->auth_release),
				      VPARAM_TEXT(w->attestation_id), VPARAM_INT(now),	     VPARAM_INT(w->auth_expires)};

		if ((r = vstore_exec(tx, "INSERT INTO authorizations (id, device_id, release, attestation_id, issued_at, "
					 "expires_at) VALUES (?, ?, ?, ?, ?, ?)",
				     p, 6, NULL, NULL, NULL, ei)) != PCRGATE_OK)
			return r;
		detail = json_pack("{s:s,s:s,s:I}", "authorization_id", w->jti, "release", w->auth_release, "expires_at",
				   (json_int_t)w->auth_expires);
		if ((r = api_audit(tx, "verifier", "authorize-update", w->dev->id, detail, ei)) != PCRGATE_OK)
			return r;
		/* The authorization leaves with the answer: it and its audit entry must survive a power cut. */
		vstore_tx_durable(tx);
		w->issued = 1;
	}
	return PCRGATE_OK;
}

/*
 * Parses the optional report: {"release", "outcome", "reason"?, "version"?, "end_of_support"?};
 * 1 when resp was set.
 */
static int parse_report(struct vresp *resp, const char *report, json_t **doc, struct report *rep)
{
	static const char *const outcomes[] = {"installed", "committed", "fell-back", "failed"};
	const json_t *eos;
	json_error_t jerr;
	size_t i;

	if ((*doc = json_loads(report, JSON_REJECT_DUPLICATES, &jerr)) == NULL || !json_is_object(*doc)) {
		vresp_error(resp, 400, "request", "report: not a JSON object (%s)", *doc == NULL ? jerr.text : "other type");
		return 1;
	}
	if (api_req_string(resp, *doc, "release", API_MAX_NAME, 0, &rep->release) ||
	    api_req_string(resp, *doc, "outcome", 16, 0, &rep->outcome) ||
	    api_req_string(resp, *doc, "reason", API_MAX_TEXT, 1, &rep->reason) ||
	    api_req_string(resp, *doc, "version", PCRGATE_MANIFEST_STRING_MAX, 1, &rep->version))
		return 1;
	/* Absent or null only: an empty or malformed date is an error, never "no date". */
	if ((eos = json_object_get(*doc, "end_of_support")) != NULL && !json_is_null(eos)) {
		if (!json_is_string(eos) || !pcrgate_date_valid(json_string_value(eos), json_string_length(eos))) {
			vresp_error(resp, 400, "request", "report: member end_of_support must be a date YYYY-MM-DD");
			return 1;
		}
		rep->eos = json_string_value(eos);
	}
	for (i = 0; i < sizeof(outcomes) / sizeof(outcomes[0]); i++)
		if (strcmp(rep->outcome, outcomes[i]) == 0)
			return 0;
	vresp_error(resp, 400, "request", "report: outcome must be installed, committed, fell-back or failed");
	return 1;
}

/* Quote checks, then the policy; fills v. *ak gets a reference to the enrolled AK (NULL when unusable). */
static void evaluate(const pcrgate_evidence *ev, const struct attest_read *rd, const uint8_t *qualifying,
		     size_t qlen, pcrgate_quote_input *in, pcrgate_quote_result *qr, struct verdict *v,
		     char release[PCRGATE_REFPOLICY_MAX_NAME + 1], struct parsed **ak)
{
	struct parsed *policy = NULL;
	pcrgate_refpolicy_verdict pv;
	uint8_t qn[PCRGATE_QUOTE_MAX_NAME];
	size_t qnlen = 0, i;
	pcrgate_errinfo ei;

	pcrgate_errinfo_clear(&ei);
	memset(in, 0, sizeof(*in));
	memset(qr, 0, sizeof(*qr));
	if (pcrgate_hex_decode(rd->dev.ak_qualified_name, qn, sizeof(qn), &qnlen) != 0) {
		verdict_fail(v, "enrollment", "the enrolled AK's qualified name is not a TPM name in hex");
		goto done;
	}
	if (enrolled_ak(&rd->dev, ak, &ei) != PCRGATE_OK) {
		verdict_fail(v, "enrollment", "the enrolled AK cannot be used: %s", ei.message);
		goto done;
	}
	pcrgate_evidence_quote_input(ev, in);
	in->ak = (*ak)->ak;
	in->nonce = qualifying;
	in->nonce_len = qlen;
	in->ak_qualified_name = qn;
	in->ak_qualified_name_len = qnlen;
	in->previous = rd->dev.have_clock ? &rd->dev.clock : NULL;
	/*
	 * A gateway that loses power comes back with its Clock restored from the TPM's last NV
	 * save, below what it reported before, and says so (safe = NO after a reset). resetCount
	 * still went up, so the reboot is recorded, not hidden; refusing would lock the device out
	 * until its Clock caught up.
	 */
	in->accept_clock_restore = 1;
	if (pcrgate_quote_verify(in, qr, &ei) != PCRGATE_OK) {
		verdict_fail(v, qr->failed_name != NULL ? qr->failed_name : "evidence", "%s",
			     qr->detail[0] != '\0' ? qr->detail : ei.message);
		goto done;
	}
	if (rd->policy == NULL && rd->policy_doc == NULL) {
		verdict_fail(v, "no-policy", "no reference policy named %s", rd->policy_name);
		goto done;
	}
	if (reference_policy(rd, &policy, &ei) != 0 ||
	    pcrgate_refpolicy_evaluate(policy->policy, in->pcrs, qr, &pv, &ei) != 0) {
		verdict_fail(v, "policy", "policy %s cannot be evaluated: %s", rd->policy_name, ei.message);
		goto done;
	}
	/* The release the quoted PCRs show is recorded whether or not the rest of the policy holds. */
	if (pv.release_matched) {
		snprintf(release, PCRGATE_REFPOLICY_MAX_NAME + 1, "%s", pv.release_name);
		v->release = release;
		v->security_version = (int64_t)pv.security_version;
	}
	if (!pv.ok) {
		for (i = 0; i < pv.reason_count; i++)
			verdict_fail(v, pv.reasons[i].code_name, "%s", pv.reasons[i].detail);
		if (pv.omitted > 0)
			verdict_fail(v, "policy", "and %zu more", pv.omitted);
	}
done:
	/* The parsed logs are done with; the rest of qr (the clock) is stored next. */
	pcrgate_quote_result_clear(qr);
	parsed_release(&policy);
}

/*
 * One attestation from its request to its answer. The verdict is written by the store's
 * writer (vstore_submit, batched with other attestations), while the server's threads go on
 * with other requests; the answer is made when the write is done.
 */
struct attest_job {
	struct api_ctx *ctx;
	struct vmetrics *metrics;
	struct attest_read rd;
	struct attest_write w;
	struct verdict v;
	/* the verdict and quote_passed as judged before the write, which each attempt starts from */
	struct verdict v0;
	int quote_passed0, attempts;
	pcrgate_quote_result qr;
	struct parsed *ak;
	json_t *reportdoc, *claims;
	char *token; /* the authorization, when one was prepared */
	uint8_t nonce[PCRGATE_EVIDENCE_MAX_NONCE], wrapped[KEYWRAP_MAX_WRAPPED];
	size_t wlen;
	char attestation_id[API_ID_HEX], jti[AUTHZ_JTI_SIZE];
	char release_name[PCRGATE_REFPOLICY_MAX_NAME + 1];
	int rc;             /* the write's result */
	pcrgate_errinfo ei; /* and why it failed */
	struct vlater *later;
};

static void attest_job_free(struct attest_job *j)
{
	parsed_release(&j->ak);
	OPENSSL_cleanse(j->rd.content_key, sizeof(j->rd.content_key));
	parsed_release(&j->rd.policy);
	free(j->rd.policy_doc);
	free(j->token);
	json_decref(j->reportdoc);
	json_decref(j->claims);
	json_decref(j->v.reasons);
	json_decref(j->v0.reasons);
	free(j);
}

/*
 * The write changes the verdict it stores (a used nonce, a device revoked meanwhile); a batch
 * that is run again starts each attestation from the verdict judged before the write.
 */
static int attest_write_job(vstore_tx *tx, void *arg, pcrgate_errinfo *ei)
{
	struct attest_job *j = arg;

	if (j->attempts++ > 0) {
		json_decref(j->v.reasons);
		j->v = j->v0;
		if ((j->v.reasons = json_deep_copy(j->v0.reasons)) == NULL)
			return pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
		j->w.quote_passed = j->quote_passed0;
	}
	return attest_write_tx(tx, &j->w, ei);
}

/* The writer's report (on its thread): the answer is made on the server's. */
static void attest_written(void *arg, int rc, const pcrgate_errinfo *ei)
{
	struct attest_job *j = arg;

	j->rc = rc;
	if (ei != NULL)
		j->ei = *ei;
	vhttp_wake(j->later);
}

/* The answer, once the verdict is stored (or could not be); frees j. */
static int attest_answer(void *arg, struct vresp *resp)
{
	struct attest_job *j = arg;
	struct verdict *v = &j->v;
	const struct attest_read *rd = &j->rd;
	json_t *out;

	if (resp == NULL || j->rc != PCRGATE_OK) {
		if (resp != NULL)
			api_fail(resp, "attest", j->rc, &j->ei);
		attest_job_free(j);
		return 0;
	}
	metrics_verdict(j->metrics, v->pass ? "pass" : v->failed_check);
	out = json_pack("{s:s,s:s,s:s?,s:O,s:s?}", "attestation_id", j->attestation_id, "verdict",
			v->pass ? "pass" : "fail", "failed_check", v->failed_check, "reasons", v->reasons, "release",
			v->release);
	if (out != NULL && v->release != NULL)
		json_object_set_new(out, "security_version", json_integer(v->security_version));
	if (out != NULL && j->w.issued) {
		json_t *a = json_pack("{s:s,s:s,s:s,s:I,s:s,s:s}", "token", j->token, "release", rd->rel_name, "version",
				      rd->rel_version, "security_version", (json_int_t)rd->rel_security_version,
				      "manifest_digest", rd->rel_digest, "bundle_url", rd->rel_url);

		if (a != NULL && j->wlen > 0)
			json_object_set_new(a, "content_key_wrapped", jsonutil_b64(j->wrapped, j->wlen));
		json_object_set_new(out, "authorization", a);
	}
	vresp_reason(resp, v->pass ? "pass" : v->failed_check);
	vresp_json(resp, 200, out);
	attest_job_free(j);
	return 0;
}

int api_attest(struct vreq *req, struct vresp *resp)
{
	struct api_ctx *ctx = req->app;
	const char *device_id, *nonce_hex = NULL, *report = NULL;
	struct report rep = {NULL, NULL, NULL, NULL, NULL};
	uint8_t qualifying[PCRGATE_EVIDENCE_MAX_NONCE];
	size_t nlen = 0, qlen = 0;
	struct attest_job *j;
	struct attest_read *rd;
	struct attest_write *w;
	struct verdict *v;
	pcrgate_quote_input in;
	pcrgate_evidence *ev = NULL;
	json_t *evdoc;
	pcrgate_errinfo ei;
	int r;

	if (api_req_string(resp, req->json, "device_id", API_MAX_NAME, 0, &device_id) ||
	    api_req_string(resp, req->json, "nonce", 2 * PCRGATE_EVIDENCE_MAX_NONCE, 1, &nonce_hex) ||
	    api_req_string(resp, req->json, "report", REPORT_MAX, 1, &report))
		return 0;
	if (!json_is_object(evdoc = json_object_get(req->json, "evidence")))
		return vresp_error(resp, 400, "evidence", "member evidence must be an object");
	if ((j = calloc(1, sizeof(*j))) == NULL)
		return api_fail(resp, "attest", PCRGATE_ERR_NOMEM, NULL);
	j->ctx = ctx;
	j->metrics = req->metrics;
	rd = &j->rd;
	w = &j->w;
	v = &j->v;
	*v = (struct verdict){1, NULL, NULL, NULL, -1};
	memset(&in, 0, sizeof(in));
	if (report != NULL && parse_report(resp, report, &j->reportdoc, &rep))
		goto done;
	/*
	 * The HTTP layer parsed the body with duplicate keys refused, under max_body; the library's
	 * cap on a whole evidence document still holds when an operator set max_body above it.
	 */
	if (req->body_len > PCRGATE_EVIDENCE_MAX_SIZE) {
		vresp_error(resp, 413, "evidence", "evidence: a request of %zu bytes (at most %u)", req->body_len,
			    PCRGATE_EVIDENCE_MAX_SIZE);
		goto done;
	}
	pcrgate_errinfo_clear(&ei);
	/* The enrolled AK verifies; the one the evidence carries is only checked against its name. */
	if ((r = pcrgate_evidence_parse_json(evdoc, PCRGATE_EVIDENCE_NO_AK_KEY, &ev, &ei)) != PCRGATE_OK) {
		vresp_error(resp, r == PCRGATE_ERR_LIMIT ? 413 : 400, "evidence", "evidence: %s", ei.message);
		goto done;
	}
	if (nonce_hex == NULL) {
		const uint8_t *en = pcrgate_evidence_nonce(ev, &nlen);

		if (report != NULL || en == NULL || nlen == 0) {
			vresp_error(resp, 400, "request", "member nonce is missing");
			goto done;
		}
		memcpy(j->nonce, en, nlen);
	} else if (pcrgate_hex_decode(nonce_hex, j->nonce, sizeof(j->nonce), &nlen) != 0 || nlen == 0) {
		vresp_error(resp, 400, "request", "member nonce must be hex of 1 to %d bytes", PCRGATE_EVIDENCE_MAX_NONCE);
		goto done;
	}
	if (report != NULL) {
		pcrgate_evidence_report_binding(j->nonce, nlen, (const uint8_t *)report, strlen(report), qualifying);
		qlen = PCRGATE_EVIDENCE_BINDING_SIZE;
	} else {
		memcpy(qualifying, j->nonce, nlen);
		qlen = nlen;
	}
	rd->device_id = device_id;
	if ((r = vstore_run_read(ctx->store, attest_read_tx, rd, &ei)) != PCRGATE_OK) {
		api_fail(resp, "attest", r, &ei);
		goto done;
	}
	if (!rd->dev.found) {
		vresp_error(resp, 404, "device", "unknown device");
		goto done;
	}
	if ((v->reasons = json_array()) == NULL || api_new_id(j->attestation_id) != PCRGATE_OK) {
		api_fail(resp, "attest", PCRGATE_ERR_NOMEM, NULL);
		goto done;
	}
	if (strcmp(rd->dev.state, "revoked") == 0)
		verdict_fail(v, "revoked", "the device is revoked");
	else if (strcmp(rd->dev.state, "active") != 0)
		verdict_fail(v, "activation", "the device's AK never completed credential activation");
	else
		evaluate(ev, rd, qualifying, qlen, &in, &j->qr, v, j->release_name, &j->ak);
	w->dev = &rd->dev;
	w->nonce = j->nonce;
	w->nonce_len = nlen;
	w->nonce_why = nonce_check(ctx, rd->dev.id, j->nonce, nlen, &w->nonce_expires);
	w->attestation_id = j->attestation_id;
	w->report = rep;
	w->qr = &j->qr;
	w->v = v;
	w->quote_passed = j->qr.parsed && j->qr.failed == PCRGATE_QUOTE_CHECK_NONE && in.ak != NULL;
	w->quote_failed_before_nonce =
		v->failed_check != NULL && (in.ak == NULL || j->qr.failed < PCRGATE_QUOTE_CHECK_NONCE);
	/* Prepare the authorization outside the write transaction; it is stored only if the nonce holds. */
	if (v->pass && rd->have_rollout && ctx->jws_key != NULL &&
	    (v->release == NULL || strcmp(v->release, rd->rel_name) != 0) &&
	    rd->rel_security_version >= v->security_version) {
		TPM2B_PUBLIC uk;

		j->claims = json_pack("{s:s,s:s,s:s,s:s,s:s,s:I,s:s}", "device", rd->dev.id, "ak_name", rd->dev.ak_name,
				      "manifest_digest", rd->rel_digest, "release", rd->rel_name, "version",
				      rd->rel_version, "security_version", (json_int_t)rd->rel_security_version,
				      "attestation_id", j->attestation_id);
		if (j->claims == NULL || authz_sign(ctx->jws_key, ctx->jws_key_len, j->claims, time(NULL),
						    ctx->cfg.authorization_ttl, &j->token, j->jti, &ei) != PCRGATE_OK) {
			api_fail(resp, "authorization", PCRGATE_ERR_CRYPTO, &ei);
			goto done;
		}
		if (rd->content_key_len > 0 &&
		    (tpmobj_public_unmarshal(rd->dev.update_key_public, rd->dev.update_key_public_len, &uk, &ei) != 0 ||
		     keywrap_wrap(&uk, rd->content_key, rd->content_key_len, j->wrapped, sizeof(j->wrapped), &j->wlen,
				  &ei) != 0)) {
			api_fail(resp, "authorization", PCRGATE_ERR_CRYPTO, &ei);
			goto done;
		}
		w->jti = j->jti;
		w->auth_release = rd->rel_name;
		w->auth_expires = (int64_t)time(NULL) + ctx->cfg.authorization_ttl;
	}
	pcrgate_evidence_free(&ev);
	j->v0 = *v;
	j->quote_passed0 = w->quote_passed;
	if ((j->v0.reasons = json_deep_copy(v->reasons)) == NULL) {
		api_fail(resp, "attest", PCRGATE_ERR_NOMEM, NULL);
		goto done;
	}
	/* The write, and the answer after it, come later: the server's thread goes on meanwhile. */
	if ((j->later = vreq_later(req, attest_answer, j)) == NULL) {
		pcrgate_errinfo_clear(&j->ei);
		j->rc = vstore_run(ctx->store, attest_write_job, j, &j->ei);
		return attest_answer(j, resp);
	}
	pcrgate_errinfo_clear(&ei);
	if ((r = vstore_submit(ctx->store, attest_write_job, attest_written, j, &ei)) != PCRGATE_OK)
		attest_written(j, r, &ei);
	return VHANDLER_LATER;
done:
	pcrgate_evidence_free(&ev);
	attest_job_free(j);
	return 0;
}
