/*
 * pcrgate-agent (internal): what update.c and commit.c share: the agent's small state
 * documents, and getting a bundle (update_fetch.c): from a local file, or downloaded with
 * its head verified before its payload is fetched, resumable from a verified partial file.
 */
#ifndef PCRGATE_ATTEST_UPDATE_INTERNAL_H
#define PCRGATE_ATTEST_UPDATE_INTERNAL_H

#include <stdio.h>

#include <jansson.h>

#include "agent.h"
#include "boot/host/host.h"
#include "bundle.h"

/* STATE_DIR/download/NAME, the directory created (0700) when missing. */
int update_download_path(const struct agent_config *cfg, const char *name, char *out, size_t cap,
			 pcrgate_errinfo *ei);

/* SLOTS/S, or SLOTS/S/NAME when name is not NULL. */
int update_slot_path(const struct host_config *host, unsigned slot, const char *name, char *out, size_t cap,
		     pcrgate_errinfo *ei);

/* The authorization's bundle as the fetcher needs it. */
struct update_source {
	const char *url;        /* the authorization's bundle_url */
	const char *digest_hex; /* its manifest digest: a partial download of another bundle is dropped */
};

/*
 * Opens the bundle (bundle_file, else src->url downloaded into STATE_DIR/download/) and
 * verifies its head (pcrgate_bundle_verify with ts and pol) before any payload byte is read
 * or fetched. *f is the bundle file. A head that fails verification is not kept.
 */
int update_open_bundle(const struct agent_config *cfg, const char *bundle_file, const struct update_source *src,
		       const struct pcrgate_truststore *ts, const struct pcrgate_bundle_policy *pol,
		       struct pcrgate_bundle **b, FILE **f, pcrgate_errinfo *ei);
/*
 * Downloads the rest of the payload (resuming after the verified whole chunks already on
 * disk) up to exactly the size the signed manifest gives; *f is reopened on the whole file,
 * for update_check_payload.
 */
int update_fetch_payload(const struct agent_config *cfg, const struct update_source *src,
			 const struct pcrgate_bundle *b, FILE **f, pcrgate_errinfo *ei);
/*
 * Checks every stored chunk of the payload in f (the bundle file, bundle_file or the download)
 * against its digest in the signed manifest, and that nothing follows the payload. A download
 * that fails is cut back to the chunks that verify, so the next attempt fetches the rest again.
 */
int update_check_payload(const struct agent_config *cfg, const char *bundle_file, const struct pcrgate_bundle *b,
			 FILE *f, pcrgate_errinfo *ei);
/* Drops the download (after a bundle is installed, or found to be the wrong one). */
void update_discard_download(const struct agent_config *cfg);

#endif
