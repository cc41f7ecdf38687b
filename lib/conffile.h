/*
 * pcrgate (library-internal): the `key = value` config file.
 *
 * One setting per line; blank lines and lines whose first non-blank character is
 * `#` are ignored, and a `#` after a blank ends the value (so "tcti = x  # note"
 * works). Keys are [A-Za-z0-9_.-]; a key given twice is an error, so no setting
 * silently wins over another. Every error names file:line.
 */
#ifndef PCRGATE_CONFFILE_H
#define PCRGATE_CONFFILE_H

#include <stddef.h>

#include "pcrgate/common.h"

#define PCRGATE_CONFIG_MAX_SIZE (64 * 1024) /* bytes of a config file */
#define PCRGATE_CONFIG_MAX_LINE 1024        /* bytes of one line, without its newline */
#define PCRGATE_CONFIG_MAX_KEYS 128

typedef struct pcrgate_config pcrgate_config;

/* Reads and checks path. A file that does not exist: PCRGATE_ERR_NOT_FOUND (nothing else is). */
int pcrgate_config_load(const char *path, pcrgate_config **cfg, pcrgate_errinfo *ei);
void pcrgate_config_free(pcrgate_config **cfg);

/*
 * Typed values from a config file or an option; `what` names where the value came from
 * (file:line: key, or --option) in the error. The destination is written only on success.
 */
/* A string of 1 to cap-1 bytes, copied into dst. */
int pcrgate_config_string(char *dst, size_t cap, const char *value, const char *what, pcrgate_errinfo *ei);
/* A number in [lo, hi], hex (0x...) or decimal; `kind` says what it is ("an NV index"). */
int pcrgate_config_u32(uint32_t *dst, const char *value, uint32_t lo, uint32_t hi, const char *kind,
		       const char *what, pcrgate_errinfo *ei);
/* yes/true/1 or no/false/0. */
int pcrgate_config_bool(int *dst, const char *value, const char *what, pcrgate_errinfo *ei);

/* Borrowed value of key, or NULL; *line (when non-NULL) gets the line it was set on. */
const char *pcrgate_config_get(const pcrgate_config *cfg, const char *key, unsigned *line);
const char *pcrgate_config_path(const pcrgate_config *cfg);
/* The i-th key in file order (NULL past the last), so a reader can refuse keys it does not know. */
const char *pcrgate_config_key(const pcrgate_config *cfg, size_t i, unsigned *line);

/* pcrgate_tcti_resolve with another default config path (tests use one that does not exist). */
int pcrgate_tcti_resolve_in(const char *option, const char *config_path, const char *default_config, char *tcti,
			    size_t cap, int *source, pcrgate_errinfo *ei);

#endif
