/* The Winograd family's own checks (the registry-driven tests check its results against the
 * reference like every variant's):
 *   - the transform matrices of F(m, 3), m = 2, 4, 6 (conv/winograd_common.h), in double,
 *     against the direct correlation: y[i] = sum_j d[i + j] g[j] (bwd_data's form) and
 *     dw[j] = sum_a dy[a] x[a + j] (bwd_weights' form), on random vectors;
 *   - approximate algorithms off: algorithms=direct refuses a Winograd plan, and so does
 *     BACKTUNE_ALGORITHMS=direct (also for BACKTUNE_VARIANT, bt_variant_supports and the
 *     tuner's search space); a bad value is an error; BACKTUNE_VERBOSE says when dispatch
 *     takes an approximate algorithm; a plan that runs another (relayout) passes
 *     algorithms=direct on to it and reports its numerics (bt_plan_error_factor). */
#include "testlib.h"

#include "conv/relayout_common.h"
#include "conv/winograd_common.h"

#ifdef BT_TEST_HAVE_TUNE
#include "space.h"
#endif

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Relative error of both identities of F(m, 3) on one random (d, g) and (dy, x) pair. */
static double identity_error(int m, uint64_t seed, int weights_form) {
    const float(*at)[WINO_ALPHA_MAX] = wino_at(m), (*bt)[WINO_ALPHA_MAX] = wino_bt(m);
    const float(*g)[3] = wino_g(m);
    int alpha = m + 2;
    float fd[WINO_ALPHA_MAX], fk[WINO_ALPHA_MAX];
    bt_fill_random(fd, WINO_ALPHA_MAX, seed);
    bt_fill_random(fk, WINO_ALPHA_MAX, seed + 1);
    double err = 0, scale = 0;
    int outs = weights_form ? 3 : m;
    for (int i = 0; i < outs; i++) {
        double direct = 0, wino = 0;
        for (int j = 0; j < (weights_form ? m : 3); j++) /* d = x (alpha), k = dy (m) or g (3) */
            direct += (double)fd[i + j] * fk[j];
        for (int x = 0; x < alpha; x++) {
            double left = 0, right = 0;
            for (int l = 0; l < alpha; l++) right += (double)bt[x][l] * fd[l];
            if (weights_form) { /* G^T [(A dy) . (B^T x)] */
                for (int a = 0; a < m; a++) left += (double)at[a][x] * fk[a];
                wino += (double)g[x][i] * left * right;
            } else { /* A^T [(G g) . (B^T d)] */
                for (int j = 0; j < 3; j++) left += (double)g[x][j] * fk[j];
                wino += (double)at[i][x] * left * right;
            }
        }
        err = fmax(err, fabs(wino - direct));
        scale = fmax(scale, fabs(direct));
    }
    return err / (scale > 0 ? scale : 1);
}

static void transforms(void) {
    for (int m = 2; m <= WINO_M_MAX; m += 2)
        for (int form = 0; form < 2; form++) {
            double worst = 0;
            for (uint64_t seed = 1; seed <= 200; seed += 2)
                worst = fmax(worst, identity_error(m, seed * 7919, form));
            /* The float tables round 1/6, 2/9, ... once: far below 1e-5 after the sums. */
            tl_expect(worst < 1e-5, "F(%d, 3) %s identity: worst relative error %.2g", m,
                      form ? "bwd_weights (G^T[(A dy).(B^T x)])" : "bwd_data (A^T[(G g).(B^T d)])",
                      worst);
        }
}

static const char *const problem_text = "conv_bwd_d_nhwc mb2ic16ih8oc16kh3ph1";

/* bt_plan_create's status for a named variant (or dispatch) and params. */
static bt_status create_status(const char *variant, const char *params, char *used, size_t size) {
    bt_problem p = tl_parse(problem_text);
    bt_plan *plan = NULL;
    bt_status st = bt_plan_create(&plan, &p, variant, params);
    if (used)
        snprintf(used, size, "%s %s", st == BT_OK ? bt_plan_variant(plan) : "-",
                 st == BT_OK ? bt_plan_params(plan) : bt_last_error());
    bt_plan_destroy(plan);
    return st;
}

/* Runs dispatch with BACKTUNE_VERBOSE=1 and returns what it said on stderr (static). */
static const char *verbose_dispatch(void) {
    static char said[2048];
    said[0] = '\0';
    FILE *tmp = tmpfile();
    if (!tmp) return said;
    fflush(stderr);
    int saved = dup(2);
    dup2(fileno(tmp), 2);
    setenv("BACKTUNE_VERBOSE", "1", 1);
    create_status(NULL, "threads=1", NULL, 0);
    unsetenv("BACKTUNE_VERBOSE");
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    rewind(tmp);
    size_t n = fread(said, 1, sizeof said - 1, tmp);
    said[n] = '\0';
    fclose(tmp);
    return said;
}

#ifdef BT_TEST_HAVE_TUNE
/* Whether the tuner's space for the problem holds a Winograd variant. */
static int space_has_winograd(void) {
    bt_problem p = tl_parse(problem_text);
    bt_space sp;
    if (bt_space_build(&p, 1, &sp) != BT_OK) return -1;
    int found = 0;
    for (int i = 0; i < sp.nvariants; i++) found |= strstr(sp.variants[i].name, "winograd") != NULL;
    bt_space_free(&sp);
    return found;
}
#endif

static void algorithms_off(void) {
    const char *wino = "conv_bwd_d__winograd_scalar";
    char used[300];
    unsetenv("BACKTUNE_ALGORITHMS");
    tl_expect(create_status(wino, "threads=1", used, sizeof used) == BT_OK,
              "%s plans by default: %s", wino, used);
    tl_expect(create_status(wino, "algorithms=all", used, sizeof used) == BT_OK,
              "algorithms=all: %s", used);
    tl_expect(create_status(wino, "algorithms=direct", used, sizeof used) == BT_EUNSUPPORTED &&
                  strstr(used, "approximate"),
              "algorithms=direct refuses %s: %s", wino, used);
    tl_expect(create_status("conv_bwd_d__direct_nhwc_scalar", "algorithms=direct", used,
                            sizeof used) == BT_OK &&
                  strstr(used, "algorithms=direct"),
              "algorithms=direct keeps a direct variant and is reported: %s", used);
    tl_expect(create_status(wino, "algorithms=fast", used, sizeof used) == BT_EINVAL,
              "algorithms=fast is an error: %s", used);

    setenv("BACKTUNE_VARIANT", wino, 1);
    const char *said = verbose_dispatch();
    tl_expect(strstr(said, "approximate") != NULL,
              "BACKTUNE_VERBOSE says dispatch took an approximate algorithm: %.*s",
              (int)strcspn(said, "\n"), said);
    unsetenv("BACKTUNE_VARIANT");
    said = verbose_dispatch(); /* the heuristic does not list Winograd yet */
    tl_expect(strstr(said, "approximate") == NULL,
              "the heuristic's dispatch takes a direct algorithm and says nothing of approximate "
              "ones");

#ifdef BT_TEST_HAVE_TUNE
    tl_expect(space_has_winograd() == 1, "the tuner's space holds the winograd variants");
#endif
    setenv("BACKTUNE_ALGORITHMS", "direct", 1);
    tl_expect(create_status(wino, "threads=1", used, sizeof used) == BT_EUNSUPPORTED &&
                  strstr(used, "BACKTUNE_ALGORITHMS"),
              "BACKTUNE_ALGORITHMS=direct refuses %s: %s", wino, used);
    bt_problem p = tl_parse(problem_text);
    int vi = bt_variant_find(wino);
    tl_expect(vi >= 0 && bt_variant_supports(vi, &p) == BT_EUNSUPPORTED,
              "BACKTUNE_ALGORITHMS=direct: bt_variant_supports says no: %s", bt_last_error());
    setenv("BACKTUNE_VARIANT", wino, 1);
    tl_expect(create_status(NULL, "threads=1", used, sizeof used) == BT_EUNSUPPORTED,
              "BACKTUNE_ALGORITHMS=direct overrules BACKTUNE_VARIANT=%s: %s", wino, used);
    unsetenv("BACKTUNE_VARIANT");
    tl_expect(create_status(NULL, "threads=1", used, sizeof used) == BT_OK &&
                  !strstr(used, "winograd"),
              "BACKTUNE_ALGORITHMS=direct: dispatch takes %s", used);
#ifdef BT_TEST_HAVE_TUNE
    tl_expect(space_has_winograd() == 0, "BACKTUNE_ALGORITHMS=direct: the tuner's space has none");
#endif
    setenv("BACKTUNE_ALGORITHMS", "fast", 1);
    tl_expect(create_status("conv_bwd_d__direct_nhwc_scalar", "threads=1", used, sizeof used) ==
                  BT_EINVAL,
              "BACKTUNE_ALGORITHMS=fast is an error: %s", used);
    unsetenv("BACKTUNE_ALGORITHMS");
}

/* The relayout family's inner plan follows the outer plan's algorithms setting, and the
 * outer plan's numerics are the inner one's. */
static void inner_plans(void) {
    bt_problem p = tl_parse("conv_bwd_d mb2ic16ih8oc16kh3ph1");
    const char *relayout = "conv_bwd_d__relayout_nhwc_scalar";
    bt_plan *plan = NULL;
    if (bt_plan_create(&plan, &p, relayout, "threads=1,algorithms=direct") != BT_OK) {
        tl_fail("%s with algorithms=direct: %s", relayout, bt_last_error());
        return;
    }
    const bt_plan *inner = bt_relayout_inner(plan);
    tl_expect(inner && strstr(bt_plan_params(inner), "algorithms=direct") &&
                  bt_plan_error_factor(plan) == 0,
              "%s passes algorithms=direct to its NHWC plan (%s %s), direct numerics", relayout,
              inner ? bt_plan_variant(inner) : "-", inner ? bt_plan_params(inner) : "");
    bt_plan_destroy(plan);
    bt_plan *wino = NULL;
    bt_problem q = tl_parse("conv_bwd_d_nhwc mb2ic16ih8oc16kh3ph1");
    bt_status st = bt_plan_create(&wino, &q, "conv_bwd_d__winograd_scalar", "m=2,threads=1");
    double factor = st == BT_OK ? bt_plan_error_factor(wino) : -1;
    tl_expect(factor == 9, "a winograd plan's numerics: bt_plan_error_factor = %g for m = 2",
              factor);
    bt_plan_destroy(wino);
}

int main(void) {
    transforms();
    algorithms_off();
    inner_plans();
    return tl_finish();
}
