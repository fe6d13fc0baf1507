/* SPDX-License-Identifier: BSD-3-Clause
 * Session records over syslog: RFC 5424 over UDP or TCP, never blocking.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "ps_syslog.h"

/* The largest UDP payload of one datagram: 65535 less the IP and UDP headers. */
#define UDP_MAX_V4	(65535u - 20u - 8u)
#define UDP_MAX_V6	(65535u - 8u)	/* the IPv6 payload length excludes its header */
/* A connection that takes longer than this to come up is given up on. */
#define CONNECT_TIMEOUT_MS 10000u

int
ps_syslog_url_parse(const char *url, enum ps_syslog_proto *proto,
		    struct sockaddr_storage *addr, socklen_t *addr_len)
{
	char host[INET6_ADDRSTRLEN];
	const char *h, *end, *port, *d;
	unsigned long pnum = 0;
	bool v6;

	if (strncmp(url, "udp://", 6) == 0)
		*proto = PS_SYSLOG_UDP;
	else if (strncmp(url, "tcp://", 6) == 0)
		*proto = PS_SYSLOG_TCP;
	else
		return -EINVAL;
	h = url + 6;
	v6 = h[0] == '[';
	if (v6) {
		h++;
		end = strchr(h, ']');
		if (end == NULL || end[1] != ':')
			return -EINVAL;
		port = end + 2;
	} else {
		end = strchr(h, ':');
		if (end == NULL)
			return -EINVAL;
		port = end + 1;
	}
	if (end == h || (size_t)(end - h) >= sizeof(host))
		return -EINVAL;
	memcpy(host, h, (size_t)(end - h));
	host[end - h] = '\0';
	/* Digits only, no leading zero: strtoul() would take "+514" or " 514". */
	if (port[0] < '1' || port[0] > '9' || strlen(port) > 5)
		return -EINVAL;
	for (d = port; *d != '\0'; d++) {
		if (*d < '0' || *d > '9')
			return -EINVAL;
		pnum = pnum * 10 + (unsigned long)(*d - '0');
	}
	if (pnum > 65535)
		return -EINVAL;
	memset(addr, 0, sizeof(*addr));
	if (v6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)addr;

		if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
			return -EINVAL;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)pnum);
		*addr_len = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)addr;

		if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
			return -EINVAL;
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)pnum);
		*addr_len = sizeof(*s4);
	}
	return 0;
}

/* RFC 5424 6.2.4: HOSTNAME is 1..255 printable US-ASCII characters, or "-". */
static void
host_name(char *out, size_t len)
{
	char *p;

	if (gethostname(out, len) < 0 || out[0] == '\0') {
		snprintf(out, len, "-");
		return;
	}
	out[len - 1] = '\0';
	for (p = out; *p != '\0'; p++)
		if (*p < 33 || *p > 126)
			*p = '_';
}

int
ps_syslog_open(struct ps_syslog *sl, const char *url, unsigned int facility,
	       size_t queue_max, char *err, size_t errlen)
{
	int rc;

	memset(sl, 0, sizeof(*sl));
	sl->fd = -1;
	if (facility > 23) {
		snprintf(err, errlen, "syslog facility %u: expected 0..23", facility);
		return -EINVAL;
	}
	if (ps_syslog_url_parse(url, &sl->proto, &sl->addr, &sl->addr_len) < 0) {
		snprintf(err, errlen, "syslog target \"%s\": expected \"udp://IP:PORT\" or "
			 "\"tcp://IP:PORT\"", url);
		return -EINVAL;
	}
	sl->pri = facility * 8 + PS_SYSLOG_SEV_INFO;
	sl->pid = (unsigned int)getpid();
	host_name(sl->host, sizeof(sl->host));
	sl->backoff_ms = PS_SYSLOG_BACKOFF_MIN_MS;
	if (sl->proto == PS_SYSLOG_TCP) {
		sl->q_cap = queue_max != 0 ? queue_max : PS_SYSLOG_QUEUE_MAX;
		sl->q = malloc(sl->q_cap);
		if (sl->q == NULL) {
			snprintf(err, errlen, "syslog: cannot allocate a %zu-byte queue", sl->q_cap);
			return -ENOMEM;
		}
		return 0;
	}
	/* UDP: connected, so the kernel picks the source once and reports
	 * an unreachable collector (ICMP) as an error on a later send. */
	sl->fd = socket(sl->addr.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (sl->fd < 0 || connect(sl->fd, (struct sockaddr *)&sl->addr, sl->addr_len) < 0) {
		rc = -errno;
		snprintf(err, errlen, "syslog target %s: %s", url, strerror(-rc));
		if (sl->fd >= 0)
			close(sl->fd);
		sl->fd = -1;
		return rc;
	}
	return 0;
}

static uint64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void
ps_syslog_close(struct ps_syslog *sl, unsigned int wait_ms)
{
	uint64_t until = mono_ms() + wait_ms;

	while (sl->proto == PS_SYSLOG_TCP && sl->q_len > 0 && mono_ms() < until) {
		struct timespec ts = { .tv_sec = 0, .tv_nsec = 20 * 1000 * 1000 };

		ps_syslog_service(sl, mono_ms());
		nanosleep(&ts, NULL);
	}
	if (sl->fd >= 0)
		close(sl->fd);
	sl->fd = -1;
	free(sl->q);
	sl->q = NULL;
	sl->q_len = 0;
}

size_t
ps_syslog_header(char *out, size_t len, unsigned int pri, uint64_t ts_ms,
		 const char *host, unsigned int pid, size_t msg_len)
{
	char stamp[96] = "-", hdr[PS_SYSLOG_HEADER_MAX];
	int n;

	if (ts_ms != 0) {
		time_t t = (time_t)(ts_ms / 1000u);
		struct tm tm;

		/* RFC 5424 6.2.3: RFC 3339 in UTC, here to the millisecond. */
		gmtime_r(&t, &tm);
		snprintf(stamp, sizeof(stamp), "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
			 tm.tm_min, tm.tm_sec, (unsigned int)(ts_ms % 1000u));
	}
	/* PRI VERSION TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD, then the
	 * SP before MSG. MSG has no BOM: it is MSG-ANY (6.4), JSON text. */
	n = snprintf(hdr, sizeof(hdr), "<%u>1 %s %s plainsight %u session - ", pri, stamp,
		     host, pid);
	if (n < 0)
		n = 0;
	if (msg_len == (size_t)-1)
		return (size_t)snprintf(out, len, "%s", hdr);
	/* RFC 6587 3.4.1: MSG-LEN SP SYSLOG-MSG, MSG-LEN in octets. */
	return (size_t)snprintf(out, len, "%zu %s", (size_t)n + msg_len, hdr);
}

/* Bytes of the queue's first frame: its octet count, the SP, and the message. */
static size_t
head_frame_len(const struct ps_syslog *sl)
{
	const char *p = sl->q + sl->q_off;
	size_t count = 0, digits = 0;

	while (p[digits] != ' ') {
		count = count * 10 + (size_t)(p[digits] - '0');
		digits++;
	}
	return digits + 1 + count;
}

/* The first frame leaves the queue: sent whole, or dropped. */
static void
queue_pop(struct ps_syslog *sl)
{
	size_t fl = head_frame_len(sl);

	sl->q_off += fl;
	sl->q_len -= fl;
	sl->head_sent = 0;
	if (sl->q_len == 0)
		sl->q_off = 0;
}

/*
 * The connection is gone (or never came). A frame written in part cannot
 * be finished on another connection (the collector would read garbage):
 * it is dropped. The next attempt waits for the backoff.
 */
static void
tcp_down(struct ps_syslog *sl, uint64_t now_ms, bool error)
{
	if (sl->fd >= 0)
		close(sl->fd);
	sl->fd = -1;
	sl->connecting = false;
	if (sl->head_sent > 0) {
		queue_pop(sl);
		sl->st.dropped++;
	}
	if (error)
		sl->st.errors++;
	sl->retry_ms = now_ms + sl->backoff_ms;
	sl->backoff_ms = sl->backoff_ms * 2 > PS_SYSLOG_BACKOFF_MAX_MS ?
			 PS_SYSLOG_BACKOFF_MAX_MS : sl->backoff_ms * 2;
}

static void
tcp_up(struct ps_syslog *sl)
{
	sl->connecting = false;
	if (sl->ever_up)
		sl->st.reconnects++;
	sl->ever_up = true;
	sl->backoff_ms = PS_SYSLOG_BACKOFF_MIN_MS;
}

static void
tcp_connect(struct ps_syslog *sl, uint64_t now_ms)
{
	sl->fd = socket(sl->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (sl->fd < 0) {
		tcp_down(sl, now_ms, true);
		return;
	}
	if (connect(sl->fd, (struct sockaddr *)&sl->addr, sl->addr_len) == 0) {
		tcp_up(sl);
	} else if (errno == EINPROGRESS) {
		sl->connecting = true;
		sl->retry_ms = now_ms + CONNECT_TIMEOUT_MS;
	} else {
		tcp_down(sl, now_ms, true);
	}
}

/* Write queued frames until the socket takes no more. */
static void
tcp_flush(struct ps_syslog *sl, uint64_t now_ms)
{
	while (sl->q_len > 0) {
		ssize_t n = send(sl->fd, sl->q + sl->q_off + sl->head_sent,
				 sl->q_len - sl->head_sent, MSG_NOSIGNAL | MSG_DONTWAIT);
		size_t done;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				tcp_down(sl, now_ms, true);
			return;
		}
		for (done = (size_t)n; done > 0;) {
			size_t left = head_frame_len(sl) - sl->head_sent;

			if (done < left) {
				sl->head_sent += done;
				break;
			}
			done -= left;
			queue_pop(sl);
			sl->st.sent++;
		}
	}
}

/*
 * A collector never writes to us (RFC 6587): a readable socket means it
 * closed or reset the connection. Noticing that before writing keeps the
 * next records in the queue instead of in a dead socket's buffer.
 */
static bool
tcp_peer_gone(struct ps_syslog *sl)
{
	struct pollfd pfd = { .fd = sl->fd, .events = POLLIN | POLLRDHUP };
	char sink[256];
	ssize_t n;

	if (poll(&pfd, 1, 0) <= 0)
		return false;
	if (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR))
		return true;
	n = recv(sl->fd, sink, sizeof(sink), MSG_DONTWAIT);
	return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

void
ps_syslog_service(struct ps_syslog *sl, uint64_t now_ms)
{
	if (sl->proto != PS_SYSLOG_TCP)
		return;
	sl->now_ms = now_ms;
	if (sl->fd >= 0 && sl->connecting) {
		struct pollfd pfd = { .fd = sl->fd, .events = POLLOUT };
		int soerr = 0;
		socklen_t sl_len = sizeof(soerr);

		if (poll(&pfd, 1, 0) <= 0) {
			if (now_ms >= sl->retry_ms)
				tcp_down(sl, now_ms, true);	/* connect timed out */
			return;
		}
		if (getsockopt(sl->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl_len) < 0 || soerr != 0) {
			tcp_down(sl, now_ms, true);
			return;
		}
		tcp_up(sl);
	} else if (sl->fd >= 0 && tcp_peer_gone(sl)) {
		tcp_down(sl, now_ms, false);
	}
	if (sl->fd < 0) {
		if (now_ms < sl->retry_ms)
			return;
		tcp_connect(sl, now_ms);
		if (sl->fd < 0 || sl->connecting)
			return;
	}
	tcp_flush(sl, now_ms);
}

static void
udp_send(struct ps_syslog *sl, const char *hdr, size_t hl, const char *msg, size_t len)
{
	size_t max = sl->addr.ss_family == AF_INET6 ? UDP_MAX_V6 : UDP_MAX_V4;
	struct iovec iov[2] = {
		{ .iov_base = (void *)(uintptr_t)hdr, .iov_len = hl },
		{ .iov_base = (void *)(uintptr_t)msg, .iov_len = len },
	};
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };

	if (hl + len > max) {
		sl->st.oversize++;
		return;
	}
	if (sendmsg(sl->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
		/* A full socket buffer loses the datagram as the network would. */
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)
			sl->st.dropped++;
		else
			sl->st.errors++;
		return;
	}
	sl->st.sent++;
}

void
ps_syslog_send(struct ps_syslog *sl, uint64_t ts_ms, const char *msg, size_t len)
{
	char hdr[PS_SYSLOG_HEADER_MAX];
	size_t hl, need;

	if (sl->proto == PS_SYSLOG_UDP) {
		hl = ps_syslog_header(hdr, sizeof(hdr), sl->pri, ts_ms, sl->host, sl->pid,
				      (size_t)-1);
		udp_send(sl, hdr, hl, msg, len);
		return;
	}
	hl = ps_syslog_header(hdr, sizeof(hdr), sl->pri, ts_ms, sl->host, sl->pid, len);
	need = hl + len;
	/* The newest record is the one dropped: those queued keep their order. */
	if (sl->q == NULL || need > sl->q_cap - sl->q_len) {
		sl->st.dropped++;
		return;
	}
	if (sl->q_off + sl->q_len + need > sl->q_cap) {
		memmove(sl->q, sl->q + sl->q_off, sl->q_len);
		sl->q_off = 0;
	}
	memcpy(sl->q + sl->q_off + sl->q_len, hdr, hl);
	memcpy(sl->q + sl->q_off + sl->q_len + hl, msg, len);
	sl->q_len += need;
	if (sl->fd >= 0 && !sl->connecting)
		tcp_flush(sl, sl->now_ms);
}

bool
ps_syslog_connected(const struct ps_syslog *sl)
{
	return sl->proto == PS_SYSLOG_UDP || (sl->fd >= 0 && !sl->connecting);
}
