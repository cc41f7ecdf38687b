/*
 * pcrgate: describes TCG event data for display (`pcrgate eventlog show`): EFI
 * variables, image loads with their device paths, firmware blobs, GPT and handoff
 * tables, strings, separators and the EV_NO_ACTION events (Spec ID, StartupLocality,
 * ...). The data is untrusted and only for people to read: every structure is read
 * through the bounded reader, and data that does not decode prints as hex.
 */
#include "config.h"

#include <string.h>

#include "eventlog_internal.h"
#include "eventlog_text.h"
#include "reader.h"

#define HEX_SHOWN 32    /* bytes of undecoded data shown as hex */
#define LIST_SHOWN 16   /* entries of a table or list shown */
#define GPT_HEADER 92u  /* EFI_PARTITION_TABLE_HEADER as firmware measures it */

static const struct {
	const char *guid; /* as sb_guid prints it */
	const char *name;
} known_guids[] = {
	{"8be4df61-93ca-11d2-aa0d-00e098032b8c", "EFI global variable"},
	{"d719b2cb-3d3a-4596-a3bc-dad00e67656f", "EFI image security database"},
	{"605dab50-e046-4300-abb6-3dd810dd8b23", "shim"},
	{"eb9d2d30-2d88-11d3-9a16-0090273fc14d", "ACPI 1.0 table"},
	{"8868e871-e4f1-11d3-bc22-0080c73c8881", "ACPI 2.0 table"},
	{"eb9d2d31-2d88-11d3-9a16-0090273fc14d", "SMBIOS table"},
	{"f2fd1544-9794-4a2c-992e-e5bbcf20e394", "SMBIOS 3 table"},
};

/* The GUID, then its name in parentheses when it is a well-known one. */
static void guid_named(struct sb *s, const uint8_t *g)
{
	char text[40];
	struct sb t;
	size_t i;

	sb_guid(s, g);
	sb_init(&t, text, sizeof(text));
	sb_guid(&t, g);
	for (i = 0; i < sizeof(known_guids) / sizeof(known_guids[0]); i++)
		if (strcmp(text, known_guids[i].guid) == 0)
			sb_printf(s, " (%s)", known_guids[i].name);
}

static void hex_summary(struct sb *s, const uint8_t *p, size_t n)
{
	sb_printf(s, "%zu bytes: ", n);
	sb_hex(s, p, n, HEX_SHOWN);
}

/* Any data: a string when it reads as one, else hex. */
static void generic(struct sb *s, const uint8_t *p, size_t n)
{
	if (n == 0) {
		sb_str(s, "(no data)");
	} else if (text_is_ascii(p, n)) {
		sb_str(s, "\"");
		sb_ascii(s, p, n);
		sb_str(s, "\"");
	} else if (text_is_utf16(p, n)) {
		sb_str(s, "\"");
		sb_utf16(s, p, n / 2, 1);
		sb_str(s, "\"");
	} else {
		hex_summary(s, p, n);
	}
}

static int read_uintn(struct reader *r, unsigned size, uint64_t *v)
{
	uint32_t v32;

	if (size == 8)
		return reader_u64le(r, v);
	if (reader_u32le(r, &v32) < 0)
		return -1;
	*v = v32;
	return 0;
}

/* UINTN fields: the Spec ID event's size first, then the other (firmware gets it wrong). */
static void uintn_order(const pcrgate_eventlog *log, unsigned order[2])
{
	order[0] = pcrgate_eventlog_uintn_size(log) == 4 ? 4 : 8;
	order[1] = order[0] == 8 ? 4 : 8;
}

static int dec_spec_id(struct sb *s, const uint8_t *p, size_t n)
{
	struct reader r;
	uint32_t class, nalgs, i;
	uint8_t minor, major, errata, uintn, vendor;
	uint16_t alg, size;
	const char *name;

	reader_init(&r, p, n);
	if (reader_skip(&r, 16) < 0 || reader_u32le(&r, &class) < 0 || reader_u8(&r, &minor) < 0 ||
	    reader_u8(&r, &major) < 0 || reader_u8(&r, &errata) < 0 || reader_u8(&r, &uintn) < 0 ||
	    reader_u32le(&r, &nalgs) < 0 || nalgs > PCRGATE_EVENTLOG_MAX_ALGS)
		return -1;
	sb_printf(s, "Spec ID Event03: platform class %u, version %u.%u errata %u, uintnSize %u, algorithms", class,
		  major, minor, errata, uintn);
	for (i = 0; i < nalgs; i++) {
		if (reader_u16le(&r, &alg) < 0 || reader_u16le(&r, &size) < 0)
			return -1;
		name = pcrgate_alg_name(alg);
		if (name != NULL)
			sb_printf(s, "%s %s (%u)", i ? "," : "", name, size);
		else
			sb_printf(s, "%s 0x%04x (%u)", i ? "," : "", alg, size);
	}
	if (reader_u8(&r, &vendor) < 0 || vendor > r.left)
		return -1;
	sb_printf(s, ", vendor info %u bytes", vendor);
	if (vendor > 0) {
		sb_str(s, ": ");
		sb_hex(s, r.p, vendor, HEX_SHOWN);
	}
	return 0;
}

static int dec_no_action(struct sb *s, const uint8_t *p, size_t n)
{
	if (n >= 16 && memcmp(p, EL_SPEC_ID_SIGNATURE, 16) == 0)
		return dec_spec_id(s, p, n);
	if (n == 17 && memcmp(p, EL_STARTUP_LOCALITY, 16) == 0) {
		sb_printf(s, "StartupLocality: locality %u", p[16]);
		return 0;
	}
	/* Other EV_NO_ACTION data starts with a 16-byte signature (SP800-155, NvIndex, legacy Spec ID). */
	if (n >= 16 && text_is_ascii(p, 16)) {
		sb_str(s, "\"");
		sb_ascii(s, p, 16);
		sb_printf(s, "\" event, %zu bytes", n);
		if (n > 16) {
			sb_str(s, ": ");
			sb_hex(s, p + 16, n - 16, HEX_SHOWN);
		}
		return 0;
	}
	return -1;
}

static int dec_separator(struct sb *s, const uint8_t *p, size_t n)
{
	if (n != 4)
		return -1;
	if (memcmp(p, "\0\0\0\0", 4) == 0)
		sb_str(s, "separator 00000000");
	else if (memcmp(p, "\xff\xff\xff\xff", 4) == 0)
		sb_str(s, "separator ffffffff (error)");
	else
		return -1;
	return 0;
}

/* EFI_SIGNATURE_LISTs (PK, KEK, db, dbx, MokList): how many certificates and hashes. */
static int signature_lists(struct sb *s, const uint8_t *p, size_t n)
{
	static const uint8_t x509[16] = {0xa1, 0x59, 0xc0, 0xa5, 0xe4, 0x94, 0xa7, 0x4a,
					 0x87, 0xb5, 0xab, 0x15, 0x5c, 0x2b, 0xf0, 0x72};
	static const uint8_t sha256[16] = {0x26, 0x16, 0xc4, 0xc1, 0x4c, 0x50, 0x92, 0x40,
					   0xac, 0xa9, 0x41, 0xf9, 0x36, 0x93, 0x43, 0x28};
	struct reader r;
	const uint8_t *type;
	uint32_t list_size, header_size, sig_size;
	size_t certs = 0, hashes = 0, other = 0, count;

	reader_init(&r, p, n);
	while (r.left > 0) {
		if (reader_bytes(&r, 16, &type) < 0 || reader_u32le(&r, &list_size) < 0 ||
		    reader_u32le(&r, &header_size) < 0 || reader_u32le(&r, &sig_size) < 0 || list_size < 28 ||
		    sig_size < 16 || list_size - 28 > r.left || header_size > list_size - 28 ||
		    (list_size - 28 - header_size) % sig_size != 0)
			return -1;
		count = (list_size - 28 - header_size) / sig_size;
		if (memcmp(type, x509, 16) == 0)
			certs += count;
		else if (memcmp(type, sha256, 16) == 0)
			hashes += count;
		else
			other += count;
		reader_skip(&r, list_size - 28);
	}
	sb_printf(s, "%zu X.509 certificates, %zu SHA-256 hashes", certs, hashes);
	if (other > 0)
		sb_printf(s, ", %zu other signatures", other);
	return 0;
}

/* EFI_LOAD_OPTION of a Boot#### variable: description and device path. */
static int load_option(struct sb *s, const uint8_t *p, size_t n)
{
	struct reader r;
	uint32_t attrs;
	uint16_t path_len, ch;
	const uint8_t *desc, *path;
	size_t units = 0;

	reader_init(&r, p, n);
	if (reader_u32le(&r, &attrs) < 0 || reader_u16le(&r, &path_len) < 0)
		return -1;
	desc = r.p;
	do {
		if (reader_u16le(&r, &ch) < 0)
			return -1;
		units++;
	} while (ch != 0);
	if (reader_bytes(&r, path_len, &path) < 0)
		return -1;
	sb_str(s, "\"");
	sb_utf16(s, desc, units - 1, 1);
	sb_str(s, "\" ");
	el_devpath_text(s, path, path_len);
	sb_printf(s, ", attributes 0x%x", attrs);
	if (r.left > 0)
		sb_printf(s, ", %zu bytes of optional data", r.left);
	return 0;
}

static int name_is(const uint8_t *name, size_t units, const char *ascii)
{
	size_t i, n = strlen(ascii);

	if (units != n)
		return 0;
	for (i = 0; i < n; i++)
		if (name[2 * i] != (uint8_t)ascii[i] || name[2 * i + 1] != 0)
			return 0;
	return 1;
}

static int name_is_boot_option(const uint8_t *name, size_t units)
{
	size_t i;
	uint8_t c;

	if (units != 8 || name[0] != 'B' || name[2] != 'o' || name[4] != 'o' || name[6] != 't')
		return 0;
	for (i = 4; i < 8; i++) {
		c = name[2 * i];
		if (name[2 * i + 1] != 0 || !((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F')))
			return 0;
	}
	return name[1] == 0 && name[3] == 0 && name[5] == 0 && name[7] == 0;
}

/* UEFI_VARIABLE_DATA: GUID, name length (characters), data length, UTF-16 name, data. */
static int dec_variable(struct sb *s, uint32_t type, const uint8_t *p, size_t n)
{
	struct reader r;
	const uint8_t *guid, *name, *value;
	uint64_t name_len, value_len;
	size_t i;
	uint16_t entry;
	int boot = type == PCRGATE_EV_EFI_VARIABLE_BOOT || type == PCRGATE_EV_EFI_VARIABLE_BOOT2;

	reader_init(&r, p, n);
	if (reader_bytes(&r, 16, &guid) < 0 || reader_u64le(&r, &name_len) < 0 || reader_u64le(&r, &value_len) < 0 ||
	    name_len > r.left / 2 || reader_bytes(&r, (size_t)name_len * 2, &name) < 0 || value_len > r.left ||
	    reader_bytes(&r, (size_t)value_len, &value) < 0)
		return -1;
	guid_named(s, guid);
	sb_str(s, ": ");
	sb_utf16(s, name, (size_t)name_len, 1);
	sb_printf(s, ", %llu bytes", (unsigned long long)value_len);
	if (value_len == 0)
		goto done;
	sb_str(s, ": ");
	if (boot && name_is(name, (size_t)name_len, "BootOrder") && value_len % 2 == 0) {
		for (i = 0; i < value_len / 2 && i < LIST_SHOWN; i++) {
			entry = (uint16_t)(value[2 * i] | (value[2 * i + 1] << 8));
			sb_printf(s, "%s%04X", i ? "," : "", entry);
		}
		if (i < value_len / 2)
			sb_str(s, ",...");
		goto done;
	}
	if (boot && name_is_boot_option(name, (size_t)name_len)) {
		size_t mark = s->len;

		if (load_option(s, value, (size_t)value_len) == 0)
			goto done;
		s->len = mark;
		s->p[mark] = '\0';
	}
	if (value_len <= 16) {
		sb_hex(s, value, (size_t)value_len, HEX_SHOWN);
	} else if (value[0] == 0x30 && value[1] == 0x82) {
		/* A DER certificate on its own, as shim measures its built-in and MOK certificates. */
		sb_str(s, "certificate ");
		sb_hex(s, value, (size_t)value_len, HEX_SHOWN);
	} else if (type == PCRGATE_EV_EFI_VARIABLE_AUTHORITY || type == PCRGATE_EV_EFI_SPDM_DEVICE_AUTHORITY) {
		/* One EFI_SIGNATURE_DATA: owner GUID and the certificate or hash that authorized the image. */
		sb_str(s, "owner ");
		guid_named(s, value);
		sb_printf(s, ", %llu-byte signature: ", (unsigned long long)value_len - 16);
		sb_hex(s, value + 16, (size_t)value_len - 16, HEX_SHOWN);
	} else if (text_is_ascii(value, (size_t)value_len)) {
		sb_str(s, "\"");
		sb_ascii(s, value, (size_t)value_len);
		sb_str(s, "\"");
	} else {
		size_t mark = s->len;

		if (signature_lists(s, value, (size_t)value_len) < 0) {
			s->len = mark;
			s->p[mark] = '\0';
			sb_hex(s, value, (size_t)value_len, HEX_SHOWN);
		}
	}
done:
	if (r.left > 0)
		sb_printf(s, " (%zu bytes after the variable)", r.left);
	return 0;
}

/* UEFI_IMAGE_LOAD_EVENT: location (UINT64), length, link-time address and path length (UINTN), path. */
static int dec_image_load(struct sb *s, const pcrgate_eventlog *log, const uint8_t *p, size_t n)
{
	unsigned order[2], k;
	struct reader r;
	uint64_t loc, length, link, path_len;

	uintn_order(log, order);
	for (k = 0; k < 2; k++) {
		reader_init(&r, p, n);
		if (reader_u64le(&r, &loc) < 0 || read_uintn(&r, order[k], &length) < 0 ||
		    read_uintn(&r, order[k], &link) < 0 || read_uintn(&r, order[k], &path_len) < 0 ||
		    path_len != r.left)
			continue;
		sb_printf(s, "image at 0x%llx, %llu bytes, link-time address 0x%llx, path ", (unsigned long long)loc,
			  (unsigned long long)length, (unsigned long long)link);
		if (path_len == 0)
			sb_str(s, "(none)");
		else
			el_devpath_text(s, r.p, r.left);
		return 0;
	}
	return -1;
}

static int dec_blob(struct sb *s, const uint8_t *p, size_t n)
{
	struct reader r;
	uint64_t base, length;

	reader_init(&r, p, n);
	if (n != 16 || reader_u64le(&r, &base) < 0 || reader_u64le(&r, &length) < 0)
		return -1;
	sb_printf(s, "firmware blob at 0x%llx, length 0x%llx", (unsigned long long)base, (unsigned long long)length);
	return 0;
}

/* UEFI_PLATFORM_FIRMWARE_BLOB2: a described blob. */
static int dec_blob2(struct sb *s, const uint8_t *p, size_t n)
{
	struct reader r;
	const uint8_t *desc;
	uint8_t desc_len;
	uint64_t base, length;

	reader_init(&r, p, n);
	if (reader_u8(&r, &desc_len) < 0 || reader_bytes(&r, desc_len, &desc) < 0 || reader_u64le(&r, &base) < 0 ||
	    reader_u64le(&r, &length) < 0 || r.left != 0)
		return -1;
	sb_str(s, "\"");
	sb_ascii(s, desc, desc_len);
	sb_printf(s, "\" at 0x%llx, length 0x%llx", (unsigned long long)base, (unsigned long long)length);
	return 0;
}

/* UEFI_HANDOFF_TABLE_POINTERS(2): [description,] count, then (GUID, UINTN address) per table. */
static int dec_handoff(struct sb *s, const pcrgate_eventlog *log, const uint8_t *p, size_t n, int v2)
{
	unsigned order[2], k;
	struct reader r;
	const uint8_t *desc = NULL, *guid;
	uint8_t desc_len = 0;
	uint64_t count, addr, i;

	uintn_order(log, order);
	for (k = 0; k < 2; k++) {
		reader_init(&r, p, n);
		if (v2 && (reader_u8(&r, &desc_len) < 0 || reader_bytes(&r, desc_len, &desc) < 0))
			return -1;
		if (reader_u64le(&r, &count) < 0 || count > r.left / (16 + order[k]) ||
		    r.left != count * (16 + order[k]))
			continue;
		if (v2) {
			sb_str(s, "\"");
			sb_ascii(s, desc, desc_len);
			sb_str(s, "\", ");
		}
		sb_printf(s, "%llu tables", (unsigned long long)count);
		for (i = 0; i < count && i < LIST_SHOWN; i++) {
			if (reader_bytes(&r, 16, &guid) < 0 || read_uintn(&r, order[k], &addr) < 0)
				return -1;
			sb_str(s, i ? "; " : ": ");
			guid_named(s, guid);
			sb_printf(s, " at 0x%llx", (unsigned long long)addr);
		}
		if (i < count)
			sb_str(s, "; ...");
		return 0;
	}
	return -1;
}

/* UEFI_GPT_DATA: the partition table header, the number of partitions, then the entries. */
static int dec_gpt(struct sb *s, const uint8_t *p, size_t n)
{
	struct reader r;
	const uint8_t *hdr, *e;
	uint32_t entry_size;
	uint64_t count, i, start, end;

	reader_init(&r, p, n);
	if (reader_bytes(&r, GPT_HEADER, &hdr) < 0 || memcmp(hdr, "EFI PART", 8) != 0 ||
	    reader_u64le(&r, &count) < 0)
		return -1;
	entry_size = (uint32_t)hdr[84] | ((uint32_t)hdr[85] << 8) | ((uint32_t)hdr[86] << 16) |
		     ((uint32_t)hdr[87] << 24);
	if (entry_size < 128 || count > r.left / entry_size)
		return -1;
	sb_str(s, "GPT disk ");
	sb_guid(s, hdr + 56);
	sb_printf(s, ", %llu partitions", (unsigned long long)count);
	for (i = 0; i < count && i < LIST_SHOWN; i++) {
		if (reader_bytes(&r, entry_size, &e) < 0)
			return -1;
		start = (uint64_t)e[32] | ((uint64_t)e[33] << 8) | ((uint64_t)e[34] << 16) | ((uint64_t)e[35] << 24) |
			((uint64_t)e[36] << 32) | ((uint64_t)e[37] << 40) | ((uint64_t)e[38] << 48) |
			((uint64_t)e[39] << 56);
		end = (uint64_t)e[40] | ((uint64_t)e[41] << 8) | ((uint64_t)e[42] << 16) | ((uint64_t)e[43] << 24) |
		      ((uint64_t)e[44] << 32) | ((uint64_t)e[45] << 40) | ((uint64_t)e[46] << 48) |
		      ((uint64_t)e[47] << 56);
		sb_str(s, i ? "; \"" : ": \"");
		sb_utf16(s, e + 56, 36, 1);
		sb_str(s, "\" type ");
		sb_guid(s, e);
		sb_printf(s, " LBA %llu-%llu", (unsigned long long)start, (unsigned long long)end);
	}
	if (i < count)
		sb_str(s, "; ...");
	return 0;
}

/* TCG_PCClientTaggedEvent: id, size, data. */
static int dec_tagged(struct sb *s, const uint8_t *p, size_t n)
{
	struct reader r;
	uint32_t id, size;

	reader_init(&r, p, n);
	if (reader_u32le(&r, &id) < 0 || reader_u32le(&r, &size) < 0 || size != r.left)
		return -1;
	sb_printf(s, "tagged event 0x%x, ", id);
	hex_summary(s, r.p, r.left);
	return 0;
}

static int describe(struct sb *s, const pcrgate_eventlog *log, uint32_t type, const uint8_t *p, size_t n)
{
	switch (type) {
	case PCRGATE_EV_NO_ACTION:
		return dec_no_action(s, p, n);
	case PCRGATE_EV_SEPARATOR:
		return dec_separator(s, p, n);
	case PCRGATE_EV_EFI_VARIABLE_DRIVER_CONFIG:
	case PCRGATE_EV_EFI_VARIABLE_BOOT:
	case PCRGATE_EV_EFI_VARIABLE_BOOT2:
	case PCRGATE_EV_EFI_VARIABLE_AUTHORITY:
	case PCRGATE_EV_EFI_SPDM_DEVICE_POLICY:
	case PCRGATE_EV_EFI_SPDM_DEVICE_AUTHORITY:
		return dec_variable(s, type, p, n);
	case PCRGATE_EV_EFI_BOOT_SERVICES_APPLICATION:
	case PCRGATE_EV_EFI_BOOT_SERVICES_DRIVER:
	case PCRGATE_EV_EFI_RUNTIME_SERVICES_DRIVER:
		return dec_image_load(s, log, p, n);
	case PCRGATE_EV_EFI_PLATFORM_FIRMWARE_BLOB:
		return dec_blob(s, p, n);
	case PCRGATE_EV_EFI_PLATFORM_FIRMWARE_BLOB2:
		return dec_blob2(s, p, n);
	case PCRGATE_EV_EFI_HANDOFF_TABLES:
	case PCRGATE_EV_EFI_HANDOFF_TABLES2:
		return dec_handoff(s, log, p, n, type == PCRGATE_EV_EFI_HANDOFF_TABLES2);
	case PCRGATE_EV_EFI_GPT_EVENT:
	case PCRGATE_EV_EFI_GPT_EVENT2:
		return dec_gpt(s, p, n);
	case PCRGATE_EV_EVENT_TAG:
		return dec_tagged(s, p, n);
	case PCRGATE_EV_S_CRTM_VERSION:
		/* A UTF-16 version string, or a GUID (Intel Boot Guard). */
		if (n != 16 || text_is_ascii(p, n) || text_is_utf16(p, n))
			return -1;
		sb_str(s, "GUID ");
		sb_guid(s, p);
		return 0;
	case PCRGATE_EV_POST_CODE:
	case PCRGATE_EV_S_CRTM_CONTENTS:
		/* Strings, or (older firmware) a UEFI_PLATFORM_FIRMWARE_BLOB. */
		if (n == 16 && !text_is_ascii(p, n))
			return dec_blob(s, p, n);
		return -1;
	default:
		return -1;
	}
}

int pcrgate_event_describe(const pcrgate_event *ev, char *out, size_t cap)
{
	struct sb s;

	if (ev == NULL || out == NULL || cap == 0)
		return PCRGATE_ERR_INVALID_ARGUMENT;
	sb_init(&s, out, cap);
	if (describe(&s, ev->log, ev->type, ev->data, ev->data_len) < 0) {
		sb_reset(&s);
		generic(&s, ev->data, ev->data_len);
	}
	return PCRGATE_OK;
}
