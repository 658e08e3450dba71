/* backtune bench: the problems selected, the variants and peers that run them, and the
 * benchmarks (problem x variant or peer x thread count) they make. */
#include "bench_run.h"

#include "cmdline.h"
#include "peak.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int add_problem(bench_run *run, const bt_problem *p, const char *name, int count) {
    bt_problem q = *p;
    char text[TEXT_SIZE];
    if (bt_problem_format(&q, text, sizeof text) < 0) {
        fprintf(stderr, "backtune bench: %s\n", bt_last_error());
        return -1;
    }
    for (int i = 0; i < run->nproblems; i++)
        if (!strcmp(run->problems[i].text, text)) {
            fprintf(stderr, "backtune bench: '%s' given twice, run once\n", text);
            return 0;
        }
    bench_problem *bp = realloc(run->problems, (size_t)(run->nproblems + 1) * sizeof *bp);
    if (!bp) return -1;
    run->problems = bp;
    bench_problem *b = &bp[run->nproblems++];
    memset(b, 0, sizeof *b);
    b->problem = q;
    snprintf(b->text, sizeof b->text, "%s", text);
    snprintf(b->name, sizeof b->name, "%s", name);
    b->count = count;
    b->ordinal = run->nproblems;
    b->flops = bt_problem_flops(&q);
    double x = (double)bt_problem_x_elems(&q), w = (double)bt_problem_w_elems(&q),
           dy = (double)bt_problem_dy_elems(&q), db = (double)bt_problem_db_elems(&q);
    int rw = q.accumulate ? 2 : 1; /* accumulating outputs are read and written */
    int bwd_data = q.op == BT_CONV_BWD_DATA || q.op == BT_FC_BWD_DATA;
    b->bytes = sizeof(float) * (bwd_data ? w + dy + rw * x : x + dy + rw * (w + db));
    return 0;
}

/* The selected problems (cmdline/selection.h), each run once. */
int bench_collect_problems(bench_run *run) {
    bt_cli_problem_list list = {0};
    int rc = bt_cli_selection_problems(&run->opt.sel, &list);
    for (int i = 0; !rc && i < list.count; i++)
        rc = add_problem(run, &list.items[i].problem, list.items[i].name, list.items[i].count);
    bt_cli_problem_list_free(&list);
    return rc;
}

/* Measures every peak the run can need before any peer library is set up: a peer's own
 * thread pool (OpenBLAS's spins after a call) would otherwise share the cores with the
 * probe and lower the peak (to 390 of 444 GFLOP/s on 2 threads here). Cached afterwards. */
void bench_measure_peaks_before_peers(bench_run *run) {
    for (int t = 0; t < run->opt.sel.nthreads; t++)
        for (int isa = BT_ISA_SCALAR; isa <= BT_ISA_AVX512; isa++)
            bt_peak_gflops((bt_isa)isa, run->opt.sel.threads[t]);
    /* The probe measured again at the end: the best ISA on the most threads of the run
     * that the CPUs can hold. */
    bench_verdict *v = &run->verdict;
    int cpus = run->load_start.cpus > 0 ? run->load_start.cpus : bt_machine_get()->pus;
    for (int t = 0; t < run->opt.sel.nthreads; t++)
        if (run->opt.sel.threads[t] > v->peak_threads) v->peak_threads = run->opt.sel.threads[t];
    if (v->peak_threads > cpus) v->peak_threads = cpus;
    v->peak_isa = bt_machine_get()->isa_cap;
    v->peak_start = bt_peak_gflops(v->peak_isa, v->peak_threads);
}

int bench_collect_impls(bench_run *run) {
    int nvariants = bt_variant_count(), npeers = 0;
    while (bt_bench_peers[npeers]) npeers++;
    run->impls = calloc((size_t)(nvariants + npeers + 1), sizeof *run->impls);
    if (!run->impls) return -1;
    int op_used[4] = {0}; /* by some problem (a full problem text brings its own op) */
    for (int p = 0; p < run->nproblems; p++) op_used[run->problems[p].problem.op] = 1;
    for (int i = 0; i < nvariants; i++) {
        if (!op_used[bt_variant_op(i)]) continue;
        if (bt_cli_name_selected(bt_variant_name(i), run->opt.variants))
            bt_bench_variant_impl(i, &run->impls[run->nimpls++]);
    }
    if (bt_cli_name_selected(bt_bench_dispatch.name, run->opt.variants))
        run->impls[run->nimpls++] = bt_bench_dispatch;
    for (int i = 0; i < npeers; i++) {
        const bt_bench_impl *peer = bt_bench_peers[i];
        if (!bt_cli_name_selected(peer->name, run->opt.variants)) continue;
        if (peer->setup && peer->setup(peer) != BT_OK) {
            fprintf(stderr, "backtune bench: %s left out: %s\n", peer->name, bt_last_error());
            continue;
        }
        run->impls[run->nimpls++] = *peer;
    }
    if (!run->nimpls) {
        fprintf(stderr, "backtune bench: no variant or peer matches '%s'\n", run->opt.variants);
        return -1;
    }
    return 0;
}

int bench_collect_cases(bench_run *run) {
    size_t max = (size_t)run->nproblems * (size_t)run->nimpls * (size_t)run->opt.sel.nthreads;
    run->cases = calloc(max ? max : 1, sizeof *run->cases);
    if (!run->cases) return -1;
    for (int p = 0; p < run->nproblems; p++) {
        bench_problem *prob = &run->problems[p];
        for (int i = 0; i < run->nimpls; i++) {
            const bt_bench_impl *impl = &run->impls[i];
            if (!impl->peer && impl->variant >= 0 &&
                bt_variant_op(impl->variant) != prob->problem.op)
                continue;
            if (impl->supports(impl, &prob->problem) != BT_OK) {
                run->unsupported++;
                if (run->opt.sel.verbose)
                    fprintf(stderr, "backtune bench: %s on '%s': %s\n", impl->name, prob->text,
                            bt_last_error());
                continue;
            }
            for (int t = 0; t < run->opt.sel.nthreads; t++) {
                bench_case *c = &run->cases[run->ncases++];
                c->prob = prob;
                c->impl = impl;
                c->threads = run->opt.sel.threads[t];
                char path[TEXT_SIZE];
                snprintf(path, sizeof path, "%s", prob->text);
                for (char *s = path; *s; s++)
                    if (*s == ' ') *s = '/';
                snprintf(c->name, sizeof c->name, "%s/%s/omp:%d", path, impl->name, c->threads);
            }
        }
    }
    return 0;
}
