/* SPDX-License-Identifier: BSD-3-Clause
 * Packet layer unit tests: parser, builders, fragmentation.
 *
 * The frames below were generated once with an independent implementation
 * (checksums included) and are checked in as bytes; each carries the
 * tcpdump-style line it encodes.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ps_build.h"
#include "ps_csum.h"
#include "ps_frag.h"
#include "ps_pkt.h"

/*
 * 10.0.0.1.40000 > 10.0.0.2.443: Flags [S], seq 16909060, win 64240,
 * options [mss 1460,sackOK,TS val 286331153 ecr 0,nop,wscale 7], length 0
 */
static const uint8_t syn4[] = {
	/* Ethernet 02:00:00:00:00:01 > 02:00:00:00:00:02, type IPv4 */
	0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
	0x08, 0x00,
	/* IPv4 ihl 5, total 60, id 0x1234, DF, ttl 64, TCP, 10.0.0.1 > 10.0.0.2 */
	0x45, 0x00, 0x00, 0x3c, 0x12, 0x34, 0x40, 0x00, 0x40, 0x06, 0x14, 0x86,
	0x0a, 0x00, 0x00, 0x01, 0x0a, 0x00, 0x00, 0x02,
	/* TCP 40000 > 443, seq 0x01020304, doff 10, SYN, win 64240 */
	0x9c, 0x40, 0x01, 0xbb, 0x01, 0x02, 0x03, 0x04, 0x00, 0x00, 0x00, 0x00,
	0xa0, 0x02, 0xfa, 0xf0, 0x74, 0xe9, 0x00, 0x00,
	/* options: mss 1460, sackOK, TS val 0x11111111 ecr 0, nop, wscale 7 */
	0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a, 0x11, 0x11, 0x11, 0x11,
	0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x03, 0x07,
};

/*
 * 10.0.0.2.443 > 10.0.0.1.40000: Flags [P.], seq 2684354561:2684354566,
 * ack 16909061, win 502, options [nop,nop,TS val 572662306 ecr 286331153,
 * nop,nop,sack 3 {1000:2000}{3000:4000}{5000:6000}], length 5
 */
static const uint8_t ack4[] = {
	/* Ethernet 02:00:00:00:00:02 > 02:00:00:00:00:01, type IPv4 */
	0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02,
	0x08, 0x00,
	/* IPv4 ihl 5, total 85, id 0x4321, DF, ttl 63, TCP, 10.0.0.2 > 10.0.0.1 */
	0x45, 0x00, 0x00, 0x55, 0x43, 0x21, 0x40, 0x00, 0x3f, 0x06, 0xe4, 0x7f,
	0x0a, 0x00, 0x00, 0x02, 0x0a, 0x00, 0x00, 0x01,
	/* TCP 443 > 40000, seq 0xa0000001, ack 0x01020305, doff 15, PSH|ACK, win 502 */
	0x01, 0xbb, 0x9c, 0x40, 0xa0, 0x00, 0x00, 0x01, 0x01, 0x02, 0x03, 0x05,
	0xf0, 0x18, 0x01, 0xf6, 0xac, 0x3b, 0x00, 0x00,
	/* options: nop, nop, TS val 0x22222222 ecr 0x11111111 */
	0x01, 0x01, 0x08, 0x0a, 0x22, 0x22, 0x22, 0x22, 0x11, 0x11, 0x11, 0x11,
	/* options: nop, nop, sack 3 {1000:2000}{3000:4000}{5000:6000} */
	0x01, 0x01, 0x05, 0x1a, 0x00, 0x00, 0x03, 0xe8, 0x00, 0x00, 0x07, 0xd0,
	0x00, 0x00, 0x0b, 0xb8, 0x00, 0x00, 0x0f, 0xa0, 0x00, 0x00, 0x13, 0x88,
	0x00, 0x00, 0x17, 0x70,
	/* payload "hello" */
	0x68, 0x65, 0x6c, 0x6c, 0x6f,
};

/*
 * vlan 100: 192.168.1.10.5353 > 192.168.1.1.53: UDP, length 4
 */
static const uint8_t vlan_udp4[] = {
	/* Ethernet 02:00:00:00:00:01 > 02:00:00:00:00:02 */
	0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
	/* 802.1Q pcp 0 vid 100, type IPv4 */
	0x81, 0x00, 0x00, 0x64, 0x08, 0x00,
	/* IPv4 ihl 5, total 32, id 0x0001, no flags, ttl 64, UDP, 192.168.1.10 > 192.168.1.1 */
	0x45, 0x00, 0x00, 0x20, 0x00, 0x01, 0x00, 0x00, 0x40, 0x11, 0xf7, 0x70,
	0xc0, 0xa8, 0x01, 0x0a, 0xc0, 0xa8, 0x01, 0x01,
	/* UDP 5353 > 53, length 12 */
	0x14, 0xe9, 0x00, 0x35, 0x00, 0x0c, 0xc9, 0xbe,
	/* payload de ad be ef */
	0xde, 0xad, 0xbe, 0xef,
};

/*
 * vlan 200, vlan 100: 2001:db8::1.1234 > 2001:db8::2.5678: UDP, length 4
 */
static const uint8_t qinq_udp6[] = {
	/* Ethernet 02:00:00:00:00:01 > 02:00:00:00:00:02 */
	0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
	/* 802.1ad S-tag vid 200 */
	0x88, 0xa8, 0x00, 0xc8,
	/* 802.1Q C-tag pcp 1 vid 100, type IPv6 */
	0x81, 0x00, 0x20, 0x64, 0x86, 0xdd,
	/* IPv6 tc 0, flow 0x12345, plen 12, UDP, hlim 64, 2001:db8::1 > 2001:db8::2 */
	0x60, 0x01, 0x23, 0x45, 0x00, 0x0c, 0x11, 0x40, 0x20, 0x01, 0x0d, 0xb8,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
	0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x02,
	/* UDP 1234 > 5678, length 12 */
	0x04, 0xd2, 0x16, 0x2e, 0x00, 0x0c, 0xaa, 0x90,
	/* payload "ping" */
	0x70, 0x69, 0x6e, 0x67,
};

/*
 * 10.0.0.1 > 10.0.0.2: ICMP echo request, id 4660, seq 1, length 12,
 * options (RR, NOP, TS)
 */
static const uint8_t opts_icmp4[] = {
	/* Ethernet 02:00:00:00:00:01 > 02:00:00:00:00:02, type IPv4 */
	0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
	0x08, 0x00,
	/* IPv4 ihl 11, total 56, id 0x1234, DF, ttl 64, ICMP, 10.0.0.1 > 10.0.0.2 */
	0x4b, 0x00, 0x00, 0x38, 0x12, 0x34, 0x40, 0x00, 0x40, 0x01, 0xba, 0x76,
	0x0a, 0x00, 0x00, 0x01, 0x0a, 0x00, 0x00, 0x02,
	/* option record route: len 11, ptr 4, 2 empty slots */
	0x07, 0x0b, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	/* option nop */
	0x01,
	/* option timestamp: len 12, ptr 5, flag 0 (timestamps only), 2 empty slots */
	0x44, 0x0c, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	/* ICMP echo request id 0x1234 seq 1 */
	0x08, 0x00, 0x21, 0x04, 0x12, 0x34, 0x00, 0x01,
	/* payload "abcd" */
	0x61, 0x62, 0x63, 0x64,
};

/*
 * 10.1.0.1.4000 > 10.1.0.2.5000: UDP, length 50, fragment 1 of 3:
 * frag (0xabcd, offset 0, 24 bytes, MF)
 */
static const uint8_t frag_first[] = {
	/* Ethernet 02:00:00:00:00:01 > 02:00:00:00:00:02, type IPv4 */
	0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
	0x08, 0x00,
	/* IPv4 ihl 5, total 44, id 0xabcd, MF, offset 0, ttl 64, UDP, 10.1.0.1 > 10.1.0.2 */
	0x45, 0x00, 0x00, 0x2c, 0xab, 0xcd, 0x20, 0x00, 0x40, 0x11, 0x9a, 0xef,
	0x0a, 0x01, 0x00, 0x01, 0x0a, 0x01, 0x00, 0x02,
	/* UDP 4000 > 5000, length 58 (the whole datagram) */
	0x0f, 0xa0, 0x13, 0x88, 0x00, 0x3a, 0x3d, 0x13,
	/* data bytes 0..15 */
	0x01, 0x08, 0x0f, 0x16, 0x1d, 0x24, 0x2b, 0x32, 0x39, 0x40, 0x47, 0x4e,
	0x55, 0x5c, 0x63, 0x6a,
};

/*
 * 10.1.0.1.4000 > 10.1.0.2.5000: UDP, length 50, fragment 2 of 3:
 * frag (0xabcd, offset 24, 24 bytes, MF)
 */
static const uint8_t frag_middle[] = {
	/* Ethernet 02:00:00:00:00:01 > 02:00:00:00:00:02, type IPv4 */
	0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
	0x08, 0x00,
	/* IPv4 ihl 5, total 44, id 0xabcd, MF, offset 24, ttl 64, UDP, 10.1.0.1 > 10.1.0.2 */
	0x45, 0x00, 0x00, 0x2c, 0xab, 0xcd, 0x20, 0x03, 0x40, 0x11, 0x9a, 0xec,
	0x0a, 0x01, 0x00, 0x01, 0x0a, 0x01, 0x00, 0x02,
	/* data bytes 16..39 */
	0x71, 0x78, 0x7f, 0x86, 0x8d, 0x94, 0x9b, 0xa2, 0xa9, 0xb0, 0xb7, 0xbe,
	0xc5, 0xcc, 0xd3, 0xda, 0xe1, 0xe8, 0xef, 0xf6, 0xfd, 0x04, 0x0b, 0x12,
};

/*
 * 10.1.0.1.4000 > 10.1.0.2.5000: UDP, length 50, fragment 3 of 3:
 * frag (0xabcd, offset 48, 10 bytes)
 */
static const uint8_t frag_last[] = {
	/* Ethernet 02:00:00:00:00:01 > 02:00:00:00:00:02, type IPv4 */
	0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
	0x08, 0x00,
	/* IPv4 ihl 5, total 30, id 0xabcd, offset 48, ttl 64, UDP, 10.1.0.1 > 10.1.0.2 */
	0x45, 0x00, 0x00, 0x1e, 0xab, 0xcd, 0x00, 0x06, 0x40, 0x11, 0xba, 0xf7,
	0x0a, 0x01, 0x00, 0x01, 0x0a, 0x01, 0x00, 0x02,
	/* data bytes 40..49 */
	0x19, 0x20, 0x27, 0x2e, 0x35, 0x3c, 0x43, 0x4a, 0x51, 0x58,
};

/*
 * 2001:db8::a.50000 > 2001:db8::b.80: HBH RT(type 4) frag (0x01020304, 0) DSTOPT
 * Flags [.], seq 1:5, ack 2, win 1000, length 4
 */
static const uint8_t ext6_tcp[] = {
	/* Ethernet 02:00:00:00:00:01 > 02:00:00:00:00:02, type IPv6 */
	0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
	0x86, 0xdd,
	/* IPv6 plen 72, next hop-by-hop, hlim 64, 2001:db8::a > 2001:db8::b */
	0x60, 0x00, 0x00, 0x00, 0x00, 0x48, 0x00, 0x40, 0x20, 0x01, 0x0d, 0xb8,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0a,
	0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x0b,
	/* hop-by-hop: next routing, len 0, PadN 4 */
	0x2b, 0x00, 0x01, 0x04, 0x00, 0x00, 0x00, 0x00,
	/* routing: next fragment, len 2, type 4 (SRH), segments left 0,
	 * last entry 0, segment[0] 2001:db8::b */
	0x2c, 0x02, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x20, 0x01, 0x0d, 0xb8,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0b,
	/* fragment: next dest opts, offset 0, M 0 (atomic), id 0x01020304 */
	0x3c, 0x00, 0x00, 0x00, 0x01, 0x02, 0x03, 0x04,
	/* destination options: next TCP, len 0, PadN 4 */
	0x06, 0x00, 0x01, 0x04, 0x00, 0x00, 0x00, 0x00,
	/* TCP 50000 > 80, seq 1, ack 2, doff 5, ACK, win 1000 */
	0xc3, 0x50, 0x00, 0x50, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02,
	0x50, 0x10, 0x03, 0xe8, 0xf1, 0x58, 0x00, 0x00,
	/* payload "GET " */
	0x47, 0x45, 0x54, 0x20,
};

/*
 * 2001:db8::a > 2001:db8::b: AH(spi=0x00000100,seq=0x7): 500 > 500: UDP, length 4
 */
static const uint8_t ah6_udp[] = {
	/* Ethernet 02:00:00:00:00:01 > 02:00:00:00:00:02, type IPv6 */
	0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
	0x86, 0xdd,
	/* IPv6 plen 36, next AH, hlim 64, 2001:db8::a > 2001:db8::b */
	0x60, 0x00, 0x00, 0x00, 0x00, 0x24, 0x33, 0x40, 0x20, 0x01, 0x0d, 0xb8,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0a,
	0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x0b,
	/* AH: next UDP, len 4 (24 bytes), SPI 0x100, seq 7, ICV 01..0c */
	0x11, 0x04, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x07,
	0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c,
	/* UDP 500 > 500, length 12 */
	0x01, 0xf4, 0x01, 0xf4, 0x00, 0x0c, 0xd1, 0xda,
	/* payload "ike!" */
	0x69, 0x6b, 0x65, 0x21,
};

/*
 * 2001:db8::a > 2001:db8::b: frag (0xcafe, 1448|16)
 */
static const uint8_t frag6_middle[] = {
	/* Ethernet 02:00:00:00:00:01 > 02:00:00:00:00:02, type IPv6 */
	0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
	0x86, 0xdd,
	/* IPv6 plen 24, next fragment, hlim 64, 2001:db8::a > 2001:db8::b */
	0x60, 0x00, 0x00, 0x00, 0x00, 0x18, 0x2c, 0x40, 0x20, 0x01, 0x0d, 0xb8,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0a,
	0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x0b,
	/* fragment: next TCP, offset 1448, M 1, id 0xcafe */
	0x06, 0x00, 0x05, 0xa9, 0x00, 0x00, 0xca, 0xfe,
	/* fragment data (16 bytes) */
	0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x3b,
	0x3c, 0x3d, 0x3e, 0x3f,
};

/*
 * fe80::1 > fe80::2: ICMP6, echo request, id 16962, seq 7, length 12
 */
static const uint8_t echo6[] = {
	/* Ethernet 02:00:00:00:00:01 > 02:00:00:00:00:02, type IPv6 */
	0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
	0x86, 0xdd,
	/* IPv6 plen 12, next ICMPv6, hlim 255, fe80::1 > fe80::2 */
	0x60, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x3a, 0xff, 0xfe, 0x80, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
	0xfe, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x02,
	/* ICMPv6 echo request, id 0x4242, seq 7 */
	0x80, 0x00, 0x7b, 0xa4, 0x42, 0x42, 0x00, 0x07,
	/* payload "abcd" */
	0x61, 0x62, 0x63, 0x64,
};

/*
 * ARP, Request who-has 10.0.0.2 tell 10.0.0.1, length 28
 */
static const uint8_t arp[] = {
	/* Ethernet 02:00:00:00:00:01 > ff:ff:ff:ff:ff:ff, type ARP */
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
	0x08, 0x06,
	/* ARP request who-has 10.0.0.2 tell 10.0.0.1 */
	0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00,
	0x00, 0x01, 0x0a, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x0a, 0x00, 0x00, 0x02,
};

/*
 * vlan 10, vlan 20, vlan 30: one tag too many
 */
static const uint8_t three_tags[] = {
	/* Ethernet 02:00:00:00:00:01 > 02:00:00:00:00:02 */
	0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
	/* 802.1ad vid 10, 802.1Q vid 20, 802.1Q vid 30, type IPv4 */
	0x88, 0xa8, 0x00, 0x0a, 0x81, 0x00, 0x00, 0x14, 0x81, 0x00, 0x00, 0x1e,
	0x08, 0x00,
	/* IPv4 (never reached) */
	0x45, 0x00, 0x00, 0x14, 0x12, 0x34, 0x40, 0x00, 0x40, 0x11, 0x14, 0xa3,
	0x0a, 0x00, 0x00, 0x01, 0x0a, 0x00, 0x00, 0x02,
};

/*
 * vlan 5, vlan 6: ARP, Request who-has 10.0.0.2 tell 10.0.0.1
 */
static const uint8_t qinq9100_arp[] = {
	/* Ethernet 02:00:00:00:00:01 > ff:ff:ff:ff:ff:ff */
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
	/* 0x9100 tag vid 5, 802.1Q vid 6, type ARP */
	0x91, 0x00, 0x00, 0x05, 0x81, 0x00, 0x00, 0x06, 0x08, 0x06,
	/* ARP request who-has 10.0.0.2 tell 10.0.0.1 */
	0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00,
	0x00, 0x01, 0x0a, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x0a, 0x00, 0x00, 0x02,
};

/*
 * 10.0.0.1.40000 > 10.0.0.2.443: Flags [.], ack 2684354566, win 501, length 0,
 * padded to the 60-byte Ethernet minimum
 */
static const uint8_t ack4_padded[] = {
	/* Ethernet 02:00:00:00:00:01 > 02:00:00:00:00:02, type IPv4 */
	0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
	0x08, 0x00,
	/* IPv4 ihl 5, total 40, id 0x1235, DF, ttl 64, TCP, 10.0.0.1 > 10.0.0.2 */
	0x45, 0x00, 0x00, 0x28, 0x12, 0x35, 0x40, 0x00, 0x40, 0x06, 0x14, 0x99,
	0x0a, 0x00, 0x00, 0x01, 0x0a, 0x00, 0x00, 0x02,
	/* TCP 40000 > 443, seq 0x01020305, ack 0xa0000006, doff 5, ACK, win 501 */
	0x9c, 0x40, 0x01, 0xbb, 0x01, 0x02, 0x03, 0x05, 0xa0, 0x00, 0x00, 0x06,
	0x50, 0x10, 0x01, 0xf5, 0x57, 0xd4, 0x00, 0x00,
	/* Ethernet padding to 60 bytes (not part of the datagram) */
	0xee, 0xee, 0xee, 0xee, 0xee, 0xee,
};

/*
 * 2001:db8::a > 2001:db8::b: srcrt (type 0, segleft 1) 2001:db8::a.7 > 2001:db8::ff.7: UDP
 */
static const uint8_t rh0_udp6[] = {
	/* Ethernet 02:00:00:00:00:01 > 02:00:00:00:00:02, type IPv6 */
	0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
	0x86, 0xdd,
	/* IPv6 plen 52, next routing, hlim 64, 2001:db8::a > 2001:db8::b */
	0x60, 0x00, 0x00, 0x00, 0x00, 0x34, 0x2b, 0x40, 0x20, 0x01, 0x0d, 0xb8,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0a,
	0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x0b,
	/* routing: next UDP, len 4, type 0, segments left 1, 2001:db8::fe, 2001:db8::ff (final) */
	0x11, 0x04, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x20, 0x01, 0x0d, 0xb8,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xfe,
	0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0xff,
	/* UDP 7 > 7, length 12, checksum over the final destination 2001:db8::ff */
	0x00, 0x07, 0x00, 0x07, 0x00, 0x0c, 0xd5, 0x7a,
	/* payload "echo" */
	0x65, 0x63, 0x68, 0x6f,
};

/*
 * 10.0.0.1 > 10.0.0.2: frag (0x7777, offset 0, 8 bytes, MF) of a TCP SYN
 */
static const uint8_t frag_tiny[] = {
	/* Ethernet 02:00:00:00:00:01 > 02:00:00:00:00:02, type IPv4 */
	0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
	0x08, 0x00,
	/* IPv4 ihl 5, total 28, id 0x7777, MF, offset 0, ttl 64, TCP, 10.0.0.1 > 10.0.0.2 */
	0x45, 0x00, 0x00, 0x1c, 0x77, 0x77, 0x20, 0x00, 0x40, 0x06, 0xcf, 0x62,
	0x0a, 0x00, 0x00, 0x01, 0x0a, 0x00, 0x00, 0x02,
	/* first 8 bytes of a TCP header: 40000 > 443, seq 0x01020304 */
	0x9c, 0x40, 0x01, 0xbb, 0x01, 0x02, 0x03, 0x04,
};

/*
 * LLDP, length 20: chassis 02:00:00:00:00:01, port p1, TTL 120s
 */
static const uint8_t lldp[] = {
	/* Ethernet 02:00:00:00:00:01 > 01:80:c2:00:00:0e, type LLDP */
	0x01, 0x80, 0xc2, 0x00, 0x00, 0x0e, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
	0x88, 0xcc,
	/* chassis id (MAC 02:00:00:00:00:01), port id "p1", TTL 120, end */
	0x02, 0x07, 0x04, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x04, 0x03, 0x07,
	0x70, 0x31, 0x06, 0x02, 0x00, 0x78, 0x00, 0x00,
};

static const uint8_t mac_a[6] = { 0x02, 0, 0, 0, 0, 0x01 };
static const uint8_t mac_b[6] = { 0x02, 0, 0, 0, 0, 0x02 };
static const uint8_t ip4_a[4] = { 10, 0, 0, 1 };
static const uint8_t ip4_b[4] = { 10, 0, 0, 2 };
/* 2001:db8::a and 2001:db8::b */
static const uint8_t ip6_a[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 0x0a };
static const uint8_t ip6_b[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 0x0b };

static enum ps_pkt_reason
parse(const uint8_t *frame, size_t len, struct ps_pkt *p)
{
	return ps_pkt_parse(frame, (uint32_t)len, p);
}

/* What every OK parse promises, for a frame of len bytes. */
static void
assert_consistent(const struct ps_pkt *p, uint32_t len)
{
	assert_true(p->n_vlans <= PS_VLAN_MAX);
	assert_int_equal(p->l3_off, PS_ETH_HLEN + PS_VLAN_HLEN * p->n_vlans);
	assert_true(p->l3_off <= len);
	assert_true(p->l3_end <= len);
	assert_true(p->l3_off + p->l3_hdr_len <= p->l3_end);
	assert_true(p->payload_off >= p->l3_off + p->l3_hdr_len);
	assert_true(p->payload_off + p->payload_len <= p->l3_end);
	assert_true(p->n_sack <= PS_TCP_SACK_MAX);
	if (p->l3 == PS_L3_NONE)
		assert_int_equal(p->l3_end, len);
	if (p->has_l4) {
		assert_int_equal(p->l4_off, p->l3_off + p->l3_hdr_len);
		assert_true(p->l4_off + p->l4_hdr_len <= p->l3_end);
		assert_int_equal(p->payload_off, p->l4_off + p->l4_hdr_len);
		assert_int_equal(p->frag_off_bytes, 0);
	} else {
		assert_int_equal(p->l4_off, 0);
		assert_int_equal(p->l4_hdr_len, 0);
	}
}

static void
assert_ok(const uint8_t *frame, size_t len, struct ps_pkt *p)
{
	assert_int_equal(parse(frame, len, p), PS_PKT_OK);
	assert_consistent(p, (uint32_t)len);
	assert_true(ps_pkt_ip4_csum_ok(frame, p));
	assert_true(ps_pkt_l4_csum_ok(frame, p));
}

/* ---- L2 ---- */

static void
test_eth_ipv4(void **state)
{
	struct ps_pkt p;

	(void)state;
	assert_ok(syn4, sizeof(syn4), &p);
	assert_memory_equal(p.dst_mac, mac_b, 6);
	assert_memory_equal(p.src_mac, mac_a, 6);
	assert_int_equal(p.n_vlans, 0);
	assert_int_equal(p.ethertype, PS_ETH_P_IPV4);
	assert_int_equal(p.l3_off, 14);
	assert_int_equal(p.l3, PS_L3_IPV4);
}

static void
test_vlan_single(void **state)
{
	uint8_t f[sizeof(vlan_udp4)];
	struct ps_pkt p;

	(void)state;
	assert_ok(vlan_udp4, sizeof(vlan_udp4), &p);
	assert_int_equal(p.n_vlans, 1);
	assert_int_equal(p.vlan_tpid[0], PS_ETH_P_8021Q);
	assert_int_equal(p.vlan_tci[0], 100);
	assert_int_equal(p.ethertype, PS_ETH_P_IPV4);
	assert_int_equal(p.l3_off, 18);
	assert_int_equal(p.l3_end, 18 + 32);
	assert_false(p.df);
	assert_int_equal(p.frag_id, 1);
	assert_int_equal(p.ip_proto, PS_IPPROTO_UDP);
	assert_true(p.has_l4);
	assert_int_equal(p.l4_off, 38);
	assert_int_equal(p.l4_hdr_len, 8);
	assert_int_equal(p.sport, 5353);
	assert_int_equal(p.dport, 53);
	assert_int_equal(p.payload_off, 46);
	assert_int_equal(p.payload_len, 4);
	assert_memory_equal(vlan_udp4 + p.payload_off, "\xde\xad\xbe\xef", 4);

	/* a UDP length short of the IP payload bounds the UDP payload */
	memcpy(f, vlan_udp4, sizeof(vlan_udp4));
	ps_put_be16(f + 38 + 4, 8 + 2);
	assert_int_equal(parse(f, sizeof(f), &p), PS_PKT_OK);
	assert_int_equal(p.l3_end, 18 + 32);
	assert_int_equal(p.payload_len, 2);
}

static void
test_vlan_qinq(void **state)
{
	static const uint8_t src[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
	static const uint8_t dst[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 2 };
	struct ps_pkt p;

	(void)state;
	assert_ok(qinq_udp6, sizeof(qinq_udp6), &p);
	assert_int_equal(p.n_vlans, 2);
	assert_int_equal(p.vlan_tpid[0], PS_ETH_P_8021AD);
	assert_int_equal(p.vlan_tci[0], 200);
	assert_int_equal(p.vlan_tpid[1], PS_ETH_P_8021Q);
	assert_int_equal(p.vlan_tci[1], 0x2064);	/* pcp 1, vid 100 */
	assert_int_equal(p.ethertype, PS_ETH_P_IPV6);
	assert_int_equal(p.l3_off, 22);
	assert_int_equal(p.l3, PS_L3_IPV6);
	assert_int_equal(p.l3_hdr_len, 40);
	assert_int_equal(p.l3_end, 22 + 40 + 12);
	assert_int_equal(p.flow_label, 0x12345);
	assert_int_equal(p.tos, 0);
	assert_int_equal(p.ttl, 64);
	assert_memory_equal(p.src.b, src, 16);
	assert_memory_equal(p.dst.b, dst, 16);
	assert_int_equal(p.ip_proto, PS_IPPROTO_UDP);
	assert_int_equal(p.sport, 1234);
	assert_int_equal(p.dport, 5678);
	assert_int_equal(p.payload_off, 70);
	assert_int_equal(p.payload_len, 4);
}

static void
test_vlan_three_tags(void **state)
{
	struct ps_pkt p;

	(void)state;
	assert_int_equal(parse(three_tags, sizeof(three_tags), &p), PS_PKT_VLAN_TOO_DEEP);
	assert_int_equal(p.n_vlans, 2);
	assert_int_equal(p.vlan_tci[0], 10);
	assert_int_equal(p.vlan_tci[1], 20);
}

static void
test_non_ip(void **state)
{
	struct ps_pkt p;

	(void)state;
	assert_ok(arp, sizeof(arp), &p);
	assert_int_equal(p.l3, PS_L3_NONE);
	assert_int_equal(p.ethertype, PS_ETH_P_ARP);
	assert_int_equal(p.l3_off, 14);
	assert_int_equal(p.payload_off, 14);
	assert_int_equal(p.payload_len, 28);
	assert_false(p.has_l4);

	assert_ok(qinq9100_arp, sizeof(qinq9100_arp), &p);
	assert_int_equal(p.n_vlans, 2);
	assert_int_equal(p.vlan_tpid[0], PS_ETH_P_QINQ_OLD);
	assert_int_equal(p.vlan_tci[0], 5);
	assert_int_equal(p.vlan_tpid[1], PS_ETH_P_8021Q);
	assert_int_equal(p.vlan_tci[1], 6);
	assert_int_equal(p.ethertype, PS_ETH_P_ARP);
	assert_int_equal(p.l3_off, 22);
	assert_int_equal(p.l3, PS_L3_NONE);

	assert_ok(lldp, sizeof(lldp), &p);
	assert_int_equal(p.ethertype, PS_ETH_P_LLDP);
	assert_int_equal(p.l3, PS_L3_NONE);
	assert_int_equal(p.payload_len, sizeof(lldp) - 14);
}

/* ---- IPv4 ---- */

static void
test_ipv4_options(void **state)
{
	struct ps_pkt p;

	(void)state;
	assert_ok(opts_icmp4, sizeof(opts_icmp4), &p);
	assert_int_equal(p.l3_hdr_len, 44);
	assert_int_equal(p.l3_end, 14 + 56);
	assert_int_equal(p.ip_proto, PS_IPPROTO_ICMP);
	assert_memory_equal(p.src.b, ip4_a, 4);
	assert_memory_equal(p.dst.b, ip4_b, 4);
	assert_true(p.df);
	assert_false(p.is_frag);
	assert_true(p.has_l4);
	assert_int_equal(p.l4_off, 58);
	assert_int_equal(p.l4_hdr_len, 8);
	assert_int_equal(p.icmp_type, PS_ICMP_ECHO);
	assert_int_equal(p.icmp_code, 0);
	assert_int_equal(p.icmp_id, 0x1234);
	assert_int_equal(p.icmp_seq, 1);
	assert_int_equal(p.payload_off, 66);
	assert_int_equal(p.payload_len, 4);
}

static void
test_ipv4_fragments(void **state)
{
	static const uint8_t src[4] = { 10, 1, 0, 1 }, dst[4] = { 10, 1, 0, 2 };
	uint8_t dgram[58];
	struct ps_pkt p;

	(void)state;
	assert_ok(frag_first, sizeof(frag_first), &p);
	assert_true(p.is_frag);
	assert_true(p.more_frags);
	assert_false(p.df);
	assert_int_equal(p.frag_off_bytes, 0);
	assert_int_equal(p.frag_id, 0xabcd);
	assert_true(p.has_l4);	/* the UDP header is in the first fragment */
	assert_int_equal(p.sport, 4000);
	assert_int_equal(p.dport, 5000);
	assert_int_equal(p.payload_off, 42);
	assert_int_equal(p.payload_len, 16);
	memcpy(dgram, frag_first + 34, 24);

	assert_ok(frag_middle, sizeof(frag_middle), &p);
	assert_true(p.is_frag);
	assert_true(p.more_frags);
	assert_int_equal(p.frag_off_bytes, 24);
	assert_int_equal(p.ip_proto, PS_IPPROTO_UDP);
	assert_false(p.has_l4);
	assert_int_equal(p.sport, 0);
	assert_int_equal(p.payload_off, 34);
	assert_int_equal(p.payload_len, 24);
	memcpy(dgram + p.frag_off_bytes, frag_middle + p.payload_off, p.payload_len);

	assert_ok(frag_last, sizeof(frag_last), &p);
	assert_true(p.is_frag);
	assert_false(p.more_frags);
	assert_int_equal(p.frag_off_bytes, 48);
	assert_false(p.has_l4);
	assert_int_equal(p.payload_len, 10);
	memcpy(dgram + p.frag_off_bytes, frag_last + p.payload_off, p.payload_len);

	/* the reassembled datagram carries a valid UDP checksum */
	assert_int_equal(ps_csum_fold(ps_csum_partial(dgram, sizeof(dgram),
			ps_csum_pseudo4(src, dst, PS_IPPROTO_UDP, sizeof(dgram)))), 0);
}

static void
test_ipv4_tiny_first_fragment(void **state)
{
	struct ps_pkt p;

	(void)state;
	/* a first fragment too short for the TCP header: OK, without L4 */
	assert_ok(frag_tiny, sizeof(frag_tiny), &p);
	assert_true(p.is_frag);
	assert_int_equal(p.ip_proto, PS_IPPROTO_TCP);
	assert_false(p.has_l4);
	assert_int_equal(p.payload_off, 34);
	assert_int_equal(p.payload_len, 8);
}

static void
test_l2_padding_excluded(void **state)
{
	struct ps_pkt p;

	(void)state;
	assert_ok(ack4_padded, sizeof(ack4_padded), &p);
	assert_int_equal(sizeof(ack4_padded), 60);
	assert_int_equal(p.l3_end, 54);
	assert_int_equal(p.payload_off, 54);
	assert_int_equal(p.payload_len, 0);
	assert_int_equal(p.tcp_flags, PS_TCP_ACK);
}

/* ---- IPv6 ---- */

static void
test_ipv6_ext_chain(void **state)
{
	struct ps_pkt p;

	(void)state;
	assert_ok(ext6_tcp, sizeof(ext6_tcp), &p);
	assert_int_equal(p.l3, PS_L3_IPV6);
	/* 40 + hop-by-hop 8 + routing 24 + fragment 8 + destination options 8 */
	assert_int_equal(p.l3_hdr_len, 88);
	assert_int_equal(p.l3_end, 14 + 40 + 72);
	assert_int_equal(p.ip_proto, PS_IPPROTO_TCP);
	assert_memory_equal(p.src.b, ip6_a, 16);
	assert_memory_equal(p.dst.b, ip6_b, 16);
	assert_int_equal(p.ip6_final_dst_off, 0);	/* segments left 0 */
	assert_int_equal(p.ip6_frag_hdr_off, 14 + 40 + 8 + 24);
	assert_int_equal(p.frag_id, 0x01020304);
	assert_false(p.is_frag);			/* atomic fragment */
	assert_true(p.has_l4);
	assert_int_equal(p.l4_off, 102);
	assert_int_equal(p.sport, 50000);
	assert_int_equal(p.dport, 80);
	assert_int_equal(p.seq, 1);
	assert_int_equal(p.ack, 2);
	assert_int_equal(p.tcp_flags, PS_TCP_ACK);
	assert_int_equal(p.window, 1000);
	assert_int_equal(p.payload_off, 122);
	assert_int_equal(p.payload_len, 4);
	assert_memory_equal(ext6_tcp + p.payload_off, "GET ", 4);
}

static void
test_ipv6_ah(void **state)
{
	struct ps_pkt p;

	(void)state;
	assert_ok(ah6_udp, sizeof(ah6_udp), &p);
	assert_int_equal(p.l3_hdr_len, 40 + 24);	/* AH: (4 + 2) * 4 */
	assert_int_equal(p.ip_proto, PS_IPPROTO_UDP);
	assert_int_equal(p.l4_off, 78);
	assert_int_equal(p.sport, 500);
	assert_int_equal(p.dport, 500);
	assert_int_equal(p.payload_len, 4);
}

static void
test_ipv6_fragment_no_next(void **state)
{
	/* Ethernet 02:00:00:00:00:01 > 02:00:00:00:00:02, IPv6 2001:db8::a >
	 * 2001:db8::b, plen 4, next header 59 (none), 4 bytes of trailer */
	uint8_t none6[14 + 40 + 4], f[sizeof(frag6_middle)];
	struct ps_ip6_spec ip6 = { .next_hdr = PS_IPPROTO_NONE, .hop_limit = 1 };
	struct ps_eth_spec eth = { .n_vlans = 0 };
	struct ps_pkt p;

	(void)state;
	assert_ok(frag6_middle, sizeof(frag6_middle), &p);
	assert_true(p.is_frag);
	assert_true(p.more_frags);
	assert_int_equal(p.frag_off_bytes, 1448);
	assert_int_equal(p.frag_id, 0xcafe);
	assert_int_equal(p.ip_proto, PS_IPPROTO_TCP);
	assert_int_equal(p.l3_hdr_len, 48);
	assert_int_equal(p.ip6_frag_hdr_off, 54);
	assert_false(p.has_l4);
	assert_int_equal(p.payload_off, 62);
	assert_int_equal(p.payload_len, 16);

	/* what follows a non-first fragment's header is data, whatever next says */
	memcpy(f, frag6_middle, sizeof(frag6_middle));
	f[54] = PS_IPPROTO_DSTOPTS;
	assert_ok(f, sizeof(f), &p);
	assert_int_equal(p.ip_proto, PS_IPPROTO_DSTOPTS);
	assert_int_equal(p.l3_hdr_len, 48);
	assert_int_equal(p.payload_len, 16);

	memcpy(eth.dst, mac_b, 6);
	memcpy(eth.src, mac_a, 6);
	memcpy(ip6.src, ip6_a, 16);
	memcpy(ip6.dst, ip6_b, 16);
	assert_int_equal(ps_build_eth(none6, sizeof(none6), &eth, PS_ETH_P_IPV6), 14);
	assert_int_equal(ps_build_ip6(none6 + 14, sizeof(none6) - 14, &ip6, 4), 40);
	memcpy(none6 + 54, "\x01\x02\x03\x04", 4);
	assert_ok(none6, sizeof(none6), &p);
	assert_int_equal(p.ip_proto, PS_IPPROTO_NONE);
	assert_int_equal(p.l3_hdr_len, 40);
	assert_false(p.has_l4);
	assert_int_equal(p.payload_off, 54);
	assert_int_equal(p.payload_len, 4);
}

/*
 * Ethernet + IPv6 2001:db8::a > 2001:db8::b whose payload is n destination
 * options headers (len 0, PadN 4; the last says next header 59), and then
 * a TCP-less end. Returns the frame length.
 */
static uint32_t
dstopts_chain(uint8_t *buf, size_t cap, unsigned int n)
{
	struct ps_ip6_spec ip6 = { .next_hdr = PS_IPPROTO_DSTOPTS, .hop_limit = 64 };
	struct ps_eth_spec eth = { .n_vlans = 0 };
	uint8_t *h = buf + 14 + 40;
	unsigned int i;

	memcpy(eth.dst, mac_b, 6);
	memcpy(eth.src, mac_a, 6);
	memcpy(ip6.src, ip6_a, 16);
	memcpy(ip6.dst, ip6_b, 16);
	assert_true(cap >= 14 + 40 + 8 * n);
	assert_int_equal(ps_build_eth(buf, cap, &eth, PS_ETH_P_IPV6), 14);
	assert_int_equal(ps_build_ip6(buf + 14, cap - 14, &ip6, 8 * n), 40);
	for (i = 0; i < n; i++, h += 8) {
		const uint8_t opt[8] = { i + 1 < n ? PS_IPPROTO_DSTOPTS : PS_IPPROTO_NONE, 0, 1, 4 };

		memcpy(h, opt, 8);
	}
	return 14 + 40 + 8 * n;
}

static void
test_ipv6_ext_cap(void **state)
{
	uint8_t buf[14 + 40 + 8 * 9];
	struct ps_pkt p;
	uint32_t len;

	(void)state;
	len = dstopts_chain(buf, sizeof(buf), PS_IP6_EXT_MAX);
	assert_ok(buf, len, &p);
	assert_int_equal(p.ip_proto, PS_IPPROTO_NONE);
	assert_int_equal(p.l3_hdr_len, 40 + 8 * PS_IP6_EXT_MAX);
	len = dstopts_chain(buf, sizeof(buf), PS_IP6_EXT_MAX + 1);
	assert_int_equal(parse(buf, len, &p), PS_PKT_IP6_EXT_TOO_MANY);
}

static void
test_ipv6_routing_final_dst(void **state)
{
	uint8_t f[sizeof(rh0_udp6)];
	struct ps_pkt p;

	(void)state;
	/* the UDP checksum was computed over 2001:db8::ff, the last address */
	assert_ok(rh0_udp6, sizeof(rh0_udp6), &p);
	assert_int_equal(p.ip6_final_dst_off, 14 + 40 + 8 + 16);
	assert_int_equal(p.ip_proto, PS_IPPROTO_UDP);
	assert_int_equal(p.sport, 7);

	/* with no segment left, the header's destination is final: mismatch */
	memcpy(f, rh0_udp6, sizeof(f));
	f[14 + 40 + 3] = 0;
	assert_int_equal(parse(f, sizeof(f), &p), PS_PKT_OK);
	assert_int_equal(p.ip6_final_dst_off, 0);
	assert_false(ps_pkt_l4_csum_ok(f, &p));
}

/* ---- L4 ---- */

static void
test_tcp_syn_options(void **state)
{
	struct ps_pkt p;

	(void)state;
	assert_ok(syn4, sizeof(syn4), &p);
	assert_int_equal(p.l3_hdr_len, 20);
	assert_int_equal(p.l3_end, 74);
	assert_int_equal(p.ttl, 64);
	assert_int_equal(p.frag_id, 0x1234);
	assert_true(p.df);
	assert_false(p.is_frag);
	assert_int_equal(p.ip_proto, PS_IPPROTO_TCP);
	assert_true(p.has_l4);
	assert_int_equal(p.l4_off, 34);
	assert_int_equal(p.l4_hdr_len, 40);
	assert_int_equal(p.sport, 40000);
	assert_int_equal(p.dport, 443);
	assert_int_equal(p.seq, 0x01020304);
	assert_int_equal(p.ack, 0);
	assert_int_equal(p.tcp_flags, PS_TCP_SYN);
	assert_int_equal(p.window, 64240);
	assert_int_equal(p.urg, 0);
	assert_true(p.has_mss);
	assert_int_equal(p.mss, 1460);
	assert_true(p.sack_ok);
	assert_true(p.has_ts);
	assert_int_equal(p.ts_val, 0x11111111);
	assert_int_equal(p.ts_ecr, 0);
	assert_true(p.has_wscale);
	assert_int_equal(p.wscale, 7);
	assert_int_equal(p.n_sack, 0);
	assert_int_equal(p.payload_off, 74);
	assert_int_equal(p.payload_len, 0);
}

static void
test_tcp_ack_sack_ts(void **state)
{
	struct ps_pkt p;

	(void)state;
	assert_ok(ack4, sizeof(ack4), &p);
	assert_int_equal(p.ttl, 63);
	assert_int_equal(p.l4_hdr_len, 60);
	assert_int_equal(p.sport, 443);
	assert_int_equal(p.dport, 40000);
	assert_int_equal(p.seq, 0xa0000001);
	assert_int_equal(p.ack, 0x01020305);
	assert_int_equal(p.tcp_flags, PS_TCP_PSH | PS_TCP_ACK);
	assert_int_equal(p.window, 502);
	assert_false(p.has_mss);
	assert_false(p.has_wscale);
	assert_false(p.sack_ok);
	assert_true(p.has_ts);
	assert_int_equal(p.ts_val, 0x22222222);
	assert_int_equal(p.ts_ecr, 0x11111111);
	assert_int_equal(p.n_sack, 3);
	assert_int_equal(p.sack[0][0], 1000);
	assert_int_equal(p.sack[0][1], 2000);
	assert_int_equal(p.sack[1][0], 3000);
	assert_int_equal(p.sack[1][1], 4000);
	assert_int_equal(p.sack[2][0], 5000);
	assert_int_equal(p.sack[2][1], 6000);
	assert_int_equal(p.payload_off, 94);
	assert_int_equal(p.payload_len, 5);
	assert_memory_equal(ack4 + p.payload_off, "hello", 5);
}

static void
test_icmp6_echo(void **state)
{
	struct ps_pkt p;

	(void)state;
	assert_ok(echo6, sizeof(echo6), &p);
	assert_int_equal(p.ip_proto, PS_IPPROTO_ICMPV6);
	assert_int_equal(p.ttl, 255);
	assert_true(p.has_l4);
	assert_int_equal(p.icmp_type, PS_ICMP6_ECHO);
	assert_int_equal(p.icmp_code, 0);
	assert_int_equal(p.icmp_id, 0x4242);
	assert_int_equal(p.icmp_seq, 7);
	assert_int_equal(p.payload_len, 4);
}

/* ---- checksums on parsed frames ---- */

static void
test_csum_checkers(void **state)
{
	uint8_t f[128];
	struct ps_pkt p;

	(void)state;
	/* a wrong TCP checksum still parses; only the checker notices */
	memcpy(f, ack4, sizeof(ack4));
	f[sizeof(ack4) - 1] ^= 0x20;	/* "hellO" */
	assert_int_equal(parse(f, sizeof(ack4), &p), PS_PKT_OK);
	assert_true(ps_pkt_ip4_csum_ok(f, &p));
	assert_false(ps_pkt_l4_csum_ok(f, &p));

	/* the same for the IPv4 header checksum (TTL changed) */
	memcpy(f, ack4, sizeof(ack4));
	f[14 + 8]--;
	assert_int_equal(parse(f, sizeof(ack4), &p), PS_PKT_OK);
	assert_false(ps_pkt_ip4_csum_ok(f, &p));
	assert_true(ps_pkt_l4_csum_ok(f, &p));

	/* ICMP over IPv4 has no pseudo-header: a changed address keeps it valid */
	memcpy(f, opts_icmp4, sizeof(opts_icmp4));
	f[14 + 15] = 9;
	assert_int_equal(parse(f, sizeof(opts_icmp4), &p), PS_PKT_OK);
	assert_true(ps_pkt_l4_csum_ok(f, &p));
	f[sizeof(opts_icmp4) - 1] ^= 1;
	assert_false(ps_pkt_l4_csum_ok(f, &p));

	/* ICMPv6 has one: a changed source breaks it */
	memcpy(f, echo6, sizeof(echo6));
	f[14 + 8 + 15] ^= 1;
	assert_int_equal(parse(f, sizeof(echo6), &p), PS_PKT_OK);
	assert_false(ps_pkt_l4_csum_ok(f, &p));

	/* UDP checksum 0: "none" over IPv4, invalid over IPv6 */
	memcpy(f, vlan_udp4, sizeof(vlan_udp4));
	f[38 + 6] = 0;
	f[38 + 7] = 0;
	assert_int_equal(parse(f, sizeof(vlan_udp4), &p), PS_PKT_OK);
	assert_true(ps_pkt_l4_csum_ok(f, &p));
	f[38 + 7] = 1;
	assert_false(ps_pkt_l4_csum_ok(f, &p));
	memcpy(f, qinq_udp6, sizeof(qinq_udp6));
	f[62 + 6] = 0;
	f[62 + 7] = 0;
	assert_int_equal(parse(f, sizeof(qinq_udp6), &p), PS_PKT_OK);
	assert_false(ps_pkt_l4_csum_ok(f, &p));

	/* fragments cannot be checked on their own */
	memcpy(f, frag_first, sizeof(frag_first));
	f[sizeof(frag_first) - 1] ^= 0xff;
	assert_int_equal(parse(f, sizeof(frag_first), &p), PS_PKT_OK);
	assert_true(ps_pkt_l4_csum_ok(f, &p));
	assert_int_equal(ps_pkt_l4_sum(f, &p), 0);
}

/* ---- every reason, from a crafted frame ---- */

struct patch {
	uint16_t off;
	uint8_t width;		/* 0: unused, 1 or 2 bytes (big-endian) */
	uint16_t val;
};

struct bad_frame {
	const char *what;
	const uint8_t *base;
	size_t base_len;
	uint32_t len;		/* bytes handed to the parser; 0: all */
	struct patch patch[2];
	enum ps_pkt_reason expect;
};

#define BASE(a) a, sizeof(a)

static const struct bad_frame bad_frames[] = {
	{ "valid SYN", BASE(syn4), 0, { { 0 } }, PS_PKT_OK },
	{ "13 bytes of Ethernet", BASE(syn4), 13, { { 0 } }, PS_PKT_ETH_TRUNC },
	{ "empty frame", BASE(syn4), 0xffffffff, { { 0 } }, PS_PKT_ETH_TRUNC },
	{ "802.1Q TPID without TCI", BASE(vlan_udp4), 14, { { 0 } }, PS_PKT_VLAN_TRUNC },
	{ "802.1Q TCI without inner type", BASE(vlan_udp4), 17, { { 0 } }, PS_PKT_VLAN_TRUNC },
	{ "three VLAN tags", BASE(three_tags), 0, { { 0 } }, PS_PKT_VLAN_TOO_DEEP },
	{ "19 bytes of IPv4 header", BASE(syn4), 14 + 19, { { 0 } }, PS_PKT_IP4_TRUNC },
	{ "version 6 in an IPv4 frame", BASE(syn4), 0, { { 14, 1, 0x65 } }, PS_PKT_IP4_VERSION },
	{ "ihl 4", BASE(syn4), 0, { { 14, 1, 0x44 } }, PS_PKT_IP4_HDR_LEN },
	{ "ihl 15 beyond the frame", BASE(vlan_udp4), 0, { { 18, 1, 0x4f } }, PS_PKT_IP4_HDR_LEN },
	{ "total length 19 < ihl*4", BASE(syn4), 0, { { 16, 2, 19 } }, PS_PKT_IP4_TOTAL_LEN },
	{ "total length 61 > 60 present", BASE(syn4), 0, { { 16, 2, 61 } }, PS_PKT_IP4_TOTAL_LEN },
	{ "record route length 1", BASE(opts_icmp4), 0, { { 35, 1, 1 } }, PS_PKT_IP4_OPTIONS },
	{ "record route past the header", BASE(opts_icmp4), 0, { { 35, 1, 30 } },
	  PS_PKT_IP4_OPTIONS },
	{ "option kind in the last byte, no length", BASE(opts_icmp4), 0,
	  { { 47, 1, 11 }, { 57, 1, 7 } }, PS_PKT_IP4_OPTIONS },
	{ "39 bytes of IPv6 header", BASE(qinq_udp6), 22 + 39, { { 0 } }, PS_PKT_IP6_TRUNC },
	{ "version 4 in an IPv6 frame", BASE(qinq_udp6), 0, { { 22, 1, 0x40 } },
	  PS_PKT_IP6_VERSION },
	{ "payload length 13 > 12 present", BASE(qinq_udp6), 0, { { 26, 2, 13 } },
	  PS_PKT_IP6_PAYLOAD_LEN },
	{ "hop-by-hop length past the payload", BASE(ext6_tcp), 0, { { 55, 1, 100 } },
	  PS_PKT_IP6_EXT_TRUNC },
	{ "fragment header cut by payload length 4", BASE(frag6_middle), 0, { { 18, 2, 4 } },
	  PS_PKT_IP6_EXT_TRUNC },
	{ "AH length past the payload", BASE(ah6_udp), 0, { { 55, 1, 9 } },
	  PS_PKT_IP6_EXT_TRUNC },
	{ "IPv4 fragment at 65528 + 10 bytes", BASE(frag_last), 0, { { 20, 2, 0x1fff } },
	  PS_PKT_FRAG_OVERSIZE },
	{ "IPv6 fragment at 65528 + 16 bytes", BASE(frag6_middle), 0, { { 56, 2, 0xfff9 } },
	  PS_PKT_FRAG_OVERSIZE },
	{ "19 bytes of TCP", BASE(syn4), 0, { { 16, 2, 20 + 19 } }, PS_PKT_TCP_TRUNC },
	{ "TCP doff 4", BASE(syn4), 0, { { 46, 1, 0x40 } }, PS_PKT_TCP_HDR_LEN },
	{ "TCP doff 15 with 40 bytes present", BASE(ack4), 0, { { 16, 2, 20 + 40 } },
	  PS_PKT_TCP_HDR_LEN },
	{ "MSS length 5", BASE(syn4), 0, { { 55, 1, 5 } }, PS_PKT_TCP_OPTIONS },
	{ "option length 1", BASE(syn4), 0, { { 55, 1, 1 } }, PS_PKT_TCP_OPTIONS },
	{ "SACK-permitted length 3", BASE(syn4), 0, { { 59, 1, 3 } }, PS_PKT_TCP_OPTIONS },
	{ "timestamps length 9", BASE(syn4), 0, { { 61, 1, 9 } }, PS_PKT_TCP_OPTIONS },
	{ "window scale length 2", BASE(syn4), 0, { { 72, 1, 2 } }, PS_PKT_TCP_OPTIONS },
	{ "window scale past the header", BASE(syn4), 0, { { 72, 1, 40 } }, PS_PKT_TCP_OPTIONS },
	{ "option kind in the last byte, no length", BASE(syn4), 0,
	  { { 71, 2, 0x0101 }, { 73, 1, 34 } }, PS_PKT_TCP_OPTIONS },
	{ "SACK length 19, not 2 + 8n", BASE(ack4), 0, { { 69, 1, 19 } }, PS_PKT_TCP_OPTIONS },
	{ "SACK length 2, no block", BASE(ack4), 0, { { 69, 1, 2 } }, PS_PKT_TCP_OPTIONS },
	{ "7 bytes of UDP", BASE(vlan_udp4), 0, { { 20, 2, 20 + 7 } }, PS_PKT_UDP_TRUNC },
	{ "UDP length 7", BASE(vlan_udp4), 0, { { 42, 2, 7 } }, PS_PKT_UDP_LEN },
	{ "UDP length 13 > 12 present", BASE(vlan_udp4), 0, { { 42, 2, 13 } }, PS_PKT_UDP_LEN },
	{ "7 bytes of ICMP", BASE(opts_icmp4), 0, { { 16, 2, 44 + 7 } }, PS_PKT_ICMP_TRUNC },
	{ "7 bytes of ICMPv6", BASE(echo6), 0, { { 18, 2, 7 } }, PS_PKT_ICMP_TRUNC },
};

static void
test_every_reason(void **state)
{
	bool seen[PS_PKT_REASON_MAX] = { false };
	uint8_t f[256];
	struct ps_pkt p;
	size_t i, k;

	(void)state;
	for (i = 0; i < sizeof(bad_frames) / sizeof(bad_frames[0]); i++) {
		const struct bad_frame *b = &bad_frames[i];
		uint32_t len = b->len == 0 ? (uint32_t)b->base_len :
			       b->len == 0xffffffff ? 0 : b->len;

		assert_true(b->base_len <= sizeof(f));
		memcpy(f, b->base, b->base_len);
		for (k = 0; k < 2; k++) {
			if (b->patch[k].width == 1)
				f[b->patch[k].off] = (uint8_t)b->patch[k].val;
			else if (b->patch[k].width == 2)
				ps_put_be16(f + b->patch[k].off, b->patch[k].val);
		}
		if (parse(f, len, &p) != b->expect)
			fail_msg("%s: expected %s", b->what, ps_pkt_reason_name(b->expect));
		seen[b->expect] = true;
	}
	/* one extension header more than the cap: nine destination options */
	assert_int_equal(parse(f, dstopts_chain(f, sizeof(f), PS_IP6_EXT_MAX + 1), &p),
			 PS_PKT_IP6_EXT_TOO_MANY);
	seen[PS_PKT_IP6_EXT_TOO_MANY] = true;
	for (i = 0; i < PS_PKT_REASON_MAX; i++) {
		if (!seen[i])
			print_error("no frame produces %s\n", ps_pkt_reason_name(i));
		assert_true(seen[i]);
	}
}

static void
test_reason_names(void **state)
{
	unsigned int i, j;

	(void)state;
	assert_string_equal(ps_pkt_reason_name(PS_PKT_OK), "ok");
	assert_string_equal(ps_pkt_reason_name(PS_PKT_IP4_TOTAL_LEN), "ip4_total_len");
	assert_string_equal(ps_pkt_reason_name(PS_PKT_ICMP_TRUNC), "icmp_trunc");
	assert_string_equal(ps_pkt_reason_name(PS_PKT_REASON_MAX), "invalid");
	assert_string_equal(ps_pkt_reason_name((enum ps_pkt_reason)-1), "invalid");
	for (i = 0; i < PS_PKT_REASON_MAX; i++) {
		assert_non_null(ps_pkt_reason_name(i));
		for (j = 0; j < i; j++)
			assert_string_not_equal(ps_pkt_reason_name(i), ps_pkt_reason_name(j));
	}
}

/* ---- truncation: every prefix of valid frames ---- */

static void
test_truncation(void **state)
{
	static const struct {
		const uint8_t *f;
		size_t len;
	} frames[] = {
		{ BASE(syn4) }, { BASE(ack4) }, { BASE(vlan_udp4) }, { BASE(qinq_udp6) },
		{ BASE(opts_icmp4) }, { BASE(frag_first) }, { BASE(frag_middle) },
		{ BASE(ext6_tcp) }, { BASE(ah6_udp) }, { BASE(frag6_middle) },
		{ BASE(echo6) }, { BASE(arp) }, { BASE(qinq9100_arp) },
		{ BASE(ack4_padded) }, { BASE(rh0_udp6) }, { BASE(frag_tiny) },
	};
	struct ps_pkt full, p;
	enum ps_pkt_reason r;
	size_t i;
	uint32_t n;

	(void)state;
	for (i = 0; i < sizeof(frames) / sizeof(frames[0]); i++) {
		assert_int_equal(parse(frames[i].f, frames[i].len, &full), PS_PKT_OK);
		for (n = 0; n < frames[i].len; n++) {
			/* exactly n bytes on the heap, so ASan sees any overread */
			uint8_t *copy = test_malloc(n > 0 ? n : 1);

			memcpy(copy, frames[i].f, n);
			r = ps_pkt_parse(copy, n, &p);
			if (r == PS_PKT_OK) {
				assert_consistent(&p, n);
				(void)ps_pkt_ip4_csum_ok(copy, &p);
				(void)ps_pkt_l4_csum_ok(copy, &p);
				/* an IP datagram cut short can never be OK */
				if (full.l3 != PS_L3_NONE)
					assert_true(n >= full.l3_end);
			} else {
				assert_true(r < PS_PKT_REASON_MAX);
			}
			test_free(copy);
		}
	}
}

/* ---- builders ---- */

/* The spec of syn4: building it must give syn4 byte for byte. */
static void
syn4_spec(struct ps_tcp_frame_spec *s)
{
	memset(s, 0, sizeof(*s));
	memcpy(s->eth.dst, mac_b, 6);
	memcpy(s->eth.src, mac_a, 6);
	s->l3 = PS_L3_IPV4;
	memcpy(s->src.b, ip4_a, 4);
	memcpy(s->dst.b, ip4_b, 4);
	s->ttl = 64;
	s->df = true;
	s->ip_id = 0x1234;
	s->tcp.sport = 40000;
	s->tcp.dport = 443;
	s->tcp.seq = 0x01020304;
	s->tcp.flags = PS_TCP_SYN;
	s->tcp.window = 64240;
	s->tcp.has_mss = true;
	s->tcp.mss = 1460;
	s->tcp.sack_ok = true;
	s->tcp.has_ts = true;
	s->tcp.ts_val = 0x11111111;
	s->tcp.has_wscale = true;
	s->tcp.wscale = 7;
}

/* Every field of a parsed TCP frame against the spec it was built from. */
static void
assert_matches_spec(const uint8_t *frame, const struct ps_pkt *p,
		    const struct ps_tcp_frame_spec *s, const uint8_t *payload, uint32_t payload_len)
{
	unsigned int i;

	assert_memory_equal(p->dst_mac, s->eth.dst, 6);
	assert_memory_equal(p->src_mac, s->eth.src, 6);
	assert_int_equal(p->n_vlans, s->eth.n_vlans);
	for (i = 0; i < s->eth.n_vlans; i++) {
		assert_int_equal(p->vlan_tpid[i], s->eth.vlan_tpid[i]);
		assert_int_equal(p->vlan_tci[i], s->eth.vlan_tci[i]);
	}
	assert_int_equal(p->l3, s->l3);
	assert_int_equal(p->ethertype, s->l3 == PS_L3_IPV4 ? PS_ETH_P_IPV4 : PS_ETH_P_IPV6);
	assert_memory_equal(p->src.b, s->src.b, s->l3 == PS_L3_IPV4 ? 4 : 16);
	assert_memory_equal(p->dst.b, s->dst.b, s->l3 == PS_L3_IPV4 ? 4 : 16);
	assert_int_equal(p->ttl, s->ttl);
	assert_int_equal(p->tos, s->tos);
	if (s->l3 == PS_L3_IPV4) {
		assert_int_equal(p->df, s->df);
		assert_int_equal(p->frag_id, s->ip_id);
	} else {
		assert_int_equal(p->flow_label, s->flow_label);
	}
	assert_false(p->is_frag);
	assert_int_equal(p->ip_proto, PS_IPPROTO_TCP);
	assert_true(p->has_l4);
	assert_int_equal(p->sport, s->tcp.sport);
	assert_int_equal(p->dport, s->tcp.dport);
	assert_int_equal(p->seq, s->tcp.seq);
	assert_int_equal(p->ack, s->tcp.ack);
	assert_int_equal(p->tcp_flags, s->tcp.flags);
	assert_int_equal(p->window, s->tcp.window);
	assert_int_equal(p->urg, s->tcp.urg);
	assert_int_equal(p->has_mss, s->tcp.has_mss);
	if (s->tcp.has_mss)
		assert_int_equal(p->mss, s->tcp.mss);
	assert_int_equal(p->has_wscale, s->tcp.has_wscale);
	if (s->tcp.has_wscale)
		assert_int_equal(p->wscale, s->tcp.wscale);
	assert_int_equal(p->sack_ok, s->tcp.sack_ok);
	assert_int_equal(p->has_ts, s->tcp.has_ts);
	if (s->tcp.has_ts) {
		assert_int_equal(p->ts_val, s->tcp.ts_val);
		assert_int_equal(p->ts_ecr, s->tcp.ts_ecr);
	}
	assert_int_equal(p->n_sack, s->tcp.n_sack);
	for (i = 0; i < s->tcp.n_sack; i++) {
		assert_int_equal(p->sack[i][0], s->tcp.sack[i][0]);
		assert_int_equal(p->sack[i][1], s->tcp.sack[i][1]);
	}
	assert_int_equal(p->l4_hdr_len % 4, 0);
	assert_int_equal(p->payload_len, payload_len);
	if (payload_len > 0)
		assert_memory_equal(frame + p->payload_off, payload, payload_len);
	assert_true(ps_pkt_ip4_csum_ok(frame, p));
	assert_true(ps_pkt_l4_csum_ok(frame, p));
}

static void
test_build_tcp_frame_linux_bytes(void **state)
{
	struct ps_tcp_frame_spec s;
	uint8_t buf[256];
	struct ps_pkt p;

	(void)state;
	syn4_spec(&s);
	assert_int_equal(ps_build_tcp_frame(buf, sizeof(buf), &s, NULL, 0), sizeof(syn4));
	assert_memory_equal(buf, syn4, sizeof(syn4));

	/* ack4: the answer, with timestamps and three SACK blocks */
	memcpy(s.eth.dst, mac_a, 6);
	memcpy(s.eth.src, mac_b, 6);
	memcpy(s.src.b, ip4_b, 4);
	memcpy(s.dst.b, ip4_a, 4);
	s.ttl = 63;
	s.ip_id = 0x4321;
	s.tcp = (struct ps_tcp_spec){
		.sport = 443, .dport = 40000, .seq = 0xa0000001, .ack = 0x01020305,
		.flags = PS_TCP_PSH | PS_TCP_ACK, .window = 502,
		.has_ts = true, .ts_val = 0x22222222, .ts_ecr = 0x11111111,
		.n_sack = 3, .sack = { { 1000, 2000 }, { 3000, 4000 }, { 5000, 6000 } },
	};
	assert_int_equal(ps_build_tcp_frame(buf, sizeof(buf), &s, (const uint8_t *)"hello", 5),
			 sizeof(ack4));
	assert_memory_equal(buf, ack4, sizeof(ack4));
	assert_int_equal(parse(buf, sizeof(ack4), &p), PS_PKT_OK);
	assert_matches_spec(buf, &p, &s, (const uint8_t *)"hello", 5);
}

static void
test_build_tcp_frame_roundtrip(void **state)
{
	struct ps_tcp_frame_spec s;
	uint8_t payload[1001], buf[1200];
	struct ps_pkt p;
	unsigned int i;
	int len;

	(void)state;
	for (i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i * 31 + 7);

	/* IPv6 in QinQ, ACK with timestamps and three SACK blocks, odd payload */
	memset(&s, 0, sizeof(s));
	memcpy(s.eth.dst, mac_b, 6);
	memcpy(s.eth.src, mac_a, 6);
	s.eth.n_vlans = 2;
	s.eth.vlan_tpid[0] = PS_ETH_P_8021AD;
	s.eth.vlan_tci[0] = 0x0123;
	s.eth.vlan_tpid[1] = PS_ETH_P_8021Q;
	s.eth.vlan_tci[1] = 0xe456;
	s.l3 = PS_L3_IPV6;
	memcpy(s.src.b, ip6_a, 16);
	memcpy(s.dst.b, ip6_b, 16);
	s.ttl = 17;
	s.tos = 0xb8;
	s.flow_label = 0xabcde;
	s.tcp = (struct ps_tcp_spec){
		.sport = 443, .dport = 51000, .seq = 0xfffffff0, .ack = 0x80000000,
		.flags = PS_TCP_ACK | PS_TCP_PSH | PS_TCP_ECE | PS_TCP_CWR, .window = 0xffff,
		.urg = 0x55aa, .has_ts = true, .ts_val = 0xdeadbeef, .ts_ecr = 1,
		.n_sack = 3, .sack = { { 1, 2 }, { 0xfffffff0, 0x10 }, { 7, 9 } },
	};
	len = ps_build_tcp_frame(buf, sizeof(buf), &s, payload, sizeof(payload));
	assert_int_equal(len, 22 + 40 + 60 + 1001);
	assert_ok(buf, (size_t)len, &p);
	assert_matches_spec(buf, &p, &s, payload, sizeof(payload));

	/* IPv4 in one 802.1Q tag, four SACK blocks (no timestamps), SYN-ACK options */
	s.eth.n_vlans = 1;
	s.eth.vlan_tci[0] = 7;
	s.eth.vlan_tpid[0] = PS_ETH_P_8021Q;
	s.l3 = PS_L3_IPV4;
	memset(&s.src, 0, sizeof(s.src));
	memset(&s.dst, 0, sizeof(s.dst));
	memcpy(s.src.b, ip4_b, 4);
	memcpy(s.dst.b, ip4_a, 4);
	s.df = false;
	s.ip_id = 0xfedc;
	s.tcp = (struct ps_tcp_spec){
		.sport = 1, .dport = 65535, .seq = 5, .ack = 6, .flags = PS_TCP_ACK, .window = 9,
		.n_sack = 4, .sack = { { 1, 2 }, { 3, 4 }, { 5, 6 }, { 7, 8 } },
	};
	len = ps_build_tcp_frame(buf, sizeof(buf), &s, payload, 1);
	assert_int_equal(len, 18 + 20 + 20 + 36 + 1);
	assert_ok(buf, (size_t)len, &p);
	assert_matches_spec(buf, &p, &s, payload, 1);

	s.tcp = (struct ps_tcp_spec){
		.sport = 443, .dport = 40000, .flags = PS_TCP_SYN | PS_TCP_ACK, .window = 65160,
		.has_mss = true, .mss = 1400, .sack_ok = true, .has_wscale = true, .wscale = 14,
	};
	len = ps_build_tcp_frame(buf, sizeof(buf), &s, NULL, 0);
	assert_int_equal(len, 18 + 20 + 20 + 12);
	assert_ok(buf, (size_t)len, &p);
	assert_matches_spec(buf, &p, &s, NULL, 0);
}

static void
test_build_tcp_options_layout(void **state)
{
	static const struct {
		struct ps_tcp_spec spec;
		uint8_t len;
		uint8_t bytes[PS_TCP_OPT_MAX];
	} cases[] = {
		{ { .flags = 0 }, 0, { 0 } },
		/* mss 536 */
		{ { .has_mss = true, .mss = 536 }, 4, { 2, 4, 0x02, 0x18 } },
		/* nop, nop, sackOK */
		{ { .sack_ok = true }, 4, { 1, 1, 4, 2 } },
		/* nop, nop, TS val 1 ecr 2 */
		{ { .has_ts = true, .ts_val = 1, .ts_ecr = 2 }, 12,
		  { 1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2 } },
		/* sackOK, TS val 1 ecr 2: one word for both */
		{ { .sack_ok = true, .has_ts = true, .ts_val = 1, .ts_ecr = 2 }, 12,
		  { 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2 } },
		/* nop, wscale 14 */
		{ { .has_wscale = true, .wscale = 14 }, 4, { 1, 3, 3, 14 } },
		/* mss 1460, nop, nop, sackOK, nop, wscale 7 (no timestamps) */
		{ { .has_mss = true, .mss = 1460, .sack_ok = true, .has_wscale = true, .wscale = 7 },
		  12, { 2, 4, 0x05, 0xb4, 1, 1, 4, 2, 1, 3, 3, 7 } },
		/* nop, nop, sack 1 {0x01020304:0x05060708} */
		{ { .n_sack = 1, .sack = { { 0x01020304, 0x05060708 } } }, 12,
		  { 1, 1, 5, 10, 1, 2, 3, 4, 5, 6, 7, 8 } },
	};
	uint8_t buf[PS_TCP_OPT_MAX];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(buf, 0xa5, sizeof(buf));
		assert_int_equal(ps_build_tcp_options(buf, sizeof(buf), &cases[i].spec),
				 cases[i].len);
		assert_memory_equal(buf, cases[i].bytes, cases[i].len);
		if (cases[i].len < sizeof(buf))
			assert_int_equal(buf[cases[i].len], 0xa5);
	}
}

static void
test_build_udp4_options_finalize(void **state)
{
	/* record route, len 7, ptr 4, one slot: 7 bytes, padded with one END */
	static const uint8_t rr[7] = { 7, 7, 4, 0, 0, 0, 0 };
	struct ps_eth_spec eth = { .n_vlans = 1, .vlan_tpid = { PS_ETH_P_8021Q },
				   .vlan_tci = { 42 } };
	struct ps_ip4_spec ip = { .proto = PS_IPPROTO_UDP, .ttl = 5, .tos = 0x10, .id = 77,
				  .opts = rr, .opt_len = sizeof(rr) };
	uint8_t buf[200];
	struct ps_pkt p;
	uint32_t off = 0, i;
	uint16_t csum;

	(void)state;
	memcpy(eth.dst, mac_b, 6);
	memcpy(eth.src, mac_a, 6);
	memcpy(ip.src, ip4_a, 4);
	memcpy(ip.dst, ip4_b, 4);
	off += (uint32_t)ps_build_eth(buf, sizeof(buf), &eth, PS_ETH_P_IPV4);
	assert_int_equal(off, 18);
	assert_int_equal(ps_build_ip4(buf + off, sizeof(buf) - off, &ip, 8 + 33), 28);
	assert_int_equal(buf[off + 20 + 7], 0);		/* END padding */
	off += 28;
	assert_int_equal(ps_build_udp(buf + off, sizeof(buf) - off, 1111, 2222, 33), 8);
	off += 8;
	for (i = 0; i < 33; i++)
		buf[off + i] = (uint8_t)(0xf0 + i);
	off += 33;
	assert_int_equal(ps_build_finalize(buf, off), 0);
	assert_ok(buf, off, &p);
	assert_int_equal(p.l3_hdr_len, 28);
	assert_int_equal(p.ttl, 5);
	assert_int_equal(p.tos, 0x10);
	assert_int_equal(p.frag_id, 77);
	assert_false(p.df);
	assert_int_equal(p.sport, 1111);
	assert_int_equal(p.dport, 2222);
	assert_int_equal(p.payload_len, 33);
	assert_int_equal(p.payload_off, 18 + 28 + 8);
	assert_memory_equal(buf + 18 + 20, rr, sizeof(rr));

	/* append 2 bytes: finalize stretches IPv4 and UDP lengths to the frame */
	buf[off] = 0x01;
	buf[off + 1] = 0x02;
	assert_int_equal(ps_build_finalize(buf, off + 2), 0);
	assert_ok(buf, off + 2, &p);
	assert_int_equal(p.payload_len, 35);
	assert_int_equal(ps_get_be16(buf + 18 + 2), 28 + 8 + 35);

	/*
	 * A payload whose checksum comes out 0 is sent as 0xffff: add the
	 * complement of the current sum into two payload bytes so the data
	 * sums to 0xffff.
	 */
	csum = ps_get_be16(buf + 18 + 28 + 6);
	assert_int_not_equal(csum, 0xffff);
	ps_put_be16(buf + 18 + 28 + 8,
		    (uint16_t)~ps_csum_fold(ps_csum_partial(buf + 18 + 28 + 8, 2, csum)));
	assert_int_equal(ps_build_finalize(buf, off + 2), 0);
	assert_int_equal(ps_get_be16(buf + 18 + 28 + 6), 0xffff);
	assert_ok(buf, off + 2, &p);
}

static void
test_build_icmp_echo_finalize(void **state)
{
	struct ps_eth_spec eth = { .n_vlans = 0 };
	struct ps_ip4_spec ip4 = { .proto = PS_IPPROTO_ICMP, .ttl = 64, .df = true };
	struct ps_ip6_spec ip6 = { .next_hdr = PS_IPPROTO_ICMPV6, .hop_limit = 255 };
	uint8_t buf[128];
	struct ps_pkt p;
	uint32_t off;

	(void)state;
	memcpy(eth.dst, mac_b, 6);
	memcpy(eth.src, mac_a, 6);
	memcpy(ip4.src, ip4_a, 4);
	memcpy(ip4.dst, ip4_b, 4);
	off = (uint32_t)ps_build_eth(buf, sizeof(buf), &eth, PS_ETH_P_IPV4);
	/* payload length 0 for now: ps_build_finalize() sets it */
	off += (uint32_t)ps_build_ip4(buf + off, sizeof(buf) - off, &ip4, 0);
	off += (uint32_t)ps_build_icmp_echo(buf + off, sizeof(buf) - off, PS_ICMP_ECHO, 0x99, 3);
	memcpy(buf + off, "abc", 3);
	off += 3;
	assert_int_equal(ps_build_finalize(buf, off), 0);
	assert_ok(buf, off, &p);
	assert_int_equal(p.l3_end, off);
	assert_int_equal(p.icmp_type, PS_ICMP_ECHO);
	assert_int_equal(p.icmp_id, 0x99);
	assert_int_equal(p.icmp_seq, 3);
	assert_int_equal(p.payload_len, 3);

	memcpy(ip6.src, ip6_a, 16);
	memcpy(ip6.dst, ip6_b, 16);
	off = (uint32_t)ps_build_eth(buf, sizeof(buf), &eth, PS_ETH_P_IPV6);
	off += (uint32_t)ps_build_ip6(buf + off, sizeof(buf) - off, &ip6, 0);
	off += (uint32_t)ps_build_icmp_echo(buf + off, sizeof(buf) - off, PS_ICMP6_ECHOREPLY,
					    0x77, 0x8000);
	memcpy(buf + off, "abcde", 5);
	off += 5;
	assert_int_equal(ps_build_finalize(buf, off), 0);
	assert_ok(buf, off, &p);
	assert_int_equal(p.icmp_type, PS_ICMP6_ECHOREPLY);
	assert_int_equal(p.icmp_id, 0x77);
	assert_int_equal(p.icmp_seq, 0x8000);
	assert_int_equal(p.payload_len, 5);
	/* the pseudo-header counts: the same bytes with another source fail */
	buf[14 + 8] ^= 0x80;
	assert_int_equal(parse(buf, off, &p), PS_PKT_OK);
	assert_false(ps_pkt_l4_csum_ok(buf, &p));
}

static void
test_build_errors(void **state)
{
	static const uint8_t opts41[41] = { 1 };
	struct ps_tcp_frame_spec s;
	struct ps_eth_spec eth = { .n_vlans = 2 };
	struct ps_ip4_spec ip4 = { .opts = opts41, .opt_len = 4 };
	struct ps_ip6_spec ip6 = { .next_hdr = PS_IPPROTO_NONE };
	uint8_t buf[128], ref[128];
	size_t cap;

	(void)state;
	/* every capacity short of the frame: -ENOSPC */
	syn4_spec(&s);
	for (cap = 0; cap < sizeof(syn4); cap++)
		assert_int_equal(ps_build_tcp_frame(buf, cap, &s, NULL, 0), -ENOSPC);
	assert_int_equal(ps_build_tcp_frame(buf, sizeof(syn4), &s, NULL, 0), sizeof(syn4));
	assert_int_equal(ps_build_tcp_frame(buf, sizeof(syn4) + 1, &s, (const uint8_t *)"xy", 2),
			 -ENOSPC);

	/* a header builder short of room writes nothing */
	memset(buf, 0xa5, sizeof(buf));
	memcpy(ref, buf, sizeof(buf));
	assert_int_equal(ps_build_eth(buf, 21, &eth, PS_ETH_P_IPV4), -ENOSPC);
	assert_int_equal(ps_build_ip4(buf, 23, &ip4, 0), -ENOSPC);
	assert_int_equal(ps_build_ip6(buf, 39, &ip6, 0), -ENOSPC);
	assert_int_equal(ps_build_tcp(buf, 20 + 19, &s.tcp), -ENOSPC);
	assert_int_equal(ps_build_tcp_options(buf, 19, &s.tcp), -ENOSPC);
	assert_int_equal(ps_build_udp(buf, 7, 1, 2, 0), -ENOSPC);
	assert_int_equal(ps_build_icmp_echo(buf, 7, PS_ICMP_ECHO, 1, 2), -ENOSPC);
	assert_memory_equal(buf, ref, sizeof(buf));
	assert_int_equal(ps_build_eth(buf, 22, &eth, PS_ETH_P_IPV4), 22);
	assert_int_equal(ps_build_ip4(buf, 24, &ip4, 0), 24);

	/* specs that cannot be encoded */
	eth.n_vlans = 3;
	assert_int_equal(ps_build_eth(buf, sizeof(buf), &eth, PS_ETH_P_IPV4), -EINVAL);
	ip4.opt_len = 41;
	assert_int_equal(ps_build_ip4(buf, sizeof(buf), &ip4, 0), -EINVAL);
	ip4.opt_len = 0;
	assert_int_equal(ps_build_ip4(buf, sizeof(buf), &ip4, 65535 - 19), -EMSGSIZE);
	assert_int_equal(ps_build_ip4(buf, sizeof(buf), &ip4, 65535 - 20), 20);
	assert_int_equal(ps_build_ip6(buf, sizeof(buf), &ip6, 65536), -EMSGSIZE);
	assert_int_equal(ps_build_udp(buf, sizeof(buf), 1, 2, 65535 - 7), -EMSGSIZE);
	s.tcp.n_sack = 5;
	assert_int_equal(ps_build_tcp(buf, sizeof(buf), &s.tcp), -EINVAL);
	s.tcp.n_sack = 1;	/* MSS 4 + TS 12 + WS 4 + SACK 12 = 32: fits */
	assert_int_equal(ps_build_tcp(buf, sizeof(buf), &s.tcp), 52);
	s.tcp.n_sack = 3;	/* ... + SACK 28 = 48 > 40 */
	assert_int_equal(ps_build_tcp(buf, sizeof(buf), &s.tcp), -EINVAL);
	assert_int_equal(ps_build_tcp_frame(buf, sizeof(buf), &s, NULL, 0), -EINVAL);
	s.tcp.n_sack = 0;
	s.l3 = PS_L3_NONE;
	assert_int_equal(ps_build_tcp_frame(buf, sizeof(buf), &s, NULL, 0), -EINVAL);
	s.l3 = PS_L3_IPV4;
	assert_int_equal(ps_build_tcp_frame(buf, sizeof(buf), &s, NULL, 65535 - 40 - 20 + 1),
			 -EMSGSIZE);

	/* finalize: not IP, truncated, or malformed */
	memcpy(buf, arp, sizeof(arp));
	assert_int_equal(ps_build_finalize(buf, sizeof(arp)), -EINVAL);
	memcpy(buf, syn4, sizeof(syn4));
	assert_int_equal(ps_build_finalize(buf, 14 + 19), -EINVAL);
	assert_int_equal(ps_build_finalize(buf, 10), -EINVAL);
	buf[46] = 0x40;		/* TCP doff 4 */
	assert_int_equal(ps_build_finalize(buf, sizeof(syn4)), -EINVAL);
	memcpy(buf, qinq_udp6, sizeof(qinq_udp6));
	assert_int_equal(ps_build_finalize(buf, 22 + 39), -EINVAL);
}

/* ---- fragmentation ---- */

#define SINK_MAX	8

/* Collects the fragments ps_ip4_fragment() emits. */
struct frag_sink {
	unsigned int n;			/* emit calls */
	unsigned int fail_at;		/* answer -EIO to this call (1-based); 0: never */
	uint32_t len[SINK_MAX];
	uint8_t frame[SINK_MAX][1600];
};

static int
sink_emit(void *ctx, const uint8_t *frag, uint32_t frag_len)
{
	struct frag_sink *sink = ctx;

	sink->n++;
	if (sink->n == sink->fail_at)
		return -EIO;
	if (sink->n <= SINK_MAX) {
		assert_true(frag_len <= sizeof(sink->frame[0]));
		memcpy(sink->frame[sink->n - 1], frag, frag_len);
		sink->len[sink->n - 1] = frag_len;
	}
	return 0;
}

/*
 * An IPv4/UDP frame 10.0.0.1.1000 > 10.0.0.2.2000 of ip_len bytes (IP total
 * length), with the given L2 tags and IPv4 options, DF as asked, id 0x5555,
 * ttl 33, tos 0x28; the UDP payload is a counting pattern. Returns its length.
 */
static uint32_t
udp4_datagram(uint8_t *buf, size_t cap, const struct ps_eth_spec *eth, const uint8_t *opts,
	      uint8_t opt_len, bool df, uint32_t ip_len)
{
	struct ps_ip4_spec ip = { .proto = PS_IPPROTO_UDP, .ttl = 33, .tos = 0x28, .df = df,
				  .id = 0x5555, .opts = opts, .opt_len = opt_len };
	uint32_t hlen = PS_IP4_HLEN + ((opt_len + 3u) & ~3u);
	uint32_t off, end, i;

	memcpy(ip.src, ip4_a, 4);
	memcpy(ip.dst, ip4_b, 4);
	off = (uint32_t)ps_build_eth(buf, cap, eth, PS_ETH_P_IPV4);
	end = off + ip_len;
	assert_true(cap >= end);
	assert_int_equal(ps_build_ip4(buf + off, cap - off, &ip, ip_len - hlen), hlen);
	off += hlen;
	assert_int_equal(ps_build_udp(buf + off, cap - off, 1000, 2000, ip_len - hlen - 8), 8);
	off += 8;
	for (i = 0; off < end; i++)
		buf[off++] = (uint8_t)(i * 13 + (i >> 8));
	assert_int_equal(ps_build_finalize(buf, end), 0);
	return end;
}

/*
 * Check the fragments in sink against the datagram they came from: each
 * parses OK with a good header checksum, keeps L2 header, ID, TTL, TOS
 * and protocol, fits the MTU, and together they give back the payload.
 */
static void
check_fragments(const struct frag_sink *sink, const uint8_t *orig, const struct ps_pkt *o,
		uint16_t mtu)
{
	uint32_t ip_payload = o->l3_end - o->l3_off - o->l3_hdr_len;
	uint8_t *dgram = test_calloc(1, ip_payload);
	uint32_t expect_off = o->frag_off_bytes;
	struct ps_pkt p;
	unsigned int i;

	assert_true(sink->n >= 2 && sink->n <= SINK_MAX);
	for (i = 0; i < sink->n; i++) {
		const uint8_t *f = sink->frame[i];

		assert_int_equal(parse(f, sink->len[i], &p), PS_PKT_OK);
		assert_consistent(&p, sink->len[i]);
		assert_true(ps_pkt_ip4_csum_ok(f, &p));
		assert_int_equal(p.l3_end, sink->len[i]);
		assert_memory_equal(f, orig, o->l3_off);	/* MACs and tags */
		assert_true(p.l3_end - p.l3_off <= mtu);
		assert_int_equal(p.l3_hdr_len, o->l3_hdr_len);
		assert_int_equal(p.frag_id, o->frag_id);
		assert_int_equal(p.ttl, o->ttl);
		assert_int_equal(p.tos, o->tos);
		assert_int_equal(p.ip_proto, o->ip_proto);
		assert_false(p.df);
		assert_true(p.is_frag);
		assert_int_equal(p.frag_off_bytes, expect_off);
		if (i + 1 < sink->n) {
			assert_true(p.more_frags);
			assert_int_equal(p.payload_len % 8, 0);
		} else {
			assert_int_equal(p.more_frags, o->more_frags);
		}
		/* reassemble from each fragment's IP payload */
		memcpy(dgram + p.frag_off_bytes - o->frag_off_bytes,
		       f + p.l3_off + p.l3_hdr_len, p.l3_end - p.l3_off - p.l3_hdr_len);
		expect_off += p.l3_end - p.l3_off - p.l3_hdr_len;
	}
	assert_int_equal(expect_off - o->frag_off_bytes, ip_payload);
	assert_memory_equal(dgram, orig + o->l3_off + o->l3_hdr_len, ip_payload);
	test_free(dgram);
}

static void
test_frag_udp4_4000(void **state)
{
	struct ps_eth_spec eth = { .n_vlans = 0 };
	static uint8_t buf[4100], scratch[1514];
	struct frag_sink *sink = test_calloc(1, sizeof(*sink));
	struct ps_pkt o, p;
	uint32_t len;

	(void)state;
	memcpy(eth.dst, mac_b, 6);
	memcpy(eth.src, mac_a, 6);
	len = udp4_datagram(buf, sizeof(buf), &eth, NULL, 0, false, 4000);
	assert_ok(buf, len, &o);
	assert_int_equal(ps_ip4_fragment(buf, len, &o, 1500, scratch, sizeof(scratch),
					 sink_emit, sink), 3);
	/* Linux: 1480 + 1480 + 1020 data bytes at offsets 0, 1480, 2960 */
	assert_int_equal(sink->len[0], 14 + 1500);
	assert_int_equal(sink->len[1], 14 + 1500);
	assert_int_equal(sink->len[2], 14 + 20 + 1020);
	check_fragments(sink, buf, &o, 1500);
	assert_int_equal(parse(sink->frame[2], sink->len[2], &p), PS_PKT_OK);
	assert_int_equal(p.frag_off_bytes, 2960);
	assert_int_equal(ps_get_be16(sink->frame[1] + 14 + 6), PS_IP4_MF | 1480 / 8);
	/* the first fragment still holds the UDP header, of the whole datagram */
	assert_int_equal(parse(sink->frame[0], sink->len[0], &p), PS_PKT_OK);
	assert_true(p.has_l4);
	assert_int_equal(p.sport, 1000);
	assert_int_equal(ps_get_be16(sink->frame[0] + 34 + 4), 3980);
	test_free(sink);
}

static void
test_frag_options_vlan(void **state)
{
	/*
	 * record route (not copied: type 0x07), len 7, ptr 4, one slot;
	 * router alert (copied: type 0x94), len 4, value 0; END pads to 12
	 */
	static const uint8_t opts[11] = { 0x07, 7, 4, 0, 0, 0, 0, 0x94, 4, 0, 0 };
	static const uint8_t later[12] = { 1, 1, 1, 1, 1, 1, 1, 0x94, 4, 0, 0, 0 };
	struct ps_eth_spec eth = { .n_vlans = 2, .vlan_tpid = { PS_ETH_P_8021AD, PS_ETH_P_8021Q },
				   .vlan_tci = { 100, 200 } };
	static uint8_t buf[1400], scratch[600];
	struct frag_sink *sink = test_calloc(1, sizeof(*sink));
	struct ps_pkt o;
	uint32_t len;

	(void)state;
	memcpy(eth.dst, mac_b, 6);
	memcpy(eth.src, mac_a, 6);
	len = udp4_datagram(buf, sizeof(buf), &eth, opts, sizeof(opts), false, 32 + 1208);
	assert_ok(buf, len, &o);
	assert_int_equal(o.l3_hdr_len, 32);
	/* MTU 576: 544 data bytes a fragment, header kept at 32 bytes */
	assert_int_equal(ps_ip4_fragment(buf, len, &o, 576, scratch, sizeof(scratch),
					 sink_emit, sink), 3);
	check_fragments(sink, buf, &o, 576);
	assert_int_equal(sink->len[0], 22 + 576);
	assert_int_equal(sink->len[1], 22 + 576);
	assert_int_equal(sink->len[2], 22 + 32 + 120);
	/* all options on the first, only the copied ones (NOP-filled) after */
	assert_memory_equal(sink->frame[0] + 22 + 20, opts, sizeof(opts));
	assert_int_equal(sink->frame[0][22 + 20 + 11], 0);
	assert_memory_equal(sink->frame[1] + 22 + 20, later, sizeof(later));
	assert_memory_equal(sink->frame[2] + 22 + 20, later, sizeof(later));
	test_free(sink);
}

static void
test_frag_refragment(void **state)
{
	struct ps_eth_spec eth = { .n_vlans = 0 };
	static uint8_t buf[2200], scratch[1100];
	struct frag_sink *sink = test_calloc(1, sizeof(*sink));
	struct ps_pkt o, p;
	uint32_t len;
	unsigned int i;

	(void)state;
	memcpy(eth.dst, mac_b, 6);
	memcpy(eth.src, mac_a, 6);
	/* a middle fragment (MF, offset 1480) of 2000 data bytes */
	len = udp4_datagram(buf, sizeof(buf), &eth, NULL, 0, false, 2020);
	ps_put_be16(buf + 14 + 6, PS_IP4_MF | 1480 / 8);
	ps_build_ip4_csum(buf + 14);
	assert_ok(buf, len, &o);
	assert_true(o.more_frags);
	assert_int_equal(ps_ip4_fragment(buf, len, &o, 1000, scratch, sizeof(scratch),
					 sink_emit, sink), 3);
	check_fragments(sink, buf, &o, 1000);
	/* 976 + 976 + 48 at 1480, 2456, 3432, MF on all three */
	for (i = 0; i < 3; i++) {
		assert_int_equal(parse(sink->frame[i], sink->len[i], &p), PS_PKT_OK);
		assert_int_equal(p.frag_off_bytes, 1480 + 976 * i);
		assert_true(p.more_frags);
		assert_int_equal(p.payload_len, i < 2 ? 976 : 48);
	}
	test_free(sink);
}

static void
test_frag_errors(void **state)
{
	struct ps_eth_spec eth = { .n_vlans = 0 };
	static uint8_t buf[4100], scratch[1514];
	struct frag_sink *sink = test_calloc(1, sizeof(*sink));
	struct ps_pkt o;
	uint32_t len;

	(void)state;
	memcpy(eth.dst, mac_b, 6);
	memcpy(eth.src, mac_a, 6);

	/* DF: the caller must answer with ICMP "fragmentation needed" */
	len = udp4_datagram(buf, sizeof(buf), &eth, NULL, 0, true, 4000);
	assert_ok(buf, len, &o);
	assert_int_equal(ps_ip4_fragment(buf, len, &o, 1500, scratch, sizeof(scratch),
					 sink_emit, sink), -EMSGSIZE);
	assert_int_equal(sink->n, 0);

	/* scratch one byte short of the largest fragment: nothing emitted */
	len = udp4_datagram(buf, sizeof(buf), &eth, NULL, 0, false, 4000);
	assert_ok(buf, len, &o);
	assert_int_equal(ps_ip4_fragment(buf, len, &o, 1500, scratch, 14 + 1500 - 1,
					 sink_emit, sink), -ENOSPC);
	assert_int_equal(sink->n, 0);

	/* MTU without room for 8 data bytes */
	assert_int_equal(ps_ip4_fragment(buf, len, &o, 27, scratch, sizeof(scratch),
					 sink_emit, sink), -EINVAL);
	assert_int_equal(sink->n, 0);

	/* emit's error stops the run and comes back */
	sink->fail_at = 2;
	assert_int_equal(ps_ip4_fragment(buf, len, &o, 1500, scratch, sizeof(scratch),
					 sink_emit, sink), -EIO);
	assert_int_equal(sink->n, 2);

	/* not IPv4 */
	sink->n = 0;
	sink->fail_at = 0;
	assert_int_equal(parse(qinq_udp6, sizeof(qinq_udp6), &o), PS_PKT_OK);
	assert_int_equal(ps_ip4_fragment(qinq_udp6, sizeof(qinq_udp6), &o, 60, scratch,
					 sizeof(scratch), sink_emit, sink), -EINVAL);
	assert_int_equal(sink->n, 0);
	test_free(sink);
}

static void
test_frag_small(void **state)
{
	struct ps_eth_spec eth = { .n_vlans = 0 };
	uint8_t buf[128], scratch[64];
	struct frag_sink *sink = test_calloc(1, sizeof(*sink));
	struct ps_pkt o;
	uint32_t len;

	(void)state;
	memcpy(eth.dst, mac_b, 6);
	memcpy(eth.src, mac_a, 6);

	/* a frame that fits goes out unchanged, padding and all */
	assert_ok(ack4_padded, sizeof(ack4_padded), &o);
	assert_int_equal(ps_ip4_fragment(ack4_padded, sizeof(ack4_padded), &o, 40, scratch,
					 sizeof(scratch), sink_emit, sink), 1);
	assert_int_equal(sink->len[0], sizeof(ack4_padded));
	assert_memory_equal(sink->frame[0], ack4_padded, sizeof(ack4_padded));

	/* the smallest MTU that works: 8 data bytes each */
	sink->n = 0;
	len = udp4_datagram(buf, sizeof(buf), &eth, NULL, 0, false, 20 + 8 + 16);
	assert_ok(buf, len, &o);
	assert_int_equal(ps_ip4_fragment(buf, len, &o, 28, scratch, sizeof(scratch),
					 sink_emit, sink), 3);
	check_fragments(sink, buf, &o, 28);
	test_free(sink);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_eth_ipv4),
		cmocka_unit_test(test_vlan_single),
		cmocka_unit_test(test_vlan_qinq),
		cmocka_unit_test(test_vlan_three_tags),
		cmocka_unit_test(test_non_ip),
		cmocka_unit_test(test_ipv4_options),
		cmocka_unit_test(test_ipv4_fragments),
		cmocka_unit_test(test_ipv4_tiny_first_fragment),
		cmocka_unit_test(test_l2_padding_excluded),
		cmocka_unit_test(test_ipv6_ext_chain),
		cmocka_unit_test(test_ipv6_ah),
		cmocka_unit_test(test_ipv6_fragment_no_next),
		cmocka_unit_test(test_ipv6_ext_cap),
		cmocka_unit_test(test_ipv6_routing_final_dst),
		cmocka_unit_test(test_tcp_syn_options),
		cmocka_unit_test(test_tcp_ack_sack_ts),
		cmocka_unit_test(test_icmp6_echo),
		cmocka_unit_test(test_csum_checkers),
		cmocka_unit_test(test_every_reason),
		cmocka_unit_test(test_reason_names),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_build_tcp_frame_linux_bytes),
		cmocka_unit_test(test_build_tcp_frame_roundtrip),
		cmocka_unit_test(test_build_tcp_options_layout),
		cmocka_unit_test(test_build_udp4_options_finalize),
		cmocka_unit_test(test_build_icmp_echo_finalize),
		cmocka_unit_test(test_build_errors),
		cmocka_unit_test(test_frag_udp4_4000),
		cmocka_unit_test(test_frag_options_vlan),
		cmocka_unit_test(test_frag_refragment),
		cmocka_unit_test(test_frag_errors),
		cmocka_unit_test(test_frag_small),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
