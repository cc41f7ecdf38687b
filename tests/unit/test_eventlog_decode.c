/*
 * Unit tests for describing event data (`pcrgate eventlog show`): EFI device paths as
 * text, each decoded event type, and garbage of every type and size at every buffer
 * size, which must never overrun and must always give NUL-terminated valid UTF-8.
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

#include "eventlog_text.h"
#include "pcrgate/eventlog.h"

#define LOG_CAP (256 * 1024)

struct lb {
	uint8_t b[LOG_CAP];
	size_t len;
};

static const uint16_t bank[] = {PCRGATE_ALG_SHA256};

static void add_bytes(struct lb *l, const void *p, size_t n)
{
	assert_true(n <= LOG_CAP - l->len);
	memcpy(l->b + l->len, p, n);
	l->len += n;
}

static void start_log(struct lb *l)
{
	size_t w;

	l->len = 0;
	assert_int_equal(pcrgate_eventlog_write_header(l->b, LOG_CAP, bank, 1, &w), 0);
	l->len = w;
}

static void add_event(struct lb *l, uint32_t pcr, uint32_t type, const void *data, size_t len)
{
	static const uint8_t digest[32];
	pcrgate_eventlog_digest d = {PCRGATE_ALG_SHA256, digest};
	size_t w;

	assert_int_equal(pcrgate_eventlog_write_event(l->b + l->len, LOG_CAP - l->len, pcr, type, &d, 1, data, len,
						      &w),
			 0);
	l->len += w;
}

static pcrgate_eventlog *parse_ok(const struct lb *l)
{
	pcrgate_eventlog *log = NULL;
	pcrgate_errinfo ei;

	if (pcrgate_eventlog_parse(l->b, l->len, &log, &ei) != 0)
		fail_msg("parse failed at offset %zu: %s", ei.offset, ei.message);
	return log;
}

/* Strict UTF-8: no overlongs, no surrogates, nothing above U+10FFFF. */
static int valid_utf8(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t cp;
	int n, i;

	while (*p) {
		if (*p < 0x80) {
			p++;
			continue;
		}
		if ((*p & 0xE0) == 0xC0) {
			n = 1;
			cp = *p & 0x1F;
		} else if ((*p & 0xF0) == 0xE0) {
			n = 2;
			cp = *p & 0x0F;
		} else if ((*p & 0xF8) == 0xF0) {
			n = 3;
			cp = *p & 0x07;
		} else {
			return 0;
		}
		for (i = 1; i <= n; i++) {
			if ((p[i] & 0xC0) != 0x80)
				return 0;
			cp = (cp << 6) | (p[i] & 0x3F);
		}
		if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF ||
		    (cp >= 0xD800 && cp < 0xE000))
			return 0;
		p += n + 1;
	}
	return 1;
}

static void node(struct lb *l, uint8_t type, uint8_t sub, const void *body, size_t n)
{
	uint8_t h[4] = {type, sub, (uint8_t)(n + 4), (uint8_t)((n + 4) >> 8)};

	add_bytes(l, h, 4);
	add_bytes(l, body, n);
}

static void path_text(const struct lb *l, char *out, size_t cap)
{
	assert_int_equal(pcrgate_efi_device_path_text(l->b, l->len, out, cap), 0);
	assert_true(valid_utf8(out));
}

static const uint8_t guid_bytes[16] = {0x28, 0x73, 0x2a, 0xc1, 0x1f, 0xf8, 0xd2, 0x11,
				       0xba, 0x4b, 0x00, 0xa0, 0xc9, 0x3e, 0xc9, 0x3b};
#define GUID_TEXT "c12a7328-f81f-11d2-ba4b-00a0c93ec93b"

static void add_file_node(struct lb *l, const char *path)
{
	uint8_t u[128];
	size_t i, n = strlen(path);

	for (i = 0; i <= n; i++) {
		u[2 * i] = (uint8_t)path[i];
		u[2 * i + 1] = 0;
	}
	node(l, 4, 4, u, 2 * (n + 1));
}

static void test_device_paths(void **state)
{
	static const uint8_t acpi[] = {0xd0, 0x41, 0x03, 0x0a, 0, 0, 0, 0}, pci[] = {2, 0x1f},
			     sata[] = {0, 0, 0xff, 0xff, 0, 0},
			     nvme[] = {1, 0, 0, 0, 0x00, 0x08, 0x0d, 0x02, 0x00, 0x21, 0xca, 0x7a},
			     usb[] = {3, 1}, end[] = {0};
	uint8_t hd[38] = {1, 0, 0, 0, 0x00, 0x08, 0, 0, 0, 0, 0, 0, 0x00, 0x20, 0x01, 0, 0, 0, 0, 0};
	uint8_t mac[33] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
	uint8_t offset[20] = {0, 0, 0, 0, 0x00, 0xf6, 0, 0, 0, 0, 0, 0, 0xff, 0x07, 0x02, 0, 0, 0, 0, 0};
	struct lb *l = calloc(1, sizeof(*l));
	char text[512], small[12];

	(void)state;
	memcpy(hd + 20, guid_bytes, 16);
	hd[36] = 2;
	hd[37] = 2;
	node(l, 2, 1, acpi, sizeof(acpi));
	node(l, 1, 1, pci, sizeof(pci));
	node(l, 3, 18, sata, sizeof(sata));
	node(l, 4, 1, hd, sizeof(hd));
	add_file_node(l, "\\EFI\\BOOT\\BOOTX64.EFI");
	node(l, 0x7f, 0xff, end, 0);
	path_text(l, text, sizeof(text));
	assert_string_equal(text, "PciRoot(0x0)/Pci(0x1f,0x2)/Sata(0x0,0xffff,0x0)/HD(1,GPT," GUID_TEXT
				  ",0x800,0x12000)/\\EFI\\BOOT\\BOOTX64.EFI");
	/* Cut short: the text ends in "..." inside the buffer. */
	path_text(l, small, sizeof(small));
	assert_string_equal(small, "PciRoot(...");

	l->len = 0;
	node(l, 2, 1, acpi, sizeof(acpi));
	node(l, 3, 23, nvme, sizeof(nvme));
	node(l, 0x7f, 0x01, end, 0);
	node(l, 3, 5, usb, sizeof(usb));
	node(l, 3, 11, mac, sizeof(mac));
	node(l, 4, 7, guid_bytes, 16);
	node(l, 4, 6, guid_bytes, 16);
	node(l, 4, 8, offset, sizeof(offset));
	node(l, 1, 4, guid_bytes, 16);
	path_text(l, text, sizeof(text));
	assert_string_equal(text, "PciRoot(0x0)/NVMe(0x1,7A-CA-21-00-02-0D-08-00),USB(0x3,0x1)/MAC(525400123456,0x0)/"
				  "Fv(" GUID_TEXT ")/FvFile(" GUID_TEXT ")/Offset(0xf600,0x207ff)/VenHw(" GUID_TEXT
				  ")");

	/* Unknown nodes and nodes too short for their fields print raw; a bad length stops the walk. */
	l->len = 0;
	node(l, 9, 9, "\x01\x02", 2);
	node(l, 1, 1, "\x05", 1);
	add_bytes(l, "\x04\x04\x02\x00", 4);
	path_text(l, text, sizeof(text));
	assert_string_equal(text, "Path(9,9,0102)/Path(1,1,05)/<malformed: 04040200>");
	assert_int_equal(pcrgate_efi_device_path_text(NULL, 0, text, sizeof(text)), 0);
	assert_string_equal(text, "");
	assert_int_equal(pcrgate_efi_device_path_text(l->b, l->len, text, 0), PCRGATE_ERR_INVALID_ARGUMENT);
	free(l);
}

static void utf16(uint8_t *out, const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++) {
		out[2 * i] = (uint8_t)s[i];
		out[2 * i + 1] = 0;
	}
}

/* UEFI_VARIABLE_DATA for a variable of the EFI global GUID. */
static size_t variable(uint8_t *out, const char *name, const void *value, size_t vlen)
{
	static const uint8_t global[16] = {0x61, 0xdf, 0xe4, 0x8b, 0xca, 0x93, 0xd2, 0x11,
					   0xaa, 0x0d, 0x00, 0xe0, 0x98, 0x03, 0x2b, 0x8c};
	size_t n = strlen(name);

	memcpy(out, global, 16);
	memset(out + 16, 0, 16);
	out[16] = (uint8_t)n;
	out[24] = (uint8_t)vlen;
	out[25] = (uint8_t)(vlen >> 8);
	utf16(out + 32, name);
	memcpy(out + 32 + 2 * n, value, vlen);
	return 32 + 2 * n + vlen;
}

static void test_describe_known(void **state)
{
	static const struct {
		uint32_t type;
		const char *want;
	} want[] = {
		{PCRGATE_EV_NO_ACTION, "StartupLocality: locality 3"},
		{PCRGATE_EV_NO_ACTION, "\"SP800-155 Event\" event, 20 bytes: 01020304"},
		{PCRGATE_EV_SEPARATOR, "separator 00000000"},
		{PCRGATE_EV_SEPARATOR, "separator ffffffff (error)"},
		{PCRGATE_EV_EFI_VARIABLE_DRIVER_CONFIG,
		 "8be4df61-93ca-11d2-aa0d-00e098032b8c (EFI global variable): SecureBoot, 1 bytes: 01"},
		{PCRGATE_EV_EFI_VARIABLE_BOOT,
		 "8be4df61-93ca-11d2-aa0d-00e098032b8c (EFI global variable): BootOrder, 4 bytes: 0001,0000"},
		{PCRGATE_EV_EFI_VARIABLE_BOOT,
		 "8be4df61-93ca-11d2-aa0d-00e098032b8c (EFI global variable): Boot0001, 48 bytes: \"Linux\" "
		 "\\EFI\\x.efi, attributes 0x1"},
		{PCRGATE_EV_EFI_PLATFORM_FIRMWARE_BLOB, "firmware blob at 0xff000000, length 0x10000"},
		{PCRGATE_EV_EFI_PLATFORM_FIRMWARE_BLOB2, "\"fv\" at 0xff000000, length 0x10000"},
		{PCRGATE_EV_S_CRTM_VERSION, "GUID " GUID_TEXT},
		{PCRGATE_EV_S_CRTM_VERSION, "\"1.0\""},
		{PCRGATE_EV_EFI_ACTION, "\"Calling EFI Application from Boot Option\""},
		{PCRGATE_EV_EFI_HANDOFF_TABLES,
		 "1 tables: eb9d2d31-2d88-11d3-9a16-0090273fc14d (SMBIOS table) at 0x7f000000"},
		{PCRGATE_EV_EVENT_TAG, "tagged event 0x7, 2 bytes: abcd"},
		{PCRGATE_EV_IPL, "3 bytes: 01ff02"},
		{PCRGATE_EV_IPL, "(no data)"},
		{PCRGATE_EV_EFI_GPT_EVENT, "GPT disk " GUID_TEXT ", 1 partitions: \"root\" type " GUID_TEXT " LBA 34-99"},
	};
	static const uint8_t smbios[16] = {0x31, 0x2d, 0x9d, 0xeb, 0x88, 0x2d, 0xd3, 0x11,
					   0x9a, 0x16, 0x00, 0x90, 0x27, 0x3f, 0xc1, 0x4d};
	uint8_t data[512], option[64], gpt[92 + 8 + 128];
	struct lb *l = calloc(1, sizeof(*l));
	pcrgate_eventlog *log;
	char text[512];
	size_t i, n;

	(void)state;
	start_log(l);
	add_event(l, 0, PCRGATE_EV_NO_ACTION, "StartupLocality\0\3", 17);
	add_event(l, 0, PCRGATE_EV_NO_ACTION, "SP800-155 Event\0\1\2\3\4", 20);
	add_event(l, 7, PCRGATE_EV_SEPARATOR, "\0\0\0\0", 4);
	add_event(l, 7, PCRGATE_EV_SEPARATOR, "\xff\xff\xff\xff", 4);
	add_event(l, 7, PCRGATE_EV_EFI_VARIABLE_DRIVER_CONFIG, data, variable(data, "SecureBoot", "\1", 1));
	add_event(l, 1, PCRGATE_EV_EFI_VARIABLE_BOOT, data, variable(data, "BootOrder", "\1\0\0\0", 4));
	memset(option, 0, sizeof(option));
	option[0] = 1;
	option[4] = 30; /* a 26-byte file path node and the end node */
	utf16(option + 6, "Linux");
	n = 6 + 12;
	option[n] = 4;
	option[n + 1] = 4;
	option[n + 2] = 26;
	utf16(option + n + 4, "\\EFI\\x.efi");
	option[n + 26] = 0x7f;
	option[n + 27] = 0xff;
	option[n + 28] = 4;
	add_event(l, 1, PCRGATE_EV_EFI_VARIABLE_BOOT, data, variable(data, "Boot0001", option, n + 30));
	add_event(l, 0, PCRGATE_EV_EFI_PLATFORM_FIRMWARE_BLOB, "\0\0\0\xff\0\0\0\0\0\0\1\0\0\0\0\0", 16);
	add_event(l, 0, PCRGATE_EV_EFI_PLATFORM_FIRMWARE_BLOB2, "\2fv\0\0\0\xff\0\0\0\0\0\0\1\0\0\0\0\0", 19);
	add_event(l, 0, PCRGATE_EV_S_CRTM_VERSION, guid_bytes, 16);
	add_event(l, 0, PCRGATE_EV_S_CRTM_VERSION, "1\0.\0" "0\0\0\0", 8);
	add_event(l, 4, PCRGATE_EV_EFI_ACTION, "Calling EFI Application from Boot Option", 40);
	memcpy(data, "\1\0\0\0\0\0\0\0", 8);
	memcpy(data + 8, smbios, 16);
	memcpy(data + 24, "\0\0\0\x7f\0\0\0\0", 8);
	add_event(l, 1, PCRGATE_EV_EFI_HANDOFF_TABLES, data, 32);
	add_event(l, 1, PCRGATE_EV_EVENT_TAG, "\7\0\0\0\2\0\0\0\xab\xcd", 10);
	add_event(l, 8, PCRGATE_EV_IPL, "\1\xff\2", 3);
	add_event(l, 8, PCRGATE_EV_IPL, "", 0);
	memset(gpt, 0, sizeof(gpt));
	memcpy(gpt, "EFI PART", 8);
	memcpy(gpt + 56, guid_bytes, 16);
	gpt[84] = 128;
	gpt[92] = 1;
	memcpy(gpt + 100, guid_bytes, 16);
	gpt[100 + 32] = 34;
	gpt[100 + 40] = 99;
	utf16(gpt + 100 + 56, "root");
	add_event(l, 5, PCRGATE_EV_EFI_GPT_EVENT, gpt, sizeof(gpt));
	log = parse_ok(l);
	assert_int_equal(pcrgate_eventlog_count(log), 1 + sizeof(want) / sizeof(want[0]));
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		assert_int_equal(pcrgate_event_type(pcrgate_eventlog_event(log, i + 1)), want[i].type);
		assert_int_equal(pcrgate_event_describe(pcrgate_eventlog_event(log, i + 1), text, sizeof(text)), 0);
		if (strcmp(text, want[i].want) != 0)
			fail_msg("event %zu: got '%s', want '%s'", i + 1, text, want[i].want);
	}
	pcrgate_eventlog_free(&log);
	free(l);
}

static uint32_t rng_state = 0x2545F491;

static uint32_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

/* Random and half-structured data of every type at every output size: bounded, terminated, UTF-8. */
/* Strings from a log never reach the terminal as control sequences or bidi overrides. */
static void test_utf16_controls_escaped(void **state)
{
	/* "a" CSI(U+009B) "b" RLO(U+202E) "c" ESC LRI(U+2066) "é" */
	const uint8_t in[] = {'a', 0, 0x9b, 0, 'b', 0, 0x2e, 0x20, 'c', 0, 0x1b, 0, 0x66, 0x20, 0xe9, 0};
	char buf[128];
	struct sb s;

	(void)state;
	sb_init(&s, buf, sizeof(buf));
	sb_utf16(&s, in, sizeof(in) / 2, 0);
	assert_string_equal(buf, "a\\u009bb\\u202ec\\u001b\\u2066\xc3\xa9");
}

static void test_describe_garbage(void **state)
{
	static const uint32_t types[] = {
		PCRGATE_EV_POST_CODE, PCRGATE_EV_NO_ACTION, PCRGATE_EV_SEPARATOR, PCRGATE_EV_ACTION,
		PCRGATE_EV_EVENT_TAG, PCRGATE_EV_S_CRTM_CONTENTS, PCRGATE_EV_S_CRTM_VERSION, PCRGATE_EV_IPL,
		PCRGATE_EV_EFI_VARIABLE_DRIVER_CONFIG, PCRGATE_EV_EFI_VARIABLE_BOOT,
		PCRGATE_EV_EFI_BOOT_SERVICES_APPLICATION, PCRGATE_EV_EFI_BOOT_SERVICES_DRIVER,
		PCRGATE_EV_EFI_RUNTIME_SERVICES_DRIVER, PCRGATE_EV_EFI_GPT_EVENT, PCRGATE_EV_EFI_ACTION,
		PCRGATE_EV_EFI_PLATFORM_FIRMWARE_BLOB, PCRGATE_EV_EFI_HANDOFF_TABLES,
		PCRGATE_EV_EFI_PLATFORM_FIRMWARE_BLOB2, PCRGATE_EV_EFI_HANDOFF_TABLES2, PCRGATE_EV_EFI_VARIABLE_BOOT2,
		PCRGATE_EV_EFI_GPT_EVENT2, PCRGATE_EV_EFI_HCRTM_EVENT, PCRGATE_EV_EFI_VARIABLE_AUTHORITY,
		PCRGATE_EV_EFI_SPDM_DEVICE_POLICY, 0x12345678};
	static const size_t caps[] = {1, 2, 3, 4, 5, 9, 17, 64, 300, 4096};
	struct lb *l = calloc(1, sizeof(*l));
	uint8_t data[600];
	char *text = malloc(4096 + 16);
	pcrgate_eventlog *log;
	const pcrgate_event *ev;
	const uint8_t *data_p;
	size_t t, i, j, c, n, len;

	(void)state;
	for (t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
		start_log(l);
		for (i = 0; i < 120; i++) {
			n = rng() % sizeof(data);
			for (j = 0; j < n; j++)
				data[j] = (uint8_t)rng();
			/* Small length fields, so decoders get past their first checks. */
			if (i % 2 == 0)
				for (j = 16; j + 8 <= n; j += 8 + rng() % 24)
					memset(data + j + 1, 0, 7);
			if (i % 5 == 0 && n > 40)
				memcpy(data, "\x04\x04\x08\x00\xff\xd8\x00\xdc", 8);
			add_event(l, (uint32_t)(1 + i % 23), types[t], data, n);
		}
		log = parse_ok(l);
		for (i = 1; i < pcrgate_eventlog_count(log); i++) {
			ev = pcrgate_eventlog_event(log, i);
			for (c = 0; c < sizeof(caps) / sizeof(caps[0]); c++) {
				memset(text, 0x7E, 4096 + 16);
				assert_int_equal(pcrgate_event_describe(ev, text, caps[c]), 0);
				len = strnlen(text, caps[c]);
				assert_true(len < caps[c]);
				assert_int_equal((unsigned char)text[caps[c]], 0x7E);
				assert_true(valid_utf8(text));
			}
			data_p = pcrgate_event_data(ev, &n);
			pcrgate_efi_device_path_text(data_p, n, text, 4096);
			assert_true(valid_utf8(text));
		}
		pcrgate_eventlog_free(&log);
	}
	free(text);
	free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_device_paths),
		cmocka_unit_test(test_describe_known),
		cmocka_unit_test(test_describe_garbage),
		cmocka_unit_test(test_utf16_controls_escaped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
