/*
 * Unit tests for reference policies: the parser's refusals (each naming its JSON path), and
 * evaluation against event logs written here with the event-log writer: a passing device, a
 * changed event, a missing required event, an unknown release, a security version below the
 * minimum, a data rule on an event whose digest is not its data's hash, PCRs the quote does
 * not vouch for, and the cap on listed reasons. The policies built here are left as seeds for
 * the fuzz target (tests/fuzz/corpus/refpolicy).
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pcrgate/eventlog.h"
#include "pcrgate/pcr_map.h"
#include "refpolicy.h"
#include "seed.h"

#define LOG_CAP (64 * 1024)
#define DOC_CAP (64 * 1024)
#define GLOBAL_GUID "8be4df61-93ca-11d2-aa0d-00e098032b8c"
#define BOOT_ACTION "Calling EFI Application from Boot Option"

static const uint16_t banks[] = {PCRGATE_ALG_SHA1, PCRGATE_ALG_SHA256};

struct lb {
	uint8_t b[LOG_CAP];
	size_t len;
};

/* Seeds for the fuzzer. */
static void save_seed(const char *file, const char *doc)
{
	assert_true(test_seed_write("refpolicy", file, doc, strlen(doc)) >= 0);
}

static void log_init(struct lb *l)
{
	assert_int_equal(pcrgate_eventlog_write_header(l->b, sizeof(l->b), banks, 2, &l->len), 0);
}

/* An event whose digests are the hash of hashed (the data itself when hashed is NULL). */
static void log_event(struct lb *l, uint32_t pcr, uint32_t type, const void *data, size_t len, const void *hashed,
		      size_t hashed_len)
{
	uint8_t d1[20], d256[32];
	pcrgate_eventlog_digest dg[2] = {{PCRGATE_ALG_SHA1, d1}, {PCRGATE_ALG_SHA256, d256}};
	size_t w = 0;

	if (hashed == NULL) {
		hashed = data;
		hashed_len = len;
	}
	assert_int_equal(pcrgate_digest(PCRGATE_ALG_SHA1, hashed, hashed_len, d1), 0);
	assert_int_equal(pcrgate_digest(PCRGATE_ALG_SHA256, hashed, hashed_len, d256), 0);
	assert_int_equal(pcrgate_eventlog_write_event(l->b + l->len, sizeof(l->b) - l->len, pcr, type, dg, 2, data,
						      len, &w),
			 0);
	l->len += w;
}

/* A UEFI_VARIABLE_DATA for an ASCII name under the EFI global variable GUID. */
static size_t efi_var(uint8_t *out, const char *name, const uint8_t *data, size_t len)
{
	static const uint8_t guid[16] = {0x61, 0xdf, 0xe4, 0x8b, 0xca, 0x93, 0xd2, 0x11,
					 0xaa, 0x0d, 0x00, 0xe0, 0x98, 0x03, 0x2b, 0x8c};
	size_t n = strlen(name), i, o = 0;

	memcpy(out, guid, 16);
	o = 16;
	for (i = 0; i < 8; i++)
		out[o + i] = (uint8_t)(i == 0 ? n : 0);
	o += 8;
	for (i = 0; i < 8; i++)
		out[o + i] = (uint8_t)(i == 0 ? len : 0);
	o += 8;
	for (i = 0; i < n; i++) {
		out[o++] = (uint8_t)name[i];
		out[o++] = 0;
	}
	memcpy(out + o, data, len);
	return o + len;
}

static const uint8_t sep0[4] = {0, 0, 0, 0};

/* A firmware log: CRTM version, a POST code, Secure Boot state, the boot action, separators. */
struct fw_opts {
	uint8_t secure_boot;     /* the SecureBoot variable's value */
	const char *action;      /* EV_EFI_ACTION text on PCR 4 */
	int action_digest_wrong; /* the action's digest is not the hash of its data */
	int sb_digest_wrong;     /* the SecureBoot event's digest is the hash of other data */
	size_t extra_bad;        /* this many extra events nobody allows, on PCR 2 */
};

static void firmware_log(struct lb *l, const struct fw_opts *o)
{
	uint8_t var[128], other[128];
	size_t n, m, i;
	const uint8_t zero = 0;

	log_init(l);
	log_event(l, 0, PCRGATE_EV_S_CRTM_VERSION, "1\0.\0" "0\0\0\0", 8, NULL, 0);
	log_event(l, 0, PCRGATE_EV_POST_CODE, "ACPI DATA", 9, "acpi tables", 11);
	n = efi_var(var, "SecureBoot", &o->secure_boot, 1);
	m = efi_var(other, "SecureBoot", &zero, 1);
	log_event(l, 7, PCRGATE_EV_EFI_VARIABLE_DRIVER_CONFIG, var, n, o->sb_digest_wrong ? other : NULL,
		  o->sb_digest_wrong ? m : 0);
	for (i = 0; i < o->extra_bad; i++)
		log_event(l, 2, PCRGATE_EV_EFI_BOOT_SERVICES_DRIVER, &i, sizeof(i), NULL, 0);
	log_event(l, 4, PCRGATE_EV_EFI_ACTION, o->action, strlen(o->action),
		  o->action_digest_wrong ? "something else" : NULL, o->action_digest_wrong ? 14 : 0);
	for (i = 0; i <= 7; i++)
		log_event(l, (uint32_t)i, PCRGATE_EV_SEPARATOR, sep0, 4, NULL, 0);
}

/* pcrgate's boot events for one release, as docs/pcr-map.md describes them. */
static void boot_log(struct lb *l, const char *version, unsigned sv)
{
	char ev[256];
	int n;

	log_init(l);
	n = snprintf(ev, sizeof(ev),
		     "pcrgate.slot: slot=a version=%s security_version=%u manifest_sha256="
		     "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		     version, sv);
	log_event(l, 9, PCRGATE_EV_IPL, ev, (size_t)n + 1, ev + 14, (size_t)n - 14);
	n = snprintf(ev, sizeof(ev), "pcrgate.image: image=kernel size=4 sha256="
				     "88d4266fd4e6338d13b845fcf289579d209c897823b9217da3e161936f031589");
	log_event(l, 8, PCRGATE_EV_IPL, ev, (size_t)n + 1, ev + 15, (size_t)n - 15);
	log_event(l, 8, PCRGATE_EV_SEPARATOR, sep0, 4, NULL, 0);
	log_event(l, 9, PCRGATE_EV_SEPARATOR, sep0, 4, NULL, 0);
}

/* Everything an evaluation needs, as if a quote of the replayed PCRs had been verified. */
struct device {
	struct lb fw, boot;
	pcrgate_pcrs *pcrs;
	pcrgate_quote_result qr; /* with the logs parsed, as a verified quote's result keeps them */
};

static void replay_into(pcrgate_pcrs *all, const struct lb *l)
{
	pcrgate_eventlog *log = NULL;
	pcrgate_pcrs *one = NULL;
	const uint8_t *v;
	size_t b, len;
	unsigned k;

	assert_int_equal(pcrgate_eventlog_parse(l->b, l->len, &log, NULL), 0);
	assert_int_equal(pcrgate_eventlog_replay(log, &one, NULL), 0);
	for (b = 0; b < 2; b++)
		for (k = 0; k < PCRGATE_MAX_PCRS; k++)
			if ((v = pcrgate_pcrs_get(one, banks[b], k, &len)) != NULL)
				assert_int_equal(pcrgate_pcrs_set(all, banks[b], k, v, len), 0);
	pcrgate_pcrs_free(&one);
	pcrgate_eventlog_free(&log);
}

static struct device *device_new(const struct fw_opts *o, const char *version, unsigned sv)
{
	struct device *d = calloc(1, sizeof(*d));
	size_t b;

	assert_non_null(d);
	firmware_log(&d->fw, o);
	boot_log(&d->boot, version, sv);
	assert_non_null(d->pcrs = pcrgate_pcrs_new());
	replay_into(d->pcrs, &d->fw);
	replay_into(d->pcrs, &d->boot);
	d->qr.selection_count = 2;
	d->qr.eventlog_verified_count = 2;
	for (b = 0; b < 2; b++) {
		d->qr.selection[b].alg = banks[b];
		d->qr.selection[b].mask = pcrgate_pcrs_mask(d->pcrs, banks[b]);
		d->qr.eventlog_verified[b].alg = banks[b];
		d->qr.eventlog_verified[b].mask = d->qr.selection[b].mask;
	}
	assert_int_equal(pcrgate_eventlog_parse(d->fw.b, d->fw.len, &d->qr.eventlogs[0].log, NULL), 0);
	assert_int_equal(pcrgate_eventlog_parse(d->boot.b, d->boot.len, &d->qr.eventlogs[1].log, NULL), 0);
	strcpy(d->qr.eventlogs[0].name, "firmware");
	strcpy(d->qr.eventlogs[1].name, "boot");
	d->qr.eventlog_count = 2;
	return d;
}

static void device_free(struct device *d)
{
	pcrgate_quote_result_clear(&d->qr);
	pcrgate_pcrs_free(&d->pcrs);
	free(d);
}

static const struct fw_opts good = {1, BOOT_ACTION, 0, 0, 0};

static void hexval(const pcrgate_pcrs *pcrs, unsigned k, char out[65])
{
	pcrgate_hex_encode(pcrgate_pcrs_get(pcrs, PCRGATE_ALG_SHA256, k, NULL), 32, out);
}

static void sha256_hex(const void *data, size_t len, char out[65])
{
	uint8_t d[32];

	assert_int_equal(pcrgate_digest(PCRGATE_ALG_SHA256, data, len, d), 0);
	pcrgate_hex_encode(d, 32, out);
}

/*
 * The reference policy of the good device: release 1.0 (security version 3) and 1.1 (4), each
 * with the PCR 8/9 values of its boot; min is the minimum security version.
 */
static char *good_policy(unsigned min)
{
	struct device *d10 = device_new(&good, "1.0", 3), *d11 = device_new(&good, "1.1", 4);
	char a8[65], a9[65], b8[65], b9[65], post[65];
	char *doc = malloc(DOC_CAP);

	assert_non_null(doc);
	hexval(d10->pcrs, 8, a8);
	hexval(d10->pcrs, 9, a9);
	hexval(d11->pcrs, 8, b8);
	hexval(d11->pcrs, 9, b9);
	sha256_hex("acpi tables", 11, post);
	snprintf(doc, DOC_CAP,
		 "{\"format\": \"pcrgate-refpolicy\", \"version\": 1, \"name\": \"test-gateway\",\n"
		 " \"description\": \"unit test\",\n"
		 " \"measurements\": {\n"
		 "  \"0\": [{\"type\": \"EV_S_CRTM_VERSION\", \"data\": \"31002e0030000000\"},\n"
		 "         {\"type\": \"EV_POST_CODE\", \"digest\": \"%s\", \"comment\": \"ACPI DATA\"},\n"
		 "         {\"type\": \"EV_SEPARATOR\", \"data\": \"00000000\"}],\n"
		 "  \"2\": [{\"type\": \"EV_SEPARATOR\", \"data\": \"00000000\"}],\n"
		 "  \"4\": [{\"type\": \"EV_EFI_ACTION\", \"text\": \"" BOOT_ACTION "\"},\n"
		 "         {\"type\": \"EV_SEPARATOR\", \"data\": \"00000000\"}],\n"
		 "  \"7\": [{\"type\": \"EV_EFI_VARIABLE_DRIVER_CONFIG\",\n"
		 "          \"variable\": {\"guid\": \"" GLOBAL_GUID "\", \"name\": \"SecureBoot\"}},\n"
		 "         {\"type\": \"EV_SEPARATOR\", \"data\": \"00000000\"}]},\n"
		 " \"required\": [{\"pcr\": 7, \"type\": \"EV_EFI_VARIABLE_DRIVER_CONFIG\",\n"
		 "   \"variable\": {\"guid\": \"" GLOBAL_GUID "\", \"name\": \"SecureBoot\", \"data\": \"01\"},\n"
		 "   \"comment\": \"Secure Boot enabled\"}],\n"
		 " \"releases\": [\n"
		 "  {\"name\": \"gw-1.0\", \"version\": \"1.0\", \"security_version\": 3, \"pcrs\": {\"8\": \"%s\", \"9\": \"%s\"}},\n"
		 "  {\"name\": \"gw-1.1\", \"version\": \"1.1\", \"security_version\": 4, \"pcrs\": {\"8\": \"%s\", \"9\": \"%s\"}}],\n"
		 " \"min_security_version\": %u}\n",
		 post, a8, a9, b8, b9, min);
	device_free(d10);
	device_free(d11);
	return doc;
}

static pcrgate_refpolicy *parse_ok(const char *doc)
{
	pcrgate_refpolicy *p = NULL;
	pcrgate_errinfo ei;

	pcrgate_errinfo_clear(&ei);
	if (pcrgate_refpolicy_parse((const uint8_t *)doc, strlen(doc), &p, &ei) != 0)
		fail_msg("policy refused: %s", ei.message);
	return p;
}

static void evaluate(const pcrgate_refpolicy *p, const struct device *d, pcrgate_refpolicy_verdict *v)
{
	pcrgate_errinfo ei;

	pcrgate_errinfo_clear(&ei);
	if (pcrgate_refpolicy_evaluate(p, d->pcrs, &d->qr, v, &ei) != 0)
		fail_msg("evaluation failed: %s", ei.message);
}

static int has_reason(const pcrgate_refpolicy_verdict *v, pcrgate_refpolicy_code code, const char *needle)
{
	size_t i;

	for (i = 0; i < v->reason_count; i++)
		if (v->reasons[i].code == code && strcmp(v->reasons[i].code_name, pcrgate_refpolicy_code_name(code)) == 0 &&
		    (needle == NULL || strstr(v->reasons[i].detail, needle) != NULL))
			return 1;
	return 0;
}

static void print_reasons(const pcrgate_refpolicy_verdict *v)
{
	size_t i;

	for (i = 0; i < v->reason_count; i++)
		print_message("  %s: %s\n", v->reasons[i].code_name, v->reasons[i].detail);
}

static void test_pass(void **state)
{
	char *doc = good_policy(3);
	pcrgate_refpolicy *p = parse_ok(doc);
	struct device *d = device_new(&good, "1.1", 4);
	pcrgate_refpolicy_verdict v;

	(void)state;
	save_seed("good.json", doc);
	assert_string_equal(pcrgate_refpolicy_name(p), "test-gateway");
	assert_int_equal(strlen(pcrgate_refpolicy_digest(p)), 64);
	assert_int_equal(pcrgate_refpolicy_bank(p), PCRGATE_ALG_SHA256);
	assert_int_equal(pcrgate_refpolicy_min_security_version(p), 3);
	assert_int_equal(pcrgate_refpolicy_pcr_mask(p), (1u << 0) | (1u << 2) | (1u << 4) | (1u << 7) | (1u << 8) | (1u << 9));
	evaluate(p, d, &v);
	print_reasons(&v);
	assert_true(v.ok);
	assert_int_equal(v.reason_count, 0);
	assert_true(v.release_matched);
	assert_string_equal(v.release_name, "gw-1.1");
	assert_string_equal(v.release_version, "1.1");
	assert_int_equal(v.security_version, 4);
	device_free(d);
	pcrgate_refpolicy_free(&p);
	assert_null(p);
	pcrgate_refpolicy_free(&p);
	pcrgate_refpolicy_free(NULL);
	free(doc);
}

/*
 * A device refused for one reason: the policy with minimum security version min, a device
 * booting release version at security version sv from a firmware log changed as described.
 */
struct refusal {
	unsigned min;
	const char *action;          /* the boot action on PCR 4, when not the allowed one */
	int secure_boot_off;         /* SecureBoot=00: allowed on PCR 7, but not the required 01 */
	const char *version;
	unsigned sv;
	pcrgate_refpolicy_code code; /* the only reason */
	const char *details[2];      /* each in that reason's detail, when not NULL */
	int names_action_digest;     /* the detail also names the boot action's SHA-256 */
	const char *release;         /* the release matched, or NULL when none must match */
};

static const struct refusal refusals[] = {
	/* PCR, log and event index, digest. */
	{3, "Calling EFI Application from a USB stick", 0, "1.0", 3, PCRGATE_REFPOLICY_MEASUREMENT_NOT_ALLOWED,
	 {"PCR 4, firmware event 4 (EV_EFI_ACTION)", NULL}, 1, "gw-1.0"},
	{3, NULL, 1, "1.0", 3, PCRGATE_REFPOLICY_REQUIRED_EVENT_MISSING, {"Secure Boot enabled", "PCR 7"}, 0, "gw-1.0"},
	{3, NULL, 0, "2.0-unsigned", 4, PCRGATE_REFPOLICY_UNKNOWN_RELEASE, {"PCR 8", NULL}, 0, NULL},
	{4, NULL, 0, "1.0", 3, PCRGATE_REFPOLICY_SECURITY_VERSION_LOW, {"below the minimum 4", NULL}, 0, "gw-1.0"},
};

static void test_refusal(void **state)
{
	const struct refusal *c = *state;
	char *doc = good_policy(c->min);
	pcrgate_refpolicy *p = parse_ok(doc);
	struct fw_opts o = good;
	struct device *d;
	pcrgate_refpolicy_verdict v;
	char digest[65];
	size_t i;

	if (c->action != NULL)
		o.action = c->action;
	if (c->secure_boot_off)
		o.secure_boot = 0;
	d = device_new(&o, c->version, c->sv);
	evaluate(p, d, &v);
	print_reasons(&v);
	assert_false(v.ok);
	assert_int_equal(v.reason_count, 1);
	for (i = 0; i < sizeof(c->details) / sizeof(c->details[0]); i++)
		if (c->details[i] != NULL)
			assert_true(has_reason(&v, c->code, c->details[i]));
	if (c->names_action_digest) {
		sha256_hex(o.action, strlen(o.action), digest);
		assert_true(has_reason(&v, c->code, digest));
	}
	if (c->release != NULL) {
		assert_true(v.release_matched);
		assert_string_equal(v.release_name, c->release);
		assert_int_equal(v.security_version, c->sv);
	} else {
		assert_false(v.release_matched);
	}
	device_free(d);
	pcrgate_refpolicy_free(&p);
	free(doc);
}

/* The data says what the policy wants, but the digest extended is not its hash: refused. */
static void test_untrusted_data(void **state)
{
	char *doc = good_policy(3);
	pcrgate_refpolicy *p = parse_ok(doc);
	struct fw_opts o = good;
	struct device *d;
	pcrgate_refpolicy_verdict v;

	(void)state;
	o.action_digest_wrong = 1;
	o.sb_digest_wrong = 1; /* claims SecureBoot=01, extended the digest of SecureBoot=00 */
	d = device_new(&o, "1.0", 3);
	evaluate(p, d, &v);
	print_reasons(&v);
	assert_false(v.ok);
	assert_true(has_reason(&v, PCRGATE_REFPOLICY_MEASUREMENT_NOT_ALLOWED, "PCR 4"));
	assert_true(has_reason(&v, PCRGATE_REFPOLICY_MEASUREMENT_NOT_ALLOWED, "does not hash to its digest"));
	assert_true(has_reason(&v, PCRGATE_REFPOLICY_MEASUREMENT_NOT_ALLOWED, "PCR 7"));
	assert_true(has_reason(&v, PCRGATE_REFPOLICY_REQUIRED_EVENT_MISSING, "Secure Boot enabled"));
	assert_int_equal(v.reason_count, 3);
	device_free(d);
	pcrgate_refpolicy_free(&p);
	free(doc);
}

static void test_pcr_not_quoted(void **state)
{
	char *doc = good_policy(3);
	pcrgate_refpolicy *p = parse_ok(doc);
	struct device *d = device_new(&good, "1.0", 3);
	pcrgate_refpolicy_verdict v;
	pcrgate_errinfo ei;

	(void)state;
	/* The quote covers PCR 7 in sha256, but the log check did not vouch for its events. */
	d->qr.eventlog_verified[1].mask &= ~(1u << 7);
	evaluate(p, d, &v);
	print_reasons(&v);
	assert_false(v.ok);
	assert_int_equal(v.reason_count, 1); /* PCR 7 once, for its rules and its required event */
	assert_true(has_reason(&v, PCRGATE_REFPOLICY_PCR_NOT_QUOTED, "PCR 7 (sha256)"));

	/* PCR 9 not quoted at all: releases cannot be told apart. */
	d->qr.eventlog_verified[1].mask |= 1u << 7;
	d->qr.selection[1].mask &= ~(1u << 9);
	evaluate(p, d, &v);
	print_reasons(&v);
	assert_int_equal(v.reason_count, 1);
	assert_true(has_reason(&v, PCRGATE_REFPOLICY_PCR_NOT_QUOTED, "PCR 9 (sha256)"));
	assert_false(v.release_matched);

	/* Only sha1 vouched for: the sha256 policy's PCRs are all unvouched. */
	d->qr.selection_count = 1;
	d->qr.eventlog_verified_count = 1;
	evaluate(p, d, &v);
	assert_int_equal(v.counts[PCRGATE_REFPOLICY_PCR_NOT_QUOTED], 6);

	/* A quote that was not accepted cannot be evaluated. */
	d->qr.failed = PCRGATE_QUOTE_CHECK_PCR_DIGEST;
	assert_int_equal(pcrgate_refpolicy_evaluate(p, d->pcrs, &d->qr, &v, &ei),
			 PCRGATE_ERR_INVALID_ARGUMENT);
	device_free(d);
	pcrgate_refpolicy_free(&p);
	free(doc);
}

static void test_reason_cap(void **state)
{
	char *doc = good_policy(9);
	pcrgate_refpolicy *p = parse_ok(doc);
	struct fw_opts o = good;
	struct device *d;
	pcrgate_refpolicy_verdict v;

	(void)state;
	o.extra_bad = 40;
	o.secure_boot = 0;
	d = device_new(&o, "1.0", 3);
	evaluate(p, d, &v);
	assert_false(v.ok);
	assert_int_equal(v.counts[PCRGATE_REFPOLICY_MEASUREMENT_NOT_ALLOWED], 40);
	assert_int_equal(v.counts[PCRGATE_REFPOLICY_REQUIRED_EVENT_MISSING], 1);
	assert_int_equal(v.counts[PCRGATE_REFPOLICY_SECURITY_VERSION_LOW], 1);
	assert_int_equal(v.reason_count, PCRGATE_REFPOLICY_MAX_EVENT_REASONS + 2);
	assert_int_equal(v.omitted, 40 - PCRGATE_REFPOLICY_MAX_EVENT_REASONS);
	/* The few other reasons are listed, whatever the number of bad events. */
	assert_true(has_reason(&v, PCRGATE_REFPOLICY_REQUIRED_EVENT_MISSING, NULL));
	assert_true(has_reason(&v, PCRGATE_REFPOLICY_SECURITY_VERSION_LOW, NULL));
	device_free(d);
	pcrgate_refpolicy_free(&p);
	free(doc);
}

/* A policy in the sha1 bank, by digest only. */
static void test_sha1_bank(void **state)
{
	struct device *d = device_new(&good, "1.0", 3);
	uint8_t d1[20];
	char hex[41], doc[512];
	pcrgate_refpolicy *p;
	pcrgate_refpolicy_verdict v;

	(void)state;
	assert_int_equal(pcrgate_digest(PCRGATE_ALG_SHA1, sep0, 4, d1), 0);
	pcrgate_hex_encode(d1, 20, hex);
	snprintf(doc, sizeof(doc),
		 "{\"format\": \"pcrgate-refpolicy\", \"version\": 1, \"name\": \"sha1\", \"bank\": \"sha1\","
		 " \"measurements\": {\"2\": [{\"digest\": \"%s\"}], \"5\": [{\"digest\": \"%s\"}]}}",
		 hex, hex);
	save_seed("sha1.json", doc);
	p = parse_ok(doc);
	assert_int_equal(pcrgate_refpolicy_bank(p), PCRGATE_ALG_SHA1);
	evaluate(p, d, &v);
	print_reasons(&v);
	assert_true(v.ok);
	assert_false(v.release_matched);
	device_free(d);
	pcrgate_refpolicy_free(&p);
}

struct bad_doc {
	const char *doc;
	int code;
	const char *needle;
};

#define HDR "{\"format\": \"pcrgate-refpolicy\", \"version\": 1, \"name\": \"n\", "
#define D64 "0000000000000000000000000000000000000000000000000000000000000000"

static const struct bad_doc bad_docs[] = {
	{"not json", PCRGATE_ERR_FORMAT, "not valid JSON"},
	{"[]", PCRGATE_ERR_FORMAT, "$: a policy is a JSON object"},
	{"{\"format\": \"other\", \"version\": 1, \"name\": \"n\"}", PCRGATE_ERR_FORMAT, "$.format"},
	{"{\"format\": \"pcrgate-refpolicy\", \"version\": 2, \"name\": \"n\"}", PCRGATE_ERR_UNSUPPORTED, "$.version"},
	{"{\"format\": \"pcrgate-refpolicy\", \"version\": 1}", PCRGATE_ERR_FORMAT, "$.name: missing"},
	{HDR "\"extra\": 1}", PCRGATE_ERR_FORMAT, "$.extra: unknown member"},
	{HDR "\"name\": \"again\"}", PCRGATE_ERR_FORMAT, "duplicate"},
	{"{\"format\": \"pcrgate-refpolicy\", \"version\": 1, \"name\": \"a b\"}", PCRGATE_ERR_FORMAT, "$.name"},
	{HDR "\"bank\": \"md5\", \"measurements\": {}}", PCRGATE_ERR_FORMAT, "$.bank"},
	{HDR "\"measurements\": {}}", PCRGATE_ERR_FORMAT, "checks nothing"},
	{HDR "\"measurements\": {\"24\": []}}", PCRGATE_ERR_FORMAT, "$.measurements.24"},
	{HDR "\"measurements\": {\"07\": []}}", PCRGATE_ERR_FORMAT, "$.measurements.07"},
	{HDR "\"measurements\": {\"7\": {}}}", PCRGATE_ERR_FORMAT, "$.measurements.7: must be an array"},
	{HDR "\"measurements\": {\"7\": [{\"digest\": \"00\"}]}}", PCRGATE_ERR_FORMAT, "$.measurements.7[0].digest"},
	{HDR "\"measurements\": {\"7\": [{\"digest\": \"" D64 "\", \"foo\": 1}]}}", PCRGATE_ERR_FORMAT,
	 "$.measurements.7[0].foo: unknown member"},
	{HDR "\"measurements\": {\"7\": [{\"type\": \"EV_BOGUS\", \"digest\": \"" D64 "\"}]}}", PCRGATE_ERR_FORMAT,
	 "$.measurements.7[0].type"},
	{HDR "\"measurements\": {\"7\": [{\"type\": \"EV_SEPARATOR\"}]}}", PCRGATE_ERR_FORMAT,
	 "$.measurements.7[0]: a rule needs"},
	/* The trust rule: EV_POST_CODE's digest covers code, not its description. */
	{HDR "\"measurements\": {\"0\": [{\"type\": \"EV_POST_CODE\", \"text\": \"ACPI DATA\"}]}}", PCRGATE_ERR_FORMAT,
	 "$.measurements.0[0]: a rule by data without a digest needs a type"},
	{HDR "\"measurements\": {\"0\": [{\"text\": \"x\"}]}}", PCRGATE_ERR_FORMAT, "$.measurements.0[0]"},
	{HDR "\"measurements\": {\"4\": [{\"type\": \"EV_EFI_ACTION\", \"text\": \"a\", \"data\": \"00\"}]}}",
	 PCRGATE_ERR_FORMAT, "either data or text"},
	{HDR "\"measurements\": {\"4\": [{\"type\": \"EV_EFI_ACTION\", \"data\": \"0g\"}]}}", PCRGATE_ERR_FORMAT,
	 "$.measurements.4[0].data: not hex"},
	{HDR "\"measurements\": {\"4\": [{\"type\": \"EV_EFI_ACTION\", \"variable\": {\"guid\": \"" GLOBAL_GUID
	     "\", \"name\": \"x\"}}]}}",
	 PCRGATE_ERR_FORMAT, "$.measurements.4[0].variable: needs a type"},
	{HDR "\"measurements\": {\"7\": [{\"type\": \"EV_EFI_VARIABLE_DRIVER_CONFIG\", \"variable\": {\"guid\": "
	     "\"8be4df61-93ca-11d2-aa0d00e098032b8c0\", \"name\": \"x\"}}]}}",
	 PCRGATE_ERR_FORMAT, "$.measurements.7[0].variable.guid"},
	{HDR "\"measurements\": {\"7\": [{\"type\": \"EV_EFI_VARIABLE_DRIVER_CONFIG\", \"variable\": {\"guid\": \"" GLOBAL_GUID
	     "\", \"name\": \"x\", \"size\": 1}}]}}",
	 PCRGATE_ERR_FORMAT, "$.measurements.7[0].variable.size: unknown member"},
	{HDR "\"required\": [{\"type\": \"EV_SEPARATOR\", \"data\": \"00000000\"}]}", PCRGATE_ERR_FORMAT,
	 "$.required[0].pcr: missing"},
	{HDR "\"required\": [{\"pcr\": 30, \"type\": \"EV_SEPARATOR\", \"data\": \"00000000\"}]}", PCRGATE_ERR_FORMAT,
	 "$.required[0].pcr"},
	{HDR "\"releases\": [{\"name\": \"r\", \"version\": \"1\", \"security_version\": 1, \"pcrs\": {}}]}",
	 PCRGATE_ERR_FORMAT, "$.releases[0].pcrs"},
	{HDR "\"releases\": [{\"name\": \"r\", \"version\": \"1\", \"security_version\": -1, \"pcrs\": {\"8\": \"" D64
	     "\"}}]}",
	 PCRGATE_ERR_FORMAT, "$.releases[0].security_version"},
	{HDR "\"releases\": [{\"name\": \"r\", \"version\": \"1\", \"security_version\": 1, \"pcrs\": {\"8\": \"" D64
	     "\"}}, {\"name\": \"r\", \"version\": \"2\", \"security_version\": 2, \"pcrs\": {\"8\": \"" D64 "\"}}]}",
	 PCRGATE_ERR_FORMAT, "$.releases[1].name: release 'r' is listed again"},
	{HDR "\"releases\": [{\"name\": \"r\", \"security_version\": 1, \"pcrs\": {\"8\": \"" D64 "\"}}]}",
	 PCRGATE_ERR_FORMAT, "$.releases[0].version: missing"},
	{HDR "\"measurements\": {\"0\": []}, \"min_security_version\": 3}", PCRGATE_ERR_FORMAT,
	 "$.min_security_version: needs releases"},
	{HDR "\"measurements\": {\"0\": []}, \"description\": 5}", PCRGATE_ERR_FORMAT, "$.description"},
};

static void test_parse_errors(void **state)
{
	pcrgate_refpolicy *p = NULL;
	pcrgate_errinfo ei;
	char name[32];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad_docs) / sizeof(bad_docs[0]); i++) {
		snprintf(name, sizeof(name), "bad-%02zu.json", i);
		save_seed(name, bad_docs[i].doc);
		pcrgate_errinfo_clear(&ei);
		int r = pcrgate_refpolicy_parse((const uint8_t *)bad_docs[i].doc, strlen(bad_docs[i].doc), &p, &ei);
		if (r != bad_docs[i].code || strstr(ei.message, bad_docs[i].needle) == NULL)
			fail_msg("document %zu: got %d \"%s\", wanted %d with \"%s\"", i, r, ei.message,
				 bad_docs[i].code, bad_docs[i].needle);
		assert_null(p);
	}
	assert_int_equal(pcrgate_refpolicy_parse(NULL, 0, &p, NULL), PCRGATE_ERR_INVALID_ARGUMENT);
}

/* The caps: documents beyond them are refused as LIMIT, not parsed. */
static void test_parse_caps(void **state)
{
	pcrgate_refpolicy *p = NULL;
	pcrgate_errinfo ei;
	size_t cap = PCRGATE_REFPOLICY_MAX_SIZE + 2, n, i;
	char *doc = malloc(cap);
	const char *rule = "{\"digest\": \"" D64 "\"},";

	(void)state;
	assert_non_null(doc);
	memset(doc, ' ', cap);
	assert_int_equal(pcrgate_refpolicy_parse((const uint8_t *)doc, cap - 1, &p, &ei), PCRGATE_ERR_LIMIT);
	n = (size_t)snprintf(doc, cap, HDR "\"measurements\": {\"0\": [");
	for (i = 0; i <= PCRGATE_REFPOLICY_MAX_RULES; i++) {
		memcpy(doc + n, rule, strlen(rule));
		n += strlen(rule);
	}
	n--; /* the last comma */
	n += (size_t)snprintf(doc + n, cap - n, "]}}");
	pcrgate_errinfo_clear(&ei);
	assert_int_equal(pcrgate_refpolicy_parse((const uint8_t *)doc, n, &p, &ei), PCRGATE_ERR_LIMIT);
	assert_non_null(strstr(ei.message, "$.measurements.0"));
	/* One rule fewer is fine. */
	n = (size_t)snprintf(doc, cap, HDR "\"measurements\": {\"0\": [");
	for (i = 0; i < PCRGATE_REFPOLICY_MAX_RULES; i++) {
		memcpy(doc + n, rule, strlen(rule));
		n += strlen(rule);
	}
	n--;
	n += (size_t)snprintf(doc + n, cap - n, "]}}");
	assert_int_equal(pcrgate_refpolicy_parse((const uint8_t *)doc, n, &p, &ei), 0);
	pcrgate_refpolicy_free(&p);
	free(doc);
}

static void test_codes_and_helpers(void **state)
{
	static const uint8_t name[] = {'S', 0, 'B', 0, 0x3d, 0xd8, 0x00, 0xde}; /* "SB" and U+1F600 */
	static const uint8_t lone[] = {0x00, 0xdc};
	char out[16];

	(void)state;
	assert_string_equal(pcrgate_refpolicy_code_name(PCRGATE_REFPOLICY_MEASUREMENT_NOT_ALLOWED),
			    "measurement-not-allowed");
	assert_string_equal(pcrgate_refpolicy_code_name(PCRGATE_REFPOLICY_REQUIRED_EVENT_MISSING),
			    "required-event-missing");
	assert_string_equal(pcrgate_refpolicy_code_name(PCRGATE_REFPOLICY_UNKNOWN_RELEASE), "unknown-release");
	assert_string_equal(pcrgate_refpolicy_code_name(PCRGATE_REFPOLICY_SECURITY_VERSION_LOW),
			    "security-version-below-minimum");
	assert_string_equal(pcrgate_refpolicy_code_name(PCRGATE_REFPOLICY_PCR_NOT_QUOTED), "pcr-not-quoted");
	assert_null(pcrgate_refpolicy_code_name(PCRGATE_REFPOLICY_CODE_COUNT));
	assert_true(pcrgate_refpolicy_type_data_hashed(PCRGATE_EV_EFI_ACTION));
	assert_false(pcrgate_refpolicy_type_data_hashed(PCRGATE_EV_POST_CODE));
	assert_false(pcrgate_refpolicy_type_data_hashed(PCRGATE_EV_IPL));
	assert_int_equal(pcrgate_efi_name_utf8(name, 4, out, sizeof(out)), 0);
	assert_string_equal(out, "SB\xf0\x9f\x98\x80");
	assert_int_equal(pcrgate_efi_name_utf8(name, 4, out, 5), PCRGATE_ERR_LIMIT);
	assert_int_equal(pcrgate_efi_name_utf8(lone, 1, out, sizeof(out)), PCRGATE_ERR_FORMAT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pass),
		{"test_event_not_allowed", test_refusal, NULL, NULL, (void *)&refusals[0]},
		{"test_required_missing", test_refusal, NULL, NULL, (void *)&refusals[1]},
		{"test_unknown_release", test_refusal, NULL, NULL, (void *)&refusals[2]},
		{"test_security_version_low", test_refusal, NULL, NULL, (void *)&refusals[3]},
		cmocka_unit_test(test_untrusted_data),
		cmocka_unit_test(test_pcr_not_quoted),
		cmocka_unit_test(test_reason_cap),
		cmocka_unit_test(test_sha1_bank),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_parse_caps),
		cmocka_unit_test(test_codes_and_helpers),
	};

	pcrgate_log_set_level(PCRGATE_LOG_ERROR - 1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
