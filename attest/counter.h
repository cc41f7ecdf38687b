/*
 * pcrgate-agent (internal): the anti-rollback counter. An NV index of type TPM_NT_COUNTER,
 * read with the owner's empty authorization (as pcrgate-boot and PolicyNV read it) and
 * incremented only with its authValue, a 32-byte secret in the agent's state directory.
 */
#ifndef PCRGATE_ATTEST_COUNTER_H
#define PCRGATE_ATTEST_COUNTER_H

#include <stdint.h>

#include <tss2/tss2_esys.h>

#include "agent.h"

/* The most increments one raise makes; a larger jump is refused (each is an NV write). */
#define COUNTER_MAX_RAISE 1000u

/*
 * Opens the NV index: its ESYS_TR (tpmutil_close) and public area. PCRGATE_ERR_NOT_FOUND
 * when it is not defined.
 */
int counter_open(ESYS_CONTEXT *esys, uint32_t index, ESYS_TR *nv, TPM2B_NV_PUBLIC *pub, pcrgate_errinfo *ei);

/* 0 when pub is the counter pcrgate provisions at its index (TPMA_NV_WRITTEN aside), else why. */
int counter_check_public(const TPM2B_NV_PUBLIC *pub, char *why, size_t cap);

/*
 * Provisioning's step: defines the counter (its secret written to the state directory
 * first) and increments it once, as far as that is not done yet; a counter of another
 * shape at the index is an error. step records what was found or done.
 */
int counter_provision(ESYS_CONTEXT *esys, const struct agent_config *cfg, ESYS_TR srk, struct agent_step *step,
		      pcrgate_errinfo *ei);

#endif
