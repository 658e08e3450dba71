/* The ISA-independent parts of the Winograd family: see winograd_common.h. */
#include "conv/winograd_common.h"

#include <stdio.h>
#include <stdlib.h>

const char *const bt_wino_m_choices[] = {"2", "4", "6", NULL};
const char *const bt_wino_par_choices[] = {"tiles", "c", NULL};
const char *const bt_wino_w_par_choices[] = {"tiles", "xi", NULL};

wino_geom *bt_wino_geom_new(struct bt_plan *plan, int64_t hh, int64_t ww) {
    if (!plan->param_given[0]) plan->param[0] = 1; /* m = 4 (docs/winograd.md) */
    wino_geom *g = calloc(1, sizeof *g);
    if (!g) {
        bt_fail(BT_ENOMEM, "out of memory");
        return NULL;
    }
    g->m = wino_m_of(plan->param[0]);
    g->alpha = g->m + 2;
    g->th = bt_div_up(hh, g->m), g->tw = bt_div_up(ww, g->m);
    g->tiles = plan->shape.n * g->th * g->tw;
    return g;
}

int bt_wino_supports(const bt_shape *s, char *why, size_t size) {
    if (s->r != 3 || s->s != 3) {
        snprintf(why, size, "3x3 kernels only");
        return 0;
    }
    if (s->sh != 1 || s->sw != 1 || s->dh != 1 || s->dw != 1) {
        snprintf(why, size, "stride 1 and no dilation only");
        return 0;
    }
    /* Thin groups leave the transform-domain products nothing to amortise the transforms. */
    if (s->g > 1 && (s->cg < 4 || s->kg < 4)) {
        snprintf(why, size, "groups need at least 4 channels each side");
        return 0;
    }
    return 1;
}

/* The first-order amplification of F(m, 3) over the direct sum: with every |input| and
 * |weight| alike, max over outputs of sum_xi |AT[i][xi]| |G[xi]|_1 |BT[xi]|_1 / 3 for
 * bwd_data (sum_xi |G[xi][j]| |A[xi]|_1 |BT[xi]|_1 / m for bwd_weights), squared for the
 * 2-D tile: 7.1 (9.0), 256 (178) and 509 (269) for m = 2, 4, 6; rounded up over both ops.
 * Measured errors stay below 1/100 of the bound that gives (docs/winograd.md). The
 * parameter m is the first of both ops' parameter lists. */
double bt_winograd_error_factor(const struct bt_plan *plan) {
    switch (wino_m_of(plan->param[0])) {
    case 2:
        return 9;
    case 4:
        return 256;
    default:
        return 512;
    }
}
