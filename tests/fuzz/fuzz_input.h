/* SPDX-License-Identifier: MIT */
/*
 * A cursor over a fuzz input: each read takes the next bytes, and reads
 * past the end give zeros, so every input decodes to something and a
 * short input is just a short run.
 */
#ifndef UVDPA_FUZZ_INPUT_H
#define UVDPA_FUZZ_INPUT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct fz_in {
	const uint8_t *p;
	size_t left;
};

static inline void fz_bytes(struct fz_in *in, void *buf, size_t len)
{
	size_t n = len < in->left ? len : in->left;

	memcpy(buf, in->p, n);
	memset((uint8_t *)buf + n, 0, len - n);
	in->p += n;
	in->left -= n;
}

static inline uint8_t fz_u8(struct fz_in *in)
{
	uint8_t v;

	fz_bytes(in, &v, 1);
	return v;
}

/* Little endian, whatever the host: the seed scripts write them so. */
static inline uint16_t fz_u16(struct fz_in *in)
{
	uint8_t b[2];

	fz_bytes(in, b, 2);
	return (uint16_t)(b[0] | b[1] << 8);
}

static inline uint32_t fz_u32(struct fz_in *in)
{
	uint32_t lo = fz_u16(in);

	return lo | (uint32_t)fz_u16(in) << 16;
}

static inline uint64_t fz_u64(struct fz_in *in)
{
	uint64_t lo = fz_u32(in);

	return lo | (uint64_t)fz_u32(in) << 32;
}

/* Take up to @len bytes in place; returns how many there were. */
static inline size_t fz_take(struct fz_in *in, const uint8_t **p, size_t len)
{
	size_t n = len < in->left ? len : in->left;

	*p = in->p;
	in->p += n;
	in->left -= n;
	return n;
}

#endif
