/*
 * pcrgate boot core: the slot-manifest parser (grammar in docs/boot.md). Lines are taken
 * with the bounded reader; every field has exactly one accepted spelling, so two
 * manifests that mean the same thing are the same bytes, and the digest measured to PCR 9
 * identifies the meaning.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "manifest.h"
#include "pcrgate/common.h"
#include "reader.h"
#include "util.h"

/* A span of the input: p[0..len) at byte offset off. */
struct span {
	const uint8_t *p;
	size_t len;
	size_t off;
};

/* Keys in the order they must appear. */
enum key { KEY_NONE, KEY_COMPATIBLE, KEY_VERSION, KEY_SECURITY_VERSION, KEY_IMAGE };

static const struct {
	const char *text;
	enum key key;
} keys[] = {
	{"compatible", KEY_COMPATIBLE},
	{"version", KEY_VERSION},
	{"security_version", KEY_SECURITY_VERSION},
	{"image", KEY_IMAGE},
};

/* Image names in the order they must appear (and are measured). */
static const char *const image_names[PCRGATE_MANIFEST_MAX_IMAGES] = {"kernel", "initrd", "dtb"};

static int fail_at(struct pcrgate_manifest_error *err, int code, size_t offset, const char *what)
{
	if (err != NULL) {
		err->offset = offset;
		err->what = what;
	}
	return code;
}

static int span_equals(const struct span *s, const char *text)
{
	size_t n = boot_strnlen(text, PCRGATE_MANIFEST_LINE_MAX);

	return s->len == n && memcmp(s->p, text, n) == 0;
}

/* Splits s at the first `sep`: head before it, s keeps what follows. 0 when found. */
static int span_split(struct span *s, uint8_t sep, struct span *head)
{
	size_t i;

	for (i = 0; i < s->len; i++) {
		if (s->p[i] == sep) {
			head->p = s->p;
			head->len = i;
			head->off = s->off;
			s->p += i + 1;
			s->len -= i + 1;
			s->off += i + 1;
			return 0;
		}
	}
	return -1;
}

/* Removes `prefix` from the front of s; 0 when it was there. */
static int span_take(struct span *s, const char *prefix)
{
	size_t n = boot_strnlen(prefix, PCRGATE_MANIFEST_LINE_MAX);

	if (s->len < n || memcmp(s->p, prefix, n) != 0)
		return -1;
	s->p += n;
	s->len -= n;
	s->off += n;
	return 0;
}

static int string_char_ok(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
	       c == '_' || c == '-' || c == '+' || c == '~' || c == ',' || c == ':';
}

/* compatible= and version= values: 1..PCRGATE_MANIFEST_STRING_MAX of a small safe set. */
static int parse_string(const struct span *v, char *out, struct pcrgate_manifest_error *err)
{
	size_t i;

	if (v->len == 0)
		return fail_at(err, PCRGATE_ERR_FORMAT, v->off, "empty value");
	if (v->len > PCRGATE_MANIFEST_STRING_MAX)
		return fail_at(err, PCRGATE_ERR_LIMIT, v->off, "value longer than 64 bytes");
	for (i = 0; i < v->len; i++)
		if (!string_char_ok(v->p[i]))
			return fail_at(err, PCRGATE_ERR_FORMAT, v->off + i,
				       "character not allowed in a value (allowed: A-Z a-z 0-9 . _ - + ~ , :)");
	memcpy(out, v->p, v->len);
	out[v->len] = '\0';
	return PCRGATE_OK;
}

/* Canonical decimal: digits only, no leading zero, at most max. */
static int parse_number(const struct span *v, uint64_t max, uint64_t *out, struct pcrgate_manifest_error *err)
{
	uint64_t n = 0;
	size_t i;

	if (v->len == 0)
		return fail_at(err, PCRGATE_ERR_FORMAT, v->off, "empty number");
	if (v->len > 1 && v->p[0] == '0')
		return fail_at(err, PCRGATE_ERR_FORMAT, v->off, "number with a leading zero");
	for (i = 0; i < v->len; i++) {
		unsigned d;

		if (v->p[i] < '0' || v->p[i] > '9')
			return fail_at(err, PCRGATE_ERR_FORMAT, v->off + i, "not a decimal digit");
		d = (unsigned)(v->p[i] - '0');
		if (n > (max - d) / 10)
			return fail_at(err, PCRGATE_ERR_LIMIT, v->off, "number too large");
		n = n * 10 + d;
	}
	*out = n;
	return PCRGATE_OK;
}

/* Exactly 64 lower-case hex digits. */
static int parse_sha256(const struct span *v, uint8_t out[32], struct pcrgate_manifest_error *err)
{
	size_t i;

	if (v->len != 64)
		return fail_at(err, PCRGATE_ERR_FORMAT, v->off, "sha256 must be 64 lower-case hex digits");
	for (i = 0; i < 64; i++) {
		uint8_t c = v->p[i];
		unsigned nib;

		if (c >= '0' && c <= '9')
			nib = (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			nib = (unsigned)(c - 'a' + 10);
		else
			return fail_at(err, PCRGATE_ERR_FORMAT, v->off + i, "sha256 must be 64 lower-case hex digits");
		if (i % 2 == 0)
			out[i / 2] = (uint8_t)(nib << 4);
		else
			out[i / 2] |= (uint8_t)nib;
	}
	return PCRGATE_OK;
}

/*
 * "NAME size=N sha256=HEX", NAME after the previous image's name in the fixed order;
 * *last is the index in image_names of the previous image (or -1), updated on success.
 */
static int parse_image(struct span v, struct pcrgate_manifest *m, int *last, struct pcrgate_manifest_error *err)
{
	struct pcrgate_manifest_image *img;
	struct span name, size;
	uint64_t n;
	unsigned i;
	int r;

	if (span_split(&v, ' ', &name) != 0)
		return fail_at(err, PCRGATE_ERR_FORMAT, v.off, "image line must be: image=NAME size=N sha256=HEX");
	for (i = 0; i < PCRGATE_MANIFEST_MAX_IMAGES; i++)
		if (span_equals(&name, image_names[i]))
			break;
	if (i == PCRGATE_MANIFEST_MAX_IMAGES)
		return fail_at(err, PCRGATE_ERR_FORMAT, name.off, "unknown image name (known: kernel, initrd, dtb)");
	if (*last < 0 && i != 0)
		return fail_at(err, PCRGATE_ERR_FORMAT, name.off, "the first image must be the kernel");
	if ((int)i == *last)
		return fail_at(err, PCRGATE_ERR_FORMAT, name.off, "duplicate image");
	if ((int)i < *last)
		return fail_at(err, PCRGATE_ERR_FORMAT, name.off, "images out of order (kernel, initrd, dtb)");
	if (span_take(&v, "size=") != 0 || span_split(&v, ' ', &size) != 0)
		return fail_at(err, PCRGATE_ERR_FORMAT, v.off, "image line must be: image=NAME size=N sha256=HEX");
	r = parse_number(&size, PCRGATE_MANIFEST_IMAGE_MAX, &n, err);
	if (r != PCRGATE_OK)
		return r;
	if (n == 0)
		return fail_at(err, PCRGATE_ERR_FORMAT, size.off, "image size must be at least 1");
	if (span_take(&v, "sha256=") != 0)
		return fail_at(err, PCRGATE_ERR_FORMAT, v.off, "image line must be: image=NAME size=N sha256=HEX");
	img = &m->images[m->n_images];
	r = parse_sha256(&v, img->sha256, err);
	if (r != PCRGATE_OK)
		return r;
	memcpy(img->name, image_names[i], boot_strnlen(image_names[i], PCRGATE_MANIFEST_NAME_MAX - 1) + 1);
	img->size = n;
	m->n_images++;
	*last = (int)i;
	return PCRGATE_OK;
}

/* Takes the next line (without its newline) from r; checks its length and bytes. */
static int next_line(struct reader *r, struct span *line, struct pcrgate_manifest_error *err)
{
	const uint8_t *p;
	size_t i;

	for (i = 0; i < r->left && r->p[i] != '\n'; i++) {
		uint8_t c = r->p[i];

		if (i >= PCRGATE_MANIFEST_LINE_MAX)
			return fail_at(err, PCRGATE_ERR_LIMIT, r->off, "line longer than 255 bytes");
		if (c == '\0')
			return fail_at(err, PCRGATE_ERR_FORMAT, r->off + i, "embedded NUL byte");
		if (c == '\r')
			return fail_at(err, PCRGATE_ERR_FORMAT, r->off + i, "carriage return (lines end with LF only)");
		if (c < 0x20 || c > 0x7e)
			return fail_at(err, PCRGATE_ERR_FORMAT, r->off + i, "byte outside printable ASCII");
	}
	if (i == r->left)
		return fail_at(err, PCRGATE_ERR_FORMAT, r->off + i, "last line does not end with a newline");
	line->off = r->off;
	line->len = i;
	if (reader_bytes(r, i + 1, &p) != 0)
		return fail_at(err, PCRGATE_ERR_FORMAT, r->off, "truncated line");
	line->p = p;
	return PCRGATE_OK;
}

int pcrgate_manifest_parse(const uint8_t *buf, size_t len, struct pcrgate_manifest *m,
			   struct pcrgate_manifest_error *err)
{
	struct pcrgate_manifest out;
	struct reader r;
	struct span line, keytext;
	enum key last = KEY_NONE;
	unsigned seen = 0; /* bit k: key k was present */
	int last_image = -1;
	uint64_t n;
	unsigned i;
	int rc;

	if (buf == NULL || m == NULL)
		return fail_at(err, PCRGATE_ERR_INVALID_ARGUMENT, 0, "no manifest");
	if (len > PCRGATE_MANIFEST_MAX)
		return fail_at(err, PCRGATE_ERR_LIMIT, PCRGATE_MANIFEST_MAX, "manifest larger than 4096 bytes");
	memset(&out, 0, sizeof(out));
	reader_init(&r, buf, len);
	if (len == 0)
		return fail_at(err, PCRGATE_ERR_FORMAT, 0, "empty manifest");
	rc = next_line(&r, &line, err);
	if (rc != PCRGATE_OK)
		return rc;
	if (!span_equals(&line, PCRGATE_MANIFEST_HEADER))
		return fail_at(err, PCRGATE_ERR_FORMAT, 0, "first line must be \"pcrgate-manifest 1\"");

	while (r.left > 0) {
		enum key key = KEY_NONE;

		rc = next_line(&r, &line, err);
		if (rc != PCRGATE_OK)
			return rc;
		if (span_split(&line, '=', &keytext) != 0)
			return fail_at(err, PCRGATE_ERR_FORMAT, line.off, "line is not key=value");
		for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			if (span_equals(&keytext, keys[i].text))
				key = keys[i].key;
		if (key == KEY_NONE)
			return fail_at(err, PCRGATE_ERR_FORMAT, keytext.off, "unknown key");
		if (key == last && key != KEY_IMAGE)
			return fail_at(err, PCRGATE_ERR_FORMAT, keytext.off, "duplicate key");
		if (key < last)
			return fail_at(err, PCRGATE_ERR_FORMAT, keytext.off,
				       "key out of order (compatible, version, security_version, image)");
		last = key;
		seen |= 1u << key;
		switch (key) {
		case KEY_COMPATIBLE:
			rc = parse_string(&line, out.compatible, err);
			break;
		case KEY_VERSION:
			rc = parse_string(&line, out.version, err);
			break;
		case KEY_SECURITY_VERSION:
			rc = parse_number(&line, UINT32_MAX, &n, err);
			if (rc == PCRGATE_OK)
				out.security_version = (uint32_t)n;
			break;
		default:
			if (out.n_images == PCRGATE_MANIFEST_MAX_IMAGES)
				return fail_at(err, PCRGATE_ERR_LIMIT, keytext.off, "more than 3 images");
			rc = parse_image(line, &out, &last_image, err);
			break;
		}
		if (rc != PCRGATE_OK)
			return rc;
	}
	if (!(seen & 1u << KEY_COMPATIBLE))
		return fail_at(err, PCRGATE_ERR_FORMAT, len, "missing compatible=");
	if (!(seen & 1u << KEY_VERSION))
		return fail_at(err, PCRGATE_ERR_FORMAT, len, "missing version=");
	if (!(seen & 1u << KEY_SECURITY_VERSION))
		return fail_at(err, PCRGATE_ERR_FORMAT, len, "missing security_version=");
	if (!(seen & 1u << KEY_IMAGE))
		return fail_at(err, PCRGATE_ERR_FORMAT, len, "missing image=kernel");
	*m = out;
	return PCRGATE_OK;
}

int pcrgate_manifest_format(const struct pcrgate_manifest *m, uint8_t *buf, size_t cap, size_t *len)
{
	struct pcrgate_manifest check;
	struct boot_out o;
	unsigned i;

	if (m == NULL || buf == NULL || len == NULL || m->n_images > PCRGATE_MANIFEST_MAX_IMAGES)
		return PCRGATE_ERR_INVALID_ARGUMENT;
	boot_out_init(&o, buf, cap);
	boot_out_str(&o, PCRGATE_MANIFEST_HEADER "\ncompatible=");
	boot_out_bytes(&o, m->compatible, boot_strnlen(m->compatible, PCRGATE_MANIFEST_STRING_MAX + 1));
	boot_out_str(&o, "\nversion=");
	boot_out_bytes(&o, m->version, boot_strnlen(m->version, PCRGATE_MANIFEST_STRING_MAX + 1));
	boot_out_str(&o, "\nsecurity_version=");
	boot_out_u64(&o, m->security_version);
	boot_out_str(&o, "\n");
	for (i = 0; i < m->n_images; i++) {
		boot_out_str(&o, "image=");
		boot_out_bytes(&o, m->images[i].name, boot_strnlen(m->images[i].name, PCRGATE_MANIFEST_NAME_MAX));
		boot_out_str(&o, " size=");
		boot_out_u64(&o, m->images[i].size);
		boot_out_str(&o, " sha256=");
		boot_out_hex(&o, m->images[i].sha256, sizeof(m->images[i].sha256));
		boot_out_str(&o, "\n");
	}
	if (o.overflow)
		return PCRGATE_ERR_LIMIT;
	/* The parser is the grammar: what it refuses was not a manifest. */
	if (pcrgate_manifest_parse(buf, o.len, &check, NULL) != PCRGATE_OK)
		return PCRGATE_ERR_INVALID_ARGUMENT;
	*len = o.len;
	return PCRGATE_OK;
}

const struct pcrgate_manifest_image *pcrgate_manifest_image(const struct pcrgate_manifest *m, const char *name)
{
	unsigned i;

	if (m == NULL || name == NULL)
		return NULL;
	for (i = 0; i < m->n_images && i < PCRGATE_MANIFEST_MAX_IMAGES; i++) {
		size_t n = boot_strnlen(m->images[i].name, PCRGATE_MANIFEST_NAME_MAX);

		if (boot_strnlen(name, n + 1) == n && memcmp(m->images[i].name, name, n) == 0)
			return &m->images[i];
	}
	return NULL;
}
