/*
 * test_stats.c - the counter table and its renderings (`tunrelay stats`
 * text and the Prometheus text format), and the flow log's rate limit.
 *
 * Prometheus validity is checked line by line: every sample line is
 * NAME{LABELS} VALUE with a legal name, every metric has one # HELP and one
 * # TYPE before its samples, counters end in _total, label values are
 * escaped; and every text line has a Prometheus sample with the same value.
 */
#include <arpa/inet.h>
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/flowlog.h"
#include "core/stats.h"

/* The buffer's contents as a NUL-terminated string (caller frees). */
static char *
drain(struct evbuffer *b)
{
	size_t n = evbuffer_get_length(b);
	char *s = malloc(n + 1);

	assert_non_null(s);
	evbuffer_remove(b, s, n);
	s[n] = '\0';
	return s;
}

/* A snapshot where every uint64_t holds a distinct value. */
static void
snap_fill(struct stats_snap *s)
{
	uint64_t v[sizeof(*s) / sizeof(uint64_t)];
	size_t i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		v[i] = 1000 + i;
	memset(s, 0, sizeof(*s));
	memcpy(s, v, sizeof(v));
	s->nat.max_flows = 4000;
	s->nat.flows_active = 1000;
}

/* Render one of the two formats of the real table. */
static char *
render(const struct stats_snap *s, bool prom)
{
	struct evbuffer *b = evbuffer_new();
	char *out;

	assert_non_null(b);
	if (prom)
		assert_int_equal(stats_prom(stats_table, stats_table_len, s, b), 0);
	else
		assert_int_equal(stats_text(stats_table, stats_table_len, s, b), 0);
	out = drain(b);
	evbuffer_free(b);
	return out;
}

/* The table itself: legal, unique names; counters end in _total. */
static void
test_table_names(void **state)
{
	regex_t re;
	size_t i, j;

	(void)state;
	assert_int_equal(regcomp(&re, "^[a-zA-Z_:][a-zA-Z0-9_:]*$",
	    REG_EXTENDED | REG_NOSUB), 0);
	for (i = 0; i < stats_table_len; i++) {
		const struct stats_def *d = &stats_table[i];
		size_t n = strlen(d->metric);

		assert_int_equal(regexec(&re, d->metric, 0, NULL, 0), 0);
		assert_int_equal(strncmp(d->metric, "tunrelay_", 9), 0);
		if (d->type == STATS_COUNTER)
			assert_string_equal(d->metric + n - 6, "_total");
		else
			assert_true(n < 6 || strcmp(d->metric + n - 6,
			    "_total") != 0);
		/* a metric's entries are adjacent and agree on the type */
		for (j = i + 2; j < stats_table_len; j++)
			if (strcmp(stats_table[j].metric, d->metric) == 0)
				assert_string_equal(stats_table[j - 1].metric,
				    d->metric);
		if (i > 0 && strcmp(stats_table[i - 1].metric, d->metric) == 0)
			assert_int_equal(stats_table[i - 1].type, d->type);
		else
			assert_non_null(d->help);
		for (j = 0; j < i; j++)
			assert_true(strcmp(stats_table[j].name, d->name) != 0);
	}
	regfree(&re);
}

/* Whether text holds exactly line (a whole line). */
static bool
has_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	const char *p = text;

	while ((p = strstr(p, line)) != NULL) {
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return true;
		p++;
	}
	return false;
}

/* The text format: one "name value" per value, known names present. */
static void
test_text(void **state)
{
	struct stats_snap s;
	char *t, line[128];

	(void)state;
	snap_fill(&s);
	s.nat.drops[NAT_DROP_TTL] = 77;
	s.nat.packets[NAT_SIDE_INSIDE] = 5;
	s.loop.tx_bytes = 123456789012ULL;
	t = render(&s, false);
	assert_true(has_line(t, "drop_ttl 77"));
	assert_true(has_line(t, "packets_inside 5"));
	assert_true(has_line(t, "tun_tx_bytes 123456789012"));
	assert_true(has_line(t, "table_fill 0.250000"));
	snprintf(line, sizeof(line), "flows_max %llu",
	    (unsigned long long)s.nat.max_flows);
	assert_true(has_line(t, line));
	/* TCP state 0 ("none") is not a state a flow can be in */
	assert_null(strstr(t, "flows_tcp_none"));
	assert_non_null(strstr(t, "flows_tcp_established "));
	free(t);
}

/* Check one Prometheus exposition line by line. */
static void
prom_valid(char *p)
{
	regex_t sample;
	char *line, *save = NULL, help[128] = "", type[128] = "";
	char last[128] = "", seen[64][128];
	size_t nseen = 0, i;

	assert_int_equal(regcomp(&sample, "^([a-zA-Z_:][a-zA-Z0-9_:]*)"
	    "(\\{[a-zA-Z_][a-zA-Z0-9_]*=\"([^\"\\\\\n]|\\\\[\\\\\"n])*\""
	    "(,[a-zA-Z_][a-zA-Z0-9_]*=\"([^\"\\\\\n]|\\\\[\\\\\"n])*\")*\\})?"
	    " [0-9]+(\\.[0-9]+)?$", REG_EXTENDED), 0);
	assert_true(p[strlen(p) - 1] == '\n');
	for (line = strtok_r(p, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		char name[128];

		if (strncmp(line, "# HELP ", 7) == 0) {
			assert_int_equal(sscanf(line + 7, "%127s", help), 1);
			for (i = 0; i < nseen; i++)
				assert_true(strcmp(seen[i], help) != 0);
			assert_true(nseen < 64);
			snprintf(seen[nseen++], sizeof(seen[0]), "%s", help);
			continue;
		}
		if (strncmp(line, "# TYPE ", 7) == 0) {
			assert_int_equal(sscanf(line + 7, "%127s", type), 1);
			assert_string_equal(type, help);
			assert_true(strstr(line, " counter") != NULL ||
			    strstr(line, " gauge") != NULL);
			continue;
		}
		assert_int_equal(regexec(&sample, line, 0, NULL, 0), 0);
		assert_int_equal(sscanf(line, "%127[^{ ]", name), 1);
		/* samples follow their own HELP and TYPE */
		assert_string_equal(name, type);
		snprintf(last, sizeof(last), "%s", name);
	}
	assert_true(last[0] != '\0');
	regfree(&sample);
}

/* The Prometheus format of the real table is valid. */
static void
test_prom_valid(void **state)
{
	struct stats_snap s;
	char *p;

	(void)state;
	snap_fill(&s);
	p = render(&s, true);
	assert_non_null(strstr(p, "# TYPE tunrelay_drops_total counter\n"));
	assert_non_null(strstr(p, "tunrelay_drops_total{reason=\"ttl\"} "));
	assert_non_null(strstr(p, "tunrelay_flows_tcp{state=\"established\"} "));
	assert_non_null(strstr(p, "tunrelay_tun_packets_total{direction=\"tx\"} "));
	assert_non_null(strstr(p, "# TYPE tunrelay_flows_active gauge\n"));
	assert_non_null(strstr(p, "tunrelay_table_fill_ratio 0.250000\n"));
	prom_valid(p);
	free(p);
}

/* Every text value has a Prometheus sample with the same value. */
static void
test_text_matches_prom(void **state)
{
	struct stats_snap s;
	char *t, *p, *line, *save = NULL;
	size_t i, j, lines = 0;

	(void)state;
	snap_fill(&s);
	t = render(&s, false);
	p = render(&s, true);
	for (i = 0; i < stats_table_len; i++) {
		const struct stats_def *d = &stats_table[i];
		char want[256];

		for (j = d->n ? d->first : 0; j < (d->n ? d->n : 1); j++) {
			uint64_t v;

			memcpy(&v, (char *)&s + d->off + j * 8, 8);
			if (d->div != 0)
				continue;	/* ratio: checked above */
			if (d->n > 0)
				snprintf(want, sizeof(want), "%s{%s=\"%s\"} %llu",
				    d->metric, d->label, d->name_of(j),
				    (unsigned long long)v);
			else if (d->labels)
				snprintf(want, sizeof(want), "%s{%s} %llu",
				    d->metric, d->labels, (unsigned long long)v);
			else
				snprintf(want, sizeof(want), "%s %llu",
				    d->metric, (unsigned long long)v);
			assert_true(has_line(p, want));
		}
	}
	/* as many text lines as samples */
	for (line = strtok_r(t, "\n", &save); line; line = strtok_r(NULL,
	    "\n", &save))
		lines++;
	save = NULL;
	for (line = strtok_r(p, "\n", &save); line; line = strtok_r(NULL,
	    "\n", &save))
		lines -= line[0] != '#';
	assert_int_equal(lines, 0);
	free(t);
	free(p);
}

static uint64_t esc_vals[2] = { 3, 4 };

/* A label value that needs every escape. */
static const char *
esc_name(size_t i)
{
	return i == 0 ? "a\"b\\c\nd" : "plain";
}

/* HELP text and label values are escaped. */
static void
test_prom_escaping(void **state)
{
	static const struct stats_def t[] = {
		{ "x_", "tunrelay_x_total", STATS_COUNTER,
		    "Help with a \\ backslash\nand a newline \"quoted\".",
		    0, 0, NULL, 2, 0, "what", esc_name },
	};
	struct stats_snap s;
	struct evbuffer *b = evbuffer_new();
	char *p;

	(void)state;
	memset(&s, 0, sizeof(s));
	memcpy(&s, esc_vals, sizeof(esc_vals));
	stats_prom(t, 1, &s, b);
	p = drain(b);
	assert_string_equal(p,
	    "# HELP tunrelay_x_total Help with a \\\\ backslash\\nand a "
	    "newline \"quoted\".\n"
	    "# TYPE tunrelay_x_total counter\n"
	    "tunrelay_x_total{what=\"a\\\"b\\\\c\\nd\"} 3\n"
	    "tunrelay_x_total{what=\"plain\"} 4\n");
	prom_valid(p);
	free(p);
	evbuffer_free(b);
}

/* The per-backend metrics: valid, one sample per backend, names escaped. */
static void
test_prom_backends(void **state)
{
	struct stats_backend b[2];
	struct evbuffer *e = evbuffer_new();
	char *p;

	(void)state;
	memset(b, 0, sizeof(b));
	snprintf(b[0].name, sizeof(b[0].name), "forward.web 10.22.22.1:80");
	b[0].st.up = true;
	b[0].st.flows_active = 3;
	b[0].st.flows_created = 40;
	b[0].st.packets = 1000;
	b[0].st.bytes = 80000;
	b[0].st.ups = 1;
	b[0].st.downs = 2;
	snprintf(b[1].name, sizeof(b[1].name), "a\"b");
	stats_prom_backends(b, 2, e);
	p = drain(e);
	assert_non_null(strstr(p, "# TYPE tunrelay_backend_up gauge\n"
	    "tunrelay_backend_up{backend=\"forward.web 10.22.22.1:80\"} 1\n"
	    "tunrelay_backend_up{backend=\"a\\\"b\"} 0\n"));
	assert_non_null(strstr(p, "tunrelay_backend_transitions_total{backend="
	    "\"forward.web 10.22.22.1:80\",to=\"down\"} 2\n"
	    "tunrelay_backend_transitions_total{backend="
	    "\"forward.web 10.22.22.1:80\",to=\"up\"} 1\n"));
	assert_non_null(strstr(p, "tunrelay_backend_flows{backend="
	    "\"forward.web 10.22.22.1:80\"} 3\n"));
	assert_non_null(strstr(p, "tunrelay_backend_flows_created_total{backend="
	    "\"forward.web 10.22.22.1:80\"} 40\n"));
	assert_non_null(strstr(p, "tunrelay_backend_packets_total{backend="
	    "\"forward.web 10.22.22.1:80\"} 1000\n"));
	assert_non_null(strstr(p, "tunrelay_backend_bytes_total{backend="
	    "\"forward.web 10.22.22.1:80\"} 80000\n"));
	prom_valid(p);
	free(p);
	/* no backends: nothing at all */
	stats_prom_backends(b, 0, e);
	assert_int_equal(evbuffer_get_length(e), 0);
	evbuffer_free(e);
}

/* stats_fill copies the loop counters and the flow log's. */
static void
test_fill(void **state)
{
	struct loop_stats ls;
	struct flowlog fl;
	struct stats_snap s;

	(void)state;
	memset(&ls, 0, sizeof(ls));
	memset(&fl, 0, sizeof(fl));
	ls.rx_packets = 9;
	fl.lines = 4;
	fl.suppressed = 6;
	stats_fill(&s, NULL, &ls, &fl);
	assert_int_equal(s.loop.rx_packets, 9);
	assert_int_equal(s.flow_log_lines, 4);
	assert_int_equal(s.flow_log_suppressed, 6);
}

/* The flow log: a fake clock and a sink that keeps the lines. */
static uint64_t fake_ms;
static char got[64][FLOWLOG_LINELEN];
static size_t ngot;

static uint64_t
fake_clock(void)
{
	return fake_ms;
}

static void
sink(const char *line, void *arg)
{
	(void)arg;
	if (ngot < 64)
		snprintf(got[ngot], sizeof(got[0]), "%s", line);
	ngot++;
}

/* A flow 198.51.100.10:41828 -> 203.0.113.1:80 relayed to 10.22.22.1. */
static void
flow(struct nat_flow_info *fi)
{
	memset(fi, 0, sizeof(*fi));
	fi->family = 4;
	fi->proto = 6;
	inet_pton(AF_INET, "198.51.100.10", fi->orig_src.b);
	inet_pton(AF_INET, "203.0.113.1", fi->orig_dst.b);
	fi->orig_sport = 41828;
	fi->orig_dport = 80;
	inet_pton(AF_INET, "10.22.22.1", fi->reply_src.b);
	inet_pton(AF_INET, "198.51.100.10", fi->reply_dst.b);
	fi->reply_sport = 80;
	fi->reply_dport = 41828;
	fi->state = "syn_sent";
	fi->rule_id = 7;
}

/* Lines carry both tuples, the state and, when closed, the counters. */
static void
test_flowlog_format(void **state)
{
	struct flowlog fl;
	struct nat_flow_info fi;
	char buf[FLOWLOG_LINELEN];

	(void)state;
	flowlog_init(&fl, NULL, fake_clock, sink, NULL);
	flow(&fi);
	flowlog_format(&fl, &fi, NAT_FLOW_NEW, buf, sizeof(buf));
	assert_string_equal(buf, "flow new tcp src=198.51.100.10 "
	    "dst=203.0.113.1 sport=41828 dport=80 src=10.22.22.1 "
	    "dst=198.51.100.10 sport=80 dport=41828 state=syn_sent "
	    "rule=\"rule 7\"");
	fi.state = "time_wait";
	fi.assured = true;
	fi.age = 12;
	fi.idle = 240;
	fi.packets[0] = 5;
	fi.packets[1] = 4;
	fi.bytes[0] = 272;
	fi.bytes[1] = 296;
	flowlog_format(&fl, &fi, NAT_FLOW_EXPIRED, buf, sizeof(buf));
	assert_non_null(strstr(buf, "flow expired tcp src=198.51.100.10 "));
	assert_non_null(strstr(buf, " state=time_wait [ASSURED] age=12s "
	    "idle=240s packets=5/4 bytes=272/296 "));
	/* a short buffer is cut, never overrun */
	assert_int_equal(flowlog_format(&fl, &fi, NAT_FLOW_EXPIRED, buf, 20), 0);
	assert_int_equal(strlen(buf), 19);
}

/* Off means nothing; on writes one line per event. */
static void
test_flowlog_off(void **state)
{
	struct flowlog fl;
	struct nat_flow_info fi;

	(void)state;
	ngot = 0;
	fake_ms = 5000;
	flow(&fi);
	flowlog_init(&fl, NULL, fake_clock, sink, NULL);
	flowlog_hook(&fi, NAT_FLOW_NEW, &fl);
	assert_int_equal(ngot, 0);
	flowlog_set(&fl, true, 10);
	flowlog_hook(&fi, NAT_FLOW_NEW, &fl);
	assert_int_equal(ngot, 1);
	assert_int_equal(fl.lines, 1);
}

/* A burst of rate lines, then the limit; the summary counts the rest. */
static void
test_flowlog_rate(void **state)
{
	struct flowlog fl;
	struct nat_flow_info fi;
	int i;

	(void)state;
	ngot = 0;
	fake_ms = 10000;
	flow(&fi);
	flowlog_init(&fl, NULL, fake_clock, sink, NULL);
	flowlog_set(&fl, true, 5);
	for (i = 0; i < 50; i++)
		flowlog_hook(&fi, NAT_FLOW_NEW, &fl);
	assert_int_equal(ngot, 5);
	assert_int_equal(fl.lines, 5);
	assert_int_equal(fl.suppressed, 45);
	/* 100 ms later: half a line earned, still nothing */
	fake_ms += 100;
	flowlog_hook(&fi, NAT_FLOW_NEW, &fl);
	assert_int_equal(ngot, 5);
	/* 200 ms: one line earned; the summary comes first */
	fake_ms += 100;
	flowlog_hook(&fi, NAT_FLOW_EXPIRED, &fl);
	assert_int_equal(ngot, 7);
	assert_string_equal(got[5], "flow log: 46 lines suppressed "
	    "(flow_log_rate = 5 per second)");
	assert_non_null(strstr(got[6], "flow expired tcp"));
	assert_int_equal(fl.suppressed, 46);
	assert_int_equal(fl.pending, 0);
	/* a long pause refills only one second's worth */
	fake_ms += 60000;
	for (i = 0; i < 20; i++)
		flowlog_hook(&fi, NAT_FLOW_NEW, &fl);
	assert_int_equal(fl.lines, 6 + 5);
	assert_int_equal(fl.suppressed, 46 + 15);
}

/* The once-a-second flush writes the summary, at most once a second. */
static void
test_flowlog_flush(void **state)
{
	struct flowlog fl;
	struct nat_flow_info fi;
	int i;

	(void)state;
	ngot = 0;
	fake_ms = 20000;
	flow(&fi);
	flowlog_init(&fl, NULL, fake_clock, sink, NULL);
	flowlog_set(&fl, true, 1);
	flowlog_flush(&fl);
	assert_int_equal(ngot, 0);
	for (i = 0; i < 4; i++)
		flowlog_hook(&fi, NAT_FLOW_NEW, &fl);
	assert_int_equal(ngot, 1);
	flowlog_flush(&fl);
	assert_int_equal(ngot, 2);
	assert_string_equal(got[1], "flow log: 3 lines suppressed "
	    "(flow_log_rate = 1 per second)");
	/* more drops within the same second wait for the next flush */
	flowlog_hook(&fi, NAT_FLOW_NEW, &fl);
	fake_ms += 500;
	flowlog_flush(&fl);
	assert_int_equal(ngot, 2);
	fake_ms += 400;
	flowlog_hook(&fi, NAT_FLOW_NEW, &fl);
	fake_ms += 200;
	flowlog_flush(&fl);
	assert_int_equal(ngot, 3);
	assert_string_equal(got[2], "flow log: 2 lines suppressed "
	    "(flow_log_rate = 1 per second)");
	assert_int_equal(fl.suppressed, 5);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_names),
		cmocka_unit_test(test_text),
		cmocka_unit_test(test_prom_valid),
		cmocka_unit_test(test_text_matches_prom),
		cmocka_unit_test(test_prom_escaping),
		cmocka_unit_test(test_prom_backends),
		cmocka_unit_test(test_fill),
		cmocka_unit_test(test_flowlog_format),
		cmocka_unit_test(test_flowlog_off),
		cmocka_unit_test(test_flowlog_rate),
		cmocka_unit_test(test_flowlog_flush),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
