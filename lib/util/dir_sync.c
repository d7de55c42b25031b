/*
 * dir_sync.c - make a new directory entry durable, cheaply where possible
 *
 * Used by: mail_queue.c, maildir.c.
 * Interface: see dir_sync.h.
 * Errors: -1 with errno.
 * Notes: the decision is made once per device and cached. ext2/ext3/ext4
 *        share one statfs magic, so the journal is looked up (through
 *        /sys/dev/block, else the mount table). An ext4 made without a
 *        journal gets the directory fsync from dir_sync(), but not from
 *        dir_sync_new_name(): there the ext4 driver's fsync of a file whose
 *        name was just added (create, link or rename) writes the directory
 *        that holds the name too (its "new entry" state), so the file's own
 *        fsync, when it comes after the name, commits the name.
 */
#include "dir_sync.h"
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>

#define DIR_SYNC_CACHE 16
#define MAGIC_EXT 0xEF53
#define MAGIC_XFS 0x58465342
#define MAGIC_BTRFS 0x9123683E

/* What a file's fsync already makes durable on a device. */
enum dir_sync_cover {
    DIR_SYNC_COVER_NONE,        /* nothing: the directory needs its own fsync */
    DIR_SYNC_COVER_LATER_FSYNC, /* a name made before the file's fsync (ext4, no journal) */
    DIR_SYNC_COVER_ALL,         /* any name, through the journal/log (ordered commits) */
};

static struct {
    dev_t dev;
    enum dir_sync_cover cover;
} dir_sync_cache[DIR_SYNC_CACHE];
static int dir_sync_n;

/* What does a file's fsync cover on the ext2/3/4 file system on block
 * device NAME (as in /dev/NAME)? With a journal, every name (the commit
 * takes all earlier metadata changes). ext4 can be made without one
 * (mkfs -O ^has_journal): then the ext4 driver still writes the directory
 * of a name added since the file's last fsync, but nothing else.
 * /sys/fs/ext4/NAME/journal_task names the journal thread or says
 * "<none>" (and exists only under the ext4 driver: ext2's own driver
 * does not sync the parent); kernels without that file list each journal
 * in /proc/fs/jbd2 as NAME-INODE. When neither shows anything, there is
 * nothing to rely on. */
static enum dir_sync_cover dir_sync_ext_cover_dev(const char *name)
{
    char path[512], buf[64];
    snprintf(path, sizeof(path), "/sys/fs/ext4/%s/journal_task", name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        buf[n > 0 ? n : 0] = 0;
        if (n <= 0)
            return DIR_SYNC_COVER_NONE;
        return strncmp(buf, "<none>", 6) != 0 ? DIR_SYNC_COVER_ALL : DIR_SYNC_COVER_LATER_FSYNC;
    }
    DIR *d = opendir("/proc/fs/jbd2");
    bool has = false;
    size_t n = strlen(name);
    if (d == NULL)
        return DIR_SYNC_COVER_NONE;
    for (struct dirent *e; !has && (e = readdir(d)) != NULL;)
        has = strncmp(e->d_name, name, n) == 0 && e->d_name[n] == '-';
    closedir(d);
    return has ? DIR_SYNC_COVER_ALL : DIR_SYNC_COVER_NONE;
}

/* What a file's fsync covers on the ext* file system on dev. */
static enum dir_sync_cover dir_sync_ext_cover(dev_t dev)
{
    /* Quick way (one readlink, no mount table): /sys/dev/block/MAJ:MIN
     * links to the device's directory, whose name is the NAME of
     * /sys/fs/ext4/NAME. An ext2 mounted by the ext4 driver says "<none>"
     * there too; one mounted by the ext2 driver has no such directory and
     * no jbd2 journal, so the answer is "no journal" either way. */
    char link[64], target[PATH_MAX];
    snprintf(link, sizeof(link), "/sys/dev/block/%u:%u", major(dev), minor(dev));
    ssize_t tn = readlink(link, target, sizeof(target) - 1);
    if (tn > 0) {
        target[tn] = 0;
        const char *slash = strrchr(target, '/');
        return dir_sync_ext_cover_dev(slash ? slash + 1 : target);
    }

    FILE *fp = fopen("/proc/self/mountinfo", "r");
    char line[4096];
    enum dir_sync_cover cover = DIR_SYNC_COVER_NONE;
    if (fp == NULL)
        return cover;
    while (fgets(line, sizeof(line), fp)) {
        unsigned maj, min;
        /* id parent major:minor root mountpoint options ... - fstype source ... */
        if (sscanf(line, "%*s %*s %u:%u", &maj, &min) != 2 || makedev(maj, min) != dev)
            continue;
        const char *sep = strstr(line, " - ");
        char fstype[16], source[256], real[PATH_MAX];
        if (sep && sscanf(sep + 3, "%15s %255s", fstype, source) == 2 &&
            (strcmp(fstype, "ext4") == 0 || strcmp(fstype, "ext3") == 0) &&
            realpath(source, real) != NULL && strrchr(real, '/') != NULL)
            cover = dir_sync_ext_cover_dev(strrchr(real, '/') + 1);
        break;
    }
    fclose(fp);
    return cover;
}

static enum dir_sync_cover dir_sync_cover(const char *dir)
{
    struct stat st;
    struct statfs sfs;
    if (stat(dir, &st) < 0)
        return DIR_SYNC_COVER_NONE;
    for (int i = 0; i < dir_sync_n; i++)
        if (dir_sync_cache[i].dev == st.st_dev)
            return dir_sync_cache[i].cover;
    if (statfs(dir, &sfs) < 0)      /* only on a cache miss: one call per message saved */
        return DIR_SYNC_COVER_NONE;
    enum dir_sync_cover cover = DIR_SYNC_COVER_NONE;
    if ((unsigned long)sfs.f_type == MAGIC_XFS || (unsigned long)sfs.f_type == MAGIC_BTRFS)
        cover = DIR_SYNC_COVER_ALL;
    else if ((unsigned long)sfs.f_type == MAGIC_EXT)
        cover = dir_sync_ext_cover(st.st_dev);
    if (dir_sync_n < DIR_SYNC_CACHE) {
        dir_sync_cache[dir_sync_n].dev = st.st_dev;
        dir_sync_cache[dir_sync_n].cover = cover;
        dir_sync_n++;
    }
    return cover;
}

static int dir_sync_fsync(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int r = fsync(fd);
    if (r < 0 && errno == EINVAL)
        r = 0;      /* the file system cannot sync directories */
    int e = errno;
    close(fd);
    errno = e;
    return r;
}

int dir_sync(const char *dir)
{
    return dir_sync_cover(dir) == DIR_SYNC_COVER_ALL ? 0 : dir_sync_fsync(dir);
}

/* dir_sync_new_name() is asked about the same few queue directories for
 * every message: their answers are kept by name, which saves the stat()
 * that finds the device (two per message in cleanup). */
#define DIR_SYNC_NAMED 8
static struct {
    char dir[64];
    enum dir_sync_cover cover;
} dir_sync_named[DIR_SYNC_NAMED];
static int dir_sync_named_n;

static enum dir_sync_cover dir_sync_cover_named(const char *dir)
{
    for (int i = 0; i < dir_sync_named_n; i++)
        if (strcmp(dir_sync_named[i].dir, dir) == 0)
            return dir_sync_named[i].cover;
    enum dir_sync_cover cover = dir_sync_cover(dir);
    size_t len = strlen(dir);
    if (dir_sync_named_n < DIR_SYNC_NAMED && len < sizeof(dir_sync_named[0].dir)) {
        memcpy(dir_sync_named[dir_sync_named_n].dir, dir, len + 1);
        dir_sync_named[dir_sync_named_n++].cover = cover;
    }
    return cover;
}

int dir_sync_new_name(const char *dir)
{
    return dir_sync_cover_named(dir) != DIR_SYNC_COVER_NONE ? 0 : dir_sync_fsync(dir);
}
