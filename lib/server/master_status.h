/*
 * master_status.h - the child-to-master status message
 *
 * Used by: master (reader) and the server skeleton (writer).
 * Notes: each message is one fixed-size struct written atomically to the
 *        service's status pipe (fd MASTER_STATUS_FD in the child). avail=1
 *        means "idle, ready to accept", avail=0 means "busy with a client".
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

#endif
