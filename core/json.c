/*
 * json.c - JSON string escaping for the command line's -j output and the
 * control socket's JSON answers.
 */
#include <stdio.h>
#include <string.h>

#include "core/json.h"

/* Escape s into buf (no quotes); returns buf, cut short when too long. */
char *
json_escape(const char *s, char *buf, size_t len)
{
	size_t o = 0;
	unsigned char ch;
	char esc[8];
	size_t n;

	for (; *s != '\0'; s++) {
		ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			n = (size_t)snprintf(esc, sizeof(esc), "\\%c", ch);
		else if (ch == '\n')
			n = (size_t)snprintf(esc, sizeof(esc), "\\n");
		else if (ch == '\t')
			n = (size_t)snprintf(esc, sizeof(esc), "\\t");
		else if (ch < 0x20 || ch == 0x7f)
			n = (size_t)snprintf(esc, sizeof(esc), "\\u%04x", ch);
		else {
			esc[0] = (char)ch;
			esc[1] = '\0';
			n = 1;
		}
		/* never cut an escape in half: the output stays valid JSON */
		if (o + n + 1 > len)
			break;
		memcpy(buf + o, esc, n);
		o += n;
	}
	if (len > 0)
		buf[o] = '\0';
	return buf;
}

/* Write s as a JSON string (quotes included) to a FILE. */
void
json_str(FILE *out, const char *s)
{
	char buf[4096];

	fprintf(out, "\"%s\"", json_escape(s != NULL ? s : "", buf,
	    sizeof(buf)));
}

/* Write s as a JSON string (quotes included) to an evbuffer. */
void
json_evstr(struct evbuffer *out, const char *s)
{
	char buf[4096];

	evbuffer_add_printf(out, "\"%s\"", json_escape(s != NULL ? s : "",
	    buf, sizeof(buf)));
}
