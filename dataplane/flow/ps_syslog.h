/* SPDX-License-Identifier: BSD-3-Clause
 * Session records over syslog: RFC 5424 messages to one collector, over
 * UDP (RFC 5426, one datagram per record) or TCP (RFC 6587 octet-counting
 * framing).
 *
 * One thread owns a sender (the management thread, which drains the
 * session store and also serves the control socket): nothing here ever
 * blocks. A TCP connection is made without waiting, re-made with backoff
 * (1 s doubling to 30 s) when it fails or the collector closes it, and
 * records meanwhile wait in a bounded queue; what does not fit is dropped
 * and counted. Pure library: no EAL.
 */
#ifndef PS_SYSLOG_H
#define PS_SYSLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define PS_SYSLOG_QUEUE_MAX	(4u << 20)	/* bytes waiting for a TCP collector */
#define PS_SYSLOG_BACKOFF_MIN_MS 1000u
#define PS_SYSLOG_BACKOFF_MAX_MS 30000u
#define PS_SYSLOG_HEADER_MAX	384	/* header and the octet count before it */
#define PS_SYSLOG_SEV_INFO	6	/* RFC 5424 6.2.1: informational */
#define PS_SYSLOG_FAC_LOCAL0	16

enum ps_syslog_proto {
	PS_SYSLOG_UDP,
	PS_SYSLOG_TCP,
};

/* Counters: only the owning thread writes them. */
struct ps_syslog_stats {
	uint64_t sent;		/* records handed whole to the kernel */
	uint64_t dropped;	/* records lost: queue full, or cut by a lost connection */
	uint64_t errors;	/* failed connects and sends */
	uint64_t reconnects;	/* connections made after the first */
	uint64_t oversize;	/* records over the largest UDP datagram, not sent */
};

struct ps_syslog {
	enum ps_syslog_proto proto;
	struct sockaddr_storage addr;
	socklen_t addr_len;
	int fd;			/* -1: none */
	bool connecting;	/* TCP: connect() in progress on fd */
	bool ever_up;		/* TCP: connected once: later connections are reconnects */
	uint64_t retry_ms;	/* TCP: no connection attempt before this time */
	uint64_t now_ms;	/* the time of the last ps_syslog_service() */
	unsigned int backoff_ms;
	unsigned int pri;	/* facility * 8 + severity */
	unsigned int pid;
	char host[256];		/* RFC 5424 HOSTNAME: printable ASCII, or "-" */

	/* TCP: framed records, [q_off, q_off + q_len) of q; head_sent bytes of
	 * the first one already written to the current connection. */
	char *q;
	size_t q_cap;
	size_t q_off;
	size_t q_len;
	size_t head_sent;

	struct ps_syslog_stats st;
};

/*
 * Parse "udp://IP:PORT" or "tcp://IP:PORT" (IP an IPv4 literal or an IPv6
 * literal in brackets, PORT 1..65535) into proto and a socket address.
 * 0 or -EINVAL.
 */
int ps_syslog_url_parse(const char *url, enum ps_syslog_proto *proto,
			struct sockaddr_storage *addr, socklen_t *addr_len);

/*
 * Set up sl to send to url with the given facility (0..23) and severity
 * informational; queue_max bytes (0: PS_SYSLOG_QUEUE_MAX) may wait for a
 * TCP collector. The first connection attempt is made by the first
 * ps_syslog_service(). 0 or a negative errno with a reason in err.
 */
int ps_syslog_open(struct ps_syslog *sl, const char *url, unsigned int facility,
		   size_t queue_max, char *err, size_t errlen);

/*
 * Flush what is queued for up to wait_ms (the caller may block that
 * long: at shutdown), then close the socket and free the queue.
 */
void ps_syslog_close(struct ps_syslog *sl, unsigned int wait_ms);

/*
 * Write the RFC 5424 HEADER and the SP before MSG for a record that ended
 * at ts_ms (ms since the epoch, 0: unknown) into out, with its octet count
 * first (RFC 6587 3.4.1) when msg_len is not (size_t)-1: the frame is then
 * the output followed by msg_len bytes of MSG. Returns the length
 * snprintf() would (the output is cut to len, still terminated).
 */
size_t ps_syslog_header(char *out, size_t len, unsigned int pri, uint64_t ts_ms,
			const char *host, unsigned int pid, size_t msg_len);

/*
 * Send one record (msg, len bytes, the JSON line without its newline):
 * a datagram now, or queued for the TCP connection and written as far as
 * the socket takes it. Never blocks.
 */
void ps_syslog_send(struct ps_syslog *sl, uint64_t ts_ms, const char *msg, size_t len);

/*
 * Make progress without blocking: notice a closed or failed connection,
 * (re)connect when the backoff allows, write queued records. now_ms is a
 * monotonic clock in ms. Call it often (the management thread does at
 * each drain, at least every 200 ms).
 */
void ps_syslog_service(struct ps_syslog *sl, uint64_t now_ms);

/* True while a TCP connection is up (UDP: always). */
bool ps_syslog_connected(const struct ps_syslog *sl);

#endif /* PS_SYSLOG_H */
