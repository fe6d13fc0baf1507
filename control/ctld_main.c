/* SPDX-License-Identifier: BSD-3-Clause
 * plainsight-controld: the control process.
 *
 *   plainsight-controld [--socket PATH] [--listen IP:PORT] [--policy FILE]
 *
 * Serves GET /metrics (Prometheus) built from the data plane's counters at
 * scrape time, and keeps the data plane on the policy file across its
 * restarts and the file's changes (ctld_keeper.h). One thread: a poll loop
 * over the listening socket and the HTTP clients, with the keeper's round
 * once a second. The data plane may come and go; controld stays.
 * SIGTERM or SIGINT: exit 0.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ctl_client.h"
#include "ctld_buf.h"
#include "ctld_http.h"
#include "ctld_keeper.h"
#include "ctld_metrics.h"
#include "ps_version.h"

#define CTLD_DEFAULT_LISTEN	"127.0.0.1:9417"
#define CTLD_CLIENTS_MAX	32
/* A client has this long to send its request and read the answer. */
#define CTLD_CLIENT_TIMEOUT_MS	10000
/* After the answer, what the client still sends is read and dropped for
 * this long, so closing with unread data (a reset) cannot destroy the
 * answer before the client has read it (RFC 9112 section 9.6). */
#define CTLD_LINGER_MS		2000
/* A scrape answers within this, data plane or not (Prometheus' default
 * scrape_timeout is 10 s; most deployments scrape every 15 s or more). */
#define CTLD_SCRAPE_BUDGET_MS	3000
#define CTLD_TICK_MS		1000
#define CTLD_STATUS_TIMEOUT_MS	1000
/* The page is a few tens of kB; refuse to grow a response past this. */
#define CTLD_RESPONSE_MAX	(8u * 1024 * 1024)

struct ctld_client {
	int fd;				/* -1: free slot */
	long deadline;
	char in[CTLD_HTTP_REQ_MAX];
	size_t in_len;
	struct ctld_buf out;		/* non-empty: answering */
	size_t out_off;
	bool draining;			/* answered: reading to EOF before close */
	char peer[64];
};

struct ctld {
	const char *sock;
	int lfd;
	struct ctld_client cl[CTLD_CLIENTS_MAX];
	struct ctld_keeper keeper;
};

static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: plainsight-controld [options]\n"
		"\n"
		"Serves the data plane's counters to Prometheus (GET /metrics) and keeps\n"
		"the data plane on a policy file across restarts and file changes.\n"
		"\n"
		"options:\n"
		"  -s, --socket PATH      data plane's control socket (default %s)\n"
		"  -l, --listen IP:PORT   HTTP address for /metrics (default %s;\n"
		"                         IPv6 as [ADDR]:PORT)\n"
		"  -p, --policy FILE      apply FILE at start, after every data-plane\n"
		"                         restart and whenever it changes\n"
		"  -V, --version          print the version and exit\n"
		"  -h, --help             this text\n", CTL_DEFAULT_SOCKET, CTLD_DEFAULT_LISTEN);
}

/* "IP:PORT" or "[IPv6]:PORT" into ss. Returns 0 or -EINVAL. */
static int
parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon, *h = s;
	size_t hl;
	char *end;
	long port;

	memset(ss, 0, sizeof(*ss));
	colon = strrchr(s, ':');
	if (colon == NULL)
		return -EINVAL;
	hl = (size_t)(colon - s);
	if (s[0] == '[') {
		if (hl < 2 || s[hl - 1] != ']')
			return -EINVAL;
		h = s + 1;
		hl -= 2;
	}
	if (hl == 0 || hl >= sizeof(host))
		return -EINVAL;
	memcpy(host, h, hl);
	host[hl] = '\0';
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno != 0 || end == colon + 1 || *end != '\0' || port < 1 || port > 65535)
		return -EINVAL;
	if (s[0] != '[') {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;

		if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
			return -EINVAL;
		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)port);
		*len = sizeof(*a);
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;

		if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1)
			return -EINVAL;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)port);
		*len = sizeof(*a);
	}
	return 0;
}

static int
listen_on(const char *addr)
{
	struct sockaddr_storage ss;
	socklen_t len = 0;
	int fd, one = 1;

	if (parse_listen(addr, &ss, &len) < 0) {
		fprintf(stderr, "plainsight-controld: --listen %s: expected IPv4:PORT or "
			"[IPv6]:PORT\n", addr);
		return -1;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 64) < 0) {
		fprintf(stderr, "plainsight-controld: cannot listen on %s: %s\n", addr,
			strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static void
client_close(struct ctld_client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->in_len = 0;
	c->out_off = 0;
	c->draining = false;
	ctld_buf_free(&c->out);
}

static void
client_accept(struct ctld *d)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	unsigned int i;
	int fd;

	fd = accept4(d->lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	for (i = 0; i < CTLD_CLIENTS_MAX; i++)
		if (d->cl[i].fd < 0)
			break;
	if (i == CTLD_CLIENTS_MAX) {
		/* Full: a short answer beats a connection left hanging. */
		static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\n"
			"Content-Length: 0\r\nConnection: close\r\n\r\n";

		(void)send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
		close(fd);
		return;
	}
	d->cl[i].fd = fd;
	d->cl[i].deadline = now_ms() + CTLD_CLIENT_TIMEOUT_MS;
	d->cl[i].in_len = 0;
	d->cl[i].out_off = 0;
	d->cl[i].draining = false;
	ctld_buf_init(&d->cl[i].out, CTLD_RESPONSE_MAX);
	d->cl[i].peer[0] = '\0';
	if (ss.ss_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, d->cl[i].peer,
			  sizeof(d->cl[i].peer));
	else if (ss.ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, d->cl[i].peer,
			  sizeof(d->cl[i].peer));
}

static void
answer_error(struct ctld_client *c, int status)
{
	char body[96];
	int n;

	n = snprintf(body, sizeof(body), "%d %s\n", status, ctld_http_reason(status));
	ctld_http_response(&c->out, status, "text/plain; charset=utf-8",
			   status == 405 ? "Allow: GET\r\n" : NULL, body, (size_t)n);
}

/* A complete (or refused) request: build the whole answer into c->out. */
static void
answer(struct ctld *d, struct ctld_client *c)
{
	struct ctld_http_req req;
	struct ctld_buf page;
	int rc;

	rc = ctld_http_parse(c->in, c->in_len, &req);
	if (rc == -EAGAIN) {
		answer_error(c, 431);	/* only called that way when the buffer is full */
		return;
	}
	if (rc < 0) {
		answer_error(c, req.status);
		return;
	}
	if (strcmp(req.path, "/metrics") != 0) {
		answer_error(c, 404);
		return;
	}
	if (!req.is_get) {
		answer_error(c, 405);
		return;
	}
	ctld_buf_init(&page, CTLD_RESPONSE_MAX);
	(void)ctld_metrics_scrape(d->sock, CTLD_SCRAPE_BUDGET_MS, &page);
	if (page.failed)
		answer_error(c, 500);
	else
		ctld_http_response(&c->out, 200, CTLD_METRICS_CTYPE, NULL, page.data, page.len);
	ctld_buf_free(&page);
}

/* Read and drop what follows the answer until EOF. */
static void
client_drain(struct ctld_client *c)
{
	char sink[4096];
	ssize_t n;

	n = recv(c->fd, sink, sizeof(sink), 0);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0)
		client_close(c);
}

static void
client_read(struct ctld *d, struct ctld_client *c)
{
	struct ctld_http_req req;
	ssize_t n;
	int rc;

	n = recv(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len, 0);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		client_close(c);
		return;
	}
	c->in_len += (size_t)n;
	rc = ctld_http_parse(c->in, c->in_len, &req);
	if (rc == -EAGAIN && c->in_len < sizeof(c->in))
		return;
	/* The rest of the request (a body, a pipelined request) is not read:
	 * the answer says Connection: close. */
	answer(d, c);
	if (c->out.failed || c->out.len == 0)
		client_close(c);
}

static void
client_write(struct ctld_client *c)
{
	ssize_t n;
	long linger;

	n = send(c->fd, c->out.data + c->out_off, c->out.len - c->out_off, MSG_NOSIGNAL);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		client_close(c);
		return;
	}
	c->out_off += (size_t)n;
	if (c->out_off < c->out.len)
		return;
	shutdown(c->fd, SHUT_WR);
	c->draining = true;
	linger = now_ms() + CTLD_LINGER_MS;
	if (linger < c->deadline)
		c->deadline = linger;
}

static int
serve(struct ctld *d)
{
	struct pollfd pfd[1 + CTLD_CLIENTS_MAX];
	int idx[1 + CTLD_CLIENTS_MAX];
	long next_tick = 0;
	unsigned int i, n;

	while (!stop) {
		long now = now_ms(), wait;

		if (now >= next_tick) {
			ctld_keeper_tick(&d->keeper, CTLD_STATUS_TIMEOUT_MS);
			now = now_ms();
			next_tick = now + CTLD_TICK_MS;
		}
		wait = next_tick - now;
		pfd[0].fd = d->lfd;
		pfd[0].events = POLLIN;
		n = 1;
		for (i = 0; i < CTLD_CLIENTS_MAX; i++) {
			struct ctld_client *c = &d->cl[i];

			if (c->fd < 0)
				continue;
			if (now >= c->deadline) {
				client_close(c);
				continue;
			}
			if (c->deadline - now < wait)
				wait = c->deadline - now;
			pfd[n].fd = c->fd;
			pfd[n].events = c->out.len > 0 && !c->draining ? POLLOUT : POLLIN;
			pfd[n].revents = 0;
			idx[n++] = (int)i;
		}
		if (poll(pfd, n, (int)(wait > 0 ? wait : 0)) < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "plainsight-controld: poll: %s\n", strerror(errno));
			return -1;
		}
		for (i = 1; i < n; i++) {
			struct ctld_client *c = &d->cl[idx[i]];

			if (pfd[i].revents == 0 || c->fd < 0)
				continue;
			if (c->draining)
				client_drain(c);
			else if (c->out.len > 0)
				client_write(c);
			else
				client_read(d, c);
		}
		if (pfd[0].revents & POLLIN)
			client_accept(d);
	}
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "listen", required_argument, NULL, 'l' },
		{ "policy", required_argument, NULL, 'p' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static struct ctld d;
	const char *listen_addr = CTLD_DEFAULT_LISTEN, *policy = NULL;
	struct sigaction sa;
	unsigned int i;
	int opt, rc;

	d.sock = CTL_DEFAULT_SOCKET;
	while ((opt = getopt_long(argc, argv, "s:l:p:Vh", opts, NULL)) != -1) {
		switch (opt) {
		case 's':
			d.sock = optarg;
			break;
		case 'l':
			listen_addr = optarg;
			break;
		case 'p':
			policy = optarg;
			break;
		case 'V':
			printf("plainsight-controld %s\n", PS_VERSION);
			return EXIT_SUCCESS;
		case 'h':
			usage(stdout);
			return EXIT_SUCCESS;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "plainsight-controld: unexpected argument \"%s\"\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	rc = ctld_keeper_init(&d.keeper, d.sock, policy);
	if (rc < 0) {
		fprintf(stderr, "plainsight-controld: --policy %s: %s\n", policy, strerror(-rc));
		return 2;
	}
	for (i = 0; i < CTLD_CLIENTS_MAX; i++) {
		d.cl[i].fd = -1;
		ctld_buf_init(&d.cl[i].out, CTLD_RESPONSE_MAX);
	}
	d.lfd = listen_on(listen_addr);
	if (d.lfd < 0)
		return EXIT_FAILURE;

	/* No SA_RESTART: the signal must interrupt poll(). */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	fprintf(stderr, "plainsight-controld %s: serving http://%s/metrics, data plane %s%s%s\n",
		PS_VERSION, listen_addr, d.sock, d.keeper.path[0] != '\0' ? ", policy " : "",
		d.keeper.path);
	rc = serve(&d);
	for (i = 0; i < CTLD_CLIENTS_MAX; i++)
		client_close(&d.cl[i]);
	close(d.lfd);
	fprintf(stderr, "plainsight-controld: stopped\n");
	return rc == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
