/*
 * conf_scan.c - our own line scan of the INI file.
 *
 * iniparser merges repeated keys and sections silently, gives no line
 * numbers and accepts some broken lines (an unclosed quote, a comment ending
 * in '\' that swallows the next line). The scan reads every line the way
 * iniparser 4.1 does (iniparser_line()), keeps each section and key with its
 * line, and reports what iniparser would let through. conf.c then checks
 * that iniparser_getstring() returns the very value the scan saw for every
 * key, so the two readers cannot disagree.
 */
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/conf_int.h"

/* ASCII whitespace, as isspace() in the C locale. */
static int
conf_scan_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' ||
	    c == '\f' || c == '\r';
}

/* Strip blanks at both ends of s in place; returns the new start. */
static char *
conf_scan_strip(char *s)
{
	size_t	n;

	while (conf_scan_space(*s))
		s++;
	n = strlen(s);
	while (n > 0 && conf_scan_space(s[n - 1]))
		s[--n] = '\0';
	return s;
}

/* Lowercase s in place (ASCII), as iniparser does with names. */
static void
conf_scan_lower(char *s)
{
	for (; *s != '\0'; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

/* The kind of a section from its (lowercase) name. */
static int
conf_scan_kind(const char *name)
{
	if (strcmp(name, "front") == 0)
		return CONF_SEC_FRONT;
	if (strcmp(name, "back") == 0)
		return CONF_SEC_BACK;
	if (strcmp(name, "hairpin") == 0)
		return CONF_SEC_HAIRPIN;
	if (strncmp(name, "forward.", 8) == 0)
		return CONF_SEC_FORWARD;
	if (strncmp(name, "back.", 5) == 0)
		return CONF_SEC_BACK_TUNNEL;
	return CONF_SEC_UNKNOWN;
}

/*
 * Record a section header; a repeat is an error and is marked dup. A NULL
 * name records an unreadable header, so that its keys are not taken for
 * keys of the section before it.
 */
static void
conf_scan_section(struct conf_ctx *ctx, int line, const char *name)
{
	struct conf_sec	*s;
	size_t		 i;

	if (ctx->nsec >= CONF_SECTIONS_MAX) {
		conf_error(ctx, line, "[%s]: too many sections (allowed: %d)",
		    name, CONF_SECTIONS_MAX);
		return;
	}
	if ((s = conf_grow(ctx, ctx->sec, ctx->nsec, sizeof(*s), line)) == NULL)
		return;
	ctx->sec = s;
	s = &ctx->sec[ctx->nsec];
	memset(s, 0, sizeof(*s));
	s->broken = name == NULL;
	if ((s->name = conf_strdup(ctx, name != NULL ? name : "", line)) ==
	    NULL)
		return;
	s->line = line;
	s->kind = s->broken ? CONF_SEC_UNKNOWN : conf_scan_kind(name);
	for (i = 0; i < ctx->nsec && !s->broken; i++)
		if (!ctx->sec[i].broken &&
		    strcmp(ctx->sec[i].name, name) == 0) {
			s->dup = true;
			conf_error(ctx, line, "[%s]: duplicate section (first "
			    "on line %d; allowed: each section once)", name,
			    ctx->sec[i].line);
			break;
		}
	ctx->nsec++;
}

/*
 * Record a key of the current section; a repeat is an error and is marked
 * dup. A NULL value records a key whose value could not be read.
 */
static void
conf_scan_entry(struct conf_ctx *ctx, int line, const char *key,
    const char *value)
{
	struct conf_ent	*e;
	size_t		 i, sec = ctx->nsec - 1;

	if (ctx->nent >= CONF_ENTRIES_MAX) {
		conf_error(ctx, line, "[%s] %s: too many keys in the file "
		    "(allowed: %d)", ctx->sec[sec].name, key, CONF_ENTRIES_MAX);
		return;
	}
	if ((e = conf_grow(ctx, ctx->ent, ctx->nent, sizeof(*e), line)) == NULL)
		return;
	ctx->ent = e;
	e = &ctx->ent[ctx->nent];
	memset(e, 0, sizeof(*e));
	e->sec = sec;
	e->line = line;
	e->broken = value == NULL;
	e->key = conf_strdup(ctx, key, line);
	e->value = conf_strdup(ctx, value != NULL ? value : "", line);
	if (e->key == NULL || e->value == NULL) {
		free(e->key);
		free(e->value);
		return;
	}
	for (i = 0; i < ctx->nent && !ctx->sec[sec].broken; i++)
		if (ctx->ent[i].sec == sec &&
		    strcmp(ctx->ent[i].key, key) == 0) {
			e->dup = true;
			conf_error(ctx, line, "[%s] %s: duplicate key (first "
			    "on line %d; allowed: each key once per section)",
			    ctx->sec[sec].name, key, ctx->ent[i].line);
			break;
		}
	ctx->nent++;
}

/* Note a header that could not be read: its keys belong to no known section. */
static void
conf_scan_unreadable(struct conf_ctx *ctx, int line)
{
	ctx->unreadable++;
	conf_scan_section(ctx, line, NULL);
}

/*
 * Check that s is "[name]" alone and cut it after the name. Returns NULL,
 * or why not; *named tells whether the name could still be read.
 */
static const char *
conf_scan_header_why(char *s, bool *named)
{
	char	*end, *rest;

	*named = false;
	if ((end = strchr(s, ']')) == NULL)
		return "section header without ']' (allowed: \"[section]\" "
		    "alone on its line)";
	rest = conf_scan_strip(end + 1);
	*end = '\0';
	/* iniparser 4.1 rejects the whole file for this one. */
	if (*rest == ';' || *rest == '#') {
		*named = true;
		return "comment after a section header, which iniparser "
		    "cannot read (allowed: the comment on a line of its own)";
	}
	if (*rest != '\0')
		return "text after the section header (allowed: "
		    "\"[section]\" alone on its line)";
	return NULL;
}

/* Scan "[name]"; s is the stripped line. */
static void
conf_scan_header(struct conf_ctx *ctx, int line, char *s)
{
	char		 q[64], *name;
	const char	*why;
	bool		 named;

	conf_quote(s, q, sizeof(q));
	if ((why = conf_scan_header_why(s, &named)) != NULL) {
		conf_error(ctx, line, "\"%s\": %s", q, why);
		if (!named) {
			conf_scan_unreadable(ctx, line);
			return;
		}
	}
	name = conf_scan_strip(s + 1);
	conf_scan_lower(name);
	if (*name == '\0') {
		conf_error(ctx, line, "[]: empty section name (allowed: "
		    "[front], [back], [back.NAME], [forward.NAME], "
		    "[hairpin])");
		conf_scan_unreadable(ctx, line);
		return;
	}
	conf_scan_section(ctx, line, name);
}

/*
 * Cut the value the way iniparser does: a quoted value is what lies between
 * the quotes; an unquoted one ends at ';' or '#' and is stripped. Returns
 * the value, or NULL with *why set for a line iniparser would misread.
 */
static char *
conf_scan_value(char *v, const char **why)
{
	char	*close, *rest;

	v = conf_scan_strip(v);
	if (*v == '"' || *v == '\'') {
		if ((close = strchr(v + 1, *v)) == NULL) {
			*why = "an unterminated quote";
			return NULL;
		}
		rest = conf_scan_strip(close + 1);
		if (*rest != '\0' && *rest != ';' && *rest != '#') {
			*why = "text after the closing quote";
			return NULL;
		}
		*close = '\0';
		return v + 1;
	}
	v[strcspn(v, ";#")] = '\0';
	return conf_scan_strip(v);
}

/* Scan "key = value"; s is the stripped line. */
static void
conf_scan_keyval(struct conf_ctx *ctx, int line, char *s)
{
	char		 q[64], *eq, *key, *value;
	const char	*why = NULL;

	if ((eq = strchr(s, '=')) == NULL || eq == s) {
		conf_error(ctx, line, "\"%s\": %s (allowed: \"key = value\", "
		    "\"[section]\", or a comment starting with ';' or '#')",
		    conf_quote(s, q, sizeof(q)),
		    eq == NULL ? "not a key = value line" :
		    "no key before '='");
		ctx->unreadable++;
		return;
	}
	*eq = '\0';
	key = conf_scan_strip(s);
	conf_scan_lower(key);
	if (ctx->nsec == 0) {
		conf_error(ctx, line, "%s: key outside any section (allowed: "
		    "keys after a [section] header)", key);
		return;
	}
	conf_quote(conf_scan_strip(eq + 1), q, sizeof(q));
	if ((value = conf_scan_value(eq + 1, &why)) == NULL) {
		conf_error(ctx, line, "[%s] %s: \"%s\" has %s (allowed: a "
		    "value in matching quotes, then nothing or a comment)",
		    ctx->sec[ctx->nsec - 1].name, key, q, why);
		conf_scan_entry(ctx, line, key, NULL);
		return;
	}
	conf_scan_entry(ctx, line, key, value);
}

/* Scan one line (without its newline). */
static void
conf_scan_line(struct conf_ctx *ctx, int line, char *raw, size_t len)
{
	char	*s;

	if (len > CONF_LINE_MAX) {
		conf_error(ctx, line, "line is %zu characters long (allowed: "
		    "up to %d)", len, CONF_LINE_MAX);
		ctx->unreadable++;
		return;
	}
	s = conf_scan_strip(raw);
	if (*s == '\0')
		return;
	/* iniparser joins a line ending in '\' to the next, even a comment. */
	if (s[strlen(s) - 1] == '\\') {
		conf_error(ctx, line, "line ends with '\\', which would join "
		    "the next line to it (allowed: no '\\' at the end of a "
		    "line)");
		if (*s != ';' && *s != '#')
			ctx->unreadable++;
		return;
	}
	if (*s == ';' || *s == '#')
		return;
	if (*s == '[')
		conf_scan_header(ctx, line, s);
	else
		conf_scan_keyval(ctx, line, s);
}

/* Scan a whole file's text, line by line. */
void
conf_scan_text(struct conf_ctx *ctx, const char *text, size_t len)
{
	char		 buf[CONF_LINE_MAX + 2];
	const char	*p = text, *end = text + len, *nl;
	size_t		 n;
	int		 line = 0;

	/* Windows editors like to add one; iniparser takes it for text. */
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0) {
		conf_error(ctx, 1, "file starts with a UTF-8 byte order mark "
		    "(allowed: UTF-8 without BOM, or ASCII)");
		p += 3;
	}
	while (p < end) {
		line++;
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		n = (size_t)(nl - p);
		if (memchr(p, '\0', n) != NULL)
		{
			conf_error(ctx, line, "line has a NUL byte (allowed: "
			    "text)");
			ctx->unreadable++;
		} else {
			memcpy(buf, p, n > CONF_LINE_MAX ? 0 : n);
			buf[n > CONF_LINE_MAX ? 0 : n] = '\0';
			conf_scan_line(ctx, line, buf, n);
		}
		p = nl + 1;
	}
}

/* The kind of a file that is not a regular file, for a message. */
static const char *
conf_scan_ftype(mode_t m)
{
	if (S_ISFIFO(m))
		return "a FIFO";
	if (S_ISDIR(m))
		return "a directory";
	if (S_ISCHR(m) || S_ISBLK(m))
		return "a device";
	if (S_ISSOCK(m))
		return "a socket";
	return "not a regular file";
}

/*
 * Open ctx->path for reading: a regular file only. The file is read twice
 * (the scan, then iniparser), so a pipe or standard input ("-") cannot
 * serve, and opening a FIFO without a writer would block: it is opened
 * non-blocking and refused.
 */
static FILE *
conf_scan_open(struct conf_ctx *ctx)
{
	struct stat	 st;
	FILE		*f;
	int		 fd;

	memset(&st, 0, sizeof(st));
	if (strcmp(ctx->path, "-") == 0) {
		conf_error(ctx, 0, "standard input is not read (allowed: the "
		    "path of a regular file; save the configuration to a file "
		    "first, e.g. /etc/tunrelay/NAME.ini)");
		return NULL;
	}
	if ((fd = open(ctx->path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) == -1) {
		conf_error(ctx, 0, "cannot open: %s", strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		conf_error(ctx, 0, "is %s (allowed: a regular file)",
		    conf_scan_ftype(st.st_mode));
		close(fd);
		return NULL;
	}
	if ((f = fdopen(fd, "r")) == NULL) {
		conf_error(ctx, 0, "cannot open: %s", strerror(errno));
		close(fd);
	}
	return f;
}

/* Read the whole file (at most CONF_FILE_MAX bytes) into *text. */
static int
conf_scan_read(struct conf_ctx *ctx, char **text, size_t *len)
{
	FILE	*f;
	char	*buf;
	size_t	 n;
	int	 saved;

	if ((f = conf_scan_open(ctx)) == NULL)
		return -1;
	if ((buf = malloc(CONF_FILE_MAX + 1)) == NULL) {
		fclose(f);
		conf_nomem(ctx, 0);
		return -1;
	}
	n = fread(buf, 1, CONF_FILE_MAX + 1, f);
	saved = errno;
	if (ferror(f) || n > CONF_FILE_MAX) {
		if (ferror(f))
			conf_error(ctx, 0, "cannot read: %s", strerror(saved));
		else
			conf_error(ctx, 0, "file is larger than %d bytes "
			    "(allowed: up to %d)", CONF_FILE_MAX,
			    CONF_FILE_MAX);
		free(buf);
		fclose(f);
		return -1;
	}
	fclose(f);
	*text = buf;
	*len = n;
	return 0;
}

/* Read and scan ctx->path; -1 when it cannot be read. */
int
conf_scan_file(struct conf_ctx *ctx)
{
	char	*text;
	size_t	 len;

	if (conf_scan_read(ctx, &text, &len) == -1)
		return -1;
	conf_scan_text(ctx, text, len);
	free(text);
	return 0;
}

/* Free the sections and entries. */
void
conf_scan_free(struct conf_ctx *ctx)
{
	size_t	i;

	for (i = 0; i < ctx->nsec; i++)
		free(ctx->sec[i].name);
	for (i = 0; i < ctx->nent; i++) {
		free(ctx->ent[i].key);
		free(ctx->ent[i].value);
	}
	free(ctx->sec);
	free(ctx->ent);
	ctx->sec = NULL;
	ctx->ent = NULL;
	ctx->nsec = ctx->nent = 0;
}
