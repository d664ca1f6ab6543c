/* SPDX-License-Identifier: MIT */
/* uvdpad's log: stderr, one line per event, with a level. */
#ifndef UVDPAD_LOG_H
#define UVDPAD_LOG_H

enum log_level { LOG_ERR, LOG_WARN, LOG_INFO, LOG_DEBUG };

extern enum log_level log_level;

/* "error", "warn", "info" or "debug"; -1 when none of them. */
int log_level_parse(const char *s);
void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_err(...) log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
