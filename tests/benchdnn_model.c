/* The benchdnn descriptor model: see benchdnn_model.h. Arithmetic is done in 128 bits so
 * that no input can overflow it; a result outside int64 is the "too large" limit. */
#include "benchdnn_model.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef __int128 wide;

/* Keys: g mb ic oc, then per dimension (depth, h, w) the fields i o k s p d. */
enum { KEY_G, KEY_MB, KEY_IC, KEY_OC, KEY_FIRST_SPATIAL, KEY_COUNT = KEY_FIRST_SPATIAL + 18 };
enum { FIELD_I, FIELD_O, FIELD_K, FIELD_S, FIELD_P, FIELD_D, FIELDS_PER_DIM };
enum { DIM_DEPTH, DIM_H, DIM_W, DIMS };
static const char field_letters[FIELDS_PER_DIM] = {'i', 'o', 'k', 's', 'p', 'd'};
static const char dim_letters[DIMS] = {'d', 'h', 'w'};

static int spatial_key(int dim, int field) {
    return KEY_FIRST_SPATIAL + dim * FIELDS_PER_DIM + field;
}

static void key_name(int key, char out[4]) {
    static const char *const plain[KEY_FIRST_SPATIAL] = {"g", "mb", "ic", "oc"};
    if (key < KEY_FIRST_SPATIAL) {
        snprintf(out, 4, "%s", plain[key]);
        return;
    }
    int rel = key - KEY_FIRST_SPATIAL;
    out[0] = field_letters[rel % FIELDS_PER_DIM];
    out[1] = dim_letters[rel / FIELDS_PER_DIM];
    out[2] = '\0';
}

static int key_from_text(const char *t, size_t avail, size_t *len) {
    if (avail >= 1 && t[0] == 'g') {
        *len = 1;
        return KEY_G;
    }
    if (avail < 2) return -1;
    *len = 2;
    for (int key = 0; key < KEY_COUNT; key++) {
        char name[4];
        key_name(key, name);
        if (strlen(name) == 2 && name[0] == t[0] && name[1] == t[1]) return key;
    }
    return -1;
}

/* Rule 5: 0 is refused for every key but the paddings and dilations. */
static int key_allows_zero(int key) {
    if (key < KEY_FIRST_SPATIAL) return 0;
    int field = (key - KEY_FIRST_SPATIAL) % FIELDS_PER_DIM;
    return field == FIELD_P || field == FIELD_D;
}

/* A failing status with its field and message; returns the status. */
static bdm_status refuse(bdm_status st, bdm_limit limit, bdm_limit *limit_out, char field_out[4],
                         const char *field, char *err, size_t errsz, const char *fmt, ...)
    __attribute__((format(printf, 8, 9)));
static bdm_status refuse(bdm_status st, bdm_limit limit, bdm_limit *limit_out, char field_out[4],
                         const char *field, char *err, size_t errsz, const char *fmt, ...) {
    *limit_out = limit;
    snprintf(field_out, 4, "%s", field);
    if (err && errsz) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errsz, fmt, ap);
        va_end(ap);
    }
    return st;
}

typedef struct raw_desc {
    int64_t v[KEY_COUNT];
    unsigned written;
    unsigned zero_token; /* keys that were written as 0 at least once */
    char name[BDM_NAME_SIZE];
} raw_desc;

typedef struct verdict { /* where a refusal is written */
    bdm_limit *limit;
    char *field;
    char *err;
    size_t errsz;
} verdict;

#define REFUSE(to, status, which_limit, key, ...)                                                  \
    refuse((status), (which_limit), (to)->limit, (to)->field, (key), (to)->err, (to)->errsz,       \
           __VA_ARGS__)

static int wrote(const raw_desc *raw, int key) {
    return (raw->written >> key) & 1u;
}

/* The lexical layer both descriptors share: keys with non-negative decimals (the last of a
 * repeated key wins), '_' separators, n"name" or n<rest>. Keys outside `allowed` (a bit per
 * key) are refused, in text order. */
static bdm_status read_keys(const char *desc, unsigned allowed, const char *kind, raw_desc *raw,
                            const verdict *v) {
    memset(raw, 0, sizeof *raw);
    size_t len = strlen(desc), i = 0;
    if (!len) return REFUSE(v, BDM_INVALID, BDM_LIMIT_NONE, "", "empty descriptor");
    while (i < len) {
        if (desc[i] == '_') {
            i++;
            continue;
        }
        if (desc[i] == 'n') {
            size_t start = i + 1, end;
            if (start < len && desc[start] == '"') {
                const char *close = strchr(desc + start + 1, '"');
                if (!close) return REFUSE(v, BDM_INVALID, BDM_LIMIT_NONE, "", "unterminated name");
                start++;
                end = (size_t)(close - desc);
                i = end + 1;
            } else {
                end = i = len;
            }
            size_t n = end - start < BDM_NAME_SIZE - 1 ? end - start : BDM_NAME_SIZE - 1;
            memcpy(raw->name, desc + start, n);
            raw->name[n] = '\0';
            continue;
        }
        size_t klen = 0;
        int key = key_from_text(desc + i, len - i, &klen);
        if (key < 0)
            return REFUSE(v, BDM_INVALID, BDM_LIMIT_NONE, "", "unknown key at '%.8s'", desc + i);
        char name[4];
        key_name(key, name);
        if (!((allowed >> key) & 1u))
            return REFUSE(v, BDM_INVALID, BDM_LIMIT_NONE, name, "'%s' is not %s key", name, kind);
        i += klen;
        if (i >= len || desc[i] < '0' || desc[i] > '9')
            return REFUSE(v, BDM_INVALID, BDM_LIMIT_NONE, name, "'%s' needs a number", name);
        wide value = 0;
        for (; i < len && desc[i] >= '0' && desc[i] <= '9'; i++) {
            value = value * 10 + (desc[i] - '0');
            if (value > INT64_MAX)
                return REFUSE(v, BDM_LIMIT, BDM_LIMIT_TOO_LARGE, name, "'%s' is too large", name);
        }
        raw->v[key] = (int64_t)value;
        raw->written |= 1u << key;
        if (!value) raw->zero_token |= 1u << key;
    }
    return BDM_OK;
}

/* The keys whose 0 a later repeat overwrote (benchdnn keeps the last value), '|'-separated,
 * or "". */
static void find_overwritten_zero(const raw_desc *raw, char out[BDM_NAME_SIZE]) {
    size_t len = 0;
    out[0] = '\0';
    for (int key = 0; key < KEY_COUNT; key++)
        if (((raw->zero_token >> key) & 1u) && raw->v[key] && !key_allows_zero(key)) {
            char name[4];
            key_name(key, name);
            len += (size_t)snprintf(out + len, BDM_NAME_SIZE - len, "%s%s", len ? "|" : "", name);
        }
}

/* ic and oc are required; rule 5 refuses zeros. */
static bdm_status check_channels_and_zeros(const raw_desc *raw, const verdict *v) {
    if (!wrote(raw, KEY_IC)) return REFUSE(v, BDM_INVALID, BDM_LIMIT_NONE, "ic", "'ic' is missing");
    if (!wrote(raw, KEY_OC)) return REFUSE(v, BDM_INVALID, BDM_LIMIT_NONE, "oc", "'oc' is missing");
    for (int key = 0; key < KEY_COUNT; key++)
        if (wrote(raw, key) && raw->v[key] == 0 && !key_allows_zero(key)) {
            char name[4];
            key_name(key, name);
            return REFUSE(v, BDM_LIMIT, BDM_LIMIT_ZERO, name, "'%s0': must be positive", name);
        }
    return BDM_OK;
}

static int fits(wide x) {
    return x >= INT64_MIN && x <= INT64_MAX;
}

/* Whether n tensors' element counts (each a product of four factors) fit as float bytes. */
static int tensors_fit(const int64_t factors[][4], int n) {
    for (int t = 0; t < n; t++) {
        wide elems = 1;
        for (int f = 0; f < 4; f++) {
            elems *= factors[t][f];
            if (elems > INT64_MAX / 4) return 0;
        }
    }
    return 1;
}

static const bdm_dim absent_dim = {.i = 1, .o = 1, .k = 1, .s = 1, .p = 0, .p_r = 0, .d = 0};

/* Rule 1 (presence) and, for a present dimension, rule 2 (output, deduced padding, end
 * padding). */
static bdm_status resolve_dim(const raw_desc *raw, int dim, bdm_dim *out, const verdict *v) {
    char names[FIELDS_PER_DIM][4];
    int64_t val[FIELDS_PER_DIM];
    for (int f = 0; f < FIELDS_PER_DIM; f++) {
        key_name(spatial_key(dim, f), names[f]);
        val[f] = raw->v[spatial_key(dim, f)];
    }
    int o_written = wrote(raw, spatial_key(dim, FIELD_O));
    int p_written = wrote(raw, spatial_key(dim, FIELD_P));
    int64_t s = wrote(raw, spatial_key(dim, FIELD_S)) ? val[FIELD_S] : 1;
    *out = absent_dim;
    out->present = val[FIELD_I] || val[FIELD_O] || val[FIELD_K] || val[FIELD_D] || s != 1 ||
                   (p_written && val[FIELD_P] != 0);
    if (!out->present) return BDM_OK;
    if (!val[FIELD_I])
        return REFUSE(v, BDM_INVALID, BDM_LIMIT_NONE, names[FIELD_I], "'%s' is missing",
                      names[FIELD_I]);
    if (!val[FIELD_K])
        return REFUSE(v, BDM_INVALID, BDM_LIMIT_NONE, names[FIELD_K], "'%s' is missing",
                      names[FIELD_K]);
    wide i = val[FIELD_I], k = val[FIELD_K], d = val[FIELD_D];
    wide extent = (k - 1) * (d + 1) + 1, o, p;
    if (!o_written) {
        p = p_written ? val[FIELD_P] : 0;
        o = (i - extent + 2 * p) / s + 1; /* C division truncates toward zero, as benchdnn */
        if (o <= 0)
            return REFUSE(v, BDM_INVALID, BDM_LIMIT_NONE, names[FIELD_O],
                          "'%s' would be %" PRId64 ": the kernel does not fit", names[FIELD_O],
                          fits(o) ? (int64_t)o : INT64_MIN);
    } else {
        o = val[FIELD_O];
        p = p_written ? val[FIELD_P] : ((o - 1) * s - i + extent) / 2;
        out->p_deduced = !p_written;
    }
    wide p_r = (o - 1) * s - i + extent - p;
    if (!fits(extent) || !fits(o) || !fits(p) || !fits(p_r) || !fits(d + 1))
        return REFUSE(v, BDM_LIMIT, BDM_LIMIT_TOO_LARGE, names[FIELD_P],
                      "the '%c' dimension's sizes overflow", dim_letters[dim]);
    out->i = (int64_t)i, out->k = (int64_t)k, out->s = s, out->d = (int64_t)d;
    out->o = (int64_t)o, out->p = (int64_t)p, out->p_r = (int64_t)p_r;
    return BDM_OK;
}

static int dim_is_trivial(const bdm_dim *x) {
    return x->i == 1 && x->k == 1 && x->o == 1 && x->p == 0 && x->p_r == 0;
}

/* Rule 5's padding limits for one resolved dimension. */
static bdm_status check_padding(const bdm_dim *x, int dim, const verdict *v) {
    char pad[4], out[4];
    key_name(spatial_key(dim, FIELD_P), pad);
    key_name(spatial_key(dim, FIELD_O), out);
    if (x->p < 0)
        return REFUSE(v, BDM_LIMIT, BDM_LIMIT_NEGATIVE_PAD, pad,
                      "negative padding '%s%" PRId64 "'%s%s", pad, x->p,
                      x->p_deduced ? " deduced from " : "", x->p_deduced ? out : "");
    if (x->p_r <= -x->s)
        return REFUSE(v, BDM_LIMIT, BDM_LIMIT_END_PAD, pad,
                      "end padding %" PRId64 " <= -stride %" PRId64 " ('%s', '%s')", x->p_r, x->s,
                      out, pad);
    return BDM_OK;
}

bdm_status bdm_parse_conv(const char *desc, bdm_conv *out, char *err, size_t errsz) {
    memset(out, 0, sizeof *out);
    if (err && errsz) err[0] = '\0';
    const verdict v = {&out->limit, out->field, err, errsz};
    raw_desc raw;
    bdm_status st = read_keys(desc, (1u << KEY_COUNT) - 1, "a conv", &raw, &v);
    out->written = raw.written;
    memcpy(out->name, raw.name, sizeof out->name);
    find_overwritten_zero(&raw, out->overwritten_zero);
    if (st != BDM_OK) return st;
    if ((st = check_channels_and_zeros(&raw, &v)) != BDM_OK) return st;
    out->mb = wrote(&raw, KEY_MB) ? raw.v[KEY_MB] : 2;
    out->g = wrote(&raw, KEY_G) ? raw.v[KEY_G] : 1;
    out->ic = raw.v[KEY_IC], out->oc = raw.v[KEY_OC];
    bdm_dim *dims[DIMS] = {&out->depth, &out->h, &out->w};
    for (int dim = 0; dim < DIMS; dim++)
        if ((st = resolve_dim(&raw, dim, dims[dim], &v)) != BDM_OK) return st;
    /* Rules 3 and 4: which groups copy which. */
    if (out->depth.present) {
        if (!out->h.present && !out->w.present) {
            out->h = out->w = out->depth;
            out->h.present = out->w.present = 0;
        } else if (!out->h.present || !out->w.present) {
            const char *missing = out->h.present ? "iw" : "ih";
            return REFUSE(&v, BDM_INVALID, BDM_LIMIT_NONE, missing,
                          "a depth dimension with only one of h and w ('%s' missing)", missing);
        }
    } else if (out->h.present && !out->w.present) {
        out->w = out->h;
        out->w.present = 0;
    } else if (!out->h.present && !out->w.present) {
        return REFUSE(&v, BDM_INVALID, BDM_LIMIT_NONE, "ih", "no spatial dimension ('ih')");
    }
    if (out->depth.present && !dim_is_trivial(&out->depth)) {
        static const char *const depth_fields[] = {"id", "kd", "od", "pd"};
        const bdm_dim *x = &out->depth;
        int which = x->i != 1 ? 0 : x->k != 1 ? 1 : x->o != 1 ? 2 : 3;
        return REFUSE(&v, BDM_UNSUPPORTED, BDM_LIMIT_NONE, depth_fields[which],
                      "a depth dimension that is not trivial ('%s')", depth_fields[which]);
    }
    for (int dim = DIM_H; dim < DIMS; dim++)
        if ((st = check_padding(dims[dim], dim, &v)) != BDM_OK) return st;
    if (out->ic % out->g || out->oc % out->g)
        return REFUSE(&v, BDM_LIMIT, BDM_LIMIT_GROUPS, "g", "'g%" PRId64 "' does not divide ic, oc",
                      out->g);
    const int64_t tensors[3][4] = {{out->mb, out->ic, out->h.i, out->w.i},
                                   {out->mb, out->oc, out->h.o, out->w.o},
                                   {out->oc, out->ic / out->g, out->h.k, out->w.k}};
    if (!tensors_fit(tensors, 3))
        return REFUSE(&v, BDM_LIMIT, BDM_LIMIT_TOO_LARGE, "", "the tensors are too large");
    return BDM_OK;
}

bdm_status bdm_parse_ip(const char *desc, bdm_ip *out, char *err, size_t errsz) {
    memset(out, 0, sizeof *out);
    if (err && errsz) err[0] = '\0';
    const verdict v = {&out->limit, out->field, err, errsz};
    unsigned allowed = (1u << KEY_MB) | (1u << KEY_IC) | (1u << KEY_OC);
    for (int dim = 0; dim < DIMS; dim++) allowed |= 1u << spatial_key(dim, FIELD_I);
    raw_desc raw;
    bdm_status st = read_keys(desc, allowed, "an FC", &raw, &v);
    out->written = raw.written;
    memcpy(out->name, raw.name, sizeof out->name);
    find_overwritten_zero(&raw, out->overwritten_zero);
    if (st != BDM_OK) return st;
    if ((st = check_channels_and_zeros(&raw, &v)) != BDM_OK) return st;
    int id_key = spatial_key(DIM_DEPTH, FIELD_I), ih_key = spatial_key(DIM_H, FIELD_I),
        iw_key = spatial_key(DIM_W, FIELD_I);
    out->mb = wrote(&raw, KEY_MB) ? raw.v[KEY_MB] : 2;
    out->ic_unfolded = raw.v[KEY_IC], out->oc = raw.v[KEY_OC];
    /* The FC section says nothing of id; the model reads it as rule 4 reads a conv's depth:
     * with neither ih nor iw they copy id, with exactly one of them it is an error. */
    int has_id = wrote(&raw, id_key), has_ih = wrote(&raw, ih_key), has_iw = wrote(&raw, iw_key);
    if (has_id && has_ih != has_iw)
        return REFUSE(&v, BDM_INVALID, BDM_LIMIT_NONE, has_ih ? "iw" : "ih",
                      "'id' with only one of ih and iw ('%s' missing)", has_ih ? "iw" : "ih");
    out->id = has_id ? raw.v[id_key] : 1;
    out->ih = has_ih ? raw.v[ih_key] : has_id ? out->id : 1;
    out->iw = has_iw ? raw.v[iw_key] : has_ih ? out->ih : has_id ? out->id : 1;
    wide ic = (wide)out->ic_unfolded * out->id;
    if (ic <= INT64_MAX) ic *= out->ih;
    if (ic <= INT64_MAX) ic *= out->iw;
    if (ic > INT64_MAX)
        return REFUSE(&v, BDM_LIMIT, BDM_LIMIT_TOO_LARGE, "ic", "ic times the image overflows");
    out->ic = (int64_t)ic;
    const int64_t tensors[3][4] = {
        {out->mb, out->ic, 1, 1}, {out->mb, out->oc, 1, 1}, {out->oc, out->ic, 1, 1}};
    if (!tensors_fit(tensors, 3))
        return REFUSE(&v, BDM_LIMIT, BDM_LIMIT_TOO_LARGE, "", "the tensors are too large");
    return BDM_OK;
}

int bdm_conv_wrote(const bdm_conv *m, const char *key) {
    for (int k = 0; k < KEY_COUNT; k++) {
        char name[4];
        key_name(k, name);
        if (!strcmp(name, key)) return (m->written >> k) & 1u;
    }
    return 0;
}

const char *bdm_status_name(bdm_status s) {
    static const char *const names[] = {"accepted", "invalid", "unsupported", "refused by a limit"};
    return (unsigned)s < sizeof names / sizeof names[0] ? names[s] : "?";
}

const char *bdm_limit_name(bdm_limit l) {
    static const char *const names[BDM_LIMIT_COUNT] = {
        "none",         "negative begin padding",       "end padding <= -stride",
        "a zero value", "groups not dividing channels", "too large"};
    return (unsigned)l < BDM_LIMIT_COUNT ? names[l] : "?";
}

/* ---- comparison with a parsed problem ---- */

#define SAME(what, lib, model)                                                                     \
    do {                                                                                           \
        if ((int64_t)(lib) != (int64_t)(model)) {                                                  \
            snprintf(why, size, "%s: library %" PRId64 ", benchdnn %" PRId64, what,                \
                     (int64_t)(lib), (int64_t)(model));                                            \
            return 0;                                                                              \
        }                                                                                          \
    } while (0)

static int same_dim(const char *dim, int64_t in, int64_t ker, int64_t stride, int64_t dil,
                    int64_t pad, int64_t out, const bdm_dim *x, char *why, size_t size) {
    char what[64];
#define SAME_FIELD(field, lib, model)                                                              \
    snprintf(what, sizeof what, "%s %s", dim, field);                                              \
    SAME(what, lib, model)
    SAME_FIELD("input", in, x->i);
    SAME_FIELD("kernel", ker, x->k);
    SAME_FIELD("stride", stride, x->s);
    SAME_FIELD("dilation (library's, benchdnn's + 1)", dil, x->d + 1);
    SAME_FIELD("begin padding", pad, x->p);
    SAME_FIELD("output", out, x->o);
#undef SAME_FIELD
    return 1;
}

int bdm_conv_same_computation(const bt_problem *p, const bdm_conv *m, char *why, size_t size) {
    SAME("n (mb)", p->n, m->mb);
    SAME("c (ic)", p->c, m->ic);
    SAME("k (oc)", p->k, m->oc);
    SAME("groups", p->groups, m->g);
    if (!same_dim("h", p->h, p->r, p->stride_h, p->dil_h, p->pad_h, bt_problem_out_h(p), &m->h, why,
                  size) ||
        !same_dim("w", p->w, p->s, p->stride_w, p->dil_w, p->pad_w, bt_problem_out_w(p), &m->w, why,
                  size))
        return 0;
    /* Symmetric storage only promises the output size, compared above; explicit end padding
     * must be oneDNN's padding_r. */
    if (p->pad_end_set) {
        SAME("bottom padding", p->pad_h_end, m->h.p_r);
        SAME("right padding", p->pad_w_end, m->w.p_r);
    }
    return 1;
}

int bdm_ip_same_computation(const bt_problem *p, const bdm_ip *m, char *why, size_t size) {
    SAME("n (mb)", p->n, m->mb);
    SAME("c (ic times the image)", p->c, m->ic);
    SAME("k (oc)", p->k, m->oc);
    SAME("h", p->h, 1);
    SAME("w", p->w, 1);
    SAME("r", p->r, 1);
    SAME("s", p->s, 1);
    SAME("groups", p->groups, 1);
    return 1;
}

/* ---- helpers the grammar tests share ---- */

static int is_letter(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int names_word(const char *msg, const char *word, size_t len) {
    for (const char *at = strstr(msg, word); at; at = strstr(at + 1, word))
        if ((at == msg || !is_letter(at[-1])) && !is_letter(at[len])) return 1;
    return 0;
}

int bdm_message_names(const char *msg, const char *names) {
    const char *entry = names;
    while (*entry) {
        size_t entry_len = strcspn(entry, " ");
        int found = 0;
        for (size_t a = 0; a < entry_len && !found;) {
            size_t alt_len = strcspn(entry + a, "| ");
            if (alt_len > entry_len - a) alt_len = entry_len - a;
            char word[32];
            snprintf(word, sizeof word, "%.*s", (int)alt_len, entry + a);
            found = alt_len && names_word(msg, word, strlen(word));
            a += alt_len + 1;
        }
        if (!found) return 0;
        entry += entry_len;
        while (*entry == ' ') entry++;
    }
    return 1;
}

int bdm_problem_equal(const bt_problem *a, const bt_problem *b) {
    return a->op == b->op && a->layout == b->layout && a->n == b->n && a->c == b->c &&
           a->h == b->h && a->w == b->w && a->k == b->k && a->r == b->r && a->s == b->s &&
           a->stride_h == b->stride_h && a->stride_w == b->stride_w && a->pad_h == b->pad_h &&
           a->pad_w == b->pad_w && a->dil_h == b->dil_h && a->dil_w == b->dil_w &&
           a->groups == b->groups && a->accumulate == b->accumulate &&
           a->pad_h_end == b->pad_h_end && a->pad_w_end == b->pad_w_end &&
           a->pad_end_set == b->pad_end_set;
}

int bdm_round_trip(const char *text, const bt_problem *p, char *canon, size_t canon_size, char *why,
                   size_t size) {
    char again[512];
    int len = bt_problem_format(p, canon, canon_size);
    if (len <= 0 || (size_t)len >= canon_size || strlen(canon) != (size_t)len) {
        snprintf(why, size, "format returned %d", len);
        return 0;
    }
    bt_problem back;
    if (bt_problem_parse(canon, &back) != BT_OK) {
        snprintf(why, size, "'%s' (from '%s') does not parse: %s", canon, text, bt_last_error());
        return 0;
    }
    if (!bdm_problem_equal(p, &back)) {
        char a[300], b[300];
        bdm_problem_describe(p, a, sizeof a);
        bdm_problem_describe(&back, b, sizeof b);
        snprintf(why, size, "'%s' is {%s}, its canonical text '%s' parses to {%s}", text, a, canon,
                 b);
        return 0;
    }
    bt_problem_format(&back, again, sizeof again);
    if (strcmp(canon, again)) {
        snprintf(why, size, "format is not stable: '%s' then '%s'", canon, again);
        return 0;
    }
    return 1;
}

uint64_t bdm_rng(uint64_t *state) {
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    return *state * 0x2545f4914f6cdd1dull;
}

void bdm_rng_seed_from_env(uint64_t *state) {
    const char *seed = getenv("BT_FUZZ_SEED");
    if (seed && *seed) *state ^= strtoull(seed, NULL, 10) * 0x9e3779b97f4a7c15ull;
    if (!*state) *state = 1; /* xorshift stays at 0 */
}

int bdm_rng_below(uint64_t *state, int n) {
    return (int)(bdm_rng(state) % (uint64_t)n);
}

void bdm_problem_describe(const bt_problem *p, char *buf, size_t size) {
    snprintf(buf, size,
             "op%d layout%d n%" PRId64 " c%" PRId64 " h%" PRId64 " w%" PRId64 " k%" PRId64
             " r%" PRId64 " s%" PRId64 " stride%" PRId64 "x%" PRId64 " pad%" PRId64 "x%" PRId64
             " end%" PRId64 "x%" PRId64 " end_set%d dil%" PRId64 "x%" PRId64 " g%" PRId64 " acc%d",
             (int)p->op, (int)p->layout, p->n, p->c, p->h, p->w, p->k, p->r, p->s, p->stride_h,
             p->stride_w, p->pad_h, p->pad_w, p->pad_h_end, p->pad_w_end, p->pad_end_set, p->dil_h,
             p->dil_w, p->groups, p->accumulate);
}
