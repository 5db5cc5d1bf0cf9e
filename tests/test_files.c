/* test_files.c - the library's files against what a hostile or unlucky file system does:
 * special files as input and as OUT (directory, FIFO, device, symbolic link), permissions kept,
 * other files beside OUT left alone, no temporary file left after a failure (a full disk is
 * simulated with RLIMIT_FSIZE), two processes saving the same model file and checkpoint at
 * once, and a 4 GiB sparse file with a forged header refused without reading or allocating it.
 * POSIX only (fork, mkfifo, symlink, setrlimit); the library itself is built as the user builds
 * it, and this file asks for POSIX.1-2008 (XSI) for its own calls.
 *
 *   cc -std=c99 -O1 -fsanitize=address,undefined -I. tests/test_files.c -o test_files -lm
 *   ./test_files WORKDIR
 */
#define _XOPEN_SOURCE 700 /* POSIX.1-2008 with XSI: mknod */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* An allocator that remembers the largest block asked for: "refused before allocating". */
static size_t largest_alloc;
static void *tracking_malloc(size_t n)
{
    if (n > largest_alloc) largest_alloc = n;
    return malloc(n);
}
#define SCALPEL_MALLOC(ctx, n) ((void)(ctx), tracking_malloc(n))
#define SCALPEL_FREE(ctx, p) ((void)(ctx), free(p))
#define SCALPEL_IMPLEMENTATION
#include "scalpel.h"
#include "scalpel_train.h"
#include "test_util.h"

static char dir[900];

static void path_in(char *out, const char *name)
{
    snprintf(out, 1200, "%s/%s", dir, name);
}

static void write_bytes(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL) return;
    if (n) fwrite(p, 1, n, f);
    fclose(f);
}

/* 1 when the file at path holds exactly p[n]. */
static int file_holds(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf;
    size_t got;
    int same;
    if (f == NULL) return 0;
    buf = (unsigned char *)malloc(n + 1);
    got = fread(buf, 1, n + 1, f);
    fclose(f);
    same = got == n && memcmp(buf, p, n) == 0;
    free(buf);
    return same;
}

/* Number of names in dir starting with prefix. */
static int count_prefixed(const char *prefix)
{
    char cmd[1400], line[64];
    FILE *p;
    int n = 0;
    snprintf(cmd, sizeof cmd, "ls -a '%s' | grep -c '^%s' || true", dir, prefix);
    p = popen(cmd, "r");
    if (p == NULL) return -1;
    if (fgets(line, sizeof line, p)) n = atoi(line);
    pclose(p);
    return n;
}

static int temporaries(void)
{
    return count_prefixed(".*scalpel-tmp-");
}

/* 784-16-10 with weights from seed: two seeds, two different files. */
static void build(scalpel_net *net, uint32_t seed)
{
    static float w1[16 * 784], b1[16], w2[10 * 16], b2[10];
    size_t i;
    test_rng_state = 0x9E3779B97F4A7C15ull ^ seed;
    for (i = 0; i < sizeof w1 / sizeof *w1; i++) w1[i] = test_uniform();
    for (i = 0; i < 16; i++) b1[i] = test_uniform();
    for (i = 0; i < sizeof w2 / sizeof *w2; i++) w2[i] = test_uniform();
    for (i = 0; i < 10; i++) b2[i] = test_uniform();
    scalpel_net_init(1, 28, 28, net);
    scalpel_net_add_fc(net, 16, w1, b1);
    scalpel_net_add_relu(net);
    scalpel_net_add_fc(net, 10, w2, b2);
}

static unsigned char *serialize(const scalpel_net *net, size_t *n)
{
    size_t size = scalpel_net_serialized_size(net);
    unsigned char *buf = (unsigned char *)malloc(size);
    *n = 0;
    if (scalpel_net_serialize(net, buf, size, n) != SCALPEL_OK) *n = 0;
    return buf;
}

static mode_t mode_of(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (st.st_mode & 07777) : (mode_t)-1;
}

static int is_link(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0 && S_ISLNK(st.st_mode);
}

static int is_fifo(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0 && S_ISFIFO(st.st_mode);
}

/* Readers: only regular files, and never a blocking open. */
static void test_readers(const scalpel_net *net, scalpel_trainer *tr)
{
    char fifo[1200], model[1200], link[1200], missing[1200];
    scalpel_net v;
    scalpel_dataset ds;
    uint64_t size = 1;
    path_in(fifo, "input.fifo");
    path_in(model, "model.scpn");
    path_in(link, "model-link.scpn");
    path_in(missing, "missing.scpn");
    remove(fifo);
    CHECK(mkfifo(fifo, 0600) == 0, "mkfifo");
    CHECK(scalpel_net_load(fifo, &v) == SCALPEL_ERR_NOT_REGULAR && v.n_layers == 0, "model from a FIFO");
    CHECK(scalpel_trainer_load_checkpoint(tr, fifo) == SCALPEL_ERR_NOT_REGULAR, "checkpoint from a FIFO");
    CHECK(scalpel_dataset_load_idx(fifo, fifo, &ds) == SCALPEL_ERR_NOT_REGULAR, "IDX from a FIFO");
    CHECK(scalpel_file_size(fifo, &size) == SCALPEL_ERR_NOT_REGULAR && size == 0, "file_size of a FIFO");
    CHECK(scalpel_net_load("/dev/zero", &v) == SCALPEL_ERR_NOT_REGULAR, "model from /dev/zero");
    CHECK(scalpel_trainer_load_checkpoint(tr, "/dev/urandom") == SCALPEL_ERR_NOT_REGULAR, "checkpoint from /dev/urandom");
    CHECK(scalpel_dataset_load_idx("/dev/zero", "/dev/zero", &ds) == SCALPEL_ERR_NOT_REGULAR, "IDX from /dev/zero");
    CHECK(scalpel_net_load(dir, &v) == SCALPEL_ERR_NOT_REGULAR, "model from a directory");
    CHECK(scalpel_trainer_load_checkpoint(tr, dir) == SCALPEL_ERR_NOT_REGULAR, "checkpoint from a directory");
    CHECK(scalpel_net_load(missing, &v) == SCALPEL_ERR_NOT_FOUND, "missing model");
    CHECK(scalpel_net_load("", &v) == SCALPEL_ERR_NOT_FOUND, "empty path");
    remove(fifo);
    /* a link to a model reads as the model */
    CHECK(scalpel_net_save(net, model) == SCALPEL_OK, "save");
    remove(link);
    CHECK(symlink("model.scpn", link) == 0, "symlink");
    CHECK(scalpel_net_load(link, &v) == SCALPEL_OK && v.n_layers == 3, "model through a symbolic link");
    scalpel_net_free(&v);
    CHECK(scalpel_file_size(model, &size) == SCALPEL_OK && size == scalpel_net_serialized_size(net), "file_size");
    if (geteuid() != 0) { /* root reads anything: the permission case exists for other users only */
        chmod(model, 0);
        CHECK(scalpel_net_load(model, &v) == SCALPEL_ERR_PERMISSION, "unreadable model");
        chmod(model, 0644);
    } else {
        printf("note: running as root, so an unreadable file cannot be made; PERMISSION not checked\n");
    }
    remove(link);
}

/* Writers: OUT must be absent or a regular file; everything else there is refused and left. */
static void test_writers(const scalpel_net *net, const scalpel_net *other, const scalpel_trainer *tr)
{
    char out[1200], fifo[1200], link[1200], dangling[1200], target[1200], old_tmp[1200], other_tmp[1200];
    unsigned char *bytes, *bytes2;
    size_t n, n2;
    static const char keep[] = "the user's own file";
    bytes = serialize(net, &n);
    bytes2 = serialize(other, &n2);
    path_in(out, "out.scpn");
    path_in(fifo, "out.fifo");
    path_in(link, "out-link.scpn");
    path_in(dangling, "dangling.scpn");
    path_in(target, "target.scpn");
    path_in(old_tmp, "out.scpn.tmp");
    path_in(other_tmp, "out.scpn.scalpel-tmp-1-2");
    remove(out);
    remove(fifo);
    remove(link);
    remove(dangling);
    remove(target);

    /* special files at OUT: refused, and still what they were */
    CHECK(mkfifo(fifo, 0600) == 0, "mkfifo");
    CHECK(scalpel_net_save(net, fifo) == SCALPEL_ERR_NOT_REGULAR && is_fifo(fifo), "save over a FIFO");
    CHECK(scalpel_net_export_c(net, "model", fifo) == SCALPEL_ERR_NOT_REGULAR && is_fifo(fifo), "export over a FIFO");
    CHECK(scalpel_trainer_save_checkpoint(tr, fifo) == SCALPEL_ERR_NOT_REGULAR && is_fifo(fifo), "checkpoint over a FIFO");
    {
        /* a device: /dev/null, or as root (who could replace it) a device node of our own */
        char dev[1200];
        struct stat st;
        strcpy(dev, "/dev/null");
        if (geteuid() == 0) {
            path_in(dev, "null.dev");
            remove(dev);
            CHECK(mknod(dev, S_IFCHR | 0666, makedev(1, 3)) == 0, "mknod %s", dev);
        }
        CHECK(scalpel_net_save(net, dev) == SCALPEL_ERR_NOT_REGULAR, "save over the device %s", dev);
        CHECK(stat(dev, &st) == 0 && S_ISCHR(st.st_mode), "%s is still a device", dev);
        if (geteuid() == 0) remove(dev);
    }
    CHECK(scalpel_net_save(net, dir) == SCALPEL_ERR_NOT_REGULAR, "save over a directory");
    write_bytes(target, keep, sizeof keep);
    CHECK(symlink("target.scpn", link) == 0, "symlink");
    CHECK(scalpel_net_save(net, link) == SCALPEL_ERR_NOT_REGULAR && is_link(link) && file_holds(target, keep, sizeof keep),
          "save over a symbolic link: refused, link and target intact");
    CHECK(scalpel_trainer_save_checkpoint(tr, link) == SCALPEL_ERR_NOT_REGULAR && is_link(link), "checkpoint over a link");
    CHECK(symlink("nowhere/at/all", dangling) == 0, "dangling symlink");
    CHECK(scalpel_net_save(net, dangling) == SCALPEL_ERR_NOT_REGULAR && is_link(dangling), "save over a dangling link");
    CHECK(temporaries() == 0, "no temporary file after the refusals");

    /* permissions: a new file gets 0666 less the umask, a replaced file keeps its bits */
    umask(022);
    CHECK(scalpel_net_save(net, out) == SCALPEL_OK && mode_of(out) == 0644, "new file: 0644 under umask 022");
    chmod(out, 0600);
    CHECK(scalpel_net_save(other, out) == SCALPEL_OK && mode_of(out) == 0600 && file_holds(out, bytes2, n2),
          "replaced file keeps 0600");
    chmod(out, 0640);
    CHECK(scalpel_net_export_c(net, "model", out) == SCALPEL_OK && mode_of(out) == 0640, "export keeps 0640");
    CHECK(scalpel_trainer_save_checkpoint(tr, out) == SCALPEL_OK && mode_of(out) == 0640, "checkpoint keeps 0640");

    /* files beside OUT, named like temporaries, are never touched */
    write_bytes(old_tmp, keep, sizeof keep);
    write_bytes(other_tmp, keep, sizeof keep);
    CHECK(scalpel_net_save(net, out) == SCALPEL_OK && file_holds(out, bytes, n), "save with neighbours");
    CHECK(scalpel_trainer_save_checkpoint(tr, out) == SCALPEL_OK, "checkpoint with neighbours");
    CHECK(file_holds(old_tmp, keep, sizeof keep) && file_holds(other_tmp, keep, sizeof keep), "OUT.tmp and a lookalike intact");
    remove(old_tmp);
    remove(other_tmp);
    CHECK(temporaries() == 0, "no temporary file after the saves");

    /* a full disk, simulated with the file size limit (SIGXFSZ ignored: the write fails with
       EFBIG): NO_SPACE, the old file intact, no temporary left; in a child, to keep the limit */
    CHECK(scalpel_net_save(net, out) == SCALPEL_OK, "save before the limit");
    {
        pid_t pid = fork();
        if (pid == 0) {
            struct rlimit rl;
            int code = 0;
            signal(SIGXFSZ, SIG_IGN);
            rl.rlim_cur = rl.rlim_max = 4096;
            if (setrlimit(RLIMIT_FSIZE, &rl) != 0) _exit(9);
            if (scalpel_net_save(other, out) != SCALPEL_ERR_NO_SPACE) code |= 1;
            if (scalpel_trainer_save_checkpoint(tr, out) != SCALPEL_ERR_NO_SPACE) code |= 2;
            if (scalpel_net_export_c(other, "model", out) != SCALPEL_ERR_NO_SPACE) code |= 4;
            _exit(code);
        } else {
            int status = -1;
            waitpid(pid, &status, 0);
            CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "past the size limit: NO_SPACE (exit %d)",
                  WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        }
    }
    CHECK(file_holds(out, bytes, n), "old file intact after the failed saves");
    CHECK(temporaries() == 0, "no temporary file after the failed saves");
    remove(out);
    remove(fifo);
    remove(link);
    remove(dangling);
    remove(target);
    free(bytes);
    free(bytes2);
}

/* Two processes save the same model file and the same checkpoint, round after round, while
 * this one reads them: every read sees a complete file from one of the writers. */
static void test_concurrent(const scalpel_net *net, const scalpel_net *other, scalpel_trainer *tr)
{
    enum { ROUNDS = 60 };
    char out[1200], ck[1200];
    unsigned char *bytes, *bytes2;
    size_t n, n2;
    pid_t pids[2];
    int w, reads = 0, bad = 0, bad_ck = 0, failed_children = 0;
    bytes = serialize(net, &n);
    bytes2 = serialize(other, &n2);
    path_in(out, "race.scpn");
    path_in(ck, "race.ckpt");
    CHECK(scalpel_net_save(net, out) == SCALPEL_OK && scalpel_trainer_save_checkpoint(tr, ck) == SCALPEL_OK, "first saves");
    for (w = 0; w < 2; w++) {
        pids[w] = fork();
        if (pids[w] == 0) {
            int r, errors = 0;
            for (r = 0; r < ROUNDS; r++) {
                if (scalpel_net_save(w ? other : net, out) != SCALPEL_OK) errors++;
                if (scalpel_trainer_save_checkpoint(tr, ck) != SCALPEL_OK) errors++;
            }
            _exit(errors ? 1 : 0);
        }
    }
    for (;;) {
        int status, done = 0;
        scalpel_net v;
        scalpel_status st = scalpel_net_load(out, &v);
        reads++;
        if (st != SCALPEL_OK) bad++;
        scalpel_net_free(&v);
        if (scalpel_trainer_load_checkpoint(tr, ck) != SCALPEL_OK) bad_ck++;
        for (w = 0; w < 2; w++)
            if (pids[w] > 0 && waitpid(pids[w], &status, WNOHANG) == pids[w]) {
                if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) failed_children++;
                pids[w] = 0;
            }
        for (w = 0; w < 2; w++) done += pids[w] == 0;
        if (done == 2) break;
    }
    CHECK(failed_children == 0, "every save of both writers succeeded");
    CHECK(bad == 0 && bad_ck == 0, "%d of %d model reads and %d checkpoint reads failed", bad, reads, bad_ck);
    CHECK(file_holds(out, bytes, n) || file_holds(out, bytes2, n2), "the final model file is one writer's");
    CHECK(scalpel_trainer_load_checkpoint(tr, ck) == SCALPEL_OK, "the final checkpoint loads");
    CHECK(temporaries() == 0, "no temporary file after the race");
    remove(out);
    remove(ck);
    free(bytes);
    free(bytes2);
}

/* Files that lie about their size: refused from their first bytes, never read or allocated. */
static void test_forged(scalpel_trainer *tr)
{
    char big[1200];
    unsigned char head[64];
    uint64_t total = (uint64_t)1 << 32;
    scalpel_net v;
    int fd;
    path_in(big, "forged.scpn");
    memset(head, 0, sizeof head);
    memcpy(head, SCALPEL_NET_MAGIC, 4);
    scalpel__put_u16(head + 4, SCALPEL_NET_FORMAT_VERSION);
    scalpel__put_u16(head + 6, 64);
    scalpel__put_u32(head + 8, 144);
    scalpel__put_u32(head + 12, 0);
    scalpel__put_u32(head + 16, 1);
    scalpel__put_u32(head + 20, 1);
    scalpel__put_u32(head + 24, 1);
    scalpel__put_u64(head + 32, total);
    fd = open(big, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0 && write(fd, head, sizeof head) == (ssize_t)sizeof head && ftruncate(fd, (off_t)total) == 0,
          "a sparse 4 GiB file");
    if (fd >= 0) close(fd);
    largest_alloc = 0;
    {
        clock_t t0 = clock();
        CHECK(scalpel_net_load(big, &v) == SCALPEL_ERR_CORRUPT, "forged 4 GiB model: CORRUPT");
        CHECK(largest_alloc < ((size_t)1 << 20), "forged model: largest allocation %lu bytes", (unsigned long)largest_alloc);
        CHECK((double)(clock() - t0) / CLOCKS_PER_SEC < 2.0, "forged model: not read");
    }
    /* a checkpoint longer than this trainer's: refused before it is read */
    largest_alloc = 0;
    CHECK(scalpel_trainer_load_checkpoint(tr, big) == SCALPEL_ERR_SHAPE, "4 GiB checkpoint: SHAPE");
    CHECK(largest_alloc < ((size_t)1 << 20), "4 GiB checkpoint: largest allocation %lu", (unsigned long)largest_alloc);
    remove(big);
}

int main(int argc, char **argv)
{
    scalpel_net net, other;
    scalpel_trainer tr;
    scalpel_train_config cfg;
    if (argc != 2) {
        fprintf(stderr, "usage: %s WORKDIR\n", argv[0]);
        return 2;
    }
    snprintf(dir, sizeof dir, "%s/files", argv[1]);
    mkdir(dir, 0755);
    build(&net, 1);
    build(&other, 2);
    scalpel_train_config_default(&cfg);
    CHECK(scalpel_trainer_init(&net, 4, &cfg, &tr) == SCALPEL_OK, "trainer");
    test_readers(&net, &tr);
    test_writers(&net, &other, &tr);
    test_concurrent(&net, &other, &tr);
    test_forged(&tr);
    scalpel_trainer_free(&tr);
    scalpel_net_free(&net);
    scalpel_net_free(&other);
    return test_summary("test_files");
}
