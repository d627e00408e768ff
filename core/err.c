/*
 * err.c - context for an error message (see err.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/err.h"

/* Put "CONTEXT: " before the message in err; see err.h. */
void
err_prefix(char err[ERRLEN], const char *fmt, ...)
{
	char msg[ERRLEN];
	va_list ap;
	int n;

	/* the message moves aside: err is where the whole is written */
	memcpy(msg, err, ERRLEN);
	msg[ERRLEN - 1] = '\0';
	va_start(ap, fmt);
	n = vsnprintf(err, ERRLEN, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= ERRLEN - 2)
		return;
	snprintf(err + n, ERRLEN - (size_t)n, ": %s", msg);
}
