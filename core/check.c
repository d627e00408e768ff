/*
 * check.c - the driver of `tunrelay check` (see check.h): the one printer
 * of findings (printed, kept for JSON or logged by run), the JSON object of
 * check -j, and the sum of a config's checks, each kind in its own file.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"
#include "core/check_back.h"
#include "core/check_front.h"
#include "core/check_host.h"
#include "core/json.h"
#include "core/log.h"

/* Findings kept for check_json(). */
static struct {
	enum check_mode mode;
	char **msg;
	enum check_level *lvl;
	size_t n;
} check_kept;

/* Keep one finding's text; dropped quietly when memory runs out. */
static void
check_keep(enum check_level lvl, const char *msg)
{
	char **m;
	enum check_level *l;
	char *d;

	m = realloc(check_kept.msg, (check_kept.n + 1) * sizeof(*m));
	if (m != NULL)
		check_kept.msg = m;
	l = realloc(check_kept.lvl, (check_kept.n + 1) * sizeof(*l));
	if (l != NULL)
		check_kept.lvl = l;
	if (m == NULL || l == NULL || (d = strdup(msg)) == NULL)
		return;
	check_kept.msg[check_kept.n] = d;
	check_kept.lvl[check_kept.n++] = lvl;
}

/* Where findings go from now on. */
void
check_mode(enum check_mode mode)
{
	check_kept.mode = mode;
}

/* Print one finding, or keep it; 1 for an error, else 0. */
int
check_say(const struct conf *c, enum check_level lvl, const char *fmt, ...)
{
	static const char *const words[] = { "error: ", "warning: ", "note: " };
	char msg[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (check_kept.mode == CHECK_MODE_KEEP)
		check_keep(lvl, msg);
	else if (check_kept.mode == CHECK_MODE_RUN) {
		if (lvl == CHECK_ERROR)
			log_msg(LOG_ERR, "%s: %s", c->path, msg);
	} else {
		/* errors go where the file's errors go; the rest to stdout */
		fprintf(lvl == CHECK_ERROR ? stderr : stdout, "%s: %s%s\n",
		    c->path, words[lvl], msg);
		fflush(lvl == CHECK_ERROR ? stderr : stdout);
	}
	return lvl == CHECK_ERROR;
}

/* Print {"config":..,"ok":..,"errors":N,"findings":[...]} and forget them. */
void
check_json(FILE *out, const char *path, bool ok)
{
	static const char *const words[] = { "error", "warning", "note" };
	size_t i, nerr = 0;

	for (i = 0; i < check_kept.n; i++)
		nerr += check_kept.lvl[i] == CHECK_ERROR;
	fprintf(out, "{\"config\":");
	json_str(out, path);
	fprintf(out, ",\"ok\":%s,\"errors\":%zu,\"findings\":[",
	    ok ? "true" : "false", nerr);
	for (i = 0; i < check_kept.n; i++) {
		fprintf(out, "%s{\"level\":\"%s\",\"message\":", i ? "," : "",
		    words[check_kept.lvl[i]]);
		json_str(out, check_kept.msg[i]);
		fprintf(out, "}");
		free(check_kept.msg[i]);
	}
	fprintf(out, "]}\n");
	free(check_kept.msg);
	free(check_kept.lvl);
	check_kept.msg = NULL;
	check_kept.lvl = NULL;
	check_kept.n = 0;
}

/* Every check of a config, the host's first; the number of errors. */
int
check_config(const struct conf *c, enum check_scope scope)
{
	int bad;

	bad = check_host_start(c);
	if (c->role == CONF_ROLE_BACK)
		bad += check_back(c, scope);
	else
		bad += check_front(c, scope);
	return bad;
}

/* tunrelay check -j: file errors and host findings in one JSON object. */
int
check_config_json(const char *path)
{
	struct conf_errors errs;
	struct conf c;
	size_t i;
	int bad = 0;

	check_mode(CHECK_MODE_KEEP);
	memset(&c, 0, sizeof(c));
	if (conf_load(path, &c, &errs) == -1) {
		/* the findings carry the file's messages, path included */
		c.path = (char *)"";
		for (i = 0; i < errs.n; i++)
			bad += check_say(&c, CHECK_ERROR, "%s", errs.e[i].msg);
		check_json(stdout, path, false);
		return 1;
	}
	bad = check_config(&c, CHECK_SCOPE_ALL);
	conf_free(&c);
	check_json(stdout, path, bad == 0);
	return bad ? 1 : 0;
}
