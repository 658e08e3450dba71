/* backtune bench: what the run found, for people: the best variant and peer per problem, model
 * totals, and the failures and counts. */
#include "bench_run.h"

#include "bench_util.h"

#include <stdio.h>
#include <string.h>

static int better(const bench_case *c, const bench_case *best) {
    return c->timed_runs && (!best || c->best_gflops > best->best_gflops);
}

/* The fastest variant and peer case of (prob, threads), NULL where none was timed; returns
 * whether any case of them ran or failed. */
static int best_cases(const bench_run *run, const bench_problem *prob, int threads,
                      const bench_case **ours, const bench_case **peer) {
    int any = 0;
    *ours = *peer = NULL;
    for (int i = 0; i < run->ncases; i++) {
        const bench_case *c = &run->cases[i];
        if (c->prob != prob || c->threads != threads) continue;
        any |= c->timed_runs > 0 || c->failed;
        const bench_case **best = c->impl->peer ? peer : ours;
        if (better(c, *best)) *best = c;
    }
    return any;
}

void bench_print_summary(const bench_run *run) {
    FILE *out = run->report;
    int wname = 4, wtext = 7, wvar = 12, wpeer = 9;
    for (int i = 0; i < run->nproblems; i++) {
        int n = (int)strlen(run->problems[i].name), t = (int)strlen(run->problems[i].text);
        if (n > wname) wname = n;
        if (t > wtext) wtext = t;
    }
    for (int i = 0; i < run->nimpls; i++) {
        int n = (int)strlen(run->impls[i].name);
        if (run->impls[i].peer && n > wpeer) wpeer = n;
        if (!run->impls[i].peer && n > wvar) wvar = n;
    }
    fprintf(out, "\nsummary: best GFLOP/s of each (problem, threads) over its runs; %%peak of the\n"
                 "measured peak for that ISA and thread count; ratio = best variant / best peer\n");
    fprintf(out, "%-*s  %-*s  %3s  %-*s %9s %6s  %-*s %9s %6s\n", wname, "name", wtext, "problem",
            "T", wvar, "best variant", "GFLOP/s", "%peak", wpeer, "best peer", "GFLOP/s", "ratio");
    for (int p = 0; p < run->nproblems; p++) {
        const bench_problem *prob = &run->problems[p];
        for (int t = 0; t < run->opt.sel.nthreads; t++) {
            const bench_case *ours, *peer;
            if (!best_cases(run, prob, run->opt.sel.threads[t], &ours, &peer)) continue;
            fprintf(out, "%-*s  %-*s  %3d  ", wname, prob->name[0] ? prob->name : "-", wtext,
                    prob->text, run->opt.sel.threads[t]);
            if (ours)
                fprintf(out, "%-*s %9.2f %6.1f  ", wvar, ours->impl->name, ours->best_gflops,
                        ours->peak_gflops > 0 ? 100 * ours->best_gflops / ours->peak_gflops : 0);
            else
                fprintf(out, "%-*s %9s %6s  ", wvar, "-", "", "");
            if (peer)
                fprintf(out, "%-*s %9.2f ", wpeer, peer->impl->name, peer->best_gflops);
            else
                fprintf(out, "%-*s %9s ", wpeer, "-", "");
            if (ours && peer)
                fprintf(out, "%6.2f", ours->best_gflops / peer->best_gflops);
            else
                fprintf(out, "%6s", "");
            fprintf(out, "%s\n",
                    (ours && ours->flagged) || (peer && peer->flagged) ? "  interference" : "");
        }
    }
}

/* Per (op, layout, threads): the time of one pass over every shape, each weighted by its
 * occurrence count, with the best variant (and the best peer) of each shape. */
void bench_print_model_totals(const bench_run *run) {
    FILE *out = run->report;
    int header = 0;
    for (int op = 0; op < 4; op++)
        for (int layout = BT_NCHW; layout <= BT_NHWC; layout++)
            for (int t = 0; t < run->opt.sel.nthreads; t++) {
                int threads = run->opt.sel.threads[t], shapes = 0, layers = 0, both = 0;
                double ours_s = 0, flop = 0, ours_both_s = 0, peer_both_s = 0;
                for (int p = 0; p < run->nproblems; p++) {
                    const bench_problem *prob = &run->problems[p];
                    if ((int)prob->problem.op != op ||
                        (!bench_op_is_fc(prob->problem.op) &&
                         (int)prob->problem.layout != layout) ||
                        (bench_op_is_fc(prob->problem.op) && layout != BT_NCHW))
                        continue;
                    const bench_case *ours, *peer;
                    best_cases(run, prob, threads, &ours, &peer);
                    if (!ours) continue;
                    double s = prob->count * prob->flops / (ours->best_gflops * 1e9);
                    shapes++;
                    layers += prob->count;
                    ours_s += s;
                    flop += prob->count * prob->flops;
                    if (peer) {
                        both++;
                        ours_both_s += s;
                        peer_both_s += prob->count * prob->flops / (peer->best_gflops * 1e9);
                    }
                }
                if (shapes < 2) continue;
                if (!header)
                    fprintf(out, "\nmodel totals: one pass over the shapes, each x its count, best "
                                 "variant per shape\n");
                header = 1;
                char label[32];
                snprintf(label, sizeof label, "%s%s", bt_op_name((bt_op)op),
                         !bench_op_is_fc((bt_op)op) && layout == BT_NHWC ? "_nhwc" : "");
                fprintf(out, "  %-15s T=%-3d %10.4g ms  %8.2f GFLOP/s  (%d shapes, %d layers)",
                        label, threads, ours_s * 1e3, flop / ours_s * 1e-9, shapes, layers);
                if (both)
                    fprintf(out, "; best peers %.4g ms on %d of them, ratio %.2f",
                            peer_both_s * 1e3, both, peer_both_s / ours_both_s);
                fprintf(out, "\n");
            }
}

int bench_print_outcome(const bench_run *run) {
    int failed = 0, not_run = 0;
    for (int i = 0; i < run->ncases; i++) {
        const bench_case *c = &run->cases[i];
        if (c->failed) {
            if (failed < 20)
                fprintf(stderr, "backtune bench: FAILED %s: %s\n", c->name, c->failure);
            failed++;
        }
        if (c->interrupted) not_run++;
    }
    if (failed > 20) fprintf(stderr, "backtune bench: ... %d failures in all\n", failed);
    fprintf(stderr,
            "backtune bench: %d benchmarks, %d failed, %d (variant, problem) pairs "
            "unsupported and skipped, %.1f s\n",
            run->ncases, failed, run->unsupported, bt_bench_now() - run->start);
    if (bench_interrupted())
        fprintf(stderr,
                "backtune bench: interrupted; %d benchmarks not run (left out of the "
                "reports)\n",
                not_run);
    return bench_interrupted() ? 130 : failed ? 1 : 0;
}
