/* Direct conv bwd_weights (direct_bwd_w_impl.h): the parameters, register tiles offered per ISA,
 * and the plan's private state. Part of the template, included once per ISA build; no include
 * guard. */

enum {
    DIRECT_BWD_W_P_PAR,
    DIRECT_BWD_W_P_TILE,
    DIRECT_BWD_W_P_KB,
    DIRECT_BWD_W_P_CB,
    DIRECT_BWD_W_P_PB,
    DIRECT_BWD_W_P_VEC /* NHWC only */
};
enum { DIRECT_BWD_W_PAR_MB, DIRECT_BWD_W_PAR_K, DIRECT_BWD_W_PAR_C, DIRECT_BWD_W_PAR_2D };
static const char *const direct_bwd_w_par_names[] = {"mb", "k", "c", "2d", NULL};
/* NHWC: c, k (see the top of the file), ks: vectors of filters, tile rows (tap column,
 * channel) pairs; NCHW: q (vectors along output width) or ks. */
static const char *const direct_bwd_w_nhwc_vec_names[] = {"c", "k", "ks", NULL};
static const char *const direct_bwd_w_nchw_vec_names[] = {"q", "ks", NULL};
enum {
    DIRECT_BWD_W_VEC_C = 0,
    DIRECT_BWD_W_VEC_K = 1,
    DIRECT_BWD_W_VEC_KS_NHWC = 2,
    DIRECT_BWD_W_VEC_Q = 0,
    DIRECT_BWD_W_VEC_KS_NCHW = 1
};

/* Register tiles offered per ISA, "rows x column units" (filters x channel vectors, NHWC
 * vec=k: channels x filter vectors, NCHW: filters x channels), best first for ties. Each
 * needs kt*cw accumulators + cw loaded vectors + 1 broadcast/loaded vector in registers:
 * 32 zmm, 16 ymm (scalar: 16 xmm). */
#if BT_VLEN == 16
static const char *const direct_bwd_w_nhwc_tiles[] = {"6x4", "12x2", "8x3", "4x4", "8x2", "6x2",
                                                      "4x2", "12x1", "8x1", "7x3", "7x2", NULL};
static const char *const direct_bwd_w_nchw_tiles[] = {"6x4", "8x3",  "4x4", "12x2", "4x3", "8x2",
                                                      "4x2", "12x1", "8x1", "7x3",  "7x2", NULL};
#define DIRECT_BWD_W_TILE_TUNE "6x4|12x2|8x3|4x4|7x3|7x2"
#else
static const char *const direct_bwd_w_nhwc_tiles[] = {"6x2", "4x3", "2x4", "4x2",
                                                      "8x1", "4x1", NULL};
static const char *const direct_bwd_w_nchw_tiles[] = {"4x3", "6x2", "2x4", "4x2",
                                                      "8x1", "4x1", NULL};
#define DIRECT_BWD_W_TILE_TUNE "6x2|4x3|2x4|4x2"
#endif

#define DIRECT_BWD_W_BLOCK_MAX ((int64_t)1 << 24)
/* The parameters both layouts share, with their tile names and row-block candidates. */
#define DIRECT_BWD_W_COMMON_SPECS(tiles, pb_tune)                                                  \
    {.key = "par",                                                                                 \
     .choices = direct_bwd_w_par_names,                                                            \
     .doc = "threads split output rows with a private dW each (mb), filter tiles (k), channel "    \
            "tiles (c), or rows x filters (2d)"},                                                  \
        {.key = "tile",                                                                            \
         .choices = tiles,                                                                         \
         .tune = DIRECT_BWD_W_TILE_TUNE,                                                           \
         .doc = "register tile, rows x columns: filters x channel vectors (vec=c), channels x "    \
                "filter vectors (k), tap column x channel pairs x filter vectors (ks), filters x " \
                "channels (q)"},                                                                   \
        {.key = "kb",                                                                              \
         .min = 1,                                                                                 \
         .max = DIRECT_BWD_W_BLOCK_MAX,                                                            \
         .tune = "32|64|128|256",                                                                  \
         .doc = "filters per cache block of dW (a kb x cb x R x S block fits half of L2)"},        \
        {.key = "cb",                                                                              \
         .min = 1,                                                                                 \
         .max = DIRECT_BWD_W_BLOCK_MAX,                                                            \
         .tune = "32|64|128|256",                                                                  \
         .doc = "input channels per cache block of dW (not a register tile: see tile)"},           \
    {                                                                                              \
        .key = "pb", .min = 1, .max = DIRECT_BWD_W_BLOCK_MAX, .tune = pb_tune,                     \
        .doc = "output rows per block of the sum (whole images when at least P)"                   \
    }
static const bt_param_spec direct_bwd_w_nhwc_params[] = {
    DIRECT_BWD_W_COMMON_SPECS(direct_bwd_w_nhwc_tiles, "1|2|4|8|16"),
    {.key = "vec",
     .choices = direct_bwd_w_nhwc_vec_names,
     .doc = "vectors over input channels (c), over filters (k: few channels), or ks (vectors "
            "over filters, tile rows the tap column x channel pairs of a padded x copy)"},
    {.key = NULL}};
static const bt_param_spec direct_bwd_w_nchw_params[] = {
    DIRECT_BWD_W_COMMON_SPECS(direct_bwd_w_nchw_tiles, "4|8|16|32|64"),
    {.key = "vec",
     .choices = direct_bwd_w_nchw_vec_names,
     .doc = "vectors along output rows (q), or ks (vectors over filters, tile rows the tap "
            "column x channel pairs of a padded x copy)"},
    {.key = NULL}};

/* How x is read (see the top of the file). */
enum {
    DIRECT_BWD_W_XMODE_NHWC,
    DIRECT_BWD_W_XMODE_ROWS,
    DIRECT_BWD_W_XMODE_FLAT,
    DIRECT_BWD_W_XMODE_SPLIT,
    DIRECT_BWD_W_XMODE_KS
};

/* plan->priv: the parameters in effect and the scratch layout (offsets in floats). */
typedef struct direct_bwd_w_info {
    int kt, cw, par, xmode;
    int vec_k;              /* NHWC vec=k: tile rows are channels, columns filter vectors */
    int64_t k_unit, c_unit; /* filters and channels per tile */
    int64_t kb, cb, pb;     /* block: filters, channels, output rows (whole images if >= P) */
    size_t part_floats;     /* one partial dW, padded */
    size_t db_off, db_floats, split_off, split_floats;
    int64_t split_width; /* DIRECT_BWD_W_XMODE_SPLIT: a phase row, ceil(W / sw) */
    int64_t split_row;   /* DIRECT_BWD_W_XMODE_SPLIT: an x row's phases (the first min(sw, W)) */
    int64_t ks_width;    /* DIRECT_BWD_W_XMODE_KS: padded x row, (Q - 1) * sw + S positions */
    int64_t ks_rows;     /* DIRECT_BWD_W_XMODE_KS: output rows per kernel call */
    size_t ks_x_floats;  /* DIRECT_BWD_W_XMODE_KS: padded x block, then (NCHW) transposed dy */
    int64_t v_mod_q;     /* DIRECT_BWD_W_XMODE_FLAT: BT_VLEN mod Q */
    bt_vmask_t phase_mask[]; /* DIRECT_BWD_W_XMODE_FLAT: S x Q lane masks of x, by tap column and q
                                phase */
} direct_bwd_w_info;
