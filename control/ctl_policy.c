/* SPDX-License-Identifier: BSD-3-Clause
 * plainsight-ctl policy check FILE: compile a policy here, with the data
 * plane's own compiler (policy/), and print every problem as
 * "FILE:LINE:COLUMN: JSON.PATH: message", in file order.
 *
 * The library names a problem by its JSON path only (jansson keeps no
 * positions after parsing); the line and column come from finding that
 * path in the text again (ctl_jpath.c). A message that names no path (the
 * file is too large, out of memory) is printed as the library wrote it.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <limits.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ctl_client.h"
#include "ctl_jpath.h"
#include "ctl_policy.h"
#include "ps_policy.h"

#define POLICY_CMDS	"check, apply, show, watch or clear-shadow"
#define CTL_POLICY_TIMEOUT_MS	30000

/* One message of the library, split into its parts. */
struct diag {
	const char *path;	/* into the message; NULL: none */
	size_t path_len;
	const char *text;	/* what was expected, found what */
	bool named;		/* the message started with the file name */
	struct ctl_jpos pos;	/* line 0: not known */
	unsigned int order;	/* the library's order, to sort stably */
};

/* See ctl_policy.h. */
void
ctl_policy_usage(FILE *f)
{
	fprintf(f, "  policy      check FILE: validate a policy file here, print every\n"
		   "              error (no data plane needed; policy check --help)\n"
		   "              apply FILE: check it, then make it the data plane's live\n"
		   "              policy (the running one stays on any error; a policy\n"
		   "              with \"shadow\": true becomes the shadow policy)\n"
		   "              show: the running policies, their rules and hits\n"
		   "              watch FILE: apply FILE now and whenever it changes\n"
		   "              clear-shadow: remove the shadow policy\n");
}

static void
check_usage(FILE *f)
{
	fprintf(f, "usage: plainsight-ctl [--json] policy check [--json] FILE\n"
		   "\n"
		   "Compile the policy FILE as the data plane would and print every error,\n"
		   "one per line as FILE:LINE:COLUMN: JSON.PATH: message, then a summary.\n"
		   "Exit 0 when the policy is valid, 1 when it is not or cannot be read,\n"
		   "2 on a usage error.\n");
}

/*
 * Read the file at path, at most one byte past the policy size limit (the
 * compiler reports a longer file as too large). On success *out is a new
 * buffer the caller frees. Returns 0 or a negative errno.
 */
static int
read_file(const char *path, char **out, size_t *out_len)
{
	size_t len = 0, cap = 65536, want;
	char *buf = NULL, *nb;
	FILE *f;
	int rc;

	f = fopen(path, "re");
	if (f == NULL)
		return -errno;
	for (;;) {
		if (buf == NULL || len == cap) {
			cap = buf == NULL ? cap : cap * 2;
			nb = realloc(buf, cap);
			if (nb == NULL) {
				rc = -ENOMEM;
				goto err;
			}
			buf = nb;
		}
		want = cap - len;
		if (want > (size_t)PS_POL_FILE_MAX + 1 - len)
			want = (size_t)PS_POL_FILE_MAX + 1 - len;
		len += fread(buf + len, 1, want, f);
		if (ferror(f)) {
			rc = errno != 0 ? -errno : -EIO;
			goto err;
		}
		if (feof(f) || len > PS_POL_FILE_MAX)
			break;
	}
	fclose(f);
	*out = buf;
	*out_len = len;
	return 0;
err:
	fclose(f);
	free(buf);
	return rc;
}

/* name as the library writes it in a message: control bytes shown as '?'. */
static char *
shown_name(const char *name)
{
	char *s = strdup(name);
	size_t i;

	for (i = 0; s != NULL && s[i] != '\0'; i++) {
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			s[i] = '?';
	}
	return s;
}

/*
 * Split msg ("NAME:LINE:COL: text" for syntax errors, "NAME: PATH: text"
 * otherwise) and find the path's position in text[0..len).
 */
static void
diag_parse(struct diag *d, const char *msg, const char *name, const char *text,
	   size_t len)
{
	size_t nlen = strlen(name);
	unsigned int line, col;
	const char *r;
	bool root;
	int n = 0, rc;

	memset(d, 0, sizeof(*d));
	d->text = msg;
	if (strncmp(msg, name, nlen) != 0 || msg[nlen] != ':')
		return;
	d->named = true;
	r = msg + nlen + 1;
	if (r[0] >= '0' && r[0] <= '9' && sscanf(r, "%u:%u: %n", &line, &col, &n) == 2 &&
	    n > 0) {
		d->pos.line = line;
		d->pos.column = col;
		d->text = r + n;
		return;
	}
	if (r[0] != ' ') {
		d->named = false;
		return;
	}
	r++;
	d->text = r;
	rc = ctl_jpath_parse(r, &root);
	if (rc <= 0)
		return;
	d->path = r;
	d->path_len = (size_t)rc;
	d->text = r + rc + 2;
	if (ctl_jpath_locate(text, len, d->path, d->path_len,
			     strncmp(d->text, "unknown key", 11) == 0, &d->pos) < 0)
		d->pos.line = 0;
}

/* File order; messages without a position first, as the library gave them. */
static int
diag_cmp(const void *a, const void *b)
{
	const struct diag *x = a, *y = b;

	if (x->pos.line != y->pos.line)
		return x->pos.line < y->pos.line ? -1 : 1;
	if (x->pos.column != y->pos.column)
		return x->pos.column < y->pos.column ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

static void
diag_print(const struct diag *d, const char *name)
{
	if (!d->named) {
		printf("%s\n", d->text);
		return;
	}
	printf("%s", name);
	if (d->pos.line > 0)
		printf(":%u:%u", d->pos.line, d->pos.column);
	if (d->path != NULL)
		printf(": %.*s", (int)d->path_len, d->path);
	printf(": %s\n", d->text);
}

static json_t *
diag_json(const struct diag *d)
{
	json_t *o = json_object();
	json_t *path = json_null();

	if (d->path != NULL && !(d->path_len == strlen("top level") &&
				 memcmp(d->path, "top level", d->path_len) == 0))
		path = json_stringn(d->path, d->path_len);
	else if (d->path != NULL)
		path = json_string("");
	json_object_set_new(o, "line", d->pos.line > 0 ? json_integer(d->pos.line) : json_null());
	json_object_set_new(o, "column",
			    d->pos.line > 0 ? json_integer(d->pos.column) : json_null());
	json_object_set_new(o, "path", path);
	json_object_set_new(o, "message", json_string(d->text));
	return o;
}

/* Named lists and the default action of a valid policy, for the summary. */
static void
summary_counts(const char *text, size_t len, size_t *n_lists, const char **dflt,
	       json_t **root)
{
	const char *key;
	json_t *v;

	*n_lists = 0;
	*dflt = "bypass";
	*root = json_loadb(text, len, 0, NULL);
	json_object_foreach(json_object_get(*root, "lists"), key, v) {
		if (key[0] != '#')
			(*n_lists)++;
	}
	v = json_object_get(json_object_get(*root, "default"), "action");
	if (json_is_string(v))
		*dflt = json_string_value(v);
}

static void
print_json(json_t *o)
{
	json_dumpf(o, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
	printf("\n");
	json_decref(o);
}

/* The result of a valid policy. */
static int
report_ok(const char *file, const struct ps_pol *pol, const char *text, size_t len,
	  bool as_json)
{
	unsigned int n_rules = ps_pol_n_rules(pol);
	const char *dflt;
	size_t n_lists;
	json_t *root;

	summary_counts(text, len, &n_lists, &dflt, &root);
	if (as_json)
		print_json(json_pack("{s:b, s:s, s:[], s:i, s:i, s:I, s:s}", "ok", 1, "file", file,
				     "errors", "error_count", 0, "rules", (int)n_rules,
				     "lists", (json_int_t)n_lists, "default", dflt));
	else
		printf("%s: policy OK (%u rule%s, %zu list%s, default %s)\n", file, n_rules,
		       n_rules == 1 ? "" : "s", n_lists, n_lists == 1 ? "" : "s", dflt);
	json_decref(root);
	return 0;
}

/* The errors of an invalid policy, in file order, then their count. */
static int
report_errors(const char *file, const struct ps_pol_errors *errs, const char *text,
	      size_t len, bool as_json)
{
	unsigned int total = errs->n + errs->dropped;
	struct diag d[PS_POL_ERRORS_MAX];
	json_t *arr = json_array();
	char *name = shown_name(file);
	unsigned int i;

	for (i = 0; i < errs->n; i++) {
		diag_parse(&d[i], errs->msg[i], name != NULL ? name : file, text, len);
		d[i].order = i;
	}
	qsort(d, errs->n, sizeof(d[0]), diag_cmp);
	for (i = 0; i < errs->n; i++) {
		if (as_json)
			json_array_append_new(arr, diag_json(&d[i]));
		else
			diag_print(&d[i], file);
	}
	if (as_json) {
		print_json(json_pack("{s:b, s:s, s:o, s:i, s:i}", "ok", 0, "file", file,
				     "errors", arr, "error_count", (int)total,
				     "errors_not_listed", (int)errs->dropped));
	} else {
		json_decref(arr);
		if (errs->dropped > 0)
			printf("%s: %u more error%s not listed (the first %u are)\n", file,
			       errs->dropped, errs->dropped == 1 ? "" : "s", errs->n);
		printf("%s: %u error%s\n", file, total, total == 1 ? "" : "s");
	}
	free(name);
	return 1;
}

/* A file that cannot be read: one line, or a JSON result with one error. */
static int
report_unreadable(const char *file, int err, bool as_json)
{
	char msg[256];

	snprintf(msg, sizeof(msg), "cannot read: %s", strerror(-err));
	if (as_json)
		print_json(json_pack("{s:b, s:s, s:[{s:n, s:n, s:n, s:s}], s:i, s:i}", "ok", 0,
				     "file", file, "errors", "line", "column", "path",
				     "message", msg, "error_count", 1, "errors_not_listed", 0));
	else
		fprintf(stderr, "plainsight-ctl: %s: %s\n", file, msg);
	return 1;
}

/* quiet_ok: print nothing for a valid policy (apply reports instead). */
static int
policy_check(const char *file, bool as_json, bool quiet_ok)
{
	struct ps_pol_errors *errs;
	struct ps_pol *pol = NULL;
	char *text = NULL;
	size_t len = 0;
	int rc;

	rc = read_file(file, &text, &len);
	if (rc < 0)
		return report_unreadable(file, rc, as_json);
	errs = malloc(sizeof(*errs));	/* 32 KiB: not on the stack */
	if (errs == NULL) {
		free(text);
		fprintf(stderr, "plainsight-ctl: out of memory\n");
		return 1;
	}
	rc = ps_pol_compile(text, len, file, &pol, errs);
	if (rc == 0)
		rc = quiet_ok ? 0 : report_ok(file, pol, text, len, as_json);
	else
		rc = report_errors(file, errs, text, len, as_json);
	ps_pol_free(pol);
	free(errs);
	free(text);
	return rc;
}

/*
 * policy apply FILE: check it here (every error printed, as policy check),
 * then have the data plane load it by its absolute path.
 */
static int
policy_apply(const char *sock, const char *file, bool as_json)
{
	json_t *req, *reply = NULL, *e;
	char err[512], *abs;
	size_t i;
	int rc;

	rc = policy_check(file, as_json, true);
	if (rc != 0)
		return rc;
	abs = realpath(file, NULL);
	if (abs == NULL) {
		fprintf(stderr, "plainsight-ctl: %s: %s\n", file, strerror(errno));
		return 1;
	}
	req = json_pack("{s:s, s:s}", "cmd", "policy_apply", "path", abs);
	free(abs);
	rc = ctl_request(sock, req, CTL_POLICY_TIMEOUT_MS, &reply, err, sizeof(err));
	json_decref(req);
	if (rc < 0) {
		fprintf(stderr, "plainsight-ctl: %s\n", err);
		return 1;
	}
	if (as_json) {
		print_json(json_incref(reply));
	} else if (json_is_true(json_object_get(reply, "ok"))) {
		printf("%s: applied%s (%" JSON_INTEGER_FORMAT " rules, generation %"
		       JSON_INTEGER_FORMAT ")\n", file,
		       json_is_true(json_object_get(reply, "shadow")) ? " as the shadow policy" : "",
		       json_integer_value(json_object_get(reply, "rules")),
		       json_integer_value(json_object_get(reply, "generation")));
		json_array_foreach(json_object_get(reply, "warnings"), i, e)
			printf("  warning: %s\n", json_string_value(e));
	} else {
		fprintf(stderr, "plainsight-ctl: data plane answered: %s\n",
			json_string_value(json_object_get(reply, "error")));
		json_array_foreach(json_object_get(reply, "errors"), i, e)
			fprintf(stderr, "  %s\n", json_string_value(e));
	}
	rc = json_is_true(json_object_get(reply, "ok")) ? 0 : 1;
	json_decref(reply);
	return rc;
}

static void
show_rule(json_t *r, const char *name)
{
	json_t *tools = json_object_get(r, "tools"), *t;
	char extra[256] = "";
	size_t i, n = 0;

	if (json_string_value(json_object_get(r, "tls_profile")) != NULL)
		n += (size_t)snprintf(extra + n, sizeof(extra) - n, " profile=%s",
				      json_string_value(json_object_get(r, "tls_profile")));
	if (n < sizeof(extra) && json_string_value(json_object_get(r, "on_invalid_cert")) != NULL)
		n += (size_t)snprintf(extra + n, sizeof(extra) - n, " on_invalid_cert=%s",
				      json_string_value(json_object_get(r, "on_invalid_cert")));
	if (n < sizeof(extra) && tools != NULL) {
		n += (size_t)snprintf(extra + n, sizeof(extra) - n, " tools=");
		json_array_foreach(tools, i, t)
			if (n < sizeof(extra))
				n += (size_t)snprintf(extra + n, sizeof(extra) - n, "%s%s",
						      i > 0 ? "," : "", json_string_value(t));
		if (json_array_size(tools) == 0 && n < sizeof(extra))
			snprintf(extra + n, sizeof(extra) - n, "(none)");
	}
	printf("  %-24s %-8s %12" JSON_INTEGER_FORMAT "%s%s%s\n", name,
	       json_string_value(json_object_get(r, "action")),
	       json_integer_value(json_object_get(r, "hits")),
	       json_is_true(json_object_get(r, "shadow")) ? "  shadow" : "",
	       json_is_true(json_object_get(r, "log")) ? "  log" : "", extra);
}

static void
show_one(json_t *p, const char *title)
{
	json_t *r;
	size_t i;

	if (p == NULL || json_is_null(p)) {
		printf("%s: none\n", title);
		return;
	}
	printf("%s: %s\n  version %s, sha256 %.16s..., %zu rules\n", title,
	       json_string_value(json_object_get(p, "path")),
	       json_string_value(json_object_get(p, "version")),
	       json_string_value(json_object_get(p, "sha256")),
	       json_array_size(json_object_get(p, "rules")));
	printf("  %-24s %-8s %12s\n", "RULE", "ACTION", "HITS");
	json_array_foreach(json_object_get(p, "rules"), i, r)
		show_rule(r, json_string_value(json_object_get(r, "name")));
	show_rule(json_object_get(p, "default"), "(default)");
}

static int
policy_show(const char *sock, bool as_json)
{
	json_t *reply = ctl_call(sock, json_pack("{s:s}", "cmd", "policy_show"),
				 CTL_POLICY_TIMEOUT_MS);

	if (reply == NULL)
		return 1;
	if (as_json) {
		json_object_del(reply, "ok");
		print_json(reply);
		return 0;
	}
	show_one(json_object_get(reply, "policy"), "policy");
	show_one(json_object_get(reply, "shadow_policy"), "shadow policy");
	json_decref(reply);
	return 0;
}

static int
policy_clear_shadow(const char *sock)
{
	json_t *reply = ctl_call(sock, json_pack("{s:s, s:n, s:b}", "cmd", "policy_apply",
						 "path", "shadow", 1), CTL_POLICY_TIMEOUT_MS);

	if (reply == NULL)
		return 1;
	printf("shadow policy removed\n");
	json_decref(reply);
	return 0;
}

static volatile sig_atomic_t watch_stop;

static void
on_watch_signal(int sig)
{
	(void)sig;
	watch_stop = 1;
}

/*
 * policy watch FILE: apply FILE, then again each time its content changes
 * (checked every second by modification time, size and inode: editors
 * that replace the file are seen too). A bad version is reported and the
 * running policy stays; the next good one is applied. Runs until SIGINT
 * or SIGTERM.
 */
static int
policy_watch(const char *sock, const char *file, bool as_json)
{
	struct stat st, last;
	bool have = false;

	memset(&last, 0, sizeof(last));
	signal(SIGINT, on_watch_signal);
	signal(SIGTERM, on_watch_signal);
	while (!watch_stop) {
		if (stat(file, &st) < 0) {
			if (have || last.st_ino == 0)
				fprintf(stderr, "plainsight-ctl: policy watch: %s: %s (waiting)\n",
					file, strerror(errno));
			have = false;
			last.st_ino = 1;
		} else if (!have || st.st_mtim.tv_sec != last.st_mtim.tv_sec ||
			   st.st_mtim.tv_nsec != last.st_mtim.tv_nsec ||
			   st.st_size != last.st_size || st.st_ino != last.st_ino) {
			/* Let a writer finish before reading. */
			struct timespec ts = { .tv_sec = 0, .tv_nsec = 200 * 1000 * 1000 };

			nanosleep(&ts, NULL);
			if (stat(file, &st) == 0) {
				last = st;
				have = true;
				(void)policy_apply(sock, file, as_json);
				fflush(stdout);
				fflush(stderr);
			}
		}
		sleep(1);
	}
	return 0;
}

/* See ctl_policy.h. */
int
ctl_policy_main(const char *sock, bool as_json, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	if (argc < 2) {
		fprintf(stderr, "plainsight-ctl: policy: no subcommand given "
			"(expected " POLICY_CMDS ")\n");
		return 2;
	}
	if (strcmp(argv[1], "show") == 0 || strcmp(argv[1], "clear-shadow") == 0) {
		if (argc > 3 || (argc == 3 && strcmp(argv[2], "--json") != 0)) {
			fprintf(stderr, "plainsight-ctl: policy %s takes no argument\n", argv[1]);
			return 2;
		}
		if (strcmp(argv[1], "show") == 0)
			return policy_show(sock, as_json || argc == 3);
		return policy_clear_shadow(sock);
	}
	if (strcmp(argv[1], "check") != 0 && strcmp(argv[1], "apply") != 0 &&
	    strcmp(argv[1], "watch") != 0) {
		fprintf(stderr, "plainsight-ctl: unknown command \"policy %s\" "
			"(expected policy " POLICY_CMDS ")\n", argv[1]);
		return 2;
	}
	argc--;
	argv++;
	optind = 0;	/* glibc: start over, argv[0] is "check" */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
		switch (opt) {
		case 'j':
			as_json = true;
			break;
		case 'h':
			check_usage(stdout);
			return 0;
		default:
			fprintf(stderr, "plainsight-ctl: policy check: %s: unknown option "
				"(see plainsight-ctl policy check --help)\n", argv[optind - 1]);
			return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "plainsight-ctl: policy check: no FILE given "
			"(see plainsight-ctl policy check --help)\n");
		return 2;
	}
	if (optind + 1 < argc) {
		fprintf(stderr, "plainsight-ctl: policy check takes one FILE, got also \"%s\"\n",
			argv[optind + 1]);
		return 2;
	}
	if (strcmp(argv[0], "apply") == 0)
		return policy_apply(sock, argv[optind], as_json);
	if (strcmp(argv[0], "watch") == 0)
		return policy_watch(sock, argv[optind], as_json);
	return policy_check(argv[optind], as_json, false);
}
