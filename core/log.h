/*
 * log.h - the daemon's one logging module (OpenBSD relayd style).
 *
 * One line per event on stderr, written with a single write(2). When stderr
 * is the systemd journal (JOURNAL_STREAM names the device:inode of fd 2) each
 * line starts with the sd-daemon priority prefix ("<4>") and carries no
 * timestamp, the journal adds its own; otherwise it starts with a local
 * ISO 8601 timestamp and a level word.
 *
 *	log_warn	message + ": " + strerror(errno)	(warning)
 *	log_warnx	message				(warning)
 *	log_info	message				(info)
 *	log_debug	message, only at LOG_DEBUG		(debug)
 *	fatal		message + strerror(errno), exit(1)	(crit)
 *	fatalx		message, exit(1)			(crit)
 *
 * Every function keeps errno as it found it.
 */
#ifndef TUNRELAY_LOG_H
#define TUNRELAY_LOG_H

#include <stdarg.h>
#include <syslog.h>		/* LOG_WARNING, LOG_INFO, LOG_DEBUG */

/*
 * Set the level (LOG_WARNING quiet, LOG_INFO default, LOG_DEBUG verbose)
 * and detect the journal.
 */
void	log_init(int level);
void	log_setverbose(int level);
int	log_getverbose(void);
/* True when lines go to the journal (priority prefix, no timestamp). */
int	log_journal(void);
/* Lines that could not be written to stderr (full disk, stalled journal). */
unsigned long	log_lost(void);

void	log_msg(int pri, const char *fmt, ...)
	    __attribute__((__format__(__printf__, 2, 3)));
void	log_vmsg(int pri, const char *fmt, va_list ap)
	    __attribute__((__format__(__printf__, 2, 0)));
void	log_warn(const char *fmt, ...)
	    __attribute__((__format__(__printf__, 1, 2)));
void	log_warnx(const char *fmt, ...)
	    __attribute__((__format__(__printf__, 1, 2)));
/* A note callback for lower layers (arg unused): logs msg at info. */
void	log_note(void *arg, const char *msg);
void	log_info(const char *fmt, ...)
	    __attribute__((__format__(__printf__, 1, 2)));
void	log_debug(const char *fmt, ...)
	    __attribute__((__format__(__printf__, 1, 2)));
void	fatal(const char *fmt, ...)
	    __attribute__((__format__(__printf__, 1, 2), __noreturn__));
void	fatalx(const char *fmt, ...)
	    __attribute__((__format__(__printf__, 1, 2), __noreturn__));

#endif
