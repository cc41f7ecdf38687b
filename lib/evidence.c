/*
 * pcrgate: the agent's evidence document (pcrgate/evidence.h). Untrusted JSON: the size is
 * capped before parsing, duplicate keys and unknown members are refused, every member is
 * checked for its type and decoded size, and each error names the member. The PCR values go
 * through the JSON PCR-file reader so the two never disagree on what a PCR file says.
 */
#include "config.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "akpub.h"
#include "evidence_internal.h"
#include "json_members.h"
#include "quote_internal.h"

struct evidence_log {
	const char *name;
	uint8_t *data;
	size_t len;
};

struct pcrgate_evidence {
	uint8_t nonce[PCRGATE_EVIDENCE_MAX_NONCE];
	size_t nonce_len;
	uint8_t ak_public[PCRGATE_EVIDENCE_MAX_AK_PUBLIC];
	size_t ak_public_len;
	pcrgate_akpub *ak;
	uint8_t ak_name[PCRGATE_QUOTE_MAX_NAME];
	size_t ak_name_len;
	uint8_t ak_qn[PCRGATE_QUOTE_MAX_NAME];
	size_t ak_qn_len;
	uint8_t attest[PCRGATE_QUOTE_MAX_ATTEST];
	size_t attest_len;
	uint8_t signature[PCRGATE_QUOTE_MAX_SIGNATURE];
	size_t signature_len;
	pcrgate_pcrs *pcrs;
	pcrgate_clock_state clock;
	int safe;
	uint64_t firmware_version;
	struct evidence_log logs[PCRGATE_EVIDENCE_MAX_EVENTLOGS];
	size_t nlogs;
};

/* The members of each object, and the event logs in the order they are replayed. */
static const char *const top_members[] = {"format", "version", "nonce", "ak_public", "ak_name",
					  "ak_qualified_name", "attest", "signature", "pcrs", "clock",
					  "eventlogs", NULL};
static const char *const clock_members[] = {"clock", "reset_count", "restart_count", "safe",
					    "firmware_version", NULL};
static const char *const log_names[PCRGATE_EVIDENCE_MAX_EVENTLOGS + 1] = {"firmware", "boot", NULL};

#define PREFIX "evidence"

static int bad(pcrgate_errinfo *ei, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad(pcrgate_errinfo *ei, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = pcrgate_json_vfail(ei, PCRGATE_ERR_FORMAT, PREFIX, fmt, ap);
	va_end(ap);
	return r;
}

/* Refuses any member of obj not in names (what: the object's name for messages). */
static int only_members(const json_t *obj, const char *what, const char *const *names, pcrgate_errinfo *ei)
{
	return pcrgate_json_only_members(obj, PREFIX, what, names, ei);
}

/* Member key of obj as a string without NUL; path names it in messages. */
static int get_string(const json_t *obj, const char *path, const char *key, const char **out, size_t *len,
		      pcrgate_errinfo *ei)
{
	return pcrgate_json_get_string(obj, PREFIX, path, key, 0, SIZE_MAX, out, len, ei);
}

/* Hex of min..cap bytes into out. */
static int get_hex(const json_t *obj, const char *key, size_t min, uint8_t *out, size_t cap, size_t *len,
		   pcrgate_errinfo *ei)
{
	const char *s;
	size_t n;
	int r;

	if ((r = get_string(obj, key, key, &s, &n, ei)) != 0)
		return r;
	if (n / 2 > cap)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, PCRGATE_NO_OFFSET,
					   "evidence: member \"%s\" holds %zu bytes (at most %zu)", key, n / 2, cap);
	if (n / 2 < min)
		return bad(ei, "member \"%s\" holds %zu bytes (at least %zu)", key, n / 2, min);
	if (pcrgate_hex_decode(s, out, cap, len) != 0)
		return bad(ei, "member \"%s\" is not hex", key);
	return PCRGATE_OK;
}

/* Base64 member key of obj, min..cap bytes, into out. */
static int get_b64(const json_t *obj, const char *path, const char *key, size_t min, uint8_t *out, size_t cap,
		   size_t *len, pcrgate_errinfo *ei)
{
	const char *s;
	size_t n;
	int r;

	if ((r = get_string(obj, path, key, &s, &n, ei)) != 0 ||
	    (r = pcrgate_json_b64_decode(PREFIX, path, s, n, out, cap, len, ei)) != 0)
		return r;
	if (*len < min)
		return bad(ei, "member \"%s\" holds %zu bytes (at least %zu)", path, *len, min);
	return PCRGATE_OK;
}

/* An integer member of obj in 0..max. */
static int get_uint(const json_t *obj, const char *path, const char *key, uint64_t max, uint64_t *out,
		    pcrgate_errinfo *ei)
{
	return pcrgate_json_get_uint(obj, PREFIX, path, key, 0, max, out, ei);
}

static int get_object(const json_t *obj, const char *key, json_t **out, pcrgate_errinfo *ei)
{
	return pcrgate_json_get_object(obj, PREFIX, key, key, out, ei);
}

static int parse_header(const json_t *root, pcrgate_errinfo *ei)
{
	const char *format;
	uint64_t version;
	size_t n;
	int r;

	if ((r = get_string(root, "format", "format", &format, &n, ei)) != 0)
		return r;
	if (strcmp(format, PCRGATE_EVIDENCE_FORMAT) != 0)
		return bad(ei, "format \"%.40s\" is not \"%s\"", format, PCRGATE_EVIDENCE_FORMAT);
	if ((r = get_uint(root, "version", "version", UINT32_MAX, &version, ei)) != 0)
		return r;
	if (version != PCRGATE_EVIDENCE_VERSION)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_UNSUPPORTED, PCRGATE_NO_OFFSET,
					   "evidence: version %" PRIu64 " is not supported (only %d)", version,
					   PCRGATE_EVIDENCE_VERSION);
	return only_members(root, "the document", top_members, ei);
}

/*
 * The AK: a TPM2B_PUBLIC that loads, whose TPM name is the document's ak_name. With
 * PCRGATE_EVIDENCE_NO_AK_KEY only its framing and name are checked: building the key costs
 * more than the quote's signature check, and such a caller verifies with another key.
 */
static int parse_ak(const json_t *root, unsigned flags, pcrgate_evidence *ev, pcrgate_errinfo *ei)
{
	uint8_t own[PCRGATE_QUOTE_MAX_NAME];
	const uint8_t *name;
	size_t name_len = 0;
	int r;

	if ((r = get_b64(root, "ak_public", "ak_public", 1, ev->ak_public, sizeof(ev->ak_public),
			 &ev->ak_public_len, ei)) != 0 ||
	    (r = get_hex(root, "ak_name", 1, ev->ak_name, sizeof(ev->ak_name), &ev->ak_name_len, ei)) != 0 ||
	    (r = get_hex(root, "ak_qualified_name", 1, ev->ak_qn, sizeof(ev->ak_qn), &ev->ak_qn_len, ei)) != 0)
		return r;
	if (flags & PCRGATE_EVIDENCE_NO_AK_KEY) {
		if ((r = akpub_tpm2b_name(ev->ak_public, ev->ak_public_len, own, &name_len, ei)) != 0) {
			char why[sizeof(ei->message)];

			snprintf(why, sizeof(why), "%s", ei != NULL ? ei->message : pcrgate_strerror(r));
			return bad(ei, "member \"ak_public\": %s", why);
		}
		if (name_len != ev->ak_name_len || !pcrgate_ct_equal(own, ev->ak_name, name_len))
			return bad(ei, "member \"ak_name\" is not the name of ak_public");
		return PCRGATE_OK;
	}
	if ((ev->ak = pcrgate_akpub_new()) == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
	if ((r = pcrgate_akpub_load(ev->ak, ev->ak_public, ev->ak_public_len, ei)) != 0) {
		char why[sizeof(ei->message)];

		snprintf(why, sizeof(why), "%s", ei != NULL ? ei->message : pcrgate_strerror(r));
		return bad(ei, "member \"ak_public\": %s", why);
	}
	if (pcrgate_akpub_format(ev->ak) != PCRGATE_AKPUB_TPM2B_PUBLIC)
		return bad(ei, "member \"ak_public\" is not a TPM2B_PUBLIC");
	name = pcrgate_akpub_name(ev->ak, &name_len);
	if (name == NULL || name_len != ev->ak_name_len || !pcrgate_ct_equal(name, ev->ak_name, name_len))
		return bad(ei, "member \"ak_name\" is not the name of ak_public");
	return PCRGATE_OK;
}

/* The PCR values, read by the JSON PCR-file reader from the member as parsed. */
static int parse_pcrs(const json_t *root, pcrgate_evidence *ev, pcrgate_errinfo *ei)
{
	json_t *pcrs = NULL, *v;
	const char *bank;
	int r;

	if ((r = get_object(root, "pcrs", &pcrs, ei)) != 0)
		return r;
	/* The reader also takes {"pcrs": {...}}; here every member must be a bank. */
	json_object_foreach(pcrs, bank, v)
	{
		if (pcrgate_alg_from_name(bank) == 0)
			return bad(ei, "member \"pcrs\": unknown bank \"%.40s\"", bank);
	}
	if ((r = pcrfile_from_json(pcrs, &ev->pcrs, ei)) != 0) {
		char why[sizeof(ei->message)];

		snprintf(why, sizeof(why), "%s", ei != NULL ? ei->message : pcrgate_strerror(r));
		return bad(ei, "member \"pcrs\": %s", why);
	}
	if (pcrgate_pcrs_bank_count(ev->pcrs) == 0)
		return bad(ei, "member \"pcrs\" holds no PCR value");
	return PCRGATE_OK;
}

static int parse_clock(const json_t *root, pcrgate_evidence *ev, pcrgate_errinfo *ei)
{
	json_t *clock = NULL, *safe;
	const char *fw;
	uint64_t v, resets, restarts;
	size_t n, i;
	int r;

	if ((r = get_object(root, "clock", &clock, ei)) != 0 ||
	    (r = only_members(clock, "\"clock\"", clock_members, ei)) != 0 ||
	    (r = get_uint(clock, "clock.clock", "clock", INT64_MAX, &v, ei)) != 0 ||
	    (r = get_uint(clock, "clock.reset_count", "reset_count", UINT32_MAX, &resets, ei)) != 0 ||
	    (r = get_uint(clock, "clock.restart_count", "restart_count", UINT32_MAX, &restarts, ei)) != 0 ||
	    (r = get_string(clock, "clock.firmware_version", "firmware_version", &fw, &n, ei)) != 0)
		return r;
	if ((safe = json_object_get(clock, "safe")) == NULL)
		return bad(ei, "member \"clock.safe\" is missing");
	if (!json_is_boolean(safe))
		return bad(ei, "member \"clock.safe\" is not a boolean");
	/* "0x" and 1 to 16 hex digits, as the agent writes a UINT64. */
	if (n < 3 || n > 18 || fw[0] != '0' || fw[1] != 'x')
		return bad(ei, "member \"clock.firmware_version\" is not 0x and 1 to 16 hex digits");
	ev->firmware_version = 0;
	for (i = 2; i < n; i++) {
		char c = fw[i];
		int d = c >= '0' && c <= '9' ? c - '0'
			: c >= 'a' && c <= 'f' ? c - 'a' + 10
			: c >= 'A' && c <= 'F' ? c - 'A' + 10
					       : -1;
		if (d < 0)
			return bad(ei, "member \"clock.firmware_version\" is not 0x and 1 to 16 hex digits");
		ev->firmware_version = ev->firmware_version << 4 | (uint64_t)d;
	}
	ev->clock.clock = v;
	ev->clock.reset_count = (uint32_t)resets;
	ev->clock.restart_count = (uint32_t)restarts;
	ev->safe = json_is_true(safe);
	return PCRGATE_OK;
}

/* The logs the document carries, in replay order; each one decoded into its own buffer. */
static int parse_logs(const json_t *root, pcrgate_evidence *ev, pcrgate_errinfo *ei)
{
	json_t *logs = NULL;
	const char *s;
	char path[32];
	size_t i, n;
	int r;

	if ((r = get_object(root, "eventlogs", &logs, ei)) != 0 ||
	    (r = only_members(logs, "\"eventlogs\"", log_names, ei)) != 0)
		return r;
	for (i = 0; log_names[i] != NULL; i++) {
		struct evidence_log *l = &ev->logs[ev->nlogs];
		if (json_object_get(logs, log_names[i]) == NULL)
			continue;
		snprintf(path, sizeof(path), "eventlogs.%s", log_names[i]);
		if ((r = get_string(logs, path, log_names[i], &s, &n, ei)) != 0)
			return r;
		/* Decoded size from the text's length, capped first: nothing is allocated for an oversized log. */
		if (n / 4 * 3 > PCRGATE_EVENTLOG_MAX_SIZE + 2)
			return pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, PCRGATE_NO_OFFSET,
						   "evidence: member \"%s\" holds more than %u bytes", path,
						   PCRGATE_EVENTLOG_MAX_SIZE);
		if ((l->data = malloc(n / 4 * 3 + 1)) == NULL)
			return pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
		l->name = log_names[i];
		ev->nlogs++;
		if ((r = pcrgate_json_b64_decode(PREFIX, path, s, n, l->data, PCRGATE_EVENTLOG_MAX_SIZE, &l->len, ei)) != 0)
			return r;
		if (l->len == 0)
			return bad(ei, "member \"%s\" is empty", path);
	}
	return PCRGATE_OK;
}

int pcrgate_evidence_parse_json(const json_t *doc, unsigned flags, pcrgate_evidence **out, pcrgate_errinfo *ei)
{
	pcrgate_evidence *ev = NULL;
	int r;

	if (doc == NULL || out == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET, "no evidence given");
	if (!json_is_object(doc))
		return bad(ei, "the document is not a JSON object");
	if ((ev = calloc(1, sizeof(*ev))) == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
	if ((r = parse_header(doc, ei)) != 0 ||
	    (r = get_hex(doc, "nonce", 0, ev->nonce, sizeof(ev->nonce), &ev->nonce_len, ei)) != 0 ||
	    (r = parse_ak(doc, flags, ev, ei)) != 0 ||
	    (r = get_b64(doc, "attest", "attest", 1, ev->attest, sizeof(ev->attest), &ev->attest_len, ei)) != 0 ||
	    (r = get_b64(doc, "signature", "signature", 1, ev->signature, sizeof(ev->signature),
			 &ev->signature_len, ei)) != 0 ||
	    (r = parse_pcrs(doc, ev, ei)) != 0 || (r = parse_clock(doc, ev, ei)) != 0 ||
	    (r = parse_logs(doc, ev, ei)) != 0)
		goto fail;
	*out = ev;
	ev = NULL;
	r = PCRGATE_OK;
fail:
	pcrgate_evidence_free(&ev);
	return r;
}

int pcrgate_evidence_parse(const uint8_t *buf, size_t len, pcrgate_evidence **out, pcrgate_errinfo *ei)
{
	json_error_t jerr;
	json_t *root;
	int r;

	if (buf == NULL || out == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET, "no evidence given");
	if (len > PCRGATE_EVIDENCE_MAX_SIZE)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, PCRGATE_NO_OFFSET,
					   "evidence of %zu bytes (at most %u)", len, PCRGATE_EVIDENCE_MAX_SIZE);
	root = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, (size_t)jerr.position, "evidence: JSON: %s",
					   jerr.text);
	r = pcrgate_evidence_parse_json(root, 0, out, ei);
	json_decref(root);
	return r;
}

void pcrgate_evidence_free(pcrgate_evidence **ev)
{
	size_t i;

	if (ev == NULL || *ev == NULL)
		return;
	for (i = 0; i < (*ev)->nlogs; i++)
		free((*ev)->logs[i].data);
	pcrgate_akpub_free(&(*ev)->ak);
	pcrgate_pcrs_free(&(*ev)->pcrs);
	free(*ev);
	*ev = NULL;
}

/* A borrowed byte member and its size. */
static const uint8_t *bytes(const uint8_t *p, size_t n, size_t *len)
{
	if (len != NULL)
		*len = n;
	return p;
}

const uint8_t *pcrgate_evidence_nonce(const pcrgate_evidence *ev, size_t *len)
{
	return ev ? bytes(ev->nonce, ev->nonce_len, len) : NULL;
}

const uint8_t *pcrgate_evidence_ak_public(const pcrgate_evidence *ev, size_t *len)
{
	return ev ? bytes(ev->ak_public, ev->ak_public_len, len) : NULL;
}

const pcrgate_akpub *pcrgate_evidence_ak(const pcrgate_evidence *ev)
{
	return ev ? ev->ak : NULL;
}

const uint8_t *pcrgate_evidence_ak_name(const pcrgate_evidence *ev, size_t *len)
{
	return ev ? bytes(ev->ak_name, ev->ak_name_len, len) : NULL;
}

const uint8_t *pcrgate_evidence_ak_qualified_name(const pcrgate_evidence *ev, size_t *len)
{
	return ev ? bytes(ev->ak_qn, ev->ak_qn_len, len) : NULL;
}

const uint8_t *pcrgate_evidence_attest(const pcrgate_evidence *ev, size_t *len)
{
	return ev ? bytes(ev->attest, ev->attest_len, len) : NULL;
}

const uint8_t *pcrgate_evidence_signature(const pcrgate_evidence *ev, size_t *len)
{
	return ev ? bytes(ev->signature, ev->signature_len, len) : NULL;
}

const pcrgate_pcrs *pcrgate_evidence_pcrs(const pcrgate_evidence *ev)
{
	return ev ? ev->pcrs : NULL;
}

int pcrgate_evidence_clock(const pcrgate_evidence *ev, pcrgate_clock_state *clock, int *safe,
			   uint64_t *firmware_version)
{
	if (ev == NULL || clock == NULL)
		return PCRGATE_ERR_INVALID_ARGUMENT;
	*clock = ev->clock;
	if (safe != NULL)
		*safe = ev->safe;
	if (firmware_version != NULL)
		*firmware_version = ev->firmware_version;
	return PCRGATE_OK;
}

size_t pcrgate_evidence_eventlog_count(const pcrgate_evidence *ev)
{
	return ev ? ev->nlogs : 0;
}

const uint8_t *pcrgate_evidence_eventlog(const pcrgate_evidence *ev, size_t i, const char **name, size_t *len)
{
	if (ev == NULL || i >= ev->nlogs)
		return NULL;
	if (name != NULL)
		*name = ev->logs[i].name;
	if (len != NULL)
		*len = ev->logs[i].len;
	return ev->logs[i].data;
}

_Static_assert(PCRGATE_EVIDENCE_MAX_EVENTLOGS <= PCRGATE_QUOTE_MAX_EVENTLOGS, "the logs fit a quote input");

int pcrgate_evidence_quote_input(const pcrgate_evidence *ev, pcrgate_quote_input *in)
{
	size_t i;

	if (ev == NULL || in == NULL)
		return PCRGATE_ERR_INVALID_ARGUMENT;
	in->attest = ev->attest;
	in->attest_len = ev->attest_len;
	in->signature = ev->signature;
	in->signature_len = ev->signature_len;
	in->pcrs = ev->pcrs;
	in->ak_qualified_name = ev->ak_qn;
	in->ak_qualified_name_len = ev->ak_qn_len;
	for (i = 0; i < ev->nlogs; i++) {
		in->eventlogs[i].name = ev->logs[i].name;
		in->eventlogs[i].data = ev->logs[i].data;
		in->eventlogs[i].len = ev->logs[i].len;
	}
	in->eventlog_count = ev->nlogs;
	return PCRGATE_OK;
}

int pcrgate_evidence_report_binding(const uint8_t *nonce, size_t nonce_len, const uint8_t *report,
				    size_t report_len, uint8_t out[PCRGATE_EVIDENCE_BINDING_SIZE])
{
	uint8_t md[EVP_MAX_MD_SIZE];
	EVP_MD_CTX *ctx;
	unsigned n = 0;
	int ok;

	if ((nonce == NULL && nonce_len > 0) || (report == NULL && report_len > 0) || out == NULL)
		return PCRGATE_ERR_INVALID_ARGUMENT;
	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return PCRGATE_ERR_NOMEM;
	ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
	     (nonce_len == 0 || EVP_DigestUpdate(ctx, nonce, nonce_len) == 1) &&
	     (report_len == 0 || EVP_DigestUpdate(ctx, report, report_len) == 1) &&
	     EVP_DigestFinal_ex(ctx, md, &n) == 1 && n == PCRGATE_EVIDENCE_BINDING_SIZE;
	EVP_MD_CTX_free(ctx);
	if (!ok) {
		pcrgate_log_openssl(__func__, "SHA-256");
		return PCRGATE_ERR_CRYPTO;
	}
	memcpy(out, md, n);
	return PCRGATE_OK;
}
