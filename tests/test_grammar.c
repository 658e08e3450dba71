/* The problem grammar against oneDNN benchdnn's descriptor rules: a table of descriptors
 * with the fields benchdnn computes for them, worked out by hand from the rules; texts that
 * must be refused with a message naming the offending field; the regressions; and
 * the canonical text (bt_problem_format), which must be valid benchdnn text describing the
 * same computation, over the table and a seeded fuzz loop. Every accepted text is checked
 * against the independent model in benchdnn_model.c as well as against the library. */
#include "benchdnn_model.h"
#include "testlib.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the text around the descriptor: "<op>[_nchw|_nhwc] <descriptor> [accumulate...]" ---- */

typedef struct split_text {
    int fc;
    bt_op op;
    bt_layout layout;
    int accumulate;
    char desc[512];
} split_text;

/* Splits a problem text the way the grammar reads it; 0 when the text around the descriptor
 * is not valid (unknown op, no descriptor, a word other than 'accumulate' after it). */
static int split(const char *text, split_text *out) {
    static const struct {
        const char *name;
        bt_op op;
    } ops[] = {{"conv_bwd_d", BT_CONV_BWD_DATA},    {"conv_bwd_data", BT_CONV_BWD_DATA},
               {"conv_bwd_w", BT_CONV_BWD_WEIGHTS}, {"conv_bwd_weights", BT_CONV_BWD_WEIGHTS},
               {"fc_bwd_d", BT_FC_BWD_DATA},        {"fc_bwd_data", BT_FC_BWD_DATA},
               {"fc_bwd_w", BT_FC_BWD_WEIGHTS},     {"fc_bwd_weights", BT_FC_BWD_WEIGHTS}};
    const char *t = text + strspn(text, " \t\n");
    size_t op_len = strcspn(t, " \t\n");
    char op[64];
    if (!op_len || op_len >= sizeof op) return 0;
    memcpy(op, t, op_len);
    op[op_len] = '\0';
    out->layout = BT_NCHW;
    if (op_len > 5 && (!strcmp(op + op_len - 5, "_nchw") || !strcmp(op + op_len - 5, "_nhwc"))) {
        out->layout = op[op_len - 2] == 'w' ? BT_NHWC : BT_NCHW;
        op[op_len - 5] = '\0';
    }
    size_t o = 0;
    while (o < sizeof ops / sizeof ops[0] && strcmp(op, ops[o].name)) o++;
    if (o == sizeof ops / sizeof ops[0]) return 0;
    out->op = ops[o].op;
    out->fc = out->op == BT_FC_BWD_DATA || out->op == BT_FC_BWD_WEIGHTS;
    t += op_len;
    t += strspn(t, " \t\n");
    size_t d = 0; /* the descriptor ends at whitespace outside a quoted name */
    for (int quoted = 0; t[d] && (quoted || !strchr(" \t\n", t[d])); d++)
        if (t[d] == '"') quoted = !quoted;
    if (!d || d >= sizeof out->desc) return 0;
    memcpy(out->desc, t, d);
    out->desc[d] = '\0';
    t += d;
    out->accumulate = 0;
    for (;;) {
        t += strspn(t, " \t\n");
        if (!*t) return 1;
        size_t w = strcspn(t, " \t\n");
        if (w != 10 || strncmp(t, "accumulate", 10)) return 0;
        out->accumulate = 1;
        t += w;
    }
}

/* ---- one text through the library and the model ---- */

typedef enum outcome {
    OUT_ACCEPTED,
    OUT_REFUSED_TEXT,        /* the op or what follows the descriptor is not valid */
    OUT_REFUSED_INVALID,     /* benchdnn rejects the descriptor */
    OUT_REFUSED_UNSUPPORTED, /* a non-trivial depth */
    OUT_REFUSED_LIMIT,       /* rule 5 (which one: the model's limit) */
    OUT_REFUSED_SIZE,        /* the model reads it; it is beyond the library's sizes */
    OUT_REFUSED_ZERO_TOKEN,  /* rule 5's zero refused in a token a later repeat overwrote */
    OUT_FAIL
} outcome;

typedef struct model_result {
    int fc;
    bdm_status status;
    bdm_conv conv;
    bdm_ip ip;
    char err[200];
} model_result;

static void run_model(int fc, const char *desc, model_result *m) {
    m->fc = fc;
    m->status = fc ? bdm_parse_ip(desc, &m->ip, m->err, sizeof m->err)
                   : bdm_parse_conv(desc, &m->conv, m->err, sizeof m->err);
}

static bdm_limit model_limit(const model_result *m) {
    return m->fc ? m->ip.limit : m->conv.limit;
}

static int same_computation(const bt_problem *p, const model_result *m, char *why, size_t size) {
    return m->fc ? bdm_ip_same_computation(p, &m->ip, why, size)
                 : bdm_conv_same_computation(p, &m->conv, why, size);
}

/* Sizes a library may reasonably refuse although they fit in int64 (it bounds every field
 * and tensor well below that); everything smaller must be accepted. */
static int beyond_library_sizes(const model_result *m) {
    const int64_t field_limit = (int64_t)1 << 31, tensor_limit = (int64_t)1 << 40;
    if (m->fc)
        return m->ip.mb >= field_limit || m->ip.ic >= field_limit || m->ip.oc >= field_limit ||
               (double)m->ip.mb * (double)m->ip.ic >= (double)tensor_limit ||
               (double)m->ip.oc * (double)m->ip.ic >= (double)tensor_limit;
    const bdm_conv *c = &m->conv;
    const bdm_dim *dims[3] = {&c->h, &c->w, &c->depth};
    int64_t fields[4] = {c->mb, c->ic, c->oc, c->g};
    for (int f = 0; f < 4; f++)
        if (fields[f] >= field_limit) return 1;
    for (int d = 0; d < 3; d++)
        if (dims[d]->i >= field_limit || dims[d]->o >= field_limit || dims[d]->k >= field_limit ||
            dims[d]->s >= field_limit || dims[d]->p >= field_limit || dims[d]->d >= field_limit)
            return 1;
    double x = (double)c->mb * (double)c->ic * (double)c->h.i * (double)c->w.i;
    double dy = (double)c->mb * (double)c->oc * (double)c->h.o * (double)c->w.o;
    double w = (double)c->oc * (double)(c->ic / c->g) * (double)c->h.k * (double)c->w.k;
    return x >= (double)tensor_limit || dy >= (double)tensor_limit || w >= (double)tensor_limit;
}

static int dims_equal(const bdm_dim *a, const bdm_dim *b) {
    return a->i == b->i && a->o == b->o && a->k == b->k && a->s == b->s && a->p == b->p &&
           a->p_r == b->p_r && a->d == b->d;
}

/* What symmetric padding p on both sides gives for a dimension: 1 if the output benchdnn
 * computes, 0 if another, -1 if C truncation and floor disagree (the padded input is
 * shorter than the kernel by less than a stride), so either reading is the library's to take. */
static int symmetric_keeps_output(const bdm_dim *x) {
    __int128 span = (__int128)x->i + 2 * (__int128)x->p - ((__int128)(x->k - 1) * (x->d + 1) + 1);
    if (span < 0) return span > -x->s ? (x->o == 1 ? -1 : 0) : 0;
    return span / x->s + 1 == x->o;
}

/* The canonical form of a normalized conv problem: pad_end_set 0 with zero ends when
 * symmetric padding gives the same output sizes, else 1 (the ends themselves are compared
 * by bdm_conv_same_computation). */
static int canonical_ends_ok(const bt_problem *p, const bdm_conv *m, char *why, size_t size) {
    int h = symmetric_keeps_output(&m->h), w = symmetric_keeps_output(&m->w);
    int want = (h == 0 || w == 0) ? 1 : (h == 1 && w == 1) ? 0 : -1;
    if (p->pad_end_set != 0 && p->pad_end_set != 1) {
        snprintf(why, size, "pad_end_set %d", p->pad_end_set);
        return 0;
    }
    if (want >= 0 && p->pad_end_set != want) {
        snprintf(why, size, "pad_end_set %d, but symmetric padding %s the output size",
                 p->pad_end_set, want ? "changes" : "keeps");
        return 0;
    }
    if (!p->pad_end_set && (p->pad_h_end || p->pad_w_end)) {
        snprintf(why, size, "pad_end_set 0 with end padding %" PRId64 "x%" PRId64, p->pad_h_end,
                 p->pad_w_end);
        return 0;
    }
    return 1;
}

/* The canonical text's shape: padding and output always written; the w group omitted when
 * it equals the h group, the h group omitted for a 1-D problem, else both groups written;
 * never a depth key. A written group has its input, output, kernel and padding; its stride
 * and dilation may be left to their defaults, which read the same. */
static int canonical_text_shape_ok(const bdm_conv *m, char *why, size_t size) {
    static const char *const h_keys[] = {"ih", "oh", "kh", "sh", "ph", "dh"};
    static const char *const w_keys[] = {"iw", "ow", "kw", "sw", "pw", "dw"};
    static const char *const d_keys[] = {"id", "od", "kd", "sd", "pd", "dd"};
    const bdm_dim *h = &m->h;
    int square = dims_equal(&m->h, &m->w);
    int flat_h =
        h->i == 1 && h->o == 1 && h->k == 1 && h->s == 1 && h->p == 0 && h->p_r == 0 && h->d == 0;
    const char *form = square ? "square" : flat_h ? "1-D" : "2-D";
    for (int f = 0; f < 6; f++) {
        int required = f != 3 && f != 5;         /* not s, d */
        int written_if_kept = required ? 1 : -1; /* -1: either */
        int want_h = flat_h && !square ? 0 : written_if_kept;
        int want_w = square ? 0 : written_if_kept;
        const char *missing = NULL, *extra = NULL;
        if (want_h >= 0 && bdm_conv_wrote(m, h_keys[f]) != want_h) {
            if (want_h)
                missing = h_keys[f];
            else
                extra = h_keys[f];
        }
        if (want_w >= 0 && bdm_conv_wrote(m, w_keys[f]) != want_w) {
            if (want_w)
                missing = w_keys[f];
            else
                extra = w_keys[f];
        }
        if (bdm_conv_wrote(m, d_keys[f])) extra = d_keys[f];
        if (missing || extra) {
            snprintf(why, size, "%s form, but '%s' is %s", form, missing ? missing : extra,
                     missing ? "not written" : "written");
            return 0;
        }
    }
    return 1;
}

/* For a text the library accepted: (i) the model accepts it and describes the same
 * computation; the problem is in canonical form; (iii) parse(f) of its canonical text f is
 * the same problem, field for field, and (iv) format(parse(f)) == f; (ii) f is valid
 * benchdnn text of the same computation, in the canonical shape. */
static int check_accepted(const char *text, const split_text *st, const bt_problem *p,
                          const model_result *m, char *why, size_t size) {
    char detail[300] = "";
    if (m->status != BDM_OK) {
        snprintf(why, size, "accepted, but benchdnn's rules say %s: %s", bdm_status_name(m->status),
                 m->err);
        return 0;
    }
    if (!same_computation(p, m, detail, sizeof detail)) {
        snprintf(why, size, "not the computation benchdnn reads: %s", detail);
        return 0;
    }
    int want_layout = st->fc ? BT_NCHW : (int)st->layout;
    if (p->op != st->op || (int)p->layout != want_layout || p->accumulate != st->accumulate) {
        snprintf(why, size, "op %d, layout %d, accumulate %d", (int)p->op, (int)p->layout,
                 p->accumulate);
        return 0;
    }
    if (!st->fc && !canonical_ends_ok(p, &m->conv, detail, sizeof detail)) {
        snprintf(why, size, "not canonical: %s", detail);
        return 0;
    }
    char f[512];
    if (!bdm_round_trip(text, p, f, sizeof f, why, size)) return 0;
    split_text fs;
    model_result fm;
    if (!split(f, &fs)) {
        snprintf(why, size, "canonical text '%s' is not '<op> <descriptor> [accumulate]'", f);
        return 0;
    }
    run_model(fs.fc, fs.desc, &fm);
    if (fm.status != BDM_OK) {
        snprintf(why, size, "canonical text '%s' is not valid benchdnn text: %s", f, fm.err);
        return 0;
    }
    if (!same_computation(p, &fm, detail, sizeof detail)) {
        snprintf(why, size, "canonical text '%s' reads as another computation: %s", f, detail);
        return 0;
    }
    if (!fs.fc && !canonical_text_shape_ok(&fm.conv, detail, sizeof detail)) {
        snprintf(why, size, "canonical text '%s': %s", f, detail);
        return 0;
    }
    return 1;
}

/* The whole check of one text; the model's view is left in m. */
static outcome check_text(const char *text, model_result *m, char *why, size_t size) {
    split_text st;
    bt_problem p;
    why[0] = '\0';
    memset(m, 0, sizeof *m);
    int valid_text = split(text, &st);
    if (valid_text) run_model(st.fc, st.desc, m);
    bt_status status = bt_problem_parse(text, &p);
    if (status == BT_OK) {
        if (!valid_text) {
            snprintf(why, size, "accepted, but the text around the descriptor is not valid");
            return OUT_FAIL;
        }
        return check_accepted(text, &st, &p, m, why, size) ? OUT_ACCEPTED : OUT_FAIL;
    }
    if ((status != BT_EINVAL && status != BT_EUNSUPPORTED) || !*bt_last_error()) {
        snprintf(why, size, "refused with status %d and message \"%s\"", (int)status,
                 bt_last_error());
        return OUT_FAIL;
    }
    if (!valid_text) return OUT_REFUSED_TEXT;
    switch (m->status) {
    case BDM_INVALID:
        return OUT_REFUSED_INVALID;
    case BDM_UNSUPPORTED:
        return OUT_REFUSED_UNSUPPORTED;
    case BDM_LIMIT:
        return OUT_REFUSED_LIMIT;
    case BDM_OK:
        break;
    }
    if (beyond_library_sizes(m)) return OUT_REFUSED_SIZE;
    /* "kh0kh3": benchdnn keeps kh3; a library that applies rule 5's zero limit to each token
     * refuses it. The rules do not say which; counted apart, and the message must name it. */
    const char *zero = m->fc ? m->ip.overwritten_zero : m->conv.overwritten_zero;
    if (*zero && bdm_message_names(bt_last_error(), zero)) return OUT_REFUSED_ZERO_TOKEN;
    snprintf(why, size, "refused (%s), but benchdnn reads it and no rule-5 limit applies",
             bt_last_error());
    return OUT_FAIL;
}

/* ---- (a) the table: fields benchdnn computes, by hand from the rules ---- */

typedef struct dim_want {
    int64_t i, o, k, s, p, p_r, d;
} dim_want;

typedef struct table_row {
    const char *text, *why;
    int64_t mb, g, ic, oc; /* FC: ic is the folded input features */
    dim_want h, w;
} table_row;

/* i, o, k, s, p (begin), p_r (end), d (benchdnn's, 0 = dense) */
#define DIM(i, o, k, s, p, p_r, d)                                                                 \
    { i, o, k, s, p, p_r, d }
#define FLAT DIM(1, 1, 1, 1, 0, 0, 0)
#define SQUARE(i, o, k, s, p, p_r, d) DIM(i, o, k, s, p, p_r, d), DIM(i, o, k, s, p, p_r, d)
#define FC_ROW(text, why, mb, ic, oc)                                                              \
    { text, why, mb, 1, ic, oc, FLAT, FLAT }

// clang-format off
static const table_row table[] = {
    /* The texts. */
    {"conv_bwd_w ic4ih8iw5oc4kh3kw3ph1", "rule 3: w is present, so pw is not taken from ph",
     2, 1, 4, 4, DIM(8, 8, 3, 1, 1, 1, 0), DIM(5, 3, 3, 1, 0, 0, 0)},
    {"conv_bwd_w ic4ih8iw8oc4kh3kw3sh2", "rule 3: sw stays 1; h stride 2 leaves a row over",
     2, 1, 4, 4, DIM(8, 3, 3, 2, 0, -1, 0), DIM(8, 6, 3, 1, 0, 0, 0)},
    {"conv_bwd_w ic4ih9iw9oc4kh3kw3dh1", "rule 3: dw stays 0",
     2, 1, 4, 4, DIM(9, 5, 3, 1, 0, 0, 1), DIM(9, 7, 3, 1, 0, 0, 0)},
    {"conv_bwd_w mb1_ic16oc1_ih2oh1kh2sh1dh0ph0_iw100kw3sw1dw30pw0", "both groups written, dw30",
     1, 1, 16, 1, DIM(2, 1, 2, 1, 0, 0, 0), DIM(100, 38, 3, 1, 0, 0, 30)},
    {"conv_bwd_w mb1_g16ic16oc16_ih15oh8kh3sh2ph1_iw10ow10kw3", "depthwise; pw deduced from ow",
     1, 16, 16, 16, DIM(15, 8, 3, 2, 1, 1, 0), DIM(10, 10, 3, 1, 1, 1, 0)},
    {"conv_bwd_w g128ic128iw16oc128ow16kw3sw1pw1", "1-D: h absent, w present",
     2, 128, 128, 128, FLAT, DIM(16, 16, 3, 1, 1, 1, 0)},
    {"conv_bwd_d mb1ic32oc1iw134217732kw3", "1-D with a long row, not an overflow",
     1, 1, 32, 1, FLAT, DIM(134217732, 134217730, 3, 1, 0, 0, 0)},
    {"conv_bwd_d mb2ic4ih5oc4oh8kh3ph3", "oh and ph given: uneven, bottom 2",
     2, 1, 4, 4, SQUARE(5, 8, 3, 1, 3, 2, 0)},
    {"conv_bwd_w ic4ih4oc4oh5kh3", "deduced ph 1 (3/2 truncated), bottom 2",
     2, 1, 4, 4, SQUARE(4, 5, 3, 1, 1, 2, 0)},
    {"conv_bwd_w ic4ih56oc4oh28kh3sh2", "TF 'SAME' stride 2: top 0, bottom 1",
     2, 1, 4, 4, SQUARE(56, 28, 3, 2, 0, 1, 0)},
    {"conv_bwd_d mb32ic3ih224oc64oh112kh7sh2", "TF 'SAME' 7x7 stride 2: top 2, bottom 3",
     32, 1, 3, 64, SQUARE(224, 112, 7, 2, 2, 3, 0)},
    {"conv_bwd_d mb2ic4ic8ih5oc4kh3", "repeated key: the last wins",
     2, 1, 8, 4, SQUARE(5, 3, 3, 1, 0, 0, 0)},
    {"conv_bwd_d mb1ic4ih5oc4kh3 accumulate accumulate", "repeated accumulate",
     1, 1, 4, 4, SQUARE(5, 3, 3, 1, 0, 0, 0)},
    /* Square promotion of the whole h group. */
    {"conv_bwd_w mb2ic3ih7oc4kh3ph1", "square", 2, 1, 3, 4, SQUARE(7, 7, 3, 1, 1, 1, 0)},
    {"conv_bwd_w ic4ih8oc4kh3ph1pw0", "rule 1: pw0 alone leaves w absent, w copies ph1",
     2, 1, 4, 4, SQUARE(8, 8, 3, 1, 1, 1, 0)},
    {"conv_bwd_w ic4ih8oc4kh3sh2sw1", "rule 1: sw1 alone leaves w absent, w copies sh2",
     2, 1, 4, 4, SQUARE(8, 3, 3, 2, 0, -1, 0)},
    {"conv_bwd_w ic4ih9oc4kh3dh1dw0", "rule 1: dw0 alone leaves w absent, w copies dh1",
     2, 1, 4, 4, SQUARE(9, 5, 3, 1, 0, 0, 1)},
    {"conv_bwd_weights_nhwc mb1ic1ih5oc1kh1", "long op name, layout suffix",
     1, 1, 1, 1, SQUARE(5, 5, 1, 1, 0, 0, 0)},
    {"conv_bwd_d mb1ic1ih1oc1kh1", "all ones", 1, 1, 1, 1, SQUARE(1, 1, 1, 1, 0, 0, 0)},
    {"  conv_bwd_d \t mb1ic3ih7oc4kh3   accumulate  ", "surrounding whitespace",
     1, 1, 3, 4, SQUARE(7, 5, 3, 1, 0, 0, 0)},
    /* oh given, padding deduced: positive, zero, truncated. */
    {"conv_bwd_d_nhwc mb1ic3ih7oc4oh7kh3", "deduced ph 1", 1, 1, 3, 4,
     SQUARE(7, 7, 3, 1, 1, 1, 0)},
    {"conv_bwd_d mb1ic3ih7oc4oh4kh3sh2", "deduced ph 1, stride 2", 1, 1, 3, 4,
     SQUARE(7, 4, 3, 2, 1, 1, 0)},
    {"conv_bwd_d mb1ic3ih7oc4oh9kh3", "deduced ph 2 > kernel/2", 1, 1, 3, 4,
     SQUARE(7, 9, 3, 1, 2, 2, 0)},
    {"conv_bwd_d mb1ic3ih7oc4oh5kh3", "deduced ph 0", 1, 1, 3, 4, SQUARE(7, 5, 3, 1, 0, 0, 0)},
    {"conv_bwd_w ic4ih8oc4oh4kh1sh2", "deduced ph -1/2 = 0, end -1", 2, 1, 4, 4,
     SQUARE(8, 4, 1, 2, 0, -1, 0)},
    {"conv_bwd_w ic4ih112oc4oh56kh1sh2", "strided 1x1: deduced 0, end -1", 2, 1, 4, 4,
     SQUARE(112, 56, 1, 2, 0, -1, 0)},
    {"conv_bwd_w ic4ih9oc4oh5kh2sh2", "deduced 1/2 = 0, bottom 1", 2, 1, 4, 4,
     SQUARE(9, 5, 2, 2, 0, 1, 0)},
    {"conv_bwd_w ic4ih8oc4oh4kh3sh2", "TF 'SAME' even input: top 0, bottom 1", 2, 1, 4, 4,
     SQUARE(8, 4, 3, 2, 0, 1, 0)},
    {"conv_bwd_w ic4ih5oc4oh5kh1", "1x1 deduced 0", 2, 1, 4, 4, SQUARE(5, 5, 1, 1, 0, 0, 0)},
    {"conv_bwd_w ic4ih5oc4oh7kh1", "1x1 deduced 1", 2, 1, 4, 4, SQUARE(5, 7, 1, 1, 1, 1, 0)},
    {"conv_bwd_w ic4ih5oc4oh6kh1", "1x1 deduced 1/2 = 0, bottom 1", 2, 1, 4, 4,
     SQUARE(5, 6, 1, 1, 0, 1, 0)},
    /* oh and ph both given: uneven padding. */
    {"conv_bwd_w ic4ih8oc4oh8kh3ph0", "top 0, bottom 2", 2, 1, 4, 4,
     SQUARE(8, 8, 3, 1, 0, 2, 0)},
    {"conv_bwd_w ic4ih8oc4oh9kh3ph2", "top 2, bottom 1", 2, 1, 4, 4,
     SQUARE(8, 9, 3, 1, 2, 1, 0)},
    {"conv_bwd_w ic4ih8iw8oc4oh8ow7kh3kw3", "h symmetric, w top 0 right 1", 2, 1, 4, 4,
     DIM(8, 8, 3, 1, 1, 1, 0), DIM(8, 7, 3, 1, 0, 1, 0)},
    {"conv_bwd_w ic4ih8iw9oc4kh3kw3ph1pw1oh8ow10", "keys in any order; w right 2", 2, 1, 4, 4,
     DIM(8, 8, 3, 1, 1, 1, 0), DIM(9, 10, 3, 1, 1, 2, 0)},
    {"conv_bwd_w ic4ih15iw15oc4oh8ow8kh3kw3sh2sw2ph1pw1", "both groups, all equal", 2, 1, 4, 4,
     SQUARE(15, 8, 3, 2, 1, 1, 0)},
    {"conv_bwd_w mb32ic64ih56oc64oh56kh3ph1n\"resnet_50:res2a_branch2b\"", "name after the keys",
     32, 1, 64, 64, SQUARE(56, 56, 3, 1, 1, 1, 0)},
    {"conv_bwd_d mb32ic3ih224oc64kh7sh2ph3n\"conv1\"", "ph3 given: the bottom is 2", 32, 1, 3,
     64, SQUARE(224, 112, 7, 2, 3, 2, 0)},
    /* Even kernels. */
    {"conv_bwd_d ic4ih6oc4kh2", "even kernel", 2, 1, 4, 4, SQUARE(6, 5, 2, 1, 0, 0, 0)},
    {"conv_bwd_d ic4ih6oc4oh6kh2", "even kernel 'same': top 0, bottom 1", 2, 1, 4, 4,
     SQUARE(6, 6, 2, 1, 0, 1, 0)},
    {"conv_bwd_d ic4ih6oc4oh6kh4", "4x4 'same': top 1, bottom 2", 2, 1, 4, 4,
     SQUARE(6, 6, 4, 1, 1, 2, 0)},
    {"conv_bwd_w ic4ih7oc4kh2ph1", "even kernel, padding 1", 2, 1, 4, 4,
     SQUARE(7, 8, 2, 1, 1, 1, 0)},
    /* Strides with leftover, and the truncating output division. */
    {"conv_bwd_w ic4ih10oc4kh3sh3", "stride 3, one row over", 2, 1, 4, 4,
     SQUARE(10, 3, 3, 3, 0, -1, 0)},
    {"conv_bwd_w ic4ih11oc4kh3sh4", "stride 4, exact", 2, 1, 4, 4, SQUARE(11, 3, 3, 4, 0, 0, 0)},
    {"conv_bwd_w ic4ih12oc4kh3sh4", "stride 4, one row over", 2, 1, 4, 4,
     SQUARE(12, 3, 3, 4, 0, -1, 0)},
    {"conv_bwd_w ic4ih14oc4kh3sh4", "stride 4, three rows over", 2, 1, 4, 4,
     SQUARE(14, 3, 3, 4, 0, -3, 0)},
    {"conv_bwd_w ic4ih3oc4kh4sh2", "(3-4)/2 truncates to 0: oh 1, bottom 1", 2, 1, 4, 4,
     SQUARE(3, 1, 4, 2, 0, 1, 0)},
    {"conv_bwd_data mb1ic4ih6oc4kh3sh2dh1", "dilated, stride 2, one row over", 1, 1, 4, 4,
     SQUARE(6, 1, 3, 2, 0, -1, 1)},
    /* Dilation (benchdnn's, from 0). */
    {"conv_bwd_d mb1_ic3_ih7_oc4_kh3_dh1_ph2", "'_' separators; dh1", 1, 1, 3, 4,
     SQUARE(7, 7, 3, 1, 2, 2, 1)},
    {"conv_bwd_d ic4ih9oc4kh3dh2", "dh2: extent 7", 2, 1, 4, 4, SQUARE(9, 3, 3, 1, 0, 0, 2)},
    {"conv_bwd_d ic4ih9oc4oh9kh3dh2", "dh2 'same': deduced 3", 2, 1, 4, 4,
     SQUARE(9, 9, 3, 1, 3, 3, 2)},
    {"conv_bwd_d ic4ih10oc4oh10kh3dh1sh1", "dh1 'same' even input: deduced 2", 2, 1, 4, 4,
     SQUARE(10, 10, 3, 1, 2, 2, 1)},
    {"conv_bwd_d mb3ic17ih12iw5oc15kh5kw2sh3sw1ph4pw0dh2dw0", "every field, two groups", 3, 1,
     17, 15, DIM(12, 3, 5, 3, 4, 3, 2), DIM(5, 4, 2, 1, 0, 0, 0)},
    {"conv_bwd_w_nchw g2mb3ic4ih6iw8oc6kh3kw1sh1sw2ph1pw0dh0dw2 accumulate",
     "every field; dilated 1-wide kernel", 3, 2, 4, 6, DIM(6, 6, 3, 1, 1, 1, 0),
     DIM(8, 4, 1, 2, 0, -1, 2)},
    /* 2-D rectangles and padding beyond the kernel. */
    {"conv_bwd_d ic4ih5iw7oc4kh3kw5ph1pw2", "3x5 kernel", 2, 1, 4, 4, DIM(5, 5, 3, 1, 1, 1, 0),
     DIM(7, 7, 5, 1, 2, 2, 0)},
    {"conv_bwd_w mb1ic1ih1oc1kh1ph5", "padding only", 1, 1, 1, 1, SQUARE(1, 11, 1, 1, 5, 5, 0)},
    {"conv_bwd_d ic4ih8oc4kh3ph4", "padding > kernel", 2, 1, 4, 4, SQUARE(8, 14, 3, 1, 4, 4, 0)},
    /* Groups. */
    {"conv_bwd_d g32mb32ic32ih112oc32kh3ph1", "depthwise", 32, 32, 32, 32,
     SQUARE(112, 112, 3, 1, 1, 1, 0)},
    {"conv_bwd_w g8mb1ic8ih9oc8kh3sh2ph1", "depthwise stride 2", 1, 8, 8, 8,
     SQUARE(9, 5, 3, 2, 1, 1, 0)},
    {"conv_bwd_d g2ic4ih5oc6kh1", "groups 2", 2, 2, 4, 6, SQUARE(5, 5, 1, 1, 0, 0, 0)},
    {"conv_bwd_w g2g1ic3ih5oc3kh3", "repeated g: the last wins", 2, 1, 3, 3,
     SQUARE(5, 3, 3, 1, 0, 0, 0)},
    /* 1-D. */
    {"conv_bwd_d ic3iw9oc4kw5", "1-D from the width fields", 2, 1, 3, 4, FLAT,
     DIM(9, 5, 5, 1, 0, 0, 0)},
    {"conv_bwd_d g4ic8oc4iw10kw3sw2", "1-D, groups, stride leftover", 2, 4, 8, 4, FLAT,
     DIM(10, 4, 3, 2, 0, -1, 0)},
    {"conv_bwd_w ic4iw10ow10oc4kw3", "1-D, deduced pw 1", 2, 1, 4, 4, FLAT,
     DIM(10, 10, 3, 1, 1, 1, 0)},
    {"conv_bwd_w ic4iw10ow10oc4kw4", "1-D even 'same': left 1, right 2", 2, 1, 4, 4, FLAT,
     DIM(10, 10, 4, 1, 1, 2, 0)},
    {"conv_bwd_w ic4iw56ow28oc4kw3sw2", "1-D TF 'SAME' stride 2", 2, 1, 4, 4, FLAT,
     DIM(56, 28, 3, 2, 0, 1, 0)},
    {"conv_bwd_w ic4iw7oc4kw3sh1ph0dh0", "1-D: sh1 ph0 dh0 leave h absent", 2, 1, 4, 4, FLAT,
     DIM(7, 5, 3, 1, 0, 0, 0)},
    {"conv_bwd_d mb1ic8oc8g8iw5kw5ow1", "1-D depthwise, one output", 1, 8, 8, 8, FLAT,
     DIM(5, 1, 5, 1, 0, 0, 0)},
    {"conv_bwd_w ic4ih1iw7oc4kh1kw3", "h written as ones: 2-D, same as 1-D", 2, 1, 4, 4, FLAT,
     DIM(7, 5, 3, 1, 0, 0, 0)},
    {"conv_bwd_w ic4ih1iw7oc4kh1kw3dh1", "h of ones with a dilation that changes nothing", 2,
     1, 4, 4, DIM(1, 1, 1, 1, 0, 0, 1), DIM(7, 5, 3, 1, 0, 0, 0)},
    /* Depth fields that are trivial or absent. */
    {"conv_bwd_d ic4id1ih5iw5oc4kd1kh3kw3", "trivial depth", 2, 1, 4, 4,
     SQUARE(5, 3, 3, 1, 0, 0, 0)},
    {"conv_bwd_d ic4id1ih5iw5oc4od1kd1kh3kw3sd2dd1pd0", "trivial depth, every depth key", 2, 1,
     4, 4, SQUARE(5, 3, 3, 1, 0, 0, 0)},
    {"conv_bwd_d ic4oc4id1kd1", "3-D rule: h and w copy the trivial depth group", 2, 1, 4, 4,
     FLAT, FLAT},
    {"conv_bwd_d ic4ih5oc4kh3sd1pd0dd0", "sd1 pd0 dd0 leave depth absent", 2, 1, 4, 4,
     SQUARE(5, 3, 3, 1, 0, 0, 0)},
    /* Repeated keys, underscores, names. */
    {"conv_bwd_w ic4ih5oc4kh3kh1", "repeated kh", 2, 1, 4, 4, SQUARE(5, 5, 1, 1, 0, 0, 0)},
    {"conv_bwd_w ic4ih8oc4kh3ph1ph0", "repeated ph", 2, 1, 4, 4, SQUARE(8, 6, 3, 1, 0, 0, 0)},
    {"conv_bwd_w ic4ih5oc4oh7oh3kh3", "repeated oh", 2, 1, 4, 4, SQUARE(5, 3, 3, 1, 0, 0, 0)},
    {"conv_bwd_d mb2mb3ic4ih5oc4kh3", "repeated mb", 3, 1, 4, 4, SQUARE(5, 3, 3, 1, 0, 0, 0)},
    {"conv_bwd_w _mb2__ic4_ih5_oc4_kh3_", "leading, doubled and trailing '_'", 2, 1, 4, 4,
     SQUARE(5, 3, 3, 1, 0, 0, 0)},
    {"conv_bwd_d n\"first\"mb1ic3ih7oc4kh3", "name first", 1, 1, 3, 4,
     SQUARE(7, 5, 3, 1, 0, 0, 0)},
    {"conv_bwd_d mb1ic3ih7oc4kh3nconv1", "unquoted name to the end", 1, 1, 3, 4,
     SQUARE(7, 5, 3, 1, 0, 0, 0)},
    {"conv_bwd_d_nhwc mb1ic3ih7oc4kh3n\"with space\" accumulate", "quoted name with a space",
     1, 1, 3, 4, SQUARE(7, 5, 3, 1, 0, 0, 0)},
    /* FC: ic folded with the image. */
    FC_ROW("fc_bwd_w mb2ic4ih1iw1oc4", "FC with a 1x1 image", 2, 4, 4),
    FC_ROW("fc_bwd_w mb256ic1024oc1024", "FC", 256, 1024, 1024),
    FC_ROW("fc_bwd_data ic5oc7", "FC long name, mb 2", 2, 5, 7),
    FC_ROW("fc_bwd_d_nhwc mb3ic5oc7", "FC ignores the layout", 3, 5, 7),
    FC_ROW("fc_bwd_d mb3ic4ih7oc5", "spatial FC, square: 4*7*7", 3, 196, 5),
    FC_ROW("fc_bwd_w ic2iw5oc3", "spatial FC, iw alone: ih 1", 2, 10, 3),
    FC_ROW("fc_bwd_w mb4ic3ih2iw5oc6", "spatial FC, 2x5", 4, 30, 6),
    FC_ROW("fc_bwd_d mb2ic4mb5oc3", "FC repeated mb", 5, 4, 3),
    FC_ROW("fc_bwd_w ic3ih2ih4oc5", "FC repeated ih, iw follows the last", 2, 48, 5),
    FC_ROW("fc_bwd_d ic3iw4iw2oc5", "FC repeated iw", 2, 6, 5),
    FC_ROW("fc_bwd_w_nhwc mb1ic7oc1 accumulate", "FC accumulate", 1, 7, 1),
    FC_ROW("fc_bwd_weights mb1_ic2_oc3_n\"fc\"", "FC with '_' and a name", 1, 2, 3),
};
// clang-format on
enum { TABLE_ROWS = (int)(sizeof table / sizeof table[0]) };

static bdm_dim dim_from(const dim_want *x) {
    return (bdm_dim){
        .i = x->i, .o = x->o, .k = x->k, .s = x->s, .p = x->p, .p_r = x->p_r, .d = x->d};
}

/* The model must compute exactly the hand-written fields. */
static int model_matches_row(const table_row *row, const model_result *m, char *why, size_t size) {
    if (m->status != BDM_OK) {
        snprintf(why, size, "model: %s: %s", bdm_status_name(m->status), m->err);
        return 0;
    }
    if (m->fc) {
        if (m->ip.mb == row->mb && m->ip.ic == row->ic && m->ip.oc == row->oc) return 1;
        snprintf(why, size, "model: mb%" PRId64 " ic%" PRId64 " oc%" PRId64, m->ip.mb, m->ip.ic,
                 m->ip.oc);
        return 0;
    }
    const bdm_conv *c = &m->conv;
    bdm_dim h = dim_from(&row->h), w = dim_from(&row->w);
    if (c->mb == row->mb && c->g == row->g && c->ic == row->ic && c->oc == row->oc &&
        dims_equal(&c->h, &h) && dims_equal(&c->w, &w))
        return 1;
    snprintf(why, size,
             "model: mb%" PRId64 " g%" PRId64 " ic%" PRId64 " oc%" PRId64 " h(%" PRId64 " %" PRId64
             " %" PRId64 " %" PRId64 " %" PRId64 " %" PRId64 " %" PRId64 ") w(%" PRId64 " %" PRId64
             " %" PRId64 " %" PRId64 " %" PRId64 " %" PRId64 " %" PRId64 ")",
             c->mb, c->g, c->ic, c->oc, c->h.i, c->h.o, c->h.k, c->h.s, c->h.p, c->h.p_r, c->h.d,
             c->w.i, c->w.o, c->w.k, c->w.s, c->w.p, c->w.p_r, c->w.d);
    return 0;
}

/* The library must describe the hand-written computation: the same comparison the model
 * gets, against a model filled in by hand. */
static int library_matches_row(const table_row *row, const split_text *st, const bt_problem *p,
                               char *why, size_t size) {
    model_result want = {.fc = st->fc, .status = BDM_OK};
    if (st->fc) {
        want.ip.mb = row->mb, want.ip.ic = row->ic, want.ip.oc = row->oc;
    } else {
        want.conv.mb = row->mb, want.conv.g = row->g, want.conv.ic = row->ic;
        want.conv.oc = row->oc, want.conv.h = dim_from(&row->h), want.conv.w = dim_from(&row->w);
    }
    char detail[300];
    if (!same_computation(p, &want, detail, sizeof detail) ||
        (!st->fc && !canonical_ends_ok(p, &want.conv, detail, sizeof detail))) {
        char got[300];
        bdm_problem_describe(p, got, sizeof got);
        snprintf(why, size, "library: %s; got {%s}", detail, got);
        return 0;
    }
    return 1;
}

static void table_rows(void) {
    for (int r = 0; r < TABLE_ROWS; r++) {
        const table_row *row = &table[r];
        split_text st;
        model_result m;
        bt_problem p;
        char why[900] = "", name[BDM_NAME_SIZE] = "";
        if (!split(row->text, &st)) {
            tl_fail("table: '%s': test bug, the text around the descriptor is invalid", row->text);
            continue;
        }
        run_model(st.fc, st.desc, &m);
        int model_ok = model_matches_row(row, &m, why, sizeof why);
        bt_status status = bt_problem_parse_named(row->text, &p, name, sizeof name);
        int library_ok = status == BT_OK && library_matches_row(row, &st, &p, why + strlen(why),
                                                                sizeof why - strlen(why));
        if (status != BT_OK)
            snprintf(why + strlen(why), sizeof why - strlen(why), "%slibrary refuses: %s",
                     *why ? "; " : "", bt_last_error());
        else if (library_ok && strcmp(name, st.fc ? m.ip.name : m.conv.name)) {
            snprintf(why + strlen(why), sizeof why - strlen(why), "library name \"%s\"", name);
            library_ok = 0;
        }
        if (!tl_expect(model_ok && library_ok, "table: '%s' (%s)", row->text, row->why))
            tl_note("%s", why);
    }
}

/* (d) for the table: every row's canonical text. */
static void table_canonical(void) {
    for (int r = 0; r < TABLE_ROWS; r++) {
        model_result m;
        char why[1200];
        outcome o = check_text(table[r].text, &m, why, sizeof why);
        char canon[512] = "";
        bt_problem p;
        if (bt_problem_parse(table[r].text, &p) == BT_OK)
            bt_problem_format(&p, canon, sizeof canon);
        if (!tl_expect(o == OUT_ACCEPTED, "canonical: '%s' -> '%s'", table[r].text, canon))
            tl_note("%s", why[0] ? why : "refused");
    }
}

/* ---- (b) refusals: status and a message naming the offending field ---- */

enum { EITHER = -1 }; /* BT_EINVAL or BT_EUNSUPPORTED: the rules do not order the two */

typedef struct rejection {
    const char *text;
    int status;
    const char *names; /* bdm_message_names: space = all of, '|' = one of */
    const char *why;
} rejection;

// clang-format off
static const rejection rejections[] = {
    /* Padding rule 5: negative begin padding deduced from oX, end padding <= -stride. */
    {"conv_bwd_w ic4ih11oc4oh3kh1sh4", BT_EINVAL, "ph oh", "deduced ph (8-11+1)/2 = -1"},
    {"conv_bwd_w g16mb1ic16ih4iw1oc16oh1kh2kw1sh3sw1", BT_EINVAL, "ph oh", "deduced ph -1"},
    {"conv_bwd_w ic4ih5oc4oh2kh1", BT_EINVAL, "ph oh", "deduced ph -3/2 = -1"},
    {"conv_bwd_d mb2ic3ih7oc4oh3kh3", BT_EINVAL, "ph oh", "deduced ph -2/2 = -1"},
    {"conv_bwd_w ic4iw11ow3oc4kw1sw4", BT_EINVAL, "pw ow", "1-D: deduced pw -1"},
    {"conv_bwd_d ic4ih8oc4oh7kh1", BT_EINVAL, "oh|ph", "deduced 0, bottom -1 <= -sh"},
    {"conv_bwd_d ic4ih8oc4oh2kh3ph1", BT_EINVAL, "oh|ph", "bottom -5 <= -sh"},
    {"conv_bwd_d ic4ih8iw8oc4kh3kw3ow3pw1", BT_EINVAL, "ow|pw", "right -4 <= -sw"},
    /* Missing fields (rule 2) and no spatial dimension (rule 3). */
    {"conv_bwd_d ic4ih5oc4", BT_EINVAL, "kh", "kh missing"},
    {"conv_bwd_d mb2ic3oc4kh3", BT_EINVAL, "ih", "ih missing"},
    {"conv_bwd_w ic4ih8iw8oc4kh3", BT_EINVAL, "kw", "iw without kw"},
    {"conv_bwd_d mb2ic3ih7iw7oc4ow8kh3", BT_EINVAL, "kw", "iw and ow without kw"},
    {"conv_bwd_w ic4iw8oc4kh3", BT_EINVAL, "ih|kw", "kh without ih, iw without kw"},
    {"conv_bwd_w ic4ih5oc4kh3ph0pw2", BT_EINVAL, "iw|kw", "pw2 makes w present"},
    {"conv_bwd_w ic4oc4sh2", BT_EINVAL, "ih", "sh2 makes h present"},
    {"conv_bwd_w ic4oc4", BT_EINVAL, "ih|iw|spatial", "no spatial dimension"},
    {"conv_bwd_w ic4oc4sh1pw0dh0", BT_EINVAL, "ih|iw|spatial", "only keys that leave h, w absent"},
    {"conv_bwd_d ic4ih5kh3", BT_EINVAL, "oc", "oc missing"},
    {"conv_bwd_d mb2ih7oc4kh3", BT_EINVAL, "ic", "ic missing"},
    /* No output (rule 2). */
    {"conv_bwd_d ic4ih3oc4kh5", BT_EINVAL, "oh|kh", "kernel larger than the input"},
    {"conv_bwd_d ic4ih2oc4kh4sh2", BT_EINVAL, "oh|kh", "(2-4)/2+1 = 0"},
    {"conv_bwd_d ic4ih5oc4kh3dh3", BT_EINVAL, "oh|kh|dh", "dilated extent 9 > 5"},
    {"conv_bwd_d ic4iw2oc4kw3", BT_EINVAL, "ow|kw", "1-D kernel larger than the input"},
    /* Zeros (rule 5). */
    {"conv_bwd_d ic0ih5oc4kh3", BT_EINVAL, "ic", "ic0"},
    {"conv_bwd_d ic4ih5oc0kh3", BT_EINVAL, "oc", "oc0"},
    {"conv_bwd_d mb0ic4ih5oc4kh3", BT_EINVAL, "mb", "mb0"},
    {"conv_bwd_d g0ic4ih5oc4kh3", BT_EINVAL, "g", "g0"},
    {"conv_bwd_d ic4ih0oc4kh3", BT_EINVAL, "ih", "ih0"},
    {"conv_bwd_d ic4ih5oc4kh0", BT_EINVAL, "kh", "kh0"},
    {"conv_bwd_d ic4ih5oc4kh3sh0", BT_EINVAL, "sh", "sh0"},
    {"conv_bwd_d ic4ih5oc4oh0kh3", BT_EINVAL, "oh", "oh0"},
    {"conv_bwd_d ic4ih5oc4kh3iw0", BT_EINVAL, "iw", "iw0 (would otherwise leave w absent)"},
    {"conv_bwd_d ic4ih5iw5oc4kh3kw0", BT_EINVAL, "kw", "kw0"},
    {"conv_bwd_d ic4ih5oc4kh3sw0", BT_EINVAL, "sw", "sw0"},
    {"conv_bwd_d ic4ih5oc4kh3id0", EITHER, "id", "id0"},
    {"conv_bwd_d ic4ih5oc4kh3sd0", EITHER, "sd|id|kd", "sd0"},
    /* Groups (rule 5). */
    {"conv_bwd_d g3ic4ih5oc6kh3", BT_EINVAL, "g|ic", "g3 does not divide ic4"},
    {"conv_bwd_d g2ic4ih5oc3kh3", BT_EINVAL, "g|oc", "g2 does not divide oc3"},
    /* Depth (rule 4). */
    {"conv_bwd_d ic4id5ih5iw5oc4kd3kh3kw3", BT_EUNSUPPORTED, "id|kd|od", "3-D"},
    {"conv_bwd_d ic4id1ih5iw5oc4kd1kh3kw3pd1", BT_EUNSUPPORTED, "pd|od", "depth padded: od 3"},
    {"conv_bwd_d ic4id1ih5iw5oc4od2kd1kh3kw3", BT_EUNSUPPORTED, "od|pd", "od2"},
    {"conv_bwd_d ic4id2ih5iw5oc4kd1kh3kw3", BT_EUNSUPPORTED, "id|od", "id2"},
    {"conv_bwd_d ic4id5oc4kd3", BT_EUNSUPPORTED, "id|kd|od", "h and w copy a 3-D depth"},
    {"conv_bwd_d ic4id1ih5oc4kd1kh3", EITHER, "iw|kw|id|kd|od", "depth with h but not w"},
    {"conv_bwd_d ic4id1iw5oc4kd1kw3", EITHER, "ih|kh|id|kd|od", "depth with w but not h"},
    {"conv_bwd_d ic4ih5oc4kh3od3", EITHER, "id|kd|od", "od3 makes depth present"},
    {"conv_bwd_w ic4ih5oc4kh3pd1", EITHER, "id|kd|pd", "pd1 makes depth present"},
    /* FC keys. */
    {"fc_bwd_d ic4oc4kh3", BT_EINVAL, "kh", "kh is not an FC key"},
    {"fc_bwd_d ic4oc4oh3", BT_EINVAL, "oh", "oh is not an FC key"},
    {"fc_bwd_w g2ic4oc4", BT_EINVAL, "g", "g is not an FC key"},
    {"fc_bwd_w ic4oc4ph0", BT_EINVAL, "ph", "ph is not an FC key"},
    {"fc_bwd_d ic4ih0oc4", BT_EINVAL, "ih", "FC ih0"},
    {"fc_bwd_d oc4", BT_EINVAL, "ic", "FC ic missing"},
    {"fc_bwd_d ic4", BT_EINVAL, "oc", "FC oc missing"},
    {"fc_bwd_d mb0ic4oc4", BT_EINVAL, "mb", "FC mb0"},
    /* Syntax. */
    {"conv_bwd_d ic4ih5oc4kh3xx5", BT_EINVAL, "xx", "unknown key"},
    {"conv_bwd_d ic4ih-5oc4kh3", BT_EINVAL, "ih", "negative value"},
    {"conv_bwd_d ic4ihoc4kh3", BT_EINVAL, "ih|ihoc", "key without a number"},
    {"conv_bwd_d ic4ih5oc4kh3n\"open", BT_EINVAL, "unterminated", "unterminated name"},
    {"conv_bwd_d ic4ih99999999999999999999oc4kh3", BT_EINVAL, "ih", "past int64"},
    {"conv_bwd_d ic4ih5oc4kh3 accumulate junk", BT_EINVAL, "junk", "a word after accumulate"},
    {"conv_fwd ic4ih5oc4kh3", BT_EINVAL, "conv_fwd", "unknown op"},
};
// clang-format on

static void refusals(void) {
    for (size_t r = 0; r < sizeof rejections / sizeof rejections[0]; r++) {
        const rejection *x = &rejections[r];
        bt_problem p;
        bt_status st = bt_problem_parse(x->text, &p);
        const char *msg = bt_last_error();
        int status_ok =
            x->status == EITHER ? (st == BT_EINVAL || st == BT_EUNSUPPORTED) : (int)st == x->status;
        /* The model must refuse the descriptor too and name the same field. */
        split_text s;
        model_result m = {.status = BDM_INVALID};
        int model_ok = 1;
        if (split(x->text, &s)) {
            run_model(s.fc, s.desc, &m);
            model_ok = m.status != BDM_OK && bdm_message_names(m.err, x->names);
        }
        int ok = status_ok && bdm_message_names(msg, x->names) && model_ok;
        if (!tl_expect(ok, "refused: '%s' (%s) -> %s naming %s", x->text, x->why,
                       x->status == EITHER ? "an error" : bt_strerror((bt_status)x->status),
                       x->names)) {
            tl_note("library: %s: \"%s\"", bt_strerror(st), msg);
            if (!model_ok) tl_note("model: %s: \"%s\"", bdm_status_name(m.status), m.err);
        }
    }
}

/* ---- (c) the regressions, field by field ---- */

static int problem_field(const bt_problem *p, const char *name, int64_t *v) {
    const struct {
        const char *name;
        int64_t value;
    } fields[] = {{"n", p->n},
                  {"c", p->c},
                  {"k", p->k},
                  {"h", p->h},
                  {"w", p->w},
                  {"r", p->r},
                  {"s", p->s},
                  {"stride_h", p->stride_h},
                  {"stride_w", p->stride_w},
                  {"pad_h", p->pad_h},
                  {"pad_w", p->pad_w},
                  {"pad_h_end", p->pad_h_end},
                  {"pad_w_end", p->pad_w_end},
                  {"pad_end_set", p->pad_end_set},
                  {"dil_h", p->dil_h},
                  {"dil_w", p->dil_w},
                  {"groups", p->groups},
                  {"accumulate", p->accumulate},
                  {"out_h", bt_problem_out_h(p)},
                  {"out_w", bt_problem_out_w(p)}};
    for (size_t f = 0; f < sizeof fields / sizeof fields[0]; f++)
        if (!strcmp(fields[f].name, name)) {
            *v = fields[f].value;
            return 1;
        }
    return 0;
}

/* `want` is "field=value ..." over problem_field's names. Returns 1 if all hold; else 0
 * with the first that does not in why. */
static int fields_hold(const bt_problem *p, const char *want, char *why, size_t size) {
    char buf[512];
    snprintf(buf, sizeof buf, "%s", want);
    for (char *save = NULL, *item = strtok_r(buf, " ", &save); item;
         item = strtok_r(NULL, " ", &save)) {
        char *eq = strchr(item, '=');
        int64_t got = 0;
        if (!eq) {
            snprintf(why, size, "test bug: '%s'", item);
            return 0;
        }
        *eq = '\0';
        if (!problem_field(p, item, &got)) {
            snprintf(why, size, "test bug: no field '%s'", item);
            return 0;
        }
        int64_t expect = strtoll(eq + 1, NULL, 10);
        if (got != expect) {
            snprintf(why, size, "%s is %" PRId64 ", not %" PRId64, item, got, expect);
            return 0;
        }
    }
    return 1;
}

static void regressions(void) {
    static const struct {
        const char *text, *want, *rule;
    } cases[] = {
        {"conv_bwd_w ic4ih8iw5oc4kh3kw3ph1", "pad_w=0 out_w=3 pad_h=1 out_h=8 w=5 s=3",
         "rule 3: pw is not promoted from ph when w is present"},
        {"conv_bwd_w ic4ih8iw8oc4kh3kw3sh2", "stride_w=1 out_w=6 stride_h=2 out_h=3",
         "rule 3: sw is not promoted from sh"},
        {"conv_bwd_w ic4ih9iw9oc4kh3kw3dh1", "dil_w=1 out_w=7 dil_h=2 out_h=5",
         "rule 3: dw is not promoted from dh"},
        {"conv_bwd_w mb1_ic16oc1_ih2oh1kh2sh1dh0ph0_iw100kw3sw1dw30pw0",
         "n=1 c=16 k=1 h=2 r=2 out_h=1 pad_h=0 w=100 s=3 dil_w=31 pad_w=0 out_w=38 "
         "pad_end_set=0",
         "both groups written in full, dw30"},
        {"conv_bwd_w mb1_g16ic16oc16_ih15oh8kh3sh2ph1_iw10ow10kw3",
         "groups=16 h=15 out_h=8 stride_h=2 pad_h=1 w=10 out_w=10 stride_w=1 pad_w=1 "
         "pad_end_set=0",
         "pw deduced from ow: (9-10+3)/2 = 1"},
        {"conv_bwd_w g128ic128iw16oc128ow16kw3sw1pw1",
         "h=1 r=1 out_h=1 pad_h=0 stride_h=1 dil_h=1 w=16 s=3 out_w=16 pad_w=1",
         "rule 3: 1-D, h = r = 1"},
        {"conv_bwd_d mb1ic32oc1iw134217732kw3", "h=1 r=1 w=134217732 s=3 out_w=134217730",
         "rule 3: 1-D, not an overflow"},
        {"conv_bwd_d mb2ic4ih5oc4oh8kh3ph3",
         "pad_h=3 pad_end_set=1 pad_h_end=2 pad_w=3 pad_w_end=2 out_h=8 out_w=8",
         "rule 2: oh and ph given, bottom (8-1)-5+3-3 = 2"},
        {"conv_bwd_w ic4ih4oc4oh5kh3", "pad_h=1 pad_end_set=1 pad_h_end=2 out_h=5 out_w=5",
         "rule 2: ph deduced 3/2 = 1, bottom 2"},
        {"conv_bwd_w ic4ih56oc4oh28kh3sh2", "pad_h=0 pad_end_set=1 pad_h_end=1 out_h=28 out_w=28",
         "rule 2: TF 'SAME', ph 1/2 = 0, bottom 1"},
        {"fc_bwd_w mb2ic4ih1iw1oc4", "n=2 c=4 k=4 h=1 w=1", "FC: ih1iw1 is a 1x1 image"},
        {"conv_bwd_d mb2mb3ic4ih5oc4kh3", "n=3", "a key given twice keeps the last"},
        {"conv_bwd_d mb1ic4ih5oc4kh3 accumulate accumulate", "accumulate=1", "accumulate repeated"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bt_problem p;
        char why[300] = "";
        int ok = bt_problem_parse(cases[i].text, &p) == BT_OK;
        if (!ok)
            snprintf(why, sizeof why, "refused: %s", bt_last_error());
        else
            ok = fields_hold(&p, cases[i].want, why, sizeof why);
        if (!tl_expect(ok, "regression: '%s' -> %s (%s)", cases[i].text, cases[i].want,
                       cases[i].rule))
            tl_note("%s", why);
    }
    bt_problem p;
    bt_status st = bt_problem_parse("conv_bwd_w g16mb1ic16ih4iw1oc16oh1kh2kw1sh3sw1", &p);
    if (!tl_expect(st == BT_EINVAL && bdm_message_names(bt_last_error(), "ph"),
                   "regression: 'conv_bwd_w g16mb1ic16ih4iw1oc16oh1kh2kw1sh3sw1' has benchdnn's "
                   "ph (0-4+2)/2 = -1: refused naming ph"))
        tl_note("%s: \"%s\"", bt_strerror(st), bt_last_error());
}

/* ---- (d) fuzz: random descriptors and mutated table rows ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull; /* fixed: reproducible runs */
static int rng_below(int n) {
    return bdm_rng_below(&rng_state, n);
}
static int chance(int percent) {
    return rng_below(100) < percent;
}

/* A descriptor under construction: (key, value) items, written in order. */
typedef struct items {
    char key[24][4];
    int64_t value[24];
    int n;
} items;

static void add(items *it, const char *key, int64_t value) {
    if (it->n >= 24) return;
    snprintf(it->key[it->n], 4, "%s", key);
    it->value[it->n++] = value;
}

/* One spatial group (letter 'h', 'w' or 'd'): present with random fields, or absent,
 * possibly with keys that leave it absent. Outputs near the computed one, so that deduced
 * and uneven padding are common. */
static void add_group(items *it, char dim, int present_percent) {
    char key[4] = {0, dim, 0, 0};
#define ADD(letter, value) (key[0] = (letter), add(it, key, (value)))
    if (!chance(present_percent)) {
        /* sX1, pX0 and dX0 leave a group absent (rule 1). */
        static const struct {
            char letter;
            int value;
        } harmless[] = {{'s', 1}, {'p', 0}, {'d', 0}};
        int h = rng_below(3);
        if (chance(20)) ADD(harmless[h].letter, harmless[h].value);
        return;
    }
    int64_t i = 1 + rng_below(14), k = 1 + rng_below(5), s = 1, p = 0, d = 0;
    if (chance(95)) ADD('i', i);
    if (chance(95)) ADD('k', k);
    if (chance(40)) s = 1 + rng_below(3), ADD('s', s);
    if (chance(25)) d = rng_below(3), ADD('d', d);
    int p_written = chance(45);
    if (p_written) p = rng_below(4), ADD('p', p);
    if (chance(40)) {
        int64_t span = i - ((k - 1) * (d + 1) + 1) + 2 * p;
        int64_t o = span / s + 1 + rng_below(4) - 1;
        ADD('o', o >= 1 ? o : 1 + rng_below(3));
    }
#undef ADD
}

static void random_conv(items *it) {
    static const int64_t channels[] = {1, 2, 3, 4, 6, 8, 16};
    if (chance(95)) add(it, "ic", channels[rng_below(7)]);
    if (chance(95)) add(it, "oc", channels[rng_below(7)]);
    if (chance(50)) add(it, "mb", 1 + rng_below(4));
    if (chance(30)) add(it, "g", 1 << rng_below(3));
    add_group(it, 'h', 75);
    add_group(it, 'w', 60);
    if (chance(6)) {
        add(it, "id", chance(80) ? 1 : 1 + rng_below(3));
        add(it, "kd", chance(80) ? 1 : 1 + rng_below(3));
        if (chance(30)) add(it, "od", chance(80) ? 1 : 1 + rng_below(3));
        if (chance(30)) add(it, "pd", chance(80) ? 0 : 1);
        if (chance(30)) add(it, "sd", 1 + rng_below(2));
        if (chance(30)) add(it, "dd", rng_below(2));
    }
}

static void random_fc(items *it) {
    static const char *const foreign[] = {"kh", "g", "oh", "ph", "sh", "id"};
    if (chance(95)) add(it, "ic", 1 + rng_below(8));
    if (chance(95)) add(it, "oc", 1 + rng_below(8));
    if (chance(50)) add(it, "mb", 1 + rng_below(4));
    if (chance(30)) add(it, "ih", 1 + rng_below(5));
    if (chance(30)) add(it, "iw", 1 + rng_below(5));
    if (chance(5)) add(it, foreign[rng_below(6)], rng_below(3));
}

/* Writes the items in a random order, with a zero, a huge value or an earlier duplicate of a
 * key now and then, '_' separators and a name. */
static void write_items(items *it, char *out, size_t size) {
    for (int a = it->n - 1; a > 0 && chance(50); a--) { /* shuffle, sometimes */
        int b = rng_below(a + 1);
        char key[4];
        memcpy(key, it->key[a], 4), memcpy(it->key[a], it->key[b], 4), memcpy(it->key[b], key, 4);
        int64_t v = it->value[a];
        it->value[a] = it->value[b], it->value[b] = v;
    }
    if (it->n && chance(3)) it->value[rng_below(it->n)] = 0;
    if (it->n && chance(2)) { /* sizes at and past the library's limits */
        static const int64_t large[] = {(int64_t)1 << 31, (int64_t)1 << 40, ((int64_t)1 << 40) + 1,
                                        (int64_t)1 << 62, INT64_MAX};
        it->value[rng_below(it->n)] = large[rng_below(5)];
    }
    size_t len = 0;
    out[0] = '\0';
    int duplicate = it->n && chance(12) ? rng_below(it->n) : -1;
    for (int i = 0; i < it->n && len < size; i++) {
        if (i == duplicate)
            len += (size_t)snprintf(out + len, size - len, "%s%d", it->key[i], 1 + rng_below(9));
        len += (size_t)snprintf(out + len, size - len, "%s%s%" PRId64, chance(8) ? "_" : "",
                                it->key[i], it->value[i]);
    }
    if (len < size && chance(5)) snprintf(out + len, size - len, "n\"layer%d\"", rng_below(9));
}

static const char *random_op(int fc) {
    static const char *const conv_ops[] = {"conv_bwd_d",       "conv_bwd_w",      "conv_bwd_data",
                                           "conv_bwd_weights", "conv_bwd_d_nhwc", "conv_bwd_w_nchw",
                                           "conv_bwd_w_nhwc"};
    static const char *const fc_ops[] = {"fc_bwd_d", "fc_bwd_w", "fc_bwd_data", "fc_bwd_w_nhwc"};
    return fc ? fc_ops[rng_below(4)] : conv_ops[rng_below(7)];
}

static void random_text(char *out, size_t size) {
    int fc = chance(15);
    items it = {.n = 0};
    char desc[400];
    if (fc)
        random_fc(&it);
    else
        random_conv(&it);
    write_items(&it, desc, sizeof desc);
    int acc = rng_below(5); /* 0 to 2 'accumulate' */
    snprintf(out, size, "%s %s%s%s", random_op(fc), desc, acc >= 3 ? " accumulate" : "",
             acc == 4 ? " accumulate" : "");
}

/* A table row with 1 to 3 edits to its descriptor, each keeping it a sequence of keys with
 * numbers: a number changed (0 included), a key with its number dropped, one repeated with
 * another number, a key of any group inserted. */
static void mutated_text(char *out, size_t size) {
    static const char *const keys[] = {"g",  "mb", "ic", "oc", "ih", "iw", "oh", "ow",
                                       "kh", "kw", "sh", "sw", "ph", "pw", "dh", "dw",
                                       "id", "od", "kd", "sd", "pd", "dd"};
    const char *text = table[rng_below(TABLE_ROWS)].text;
    split_text st;
    if (!split(text, &st) || strchr(st.desc, 'n')) { /* names are not edited */
        snprintf(out, size, "%s", text);
        return;
    }
    char desc[600];
    snprintf(desc, sizeof desc, "%s", st.desc);
    for (int e = 1 + rng_below(3); e > 0; e--) {
        size_t len = strlen(desc), starts[40];
        int n = 0;
        for (size_t i = 0; i < len && n < 40; i++)
            if (desc[i] >= 'a' && desc[i] <= 'z' &&
                (i == 0 || !(desc[i - 1] >= 'a' && desc[i - 1] <= 'z')))
                starts[n++] = i;
        if (!n) break;
        size_t at = starts[rng_below(n)], key_end = at;
        while (desc[key_end] >= 'a' && desc[key_end] <= 'z') key_end++;
        size_t item_end = key_end + strspn(desc + key_end, "0123456789");
        char tail[600];
        snprintf(tail, sizeof tail, "%s", desc + item_end);
        switch (rng_below(4)) {
        case 0: /* change the number */
            snprintf(desc + key_end, sizeof desc - key_end, "%d%s", rng_below(13), tail);
            break;
        case 1: /* drop the item */
            snprintf(desc + at, sizeof desc - at, "%s", tail);
            break;
        case 2: { /* repeat the key with another number after it */
            char key[8];
            snprintf(key, sizeof key, "%.*s", (int)(key_end - at), desc + at);
            snprintf(desc + item_end, sizeof desc - item_end, "%s%d%s", key, rng_below(13), tail);
            break;
        }
        default: /* insert any key */
            snprintf(tail, sizeof tail, "%s", desc + at);
            snprintf(desc + at, sizeof desc - at, "%s%d%s", keys[rng_below(22)], rng_below(4),
                     tail);
        }
    }
    snprintf(out, size, "%s %.400s%s", random_op(st.fc), desc[0] ? desc : "ic1",
             st.accumulate ? " accumulate" : "");
}

enum { FUZZ_RANDOM = 20000, FUZZ_MUTATED = 10000, FAILURE_NOTES = 12 };

typedef struct tally {
    int outcomes[OUT_FAIL + 1];
    int limits[BDM_LIMIT_COUNT];
    char notes[FAILURE_NOTES][1900];
} tally;

static void fuzz(void) {
    tally t;
    memset(&t, 0, sizeof t);
    for (int i = 0; i < FUZZ_RANDOM + FUZZ_MUTATED; i++) {
        char text[600], why[1200];
        if (i < FUZZ_RANDOM)
            random_text(text, sizeof text);
        else
            mutated_text(text, sizeof text);
        model_result m;
        outcome o = check_text(text, &m, why, sizeof why);
        if (o == OUT_FAIL && t.outcomes[OUT_FAIL] < FAILURE_NOTES)
            snprintf(t.notes[t.outcomes[OUT_FAIL]], sizeof t.notes[0], "'%s': %s", text, why);
        if (o == OUT_REFUSED_LIMIT) t.limits[model_limit(&m)]++;
        t.outcomes[o]++;
    }
    int total = FUZZ_RANDOM + FUZZ_MUTATED, failures = t.outcomes[OUT_FAIL];
    if (!tl_expect(!failures,
                   "fuzz: %d texts (%d random, %d mutated table rows): every acceptance agrees "
                   "with benchdnn's rules and round-trips through valid benchdnn text; every "
                   "refusal is benchdnn's or rule 5's",
                   total, FUZZ_RANDOM, FUZZ_MUTATED)) {
        tl_note("%d failed; the first %d:", failures,
                failures < FAILURE_NOTES ? failures : FAILURE_NOTES);
        for (int f = 0; f < failures && f < FAILURE_NOTES; f++) tl_note("%s", t.notes[f]);
    }
    tl_note("accepted by both, canonical text checked: %d", t.outcomes[OUT_ACCEPTED]);
    tl_note("refused, invalid benchdnn descriptor: %d", t.outcomes[OUT_REFUSED_INVALID]);
    tl_note("refused, non-trivial depth (rule 4): %d", t.outcomes[OUT_REFUSED_UNSUPPORTED]);
    for (int l = 1; l < BDM_LIMIT_COUNT; l++)
        tl_note("refused by rule 5, %s: %d", bdm_limit_name((bdm_limit)l), t.limits[l]);
    tl_note("refused, beyond the library's sizes: %d", t.outcomes[OUT_REFUSED_SIZE]);
    tl_note("refused by rule 5 read per token, a 0 that a later repeat overwrote: %d",
            t.outcomes[OUT_REFUSED_ZERO_TOKEN]);
    tl_note("refused, text around the descriptor: %d", t.outcomes[OUT_REFUSED_TEXT]);
    tl_note("failures: %d", failures);
}

int main(void) {
    bdm_rng_seed_from_env(&rng_state);
    table_rows();
    table_canonical();
    refusals();
    regressions();
    fuzz();
    return tl_finish();
}
