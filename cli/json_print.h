/* SPDX-License-Identifier: MIT */
/*
 * One print layer for text and JSON, in the manner of iproute2's
 * json_print: every output line of the CLI is one call here, and the
 * same call prints the text form (a printf format and a value) or the
 * JSON form (a key and a value), depending on how the layer was set up.
 *
 * The JSON form is byte-identical to iproute2's json_writer: compact
 * by default; pretty (-p) indents objects by 4 spaces per level, puts a
 * space after each ':', and keeps arrays on one line as [ "a","b" ].
 *
 * The layer is process-global, as a CLI prints to one stream at a time.
 */
#ifndef UVDPA_CLI_JSON_PRINT_H
#define UVDPA_CLI_JSON_PRINT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

enum output_type {
	PRINT_FP = 1, /* text only */
	PRINT_JSON = 2, /* JSON only */
	PRINT_ANY = 4, /* whichever is active */
};

#define PRINT_FMT(n) __attribute__((format(printf, n, 0)))

/* Text to @out, or JSON when @json (@pretty: indented). */
int json_print_init(FILE *out, bool json, bool pretty);
/* Ends the JSON document with a newline, as iproute2 does. */
void json_print_fini(void);
/* Drops the JSON writer without printing anything (nothing was printed). */
void json_print_discard(void);
bool is_json_context(void);

void open_json_object(const char *key);
void close_json_object(void);
/* Text: prints @text; JSON: starts an array named @text (NULL: unnamed). */
void open_json_array(enum output_type type, const char *text);
void close_json_array(enum output_type type, const char *text);

/* In JSON, a NULL @key makes the value an array element. */
PRINT_FMT(3)
void print_string(enum output_type type, const char *key, const char *fmt,
		  const char *value);
PRINT_FMT(3)
void print_uint(enum output_type type, const char *key, const char *fmt,
		unsigned int value);
PRINT_FMT(3)
void print_u64(enum output_type type, const char *key, const char *fmt,
	       uint64_t value);
/* Text: @fmt receives "true" or "false". */
PRINT_FMT(3)
void print_bool(enum output_type type, const char *key, const char *fmt,
		bool value);
/* Text only: a newline. */
void print_nl(void);

#endif
