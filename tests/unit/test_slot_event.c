/*
 * Unit tests for the boot extension's slot event read back from a log (lib/slot_event.c): the
 * event pcrgate-boot writes is read in each bank; an event of another PCR, type or label is no
 * slot event; fields that do not hash to the digest, a missing bank and every malformed field
 * are refused, and nothing is written to the output then.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "pcrgate/eventlog.h"
#include "pcrgate/pcr_map.h"
#include "slot_event.h"

#define LOG_CAP 4096

static const uint16_t banks[] = {PCRGATE_ALG_SHA1, PCRGATE_ALG_SHA256};
#define NBANKS (sizeof(banks) / sizeof(banks[0]))
#define LABEL PCRGATE_EVENT_LABEL_SLOT " "

/*
 * Parses a log of one event (pcr, type, data of len bytes, whose digests are those of the len -
 * skip - 1 bytes after skip: the fields, as pcrgate-boot extends them, unless the caller
 * measures something else) and reads it as a slot event in bank.
 */
static int parse_one(uint32_t pcr, uint32_t type, const char *data, size_t len, size_t skip, uint16_t bank,
		     struct pcrgate_slot_event *out)
{
	uint8_t log[LOG_CAP], store[NBANKS][PCRGATE_MAX_DIGEST];
	pcrgate_eventlog_digest d[NBANKS];
	pcrgate_eventlog *el = NULL;
	pcrgate_errinfo ei;
	size_t used = 0, w = 0, i, mlen = len > skip ? len - skip - 1 : 0;
	int r;

	assert_int_equal(pcrgate_eventlog_write_header(log, sizeof(log), banks, NBANKS, &w), 0);
	used = w;
	for (i = 0; i < NBANKS; i++) {
		assert_int_equal(pcrgate_digest(banks[i], data + skip, mlen, store[i]), 0);
		d[i].alg = banks[i];
		d[i].digest = store[i];
	}
	assert_int_equal(pcrgate_eventlog_write_event(log + used, sizeof(log) - used, pcr, type, d, NBANKS,
						      (const uint8_t *)data, len, &w),
			 0);
	used += w;
	if (pcrgate_eventlog_parse(log, used, &el, &ei) != 0)
		fail_msg("the log does not parse: %s", ei.message);
	/* Event 0 is the Spec ID event, itself no slot event. */
	assert_int_equal(pcrgate_eventlog_count(el), 2);
	assert_int_equal(pcrgate_slot_event_parse(pcrgate_eventlog_event(el, 0), bank, out), PCRGATE_ERR_NOT_FOUND);
	r = pcrgate_slot_event_parse(pcrgate_eventlog_event(el, 1), bank, out);
	pcrgate_eventlog_free(&el);
	return r;
}

/* A slot event as pcrgate-boot writes it: "LABEL FIELDS\0", the fields digested. */
static int parse_fields(const char *fields, uint16_t bank, struct pcrgate_slot_event *out)
{
	char data[1024];
	int n = snprintf(data, sizeof(data), "%s%s", LABEL, fields);

	assert_true(n > 0 && (size_t)n < sizeof(data));
	return parse_one(PCRGATE_PCR_BOOT_SLOT, PCRGATE_EVENT_SLOT, data, (size_t)n + 1, strlen(LABEL), bank, out);
}

static void test_genuine(void **state)
{
	struct pcrgate_slot_event e;
	size_t i;

	(void)state;
	for (i = 0; i < NBANKS; i++) {
		memset(&e, 0xAA, sizeof(e));
		assert_int_equal(parse_fields("slot=b version=2.0.0-rc1 security_version=7 manifest_sha256=00ff",
					      banks[i], &e),
				 PCRGATE_OK);
		assert_int_equal(e.slot, 1);
		assert_string_equal(e.version, "2.0.0-rc1");
		assert_int_equal(e.security_version, 7);
	}
	/* Unknown fields are skipped; the order does not matter. */
	assert_int_equal(parse_fields("future=x security_version=18446744073709551615 version=1 slot=a",
				      PCRGATE_ALG_SHA256, &e),
			 PCRGATE_OK);
	assert_int_equal(e.slot, 0);
	assert_string_equal(e.version, "1");
	assert_true(e.security_version == UINT64_MAX);
}

static void test_not_a_slot_event(void **state)
{
	static const char ok[] = LABEL "slot=a version=1 security_version=1";
	static const char other[] = "pcrgate.image: slot=a version=1 security_version=1";
	static const char nospace[] = PCRGATE_EVENT_LABEL_SLOT "slot=a version=1 security_version=1";
	struct pcrgate_slot_event e;

	(void)state;
	assert_int_equal(parse_one(PCRGATE_PCR_BOOT_IMAGES, PCRGATE_EVENT_SLOT, ok, sizeof(ok), strlen(LABEL),
				   PCRGATE_ALG_SHA256, &e),
			 PCRGATE_ERR_NOT_FOUND);
	assert_int_equal(parse_one(PCRGATE_PCR_BOOT_SLOT, PCRGATE_EV_SEPARATOR, ok, sizeof(ok), strlen(LABEL),
				   PCRGATE_ALG_SHA256, &e),
			 PCRGATE_ERR_NOT_FOUND);
	assert_int_equal(parse_one(PCRGATE_PCR_BOOT_SLOT, PCRGATE_EVENT_SLOT, other, sizeof(other), 15,
				   PCRGATE_ALG_SHA256, &e),
			 PCRGATE_ERR_NOT_FOUND);
	assert_int_equal(parse_one(PCRGATE_PCR_BOOT_SLOT, PCRGATE_EVENT_SLOT, nospace, sizeof(nospace),
				   strlen(PCRGATE_EVENT_LABEL_SLOT), PCRGATE_ALG_SHA256, &e),
			 PCRGATE_ERR_NOT_FOUND);
	/* Without its NUL: not the layout pcrgate-boot writes. */
	assert_int_equal(parse_one(PCRGATE_PCR_BOOT_SLOT, PCRGATE_EVENT_SLOT, ok, sizeof(ok) - 1, strlen(LABEL),
				   PCRGATE_ALG_SHA256, &e),
			 PCRGATE_ERR_NOT_FOUND);
	assert_int_equal(parse_one(PCRGATE_PCR_BOOT_SLOT, PCRGATE_EVENT_SLOT, PCRGATE_EVENT_LABEL_SLOT,
				   sizeof(PCRGATE_EVENT_LABEL_SLOT), strlen(PCRGATE_EVENT_LABEL_SLOT), PCRGATE_ALG_SHA256,
				   &e),
			 PCRGATE_ERR_NOT_FOUND);
}

static void test_digest(void **state)
{
	static const char ok[] = LABEL "slot=a version=1 security_version=1";
	struct pcrgate_slot_event e;

	(void)state;
	memset(&e, 0x55, sizeof(e));
	/* The digest of the whole data (label included), not of the fields. */
	assert_int_equal(parse_one(PCRGATE_PCR_BOOT_SLOT, PCRGATE_EVENT_SLOT, ok, sizeof(ok), 0, PCRGATE_ALG_SHA256, &e),
			 PCRGATE_ERR_VERIFY);
	/* The digest of other fields than the data holds. */
	assert_int_equal(parse_one(PCRGATE_PCR_BOOT_SLOT, PCRGATE_EVENT_SLOT, ok, sizeof(ok), strlen(LABEL) + 1,
				   PCRGATE_ALG_SHA1, &e),
			 PCRGATE_ERR_VERIFY);
	/* A bank the log does not carry. */
	assert_int_equal(parse_fields("slot=a version=1 security_version=1", PCRGATE_ALG_SHA384, &e),
			 PCRGATE_ERR_UNSUPPORTED);
	assert_int_equal(e.slot, 0x55555555u);
	assert_int_equal(pcrgate_slot_event_parse(NULL, PCRGATE_ALG_SHA256, &e), PCRGATE_ERR_INVALID_ARGUMENT);
}

static void test_malformed(void **state)
{
	static const char *const bad[] = {
		"version=1 security_version=1",                     /* no slot */
		"slot=a security_version=1",                        /* no version */
		"slot=a version=1",                                 /* no security_version */
		"slot=c version=1 security_version=1",              /* no such slot */
		"slot=ab version=1 security_version=1",             /* nor this */
		"slot=a slot=b version=1 security_version=1",       /* twice */
		"slot=a version=1 version=2 security_version=1",    /* twice */
		"slot=a version= security_version=1",               /* empty */
		"slot=a version=1 security_version=",               /* empty */
		"slot=a version=1 security_version=1x",             /* not decimal */
		"slot=a version=1 security_version=-1",             /* not decimal */
		"slot=a version=1 security_version=18446744073709551616", /* past 64 bits */
		"slot=a version=1 security_version=000000000000000000001", /* 21 digits */
		"slot=a  version=1 security_version=1",             /* an empty token */
		"slot=a version=1 security_version=1 ",             /* a trailing space */
		" slot=a version=1 security_version=1",             /* a leading space */
		"slot=a version=1 security_version=1 junk",         /* a token without '=' */
		"slot=a version=1 security_version=1 =x",           /* a token without a key */
		"slot=a version=1\tx security_version=1",           /* a control character */
		"slot=a version=1\xc3\xa9 security_version=1",      /* not ASCII */
		"",                                                 /* nothing */
	};
	char fields[256], version[PCRGATE_SLOT_EVENT_VERSION_MAX + 2];
	struct pcrgate_slot_event e;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&e, 0x55, sizeof(e));
		if (parse_fields(bad[i], PCRGATE_ALG_SHA256, &e) != PCRGATE_ERR_FORMAT)
			fail_msg("fields '%s' were not refused as malformed", bad[i]);
		assert_int_equal(e.slot, 0x55555555u);
	}
	/* The longest version fits; one byte more does not. */
	memset(version, 'v', sizeof(version));
	version[PCRGATE_SLOT_EVENT_VERSION_MAX] = '\0';
	snprintf(fields, sizeof(fields), "slot=a version=%s security_version=1", version);
	assert_int_equal(parse_fields(fields, PCRGATE_ALG_SHA256, &e), PCRGATE_OK);
	assert_int_equal(strlen(e.version), PCRGATE_SLOT_EVENT_VERSION_MAX);
	version[PCRGATE_SLOT_EVENT_VERSION_MAX] = 'v';
	version[PCRGATE_SLOT_EVENT_VERSION_MAX + 1] = '\0';
	snprintf(fields, sizeof(fields), "slot=a version=%s security_version=1", version);
	assert_int_equal(parse_fields(fields, PCRGATE_ALG_SHA256, &e), PCRGATE_ERR_FORMAT);
}

/* An embedded NUL in the fields: the digest covers it, the parser must still refuse it. */
static void test_embedded_nul(void **state)
{
	static const char data[] = LABEL "slot=a version=1\0x security_version=1";
	struct pcrgate_slot_event e;

	(void)state;
	assert_int_equal(parse_one(PCRGATE_PCR_BOOT_SLOT, PCRGATE_EVENT_SLOT, data, sizeof(data), strlen(LABEL),
				   PCRGATE_ALG_SHA256, &e),
			 PCRGATE_ERR_FORMAT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_genuine),    cmocka_unit_test(test_not_a_slot_event),
		cmocka_unit_test(test_digest),     cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_embedded_nul),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
