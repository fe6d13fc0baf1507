/* SPDX-License-Identifier: BSD-3-Clause
 * Port bring-up: one tx queue per worker on every port (no locks on the
 * transmit path), rx queues spread over the workers.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_ethdev.h>

#include "ps_dp.h"

/* Device name as EAL registers it: the device string up to the first comma. */
static void
dev_name(const char *device, char *out, size_t outlen)
{
	size_t n = strcspn(device, ",");

	if (n >= outlen)
		n = outlen - 1;
	memcpy(out, device, n);
	out[n] = '\0';
}

static int
find_port_id(const struct ps_port_cfg *pc, uint16_t *port_id)
{
	char name[PS_DEV_MAX];
	char alt[PS_DEV_MAX + 8];

	dev_name(pc->device, name, sizeof(name));
	if (rte_eth_dev_get_port_by_name(name, port_id) == 0)
		return 0;
	/* PCI devices given as BB:DD.F register with the 0000: domain. */
	if (pc->is_pci) {
		snprintf(alt, sizeof(alt), "0000:%s", name);
		if (rte_eth_dev_get_port_by_name(alt, port_id) == 0)
			return 0;
	}
	return -ENODEV;
}

/*
 * Symmetric RSS key (the 0x6d5a pattern): Toeplitz gives the same hash for
 * (src, dst) and (dst, src), so both directions of a flow land on the same
 * queue index of every port configured alike.
 */
static uint8_t sym_rss_key[40] = {
	0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
	0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
	0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
	0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
};

#define PS_RSS_HF	(RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP)

/* Redirection table entry i -> queue i mod n, the same on every port. */
static int
reta_set(uint16_t port_id, uint16_t reta_size, uint16_t n_rxq)
{
	struct rte_eth_rss_reta_entry64 reta[RTE_ETH_RSS_RETA_SIZE_512 /
					     RTE_ETH_RETA_GROUP_SIZE];
	uint16_t i;

	if (reta_size == 0 || reta_size > RTE_ETH_RSS_RETA_SIZE_512)
		return -EINVAL;
	memset(reta, 0, sizeof(reta));
	for (i = 0; i < reta_size; i++) {
		reta[i / RTE_ETH_RETA_GROUP_SIZE].mask |=
			1ULL << (i % RTE_ETH_RETA_GROUP_SIZE);
		reta[i / RTE_ETH_RETA_GROUP_SIZE].reta[i % RTE_ETH_RETA_GROUP_SIZE] =
			(uint16_t)(i % n_rxq);
	}
	return rte_eth_dev_rss_reta_update(port_id, reta, reta_size);
}

static int
port_start(struct ps_dp *dp, unsigned int idx, char *err, size_t errlen)
{
	struct ps_dp_port *p = &dp->ports[idx];
	const struct ps_port_cfg *pc = p->cfg;
	const struct ps_config *cfg = dp->cfg;
	struct rte_eth_conf conf;
	struct rte_eth_dev_info info;
	uint16_t nb_rxd = (uint16_t)cfg->rx_desc;
	uint16_t nb_txd = (uint16_t)cfg->tx_desc;
	uint8_t *key, key_len;	/* the driver takes a non-const key */
	uint16_t q;
	int socket;
	int rc;

	rc = find_port_id(pc, &p->port_id);
	if (rc < 0) {
		snprintf(err, errlen, "port %s: device \"%s\" did not probe "
			 "(wrong driver name or interface?)", pc->name, pc->device);
		return rc;
	}
	dp->port_index[p->port_id] = (int16_t)idx;
	rc = rte_eth_dev_info_get(p->port_id, &info);
	if (rc < 0) {
		snprintf(err, errlen, "port %s: cannot read device info: %s",
			 pc->name, rte_strerror(-rc));
		return rc;
	}
	snprintf(p->driver, sizeof(p->driver), "%s",
		 info.driver_name != NULL ? info.driver_name : "?");
	if (info.max_tx_queues < dp->n_workers) {
		snprintf(err, errlen, "port %s: device offers %u tx queue(s) but "
			 "%u workers need one each (e.g. qpairs=%u for af_packet)",
			 pc->name, info.max_tx_queues, dp->n_workers,
			 dp->n_workers);
		return -EINVAL;
	}
	p->n_txq = (uint16_t)dp->n_workers;
	if (cfg->n_rss_queues > 0) {
		/* rss.queue_workers: this many queues on every port, or none. */
		if (info.max_rx_queues < cfg->n_rss_queues) {
			snprintf(err, errlen, "port %s: device offers %u rx queue(s), "
				 "rss.queue_workers maps %u", pc->name, info.max_rx_queues,
				 cfg->n_rss_queues);
			return -EINVAL;
		}
		p->n_rxq = (uint16_t)cfg->n_rss_queues;
	} else {
		p->n_rxq = RTE_MIN((uint16_t)dp->n_workers, info.max_rx_queues);
	}
	if (p->n_rxq == 0) {
		snprintf(err, errlen, "port %s: device has no rx queue", pc->name);
		return -EINVAL;
	}
	/* Jumbo frames: the device must take the port's MTU, and a frame
	 * must fit one mbuf unless the device can scatter. */
	if (pc->mtu > RTE_ETHER_MTU) {
		uint32_t frame = (uint32_t)pc->mtu + RTE_ETHER_HDR_LEN + RTE_ETHER_CRC_LEN + 8;

		if (info.max_mtu < pc->mtu) {
			snprintf(err, errlen, "port %s: mtu %u: the device's largest is %u",
				 pc->name, pc->mtu, info.max_mtu);
			return -EINVAL;
		}
		if (frame > cfg->mbuf_data_size - RTE_PKTMBUF_HEADROOM &&
		    !(info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_SCATTER)) {
			snprintf(err, errlen, "port %s: mtu %u needs frames of %u bytes: raise "
				 "mempool.mbuf_data_size to at least %u", pc->name, pc->mtu,
				 frame, frame + RTE_PKTMBUF_HEADROOM);
			return -EINVAL;
		}
	}

	memset(&conf, 0, sizeof(conf));
	/* A bump in the wire forwards what it receives: no VLAN stripping, no
	 * CRC or checksum rewriting; multi-segment only when the device can. */
	if (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MULTI_SEGS)
		conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
	/* Symmetric RSS where the device has it and there is more than one
	 * queue to spread over. */
	key = cfg->rss_key_len > 0 ? (uint8_t *)(uintptr_t)cfg->rss_key : sym_rss_key;
	key_len = cfg->rss_key_len > 0 ? (uint8_t)cfg->rss_key_len : (uint8_t)sizeof(sym_rss_key);
	p->rss = p->n_rxq > 1 && (info.flow_type_rss_offloads & PS_RSS_HF) != 0 &&
		 info.hash_key_size == key_len;
	if (p->n_rxq > 1 && !p->rss && cfg->rss_key_len > 0)
		RTE_LOG(WARNING, USER1, "port %s: the device does not take a %u-byte RSS key "
			"(its size: %u): software dispatch\n", pc->name, key_len,
			info.hash_key_size);
	if (pc->mtu > RTE_ETHER_MTU) {
		conf.rxmode.mtu = pc->mtu;
		if (info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_SCATTER)
			conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_SCATTER;
	}
	if (p->rss) {
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf.rx_adv_conf.rss_conf.rss_key = key;
		conf.rx_adv_conf.rss_conf.rss_key_len = key_len;
		conf.rx_adv_conf.rss_conf.rss_hf = info.flow_type_rss_offloads & PS_RSS_HF;
	}
	rc = rte_eth_dev_configure(p->port_id, p->n_rxq, p->n_txq, &conf);
	if (rc < 0) {
		snprintf(err, errlen, "port %s: configure failed: %s", pc->name,
			 rte_strerror(-rc));
		return rc;
	}
	rc = rte_eth_dev_adjust_nb_rx_tx_desc(p->port_id, &nb_rxd, &nb_txd);
	if (rc < 0) {
		snprintf(err, errlen, "port %s: descriptor counts refused: %s",
			 pc->name, rte_strerror(-rc));
		return rc;
	}
	socket = rte_eth_dev_socket_id(p->port_id);
	if (socket < 0)
		socket = 0;
	for (q = 0; q < p->n_rxq; q++) {
		rc = rte_eth_rx_queue_setup(p->port_id, q, nb_rxd,
					    (unsigned int)socket, NULL, dp->pool);
		if (rc < 0) {
			snprintf(err, errlen, "port %s: rx queue %u: %s (mempool "
				 "mbuf_data_size %u too small for the device's frames?)",
				 pc->name, q, rte_strerror(-rc),
				 cfg->mbuf_data_size);
			return rc;
		}
	}
	for (q = 0; q < p->n_txq; q++) {
		rc = rte_eth_tx_queue_setup(p->port_id, q, nb_txd,
					    (unsigned int)socket, NULL);
		if (rc < 0) {
			snprintf(err, errlen, "port %s: tx queue %u: %s", pc->name,
				 q, rte_strerror(-rc));
			return rc;
		}
	}
	/* Promiscuous: the appliance forwards frames for every MAC. Not every
	 * virtual device implements it, so failure is not fatal. */
	(void)rte_eth_promiscuous_enable(p->port_id);
	rc = rte_eth_dev_start(p->port_id);
	if (rc < 0) {
		snprintf(err, errlen, "port %s: start failed: %s", pc->name,
			 rte_strerror(-rc));
		return rc;
	}
	if (p->rss && reta_set(p->port_id, info.reta_size, p->n_rxq) < 0)
		p->rss = false;	/* cannot pin the table: not trusted */
	return 0;
}

int
ps_ports_start(struct ps_dp *dp, char *err, size_t errlen)
{
	const struct ps_config *cfg = dp->cfg;
	unsigned int i, w;
	int rc;

	dp->n_ports = cfg->n_ports;
	for (i = 0; i < cfg->n_ports; i++) {
		dp->ports[i].cfg = &cfg->ports[i];
		dp->ports[i].port_id = UINT16_MAX;
		/* net ports bridge to their segment peer; tool ports are
		 * sinks until tool legs exist. */
		dp->ports[i].bridge_to = cfg->ports[i].role == PS_ROLE_NET ?
			(int)cfg->ports[i].peer : -1;
	}
	for (i = 0; i < cfg->n_ports; i++) {
		rc = port_start(dp, i, err, errlen);
		if (rc < 0)
			return rc;
	}
	/* Spread rx queues: queue q of every port goes to the same worker,
	 * rss.queue_workers[q], or q mod W. */
	for (i = 0; i < dp->n_ports; i++) {
		uint16_t q;

		for (q = 0; q < dp->ports[i].n_rxq; q++) {
			struct ps_worker *wk = dp->workers[cfg->n_rss_queues > 0 ?
							   cfg->rss_queue_worker[q] :
							   q % dp->n_workers];

			if (wk->n_rxq >= PS_RXQ_PER_WORKER_MAX) {
				snprintf(err, errlen, "too many rx queues for "
					 "worker %u", wk->id);
				return -E2BIG;
			}
			wk->rxq[wk->n_rxq].port = (uint16_t)i;
			wk->rxq[wk->n_rxq].queue = q;
			wk->n_rxq++;
		}
	}
	for (w = 0; w < dp->n_workers; w++)
		if (dp->workers[w]->n_rxq == 0)
			RTE_LOG(NOTICE, USER1, "worker %u polls no rx queue\n", w);

	/*
	 * Hardware dispatch only when every net port hashes symmetrically,
	 * with the same driver, one queue per worker and the same table:
	 * then both directions of a flow arrive on the same worker and no
	 * software hand-over is needed. Otherwise the workers hand selected
	 * segments to their owner (ps_worker.c).
	 */
	dp->rss_dispatch = dp->n_workers > 1;
	for (i = 0; i < dp->n_ports; i++) {
		const struct ps_dp_port *p = &dp->ports[i];

		if (p->cfg->role != PS_ROLE_NET)
			continue;
		if (!p->rss || (cfg->n_rss_queues == 0 && p->n_rxq != dp->n_workers) ||
		    strcmp(p->driver, dp->ports[p->cfg->peer].driver) != 0)
			dp->rss_dispatch = false;
	}
	RTE_LOG(NOTICE, USER1, "flow dispatch: %s\n",
		dp->n_workers == 1 ? "single worker" :
		dp->rss_dispatch ? "symmetric RSS" : "software");
	return 0;
}

void
ps_ports_stop(struct ps_dp *dp)
{
	unsigned int i;

	for (i = 0; i < dp->n_ports; i++) {
		if (dp->ports[i].port_id == UINT16_MAX)
			continue;
		(void)rte_eth_dev_stop(dp->ports[i].port_id);
		(void)rte_eth_dev_close(dp->ports[i].port_id);
		dp->ports[i].port_id = UINT16_MAX;
	}
}
