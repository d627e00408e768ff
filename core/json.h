/*
 * json.h - the few JSON pieces the command line and the control socket
 * write: strings escaped per RFC 8259. Field names are the documented
 * interface (docs/json.md); values are numbers, strings, true and false.
 */
#ifndef TUNRELAY_JSON_H
#define TUNRELAY_JSON_H

#include <stdio.h>

#include <event2/buffer.h>

/* Write s as a JSON string (quotes included) to a FILE. */
void json_str(FILE *, const char *s);
/* Write s as a JSON string (quotes included) to an evbuffer. */
void json_evstr(struct evbuffer *, const char *s);
/* Escape s into buf (no quotes); returns buf, cut short when too long. */
char *json_escape(const char *s, char *buf, size_t len);

#endif
