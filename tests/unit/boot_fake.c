/* The boot core's in-memory test device (see boot_fake.h). */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "boot_fake.h"

void fake_sha256(const void *data, size_t len, uint8_t out[32])
{
	unsigned n = 32;

	assert_int_equal(EVP_Digest(data, len, out, &n, EVP_sha256(), NULL), 1);
}

void fake_hex(const uint8_t *in, size_t len, char *out)
{
	size_t i;

	for (i = 0; i < len; i++)
		sprintf(out + 2 * i, "%02x", in[i]);
	out[2 * len] = '\0';
}

static int f_extend(void *ctx, uint32_t pcr, uint32_t type, const uint8_t *hashed, size_t hashed_len,
		    const uint8_t *event, size_t event_len)
{
	struct fake *f = ctx;
	struct fake_event *e;
	uint8_t d[32], cat[64];

	f->extends++;
	if (f->extend_fail_at != 0 && f->extends == f->extend_fail_at)
		return f->extend_error;
	assert_true(pcr < 24);
	assert_true(hashed_len <= PCRGATE_BOOT_EVENT_MAX && event_len <= PCRGATE_BOOT_EVENT_MAX);
	assert_true(f->n_events < FAKE_MAX_EVENTS);
	e = &f->events[f->n_events++];
	e->pcr = pcr;
	e->type = type;
	memcpy(e->hashed, hashed, hashed_len);
	e->hashed_len = hashed_len;
	memcpy(e->data, event, event_len);
	e->len = event_len;
	fake_sha256(hashed, hashed_len, d);
	memcpy(cat, f->pcr[pcr], 32);
	memcpy(cat + 32, d, 32);
	fake_sha256(cat, sizeof(cat), f->pcr[pcr]);
	return 0;
}

static int f_counter(void *ctx, uint64_t *value)
{
	struct fake *f = ctx;

	f->counter_reads++;
	if (f->counter_error)
		return f->counter_error;
	*value = f->counter;
	return 0;
}

static int f_hash_init(void *ctx, uint16_t alg)
{
	struct fake *f = ctx;

	f->hash_inits++;
	assert_int_equal(alg, PCRGATE_ALG_SHA256);
	return EVP_DigestInit_ex(f->md, EVP_sha256(), NULL) == 1 ? 0 : PCRGATE_ERR_CRYPTO;
}

static int f_hash_update(void *ctx, const uint8_t *data, size_t len)
{
	struct fake *f = ctx;

	if (f->hash_error)
		return f->hash_error;
	return EVP_DigestUpdate(f->md, data, len) == 1 ? 0 : PCRGATE_ERR_CRYPTO;
}

static int f_hash_final(void *ctx, uint8_t *out, size_t size)
{
	struct fake *f = ctx;
	unsigned n = 0;

	assert_int_equal(size, 32);
	return EVP_DigestFinal_ex(f->md, out, &n) == 1 && n == 32 ? 0 : PCRGATE_ERR_CRYPTO;
}

static int f_state_read(void *ctx, unsigned copy, uint8_t *buf, size_t cap, size_t *len)
{
	struct fake *f = ctx;

	f->state_reads++;
	assert_true(copy < PCRGATE_BOOT_STATE_COPIES);
	if (f->missing[copy])
		return PCRGATE_ERR_NOT_FOUND;
	assert_true(cap >= PCRGATE_BOOTSTATE_SIZE);
	memcpy(buf, f->copy[copy], PCRGATE_BOOTSTATE_SIZE);
	*len = PCRGATE_BOOTSTATE_SIZE;
	return 0;
}

static int f_state_write(void *ctx, unsigned copy, const uint8_t *buf, size_t len)
{
	struct fake *f = ctx;
	int current;

	assert_true(copy < PCRGATE_BOOT_STATE_COPIES);
	assert_int_equal(len, PCRGATE_BOOTSTATE_SIZE);
	if (f->write_error)
		return f->write_error;
	f->writes++;
	if (f->writes <= FAKE_MAX_WRITES)
		fake_state(f, &f->before[f->writes], &current);
	if (f->cut_at != 0 && f->writes == f->cut_at) {
		/* Power fails before this write, or halfway through it. */
		if (f->torn) {
			memcpy(f->copy[copy], buf, len / 2);
			f->missing[copy] = 0;
		}
		longjmp(*f->cut, 1);
	}
	memcpy(f->copy[copy], buf, len);
	f->missing[copy] = 0;
	if (f->writes <= FAKE_MAX_WRITES)
		fake_state(f, &f->after[f->writes], &current);
	return 0;
}

static int f_manifest_read(void *ctx, unsigned slot, uint8_t *buf, size_t cap, size_t *len)
{
	struct fake *f = ctx;
	const struct fake_slot *s = &f->slot[slot];

	f->manifest_reads++;
	assert_true(slot < PCRGATE_BOOT_SLOTS);
	if (!s->installed)
		return PCRGATE_ERR_NOT_FOUND;
	if (s->manifest_len > cap)
		return PCRGATE_ERR_LIMIT;
	memcpy(buf, s->manifest, s->manifest_len);
	*len = s->manifest_len;
	return 0;
}

static int f_verify(void *ctx, unsigned slot, const uint8_t *manifest, size_t len)
{
	struct fake *f = ctx;
	const struct fake_slot *s = &f->slot[slot];

	f->verifies++;
	/* The signature covers exactly the manifest bytes the port handed out. */
	assert_int_equal(len, s->manifest_len);
	assert_memory_equal(manifest, s->manifest, len);
	return s->sig_result;
}

static int f_image_open(void *ctx, unsigned slot, const char *name, uint64_t size)
{
	struct fake *f = ctx;
	struct fake_slot *s = &f->slot[slot];
	size_t i;

	assert_null(f->open);
	if (s->open_error)
		return s->open_error;
	for (i = 0; i < s->n_images; i++) {
		if (strcmp(s->images[i].name, name) == 0) {
			f->image_opens++;
			f->open = &s->images[i];
			f->open_slot = slot;
			f->pos = 0;
			(void)size;
			return 0;
		}
	}
	return PCRGATE_ERR_NOT_FOUND;
}

static int f_image_read(void *ctx, const uint8_t **chunk, size_t *len)
{
	struct fake *f = ctx;
	size_t n;

	assert_non_null(f->open);
	n = f->open->len - f->pos;
	if (n > FAKE_CHUNK)
		n = FAKE_CHUNK;
	*chunk = f->open->data + f->pos;
	*len = n;
	f->pos += n;
	return 0;
}

static void f_image_close(void *ctx, int verified)
{
	struct fake *f = ctx;

	assert_non_null(f->open);
	f->image_closes++;
	if (verified)
		f->slot[f->open_slot].kept++;
	f->open = NULL;
}

void fake_init(struct fake *f)
{
	memset(f, 0, sizeof(*f));
	memset(f->copy, 0xFF, sizeof(f->copy));
	f->md = EVP_MD_CTX_new();
	assert_non_null(f->md);
	f->port = (struct pcrgate_boot_port){
		.ctx = f,
		.compatible = FAKE_COMPATIBLE,
		.pcr_extend = f_extend,
		.counter_read = f_counter,
		.hash_init = f_hash_init,
		.hash_update = f_hash_update,
		.hash_final = f_hash_final,
		.state_read = f_state_read,
		.state_write = f_state_write,
		.manifest_read = f_manifest_read,
		.manifest_verify = f_verify,
		.image_open = f_image_open,
		.image_read = f_image_read,
		.image_close = f_image_close,
	};
}

void fake_free(struct fake *f)
{
	unsigned s;

	for (s = 0; s < PCRGATE_BOOT_SLOTS; s++)
		fake_uninstall(f, s);
	EVP_MD_CTX_free(f->md);
	f->md = NULL;
}

void fake_reboot(struct fake *f)
{
	unsigned s;

	memset(f->pcr, 0, sizeof(f->pcr));
	f->n_events = 0;
	f->counter_reads = f->extends = f->state_reads = f->manifest_reads = f->verifies = 0;
	f->image_opens = f->image_closes = f->hash_inits = 0;
	f->open = NULL;
	for (s = 0; s < PCRGATE_BOOT_SLOTS; s++)
		f->slot[s].kept = 0;
}

void fake_uninstall(struct fake *f, unsigned slot)
{
	struct fake_slot *s = &f->slot[slot];
	size_t i;

	for (i = 0; i < s->n_images; i++)
		free(s->images[i].data);
	memset(s, 0, sizeof(*s));
}

void fake_install(struct fake *f, unsigned slot, const char *version, uint32_t security_version, int full)
{
	static const char *const names[] = {"kernel", "initrd", "dtb"};
	static const size_t sizes[] = {3 * FAKE_CHUNK + 123, FAKE_CHUNK, 517};
	struct fake_slot *s = &f->slot[slot];
	size_t i, j, n = full ? 3 : 1;
	unsigned seed = 0;
	int len;

	fake_uninstall(f, slot);
	for (j = 0; version[j] != '\0'; j++)
		seed = seed * 31 + (uint8_t)version[j];
	len = snprintf((char *)s->manifest, sizeof(s->manifest),
		       "pcrgate-manifest 1\ncompatible=%s\nversion=%s\nsecurity_version=%u\n", FAKE_COMPATIBLE,
		       version, (unsigned)security_version);
	for (i = 0; i < n; i++) {
		struct fake_image *img = &s->images[i];
		uint8_t d[32];
		char hex[65];

		snprintf(img->name, sizeof(img->name), "%s", names[i]);
		img->len = sizes[i];
		img->data = malloc(img->len);
		assert_non_null(img->data);
		/* Contents depend on slot, version and image, so no two are alike. */
		for (j = 0; j < img->len; j++)
			img->data[j] = (uint8_t)(j * 31 + i * 7 + slot * 13 + seed);
		fake_sha256(img->data, img->len, d);
		fake_hex(d, 32, hex);
		len += snprintf((char *)s->manifest + len, sizeof(s->manifest) - (size_t)len,
				"image=%s size=%zu sha256=%s\n", img->name, img->len, hex);
	}
	s->manifest_len = (size_t)len;
	s->n_images = n;
	s->security_version = security_version;
	s->installed = 1;
}

void fake_tamper(struct fake *f, unsigned slot, const char *image)
{
	struct fake_slot *s = &f->slot[slot];
	size_t i;

	for (i = 0; i < s->n_images; i++) {
		if (strcmp(s->images[i].name, image) == 0) {
			s->images[i].data[s->images[i].len / 2] ^= 0x01;
			s->tampered = 1;
			return;
		}
	}
	fail_msg("no image %s in slot %u", image, slot);
}

int fake_slot_verifiable(const struct fake *f, unsigned slot)
{
	const struct fake_slot *s = &f->slot[slot];

	return s->installed && s->sig_result == 0 && !s->tampered && s->security_version >= f->counter;
}

void fake_state(struct fake *f, struct pcrgate_bootstate *st, int *current)
{
	/* Through a port of its own, so the reads are not counted as the core's. */
	struct pcrgate_boot_port p = {.ctx = f, .state_read = f_state_read};
	unsigned reads = f->state_reads;

	assert_int_equal(pcrgate_bootstate_load(&p, st, current), 0);
	f->state_reads = reads;
}
