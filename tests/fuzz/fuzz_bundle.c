/*
 * libFuzzer target for bundles before their payload: the input as a bundle (the header with
 * its caps, then manifest and signature) whose manifest then goes through the strict parser
 * without trust (what `pcrgate bundle inspect` does), and the input as a manifest on its own
 * (the unsigned parser directly). Every getter of a manifest that parses is read, and a partial
 * payload check runs over the input's tail. Any crash, overrun or leak is a bug.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "bundle.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	pcrgate_log_set_level(PCRGATE_LOG_ERROR - 1);
	return 0;
}

static void read_all(const struct pcrgate_bundle_manifest *m, const uint8_t *tail, size_t tail_len)
{
	uint64_t stored, bytes;
	size_t i, len, chunks;
	FILE *f;

	(void)pcrgate_bundle_manifest_release(m);
	(void)pcrgate_bundle_manifest_compatible(m);
	(void)pcrgate_bundle_manifest_version(m);
	(void)pcrgate_bundle_manifest_security_version(m);
	(void)pcrgate_bundle_manifest_slot_manifest(m, &len);
	(void)pcrgate_bundle_manifest_slot(m);
	(void)pcrgate_bundle_manifest_slot_manifest_sig(m, &len);
	(void)pcrgate_bundle_manifest_image_size(m);
	(void)pcrgate_bundle_manifest_image_sha256(m);
	(void)pcrgate_bundle_manifest_payload_type(m);
	(void)pcrgate_bundle_manifest_base_size(m);
	(void)pcrgate_bundle_manifest_base_sha256(m);
	(void)pcrgate_bundle_manifest_chunk_size(m);
	(void)pcrgate_bundle_manifest_stored_size(m);
	for (i = 0; i <= pcrgate_bundle_manifest_chunk_count(m); i++)
		(void)pcrgate_bundle_manifest_chunk(m, i, &stored);
	(void)pcrgate_bundle_manifest_encryption(m);
	(void)pcrgate_bundle_manifest_pcr_policy(m, &len);
	(void)pcrgate_bundle_manifest_end_of_support(m);
	(void)pcrgate_bundle_manifest_notes(m);
	(void)pcrgate_bundle_manifest_roots_added(m);
	(void)pcrgate_bundle_manifest_roots_removed(m);
	/* A small tail only: a chunk is up to 16 MiB and the check reads one whole. */
	if (tail_len > 0 && tail_len <= 4096 && (f = fmemopen((void *)tail, tail_len, "rb")) != NULL) {
		(void)pcrgate_bundle_check_partial(m, f, &chunks, &bytes, NULL);
		fclose(f);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pcrgate_bundle_manifest *m = NULL;
	struct pcrgate_bundle *b = NULL;
	uint64_t off;
	FILE *f;

	if (pcrgate_bundle_load(data, size, &b, NULL) == 0) {
		off = pcrgate_bundle_payload_offset(b);
		if (pcrgate_bundle_parse_unverified(b, NULL) == 0)
			read_all(pcrgate_bundle_get_manifest(b), data + off, size - (size_t)off);
		pcrgate_bundle_free(&b);
	}
	/* The same bytes through the FILE reader, which must agree with the buffer reader. */
	if (size > 0 && (f = fmemopen((void *)data, size, "rb")) != NULL) {
		if (pcrgate_bundle_read(f, &b, NULL) == 0)
			pcrgate_bundle_free(&b);
		fclose(f);
	}
	if (pcrgate_bundle_manifest_parse(data, size, &m, NULL) == 0) {
		read_all(m, NULL, 0);
		pcrgate_bundle_manifest_free(&m);
	}
	return 0;
}
