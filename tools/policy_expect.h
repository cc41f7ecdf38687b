/* pcrgate policy: the PCR values a slot manifest boots into (tools/policy_expect.c). */
#ifndef PCRGATE_TOOLS_POLICY_EXPECT_H
#define PCRGATE_TOOLS_POLICY_EXPECT_H

#include <stddef.h>
#include <stdint.h>

#include "pcrgate/common.h"
#include "pcrgate/pcrs.h"

/*
 * The values pcrgate-boot leaves, from zero, after booting a slot with the slot manifest whose
 * exact bytes are manifest[len], in each bank of algs: PCRGATE_PCR_BOOT_IMAGES always, and
 * PCRGATE_PCR_BOOT_SLOT too when slot is 0 (a) or 1 (b); with slot -1 it is left out. The
 * events are the boot core's own (pcrgate_boot_events). A manifest the boot would refuse is
 * PCRGATE_ERR_FORMAT/LIMIT with its byte offset. *out only on success.
 */
int policy_expected_pcrs(const uint8_t *manifest, size_t len, int slot, const uint16_t *algs, size_t nalgs,
			 pcrgate_pcrs **out, pcrgate_errinfo *ei);

/* pcrgate policy expect: the PCR values of a release's slot manifest, for `pcrgate policy sign --pcrs`. */
int cmd_policy_expect(int argc, char **argv);

#endif
