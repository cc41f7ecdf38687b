/*
 * Power cuts and torn writes in the boot core, in the manner of MCUboot's simulator: a
 * device's lifecycle (first boot, commit, trial updates that fail every way an update can
 * fail, a good update, counter raises) is replayed once for every boot-state write, with
 * power cut before that write, and once more with the write torn in half. After each cut
 * the boot state must be the one before or after the write, and the next boots must pick
 * a slot that passes every check (never a tampered, unsigned or rolled-back one).
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "boot/core.h"
#include "boot_fake.h"

#define A 0
#define B 1

enum op_kind { BOOT, TRIAL, GOOD, BAD, EMPTY, INSTALL, INSTALL_UNSIGNED, TAMPER, COUNTER };

struct op {
	enum op_kind kind;
	unsigned slot;
	unsigned arg; /* tries, security version, counter value, or the slot BOOT must pick */
	const char *version;
};

/*
 * The agent's view of one device: install into the inactive slot after emptying it, arm a
 * trial, commit after a healthy boot, then raise the counter. Every update that must fail
 * does, once per way of failing; at every point one slot passes verification.
 */
static const struct op lifecycle[] = {
	{INSTALL, A, 1, "1.0"},
	{BOOT, 0, A, NULL},
	{GOOD, A, 0, NULL},
	{EMPTY, B, 0, NULL},
	{INSTALL, B, 2, "2.0"},
	{TRIAL, B, 2, NULL},
	{BOOT, 0, B, NULL},
	{BOOT, 0, B, NULL},
	{BOOT, 0, A, NULL}, /* no commit within the tries */
	{TRIAL, B, 2, NULL},
	{BOOT, 0, B, NULL},
	{GOOD, B, 0, NULL},
	{COUNTER, 0, 2, NULL},
	{BOOT, 0, B, NULL},
	{EMPTY, A, 0, NULL},
	{INSTALL, A, 3, "3.0"},
	{TAMPER, A, 0, NULL},
	{TRIAL, A, 3, NULL},
	{BOOT, 0, B, NULL}, /* tampered image */
	{EMPTY, A, 0, NULL},
	{INSTALL, A, 1, "1.5"},
	{TRIAL, A, 1, NULL},
	{BOOT, 0, B, NULL}, /* security version below the counter */
	{EMPTY, A, 0, NULL},
	{INSTALL_UNSIGNED, A, 3, "3.0"},
	{TRIAL, A, 1, NULL},
	{BOOT, 0, B, NULL}, /* bad signature */
	{EMPTY, A, 0, NULL},
	{INSTALL, A, 3, "3.0"},
	{TRIAL, A, 2, NULL},
	{BOOT, 0, A, NULL},
	{BAD, A, 0, NULL}, /* failed health check */
	{BOOT, 0, B, NULL},
	{TRIAL, A, 1, NULL},
	{BOOT, 0, A, NULL},
	{GOOD, A, 0, NULL},
	{COUNTER, 0, 3, NULL},
	{BOOT, 0, A, NULL},
	{BOOT, 0, A, NULL},
};
#define N_OPS (sizeof(lifecycle) / sizeof(lifecycle[0]))

static void run_op(struct fake *f, const struct op *op)
{
	struct pcrgate_boot_result res;
	int r = 0;

	switch (op->kind) {
	case BOOT:
		fake_reboot(f);
		r = pcrgate_boot_run(&f->port, &res);
		assert_int_equal(r, 0);
		assert_true(fake_slot_verifiable(f, res.slot));
		assert_int_equal(res.slot, op->arg);
		break;
	case TRIAL:
		r = pcrgate_boot_set_trial(&f->port, op->slot, op->arg);
		break;
	case GOOD:
		r = pcrgate_boot_mark_good(&f->port, op->slot);
		break;
	case BAD:
		r = pcrgate_boot_mark_bad(&f->port, op->slot);
		break;
	case EMPTY:
		r = pcrgate_boot_mark_empty(&f->port, op->slot);
		break;
	case INSTALL:
	case INSTALL_UNSIGNED:
		fake_install(f, op->slot, op->version, op->arg, 1);
		if (op->kind == INSTALL_UNSIGNED)
			f->slot[op->slot].sig_result = PCRGATE_ERR_VERIFY;
		break;
	case TAMPER:
		fake_tamper(f, op->slot, "initrd");
		break;
	case COUNTER:
		f->counter = op->arg;
		break;
	}
	assert_int_equal(r, 0);
}

/* Runs the lifecycle until power is cut; returns the index of the op that was cut, or N_OPS. */
static size_t run_until_cut(struct fake *f)
{
	jmp_buf cut;
	volatile size_t i;

	f->cut = &cut;
	for (i = 0; i < N_OPS; i++) {
		if (setjmp(cut) != 0)
			break;
		run_op(f, &lifecycle[i]);
	}
	f->cut = NULL;
	return i;
}

/* The uncut lifecycle: every boot picks the expected slot; records what each write did. */
static unsigned reference(struct fake *ref)
{
	fake_init(ref);
	assert_int_equal(run_until_cut(ref), N_OPS);
	assert_true(ref->writes > 20 && ref->writes <= FAKE_MAX_WRITES);
	return ref->writes;
}

static void test_lifecycle(void **state)
{
	struct pcrgate_bootstate st;
	struct fake ref;
	int current;

	(void)state;
	reference(&ref);
	fake_state(&ref, &st, &current);
	assert_int_equal(st.primary, A);
	assert_int_equal(st.slot[A].status, PCRGATE_SLOT_GOOD);
	assert_int_equal(st.slot[B].status, PCRGATE_SLOT_GOOD);
	fake_free(&ref);
}

/* After a cut: the state is atomic, and two boots in a row each pick a verified slot. */
static void check_after_cut(struct fake *f, const struct fake *ref, unsigned k, int torn)
{
	struct pcrgate_boot_result res;
	struct pcrgate_bootstate st;
	int current, boots;

	fake_state(f, &st, &current);
	assert_true(pcrgate_bootstate_equal(&f->before[k], &ref->before[k]));
	if (torn)
		assert_true(pcrgate_bootstate_equal(&st, &ref->before[k]) || pcrgate_bootstate_equal(&st, &ref->after[k]));
	else
		assert_true(pcrgate_bootstate_equal(&st, &ref->before[k]));
	f->cut_at = 0;
	for (boots = 0; boots < 2; boots++) {
		fake_reboot(f);
		assert_int_equal(pcrgate_boot_run(&f->port, &res), 0);
		assert_true(res.booted);
		assert_true(fake_slot_verifiable(f, res.slot));
		assert_true(res.manifest.security_version >= f->counter);
		assert_int_equal(f->slot[res.slot].kept, f->slot[res.slot].n_images);
		assert_int_equal(f->counter_reads, 1);
		assert_int_equal(f->extends, 1 + res.manifest.n_images + 2);
	}
}

static void test_power_cuts(void **state)
{
	struct fake ref, f;
	unsigned writes, k;
	int torn;

	(void)state;
	writes = reference(&ref);
	for (k = 1; k <= writes; k++) {
		for (torn = 0; torn <= 1; torn++) {
			size_t at;

			fake_init(&f);
			f.cut_at = k;
			f.torn = torn;
			at = run_until_cut(&f);
			assert_true(at < N_OPS);
			assert_int_equal(f.writes, k);
			check_after_cut(&f, &ref, k, torn);
			fake_free(&f);
		}
	}
	fake_free(&ref);
}

/* A torn first write (half a record over erased flash) leaves the fresh state. */
static void test_torn_first_write(void **state)
{
	struct pcrgate_bootstate st;
	struct fake f;
	jmp_buf cut;
	int current;

	(void)state;
	fake_init(&f);
	fake_install(&f, A, "1.0", 1, 1);
	f.cut = &cut;
	f.cut_at = 1;
	f.torn = 1;
	if (setjmp(cut) == 0) {
		pcrgate_boot_set_trial(&f.port, B, 1);
		fail_msg("set-trial returned past a power cut");
	}
	f.cut = NULL;
	fake_state(&f, &st, &current);
	assert_int_equal(current, -1);
	assert_int_equal(st.slot[B].status, PCRGATE_SLOT_UNKNOWN);
	fake_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lifecycle),
		cmocka_unit_test(test_power_cuts),
		cmocka_unit_test(test_torn_first_write),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
