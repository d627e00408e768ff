/*
 * conf.c - conf_load(): read, scan, check, and collect every error.
 *
 * The file is read twice: by the line scan (conf_scan.c), which knows line
 * numbers, repeats and broken lines, and by iniparser. When the scan finds
 * nothing wrong, iniparser_getstring() must return the scan's value for every
 * key (otherwise the file changed between the reads, or the readers
 * disagree). Values are then checked by the typed parsers; iniparser's
 * lax getint/getboolean are never used (CVE-2023-33461).
 */
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif

#include <arpa/inet.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <iniparser.h>

#include "conf/conf_int.h"

/* Replace control bytes (from section names and keys) with '?'. */
static void
conf_error_clean(char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

/* Add one message "PATH:LINE: ..." (or "PATH: ..." for line 0). */
void
conf_error(struct conf_ctx *ctx, int line, const char *fmt, ...)
{
	struct conf_error	*e;
	va_list			 ap;
	int			 n;

	ctx->nerr++;
	if (ctx->errs->n >= CONF_ERRORS_MAX) {
		ctx->errs->lost++;
		return;
	}
	e = &ctx->errs->e[ctx->errs->n++];
	e->line = line;
	if (line > 0)
		n = snprintf(e->msg, sizeof(e->msg), "%s:%d: ", ctx->path,
		    line);
	else
		n = snprintf(e->msg, sizeof(e->msg), "%s: ", ctx->path);
	if (n < 0 || (size_t)n >= sizeof(e->msg))
		return;
	va_start(ap, fmt);
	vsnprintf(e->msg + n, sizeof(e->msg) - (size_t)n, fmt, ap);
	va_end(ap);
	conf_error_clean(e->msg);
}

/* Report a bad value: [SEC] KEY: "SHOWN" WHY (allowed: ALLOWED). */
void
conf_bad(struct conf_ctx *ctx, const struct conf_ent *e, const char *shown,
    const char *why, const char *allowed)
{
	char	q[96];

	conf_error(ctx, e->line, "[%s] %s: \"%s\" %s (allowed: %s)",
	    ctx->sec[e->sec].name, e->key, conf_quote(shown, q, sizeof(q)),
	    why, allowed);
}

/*
 * Report a required key that is not there, at its section's header; not
 * when it may hide on a line that could not be read.
 */
void
conf_missing(struct conf_ctx *ctx, size_t sec, const char *key,
    const char *allowed)
{
	if (conf_present(ctx, sec, key))
		return;
	conf_error(ctx, ctx->sec[sec].line, "[%s] %s: missing, the key is "
	    "required (allowed: %s)", ctx->sec[sec].name, key, allowed);
}

/* Report an allocation failure. */
void
conf_nomem(struct conf_ctx *ctx, int line)
{
	conf_error(ctx, line, "out of memory");
}

/*
 * Copy s into buf for a message: '"', '\' and control bytes escaped, cut
 * with "..." when long. Returns buf.
 */
const char *
conf_quote(const char *s, char *buf, size_t len)
{
	size_t		 o = 0;
	unsigned char	 c;

	for (; *s != '\0'; s++) {
		if (o + 8 >= len) {
			memcpy(buf + o, "...", 4);
			return buf;
		}
		c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			buf[o++] = '\\';
			buf[o++] = (char)c;
		} else if (c < 0x20 || c >= 0x7f)
			o += (size_t)snprintf(buf + o, len - o, "\\x%02x", c);
		else
			buf[o++] = (char)c;
	}
	buf[o] = '\0';
	return buf;
}

/*
 * Check the NAME of a [KIND.NAME] section (what names it: "forward",
 * "tunnel"): 1 to CONF_FORWARD_NAME_MAX lowercase letters, digits, '_' or
 * '-'. 0 when good, else an error is reported and -1.
 */
int
conf_sec_name(struct conf_ctx *ctx, size_t sec, const char *what)
{
	const char	*full = ctx->sec[sec].name, *dot = strchr(full, '.');
	const char	*name = dot != NULL ? dot + 1 : full, *p;
	char		 q[96];

	for (p = name; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		    *p == '_' || *p == '-'))
			break;
	if (*name != '\0' && *p == '\0' && p - name <= CONF_FORWARD_NAME_MAX)
		return 0;
	conf_error(ctx, ctx->sec[sec].line, "[%s]: \"%s\" is not a %s name "
	    "(allowed: [%.*s.NAME], NAME 1 to %d letters, digits, '_' or '-')",
	    full, conf_quote(name, q, sizeof(q)), what,
	    (int)(dot != NULL ? dot - full : 0), full, CONF_FORWARD_NAME_MAX);
	return -1;
}

/* The entry of key in section sec with a readable value, or NULL. */
const struct conf_ent *
conf_find(struct conf_ctx *ctx, size_t sec, const char *key)
{
	size_t	i;

	for (i = 0; i < ctx->nent; i++)
		if (ctx->ent[i].sec == sec && !ctx->ent[i].dup &&
		    !ctx->ent[i].broken && strcmp(ctx->ent[i].key, key) == 0)
			return &ctx->ent[i];
	return NULL;
}

/*
 * True when key is in section sec, readable or not, or may be: a line
 * whose key could not be read might have set it.
 */
bool
conf_present(struct conf_ctx *ctx, size_t sec, const char *key)
{
	size_t	i;

	if (ctx->unreadable > 0)
		return true;
	for (i = 0; i < ctx->nent; i++)
		if (ctx->ent[i].sec == sec && strcmp(ctx->ent[i].key, key) == 0)
			return true;
	return false;
}

/* The entry on line, or NULL. */
const struct conf_ent *
conf_at_line(struct conf_ctx *ctx, int line)
{
	size_t	i;

	for (i = 0; i < ctx->nent; i++)
		if (ctx->ent[i].line == line)
			return &ctx->ent[i];
	return NULL;
}

/* Join words with ", " into buf (cut when too long). Returns buf. */
const char *
conf_join(const char *const *words, char *buf, size_t len)
{
	size_t	i, o = 0, n;

	buf[0] = '\0';
	for (i = 0; words[i] != NULL; i++) {
		n = strlen(words[i]);
		if (o + n + 2 >= len)
			break;
		if (i > 0) {
			memcpy(buf + o, ", ", 2);
			o += 2;
		}
		memcpy(buf + o, words[i], n + 1);
		o += n;
	}
	return buf;
}

/* Edit distance of a and b (short strings), capped at 9. */
static size_t
conf_distance(const char *a, const char *b)
{
	size_t	d[33], la = strlen(a), lb = strlen(b), i, j, diag, up;

	if (la > 32 || lb > 32)
		return 9;
	for (j = 0; j <= lb; j++)
		d[j] = j;
	for (i = 1; i <= la; i++) {
		diag = d[0];
		d[0] = i;
		for (j = 1; j <= lb; j++) {
			up = d[j];
			d[j] = diag + (a[i - 1] != b[j - 1]);
			if (up + 1 < d[j])
				d[j] = up + 1;
			if (d[j - 1] + 1 < d[j])
				d[j] = d[j - 1] + 1;
			diag = up;
		}
	}
	return d[lb] < 9 ? d[lb] : 9;
}

/* Report one unknown key, with the closest allowed key as a hint. */
static void
conf_unknown_key(struct conf_ctx *ctx, const struct conf_ent *e,
    const char *const *keys)
{
	char		 allowed[ERRLEN], hint[64];
	const char	*best = NULL;
	size_t		 k, d, bestd = 3;

	hint[0] = '\0';
	conf_join(keys, allowed, sizeof(allowed));
	for (k = 0; keys[k] != NULL; k++) {
		if ((d = conf_distance(e->key, keys[k])) < bestd) {
			bestd = d;
			best = keys[k];
		}
	}
	if (best != NULL)
		snprintf(hint, sizeof(hint), ", did you mean %s?", best);
	conf_error(ctx, e->line, "[%s] %s: unknown key%s (allowed: %s)",
	    ctx->sec[e->sec].name, e->key, hint, allowed);
}

/* Report every key of section sec that is not in keys (NULL-terminated). */
void
conf_check_keys(struct conf_ctx *ctx, size_t sec, const char *const *keys)
{
	size_t	i, k;

	for (i = 0; i < ctx->nent; i++) {
		if (ctx->ent[i].sec != sec || ctx->ent[i].dup ||
		    ctx->ent[i].broken)
			continue;
		for (k = 0; keys[k] != NULL; k++)
			if (strcmp(ctx->ent[i].key, keys[k]) == 0)
				break;
		if (keys[k] == NULL)
			conf_unknown_key(ctx, &ctx->ent[i], keys);
	}
}

/* Make room for one more element after n of size; NULL reported. */
void *
conf_grow(struct conf_ctx *ctx, void *p, size_t n, size_t size, int line)
{
	void	*np;

	if (n + 1 > SIZE_MAX / size ||
	    (np = realloc(p, (n + 1) * size)) == NULL) {
		conf_nomem(ctx, line);
		return NULL;
	}
	return np;
}

/* strdup() that reports failure. */
char *
conf_strdup(struct conf_ctx *ctx, const char *s, int line)
{
	char	*d;

	if ((d = strdup(s)) == NULL)
		conf_nomem(ctx, line);
	return d;
}

/*
 * A default file of the instance: /run/tunrelay/NAME.SUFFIX, NAME the config
 * file's base name without .ini or .conf ("tunrelay" when none is left).
 */
int
conf_default_path(struct conf_ctx *ctx, const char *suffix, char *path,
    size_t len)
{
	char		 name[256];
	const char	*base;
	size_t		 n;

	base = (base = strrchr(ctx->path, '/')) != NULL ? base + 1 : ctx->path;
	n = strlen(base);
	if (n > 4 && strcmp(base + n - 4, ".ini") == 0)
		n -= 4;
	else if (n > 5 && strcmp(base + n - 5, ".conf") == 0)
		n -= 5;
	if (n == 0 || n >= sizeof(name))
		n = 0;
	memcpy(name, base, n);
	name[n] = '\0';
	n = (size_t)snprintf(path, len, "%s/%s.%s", CONF_SOCKET_DIR,
	    n > 0 ? name : "tunrelay", suffix);
	return n < len ? 0 : -1;
}

/* The default socket: /run/tunrelay/NAME.sock. */
static char *
conf_default_socket(struct conf_ctx *ctx)
{
	char	path[512];

	if (conf_default_path(ctx, "sock", path, sizeof(path)) == -1 ||
	    conf_parse_path(path) != NULL) {
		conf_error(ctx, 0, "the default control socket \"%s\" is not "
		    "usable as a socket path (allowed: set control_socket, an "
		    "absolute path of up to %d bytes)", path, CONF_SOCKET_MAX);
		return NULL;
	}
	return conf_strdup(ctx, path, 0);
}

/* Read control_socket and control_group of the role's section sec. */
void
conf_common(struct conf_ctx *ctx, size_t sec, struct conf *c)
{
	const struct conf_ent	*e;

	if ((e = conf_find(ctx, sec, "control_socket")) != NULL)
		conf_key_path(ctx, e, &c->control_socket);
	else
		c->control_socket = conf_default_socket(ctx);
	if ((e = conf_find(ctx, sec, "control_group")) != NULL)
		conf_key_group(ctx, e, &c->control_group);
}

/* Swallow iniparser's own messages: only core/log.c writes to stderr. */
static int
conf_ini_quiet(const char *fmt, ...)
{
	(void)fmt;
	return 0;
}

/* Load the file with iniparser and check it agrees with the scan. */
static void
conf_ini_check(struct conf_ctx *ctx)
{
	dictionary	*ini;
	const char	*v;
	char		 k[2 * CONF_ITEM_MAX + 2];
	size_t		 i;

	iniparser_set_error_callback(conf_ini_quiet);
	ini = iniparser_load(ctx->path);
	iniparser_set_error_callback(NULL);
	if (ini == NULL) {
		conf_error(ctx, 0, "iniparser cannot read the file (allowed: "
		    "a readable INI file)");
		return;
	}
	for (i = 0; i < ctx->nent; i++) {
		snprintf(k, sizeof(k), "%s:%s", ctx->sec[ctx->ent[i].sec].name,
		    ctx->ent[i].key);
		v = iniparser_getstring(ini, k, NULL);
		if (v == NULL || strcmp(v, ctx->ent[i].value) != 0) {
			conf_error(ctx, ctx->ent[i].line, "[%s] %s: iniparser "
			    "reads a different value; was the file changed "
			    "while being read? (allowed: a file not being "
			    "edited)", ctx->sec[ctx->ent[i].sec].name,
			    ctx->ent[i].key);
			break;
		}
	}
	iniparser_freedict(ini);
}

/* The index of the first (non-repeated) section of kind, or -1. */
static long
conf_section_of(struct conf_ctx *ctx, int kind)
{
	size_t	i;

	for (i = 0; i < ctx->nsec; i++)
		if (ctx->sec[i].kind == kind && !ctx->sec[i].dup)
			return (long)i;
	return -1;
}

/* Report unknown sections and sections that do not fit the role. */
static void
conf_check_sections(struct conf_ctx *ctx, long front, long back)
{
	size_t			 i;
	const struct conf_sec	*s;

	for (i = 0; i < ctx->nsec; i++) {
		s = &ctx->sec[i];
		if (s->kind == CONF_SEC_UNKNOWN && !s->broken)
			conf_error(ctx, s->line, "[%s]: unknown section "
			    "(allowed: [front], [back], [back.NAME], "
			    "[forward.NAME], [hairpin])", s->name);
		else if ((s->kind == CONF_SEC_FORWARD ||
		    s->kind == CONF_SEC_HAIRPIN) && front == -1 && back != -1)
			conf_error(ctx, s->line, "[%s]: only allowed with "
			    "[front], this file has [back] on line %d "
			    "(allowed: [back] alone)", s->name,
			    ctx->sec[back].line);
		else if (s->kind == CONF_SEC_BACK_TUNNEL && back == -1 &&
		    front != -1)
			conf_error(ctx, s->line, "[%s]: only allowed with "
			    "[back], this file has [front] on line %d "
			    "(allowed: [front], [forward.NAME], [hairpin])",
			    s->name, ctx->sec[front].line);
	}
}

/* Decide the role from the sections: exactly one of [front] and [back]. */
static enum conf_role
conf_role(struct conf_ctx *ctx, long *sec)
{
	long	front, back;

	front = conf_section_of(ctx, CONF_SEC_FRONT);
	back = conf_section_of(ctx, CONF_SEC_BACK);
	conf_check_sections(ctx, front, back);
	if (front != -1 && back != -1) {
		conf_error(ctx, ctx->sec[front > back ? front : back].line,
		    "[%s]: not allowed together with [%s] on line %d (allowed: "
		    "one role per file, [front] or [back])",
		    front > back ? "front" : "back",
		    front > back ? "back" : "front",
		    ctx->sec[front > back ? back : front].line);
		return CONF_ROLE_NONE;
	}
	if (front == -1 && back == -1) {
		if (ctx->unreadable == 0)
			conf_error(ctx, 0, "no [front] or [back] section "
			    "(allowed: one of them, [front] on the relay, "
			    "[back] on the backend)");
		return CONF_ROLE_NONE;
	}
	*sec = front != -1 ? front : back;
	return front != -1 ? CONF_ROLE_FRONT : CONF_ROLE_BACK;
}

/* The sort key of a message: its line, whole-file messages (0) last. */
static unsigned int
conf_errors_key(const struct conf_error *e)
{
	return e->line > 0 ? (unsigned int)e->line : UINT_MAX;
}

/* Order messages by line (insertion sort: stable, and n is small). */
static void
conf_errors_sort(struct conf_errors *errs)
{
	struct conf_error	 t;
	size_t			 i, j;

	for (i = 1; i < errs->n; i++) {
		t = errs->e[i];
		for (j = i; j > 0 && conf_errors_key(&errs->e[j - 1]) >
		    conf_errors_key(&t); j--)
			errs->e[j] = errs->e[j - 1];
		errs->e[j] = t;
	}
}

/* Read path into c, collecting every error in ctx. */
static void
conf_read(struct conf_ctx *ctx, struct conf *c)
{
	long	sec = -1;

	if (conf_scan_file(ctx) == -1)
		return;
	if (ctx->nerr == 0)
		conf_ini_check(ctx);
	c->role = conf_role(ctx, &sec);
	if (c->role == CONF_ROLE_FRONT)
		conf_front_load(ctx, (size_t)sec, c);
	else if (c->role == CONF_ROLE_BACK)
		conf_back_load(ctx, (size_t)sec, c);
	if (c->role != CONF_ROLE_NONE)
		conf_common(ctx, (size_t)sec, c);
	if ((c->path = strdup(ctx->path)) == NULL)
		conf_nomem(ctx, 0);
}

/* Load and check path; see conf.h. */
int
conf_load(const char *path, struct conf *out, struct conf_errors *errs)
{
	struct conf_ctx	ctx;
	struct conf	c;

	memset(errs, 0, sizeof(*errs));
	memset(&ctx, 0, sizeof(ctx));
	memset(&c, 0, sizeof(c));
	ctx.path = path;
	ctx.errs = errs;
	conf_read(&ctx, &c);
	conf_scan_free(&ctx);
	conf_errors_sort(errs);
	if (ctx.nerr > 0) {
		conf_free(&c);
		return -1;
	}
	*out = c;
	return 0;
}

/* Free what conf_load() allocated. */
void
conf_free(struct conf *c)
{
	if (c == NULL)
		return;
	conf_front_free(&c->front);
	conf_back_free(&c->back);
	free(c->path);
	free(c->control_socket);
	free(c->control_group);
	memset(c, 0, sizeof(*c));
}

/* AF_INET or AF_INET6 for an address family written 4 or 6. */
int
conf_af(uint8_t family)
{
	return family == 4 ? AF_INET : AF_INET6;
}

/* Print an address of family 4 or 6 ("?" when it cannot be printed). */
const char *
conf_ntop(uint8_t family, const struct nat_addr *a, char *buf, size_t len)
{
	if (inet_ntop(conf_af(family), a->b, buf, (socklen_t)len) == NULL)
		snprintf(buf, len, "?");
	return buf;
}

/* Print a configured address. */
const char *
conf_addr_str(const struct conf_addr *a, char *buf, size_t len)
{
	return conf_ntop(a->family, &a->addr, buf, len);
}

/* Print an exclude item as written: "tcp/22", "udp/8000-8100". */
const char *
conf_exclude_str(const struct conf_exclude *x, char *buf, size_t len)
{
	const char	*p = x->protos == NAT_P_TCP ? "tcp" : "udp";

	if (x->port_lo == x->port_hi)
		snprintf(buf, len, "%s/%u", p, x->port_lo);
	else
		snprintf(buf, len, "%s/%u-%u", p, x->port_lo, x->port_hi);
	return buf;
}
