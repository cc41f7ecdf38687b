/*
 * The parsed reference policy, shared by the parser (refpolicy.c) and the evaluation
 * (refpolicy_eval.c). Internal to the library.
 */
#ifndef PCRGATE_REFPOLICY_INTERNAL_H
#define PCRGATE_REFPOLICY_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "pcrgate/alg.h"
#include "refpolicy.h"

/* PCRs a policy may name: those of a PC Client TPM. */
#define RP_MAX_PCR 23u

/*
 * One rule: every condition present must hold. A digest condition compares the event's digest
 * in the policy's bank; data, text and variable conditions read the event data, which is trusted
 * only when the rule also pins the digest or the event's digest is the hash of its data.
 */
struct rp_rule {
	uint32_t pcr; /* required events only */
	int has_type;
	uint32_t type;
	int has_digest;
	uint8_t digest[PCRGATE_MAX_DIGEST];
	int has_data; /* "data" (hex) or "text": the whole event data */
	uint8_t *data;
	size_t data_len;
	int has_variable; /* "variable": a UEFI_VARIABLE_DATA */
	uint8_t guid[16];
	uint8_t *var_name; /* UTF-16LE */
	size_t var_name_chars;
	int has_var_data;
	uint8_t *var_data;
	size_t var_data_len;
	char *comment; /* NULL when absent */
};

struct rp_release {
	char *name;
	char *version;
	uint64_t security_version;
	uint32_t mask; /* PCRs with an expected value */
	uint8_t value[RP_MAX_PCR + 1][PCRGATE_MAX_DIGEST];
};

struct pcrgate_refpolicy {
	char *name;
	char digest_hex[65];
	uint16_t bank;
	size_t digest_size;
	uint32_t measured_mask; /* PCRs with a "measurements" entry */
	/* Allow rules of PCR k: rules[rule_first[k] .. rule_first[k] + rule_count[k]). */
	size_t rule_first[RP_MAX_PCR + 1];
	size_t rule_count[RP_MAX_PCR + 1];
	struct rp_rule *rules;
	size_t nrules;
	struct rp_rule *required;
	size_t nrequired;
	struct rp_release *releases;
	size_t nreleases;
	int has_min_sv;
	uint64_t min_sv;
};

/* Compares an event (type, digest in the bank, data) against a rule; 1 on a match. data_trusted
 * says whether the event's data may be read (pcrgate_refpolicy_event_data_trusted). */
int rp_rule_matches(const struct rp_rule *r, size_t digest_size, uint32_t type, const uint8_t *digest,
		    const uint8_t *data, size_t data_len, int data_trusted);

#endif
