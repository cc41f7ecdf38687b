/*
 * pcrgate admin: requests to the verifier's admin API and their output: a refusal in the
 * server's own words, lists as aligned tables, objects as "key: value" lines, or the
 * server's JSON with --json (tools/admin.h).
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admin.h"
#include "cli.h"

/* ---- Requests ---- */

/* A refusal: the server's own words. */
static void refused(const char *method, const char *path, long status, const json_t *doc)
{
	const char *text = httpclient_error_text(doc);
	const char *check = json_is_object(doc) ? json_string_value(json_object_get(doc, "check")) : NULL;

	cli_error("admin: %s %s: %s (HTTP %ld%s%s)", method, path, text ? text : "refused", status,
		  check ? ", check " : "", check ? check : "");
}

/* One JSON request; 0 with *out (may be NULL for an empty answer) on 2xx, else the exit code. */
int admin_request(struct admin *a, const char *method, const char *path, const json_t *body, json_t **out)
{
	pcrgate_errinfo ei;
	json_t *doc = NULL;
	long status = 0;
	int r;

	pcrgate_errinfo_clear(&ei);
	if (strcmp(method, "GET") == 0)
		r = httpclient_get(a->c, path, &status, &doc, &ei);
	else if (strcmp(method, "PUT") == 0)
		r = httpclient_put(a->c, path, body, &status, &doc, &ei);
	else
		r = httpclient_post(a->c, path, body, &status, &doc, &ei);
	if (r != PCRGATE_OK) {
		cli_report("admin", &ei);
		return CLI_EXIT_FAIL;
	}
	if (status < 200 || status > 299) {
		refused(method, path, status, doc);
		json_decref(doc);
		return CLI_EXIT_FAIL;
	}
	*out = doc;
	return CLI_EXIT_OK;
}

/* GET of JSON lines (the audit log); 0 with the body, else the exit code. */
int admin_request_lines(struct admin *a, const char *path, uint8_t **body, size_t *len)
{
	pcrgate_errinfo ei;
	json_t *doc;
	long status = 0;

	pcrgate_errinfo_clear(&ei);
	if (httpclient_get_raw(a->c, path, &status, body, len, &ei) != PCRGATE_OK) {
		cli_report("admin", &ei);
		return CLI_EXIT_FAIL;
	}
	if (status < 200 || status > 299) {
		doc = json_loadb((const char *)*body, *len, 0, NULL);
		refused("GET", path, status, doc);
		json_decref(doc);
		free(*body);
		*body = NULL;
		return CLI_EXIT_FAIL;
	}
	return CLI_EXIT_OK;
}

void admin_print_json(const json_t *doc)
{
	if (doc != NULL)
		json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
	else
		fputs("{}", stdout);
	putchar('\n');
}

/* ---- Human output ---- */

/* A cell's text: strings with control characters replaced, numbers, times, booleans; "-" when absent. */
static void cell(const json_t *row, const struct column *col, char *out, size_t cap)
{
	const json_t *v = json_object_get(row, col->key);
	struct tm tm;
	time_t t;
	size_t i;

	if (json_is_string(v)) {
		snprintf(out, cap, "%s", json_string_value(v));
		for (i = 0; out[i] != '\0'; i++)
			if ((unsigned char)out[i] < 0x20 || out[i] == 0x7f)
				out[i] = '?';
	} else if (json_is_integer(v) && col->time) {
		t = (time_t)json_integer_value(v);
		if (gmtime_r(&t, &tm) == NULL || strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
			snprintf(out, cap, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	} else if (json_is_integer(v)) {
		snprintf(out, cap, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	} else if (json_is_boolean(v)) {
		snprintf(out, cap, "%s", json_is_true(v) ? "yes" : "no");
	} else if (v == NULL || json_is_null(v)) {
		snprintf(out, cap, "-");
	} else {
		char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

		snprintf(out, cap, "%s", s != NULL ? s : "?");
		free(s);
	}
}

#define CELL_MAX 96
#define MAX_COLUMNS 8

static void print_table(const json_t *rows, const struct column *cols, size_t ncols)
{
	size_t width[MAX_COLUMNS], i, c, n;
	char text[CELL_MAX];
	const json_t *row;

	for (c = 0; c < ncols; c++)
		width[c] = strlen(cols[c].header);
	json_array_foreach(rows, i, row)
		for (c = 0; c < ncols; c++) {
			cell(row, &cols[c], text, sizeof(text));
			if ((n = strlen(text)) > width[c])
				width[c] = n;
		}
	for (c = 0; c < ncols; c++)
		printf("%-*s%s", c + 1 < ncols ? (int)width[c] : 0, cols[c].header, c + 1 < ncols ? "  " : "\n");
	json_array_foreach(rows, i, row)
		for (c = 0; c < ncols; c++) {
			cell(row, &cols[c], text, sizeof(text));
			printf("%-*s%s", c + 1 < ncols ? (int)width[c] : 0, text, c + 1 < ncols ? "  " : "\n");
		}
}

/* A list answer as a table (or as JSON). */
int admin_show_list(struct admin *a, const char *path, const char *key, const struct column *cols, size_t ncols)
{
	json_t *doc = NULL;
	const json_t *rows;
	int rc;

	if ((rc = admin_request(a, "GET", path, NULL, &doc)) != CLI_EXIT_OK)
		return rc;
	if (a->json) {
		admin_print_json(doc);
	} else if (!json_is_array(rows = json_object_get(doc, key))) {
		cli_error("admin: GET %s: the answer holds no list of %s", path, key);
		rc = CLI_EXIT_FAIL;
	} else {
		print_table(rows, cols, ncols);
	}
	json_decref(doc);
	return rc;
}

/* Members named ..._at are Unix times. */
static int is_time(const char *key)
{
	size_t n = strlen(key);

	return n > 3 && strcmp(key + n - 3, "_at") == 0;
}

static int all_objects(const json_t *array)
{
	const json_t *e;
	size_t i;

	if (json_array_size(array) == 0)
		return 0;
	json_array_foreach(array, i, e)
		if (!json_is_object(e))
			return 0;
	return 1;
}

/*
 * "NAME: value" for holder's member key; one level down, an object's members as NAME.KEY and
 * an array of objects (a device's outcomes) as NAME[i].KEY, so every value gets its own line.
 */
static void show_member(const char *name, const json_t *holder, const char *key, int nested)
{
	struct column col = {NULL, key, is_time(key)};
	const json_t *v = json_object_get(holder, key), *e, *x;
	char text[CELL_MAX * 4], sub[256];
	const char *k;
	size_t i;

	if (!nested && json_is_object(v)) {
		json_object_foreach((json_t *)v, k, x) {
			snprintf(sub, sizeof(sub), "%s.%s", name, k);
			show_member(sub, v, k, 1);
		}
		return;
	}
	if (!nested && all_objects(v)) {
		json_array_foreach(v, i, e)
			json_object_foreach((json_t *)e, k, x) {
				snprintf(sub, sizeof(sub), "%s[%zu].%s", name, i, k);
				show_member(sub, e, k, 1);
			}
		return;
	}
	cell(holder, &col, text, sizeof(text));
	printf("%s: %s\n", name, text);
}

/* One object as "key: value" lines (or as JSON). */
void admin_show_object(struct admin *a, const json_t *doc)
{
	const json_t *v;
	const char *k;

	if (a->json || !json_is_object(doc)) {
		admin_print_json(doc);
		return;
	}
	json_object_foreach((json_t *)doc, k, v)
		show_member(k, doc, k, 0);
}

/* A change: the server's answer with --json, else one line saying what was done. */
int admin_change(struct admin *a, const char *method, const char *path, const json_t *body, const char *done)
{
	json_t *doc = NULL;
	int rc = admin_request(a, method, path, body, &doc);

	if (rc == CLI_EXIT_OK) {
		if (a->json)
			admin_print_json(doc);
		else
			printf("%s\n", done);
	}
	json_decref(doc);
	return rc;
}

