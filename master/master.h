/*
 * master.h - master's private interface
 *
 * Used by: the master sources only.
 */
#ifndef POSTERN_MASTER_H
#define POSTERN_MASTER_H
#include "sys_compat.h"

#define MASTER_MAX_LISTEN 16

struct master_service {
    char *key;              /* "name/type" */
    char *name;
    char *type;             /* inet unix unix-dgram fifo pass */
    bool private_;
    bool unpriv;
    bool chroot;
    int wakeup;
    bool wakeup_cond;
    int maxproc;            /* 0 = unlimited */
    char **argv;            /* from master.cf, argv[0] = program */
    char *path;             /* $daemon_directory/program */
    char *endpoint;         /* socket path or host:port, to detect changes */
    int windowsize;         /* inet: tcp_windowsize of the listeners, 0 = off */
    int listen_fds[MASTER_MAX_LISTEN];
    int nlisten;
    int status_fd[2];       /* pipe: children write [1], master reads [0] */
    int board_fd;           /* status board (memfd), -1 when there is none */
    struct master_board *board;     /* its mapping */
    uint8_t *slot_taken;    /* MASTER_BOARD_SLOTS flags: slot has a live child */
    uint32_t board_hi;      /* slots in use are below this (master's own copy of
                             * the board's hiwater: it never reads the board's) */
    int total;              /* live children */
    int avail;              /* of which idle */
    bool watching;          /* listeners in the event loop */
    bool throttled;
    bool seen;              /* present in the latest master.cf read */
    bool missing_reported;
    double stress_until;    /* children started before this get stress=yes */
    double busy_warn_time;  /* no process limit warning before this */
    double stress_signal_time;  /* last SIGURG to busy children */
    struct master_service *next;
};

struct master_proc {
    pid_t pid;
    struct master_service *svc;
    bool avail;
    bool used;              /* reported busy at least once */
    bool retire;            /* exit when next idle (reload) */
    int slot;               /* status board slot, -1 = reports through the pipe only */
    struct master_proc *next;
};

extern struct master_service *master_services;

/* master_service.c */
int master_services_load(bool reload);

/* master_check.c: logs what master refuses to run (bad master.cf lines and
 * -o options, private inet services, unapplicable content checks) and the
 * unsupported settings; returns 0, or -1 when something is refused. */
int master_check_config(void);
void master_services_stop(void);
void master_service_watch(struct master_service *svc);
void master_wakeup_init(struct master_service *svc);

/* master_spawn.c */
void master_spawn(struct master_service *svc);
void master_status_read(int fd, int events, void *ctx);
void master_reap(void);
void master_kill_children(struct master_service *svc, int sig, bool only_idle);
void master_retire_all(void);
void master_throttle(struct master_service *svc, const char *why);
int master_child_count(void);
/* Signals the busy children of svc, as master last saw them (callers run
 * master_board_sync() first: master_service_watch() does). */
void master_signal_busy(struct master_service *svc, int sig);
void master_board_sync(struct master_service *svc);
void master_board_open(struct master_service *svc);
void master_board_close(struct master_service *svc);

#endif
