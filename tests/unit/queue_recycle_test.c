/*
 * queue_recycle_test.c - unit tests for reusing delivered queue files
 *
 * Used by: make unit (tests/run-all, make check-unit).
 * Interface: main() (tests/harness.h: FAIL lines, then "N passed, M failed").
 * Notes: runs in a temporary queue directory. The race case replays what
 *        lost a message once under load: cleanup A opens a pool file,
 *        cleanup B takes the same file, commits a message in it and closes
 *        it, then A's lock succeeds; A must not claim it (nor chmod it).
 */
#include "harness.h"
#include "mail_queue.h"
#include "qfile.h"
#include "queue_recycle.h"
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>

static ino_t make_file(const char *path, mode_t mode, size_t size)
{
    int fd = open(path, O_CREAT | O_EXCL | O_WRONLY, mode);
    char buf[512];
    memset(buf, 'O', sizeof(buf));
    for (size_t n = 0; n < size; n += sizeof(buf))
        if (write(fd, buf, size - n < sizeof(buf) ? size - n : sizeof(buf)) < 0)
            break;
    fchmod(fd, mode);
    struct stat st;
    fstat(fd, &st);
    close(fd);
    return st.st_ino;
}

static ino_t inode_of(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0 ? st.st_ino : 0;
}

static mode_t mode_of(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0 ? (st.st_mode & 07777) : 0;
}

/* How many names dir holds; the first of them, as dir/NAME, in first
 * (when not NULL). */
static int dir_names(const char *dir, char *first, size_t size)
{
    int n = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    if (first)
        first[0] = 0;
    while (d && (e = readdir(d)) != NULL)
        if (e->d_name[0] != '.' && n++ == 0 && first)
            snprintf(first, size, "%s/%s", dir, e->d_name);
    if (d)
        closedir(d);
    return d ? n : -1;
}

static int count_names(const char *dir)
{
    return dir_names(dir, NULL, 0);
}

/* The one name in recycle/ (empty if none or several). */
static const char *pool_name(void)
{
    static char name[300];
    if (dir_names("recycle", name, sizeof(name)) != 1)
        name[0] = 0;
    return name;
}

int main(void)
{
    harness_init();
    if (harness_enter_tmpdir("queue_recycle_test") < 0)
        return 1;
    mkdir("incoming", 0700);
    mkdir("active", 0700);
    mkdir("recycle", 0700);
    mkdir("saved", 0700);
    struct sbuf *id = sbuf_new(32), *path = sbuf_new(64);
    off_t old_size = 0;

    /* put: a delivered file moves to recycle/ under a slot's name, the
     * first free one (a number below the limit). */
    ino_t old = make_file("active/6B0000000000000001", 0700, 3000);
    EXPECT_EQ_INT(queue_recycle_put("active", "6B0000000000000001", 3000, 4), 0);
    EXPECT_TRUE(inode_of("recycle/0") == old);
    EXPECT_TRUE(access("active/6B0000000000000001", F_OK) < 0);
    /* Too large, or recycling off: the caller removes it. */
    make_file("active/6B0000000000000002", 0700, 10);
    EXPECT_EQ_INT(queue_recycle_put("active", "6B0000000000000002", QUEUE_RECYCLE_MAX_SIZE + 1, 4), -1);
    EXPECT_EQ_INT(queue_recycle_put("active", "6B0000000000000002", 10, 0), -1);
    EXPECT_TRUE(access("active/6B0000000000000002", F_OK) == 0);

    /* take: the file, under a new ID in incoming/, locked, incomplete. */
    int fd = queue_recycle_take("incoming", id, &old_size, 8);
    EXPECT_TRUE(fd >= 0);
    EXPECT_TRUE(strcmp(sbuf_str(id), "6B0000000000000001") != 0 && mail_queue_id_ok(sbuf_str(id)));
    mail_queue_path(path, "incoming", sbuf_str(id));
    EXPECT_TRUE(inode_of(sbuf_str(path)) == old);
    EXPECT_EQ_INT(mode_of(sbuf_str(path)), 0600);
    EXPECT_EQ_INT(count_names("recycle"), 0);
    int other = open(sbuf_str(path), O_RDONLY);
    EXPECT_TRUE(flock(other, LOCK_EX | LOCK_NB) < 0);
    close(other);

    /* The writer overwrites it and cuts it to length at the commit. */
    struct qfile_writer *w = qfile_writer_new(fd);
    qfile_writer_set_reused(w, old_size);
    qfile_puts(w, REC_SENDER, "new@example.org");
    qfile_puts(w, REC_END, "");
    off_t end = qfile_writer_offset(w);
    EXPECT_EQ_INT(qfile_commit(w), 0);
    qfile_writer_free(w);
    struct stat st;
    EXPECT_TRUE(stat(sbuf_str(path), &st) == 0 && st.st_size == end);
    EXPECT_EQ_INT(mode_of(sbuf_str(path)), 0700);

    /* Nothing left to take. */
    EXPECT_EQ_INT(queue_recycle_take("incoming", id, &old_size, 8), -1);

    /* The race: A opens the pool file; B takes it, commits, closes; A's
     * claim must fail and leave B's message complete. */
    make_file("active/6B0000000000000003", 0700, 100);
    EXPECT_EQ_INT(queue_recycle_put("active", "6B0000000000000003", 100, 4), 0);
    char pool[300];
    snprintf(pool, sizeof(pool), "%s", pool_name());
    EXPECT_TRUE(pool[0] != 0);
    int fd_a = open(pool, O_RDWR);
    int fd_b = queue_recycle_take("incoming", id, &old_size, 8);
    EXPECT_TRUE(fd_b >= 0);
    mail_queue_path(path, "incoming", sbuf_str(id));
    fchmod(fd_b, 0700);
    close(fd_b);
    EXPECT_EQ_INT(queue_recycle_claim_fd(fd_a, pool, &old_size), -1);
    EXPECT_EQ_INT(mode_of(sbuf_str(path)), 0700);

    /* A pool file with a second name is never taken, nor changed. */
    make_file("active/6B0000000000000004", 0700, 100);
    EXPECT_EQ_INT(queue_recycle_put("active", "6B0000000000000004", 100, 4), 0);
    snprintf(pool, sizeof(pool), "%s", pool_name());
    EXPECT_EQ_INT(link(pool, "saved/6B0000000000000004"), 0);
    EXPECT_EQ_INT(queue_recycle_take("incoming", id, &old_size, 8), -1);
    EXPECT_EQ_INT(mode_of(pool), 0700);
    unlink("saved/6B0000000000000004");

    /* The pool limit: with 1 file there and a limit of 1, put refuses
     * (the file there has a slot's name beyond the new limit, and still
     * counts). */
    make_file("active/6B0000000000000005", 0700, 100);
    EXPECT_EQ_INT(queue_recycle_put("active", "6B0000000000000005", 100, 1), -1);
    EXPECT_TRUE(access("active/6B0000000000000005", F_OK) == 0);

    /* Full: refused, and the file stays for the caller to remove; once a
     * cleanup has taken one, a put a second later finds the room (the pool
     * is counted again while full, at most once a second). */
    EXPECT_EQ_INT(system("rm -f recycle/* incoming/*"), 0);
    sleep(2);           /* the estimate above said full */
    make_file("active/6B0000000000000006", 0700, 100);
    make_file("active/6B0000000000000007", 0700, 100);
    make_file("active/6B0000000000000008", 0700, 100);
    EXPECT_EQ_INT(queue_recycle_put("active", "6B0000000000000006", 100, 2), 0);
    EXPECT_EQ_INT(queue_recycle_put("active", "6B0000000000000007", 100, 2), 0);
    EXPECT_EQ_INT(queue_recycle_put("active", "6B0000000000000008", 100, 2), -1);
    EXPECT_TRUE(access("active/6B0000000000000008", F_OK) == 0);
    int taken = queue_recycle_take("incoming", id, &old_size, 8);
    EXPECT_TRUE(taken >= 0);
    EXPECT_EQ_INT(old_size, 100);
    close(taken);
    sleep(2);
    EXPECT_EQ_INT(queue_recycle_put("active", "6B0000000000000008", 100, 2), 0);
    EXPECT_TRUE(access("active/6B0000000000000008", F_OK) < 0);
    EXPECT_EQ_INT(count_names("recycle"), 2);

    /* Full only by qmgr's own puts, while cleanup took them all: the next
     * put, in the same second, counts again and finds room. */
    EXPECT_EQ_INT(system("rm -f recycle/* incoming/*"), 0);
    make_file("active/6B0000000000000009", 0700, 100);
    make_file("active/6B000000000000000A", 0700, 100);
    make_file("active/6B000000000000000B", 0700, 100);
    EXPECT_EQ_INT(queue_recycle_put("active", "6B0000000000000009", 100, 2), 0);
    EXPECT_EQ_INT(queue_recycle_put("active", "6B000000000000000A", 100, 2), 0);
    for (int i = 0; i < 2; i++) {
        taken = queue_recycle_take("incoming", id, &old_size, 8);
        EXPECT_TRUE(taken >= 0);
        close(taken);
    }
    EXPECT_EQ_INT(queue_recycle_put("active", "6B000000000000000B", 100, 2), 0);
    EXPECT_TRUE(access("active/6B000000000000000B", F_OK) < 0);
    EXPECT_EQ_INT(count_names("recycle"), 1);

    /* Takes between other cleanups' takes: after others have taken every
     * file this take could have had, the one qmgr put since is taken, and
     * then none. (The limit here is 8, far above what is in the pool, so
     * no earlier full count matters.) */
    EXPECT_EQ_INT(system("rm -f recycle/* incoming/*"), 0);
    static const char *const three[] = { "6B000000000000000C", "6B000000000000000D",
                                         "6B000000000000000E" };
    for (int i = 0; i < 3; i++) {
        sbuf_printf(path, "active/%s", three[i]);
        make_file(sbuf_str(path), 0700, 100);
        EXPECT_EQ_INT(queue_recycle_put("active", three[i], 100, 8), 0);
    }
    taken = queue_recycle_take("incoming", id, &old_size, 8);
    EXPECT_TRUE(taken >= 0);
    close(taken);
    EXPECT_EQ_INT(count_names("recycle"), 2);
    /* "Another cleanup" takes both that are left; qmgr puts a new one. */
    EXPECT_EQ_INT(system("for f in recycle/*; do mv $f saved/; done"), 0);
    make_file("active/6B000000000000000F", 0700, 100);
    EXPECT_EQ_INT(queue_recycle_put("active", "6B000000000000000F", 100, 8), 0);
    taken = queue_recycle_take("incoming", id, &old_size, 8);
    EXPECT_TRUE(taken >= 0);
    close(taken);
    EXPECT_EQ_INT(count_names("recycle"), 0);
    EXPECT_EQ_INT(count_names("saved"), 2);
    /* Empty: nothing taken. */
    EXPECT_EQ_INT(queue_recycle_take("incoming", id, &old_size, 8), -1);

    /* A file under another name (an ID, as pools had before slots) counts
     * against the limit and is still taken, through the directory. */
    make_file("recycle/6B0000000000000010", 0700, 100);
    make_file("active/6B0000000000000011", 0700, 100);
    EXPECT_EQ_INT(queue_recycle_put("active", "6B0000000000000011", 100, 1), -1);
    taken = queue_recycle_take("incoming", id, &old_size, 1);
    EXPECT_TRUE(taken >= 0);
    close(taken);
    EXPECT_EQ_INT(count_names("recycle"), 0);
    EXPECT_EQ_INT(system("rm -f incoming/* active/*"), 0);

    /* Slots: eight puts fill "0".."7"; three takes free three of them; the
     * next put, its map full by its own puts, counts again and fills one
     * of those three; then the eight that are there are all taken. */
    for (int i = 0; i < 8; i++) {
        sbuf_reset(path);
        sbuf_printf(path, "active/6B00000000000001%02d", i);
        make_file(sbuf_str(path), 0700, 100);
        EXPECT_EQ_INT(queue_recycle_put("active", sbuf_str(path) + 7, 100, 8), 0);
    }
    bool slots_ok = true;
    for (int i = 0; i < 8; i++) {
        char slot[32];
        snprintf(slot, sizeof(slot), "recycle/%d", i);
        slots_ok = slots_ok && access(slot, F_OK) == 0;
    }
    EXPECT_TRUE(slots_ok);
    for (int i = 0; i < 3; i++) {
        taken = queue_recycle_take("incoming", id, &old_size, 8);
        EXPECT_TRUE(taken >= 0);
        close(taken);
    }
    EXPECT_EQ_INT(count_names("recycle"), 5);
    make_file("active/6B0000000000000200", 0700, 100);
    EXPECT_EQ_INT(queue_recycle_put("active", "6B0000000000000200", 100, 8), 0);
    EXPECT_EQ_INT(count_names("recycle"), 6);
    int got = 0;
    while ((taken = queue_recycle_take("incoming", id, &old_size, 8)) >= 0 && got < 10) {
        close(taken);
        got++;
    }
    EXPECT_EQ_INT(got, 6);
    EXPECT_EQ_INT(count_names("recycle"), 0);

    /* An empty pool whose directory has not changed since it was found
     * empty is not read again: a file that appeared with the directory's
     * time set back is not seen; once the time differs, it is taken. */
    struct timespec now, times[2];
    clock_gettime(CLOCK_REALTIME, &now);
    times[0] = times[1] = (struct timespec){ now.tv_sec - 10, 0 };
    EXPECT_EQ_INT(utimensat(AT_FDCWD, "recycle", times, 0), 0);
    EXPECT_EQ_INT(queue_recycle_take("incoming", id, &old_size, 8), -1);
    make_file("recycle/3", 0700, 100);
    EXPECT_EQ_INT(utimensat(AT_FDCWD, "recycle", times, 0), 0);
    EXPECT_EQ_INT(queue_recycle_take("incoming", id, &old_size, 8), -1);
    EXPECT_TRUE(access("recycle/3", F_OK) == 0);
    times[0] = times[1] = (struct timespec){ now.tv_sec - 5, 0 };
    EXPECT_EQ_INT(utimensat(AT_FDCWD, "recycle", times, 0), 0);
    taken = queue_recycle_take("incoming", id, &old_size, 8);
    EXPECT_TRUE(taken >= 0);
    close(taken);
    EXPECT_EQ_INT(count_names("recycle"), 0);
    /* Found empty just after a change (the time not settled): read again
     * next time, so a file put within the same clock tick is found. */
    EXPECT_EQ_INT(queue_recycle_take("incoming", id, &old_size, 8), -1);
    struct stat fresh;
    EXPECT_EQ_INT(stat("recycle", &fresh), 0);
    make_file("recycle/4", 0700, 100);
    times[0] = times[1] = fresh.st_mtim;     /* as if put within the same tick */
    EXPECT_EQ_INT(utimensat(AT_FDCWD, "recycle", times, 0), 0);
    taken = queue_recycle_take("incoming", id, &old_size, 8);
    EXPECT_TRUE(taken >= 0);
    close(taken);

    sbuf_free(id);
    sbuf_free(path);
    return harness_done();
}
