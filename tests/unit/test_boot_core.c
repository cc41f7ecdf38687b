/*
 * Unit tests of the boot core against an in-memory device (boot_fake.c): every state
 * machine transition, the measurements byte for byte and the exact number of TPM calls.
 * Power cuts are in test_boot_powercut.c, the record and manifest formats in
 * test_boot_formats.c.
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

#include "boot/core.h"
#include "boot_fake.h"
#include "pcrgate/pcr_map.h"

#define A 0
#define B 1

/* Boots once after a power cycle and checks what must hold after every successful boot. */
static int boot(struct fake *f, struct pcrgate_boot_result *res)
{
	int r;

	fake_reboot(f);
	r = pcrgate_boot_run(&f->port, res);
	if (r == 0) {
		assert_true(res->booted);
		assert_int_equal(res->stop, PCRGATE_BOOT_REASON_NONE);
		/* Never anything the oracle would not boot. */
		assert_true(fake_slot_verifiable(f, res->slot));
		assert_int_equal(f->slot[res->slot].kept, f->slot[res->slot].n_images);
		/* Exactly one counter read and one extend per measured event. */
		assert_int_equal(f->counter_reads, 1);
		assert_int_equal(f->extends, 1 + res->manifest.n_images + 2);
		assert_int_equal(res->extends, f->extends);
	} else {
		assert_false(res->booted);
		assert_int_not_equal(res->stop, PCRGATE_BOOT_REASON_NONE);
	}
	assert_int_equal(f->image_opens, f->image_closes);
	return r;
}

static unsigned boot_ok(struct fake *f, struct pcrgate_boot_result *res)
{
	assert_int_equal(boot(f, res), 0);
	return res->slot;
}

static void expect_status(struct fake *f, unsigned slot, enum pcrgate_slot_status status, unsigned tries)
{
	struct pcrgate_bootstate st;
	int current;

	fake_state(f, &st, &current);
	assert_int_equal(st.slot[slot].status, status);
	assert_int_equal(st.slot[slot].tries, tries);
}

static void expect_fallback(struct fake *f, unsigned slot, enum pcrgate_boot_reason reason)
{
	struct pcrgate_bootstate st;
	int current;

	fake_state(f, &st, &current);
	assert_int_equal(st.fallback_slot, slot);
	assert_int_equal(st.fallback_reason, reason);
}

/* Two full releases, slot a committed as primary. */
static void two_good_slots(struct fake *f)
{
	fake_init(f);
	fake_install(f, A, "1.0", 1, 1);
	fake_install(f, B, "1.1", 1, 1);
	assert_int_equal(pcrgate_boot_mark_good(&f->port, A), 0);
	assert_int_equal(pcrgate_boot_mark_good(&f->port, B), 0);
	assert_int_equal(pcrgate_boot_mark_good(&f->port, A), 0);
}

static void test_fresh_state(void **state)
{
	struct pcrgate_boot_result res;
	struct pcrgate_bootstate st;
	struct fake f;
	int current;

	(void)state;
	fake_init(&f);
	fake_install(&f, A, "1.0", 1, 1);
	fake_install(&f, B, "1.0", 1, 1);
	/* Erased flash: both slots unknown, a preferred, verified like any other. */
	assert_int_equal(boot_ok(&f, &res), A);
	assert_false(res.trial);
	assert_false(res.fell_back);
	assert_int_equal(f.writes, 0);
	assert_int_equal(f.manifest_reads, 1);
	assert_int_equal(f.verifies, 1);
	assert_int_equal(f.hash_inits, 1 + 3); /* the manifest, then each image */
	assert_int_equal(f.slot[B].kept, 0);
	fake_state(&f, &st, &current);
	assert_int_equal(current, -1);

	/* Copies that do not exist at all (a host port before its first write) are the same. */
	f.missing[0] = f.missing[1] = 1;
	assert_int_equal(boot_ok(&f, &res), A);

	/* A fresh state with a broken slot a records it and boots b. */
	fake_tamper(&f, A, "kernel");
	assert_int_equal(boot_ok(&f, &res), B);
	assert_true(res.fell_back);
	assert_int_equal(res.slots[A].reason, PCRGATE_BOOT_REASON_IMAGE_DIGEST);
	expect_status(&f, A, PCRGATE_SLOT_BAD, 0);
	expect_status(&f, B, PCRGATE_SLOT_UNKNOWN, 0);
	fake_free(&f);
}

static void test_good_boot(void **state)
{
	struct pcrgate_boot_result res;
	struct fake f;
	unsigned writes;

	(void)state;
	two_good_slots(&f);
	writes = f.writes;
	assert_int_equal(boot_ok(&f, &res), A);
	assert_int_equal(boot_ok(&f, &res), A);
	/* A good boot writes nothing: no flash wear on the common path. */
	assert_int_equal(f.writes, writes);
	assert_string_equal(res.manifest.version, "1.0");
	assert_int_equal(res.slots[B].reason, PCRGATE_BOOT_REASON_NONE);
	fake_free(&f);
}

static void test_trial_countdown_and_fallback(void **state)
{
	struct pcrgate_boot_result res;
	struct fake f;
	unsigned writes;

	(void)state;
	two_good_slots(&f);
	fake_install(&f, B, "2.0", 2, 1);
	assert_int_equal(pcrgate_boot_set_trial(&f.port, B, 3), 0);
	/* Each attempt is recorded before the slot is even checked. */
	assert_int_equal(boot_ok(&f, &res), B);
	assert_true(res.trial);
	assert_int_equal(res.tries_left, 2);
	expect_status(&f, B, PCRGATE_SLOT_TRIAL, 2);
	assert_int_equal(boot_ok(&f, &res), B);
	expect_status(&f, B, PCRGATE_SLOT_TRIAL, 1);
	assert_int_equal(boot_ok(&f, &res), B);
	assert_int_equal(res.tries_left, 0);
	expect_status(&f, B, PCRGATE_SLOT_TRIAL, 0);
	/* No commit within the tries: back to the good slot, with the reason on record. */
	assert_int_equal(boot_ok(&f, &res), A);
	assert_true(res.fell_back);
	assert_false(res.trial);
	assert_int_equal(res.slots[B].reason, PCRGATE_BOOT_REASON_TRIES_EXHAUSTED);
	assert_true(res.slots[B].marked_bad);
	assert_int_equal(f.verifies, 1); /* b was not even checked */
	expect_status(&f, B, PCRGATE_SLOT_BAD, 0);
	expect_fallback(&f, B, PCRGATE_BOOT_REASON_TRIES_EXHAUSTED);
	/* From then on b is not tried and nothing is written. */
	writes = f.writes;
	assert_int_equal(boot_ok(&f, &res), A);
	assert_int_equal(res.slots[B].reason, PCRGATE_BOOT_REASON_SLOT_BAD);
	assert_false(res.fell_back);
	assert_int_equal(f.writes, writes);
	/* Re-arming clears the recorded fallback. */
	assert_int_equal(pcrgate_boot_set_trial(&f.port, B, 1), 0);
	expect_fallback(&f, PCRGATE_BOOTSTATE_NO_SLOT, PCRGATE_BOOT_REASON_NONE);
	fake_free(&f);
}

static void test_trial_commit(void **state)
{
	struct pcrgate_boot_result res;
	struct pcrgate_bootstate st;
	struct fake f;
	unsigned writes;
	int current;

	(void)state;
	two_good_slots(&f);
	fake_install(&f, B, "2.0", 2, 1);
	assert_int_equal(pcrgate_boot_set_trial(&f.port, B, 2), 0);
	assert_int_equal(boot_ok(&f, &res), B);
	assert_int_equal(pcrgate_boot_mark_good(&f.port, B), 0);
	fake_state(&f, &st, &current);
	assert_int_equal(st.primary, B);
	assert_int_equal(st.slot[B].status, PCRGATE_SLOT_GOOD);
	assert_int_equal(st.slot[A].status, PCRGATE_SLOT_GOOD);
	/* Committing again changes nothing and writes nothing. */
	writes = f.writes;
	assert_int_equal(pcrgate_boot_mark_good(&f.port, B), 0);
	assert_int_equal(f.writes, writes);
	assert_int_equal(boot_ok(&f, &res), B);
	assert_false(res.trial);
	assert_int_equal(f.writes, writes);
	/* The counter is raised after the commit: a, below it, is refused and b still boots. */
	f.counter = 2;
	assert_int_equal(boot_ok(&f, &res), B);
	assert_int_equal(res.counter, 2);
	fake_free(&f);
}

/*
 * Arms b for a trial after `damage` and expects a fallback to a for `reason`, with `kept`
 * of b's images checked good before the failure.
 */
static void trial_rejected(void (*damage)(struct fake *f), enum pcrgate_boot_reason reason, int marked,
			   unsigned kept)
{
	struct pcrgate_boot_result res;
	struct fake f;

	two_good_slots(&f);
	fake_install(&f, B, "2.0", 2, 1);
	damage(&f);
	assert_int_equal(pcrgate_boot_set_trial(&f.port, B, 3), 0);
	assert_int_equal(boot_ok(&f, &res), A);
	assert_true(res.fell_back);
	assert_int_equal(res.slots[B].reason, reason);
	assert_int_equal(res.slots[B].marked_bad, marked);
	assert_int_equal(f.slot[B].kept, kept);
	if (marked) {
		expect_status(&f, B, PCRGATE_SLOT_BAD, 0);
		expect_fallback(&f, B, reason);
	} else {
		expect_status(&f, B, PCRGATE_SLOT_TRIAL, 2);
	}
	fake_free(&f);
}

static void damage_initrd(struct fake *f)
{
	fake_tamper(f, B, "initrd");
}

static void damage_signature(struct fake *f)
{
	f->slot[B].sig_result = PCRGATE_ERR_VERIFY;
}

static void damage_rollback(struct fake *f)
{
	fake_install(f, A, "1.0", 3, 1);
	f->counter = 3;
}

static void damage_no_manifest(struct fake *f)
{
	fake_uninstall(f, B);
}

static void damage_manifest_syntax(struct fake *f)
{
	memcpy(f->slot[B].manifest, "pcrgate-manifest 9", 18);
}

static void damage_incompatible(struct fake *f)
{
	char *p = strstr((char *)f->slot[B].manifest, FAKE_COMPATIBLE);

	p[0] = 'x';
}

static void damage_missing_image(struct fake *f)
{
	strcpy(f->slot[B].images[2].name, "gone");
}

static void damage_short_image(struct fake *f)
{
	f->slot[B].images[0].len--;
}

static void damage_long_image(struct fake *f)
{
	uint8_t *p = realloc(f->slot[B].images[1].data, f->slot[B].images[1].len + 1);

	assert_non_null(p);
	p[f->slot[B].images[1].len++] = 0;
	f->slot[B].images[1].data = p;
}

static void damage_flaky_storage(struct fake *f)
{
	f->slot[B].open_error = PCRGATE_ERR_IO;
}

static void test_trial_rejections(void **state)
{
	(void)state;
	trial_rejected(damage_initrd, PCRGATE_BOOT_REASON_IMAGE_DIGEST, 1, 1);
	trial_rejected(damage_signature, PCRGATE_BOOT_REASON_SIGNATURE, 1, 0);
	trial_rejected(damage_rollback, PCRGATE_BOOT_REASON_ROLLBACK, 1, 0);
	trial_rejected(damage_no_manifest, PCRGATE_BOOT_REASON_MANIFEST_MISSING, 1, 0);
	trial_rejected(damage_manifest_syntax, PCRGATE_BOOT_REASON_MANIFEST_INVALID, 1, 0);
	trial_rejected(damage_incompatible, PCRGATE_BOOT_REASON_INCOMPATIBLE, 1, 0);
	trial_rejected(damage_missing_image, PCRGATE_BOOT_REASON_IMAGE_MISSING, 1, 2);
	trial_rejected(damage_short_image, PCRGATE_BOOT_REASON_IMAGE_SIZE, 1, 0);
	trial_rejected(damage_long_image, PCRGATE_BOOT_REASON_IMAGE_SIZE, 1, 1);
}

static void test_reject_details(void **state)
{
	struct pcrgate_boot_result res;
	struct fake f;

	(void)state;
	two_good_slots(&f);
	fake_install(&f, B, "2.0", 2, 1);
	fake_tamper(&f, B, "dtb");
	assert_int_equal(pcrgate_boot_set_trial(&f.port, B, 1), 0);
	assert_int_equal(boot_ok(&f, &res), A);
	assert_string_equal(res.slots[B].image, "dtb");
	assert_int_equal(f.slot[B].kept, 2);

	fake_install(&f, B, "2.0", 2, 1);
	memcpy(strstr((char *)f.slot[B].manifest, "version=2.0"), "version=2 0", 11);
	assert_int_equal(pcrgate_boot_set_trial(&f.port, B, 1), 0);
	assert_int_equal(boot_ok(&f, &res), A);
	assert_int_equal(res.slots[B].reason, PCRGATE_BOOT_REASON_MANIFEST_INVALID);
	assert_non_null(res.slots[B].detail);
	assert_int_equal(res.slots[B].offset, (size_t)(strstr((char *)f.slot[B].manifest, "2 0") -
						       (char *)f.slot[B].manifest + 1));
	assert_string_equal(pcrgate_boot_reason_str(res.slots[B].reason), "manifest malformed");
	fake_free(&f);
}

static void test_platform_fault_does_not_condemn(void **state)
{
	struct pcrgate_boot_result res;
	struct fake f;
	unsigned writes;

	(void)state;
	trial_rejected(damage_flaky_storage, PCRGATE_BOOT_REASON_PLATFORM_FAULT, 0, 0);

	/* Both slots unreadable for a moment: nothing boots, and nothing is marked bad. */
	two_good_slots(&f);
	writes = f.writes;
	f.slot[A].open_error = f.slot[B].open_error = PCRGATE_ERR_IO;
	assert_int_equal(boot(&f, &res), PCRGATE_ERR_VERIFY);
	assert_int_equal(res.stop, PCRGATE_BOOT_REASON_NO_BOOTABLE_SLOT);
	assert_int_equal(res.slots[A].reason, PCRGATE_BOOT_REASON_PLATFORM_FAULT);
	assert_int_equal(res.slots[A].error, PCRGATE_ERR_IO);
	assert_int_equal(f.writes, writes);
	f.slot[A].open_error = f.slot[B].open_error = 0;
	f.hash_error = PCRGATE_ERR_CRYPTO;
	assert_int_equal(boot(&f, &res), PCRGATE_ERR_VERIFY);
	assert_int_equal(f.writes, writes);
	f.hash_error = 0;
	assert_int_equal(boot_ok(&f, &res), A);
	fake_free(&f);
}

static void test_primary_tampered(void **state)
{
	struct pcrgate_boot_result res;
	struct pcrgate_bootstate st;
	struct fake f;
	int current;

	(void)state;
	two_good_slots(&f);
	fake_tamper(&f, A, "kernel");
	assert_int_equal(boot_ok(&f, &res), B);
	assert_true(res.fell_back);
	assert_int_equal(res.slots[A].reason, PCRGATE_BOOT_REASON_IMAGE_DIGEST);
	expect_fallback(&f, A, PCRGATE_BOOT_REASON_IMAGE_DIGEST);
	/* The running system, not the bootloader, chooses the primary. */
	fake_state(&f, &st, &current);
	assert_int_equal(st.primary, A);
	assert_int_equal(boot_ok(&f, &res), B);
	fake_free(&f);
}

static void test_both_bad(void **state)
{
	struct pcrgate_boot_result res;
	struct fake f;
	unsigned i;

	(void)state;
	two_good_slots(&f);
	fake_tamper(&f, A, "initrd");
	f.slot[B].sig_result = PCRGATE_ERR_VERIFY;
	assert_int_equal(boot(&f, &res), PCRGATE_ERR_VERIFY);
	assert_int_equal(res.stop, PCRGATE_BOOT_REASON_NO_BOOTABLE_SLOT);
	assert_string_equal(pcrgate_boot_reason_str(res.stop), "no bootable slot");
	assert_int_equal(res.slots[A].reason, PCRGATE_BOOT_REASON_IMAGE_DIGEST);
	assert_int_equal(res.slots[B].reason, PCRGATE_BOOT_REASON_SIGNATURE);
	expect_status(&f, A, PCRGATE_SLOT_BAD, 0);
	expect_status(&f, B, PCRGATE_SLOT_BAD, 0);
	/* PCRs 8 and 9 are capped with an error separator and hold nothing else. */
	assert_int_equal(f.counter_reads, 1);
	assert_int_equal(f.extends, 2);
	assert_int_equal(f.n_events, 2);
	for (i = 0; i < 2; i++) {
		static const uint8_t error_sep[4] = {1, 0, 0, 0};

		assert_int_equal(f.events[i].pcr, i == 0 ? PCRGATE_PCR_BOOT_IMAGES : PCRGATE_PCR_BOOT_SLOT);
		assert_int_equal(f.events[i].type, PCRGATE_EV_SEPARATOR);
		assert_int_equal(f.events[i].len, 4);
		assert_memory_equal(f.events[i].data, error_sep, 4);
		assert_memory_equal(f.events[i].hashed, error_sep, 4);
	}
	/* The next boot checks nothing and still refuses. */
	assert_int_equal(boot(&f, &res), PCRGATE_ERR_VERIFY);
	assert_int_equal(f.manifest_reads, 0);
	assert_int_equal(res.slots[A].reason, PCRGATE_BOOT_REASON_SLOT_BAD);
	/* Re-armed and repaired, a slot boots again. */
	fake_install(&f, B, "2.0", 2, 1);
	assert_int_equal(pcrgate_boot_set_trial(&f.port, B, 1), 0);
	assert_int_equal(boot_ok(&f, &res), B);
	fake_free(&f);
}

static void test_tpm_failures(void **state)
{
	struct pcrgate_boot_result res;
	struct fake f;

	(void)state;
	two_good_slots(&f);
	/* Without the counter no slot can be shown to be current: stop before reading any. */
	f.counter_error = PCRGATE_ERR_TPM;
	assert_int_equal(boot(&f, &res), PCRGATE_ERR_TPM);
	assert_int_equal(res.stop, PCRGATE_BOOT_REASON_COUNTER);
	assert_int_equal(f.manifest_reads, 0);
	assert_int_equal(f.extends, 2);
	f.counter_error = 0;
	/* A measurement that fails stops the boot; the PCRs are capped. */
	f.extend_fail_at = 3;
	f.extend_error = PCRGATE_ERR_TPM;
	assert_int_equal(boot(&f, &res), PCRGATE_ERR_TPM);
	assert_int_equal(res.stop, PCRGATE_BOOT_REASON_MEASURE);
	assert_int_equal(f.n_events, 2 + 2);
	assert_int_equal(f.events[3].type, PCRGATE_EV_SEPARATOR);
	f.extend_fail_at = 0;
	assert_int_equal(boot_ok(&f, &res), A);
	fake_free(&f);
}

static void test_trial_not_recordable(void **state)
{
	struct pcrgate_boot_result res;
	struct fake f;

	(void)state;
	two_good_slots(&f);
	assert_int_equal(pcrgate_boot_set_trial(&f.port, B, 2), 0);
	/* An attempt that cannot be counted could repeat forever: boot the good slot. */
	f.write_error = PCRGATE_ERR_IO;
	assert_int_equal(boot_ok(&f, &res), A);
	assert_int_equal(res.slots[B].reason, PCRGATE_BOOT_REASON_STATE_WRITE);
	assert_int_equal(res.state_error, PCRGATE_ERR_IO);
	assert_true(res.fell_back);
	f.write_error = 0;
	expect_status(&f, B, PCRGATE_SLOT_TRIAL, 2);
	assert_int_equal(boot_ok(&f, &res), B);
	fake_free(&f);
}

static void test_measurements(void **state)
{
	struct pcrgate_boot_event predicted[PCRGATE_BOOT_MAX_EVENTS];
	struct pcrgate_boot_result res;
	struct fake f;
	uint8_t mdigest[32], idigest[32], pcr[2][32] = {{0}}, d[32], cat[64];
	char hex[65], expect[PCRGATE_BOOT_EVENT_MAX];
	size_t n, i;

	(void)state;
	fake_init(&f);
	fake_install(&f, A, "1.0", 1, 1);
	fake_install(&f, B, "4.2-rc1+acme", 7, 1);
	assert_int_equal(pcrgate_boot_set_trial(&f.port, B, 1), 0);
	assert_int_equal(boot_ok(&f, &res), B);
	assert_int_equal(f.n_events, 6);

	/* PCR 9: the slot and its manifest. */
	fake_sha256(f.slot[B].manifest, f.slot[B].manifest_len, mdigest);
	assert_memory_equal(res.manifest_sha256, mdigest, 32);
	fake_hex(mdigest, 32, hex);
	snprintf(expect, sizeof(expect), "slot=b version=4.2-rc1+acme security_version=7 manifest_sha256=%s", hex);
	assert_int_equal(f.events[0].pcr, 9);
	assert_int_equal(f.events[0].type, PCRGATE_EV_IPL);
	assert_int_equal(f.events[0].hashed_len, strlen(expect));
	assert_memory_equal(f.events[0].hashed, expect, strlen(expect));
	assert_int_equal(f.events[0].len, strlen("pcrgate.slot: ") + strlen(expect) + 1);
	assert_memory_equal(f.events[0].data, "pcrgate.slot: ", 14);
	assert_memory_equal(f.events[0].data + 14, expect, strlen(expect) + 1);

	/* PCR 8: each image in manifest order, with the digest the manifest promised. */
	for (i = 0; i < 3; i++) {
		struct fake_event *e = &f.events[1 + i];

		fake_sha256(f.slot[B].images[i].data, f.slot[B].images[i].len, idigest);
		fake_hex(idigest, 32, hex);
		snprintf(expect, sizeof(expect), "image=%s size=%zu sha256=%s", f.slot[B].images[i].name,
			 f.slot[B].images[i].len, hex);
		assert_int_equal(e->pcr, 8);
		assert_int_equal(e->type, PCRGATE_EV_IPL);
		assert_int_equal(e->hashed_len, strlen(expect));
		assert_memory_equal(e->hashed, expect, strlen(expect));
		assert_int_equal(e->len, strlen("pcrgate.image: ") + strlen(expect) + 1);
		assert_memory_equal(e->data, "pcrgate.image: ", 15);
		assert_int_equal(e->data[e->len - 1], '\0');
	}
	assert_string_equal(res.manifest.images[0].name, "kernel");
	assert_string_equal(res.manifest.images[1].name, "initrd");
	assert_string_equal(res.manifest.images[2].name, "dtb");

	/* The separators close PCR 8, then PCR 9. */
	assert_int_equal(f.events[4].pcr, 8);
	assert_int_equal(f.events[5].pcr, 9);
	for (i = 4; i < 6; i++) {
		assert_int_equal(f.events[i].type, PCRGATE_EV_SEPARATOR);
		assert_int_equal(f.events[i].len, 4);
		assert_memory_equal(f.events[i].data, "\0\0\0\0", 4);
	}

	/* The manifest alone predicts the events and so the PCR values. */
	assert_int_equal(pcrgate_boot_events(B, &res.manifest, mdigest, predicted, PCRGATE_BOOT_MAX_EVENTS, &n), 0);
	assert_int_equal(n, 6);
	for (i = 0; i < n; i++) {
		unsigned k = predicted[i].pcr == 8 ? 0 : 1;

		assert_int_equal(predicted[i].pcr, f.events[i].pcr);
		assert_int_equal(predicted[i].len, f.events[i].len);
		assert_memory_equal(predicted[i].data, f.events[i].data, f.events[i].len);
		fake_sha256(predicted[i].data + predicted[i].hashed_off, predicted[i].hashed_len, d);
		memcpy(cat, pcr[k], 32);
		memcpy(cat + 32, d, 32);
		fake_sha256(cat, 64, pcr[k]);
	}
	assert_memory_equal(pcr[0], f.pcr[8], 32);
	assert_memory_equal(pcr[1], f.pcr[9], 32);
	fake_free(&f);
}

static void test_kernel_only_counts(void **state)
{
	struct pcrgate_boot_result res;
	struct fake f;

	(void)state;
	fake_init(&f);
	fake_install(&f, A, "1.0", 0, 0);
	assert_int_equal(boot_ok(&f, &res), A);
	assert_int_equal(f.extends, 1 + 1 + 2);
	assert_int_equal(res.manifest.n_images, 1);
	/* Slot b holds nothing: it is recorded bad only if ever tried. */
	assert_int_equal(res.slots[B].reason, PCRGATE_BOOT_REASON_NONE);
	fake_free(&f);
}

static void test_operations(void **state)
{
	struct pcrgate_boot_result res;
	struct pcrgate_bootstate st;
	struct pcrgate_boot_port incomplete;
	struct fake f;
	int current;

	(void)state;
	two_good_slots(&f);
	assert_int_equal(pcrgate_boot_set_trial(&f.port, B, 0), PCRGATE_ERR_INVALID_ARGUMENT);
	assert_int_equal(pcrgate_boot_set_trial(&f.port, B, PCRGATE_BOOTSTATE_MAX_TRIES + 1),
			 PCRGATE_ERR_INVALID_ARGUMENT);
	assert_int_equal(pcrgate_boot_set_trial(&f.port, 2, 1), PCRGATE_ERR_INVALID_ARGUMENT);
	assert_int_equal(pcrgate_boot_set_trial(&f.port, B, PCRGATE_BOOTSTATE_MAX_TRIES), 0);
	/* A failed health check rejects the trial at once. */
	assert_int_equal(pcrgate_boot_mark_bad(&f.port, B), 0);
	expect_fallback(&f, B, PCRGATE_BOOT_REASON_MARKED_BAD);
	assert_int_equal(pcrgate_boot_mark_good(&f.port, B), PCRGATE_ERR_INVALID_ARGUMENT);
	/* An emptied slot (installation under way) is never tried. */
	assert_int_equal(pcrgate_boot_mark_empty(&f.port, B), 0);
	assert_int_equal(boot_ok(&f, &res), A);
	assert_int_equal(res.slots[B].reason, PCRGATE_BOOT_REASON_SLOT_EMPTY);
	assert_int_equal(pcrgate_boot_mark_good(&f.port, B), PCRGATE_ERR_INVALID_ARGUMENT);
	assert_int_equal(pcrgate_boot_status(&f.port, &st, &current), 0);
	assert_int_equal(st.slot[B].status, PCRGATE_SLOT_EMPTY);
	assert_string_equal(pcrgate_slot_status_str(st.slot[B].status), "empty");
	assert_string_equal(pcrgate_boot_slot_name(B), "b");

	/* The operations need only the boot-state functions of a port. */
	memset(&incomplete, 0, sizeof(incomplete));
	incomplete.ctx = &f;
	incomplete.state_read = f.port.state_read;
	incomplete.state_write = f.port.state_write;
	assert_int_equal(pcrgate_boot_set_trial(&incomplete, B, 1), 0);
	/* A boot needs all of them, and calls none when one is missing. */
	fake_reboot(&f);
	assert_int_equal(pcrgate_boot_run(&incomplete, &res), PCRGATE_ERR_INVALID_ARGUMENT);
	assert_int_equal(res.stop, PCRGATE_BOOT_REASON_PORT);
	assert_int_equal(f.state_reads + f.counter_reads + f.extends, 0);
	assert_int_equal(pcrgate_boot_run(NULL, &res), PCRGATE_ERR_INVALID_ARGUMENT);
	assert_int_equal(pcrgate_boot_run(&f.port, NULL), PCRGATE_ERR_INVALID_ARGUMENT);
	fake_free(&f);
}

static void test_copies_alternate(void **state)
{
	struct pcrgate_bootstate st;
	struct fake f;
	int current, i;

	(void)state;
	fake_init(&f);
	fake_install(&f, A, "1.0", 1, 1);
	for (i = 0; i < 6; i++) {
		assert_int_equal(pcrgate_boot_set_trial(&f.port, B, (unsigned)(i + 1)), 0);
		fake_state(&f, &st, &current);
		assert_int_equal(current, i % 2);
		assert_int_equal(st.seq, (uint32_t)(i + 1));
	}
	/* The newest copy damaged: the older one (one write back) is the state. */
	f.copy[1][9] ^= 0x40;
	fake_state(&f, &st, &current);
	assert_int_equal(current, 0);
	assert_int_equal(st.slot[B].tries, 5);
	/* And the next write replaces the damaged copy, never the good one. */
	assert_int_equal(pcrgate_boot_mark_good(&f.port, A), 0);
	fake_state(&f, &st, &current);
	assert_int_equal(current, 1);
	assert_int_equal(st.seq, 6);
	fake_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fresh_state),
		cmocka_unit_test(test_good_boot),
		cmocka_unit_test(test_trial_countdown_and_fallback),
		cmocka_unit_test(test_trial_commit),
		cmocka_unit_test(test_trial_rejections),
		cmocka_unit_test(test_reject_details),
		cmocka_unit_test(test_platform_fault_does_not_condemn),
		cmocka_unit_test(test_primary_tampered),
		cmocka_unit_test(test_both_bad),
		cmocka_unit_test(test_tpm_failures),
		cmocka_unit_test(test_trial_not_recordable),
		cmocka_unit_test(test_measurements),
		cmocka_unit_test(test_kernel_only_counts),
		cmocka_unit_test(test_operations),
		cmocka_unit_test(test_copies_alternate),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
