/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef PS_VERSION_H
#define PS_VERSION_H

#define PS_VERSION	"0.1.0"

#endif /* PS_VERSION_H */
