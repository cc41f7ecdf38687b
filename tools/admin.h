/*
 * pcrgate admin (internal): the requests to the verifier's admin API and how their answers
 * are shown, as tables, "key: value" lines or the server's JSON (tools/admin_output.c).
 * tools/admin.c holds the subcommands that use them.
 */
#ifndef PCRGATE_TOOLS_ADMIN_H
#define PCRGATE_TOOLS_ADMIN_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "httpclient.h"

struct admin {
	httpclient *c;
	int json; /* --json: print the server's JSON instead of tables and lines */
};

/* A table column: a member of each row. */
struct column {
	const char *header;
	const char *key; /* the member */
	int time;        /* Unix seconds shown as UTC */
};

#define ADMIN_COLUMNS(cols) (sizeof(cols) / sizeof((cols)[0]))

/* One JSON request; 0 with *out (may be NULL for an empty answer) on 2xx, else the exit code. */
int admin_request(struct admin *a, const char *method, const char *path, const json_t *body, json_t **out);
/* GET of JSON lines (the audit log); 0 with the body, else the exit code. */
int admin_request_lines(struct admin *a, const char *path, uint8_t **body, size_t *len);
/* The document indented on stdout ("{}" for NULL). */
void admin_print_json(const json_t *doc);
/* GET of a list answer, shown as a table (or as JSON); key names the list in the answer. */
int admin_show_list(struct admin *a, const char *path, const char *key, const struct column *cols, size_t ncols);
/* One object as "key: value" lines (or as JSON). */
void admin_show_object(struct admin *a, const json_t *doc);
/* A change: the server's answer with --json, else the line done. */
int admin_change(struct admin *a, const char *method, const char *path, const json_t *body, const char *done);

#endif
