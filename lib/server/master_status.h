/*
 * master_status.h - the child-to-master status message
 *
 * Used by: master (reader) and the server skeleton (writer).
 * Notes: each message is one fixed-size struct written atomically to the
 *        service's status pipe (fd MASTER_STATUS_FD in the child). avail=1
 *        means "idle, ready to accept", avail=0 means "busy with a client".
 *        A child started with "-b SLOT" also has the service's status
 *        board (shared memory, fd MASTER_LISTEN_FD + number of listeners):
 *        it keeps its state in board slot SLOT and writes to the pipe only
 *        when it makes the last idle process busy while master does not
 *        watch the listeners, or the first one idle while it does; so
 *        master wakes at those edges, not twice per client
 *        (docs/master-protocol.md).
 */
#ifndef POSTERN_MASTER_STATUS_H
#define POSTERN_MASTER_STATUS_H
#include "sys_compat.h"

#define MASTER_STATUS_FD 3
#define MASTER_LISTEN_FD 4

struct master_status {
    int32_t pid;
    int32_t avail;
};

/* The status board: one per service, read and written with atomic byte
 * accesses. master writes hiwater (slots in use are below it), watching,
 * full and retire;
 * the child in a slot writes avail and used. Neither side trusts the other
 * side's fields beyond their meaning: a child bounds hiwater by the size of
 * its own mapping, and master reads only avail and used, as booleans, and
 * only for its own children of that service. */
#define MASTER_BOARD_SLOTS 4096

struct master_board_slot {
    uint8_t avail;      /* child: idle, ready to accept */
    uint8_t used;       /* child: has served a client (not a start-up failure) */
    uint8_t retire;     /* master: exit when next idle (reload) */
    uint8_t spare;
};

struct master_board {
    uint32_t hiwater;   /* master: one more than the highest slot in use */
    uint32_t watching;  /* master: it watches the listeners (no idle process
                         * known, below the process limit): it learns of the
                         * next client by itself */
    uint32_t full;      /* master: the service runs as many processes as its
                         * master.cf maxproc allows */
    uint32_t spare[13];
    struct master_board_slot slot[MASTER_BOARD_SLOTS];
};

#endif
