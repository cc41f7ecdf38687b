/*
 * pcrgate: PCR files that come with a quote. tpm2_quote -o writes the quoted PCR values in one
 * of three layouts (tpm2-tools 5.x: "serialized", the default, a little-endian dump of its C
 * structs; "values", bare digests; 5.6 and later also "marshaled", TPM wire format); pcrgate
 * also reads its own text lines BANK:INDEX=HEX and a JSON object {"BANK": {"INDEX": "HEX"}}.
 * Every layout is read field by field with bounds; nothing is copied over a TSS struct.
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <tss2/tss2_mu.h>

#include "pcrgate/quote.h"
#include "quote_internal.h"
#include "reader.h"

/* Layout of tpm2-tools' serialized file, as the C compiler lays out the TSS structs. */
#define SER_SELECTIONS	   16 /* TPML_PCR_SELECTION.pcrSelections[TPM2_NUM_PCR_BANKS] */
#define SER_SELECTION_SIZE 8  /* TPMS_PCR_SELECTION: hash u16, sizeofSelect u8, pcrSelect[4], 1 pad byte */
#define SER_SELECT_MAX	   4
#define SER_DIGESTS	   8	    /* TPML_DIGEST.digests[8] */
#define SER_DIGEST_SIZE	   (2 + 64) /* TPM2B_DIGEST: size u16, buffer[sizeof(TPMU_HA)] */
#define SER_LIST_SIZE	   (4 + SER_DIGESTS * SER_DIGEST_SIZE) /* TPML_DIGEST: count u32 then digests */
#define SER_HEADER_SIZE	   (4 + SER_SELECTIONS * SER_SELECTION_SIZE)
/* tpm2-tools keeps at most this many TPML_DIGESTs (all PCRs of all banks, 8 per list). */
#define MAX_DIGEST_LISTS 64

/* A PCR selection as the files carry it, before any value is known. */
struct selection {
	size_t count;
	uint16_t alg[SER_SELECTIONS];
	uint32_t mask[SER_SELECTIONS];
};

static const struct {
	int format;
	const char *name;
} format_names[] = {
	{PCRGATE_PCRFILE_SERIALIZED, "serialized"},
	{PCRGATE_PCRFILE_MARSHALED, "marshaled"},
	{PCRGATE_PCRFILE_VALUES, "values"},
	{PCRGATE_PCRFILE_TEXT, "text"},
	{PCRGATE_PCRFILE_JSON, "json"},
};

const char *pcrgate_pcrfile_format_name(int format)
{
	size_t i;

	for (i = 0; i < sizeof(format_names) / sizeof(format_names[0]); i++)
		if (format_names[i].format == format)
			return format_names[i].name;
	return NULL;
}

int pcrgate_pcrfile_format_from_name(const char *name)
{
	size_t i;

	for (i = 0; name != NULL && i < sizeof(format_names) / sizeof(format_names[0]); i++)
		if (strcmp(format_names[i].name, name) == 0)
			return format_names[i].format;
	return name != NULL && strcmp(name, "auto") == 0 ? PCRGATE_PCRFILE_AUTO : -1;
}

/* Adds one bank to a selection; a bank twice or unknown cannot be mapped to values. */
static int selection_add(struct selection *sel, uint16_t alg, const uint8_t *bits, size_t nbits_bytes,
			 size_t off, pcrgate_errinfo *ei)
{
	uint32_t mask = 0;
	size_t i;

	for (i = 0; i < nbits_bytes; i++)
		mask |= (uint32_t)bits[i] << (8 * i);
	if (mask == 0)
		return PCRGATE_OK;
	if (pcrgate_alg_digest_size(alg) == 0)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_UNSUPPORTED, off, "PCR bank 0x%04x is not known",
					   alg);
	for (i = 0; i < sel->count; i++)
		if (sel->alg[i] == alg)
			return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, off, "bank %s selected twice",
						   pcrgate_alg_name(alg));
	if (sel->count == SER_SELECTIONS)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, off, "more than %d banks", SER_SELECTIONS);
	sel->alg[sel->count] = alg;
	sel->mask[sel->count] = mask;
	sel->count++;
	return PCRGATE_OK;
}

/* Walks the selection in quote order: bank by bank, PCR indices ascending. */
struct cursor {
	size_t bank;
	unsigned index;
};

static int cursor_next(const struct selection *sel, struct cursor *c)
{
	while (c->bank < sel->count) {
		while (c->index < PCRGATE_MAX_PCRS) {
			if (sel->mask[c->bank] & ((uint32_t)1 << c->index))
				return 1;
			c->index++;
		}
		c->bank++;
		c->index = 0;
	}
	return 0;
}

/* Stores a digest at the cursor's PCR, checking its size against the bank's. */
static int put_value(pcrgate_pcrs *pcrs, const struct selection *sel, struct cursor *c, const uint8_t *v,
		     size_t vlen, size_t off, pcrgate_errinfo *ei)
{
	uint16_t alg;

	if (!cursor_next(sel, c))
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, off,
					   "more PCR values than the selection names");
	alg = sel->alg[c->bank];
	if (vlen != pcrgate_alg_digest_size(alg))
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, off, "a value of %zu bytes for %s:%u",
					   vlen, pcrgate_alg_name(alg), c->index);
	if (pcrgate_pcrs_set(pcrs, alg, c->index, v, vlen) != 0)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, off, "cannot hold %s:%u",
					   pcrgate_alg_name(alg), c->index);
	c->index++;
	return PCRGATE_OK;
}

static int parse_serialized(const uint8_t *buf, size_t len, pcrgate_pcrs *pcrs, pcrgate_errinfo *ei)
{
	struct selection sel;
	struct cursor cur = {0, 0};
	struct reader rd;
	uint32_t count, nlists, l;
	size_t i;
	int r;

	memset(&sel, 0, sizeof(sel));
	reader_init(&rd, buf, len);
	if (reader_u32le(&rd, &count) != 0)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, 0, "too short for a PCR selection");
	if (count > SER_SELECTIONS)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, 0, "%u PCR selections (at most %d)", count,
					   SER_SELECTIONS);
	/* All 16 slots are in the file; only the first count mean anything. */
	for (i = 0; i < SER_SELECTIONS; i++) {
		size_t off = rd.off;
		const uint8_t *bits;
		uint16_t hash;
		uint8_t size;
		if (reader_u16le(&rd, &hash) != 0 || reader_u8(&rd, &size) != 0 ||
		    reader_bytes(&rd, SER_SELECT_MAX, &bits) != 0 ||
		    reader_skip(&rd, SER_SELECTION_SIZE - 7) != 0)
			return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, rd.off,
						   "PCR selection %zu is cut short", i);
		if (i >= count)
			continue;
		if (size > SER_SELECT_MAX)
			return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, off + 2,
						   "sizeofSelect %u (at most %d)", size, SER_SELECT_MAX);
		if ((r = selection_add(&sel, hash, bits, size, off, ei)) != 0)
			return r;
	}
	if (reader_u32le(&rd, &nlists) != 0)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, rd.off, "no count of digest lists");
	if (nlists > MAX_DIGEST_LISTS)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, rd.off - 4, "%u digest lists (at most %d)",
					   nlists, MAX_DIGEST_LISTS);
	for (l = 0; l < nlists; l++) {
		size_t list_off = rd.off;
		uint32_t n;
		if (reader_u32le(&rd, &n) != 0)
			return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, rd.off,
						   "digest list %u is cut short", l);
		if (n > SER_DIGESTS)
			return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, list_off,
						   "digest list %u holds %u digests (at most %d)", l, n,
						   SER_DIGESTS);
		for (i = 0; i < SER_DIGESTS; i++) {
			size_t off = rd.off;
			const uint8_t *d;
			uint16_t dsize;
			if (reader_u16le(&rd, &dsize) != 0 || reader_bytes(&rd, SER_DIGEST_SIZE - 2, &d) != 0)
				return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, rd.off,
							   "digest list %u is cut short", l);
			if (i >= n)
				continue;
			if (dsize > SER_DIGEST_SIZE - 2)
				return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, off, "digest of %u bytes",
							   dsize);
			if ((r = put_value(pcrs, &sel, &cur, d, dsize, off, ei)) != 0)
				return r;
		}
	}
	if (rd.left != 0)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, rd.off,
					   "%zu bytes after the last digest list", rd.left);
	if (cursor_next(&sel, &cur))
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, rd.off, "no value for %s:%u",
					   pcrgate_alg_name(sel.alg[cur.bank]), cur.index);
	return PCRGATE_OK;
}

/* Selection of a TPML_PCR_SELECTION the TSS has unmarshalled: byte offsets are not known there. */
static int selection_from_tpml(const TPML_PCR_SELECTION *tpml, struct selection *sel, pcrgate_errinfo *ei)
{
	const size_t off = PCRGATE_NO_OFFSET;
	size_t i;
	int r;

	memset(sel, 0, sizeof(*sel));
	for (i = 0; i < tpml->count && i < TPM2_NUM_PCR_BANKS; i++) {
		const TPMS_PCR_SELECTION *s = &tpml->pcrSelections[i];
		if (s->sizeofSelect > SER_SELECT_MAX)
			return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, off,
						   "sizeofSelect %u (at most %d)", s->sizeofSelect,
						   SER_SELECT_MAX);
		if ((r = selection_add(sel, s->hash, s->pcrSelect, s->sizeofSelect, off, ei)) != 0)
			return r;
	}
	return PCRGATE_OK;
}

/*
 * A marshalled TPML_PCR_SELECTION, read field by field so that an error names the byte where
 * it is (the TSS leaves the offset at the start when it refuses one). *end gets its length.
 */
static int selection_marshaled(const uint8_t *buf, size_t len, struct selection *sel, size_t *end,
			       pcrgate_errinfo *ei)
{
	struct reader rd;
	uint32_t count, i;
	int r;

	memset(sel, 0, sizeof(*sel));
	reader_init(&rd, buf, len);
	if (reader_u32be(&rd, &count) != 0)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, 0, "too short for a PCR selection");
	if (count > SER_SELECTIONS)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, 0, "%u PCR selections (at most %d)", count,
					   SER_SELECTIONS);
	for (i = 0; i < count; i++) {
		size_t off = rd.off;
		const uint8_t *bits;
		uint16_t hash;
		uint8_t size;
		if (reader_u16be(&rd, &hash) != 0 || reader_u8(&rd, &size) != 0)
			return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, rd.off,
						   "PCR selection %u is cut short", i);
		if (size > SER_SELECT_MAX)
			return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, off + 2,
						   "sizeofSelect %u (at most %d)", size, SER_SELECT_MAX);
		if (reader_bytes(&rd, size, &bits) != 0)
			return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, rd.off,
						   "PCR selection %u is cut short", i);
		if ((r = selection_add(sel, hash, bits, size, off, ei)) != 0)
			return r;
	}
	*end = rd.off;
	return PCRGATE_OK;
}

static int parse_marshaled(const uint8_t *buf, size_t len, pcrgate_pcrs *pcrs, pcrgate_errinfo *ei)
{
	struct selection sel;
	struct cursor cur = {0, 0};
	size_t off = 0, i;
	uint32_t nlists, l;
	int r;

	if ((r = selection_marshaled(buf, len, &sel, &off, ei)) != 0)
		return r;
	if (Tss2_MU_UINT32_Unmarshal(buf, len, &off, &nlists) != TSS2_RC_SUCCESS)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, off, "no count of digest lists");
	if (nlists > MAX_DIGEST_LISTS)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, off - 4, "%u digest lists (at most %d)",
					   nlists, MAX_DIGEST_LISTS);
	for (l = 0; l < nlists; l++) {
		TPML_DIGEST list;
		size_t list_off = off;
		memset(&list, 0, sizeof(list));
		if (Tss2_MU_TPML_DIGEST_Unmarshal(buf, len, &off, &list) != TSS2_RC_SUCCESS)
			return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, list_off,
						   "digest list %u is not a TPML_DIGEST", l);
		for (i = 0; i < list.count && i < SER_DIGESTS; i++)
			if ((r = put_value(pcrs, &sel, &cur, list.digests[i].buffer, list.digests[i].size,
					   list_off, ei)) != 0)
				return r;
	}
	if (off != len)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, off,
					   "%zu bytes after the last digest list", len - off);
	if (cursor_next(&sel, &cur))
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, off, "no value for %s:%u",
					   pcrgate_alg_name(sel.alg[cur.bank]), cur.index);
	return PCRGATE_OK;
}

/* The selection a quote names, for files that carry only values. */
static int selection_from_attest(const uint8_t *attest, size_t attest_len, struct selection *sel,
				 pcrgate_errinfo *ei)
{
	TPMS_ATTEST a;
	size_t off = 0;

	if (attest == NULL || attest_len == 0 || attest_len > PCRGATE_QUOTE_MAX_ATTEST)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET,
					   "PCR values alone need the quote for their selection");
	memset(&a, 0, sizeof(a));
	if (Tss2_MU_TPMS_ATTEST_Unmarshal(attest, attest_len, &off, &a) != TSS2_RC_SUCCESS ||
	    off != attest_len || a.type != TPM2_ST_ATTEST_QUOTE)
		return pcrgate_errinfo_set(
			ei, PCRGATE_ERR_FORMAT, PCRGATE_NO_OFFSET,
			"the quote is not a well-formed TPMS_ATTEST quote, so its selection is unknown");
	return selection_from_tpml(&a.attested.quote.pcrSelect, sel, ei);
}

static int parse_values(const uint8_t *buf, size_t len, const struct selection *sel, pcrgate_pcrs *pcrs,
			pcrgate_errinfo *ei)
{
	struct cursor cur = {0, 0};
	struct reader rd;
	size_t want = 0;
	int r;

	while (cursor_next(sel, &cur)) {
		want += pcrgate_alg_digest_size(sel->alg[cur.bank]);
		cur.index++;
	}
	if (len != want)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, PCRGATE_NO_OFFSET,
					   "%zu bytes of PCR values, the quote's selection needs %zu", len,
					   want);
	reader_init(&rd, buf, len);
	cur.bank = 0;
	cur.index = 0;
	while (cursor_next(sel, &cur)) {
		size_t off = rd.off, n = pcrgate_alg_digest_size(sel->alg[cur.bank]);
		const uint8_t *d;
		if (reader_bytes(&rd, n, &d) != 0)
			return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, off, "PCR values cut short");
		if ((r = put_value(pcrs, sel, &cur, d, n, off, ei)) != 0)
			return r;
	}
	return PCRGATE_OK;
}

/* One "BANK:INDEX=HEX" assignment, shared by the text and JSON readers. */
static int set_from_text(pcrgate_pcrs *pcrs, const char *bank, const char *index, const char *hex, size_t off,
			 pcrgate_errinfo *ei)
{
	uint8_t v[PCRGATE_MAX_DIGEST];
	uint16_t alg = pcrgate_alg_from_name(bank);
	size_t vlen = 0, i;
	unsigned long idx = 0;

	if (alg == 0)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, off, "unknown PCR bank \"%.16s\"", bank);
	if (index[0] == '\0' || strlen(index) > 2)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, off, "PCR index \"%.16s\" (0..%d)", index,
					   PCRGATE_MAX_PCRS - 1);
	for (i = 0; index[i] != '\0'; i++) {
		if (!isdigit((unsigned char)index[i]))
			return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, off,
						   "PCR index \"%.16s\" is not a number", index);
		idx = idx * 10 + (unsigned long)(index[i] - '0');
	}
	if (idx >= PCRGATE_MAX_PCRS)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, off, "PCR index %lu (0..%d)", idx,
					   PCRGATE_MAX_PCRS - 1);
	if (pcrgate_hex_decode(hex, v, sizeof(v), &vlen) != 0 || vlen != pcrgate_alg_digest_size(alg))
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, off, "%s:%lu needs %zu bytes of hex", bank,
					   idx, pcrgate_alg_digest_size(alg));
	if (pcrgate_pcrs_get(pcrs, alg, (unsigned)idx, NULL) != NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, off, "%s:%lu given twice", bank, idx);
	if (pcrgate_pcrs_set(pcrs, alg, (unsigned)idx, v, vlen) != 0)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, off, "cannot hold %s:%lu", bank, idx);
	return PCRGATE_OK;
}

/* Copies s[0..n) into a field of cap bytes (NUL-terminated); -1 when it does not fit. */
static int field(char *dst, size_t cap, const uint8_t *s, size_t n)
{
	if (n >= cap)
		return -1;
	memcpy(dst, s, n);
	dst[n] = '\0';
	return 0;
}

static int parse_text(const uint8_t *buf, size_t len, pcrgate_pcrs *pcrs, pcrgate_errinfo *ei)
{
	size_t pos = 0, line = 0;
	int r;

	while (pos < len) {
		size_t start = pos, end, colon = 0, eq = 0, i;
		char bank[16], index[8], hex[2 * PCRGATE_MAX_DIGEST + 2];

		line++;
		for (end = pos; end < len && buf[end] != '\n'; end++)
			;
		pos = end < len ? end + 1 : end;
		/* Trailing blanks and a CR are tolerated, so are empty lines and # comments. */
		while (end > start && (buf[end - 1] == '\r' || buf[end - 1] == ' ' || buf[end - 1] == '\t'))
			end--;
		if (end == start || buf[start] == '#')
			continue;
		for (i = start; i < end; i++) {
			if (buf[i] == ':' && colon == 0)
				colon = i;
			else if (buf[i] == '=' && eq == 0)
				eq = i;
		}
		if (colon == 0 || eq == 0 || eq < colon ||
		    field(bank, sizeof(bank), buf + start, colon - start) != 0 ||
		    field(index, sizeof(index), buf + colon + 1, eq - colon - 1) != 0 ||
		    field(hex, sizeof(hex), buf + eq + 1, end - eq - 1) != 0)
			return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, start,
						   "line %zu is not BANK:INDEX=HEX", line);
		if ((r = set_from_text(pcrs, bank, index, hex, start, ei)) != 0)
			return r;
	}
	return PCRGATE_OK;
}

/* The banks of a JSON PCR object into pcrs; top may carry them under "pcrs". */
static int json_fill(const json_t *top, pcrgate_pcrs *pcrs, pcrgate_errinfo *ei)
{
	json_t *bank_obj, *val;
	const char *bank, *index;
	int r;

	/* A quote vector carries its PCRs under "pcrs"; a PCR file is that object alone. */
	if (json_is_object(json_object_get(top, "pcrs")))
		top = json_object_get(top, "pcrs");
	if (!json_is_object(top))
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, PCRGATE_NO_OFFSET,
					   "JSON PCRs must be an object of banks");
	json_object_foreach((json_t *)top, bank, bank_obj)
	{
		if (!json_is_object(bank_obj))
			return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, PCRGATE_NO_OFFSET,
						   "JSON bank \"%.16s\" must be an object of PCR indices", bank);
		json_object_foreach(bank_obj, index, val)
		{
			if (!json_is_string(val))
				return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, PCRGATE_NO_OFFSET,
							   "JSON %.16s:%.16s must be a hex string", bank, index);
			if ((r = set_from_text(pcrs, bank, index, json_string_value(val), PCRGATE_NO_OFFSET,
					       ei)) != 0)
				return r;
		}
	}
	return PCRGATE_OK;
}

int pcrfile_from_json(const json_t *obj, pcrgate_pcrs **out, pcrgate_errinfo *ei)
{
	pcrgate_pcrs *pcrs;
	int r;

	if (obj == NULL || out == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET, "no PCR object given");
	if ((pcrs = pcrgate_pcrs_new()) == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
	if ((r = json_fill(obj, pcrs, ei)) != 0) {
		pcrgate_pcrs_free(&pcrs);
		return r;
	}
	*out = pcrs;
	return PCRGATE_OK;
}

static int parse_json(const uint8_t *buf, size_t len, pcrgate_pcrs *pcrs, pcrgate_errinfo *ei)
{
	json_error_t jerr;
	json_t *root;
	int r;

	root = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, (size_t)jerr.position, "JSON: %s",
					   jerr.text);
	r = json_fill(root, pcrs, ei);
	json_decref(root);
	return r;
}

/* Text: printable ASCII lines with a ':' and an '=' (digests of a values file are never all text). */
static int looks_like_text(const uint8_t *buf, size_t len)
{
	size_t i;
	int colon = 0, eq = 0;

	for (i = 0; i < len; i++) {
		if (buf[i] == ':')
			colon = 1;
		else if (buf[i] == '=')
			eq = 1;
		else if (!(buf[i] == '\n' || buf[i] == '\r' || buf[i] == '\t' ||
			   (buf[i] >= 0x20 && buf[i] < 0x7f)))
			return 0;
	}
	return colon && eq;
}

static int detect(const uint8_t *buf, size_t len)
{
	size_t i = 0;

	while (i < len && isspace(buf[i]))
		i++;
	if (i < len && buf[i] == '{')
		return PCRGATE_PCRFILE_JSON;
	if (looks_like_text(buf, len))
		return PCRGATE_PCRFILE_TEXT;
	/* serialized: fixed-size structs after a little-endian count; marshaled: big-endian count. */
	if (len >= SER_HEADER_SIZE + 4 && (len - SER_HEADER_SIZE - 4) % SER_LIST_SIZE == 0 &&
	    buf[0] <= SER_SELECTIONS && buf[1] == 0 && buf[2] == 0 && buf[3] == 0)
		return PCRGATE_PCRFILE_SERIALIZED;
	if (len >= 8 && buf[0] == 0 && buf[1] == 0 && buf[2] == 0 && buf[3] <= SER_SELECTIONS)
		return PCRGATE_PCRFILE_MARSHALED;
	return PCRGATE_PCRFILE_VALUES;
}

int pcrgate_pcrfile_parse(const uint8_t *buf, size_t len, int format, const uint8_t *attest,
			  size_t attest_len, pcrgate_pcrs **out, int *detected, pcrgate_errinfo *ei)
{
	struct selection sel;
	pcrgate_pcrs *pcrs = NULL;
	int r = PCRGATE_ERR_INVALID_ARGUMENT;

	if (buf == NULL || out == NULL)
		return pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET, "no PCR file given");
	if (len > PCRGATE_PCRFILE_MAX)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, PCRGATE_NO_OFFSET,
					   "PCR file of %zu bytes (at most %u)", len, PCRGATE_PCRFILE_MAX);
	if (format == PCRGATE_PCRFILE_AUTO)
		format = detect(buf, len);
	if ((pcrs = pcrgate_pcrs_new()) == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
	switch (format) {
	case PCRGATE_PCRFILE_SERIALIZED:
		r = parse_serialized(buf, len, pcrs, ei);
		break;
	case PCRGATE_PCRFILE_MARSHALED:
		r = parse_marshaled(buf, len, pcrs, ei);
		break;
	case PCRGATE_PCRFILE_VALUES:
		if ((r = selection_from_attest(attest, attest_len, &sel, ei)) == 0)
			r = parse_values(buf, len, &sel, pcrs, ei);
		break;
	case PCRGATE_PCRFILE_TEXT:
		r = parse_text(buf, len, pcrs, ei);
		break;
	case PCRGATE_PCRFILE_JSON:
		r = parse_json(buf, len, pcrs, ei);
		break;
	default:
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET,
					"unknown PCR file format %d", format);
		break;
	}
	if (r != 0)
		goto fail;
	if (detected != NULL)
		*detected = format;
	*out = pcrs;
	return PCRGATE_OK;
fail:
	pcrgate_pcrs_free(&pcrs);
	return r;
}
