/* pcrgate bundle (tools): helpers shared by tools/bundle.c and tools/bundle_extract.c. */
#ifndef PCRGATE_TOOLS_BUNDLE_CLI_H
#define PCRGATE_TOOLS_BUNDLE_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "bundle.h"

/* Options of verify and extract. */
struct bundle_check_args {
	const char *bundle, *trust, *key, *base_slot, *compatible, *min_sv, *out;
};

/* A bundle that bundle_open_verified opened and verified; bundle_close_verified releases it. */
struct bundle_opened {
	struct pcrgate_bundle *b;
	FILE *f;                              /* left at the payload */
	uint8_t key[PCRGATE_BUNDLE_KEY_SIZE]; /* the content key, when have_key */
	int have_key;
	char *base; /* a delta's base slot image: a temporary file, removed by the close */
};

/*
 * Opens and verifies a bundle as `verify` and `extract` do: trust store, header, signature,
 * manifest, the checks of args, the release's PCR policy, a delta's base. cmd names the
 * command in messages. 0, or CLI_EXIT_FAIL/USAGE with *o released.
 */
int bundle_open_verified(const char *cmd, const struct bundle_check_args *a, struct bundle_opened *o);
/* Releases what bundle_open_verified holds: the key wiped, the base image removed. */
void bundle_close_verified(struct bundle_opened *o);

/*
 * Writes the slot image of slot directory dir into a new temporary file (*path, to unlink and
 * free) and returns the sha256 and size it was written with.
 */
int bundle_slot_image_tmp(const char *cmd, const char *dir, char **path, uint8_t sha256[32], uint64_t *size);

/* A content key file of exactly 32 bytes; 0 or -1 after a message. */
int bundle_read_key(const char *who, const char *path, uint8_t key[PCRGATE_BUNDLE_KEY_SIZE]);
/* Parses the options of verify (allow_out 0) and extract; 0 to run, 1 after --help, -1 on a usage error. */
int bundle_parse_check(const char *cmd, int argc, char **argv, int allow_out, void (*usage)(FILE *),
		       struct bundle_check_args *a);

/* pcrgate bundle extract. */
int cmd_bundle_extract(int argc, char **argv);

#endif
