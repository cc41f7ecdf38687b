/*
 * libFuzzer target for the documents the agent and the verifier read: the input is parsed as
 * a signed policy (every member checked, digests recomputed, the signature verified in
 * software) and as a certification of an update key. Any crash, overrun or leak is a bug.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "attest/certify.h"
#include "attest/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct signed_policy sp;
	struct certify_result res;
	TPM2B_NAME vendor;

	pcrgate_log_set_level(PCRGATE_LOG_ERROR - 1);
	(void)policy_parse(data, size, &sp, NULL);
	memset(&vendor, 0x5a, sizeof(vendor));
	vendor.size = 34;
	vendor.name[0] = 0x00;
	vendor.name[1] = 0x0b;
	(void)certify_verify(data, size, &vendor, 0x01500100u, NULL, 0, NULL, &res, NULL);
	return 0;
}
