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

/* Borrowed value of key, or NULL; *line (when non-NULL) gets the line it was set on. */
const char *pcrgate_config_get(const pcrgate_config *cfg, const char *key, unsigned *line);
const char *pcrgate_config_path(const pcrgate_config *cfg);

/* pcrgate_tcti_resolve with another default config path (tests use one that does not exist). */
int pcrgate_tcti_resolve_in(const char *option, const char *config_path, const char *default_config, char *tcti,
			    size_t cap, int *source, pcrgate_errinfo *ei);

#endif
