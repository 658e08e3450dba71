/* Direct conv bwd_weights (direct_bwd_w_impl.h): planning: the mode, register tile, blocks, thread
 * split and scratch layout a plan runs with. Part of the template, included once per ISA build; no
 * include guard. */

/* Relative cost of covering `rows` x `units` (column units) with tiles of kt x cw (smaller
 * grid tiles at the edges): per position, the larger of FMA and load throughput (2 each per
 * cycle), plus a little per load. col_load: cost of a column vector load relative to a row
 * one (ks streams its dy block from L2, once per tile row: narrow tiles pay for it). */
static double direct_bwd_w_tile_cost(int64_t rows, int64_t units, int kt, int cw, int col_load) {
    double cost = 0;
    for (int64_t k = 0, kk; k < rows; k += kk) {
        kk = direct_bwd_w_next_kt(rows - k, kt);
        for (int64_t c = 0, cc; c < units; c += cc) {
            cc = bt_min64(units - c, cw);
            const double fma = (double)(kk * cc) / 2, loads = (double)(kk + col_load * cc) / 2;
            cost += (fma > loads ? fma : loads) + 0.05 * (double)(kk + cc);
        }
    }
    return cost;
}

static int direct_bwd_w_parse_tile(const char *name, int *kt, int *cw) {
    return sscanf(name, "%dx%d", kt, cw) == 2 && direct_bwd_w_in_grid(*kt, *cw);
}

static int64_t direct_bwd_w_round_up(int64_t a, int64_t m) {
    return bt_div_up(a, m) * m;
}

/* DIRECT_BWD_W_XMODE_KS: floats of a thread's padded x rows (and NCHW transposed dy) for blocks of
 * pb output rows, in double (stride and dilation gaps make the int64 product overflow). */
static double direct_bwd_w_ks_floats(const bt_shape *s, int64_t pb, int64_t kb) {
    const double imgs = (double)bt_max64(1, pb / s->p), prow = (double)bt_min64(pb, s->p);
    const double xrows = (prow - 1) * (double)s->sh + (double)((s->r - 1) * s->dh + 1);
    const double width = (double)(s->q - 1) * (double)s->sw + (double)s->s;
    return imgs * xrows * width * (double)s->c +
           (s->layout == BT_NCHW ? imgs * prow * (double)(s->q * kb) : 0);
}

/* What the plan runs with, decided step by step before its state is laid out. */
typedef struct direct_bwd_w_choice {
    int nhwc, ks, kt, cw, vec_k;
    int64_t k_unit, c_unit, col_unit; /* filters, channels and columns of a tile */
    int64_t l1, l2;                   /* the cache bytes blocks are sized for */
    double block_floats;              /* bt_scratch_block_floats: what a ks copy may take */
} direct_bwd_w_choice;

/* vec=ks where it applies (groups 1, dense columns) and pays: few channels, whose other modes
 * leave the tile rows or columns mostly empty, and NCHW kernels of 3+ columns, where vectors
 * along short output rows waste lanes and horizontal sums (measured 1.3-1.5x on ResNet 3x3
 * layers; 1x1 layers keep vec=q). */
static bt_status direct_bwd_w_choose_ks(const bt_plan *plan, direct_bwd_w_choice *ch) {
    const bt_shape *s = &plan->shape;
    const int64_t *prm = plan->param;
    const int ks_vec = ch->nhwc ? DIRECT_BWD_W_VEC_KS_NHWC : DIRECT_BWD_W_VEC_KS_NCHW;
    const int ks_ok = s->g == 1 && s->dw == 1;
    /* Its padded x rows, one output row at a time, within the scratch bound (not when the
     * shape is mostly stride gaps or padding). */
    const int ks_fits = direct_bwd_w_ks_floats(s, 1, s->kg) <= ch->block_floats;
    ch->ks = plan->param_given[DIRECT_BWD_W_P_VEC]
                 ? prm[DIRECT_BWD_W_P_VEC] == ks_vec
                 : ks_ok && ks_fits && (s->c <= 4 || (!ch->nhwc && s->s >= 3));
    if (ch->ks && !ks_ok)
        return bt_fail(BT_EUNSUPPORTED, "params: vec=ks needs groups 1 and no column dilation");
    if (ch->ks && !ks_fits)
        return bt_fail(BT_EUNSUPPORTED,
                       "params: vec=ks would copy %.3g floats of padded x rows per thread, past "
                       "the scratch bound",
                       direct_bwd_w_ks_floats(s, 1, s->kg));
    return BT_OK;
}

/* Register tile (and NHWC vectorisation): the cheapest for K/G x C/G (ks: S*C x K). */
static bt_status direct_bwd_w_choose_tile(bt_plan *plan, direct_bwd_w_choice *ch) {
    const bt_shape *s = &plan->shape;
    int64_t *prm = plan->param;
    const int *given = plan->param_given;
    const int nhwc = ch->nhwc, ks = ch->ks;
    const char *const *tiles = nhwc ? direct_bwd_w_nhwc_tiles : direct_bwd_w_nchw_tiles;
    double best = -1;
    int64_t tile = prm[DIRECT_BWD_W_P_TILE],
            vec_k = ks || (nhwc && prm[DIRECT_BWD_W_P_VEC] == DIRECT_BWD_W_VEC_K);
    for (int vk = ks; vk <= (ks || nhwc); vk++) {
        if (!ks && nhwc && given[DIRECT_BWD_W_P_VEC] && vk != prm[DIRECT_BWD_W_P_VEC]) continue;
        for (int i = 0; tiles[i]; i++) {
            int kt, cw;
            if ((given[DIRECT_BWD_W_P_TILE] && i != prm[DIRECT_BWD_W_P_TILE]) ||
                !direct_bwd_w_parse_tile(tiles[i], &kt, &cw))
                continue;
            const int64_t rows = ks ? s->s * s->cg : vk ? s->cg : s->kg, cols = vk ? s->kg : s->cg;
            const double cost = direct_bwd_w_tile_cost(
                rows, nhwc || ks ? bt_div_up(cols, BT_VLEN) : cols, kt, cw, 1 + ks);
            if (best < 0 || cost < best) best = cost, tile = i, vec_k = vk;
        }
    }
    if (best < 0 || !direct_bwd_w_parse_tile(tiles[tile], &ch->kt, &ch->cw))
        return bt_fail(BT_EINVAL, "params: tile=%s is not in the kernel grid", tiles[tile]);
    prm[DIRECT_BWD_W_P_TILE] = tile;
    prm[DIRECT_BWD_W_P_VEC] = ks     ? (nhwc ? DIRECT_BWD_W_VEC_KS_NHWC : DIRECT_BWD_W_VEC_KS_NCHW)
                              : nhwc ? vec_k
                                     : DIRECT_BWD_W_VEC_Q;
    ch->vec_k = (int)vec_k;
    ch->col_unit = nhwc || ks ? (int64_t)ch->cw * BT_VLEN : ch->cw;
    /* ks: tiles span every channel, so a channel block is all of them. */
    ch->k_unit = vec_k ? ch->col_unit : ch->kt;
    ch->c_unit = ks ? s->cg : vec_k ? ch->kt : ch->col_unit;
    return BT_OK;
}

/* Blocks: the dW block (kb x cb x RS) within half of L2, filters and channels halved in turn;
 * rows so that one tile call's operands stay in L1, and NCHW calls are long enough to
 * amortise their horizontal sums. */
static void direct_bwd_w_choose_blocks(bt_plan *plan, const direct_bwd_w_choice *ch) {
    const bt_shape *s = &plan->shape;
    int64_t *prm = plan->param;
    const int *given = plan->param_given;
    const int64_t rs_n = s->r * s->s, k_unit = ch->k_unit, c_unit = ch->c_unit, l2 = ch->l2;
    int64_t kb = given[DIRECT_BWD_W_P_KB] ? prm[DIRECT_BWD_W_P_KB] : s->kg,
            cb = given[DIRECT_BWD_W_P_CB] ? prm[DIRECT_BWD_W_P_CB] : s->cg;
    while (rs_n * kb * cb * (int64_t)sizeof(float) > l2 / 2) {
        if (!given[DIRECT_BWD_W_P_KB] && (kb >= cb || given[DIRECT_BWD_W_P_CB]) && kb > k_unit)
            kb = direct_bwd_w_round_up(kb / 2, k_unit);
        else if (!given[DIRECT_BWD_W_P_CB] && cb > c_unit)
            cb = direct_bwd_w_round_up(cb / 2, c_unit);
        else
            break;
    }
    /* Blocks are whole tiles, or all of the group's filters / channels. */
    kb = direct_bwd_w_round_up(kb, k_unit), cb = direct_bwd_w_round_up(cb, c_unit);
    prm[DIRECT_BWD_W_P_KB] = kb >= s->kg ? s->kg : kb;
    prm[DIRECT_BWD_W_P_CB] = cb >= s->cg ? s->cg : cb;
    if (!given[DIRECT_BWD_W_P_PB] && ch->ks) {
        /* ks: a quarter of L2 of dy (it is read S*C/kt times per tap row, x much less), and
         * at most half of L2 of padded x rows (sh per output row) for wide layers. */
        const int64_t x_row = ((s->q - 1) * s->sw + s->s) * s->c * (int64_t)sizeof(float);
        const int64_t pb = bt_max64(
            1, bt_min64(bt_div_up(l2 / 4 / (prm[DIRECT_BWD_W_P_KB] * (int64_t)sizeof(float)), s->q),
                        l2 / 2 / (s->sh * x_row)));
        prm[DIRECT_BWD_W_P_PB] =
            pb >= s->p ? pb / s->p * s->p : bt_div_up(s->p, bt_div_up(s->p, pb));
    } else if (!given[DIRECT_BWD_W_P_PB]) {
        const int64_t target = ch->nhwc ? ch->l1 / (64 + ch->col_unit * (int64_t)sizeof(float))
                                        : bt_max64(ch->l1 / (8 * (ch->kt + ch->cw)), 32 * BT_VLEN);
        const int64_t pb = bt_max64(1, bt_div_up(target, s->q));
        /* Whole images when they are small, else equal shares of an image's rows. */
        prm[DIRECT_BWD_W_P_PB] =
            pb >= s->p ? pb / s->p * s->p : bt_div_up(s->p, bt_div_up(s->p, pb));
    }
    /* No more rows than the batch has; ks: no more than its copy fits the bound. */
    prm[DIRECT_BWD_W_P_PB] = bt_min64(prm[DIRECT_BWD_W_P_PB], s->n * s->p);
    while (ch->ks && prm[DIRECT_BWD_W_P_PB] > 1 &&
           direct_bwd_w_ks_floats(s, prm[DIRECT_BWD_W_P_PB], prm[DIRECT_BWD_W_P_KB]) >
               ch->block_floats)
        prm[DIRECT_BWD_W_P_PB] = prm[DIRECT_BWD_W_P_PB] > s->p
                                     ? bt_max64(s->p, prm[DIRECT_BWD_W_P_PB] / 2 / s->p * s->p)
                                     : prm[DIRECT_BWD_W_P_PB] / 2;
}

/* Threads: split the rows when there are enough of them, else the filters, else the
 * channels. */
static void direct_bwd_w_choose_par(bt_plan *plan, const direct_bwd_w_choice *ch) {
    const bt_shape *s = &plan->shape;
    const int threads = plan->threads;
    const int64_t rows = s->n * s->p;
    const int64_t k_units = s->g * bt_div_up(s->kg, ch->k_unit),
                  c_units = bt_div_up(s->cg, ch->c_unit);
    if (!plan->param_given[DIRECT_BWD_W_P_PAR])
        plan->param[DIRECT_BWD_W_P_PAR] =
            threads == 1 || rows >= 4 * threads || (k_units < threads && c_units < threads)
                ? DIRECT_BWD_W_PAR_MB
            : k_units >= threads ? DIRECT_BWD_W_PAR_K
                                 : DIRECT_BWD_W_PAR_C;
}

/* The plan's state: the choices, the flat mode's lane masks and the scratch layout (partial
 * dW and db per row group, then each thread's copies of x rows). NULL: out of memory. */
static direct_bwd_w_info *direct_bwd_w_make_info(bt_plan *plan, const direct_bwd_w_choice *ch) {
    const bt_shape *s = &plan->shape;
    const int64_t *prm = plan->param;
    const int threads = plan->threads;
    const int par = (int)prm[DIRECT_BWD_W_P_PAR];
    const int64_t partials = par == DIRECT_BWD_W_PAR_MB || par == DIRECT_BWD_W_PAR_2D ? threads : 1;
    const int xmode = ch->ks                       ? DIRECT_BWD_W_XMODE_KS
                      : ch->nhwc                   ? DIRECT_BWD_W_XMODE_NHWC
                      : s->sw > 1                  ? DIRECT_BWD_W_XMODE_SPLIT
                      : s->sh == 1 && s->w == s->q ? DIRECT_BWD_W_XMODE_FLAT
                                                   : DIRECT_BWD_W_XMODE_ROWS;
    const size_t masks = xmode == DIRECT_BWD_W_XMODE_FLAT ? (size_t)(s->s * s->q) : 0;
    const size_t info_bytes = (size_t)direct_bwd_w_round_up(
        (int64_t)(sizeof(direct_bwd_w_info) + masks * sizeof(bt_vmask_t)), BT_ALIGN);
    direct_bwd_w_info *in = aligned_alloc(BT_ALIGN, info_bytes);
    if (!in) return NULL;
    memset(in, 0, sizeof *in);
    in->kt = ch->kt;
    in->cw = ch->cw;
    in->par = par;
    in->xmode = xmode;
    in->vec_k = ch->vec_k;
    in->k_unit = ch->k_unit;
    in->c_unit = ch->c_unit;
    in->kb = prm[DIRECT_BWD_W_P_KB];
    in->cb = prm[DIRECT_BWD_W_P_CB];
    in->pb = prm[DIRECT_BWD_W_P_PB];
    if (xmode == DIRECT_BWD_W_XMODE_FLAT) {
        in->v_mod_q = BT_VLEN % s->q;
        for (int64_t ss = 0; ss < s->s; ss++)
            for (int64_t phase = 0; phase < s->q; phase++) {
                uint32_t bits = 0;
                for (int lane = 0; lane < BT_VLEN; lane++) {
                    const int64_t j = (phase + lane) % s->q + ss * s->dw - s->pw;
                    if (j >= 0 && j < s->w) bits |= 1u << lane;
                }
                in->phase_mask[ss * s->q + phase] = direct_bwd_w_mask_bits(bits);
            }
    }

    /* Scratch, in floats: partial dW per row group, partial db per row group, phase-split x
     * rows per thread. */
    in->part_floats = (size_t)direct_bwd_w_round_up((int64_t)bt_shape_w_elems(s), 16);
    in->db_floats = (size_t)direct_bwd_w_round_up(s->k, 16);
    in->db_off = (size_t)partials * in->part_floats;
    in->split_off = in->db_off + (size_t)partials * in->db_floats;
    if (xmode == DIRECT_BWD_W_XMODE_SPLIT) {
        in->split_width = bt_div_up(s->w, s->sw);
        in->split_row = bt_min64(s->sw, s->w) * in->split_width;
        const int64_t rows_max =
            in->pb >= s->p ? in->pb / s->p * s->h
                           : bt_min64(s->h, (in->pb - 1) * s->sh + (s->r - 1) * s->dh + 1);
        in->split_floats =
            (size_t)direct_bwd_w_round_up(bt_min64(in->cb, s->cg) * rows_max * in->split_row, 16);
    }
    if (xmode == DIRECT_BWD_W_XMODE_KS) {
        const int64_t imgs = bt_max64(1, in->pb / s->p), prow = bt_min64(in->pb, s->p);
        const int64_t xrows = (prow - 1) * s->sh + (s->r - 1) * s->dh + 1;
        in->ks_width = (s->q - 1) * s->sw + s->s;
        /* dy of a tile column within half of L1. */
        in->ks_rows = bt_max64(1, ch->l1 / 2 / (s->q * ch->col_unit * (int64_t)sizeof(float)));
        in->ks_x_floats = (size_t)direct_bwd_w_round_up(imgs * xrows * in->ks_width * s->c, 16);
        in->split_floats = in->ks_x_floats;
        if (!ch->nhwc)
            in->split_floats += (size_t)direct_bwd_w_round_up(imgs * prow * s->q * in->kb, 16);
    }
    plan->scratch_bytes = (in->split_off + (size_t)threads * in->split_floats) * sizeof(float);
    return in;
}

static bt_status direct_bwd_w_prepare(bt_plan *plan) {
    const bt_shape *s = &plan->shape;
    const bt_machine *mach = bt_machine_get();
    direct_bwd_w_choice ch = {
        .nhwc = s->layout == BT_NHWC,
        .l1 = mach->l1d_bytes > 0 ? mach->l1d_bytes : 32 << 10,
        .l2 = bt_min64(mach->l2_bytes > 0 ? mach->l2_bytes : 512 << 10, 8 << 20),
        .block_floats = (double)bt_scratch_block_floats(s)};
    bt_status st = direct_bwd_w_choose_ks(plan, &ch);
    if (st == BT_OK) st = direct_bwd_w_choose_tile(plan, &ch);
    if (st != BT_OK) return st;
    direct_bwd_w_choose_blocks(plan, &ch);
    direct_bwd_w_choose_par(plan, &ch);
    plan->priv = direct_bwd_w_make_info(plan, &ch);
    return plan->priv ? BT_OK : bt_fail(BT_ENOMEM, "%s: out of memory", plan->variant->name);
}
