/*
 * dir_sync.c - make a new directory entry durable, cheaply where possible
 *
 * Used by: mail_queue.c, maildir.c.
 * Interface: see dir_sync.h.
 * Errors: -1 with errno.
 * Notes: the decision is made once per device and cached. ext2/ext3/ext4
 *        share one statfs magic, so the journal is looked up (through
 *        /sys/dev/block, else the mount table), and an ext4 made without a
 *        journal gets the directory fsync too.
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

static struct {
    dev_t dev;
    bool skip;
} dir_sync_cache[DIR_SYNC_CACHE];
static int dir_sync_n;

/* Does the ext3/ext4 file system on block device NAME (as in /dev/NAME)
 * have a journal? ext4 can be made without one (mkfs -O ^has_journal), and
 * then a file's fsync does not commit the new name that points to it.
 * /sys/fs/ext4/NAME/journal_task names the journal thread or says
 * "<none>"; kernels without that file list each journal in /proc/fs/jbd2
 * as NAME-INODE. When neither shows a journal, there is none to rely on. */
static bool dir_sync_has_journal(const char *name)
{
    char path[512], buf[64];
    snprintf(path, sizeof(path), "/sys/fs/ext4/%s/journal_task", name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        buf[n > 0 ? n : 0] = 0;
        return n > 0 && strncmp(buf, "<none>", 6) != 0;
    }
    DIR *d = opendir("/proc/fs/jbd2");
    bool has = false;
    size_t n = strlen(name);
    if (d == NULL)
        return false;
    for (struct dirent *e; !has && (e = readdir(d)) != NULL;)
        has = strncmp(e->d_name, name, n) == 0 && e->d_name[n] == '-';
    closedir(d);
    return has;
}

/* Is the ext* file system on dev mounted as ext3 or ext4, with a journal? */
static bool dir_sync_ext_journaled(dev_t dev)
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
        return dir_sync_has_journal(slash ? slash + 1 : target);
    }

    FILE *fp = fopen("/proc/self/mountinfo", "r");
    char line[4096];
    bool journaled = false;
    if (fp == NULL)
        return false;
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
            journaled = dir_sync_has_journal(strrchr(real, '/') + 1);
        break;
    }
    fclose(fp);
    return journaled;
}

static bool dir_sync_skip(const char *dir)
{
    struct stat st;
    struct statfs sfs;
    if (stat(dir, &st) < 0)
        return false;
    for (int i = 0; i < dir_sync_n; i++)
        if (dir_sync_cache[i].dev == st.st_dev)
            return dir_sync_cache[i].skip;
    if (statfs(dir, &sfs) < 0)      /* only on a cache miss: one call per message saved */
        return false;
    bool skip = false;
    if ((unsigned long)sfs.f_type == MAGIC_XFS || (unsigned long)sfs.f_type == MAGIC_BTRFS)
        skip = true;
    else if ((unsigned long)sfs.f_type == MAGIC_EXT)
        skip = dir_sync_ext_journaled(st.st_dev);
    if (dir_sync_n < DIR_SYNC_CACHE) {
        dir_sync_cache[dir_sync_n].dev = st.st_dev;
        dir_sync_cache[dir_sync_n].skip = skip;
        dir_sync_n++;
    }
    return skip;
}

int dir_sync(const char *dir)
{
    if (dir_sync_skip(dir))
        return 0;
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
