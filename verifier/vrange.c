/*
 * pcrgate verifier: the Range header parser of the bundle route (verifier/vrange.h). On its
 * own, with only the common library under it, so that its unit test and fuzz target link
 * nothing else.
 */
#include "config.h"

#include <string.h>
#include <strings.h>

#include "pcrgate/common.h"
#include "verifier/vrange.h"

/* Skips blanks (RFC 9110 OWS: spaces and tabs). */
static const char *ows(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* A decimal at *p, saturating at UINT64_MAX (past any end); advances *p. -1 when there is no digit. */
static int number(const char **p, uint64_t *out)
{
	int r = pcrgate_parse_decimal(p, UINT64_MAX, out);

	if (r == PCRGATE_ERR_LIMIT) {
		*p += strspn(*p, "0123456789");
		*out = UINT64_MAX;
		return 0;
	}
	return r == PCRGATE_OK ? 0 : -1;
}

int vrange_parse(const char *header, uint64_t size, uint64_t *first, uint64_t *last)
{
	const char *p;
	uint64_t a = 0, b = 0;
	int n = 0, suffix = 0, open_end = 0;

	if (header == NULL)
		return 0;
	p = ows(header);
	if (strncasecmp(p, "bytes", 5) != 0 || p[5] != '=')
		return 0;
	p += 6;
	/* range-set = 1#range-spec: elements between commas, blanks around them, empty ones allowed. */
	for (;;) {
		p = ows(p);
		if (*p == ',') {
			p++;
			continue;
		}
		if (*p == '\0')
			break;
		if (++n > 1)
			return 0;
		if (*p == '-') {
			p++;
			suffix = 1;
			if (number(&p, &b) != 0)
				return 0;
		} else {
			if (number(&p, &a) != 0 || *p++ != '-')
				return 0;
			open_end = number(&p, &b) != 0;
			if (!open_end && b < a)
				return 0;
		}
		p = ows(p);
		if (*p != ',' && *p != '\0')
			return 0;
	}
	if (n == 0)
		return 0;
	if (suffix) {
		if (b == 0)
			return -1;
		if (size == 0)
			return 0;
		*first = size - (b < size ? b : size);
		*last = size - 1;
		return 1;
	}
	if (a >= size)
		return -1;
	*first = a;
	*last = open_end || b >= size ? size - 1 : b;
	return 1;
}
