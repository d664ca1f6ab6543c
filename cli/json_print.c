// SPDX-License-Identifier: MIT
/*
 * Text and JSON output (json_print.h). The JSON writer follows the
 * layout rules of iproute2's json_writer, so `uvdpa -j` and `vdpa -j`
 * print the same bytes.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>

#include "json_print.h"

/* A streaming writer: it only remembers how deep it is and whether the
 * current container already holds a member (then the next needs a ','). */
struct json_writer {
	FILE *out;
	unsigned int depth;
	bool pretty;
	bool need_comma;
};

/*
 * The text formats come from the callers, whose literals the format
 * attributes in json_print.h check; here they are passed on as is.
 */
#pragma GCC diagnostic ignored "-Wformat-nonliteral"

static struct json_writer jw;
static bool jw_active;
static FILE *text_out;

static void jw_newline(void)
{
	unsigned int i;

	if (!jw.pretty)
		return;
	fputc('\n', jw.out);
	for (i = 0; i < jw.depth; i++)
		fputs("    ", jw.out);
}

/* Before any member or element: separate it from the previous one. */
static void jw_separate(void)
{
	if (jw.need_comma)
		fputc(',', jw.out);
	jw.need_comma = true;
}

/*
 * iproute2 escapes the C escapes and quotes; it writes a backslash as
 * "\n" and an apostrophe as "\'", which corrupts or invalidates the
 * document. uvdpa writes valid JSON for those (and for other control
 * characters) instead; every other byte is the same.
 */
static void jw_quote(const char *s)
{
	fputc('"', jw.out);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		switch (c) {
		case '\t':
			fputs("\\t", jw.out);
			break;
		case '\n':
			fputs("\\n", jw.out);
			break;
		case '\r':
			fputs("\\r", jw.out);
			break;
		case '\f':
			fputs("\\f", jw.out);
			break;
		case '\b':
			fputs("\\b", jw.out);
			break;
		case '\\':
		case '"':
			fputc('\\', jw.out);
			fputc(c, jw.out);
			break;
		default:
			if (c < 0x20)
				fprintf(jw.out, "\\u%04x", c);
			else
				fputc(c, jw.out);
		}
	}
	fputc('"', jw.out);
}

static void jw_key(const char *key)
{
	jw_separate();
	jw_newline();
	jw.need_comma = false;
	jw_quote(key);
	fputc(':', jw.out);
	if (jw.pretty)
		fputc(' ', jw.out);
}

static void jw_open(int c)
{
	jw_separate();
	fputc(c, jw.out);
	jw.depth++;
	jw.need_comma = false;
	if (c == '[' && jw.pretty)
		fputc(' ', jw.out);
}

static void jw_close(int c)
{
	/* Arrays stay on one line: "[ a,b ]"; objects close on a new line. */
	if (c == ']') {
		if (jw.pretty && jw.need_comma)
			fputc(' ', jw.out);
		jw.need_comma = false;
	}
	jw.depth--;
	if (jw.need_comma)
		jw_newline();
	fputc(c, jw.out);
	jw.need_comma = true;
}

int json_print_init(FILE *out, bool json, bool pretty)
{
	text_out = out;
	jw_active = json;
	jw = (struct json_writer){ .out = out, .pretty = pretty };
	return 0;
}

void json_print_fini(void)
{
	if (!jw_active)
		return;
	fputc('\n', jw.out);
	fflush(jw.out);
	jw_active = false;
}

void json_print_discard(void)
{
	jw_active = false;
}

bool is_json_context(void)
{
	return jw_active;
}

static bool want_json(enum output_type type)
{
	return jw_active && (type & (PRINT_JSON | PRINT_ANY));
}

static bool want_text(enum output_type type)
{
	return !jw_active && (type & (PRINT_FP | PRINT_ANY));
}

void open_json_object(const char *key)
{
	if (!jw_active)
		return;
	if (key)
		jw_key(key);
	jw_open('{');
}

void close_json_object(void)
{
	if (jw_active)
		jw_close('}');
}

void open_json_array(enum output_type type, const char *text)
{
	if (want_json(type)) {
		if (text)
			jw_key(text);
		jw_open('[');
	} else if (want_text(type)) {
		fputs(text, text_out);
	}
}

void close_json_array(enum output_type type, const char *text)
{
	if (want_json(type))
		jw_close(']');
	else if (want_text(type))
		fputs(text, text_out);
}

void print_string(enum output_type type, const char *key, const char *fmt,
		  const char *value)
{
	if (want_json(type)) {
		if (key)
			jw_key(key);
		jw_separate();
		jw_quote(value);
	} else if (want_text(type)) {
		fprintf(text_out, fmt, value);
	}
}

/* A bare JSON number or word after an optional key. */
static void jw_scalar(const char *key, const char *text)
{
	if (key)
		jw_key(key);
	jw_separate();
	fputs(text, jw.out);
}

void print_uint(enum output_type type, const char *key, const char *fmt,
		unsigned int value)
{
	char buf[16];

	if (want_json(type)) {
		snprintf(buf, sizeof(buf), "%u", value);
		jw_scalar(key, buf);
	} else if (want_text(type)) {
		fprintf(text_out, fmt, value);
	}
}

void print_u64(enum output_type type, const char *key, const char *fmt,
	       uint64_t value)
{
	char buf[24];

	if (want_json(type)) {
		snprintf(buf, sizeof(buf), "%" PRIu64, value);
		jw_scalar(key, buf);
	} else if (want_text(type)) {
		fprintf(text_out, fmt, value);
	}
}

void print_bool(enum output_type type, const char *key, const char *fmt,
		bool value)
{
	const char *word = value ? "true" : "false";

	if (want_json(type))
		jw_scalar(key, word);
	else if (want_text(type))
		fprintf(text_out, fmt, word);
}

void print_nl(void)
{
	if (!jw_active)
		fputc('\n', text_out);
}
