/*
 * log.c - logging to stderr, journal-aware. See log.h.
 */
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L	/* localtime_r, clock_gettime */
#endif

#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"

#define LOG_LINE_MAX	2048	/* longer messages are cut */

static int	log_level = LOG_INFO;
static int	log_to_journal;

/* Parse "DEV:INO" as systemd puts it in JOURNAL_STREAM. */
static int
log_parse_stream(const char *s, uintmax_t *dev, uintmax_t *ino)
{
	char	*end;

	errno = 0;
	*dev = strtoumax(s, &end, 10);
	if (errno != 0 || end == s || *end != ':')
		return (-1);
	s = end + 1;
	*ino = strtoumax(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0')
		return (-1);
	return (0);
}

/* True when fd 2 is the stream systemd connected to the journal. */
static int
log_detect_journal(void)
{
	const char	*env;
	struct stat	 st;
	uintmax_t	 dev, ino;

	if ((env = getenv("JOURNAL_STREAM")) == NULL)
		return (0);
	if (log_parse_stream(env, &dev, &ino) == -1)
		return (0);
	if (fstat(STDERR_FILENO, &st) == -1)
		return (0);
	return ((uintmax_t)st.st_dev == dev && (uintmax_t)st.st_ino == ino);
}

/* Set the level and detect the journal. */
void
log_init(int level)
{
	int	saved = errno;

	log_setverbose(level);
	log_to_journal = log_detect_journal();
	errno = saved;
}

/* Show messages up to priority level (LOG_WARNING..LOG_DEBUG). */
void
log_setverbose(int level)
{
	if (level < LOG_WARNING)
		level = LOG_WARNING;
	if (level > LOG_DEBUG)
		level = LOG_DEBUG;
	log_level = level;
}

/* The current level. */
int
log_getverbose(void)
{
	return (log_level);
}

/* True when lines carry the journal priority prefix. */
int
log_journal(void)
{
	return (log_to_journal);
}

/* The word shown before a message when not writing to the journal. */
static const char *
log_word(int pri)
{
	switch (pri) {
	case LOG_EMERG:
	case LOG_ALERT:
	case LOG_CRIT:
		return ("fatal: ");
	case LOG_ERR:
		return ("error: ");
	case LOG_WARNING:
		return ("warning: ");
	case LOG_DEBUG:
		return ("debug: ");
	default:
		return ("");
	}
}

/* Write the line prefix (journal priority or timestamp) into buf. */
static size_t
log_prefix(char *buf, size_t len, int pri)
{
	struct timespec	 ts;
	struct tm	 tm;
	char		 date[32], zone[8];
	int		 n;

	if (log_to_journal)
		n = snprintf(buf, len, "<%d>", pri);
	else {
		clock_gettime(CLOCK_REALTIME, &ts);
		localtime_r(&ts.tv_sec, &tm);
		strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
		strftime(zone, sizeof(zone), "%z", &tm);
		n = snprintf(buf, len, "%s.%03ld%s %s", date,
		    ts.tv_nsec / 1000000, zone, log_word(pri));
	}
	if (n < 0)
		return (0);
	return ((size_t)n < len ? (size_t)n : len - 1);
}

static _Atomic unsigned long log_lost_lines;

/* One write of a whole line; -1 when it did not all go out. */
static int
log_write(const char *buf, size_t len)
{
	ssize_t n;

	n = send(STDERR_FILENO, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n == -1 && errno == ENOTSOCK)
		n = write(STDERR_FILENO, buf, len);
	return n == (ssize_t)len ? 0 : -1;
}

/* Lines that could not be written to stderr so far. */
unsigned long
log_lost(void)
{
	return atomic_load(&log_lost_lines);
}

/* Replace control characters so that one event stays one line. */
static void
log_flatten(char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = ' ';
}

/*
 * Write one line to stderr; whole lines only, one write each, so lines from
 * threads never interleave. A socket (the journal's stream) is written
 * without blocking: a stalled reader must not stall the relay. A line that
 * cannot be written is counted, and the count is told once writing works
 * again.
 */
static void
log_out(const char *buf, size_t len)
{
	static _Atomic unsigned long told;
	unsigned long lost = atomic_load(&log_lost_lines);
	char note[96];
	int n;

	if (lost > told) {
		n = snprintf(note, sizeof(note), "%s%lu log lines were lost: "
		    "stderr was not writable\n", log_to_journal ? "<4>" :
		    "warning: ", lost - told);
		if (n > 0 && log_write(note, (size_t)n) == 0)
			told = lost;
	}
	if (log_write(buf, len) == -1)
		atomic_fetch_add(&log_lost_lines, 1);
}

/* Log a formatted message at priority pri. */
void
log_vmsg(int pri, const char *fmt, va_list ap)
{
	char	buf[LOG_LINE_MAX];
	size_t	off;
	int	saved = errno;

	if (pri > log_level) {
		errno = saved;
		return;
	}
	off = log_prefix(buf, sizeof(buf) - 1, pri);
	vsnprintf(buf + off, sizeof(buf) - 1 - off, fmt, ap);
	log_flatten(buf + off);
	off = strlen(buf);
	buf[off++] = '\n';
	log_out(buf, off);
	errno = saved;
}

/* Log a formatted message at priority pri. */
void
log_msg(int pri, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vmsg(pri, fmt, ap);
	va_end(ap);
}

/* Log fmt at pri, followed by strerror(errnum) when errnum is set. */
static void
log_verr(int pri, int errnum, const char *fmt, va_list ap)
{
	char	msg[LOG_LINE_MAX];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (errnum == 0)
		log_msg(pri, "%s", msg);
	else
		log_msg(pri, "%s: %s", msg, strerror(errnum));
}

/* Warning with strerror(errno) appended. */
void
log_warn(const char *fmt, ...)
{
	va_list	ap;
	int	saved = errno;

	va_start(ap, fmt);
	log_verr(LOG_WARNING, saved, fmt, ap);
	va_end(ap);
	errno = saved;
}

/* Warning. */
void
log_warnx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vmsg(LOG_WARNING, fmt, ap);
	va_end(ap);
}

/* Informational message. */
void
log_info(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vmsg(LOG_INFO, fmt, ap);
	va_end(ap);
}

/* Debug message, shown only at LOG_DEBUG. */
void
log_debug(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vmsg(LOG_DEBUG, fmt, ap);
	va_end(ap);
}

/* Log with strerror(errno) and exit 1. */
void
fatal(const char *fmt, ...)
{
	va_list	ap;
	int	saved = errno;

	va_start(ap, fmt);
	log_verr(LOG_CRIT, saved, fmt, ap);
	va_end(ap);
	exit(1);
}

/* Log and exit 1. */
void
fatalx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vmsg(LOG_CRIT, fmt, ap);
	va_end(ap);
	exit(1);
}

/* A note callback for lower layers (arg unused): logs msg at info. */
void
log_note(void *arg, const char *msg)
{
	(void)arg;
	log_info("%s", msg);
}
