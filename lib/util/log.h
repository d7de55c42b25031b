/*
 * log.h - the one logging interface
 *
 * Used by: everything.
 * Interface: log_init(), log_set_tag(), log_set_facility(), log_set_stderr(), log_open_syslog(),
 *            log_open_maillog(), log_debug(), log_info(), log_warn(),
 *            log_fatal(), log_panic(), log_set_fatal_hook(), log_dropped(), log_pid(),
 *            log_idle(), log_poll(), log_flush_at_signal().
 * Notes: lines go to syslog (facility mail unless set, tag "$syslog_name/SERVICE[pid]")
 *        through a non-blocking datagram socket, to the postlog service when
 *        maillog_file is set, and to stderr when asked. A postlog line that
 *        finds the socket full is kept back and sent with a later one (at most
 *        200 ms later, see log_idle()); a syslog line waits up to 100 ms for
 *        room. A line that still finds no room, or an absent socket, is dropped
 *        and counted; the count is reported in a later line. A reader that does
 *        not drain costs a daemon one wait, not one per line. "%m" is
 *        strerror(errno) at entry (glibc).
 */
#ifndef POSTERN_LOG_H
#define POSTERN_LOG_H
#include "sys_compat.h"

extern int log_verbose;         /* -v count */

/* Sets the program tag, e.g. "postfix/smtpd". */
void log_set_tag(const char *tag);
const char *log_tag(void);
/* This process's id, asked of the kernel once per process (forgotten in a
 * forked child). */
long log_pid(void);
/* Sets the syslog facility by name ("mail", "local0", ...): 0, or -1 for
 * an unknown name (the facility is then unchanged). */
int log_set_facility(const char *name);
/* Copies lines to stderr as "tag: level: text" (commands use this). */
void log_set_stderr(bool on);
/* Connects to the syslog socket (default /dev/log); safe to call again. */
void log_open_syslog(const char *path);
/* Sends lines to the postlog datagram socket at path instead of syslog. */
void log_open_maillog(const char *postlog_socket, const char *hostname);
/* Writes lines straight to a file (used by postlogd fallback and tests). */
void log_open_file(const char *path, const char *hostname);
/* Stops sending to syslog (e.g. when maillog_file is the only destination). */
void log_close_syslog(void);
/* Number of lines lost so far. */
unsigned long log_dropped(void);
/* The largest datagram sent to the postlog socket (several kept lines);
 * postlogd's receive buffer is this size. */
#define LOG_DGRAM_MAX 8192
/* A wait for input that is not a log_poll() (an epoll_wait) calls this
 * first, with the wait it means to make (ms, -1 for none): it sends
 * postlog lines kept back because the socket was full, and returns the
 * wait to make instead, shortened so that kept lines wait at most 200 ms.
 * A wait that ends early only because of that is not a timeout: wait
 * again. */
int log_idle(int wait_ms);
/* poll(2) that calls log_idle() and waits the whole time it was given (a
 * wait cut short for the log is made again for what is left). */
struct pollfd;
int log_poll(struct pollfd *pfds, unsigned long n, int ms);
/* For a signal handler that ends the process with _exit(): sends the kept
 * postlog lines (waiting up to 100 ms for room). Async-signal-safe; does
 * nothing while the main program is changing them. */
void log_flush_at_signal(void);

void log_debug(int level, const char *fmt, ...) PRINTF_LIKE(2, 3);
void log_info(const char *fmt, ...) PRINTF_LIKE(1, 2);
void log_warn(const char *fmt, ...) PRINTF_LIKE(1, 2);
void log_fatal(const char *fmt, ...) PRINTF_LIKE(1, 2) NORETURN;
void log_panic(const char *fmt, ...) PRINTF_LIKE(1, 2) NORETURN;

/* Replaces control characters (CR, LF, ... and DEL) in text with '?', in
 * place, and returns text. Every log line goes through it; peer-supplied
 * text (HELO names, XCLIENT values) goes through it before it reaches a
 * header or a lookup, so nobody can forge a line. 8-bit bytes are kept. */
char *log_printable(char *text);

/* Called by log_fatal/log_panic before exit/abort; a test may longjmp out. */
typedef void (*log_hook_fn)(int is_panic, const char *text);
void log_set_fatal_hook(log_hook_fn fn);
/* Called once before log_fatal exits (cleanup of temp files etc.). */
typedef void (*log_exit_fn)(void);
void log_set_exit_hook(log_exit_fn fn);

#endif
