/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Copies between scatter-gather lists and flat buffers, without bounce
 * buffers.
 */
#ifndef VBD_IOV_H
#define VBD_IOV_H

#include <stddef.h>
#include <sys/uio.h>

/* Copy up to len bytes from offset off of iov into buf; returns bytes copied. */
size_t iov_to_buf(const struct iovec *iov, unsigned int cnt, size_t off,
		  void *buf, size_t len);
/* Copy up to len bytes from buf to offset off of iov; returns bytes copied. */
size_t iov_from_buf(const struct iovec *iov, unsigned int cnt, size_t off,
		    const void *buf, size_t len);
/* Copy up to len bytes between two lists; returns bytes copied. */
size_t iov_copy(const struct iovec *dst, unsigned int dcnt, size_t doff,
		const struct iovec *src, unsigned int scnt, size_t soff,
		size_t len);

#endif /* VBD_IOV_H */
