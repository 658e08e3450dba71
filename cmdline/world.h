/* The processes a backtune command runs as: this one alone, or the ranks of an MPI job
 * started by Open MPI's mpirun or Slurm's srun (docs/tuning.md#on-a-cluster).
 *
 * Built with MPI (CMake found it: BT_HAVE_MPI, world_mpi.c), a command started by a launcher
 * joins its job. Built without (world_single.c), a command started as one of several ranks
 * is refused with a message: each would run alone, all measuring on the same CPUs and
 * writing the same files. A command run without a launcher is rank 0 of 1 in both builds and
 * never starts MPI.
 *
 * Ranks on one host whose CPU sets overlap would disturb each other's timings, so joining
 * refuses them unless allow_shared_node. A rank's CPUs are those its launcher bound it to
 * (mpirun --bind-to core, srun --cpu-bind=cores): the command's OpenMP places (cli/backtune.c
 * sets OMP_PLACES=cores unless the user chose) are built inside that binding, so the rank's
 * threads bind to its own cores, and its fingerprint counts those cores. */
#ifndef BT_CMDLINE_WORLD_H
#define BT_CMDLINE_WORLD_H

#include <stddef.h>

#define BT_WORLD_HOST 64
#define BT_WORLD_CPUS 192

typedef struct bt_world {
    int rank, size;           /* 0 and 1 alone */
    int mpi;                  /* joined an MPI job: bt_world_leave finalizes it */
    int threads_multiple;     /* MPI may be called from several threads at once */
    char host[BT_WORLD_HOST]; /* gethostname() */
    char cpus[BT_WORLD_CPUS]; /* the CPUs this rank may use, an hwloc list ("0-3,8") */
    int host_ranks;           /* ranks of the job on this host (1 alone) */
} bt_world;

/* The number of ranks of the job this process was started in, from its launcher's
 * environment (Open MPI, PMI, Slurm); 1 when no launcher started it. */
int bt_world_launched_size(void);

/* Joins the job this process was started in; alone, rank 0 of 1. Rank 0 prints one line per
 * rank (host, CPUs, machine id). Returns 0, or -1 on every rank with the reason printed (by
 * rank 0 where it concerns the job): CPU sets overlapping on a host without
 * allow_shared_node, or a launched job without MPI in this build. `command` prefixes
 * messages ("backtune tune"). */
int bt_world_join(bt_world *w, const char *command, int allow_shared_node);
/* Leaves the job (MPI_Finalize); nothing alone. */
void bt_world_leave(bt_world *w);

/* Whether `ok` holds on every rank (a collective call of every rank). */
int bt_world_all(const bt_world *w, int ok);

/* "_<host>" (and "_r<rank>" if its host runs several ranks) in a job of several ranks, ""
 * alone: what a rank's file names carry so that no two ranks write the same path. */
void bt_world_file_tag(const bt_world *w, char *out, size_t size);

/* Gathers the file each rank wrote at `path` (NULL or unreadable: none; paths should carry
 * bt_world_file_tag) to rank 0, which writes the files of ranks on other hosts at the same
 * paths on its file system. A collective call of every rank; alone it does nothing. Returns
 * the number of files rank 0 received (0 elsewhere), or -1 with the message printed. */
int bt_world_gather_files(const bt_world *w, const char *command, const char *path);

/* Help text of --allow-shared-node, for the commands that take it. */
#define BT_WORLD_HELP_SHARED_NODE                                                                  \
    "      --allow-shared-node under mpirun/srun: let ranks whose CPU sets overlap on one\n"       \
    "                          host run (their timings disturb each other; tests use it)\n"

/* Fills host and cpus (both builds). */
void bt_world_describe(bt_world *w);

#endif
