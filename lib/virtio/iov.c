// SPDX-License-Identifier: MIT
/* Copies between iovecs (driver buffers) and flat memory. */
#include <string.h>

#include <uvdpa/virtqueue.h>

size_t vq_iov_length(const struct iovec *iov, unsigned int n)
{
	size_t len = 0;

	for (unsigned int i = 0; i < n; i++)
		len += iov[i].iov_len;
	return len;
}

size_t vq_iov_to_buf(const struct iovec *iov, unsigned int n, size_t skip,
		     void *buf, size_t len)
{
	size_t done = 0;

	for (unsigned int i = 0; i < n && done < len; i++) {
		size_t chunk = iov[i].iov_len;

		if (skip >= chunk) {
			skip -= chunk;
			continue;
		}
		chunk -= skip;
		if (chunk > len - done)
			chunk = len - done;
		memcpy((char *)buf + done, (char *)iov[i].iov_base + skip,
		       chunk);
		done += chunk;
		skip = 0;
	}
	return done;
}

size_t vq_buf_to_iov(const struct iovec *iov, unsigned int n, size_t skip,
		     const void *buf, size_t len)
{
	size_t done = 0;

	for (unsigned int i = 0; i < n && done < len; i++) {
		size_t chunk = iov[i].iov_len;

		if (skip >= chunk) {
			skip -= chunk;
			continue;
		}
		chunk -= skip;
		if (chunk > len - done)
			chunk = len - done;
		memcpy((char *)iov[i].iov_base + skip, (const char *)buf + done,
		       chunk);
		done += chunk;
		skip = 0;
	}
	return done;
}

size_t vq_iov_copy(const struct iovec *dst, unsigned int dn,
		   const struct iovec *src, unsigned int sn, size_t len)
{
	size_t doff = 0, soff = 0, done = 0;
	unsigned int di = 0, si = 0;

	while (done < len && di < dn && si < sn) {
		size_t dleft = dst[di].iov_len - doff;
		size_t sleft = src[si].iov_len - soff;
		size_t chunk = dleft < sleft ? dleft : sleft;

		if (chunk > len - done)
			chunk = len - done;
		/*
		 * Both sides are driver memory, which a driver may make
		 * overlap (a TX buffer looped into an RX one): memmove, as
		 * memcpy on overlapping bytes is undefined. An empty iovec
		 * may have a NULL base, which both forbid.
		 */
		if (chunk)
			memmove((char *)dst[di].iov_base + doff,
				(const char *)src[si].iov_base + soff, chunk);
		done += chunk;
		doff += chunk;
		soff += chunk;
		if (doff == dst[di].iov_len) {
			di++;
			doff = 0;
		}
		if (soff == src[si].iov_len) {
			si++;
			soff = 0;
		}
	}
	return done;
}
