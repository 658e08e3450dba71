/* The world of a build with MPI (world.h): a command started by mpirun or srun joins the
 * job; one started alone never calls MPI (an MPI singleton would start a runtime for
 * nothing). */
#include "world.h"

#include "cmdline.h"
#include "fingerprint.h"
#include "internal.h"

#include <hwloc.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* What each rank tells the others when it joins. */
typedef struct rank_info {
    char host[BT_WORLD_HOST];
    char cpus[BT_WORLD_CPUS];
    char machine[64], hardware[16];
} rank_info;

/* Whether the CPU lists a and b share a CPU (an unknown list, "?", shares all). */
static int cpus_overlap(const char *a, const char *b) {
    hwloc_bitmap_t x = hwloc_bitmap_alloc(), y = hwloc_bitmap_alloc();
    int overlap = !x || !y || hwloc_bitmap_list_sscanf(x, a) != 0 ||
                  hwloc_bitmap_list_sscanf(y, b) != 0 || hwloc_bitmap_intersects(x, y);
    hwloc_bitmap_free(x);
    hwloc_bitmap_free(y);
    return overlap;
}

/* Reports the ranks and the hosts where two share CPUs; returns how many pairs do. */
static int check_ranks(const bt_world *w, const rank_info *all, const char *command,
                       int allow_shared_node) {
    int pairs = 0;
    for (int i = 0; i < w->size; i++)
        for (int j = i + 1; j < w->size; j++)
            if (!strcmp(all[i].host, all[j].host) && cpus_overlap(all[i].cpus, all[j].cpus)) {
                if (w->rank == 0)
                    fprintf(stderr, "%s: ranks %d and %d share CPUs on %s (%s and %s)%s\n", command,
                            i, j, all[i].host, all[i].cpus, all[j].cpus,
                            allow_shared_node ? "; --allow-shared-node: their timings disturb "
                                                "each other"
                                              : "");
                pairs++;
            }
    if (pairs && !allow_shared_node && w->rank == 0)
        fprintf(stderr,
                "%s: refused: ranks sharing CPUs would disturb each other's timings. Bind each "
                "rank to cores of its own (mpirun --bind-to core --map-by slot:PE=N, srun "
                "--cpu-bind=cores --cpus-per-task=N), or pass --allow-shared-node to accept "
                "disturbed timings\n",
                command);
    return pairs;
}

int bt_world_join(bt_world *w, const char *command, int allow_shared_node) {
    memset(w, 0, sizeof *w);
    w->size = w->host_ranks = 1;
    bt_world_describe(w);
    if (bt_world_launched_size() <= 1) return 0;
    int provided = MPI_THREAD_SINGLE;
    if (MPI_Init_thread(NULL, NULL, MPI_THREAD_MULTIPLE, &provided) != MPI_SUCCESS) {
        fprintf(stderr, "%s: cannot join the MPI job (MPI_Init_thread failed)\n", command);
        return -1;
    }
    w->mpi = 1;
    w->threads_multiple = provided >= MPI_THREAD_MULTIPLE;
    MPI_Comm_rank(MPI_COMM_WORLD, &w->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &w->size);
    rank_info mine = {0}, *all = calloc((size_t)w->size, sizeof *all);
    if (!all) {
        fprintf(stderr, "%s: out of memory joining %d ranks\n", command, w->size);
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    const bt_fingerprint *fp = bt_fingerprint_get();
    snprintf(mine.host, sizeof mine.host, "%s", w->host);
    snprintf(mine.cpus, sizeof mine.cpus, "%s", w->cpus);
    snprintf(mine.machine, sizeof mine.machine, "%s", fp->id);
    snprintf(mine.hardware, sizeof mine.hardware, "%s", fp->hardware);
    MPI_Allgather(&mine, (int)sizeof mine, MPI_BYTE, all, (int)sizeof mine, MPI_BYTE,
                  MPI_COMM_WORLD);
    w->host_ranks = 0;
    for (int i = 0; i < w->size; i++) w->host_ranks += !strcmp(all[i].host, w->host);
    if (w->rank == 0)
        for (int i = 0; i < w->size; i++)
            fprintf(stderr, "%s: rank %d of %d on %s, CPUs %s, machine %s (hardware %s)\n", command,
                    i, w->size, all[i].host, all[i].cpus, all[i].machine, all[i].hardware);
    int pairs = check_ranks(w, all, command, allow_shared_node);
    free(all);
    return pairs && !allow_shared_node ? -1 : 0;
}

void bt_world_leave(bt_world *w) {
    if (w->mpi) MPI_Finalize();
    w->mpi = 0;
}

int bt_world_all(const bt_world *w, int ok) {
    if (!w->mpi) return ok;
    int mine = ok != 0, all = 0;
    MPI_Allreduce(&mine, &all, 1, MPI_INT, MPI_LAND, MPI_COMM_WORLD);
    return all;
}

void bt_world_file_tag(const bt_world *w, char *out, size_t size) {
    char host[BT_WORLD_HOST];
    bt_fingerprint_sanitize(w->host, host, sizeof host);
    if (w->size <= 1)
        snprintf(out, size, "%s", "");
    else if (w->host_ranks > 1)
        snprintf(out, size, "_%s_r%d", host, w->rank);
    else
        snprintf(out, size, "_%s", host);
}

/* The whole file, NULL if it cannot be read. */
static char *read_whole(const char *path, long long *bytes) {
    FILE *f = fopen(path, "rb");
    char *data = NULL;
    long n = f && fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    if (n >= 0 && fseek(f, 0, SEEK_SET) == 0 && (data = malloc((size_t)n + 1)) &&
        fread(data, 1, (size_t)n, f) != (size_t)n)
        free(data), data = NULL;
    if (f) fclose(f);
    *bytes = data ? n : -1;
    return data;
}

/* Writes data to path through a temporary file and rename(), creating its folder. */
static int write_whole(const char *path, const char *data, long long bytes) {
    char dir[1024], tmp[1100];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = '\0';
    if (slash && bt_mkdirs(dir) != BT_OK) return 0;
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    FILE *f = fopen(tmp, "wb");
    int ok = f && fwrite(data, 1, (size_t)bytes, f) == (size_t)bytes;
    ok = f && fclose(f) == 0 && ok;
    if (ok && rename(tmp, path) == 0) return 1;
    unlink(tmp);
    bt_fail(BT_EIO, "cannot write %s", path);
    return 0;
}

/* What a rank sends rank 0 about its file. */
typedef struct file_info {
    char path[1024];
    char host[BT_WORLD_HOST];
    long long bytes; /* -1: none */
} file_info;

int bt_world_gather_files(const bt_world *w, const char *command, const char *path) {
    if (!w->mpi || w->size <= 1) return 0;
    file_info mine = {.bytes = -1};
    char *data = NULL;
    if (path && strlen(path) < sizeof mine.path && (data = read_whole(path, &mine.bytes)))
        snprintf(mine.path, sizeof mine.path, "%s", path);
    snprintf(mine.host, sizeof mine.host, "%s", w->host);
    file_info *all = w->rank == 0 ? calloc((size_t)w->size, sizeof *all) : NULL;
    if (w->rank == 0 && !all) MPI_Abort(MPI_COMM_WORLD, 2);
    MPI_Gather(&mine, (int)sizeof mine, MPI_BYTE, all, (int)sizeof mine, MPI_BYTE, 0,
               MPI_COMM_WORLD);
    int received = 0, failed = 0;
    if (w->rank != 0) {
        if (mine.bytes > 0) MPI_Send(data, (int)mine.bytes, MPI_BYTE, 0, 0, MPI_COMM_WORLD);
    } else {
        received = mine.bytes >= 0;
        for (int r = 1; r < w->size; r++) {
            if (all[r].bytes < 0) continue;
            char *in = malloc((size_t)all[r].bytes + 1);
            if (!in) MPI_Abort(MPI_COMM_WORLD, 2);
            if (all[r].bytes > 0)
                MPI_Recv(in, (int)all[r].bytes, MPI_BYTE, r, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            received++;
            /* A rank of this host wrote it on this file system already. */
            if (strcmp(all[r].host, w->host)) {
                if (write_whole(all[r].path, in, all[r].bytes)) {
                    fprintf(stderr, "%s: rank %d's results (%s) in %s\n", command, r, all[r].host,
                            all[r].path);
                } else {
                    fprintf(stderr, "%s: rank %d's %s: %s\n", command, r, all[r].path,
                            bt_last_error());
                    failed = 1;
                }
            }
            free(in);
        }
    }
    free(all);
    free(data);
    return failed ? -1 : received;
}
