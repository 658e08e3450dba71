/* The world of a build without MPI (world.h): this process alone. One started by an MPI
 * launcher as one of several ranks is refused: it cannot learn its rank, so every rank would
 * tune or benchmark the same problems on the same files. */
#include "world.h"

#include <stdio.h>
#include <string.h>

int bt_world_join(bt_world *w, const char *command, int allow_shared_node) {
    (void)allow_shared_node; /* one process cannot share its CPUs with another rank */
    memset(w, 0, sizeof *w);
    w->size = w->host_ranks = 1;
    bt_world_describe(w);
    int launched = bt_world_launched_size();
    if (launched > 1) {
        fprintf(stderr,
                "%s: started as one of %d ranks of an MPI job, but this backtune was built "
                "without MPI (libopenmpi-dev missing at build time, or -DBACKTUNE_MPI=OFF): each "
                "rank would run the whole command alone; rebuild with MPI or run it without "
                "mpirun/srun\n",
                command, launched);
        return -1;
    }
    return 0;
}

void bt_world_leave(bt_world *w) {
    (void)w;
}

int bt_world_all(const bt_world *w, int ok) {
    (void)w;
    return ok;
}

void bt_world_file_tag(const bt_world *w, char *out, size_t size) {
    (void)w;
    if (size) out[0] = '\0';
}

int bt_world_gather_files(const bt_world *w, const char *command, const char *path) {
    (void)w, (void)command, (void)path;
    return 0; /* the file is where it was written */
}
