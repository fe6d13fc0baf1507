/* SPDX-License-Identifier: BSD-3-Clause
 * Recording: the decrypted conversations, as the tool ports see them,
 * written to pcap files rotated by size and age.
 *
 * Workers never touch a file: a worker builds the frames of its flows'
 * conversations into mbufs (the same synthesis as for a tool port), stamps
 * them and enqueues them on its own single-producer ring; one recorder
 * thread drains every ring into the current file. A full ring drops the
 * frame and counts it (a recorder that cannot keep up never slows the
 * traffic). Files are created mode 0640: they hold plaintext.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <pcap/pcap.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>

#include "ps_record.h"

#define REC_RING_SIZE	1024	/* frames per worker in flight to the recorder */
#define REC_BURST	64
#define REC_SNAPLEN	65535

struct ps_recorder {
	struct ps_dp *dp;
	pthread_t thread;
	bool running;
	volatile int stop;
	pcap_t *dead;
	pcap_dumper_t *out;
	char path[PS_PATH_MAX + 64];
	uint64_t file_bytes;
	time_t file_started;
	unsigned int seq;
	/* Counters, written by the recorder thread only. */
	uint64_t frames;
	uint64_t bytes;
	uint64_t files;
	uint64_t write_errors;
};

static uint64_t
wall_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* "plainsight-YYYYmmdd-HHMMSS-N.pcap": sorted by name is sorted by time. */
static int
open_file(struct ps_recorder *r)
{
	const struct ps_config *cfg = r->dp->cfg;
	time_t now = time(NULL);
	struct tm tm;
	char stamp[32];
	FILE *f;
	int fd;

	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
	snprintf(r->path, sizeof(r->path), "%s/plainsight-%s-%u.pcap", cfg->record_dir, stamp,
		 r->seq++);
	fd = open(r->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd < 0)
		return -errno;
	f = fdopen(fd, "w");
	if (f == NULL) {
		close(fd);
		return -errno;
	}
	r->out = pcap_dump_fopen(r->dead, f);
	if (r->out == NULL) {
		fclose(f);
		return -EIO;
	}
	r->file_bytes = 24;
	r->file_started = now;
	r->files++;
	return 0;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Keep the newest record_keep_files recordings, delete the older ones. */
static void
prune(struct ps_recorder *r)
{
	const struct ps_config *cfg = r->dp->cfg;
	char *names[4096];
	unsigned int n = 0, i;
	struct dirent *de;
	DIR *d;

	if (cfg->record_keep_files == 0 || (d = opendir(cfg->record_dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL && n < 4096) {
		size_t len = strlen(de->d_name);

		if (strncmp(de->d_name, "plainsight-", 11) == 0 && len > 5 &&
		    strcmp(de->d_name + len - 5, ".pcap") == 0)
			names[n++] = strdup(de->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(names[0]), name_cmp);
	for (i = 0; i < n; i++) {
		if (names[i] != NULL && i + cfg->record_keep_files < n) {
			char p[PS_PATH_MAX + 300];

			snprintf(p, sizeof(p), "%s/%s", cfg->record_dir, names[i]);
			(void)unlink(p);
		}
		free(names[i]);
	}
}

static void
rotate_if_due(struct ps_recorder *r)
{
	const struct ps_config *cfg = r->dp->cfg;
	bool due = r->file_bytes >= (uint64_t)cfg->record_rotate_mb * 1024 * 1024 ||
		   (cfg->record_rotate_s > 0 && time(NULL) - r->file_started >=
		    (time_t)cfg->record_rotate_s);

	if (!due || r->file_bytes <= 24)
		return;
	pcap_dump_close(r->out);
	r->out = NULL;
	if (open_file(r) < 0)
		r->write_errors++;
	prune(r);
}

static void
write_frame(struct ps_recorder *r, struct rte_mbuf *m)
{
	struct pcap_pkthdr h;
	uint64_t us;

	memcpy(&us, rte_pktmbuf_mtod(m, void *), sizeof(us));
	rte_pktmbuf_adj(m, sizeof(us));
	if (r->out == NULL && open_file(r) < 0) {
		r->write_errors++;
		return;
	}
	memset(&h, 0, sizeof(h));
	h.ts.tv_sec = (time_t)(us / 1000000);
	h.ts.tv_usec = (suseconds_t)(us % 1000000);
	h.caplen = h.len = rte_pktmbuf_data_len(m);
	pcap_dump((u_char *)r->out, &h, rte_pktmbuf_mtod(m, const u_char *));
	r->frames++;
	r->bytes += h.len;
	r->file_bytes += 16 + h.len;
}

static void *
recorder_main(void *arg)
{
	struct ps_recorder *r = arg;
	struct rte_mbuf *ms[REC_BURST];
	uint64_t last_flush = 0;

	while (!r->stop) {
		unsigned int w, n, i, total = 0;

		for (w = 0; w < r->dp->n_workers; w++) {
			n = rte_ring_dequeue_burst(r->dp->workers[w]->rec_ring, (void **)ms,
						   REC_BURST, NULL);
			for (i = 0; i < n; i++) {
				write_frame(r, ms[i]);
				rte_pktmbuf_free(ms[i]);
			}
			total += n;
		}
		if (r->out != NULL && wall_us() - last_flush > 200000) {
			/* Readers (export, Wireshark) see frames within 0.2 s. */
			if (pcap_dump_flush(r->out) < 0)
				r->write_errors++;
			last_flush = wall_us();
			rotate_if_due(r);
		}
		if (total == 0)
			usleep(1000);
	}
	if (r->out != NULL)
		pcap_dump_close(r->out);
	r->out = NULL;
	return NULL;
}

int
ps_record_start(struct ps_dp *dp, char *err, size_t errlen)
{
	const struct ps_config *cfg = dp->cfg;
	struct ps_recorder *r;
	struct stat st;
	unsigned int w;

	if (cfg->record_dir[0] == '\0')
		return 0;
	if (stat(cfg->record_dir, &st) < 0 || !S_ISDIR(st.st_mode) ||
	    access(cfg->record_dir, W_OK) < 0) {
		snprintf(err, errlen, "recording.dir: %s: not a writable directory", cfg->record_dir);
		return -ENOTDIR;
	}
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return -ENOMEM;
	r->dp = dp;
	r->dead = pcap_open_dead(DLT_EN10MB, REC_SNAPLEN);
	if (r->dead == NULL) {
		free(r);
		return -ENOMEM;
	}
	for (w = 0; w < dp->n_workers; w++) {
		char name[RTE_RING_NAMESIZE];

		snprintf(name, sizeof(name), "ps_rec_%02u", w);
		dp->workers[w]->rec_ring = rte_ring_create(name, REC_RING_SIZE, SOCKET_ID_ANY,
							   RING_F_SP_ENQ | RING_F_SC_DEQ);
		if (dp->workers[w]->rec_ring == NULL) {
			snprintf(err, errlen, "recording: cannot create ring %s", name);
			pcap_close(r->dead);
			free(r);
			return -ENOMEM;
		}
	}
	if (pthread_create(&r->thread, NULL, recorder_main, r) != 0) {
		snprintf(err, errlen, "recording: cannot start the recorder thread");
		pcap_close(r->dead);
		free(r);
		return -EAGAIN;
	}
	r->running = true;
	dp->recorder = r;
	return 0;
}

void
ps_record_stop(struct ps_dp *dp)
{
	struct ps_recorder *r = dp->recorder;
	struct rte_mbuf *m;
	unsigned int w;

	if (r == NULL)
		return;
	r->stop = 1;
	if (r->running)
		pthread_join(r->thread, NULL);
	for (w = 0; w < dp->n_workers; w++) {
		while (rte_ring_dequeue(dp->workers[w]->rec_ring, (void **)&m) == 0)
			rte_pktmbuf_free(m);
		rte_ring_free(dp->workers[w]->rec_ring);
		dp->workers[w]->rec_ring = NULL;
	}
	pcap_close(r->dead);
	free(r);
	dp->recorder = NULL;
}

bool
ps_record_enqueue(struct ps_worker *w, struct rte_mbuf *m)
{
	uint64_t us = wall_us();
	void *ts = rte_pktmbuf_prepend(m, sizeof(us));

	if (ts != NULL)
		memcpy(ts, &us, sizeof(us));
	if (ts == NULL || rte_ring_enqueue(w->rec_ring, m) != 0) {
		w->stats.flow[PS_FLOW_RECORD_DROPPED]++;
		rte_pktmbuf_free(m);
		return false;
	}
	return true;
}

void
ps_record_stats(const struct ps_dp *dp, uint64_t *frames, uint64_t *bytes, uint64_t *files,
		uint64_t *errors)
{
	const struct ps_recorder *r = dp->recorder;

	*frames = r != NULL ? __atomic_load_n(&r->frames, __ATOMIC_RELAXED) : 0;
	*bytes = r != NULL ? __atomic_load_n(&r->bytes, __ATOMIC_RELAXED) : 0;
	*files = r != NULL ? __atomic_load_n(&r->files, __ATOMIC_RELAXED) : 0;
	*errors = r != NULL ? __atomic_load_n(&r->write_errors, __ATOMIC_RELAXED) : 0;
}
