/* backtune compare: results of several machines (or builds, or configurations) side by side,
 * problem by problem, with speedups over the first set, marked when inside the measured
 * noise, and their geometric means per suite and op. */
#include "compare.h"
#include "compare_cmd.h"
#include "cmdline.h"

#include <dirent.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char compare_help[] =
    "usage: backtune compare [options] A B [C ...]\n"
    "Compares results of several machines, builds or configurations. A, B, ... are results\n"
    "folders (results/<machine-id>/, holding bench JSON files and a tuning table), single\n"
    "files (a bench JSON or a table.json), or a fleet's folder (results/, as `mpirun ...\n"
    "backtune bench --save` fills it): each machine folder in it. Runs are matched by cache mode, "
    "problem text,\n"
    "variant (or the best one) and thread count; for each problem: GFLOP/s on each set, % of\n"
    "that set's own measured peak, speedup over A, and geomeans per suite and op. Tuning\n"
    "tables: the variant each set picked and its GFLOP/s.\n\n"
    "  --by best|variant     best: the best of our variants per problem on each side, whichever\n"
    "                        it is (default); variant: every variant (and peer) by name\n"
    "  -v, --variants GLOBS  comma-separated shell globs over variant names, '!' excludes\n"
    "                        (default: '*,!peer:*' for --by best: ours; all for --by variant;\n"
    "                        --by best --variants 'peer:*' compares the best peers)\n"
    "  -t, --threads LIST    one count: only runs at that count; one count per set: set i's\n"
    "                        runs at count i are matched (e.g. 'A A --threads 1,2' compares\n"
    "                        1 thread with 2 threads of one folder)\n"
    "  -h, --help            this text\n\n"
    "GFLOP/s is the median over a run's repetitions. A speedup inside the measured noise is\n"
    "marked '~': |ln(X/A)| <= 2 sqrt(cv_A^2 + cv_X^2), cv being the coefficient of variation of\n"
    "the time over the repetitions (bench with --benchmark_repetitions=5 to measure it); '?'\n"
    "when a side was measured once (noise unknown). Exit status: 0 ok, 1 nothing in common,\n"
    "2 bad usage or input (missing file, other schema version, no results).\n";

static const char report_help[] =
    "usage: backtune report [options] RESULTS... -o DIR\n"
    "Writes an HTML report, DIR/index.html, with plots (PNG and SVG, drawn by gnuplot) and\n"
    "tables, for one or more result sets (machines), the first, A, being the reference:\n"
    "  - a verdict computed at the top: each set's speed against A on the suite with the most\n"
    "    work both measured (model totals: shapes weighted by their layer counts), per unit of\n"
    "    measured peak, its weakest and strongest op, the tuning keys both tuned;\n"
    "  - model totals and efficiency (% of each set's own measured peak) per suite and threads;\n"
    "  - tuned over default dispatch (tuning tables): per set, and each set's keys sorted, the\n"
    "    worst and best named;\n"
    "  - thread scaling from 1 thread to N;\n"
    "  - with several sets, the speedup of each over A per problem (noise as in compare);\n"
    "  - a roofline per set (measured peak and bandwidth; each problem's best variant and best\n"
    "    peer at their arithmetic intensity, numbered as the rows of its table);\n"
    "  - every variant and peer side by side per problem.\n"
    "A view a set has no data for says so, with the command that records it. RESULTS are\n"
    "results folders or files, or a fleet's folder (results/: each machine folder in it), as\n"
    "for backtune compare.\n\n"
    "  -o, --out DIR         where to write (created; files of an earlier report replaced)\n"
    "  -v, --variants GLOBS  variants shown (comma-separated globs, '!' excludes)\n"
    "  -t, --threads LIST    as for backtune compare\n"
    "  -h, --help            this text\n\n"
    "The gnuplot scripts (*.gp) and their data (*.dat) stay in DIR, to redraw or restyle.\n"
    "Needs gnuplot (Debian: gnuplot-nox). Exit status: 0 ok, 1 plots not drawn, 2 bad usage\n"
    "or input.\n";

/* ---- arguments ---- */

static int holds_json(const char *dir) {
    DIR *d = opendir(dir);
    int found = 0;
    for (struct dirent *e; d && !found && (e = readdir(d));) {
        size_t n = strlen(e->d_name);
        found = e->d_name[0] != '.' && n > 5 && !strcmp(e->d_name + n - 5, ".json") &&
                !strstr(e->d_name, ".tmp.");
    }
    if (d) closedir(d);
    return found;
}

static int compare_strings(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Adds path to a's sets: a folder that holds no results itself but folders that do (a
 * fleet's results/) adds each of those, in name order. 0, or -1 past BT_CMP_MAX_SETS. */
static int add_sets(bt_cmp_args *a, const char *path) {
    struct stat sb;
    DIR *d =
        stat(path, &sb) == 0 && S_ISDIR(sb.st_mode) && !holds_json(path) ? opendir(path) : NULL;
    char *names[256];
    int n = 0;
    for (struct dirent *e; d && n < 256 && (e = readdir(d));) {
        char sub[1024];
        snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
        if (e->d_name[0] != '.' && stat(sub, &sb) == 0 && S_ISDIR(sb.st_mode) && holds_json(sub))
            names[n++] = strdup(e->d_name);
    }
    if (d) closedir(d);
    if (!n) {
        if (a->npaths == BT_CMP_MAX_SETS) return -1;
        a->paths[a->npaths++] = path;
        return 0;
    }
    qsort(names, (size_t)n, sizeof *names, compare_strings);
    int rc = 0;
    for (int i = 0; i < n; i++) {
        if (!names[i] || a->npaths == BT_CMP_MAX_SETS) {
            rc = -1;
        } else {
            size_t len = strlen(path);
            while (len > 1 && path[len - 1] == '/') len--;
            snprintf(a->fleet[a->npaths], sizeof a->fleet[0], "%.*s/%s", (int)len, path, names[i]);
            a->paths[a->npaths] = a->fleet[a->npaths];
            a->npaths++;
        }
        free(names[i]);
    }
    return rc;
}

int bt_cmp_parse_args(int argc, char **argv, int report, bt_cmp_args *a) {
    static const struct option longopts[] = {
        {"by", required_argument, NULL, 'b'},      {"variants", required_argument, NULL, 'v'},
        {"threads", required_argument, NULL, 't'}, {"out", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},          {0}};
    const char *name = report ? "report" : "compare", *help = report ? report_help : compare_help;
    const char *command = report ? "backtune report" : "backtune compare";
    memset(a, 0, sizeof *a);
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, report ? ":v:t:o:h" : ":v:t:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'b':
            if (report || (strcmp(optarg, "best") && strcmp(optarg, "variant"))) {
                fprintf(stderr, "backtune %s: --by takes best or variant%s\n", name,
                        report ? " (compare only)" : "");
                bt_cli_try_help(command);
                return -1;
            }
            a->match.by_variant = !strcmp(optarg, "variant");
            break;
        case 'v':
            a->match.variants = optarg;
            break;
        case 't':
            if (bt_cli_parse_threads(command, optarg, 4096, BT_CMP_MAX_SETS, a->match.threads,
                                     &a->match.nthreads)) {
                bt_cli_try_help(command);
                return -1;
            }
            break;
        case 'o':
            if (!report) {
                fprintf(stderr, "backtune compare: --out is an option of backtune report\n");
                bt_cli_try_help(command);
                return -1;
            }
            a->out_dir = optarg;
            break;
        case 'h':
            fputs(help, stdout);
            return 1;
        default:
            bt_cli_bad_option(command, c, argv);
            return -1;
        }
    }
    int min_sets = report ? 1 : 2, too_many = 0;
    for (int i = optind; i < argc; i++) too_many |= add_sets(a, argv[i]) != 0;
    if (a->npaths < min_sets || too_many) {
        fprintf(stderr, "backtune %s: give %d to %d results folders or files (%s%d given)\n", name,
                min_sets, BT_CMP_MAX_SETS, too_many ? "more than " : "", a->npaths);
        bt_cli_try_help(command);
        return -1;
    }
    if (a->match.nthreads > 1 && a->match.nthreads != a->npaths) {
        fprintf(stderr,
                "backtune %s: --threads takes one count, or one per result set (%d), not %d\n",
                name, a->npaths, a->match.nthreads);
        bt_cli_try_help(command);
        return -1;
    }
    if (report && !a->out_dir) {
        fprintf(stderr, "backtune report: give the output folder with -o DIR\n");
        bt_cli_try_help(command);
        return -1;
    }
    return 0;
}

int bt_cmp_load_sets(const bt_cmp_args *a, bt_cmp_set *sets, FILE *err) {
    for (int i = 0; i < a->npaths; i++) {
        if (bt_cmp_set_load(a->paths[i], &sets[i], err) != BT_OK) {
            fprintf(err, "backtune: %s\n", bt_last_error());
            bt_cmp_free_sets(sets, i);
            return -1;
        }
    }
    return 0;
}

void bt_cmp_free_sets(bt_cmp_set *sets, int nsets) {
    for (int i = 0; i < nsets; i++) bt_cmp_set_free(&sets[i]);
}

/* ---- shared wording ---- */

const char *bt_cmp_set_letter(int i) {
    static const char *const letters[] = {"A", "B", "C", "D", "E", "F", "G", "H"};
    return i >= 0 && i < BT_CMP_MAX_SETS ? letters[i] : "?";
}

const char *bt_cmp_short_variant(const char *variant) {
    const char *s = strstr(variant, "__");
    return s && strncmp(variant, "peer:", 5) ? s + 2 : variant;
}

const char *bt_cmp_noise_mark(bt_cmp_noise n) {
    return n == BT_CMP_NOISE_INSIDE ? "~" : n == BT_CMP_NOISE_UNKNOWN ? "?" : "";
}

const char *bt_cmp_format_gflops(double gflops, char *buf, size_t size) {
    snprintf(buf, size, gflops >= 100 ? "%.1f" : gflops >= 1 ? "%.2f" : "%.3g", gflops);
    return buf;
}

double bt_cmp_cell_pct_peak(const bt_cmp_cell *c) {
    return c->present && c->peak_gflops > 0 ? 100 * c->gflops / c->peak_gflops : -1;
}

/* ---- text tables ---- */

#define MAX_COLS (3 + 5 * BT_CMP_MAX_SETS)
#define CELL 160

/* Rows of cells printed with aligned columns; a "line" row is printed as it is. */
typedef struct text_table {
    char (*cells)[MAX_COLS][CELL];
    char *is_line;
    int nrows, cap, ncols;
    int numeric[MAX_COLS]; /* right-aligned */
} text_table;

static int tt_row(text_table *t) {
    if (t->nrows == t->cap) {
        int cap = t->cap ? 2 * t->cap : 64;
        void *cells = realloc(t->cells, (size_t)cap * sizeof *t->cells);
        if (!cells) return -1;
        t->cells = cells;
        char *lines = realloc(t->is_line, (size_t)cap);
        if (!lines) return -1;
        t->is_line = lines;
        t->cap = cap;
    }
    memset(t->cells[t->nrows], 0, sizeof t->cells[t->nrows]);
    t->is_line[t->nrows] = 0;
    return t->nrows++;
}

static void tt_set(text_table *t, int row, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void tt_set(text_table *t, int row, int col, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->cells[row][col], CELL, fmt, ap);
    va_end(ap);
    if (col + 1 > t->ncols) t->ncols = col + 1;
}

static void tt_line(text_table *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tt_line(text_table *t, const char *fmt, ...) {
    int r = tt_row(t);
    if (r < 0) return;
    t->is_line[r] = 1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->cells[r][0], CELL, fmt, ap);
    va_end(ap);
}

static void tt_print(FILE *out, const text_table *t) {
    int width[MAX_COLS] = {0};
    for (int r = 0; r < t->nrows; r++)
        for (int c = 0; c < t->ncols && !t->is_line[r]; c++) {
            int w = (int)strlen(t->cells[r][c]);
            if (w > width[c]) width[c] = w;
        }
    for (int r = 0; r < t->nrows; r++) {
        if (t->is_line[r]) {
            fprintf(out, "%s\n", t->cells[r][0]);
            continue;
        }
        int used = 0;
        char line[MAX_COLS * (CELL + 2)];
        for (int c = 0; c < t->ncols; c++)
            used += snprintf(line + used, sizeof line - (size_t)used, "%s%*s", c ? "  " : "",
                             t->numeric[c] ? width[c] : -width[c], t->cells[r][c]);
        while (used > 0 && line[used - 1] == ' ') line[--used] = '\0';
        fprintf(out, "%s\n", line);
    }
}

static void tt_free(text_table *t) {
    free(t->cells);
    free(t->is_line);
    memset(t, 0, sizeof *t);
}

/* ---- printing ---- */

static void print_set(FILE *out, const bt_cmp_set *set, int i) {
    const char *isa = bt_cmp_set_context(set, "machine_isa");
    const char *cap = bt_cmp_set_context(set, "machine_backtune_isa_cap");
    fprintf(out, "%s  %s: %s (fingerprint %s)%s%s%s%s\n", bt_cmp_set_letter(i), set->path,
            set->machine_id, set->fingerprint_hash[0] ? set->fingerprint_hash : "?",
            set->cpu_model[0] ? ", " : "", set->cpu_model, isa ? ", ISA " : "", isa ? isa : "");
    if (cap && strcmp(cap, "(unset)")) fprintf(out, "   BACKTUNE_ISA_CAP=%s\n", cap);
    for (int f = 0; f < set->nfiles; f++) {
        const bt_cmp_file *file = &set->files[f];
        int runs = 0;
        for (int r = 0; r < set->nruns; r++) runs += set->runs[r].file == f;
        if (file->kind == BT_CMP_BENCH)
            fprintf(out, "   %s: suite %s, %s cache, %d runs%s, %.10s\n", file->path, file->suite,
                    file->cache, runs, file->failed ? " (and some failed)" : "", file->date);
        else
            fprintf(out, "   %s: tuning table, %.10s\n", file->path, file->date);
    }
    int counts[64], n = bt_cmp_set_thread_counts(set, counts, 64);
    char peaks[512] = "", bws[512] = "";
    size_t pu = 0, bu = 0;
    for (int t = 0; t < n; t++) {
        double peak = bt_cmp_set_best_peak(set, counts[t]),
               bw = bt_cmp_set_bandwidth(set, counts[t], 0);
        if (peak > 0 && pu < sizeof peaks)
            pu += (size_t)snprintf(peaks + pu, sizeof peaks - pu, "%s%.1f GFLOP/s at %d thread%s",
                                   pu ? ", " : "", peak, counts[t], counts[t] > 1 ? "s" : "");
        if (bw > 0 && bu < sizeof bws)
            bu += (size_t)snprintf(bws + bu, sizeof bws - bu, "%s%.1f GB/s at %d", bu ? ", " : "",
                                   bw, counts[t]);
    }
    if (pu || bu)
        fprintf(out, "   measured peak %s; read bandwidth %s\n", pu ? peaks : "(not recorded)",
                bu ? bws : "(not recorded)");
    /* A peak that does not grow with the threads was measured on a busy machine. */
    for (int t = 1; t < n; t++)
        if (bt_cmp_set_best_peak(set, counts[t]) > 0 &&
            bt_cmp_set_best_peak(set, counts[t]) < bt_cmp_set_best_peak(set, counts[0]))
            fprintf(out,
                    "   WARNING: the peak measured with %d threads is below the %d-thread one: "
                    "the machine was busy; %%peak at %d threads is unreliable\n",
                    counts[t], counts[0], counts[t]);
}

static void set_gflops_cells(text_table *t, int r, int col, const bt_cmp_cell *c) {
    if (!c->present) {
        tt_set(t, r, col, "-");
        tt_set(t, r, col + 1, " ");
        return;
    }
    char g[32];
    tt_set(t, r, col, "%s", bt_cmp_format_gflops(c->gflops, g, sizeof g));
    double pct = bt_cmp_cell_pct_peak(c);
    if (pct >= 0)
        tt_set(t, r, col + 1, "%.1f", pct);
    else
        tt_set(t, r, col + 1, "-");
}

static void set_speedup_cell(text_table *t, int r, int col, const bt_cmp_row *row, int s) {
    if (row->speedup[s] > 0)
        tt_set(t, r, col, "%.2fx %-1s", row->speedup[s], bt_cmp_noise_mark(row->noise[s]));
    else
        tt_set(t, r, col, "-  ");
}

static void geomean_line(text_table *t, const bt_cmp_rows *rows, int begin, int end,
                         const char *what, const char *indent) {
    char text[CELL * 2];
    size_t used = (size_t)snprintf(text, sizeof text, "%sgeomean %s:", indent, what);
    int any = 0;
    for (int s = 1; s < rows->nsets && used < sizeof text; s++) {
        bt_cmp_geomean g = bt_cmp_geomean_of(rows, begin, end, s);
        if (!g.count) continue;
        any = 1;
        used += (size_t)snprintf(text + used, sizeof text - used,
                                 "%s %s/A %.3fx over %d (%d within noise%s)", s > 1 ? ";" : "",
                                 bt_cmp_set_letter(s), g.value, g.count, g.inside,
                                 g.unknown == g.count ? ", noise unknown"
                                 : g.unknown          ? ", some noise unknown"
                                                      : "");
    }
    if (any) tt_line(t, "%s", text);
}

/* The header row and the column kinds of a table of rows. */
static void table_header(text_table *t, int nsets, int by_variant, int tables) {
    int r = tt_row(t), col = 0;
    tt_set(t, r, col++, "problem");
    t->numeric[col] = 1;
    tt_set(t, r, col++, "T");
    if (by_variant && !tables) tt_set(t, r, col++, "variant");
    for (int s = 0; s < nsets; s++) {
        t->numeric[col] = t->numeric[col + 1] = 1;
        tt_set(t, r, col++, "%s GFLOP/s", bt_cmp_set_letter(s));
        tt_set(t, r, col++, "%%peak");
        if (!by_variant || tables) tt_set(t, r, col++, "%s variant", bt_cmp_set_letter(s));
        if (tables) {
            t->numeric[col] = 1;
            tt_set(t, r, col++, "/default");
        }
    }
    for (int s = 1; s < nsets; s++) tt_set(t, r, col++, "%s/A", bt_cmp_set_letter(s));
}

static void table_row(text_table *t, const bt_cmp_row *row, int nsets, int by_variant, int tables) {
    int r = tt_row(t), col = 0, threads = 0;
    for (int s = 0; s < nsets && !threads; s++)
        threads = row->cell[s].present ? row->cell[s].threads : 0;
    tt_set(t, r, col++, "%s", row->problem);
    tt_set(t, r, col++, "%d", threads);
    if (by_variant && !tables) tt_set(t, r, col++, "%s", row->variant);
    for (int s = 0; s < nsets; s++) {
        const bt_cmp_cell *c = &row->cell[s];
        set_gflops_cells(t, r, col, c);
        col += 2;
        if (!by_variant || tables)
            tt_set(t, r, col++, "%s", c->present ? bt_cmp_short_variant(c->variant) : "-");
        if (tables) {
            const bt_cmp_choice *ch = c->choice;
            if (ch && ch->default_gflops > 0)
                tt_set(t, r, col++, "%.2fx", ch->gflops / ch->default_gflops);
            else
                tt_set(t, r, col++, "-");
        }
    }
    for (int s = 1; s < nsets; s++) set_speedup_cell(t, r, col++, row, s);
}

static int rows_present_twice(const bt_cmp_row *row, int nsets) {
    int n = 0;
    for (int s = 0; s < nsets; s++) n += row->cell[s].present;
    return n >= 2 || nsets == 1;
}

/* One group's rows, with a geomean per op and for the group. */
static void print_group(FILE *out, const bt_cmp_rows *rows, int g, int begin, int end,
                        const bt_cmp_options *o, int tables) {
    const bt_cmp_group *group = &rows->groups[g];
    if (tables)
        fprintf(out, "\n== tuning tables: the variant each set picked, GFLOP/s from its best time; "
                     "/default: over the default dispatch ==\n");
    else
        fprintf(out, "\n== %s, %s cache: %s ==\n", group->suite, group->cache,
                o->by_variant ? "each variant" : "the best variant per problem");
    text_table t = {0};
    table_header(&t, rows->nsets, o->by_variant, tables);
    for (int i = begin; i < end;) {
        int j = i;
        while (j < end && !strcmp(rows->rows[j].op, rows->rows[i].op)) j++;
        for (int k = i; k < j; k++)
            if (rows_present_twice(&rows->rows[k], rows->nsets))
                table_row(&t, &rows->rows[k], rows->nsets, o->by_variant, tables);
        if (j < end || i > begin) geomean_line(&t, rows, i, j, rows->rows[i].op, "  ");
        i = j;
    }
    geomean_line(&t, rows, begin, end, tables ? "tuning tables" : group->suite, "");
    tt_print(out, &t);
    tt_free(&t);
}

static void print_rows(FILE *out, const bt_cmp_rows *rows, const bt_cmp_options *o, int tables) {
    for (int g = 0; g < rows->ngroups; g++) {
        int begin = 0;
        while (begin < rows->nrows && rows->rows[begin].group != g) begin++;
        int end = begin;
        while (end < rows->nrows && rows->rows[end].group == g) end++;
        int shown = 0;
        for (int i = begin; i < end; i++) shown += rows_present_twice(&rows->rows[i], rows->nsets);
        if (shown) print_group(out, rows, g, begin, end, o, tables);
    }
}

/* Keys that only one set has: counted, with an example, so a mismatch (another batch size,
 * other thread counts) is visible. */
static void print_unmatched(FILE *out, const bt_cmp_rows *rows, const char *what) {
    for (int s = 0; s < rows->nsets; s++) {
        if (!rows->only_in[s]) continue;
        const bt_cmp_row *example = NULL;
        for (int i = 0; i < rows->nrows && !example; i++) {
            int n = 0;
            for (int k = 0; k < rows->nsets; k++) n += rows->rows[i].cell[k].present;
            if (n == 1 && rows->rows[i].cell[s].present) example = &rows->rows[i];
        }
        int named = strcmp(example->variant, "best") && strcmp(example->variant, "tuned");
        fprintf(out, "only in %s: %d %s, not compared (e.g. '%s' with %d thread%s%s%s)\n",
                bt_cmp_set_letter(s), rows->only_in[s], what, example->problem,
                example->cell[s].threads, example->cell[s].threads > 1 ? "s" : "",
                named ? ", " : "", named ? example->variant : "");
    }
}

int bt_cmp_print(FILE *out, const bt_cmp_set *sets, int nsets, const bt_cmp_rows *bench,
                 const bt_cmp_rows *tables, const bt_cmp_options *o) {
    for (int s = 0; s < nsets; s++) print_set(out, &sets[s], s);
    if (o->nthreads == nsets && nsets > 1) {
        fprintf(out, "threads:");
        for (int s = 0; s < nsets; s++)
            fprintf(out, " %s at %d%s", bt_cmp_set_letter(s), o->threads[s],
                    s + 1 < nsets ? "," : "\n");
    }
    fprintf(out,
            "\nGFLOP/s: median over repetitions; %%peak: of that set's own measured peak (the "
            "variant's ISA, that thread\ncount); X/A: speedup over A; ~ inside the measured "
            "noise (|ln X/A| <= %g sqrt(cvA^2 + cvX^2)); ? noise\nunknown (a side measured "
            "once: bench with --benchmark_repetitions=5). Separate runs also differ by\n"
            "run-to-run noise that repetitions within one run do not show.\n",
            BT_CMP_NOISE_SIGMAS);
    print_rows(out, bench, o, 0);
    print_rows(out, tables, o, 1);
    fprintf(out, "\n");
    print_unmatched(out, bench, o->by_variant ? "run(s)" : "problem(s)");
    print_unmatched(out, tables, "tuning-table key(s)");
    return bench->matched + tables->matched;
}

int bt_compare_run(const bt_cmp_args *a, FILE *out, FILE *err) {
    bt_cmp_set sets[BT_CMP_MAX_SETS];
    if (bt_cmp_load_sets(a, sets, err)) return 2;
    bt_cmp_rows bench = {0}, tables = {0};
    int rc = 2;
    if (bt_cmp_match_runs(sets, a->npaths, &a->match, &bench) != BT_OK ||
        bt_cmp_match_choices(sets, a->npaths, &a->match, &tables) != BT_OK) {
        fprintf(err, "backtune compare: %s\n", bt_last_error());
        goto done;
    }
    int matched = bt_cmp_print(out, sets, a->npaths, &bench, &tables, &a->match);
    rc = 0;
    if (!matched) {
        fprintf(err,
                "backtune compare: nothing in common: no problem was measured by two of the sets "
                "with the same variant%s, thread count and cache mode\n",
                a->match.by_variant ? "" : " selection");
        rc = 1;
    }
done:
    bt_cmp_rows_free(&bench);
    bt_cmp_rows_free(&tables);
    bt_cmp_free_sets(sets, a->npaths);
    return rc;
}

int bt_cmd_compare(int argc, char **argv) {
    bt_cmp_args a;
    int parsed = bt_cmp_parse_args(argc, argv, 0, &a);
    if (parsed) return parsed > 0 ? 0 : 2;
    return bt_compare_run(&a, stdout, stderr);
}
