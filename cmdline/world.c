/* What both builds of the world (world_mpi.c, world_single.c) share: the launcher's
 * environment and this rank's host and CPUs. */
#include "world.h"

#include "fingerprint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int bt_world_launched_size(void) {
    /* Open MPI's mpirun, PMI (MPICH, srun --mpi=pmi2), a Slurm job step (srun). */
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_STEP_NUM_TASKS"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        if (v && atoi(v) > 0) return atoi(v);
    }
    return getenv("PMIX_RANK") ? 2 : 1; /* PMIx alone does not say the size: more than one */
}

void bt_world_describe(bt_world *w) {
    if (gethostname(w->host, sizeof w->host) != 0) snprintf(w->host, sizeof w->host, "?");
    w->host[sizeof w->host - 1] = '\0';
    if (!bt_fingerprint_cpus(w->cpus, sizeof w->cpus)) snprintf(w->cpus, sizeof w->cpus, "?");
}
