/* The project's packed single-precision GEMM, shared by the FC and im2col/col2im variants.
 *
 *     C[m x n] = beta * C + op(A)[m x k] * op(B)[k x n]
 *
 * All matrices are row-major; op(X) is X, or X transposed when trans_x is nonzero, so with
 * trans_a the array `a` holds a k x m matrix (element (i, p) of op(A) at a[p * lda + i]).
 * Leading dimensions are in floats and may exceed the row width.
 *
 * The algorithm is BLIS's: for each nc-column block of C, for each kc slice of the sum, the
 * kc x nc block of op(B) is packed into NR-column panels (pack_b); for each mc-row block
 * the mc x kc block of op(A) is packed into MR-row panels (pack_a); a register-blocked
 * micro-kernel then computes every MR x NR tile of the block from one A panel and one B
 * panel. Panels are zero-padded to whole tiles; the micro-kernel computes MR rows, or for
 * a ragged last row panel the fewest even rows that cover it, and masks its loads and
 * stores of C to the m and n edges (nothing outside C's m x n elements, or outside op(A)
 * and op(B), is read or written). Packing is fused into the arithmetic where it can be:
 * without trans_b, the first row panel of the first A block reads each B panel straight
 * from b and packs it as it goes (no separate memory-bound packing pass; W of an FC layer
 * is tens of MB). With n <= 4 NR (skinny: 1x1 convolutions with few channels) A is not
 * packed at all: the micro-kernel reads each full MR-row panel where it lies, row panels
 * outer and the few column panels inner, so a panel is read once from memory and reused
 * from L1; a last column panel of at most NR / 2 columns computes half the vectors. The
 * summation order is unchanged by any of these. The algorithm is
 * written once (common/gemm_impl.h) and instantiated per ISA by gemm_{avx512,avx2,scalar}.c.
 *
 * Single-threaded and reentrant: the GEMM never allocates and keeps no state. Callers split
 * work across threads themselves (sub-matrices are just offset pointers) and give each
 * thread its own pack buffers, sized by bt_sgemm_pack_a_floats / bt_sgemm_pack_b_floats for
 * the blocking used (64-byte aligned buffers keep the packed loads aligned).
 *
 * beta == 0: C is overwritten and never read (it may hold garbage or NaN). Otherwise
 * C = beta * C + product; beta == 1 accumulates. k == 0 just scales C by beta.
 * Results are deterministic: the summation order depends only on the ISA and kc.
 */
#ifndef BT_GEMM_H
#define BT_GEMM_H

#include "internal.h"

/* Register tile (MR rows x NR columns of C) of each ISA's micro-kernel. NR is a whole
 * number of vectors; MR * NR / VLEN accumulators plus the B vectors and a broadcast fill
 * the vector registers: 14 x 32 uses 28 + 2 + 1 of 32 zmm, 6 x 16 uses 12 + 2 + 1 of 16
 * ymm, 4 x 4 uses 16 scalars. */
#define BT_GEMM_MR_SCALAR 4
#define BT_GEMM_NR_SCALAR 4
#define BT_GEMM_MR_AVX2 6
#define BT_GEMM_NR_AVX2 16
#define BT_GEMM_MR_AVX512 14
#define BT_GEMM_NR_AVX512 32

/* A GEMM with at most this many column panels (n <= BT_GEMM_SKINNY_PANELS * NR) is skinny:
 * A is read in place, never packed, row panels outer (see above). */
#define BT_GEMM_SKINNY_PANELS 4

/* Cache blocking: rows of A per packed block (mc), columns of B per packed block (nc) and
 * length of the summation slice (kc). Any values >= 1 are valid; multiples of MR / NR
 * waste nothing. */
typedef struct bt_gemm_blocking {
    int64_t mc, nc, kc;
} bt_gemm_blocking;

typedef void bt_sgemm_fn(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, const float *a,
                         int64_t lda, const float *b, int64_t ldb, float beta, float *c,
                         int64_t ldc, const bt_gemm_blocking *blk, float *pack_a, float *pack_b);

/* One function per ISA; each needs the CPU to support it (the caller checks). */
bt_sgemm_fn bt_sgemm_scalar, bt_sgemm_avx2, bt_sgemm_avx512;

/* A "batched" index of an operand: index j stands for position x = j + off of a batch of
 * samples of pq positions each, q per row, and sits at offset
 *     (x / pq) * ns + (x % pq / q) * hs + (x % q) * ws
 * so one GEMM can span every sample of an NCHW tensor (and subsample it, ws, hs > unit).
 * The operand's other index keeps its leading dimension. */
typedef struct bt_gemm_map {
    int64_t off, q, pq, ws, hs, ns;
} bt_gemm_map;

/* Which indices are batched (NULL: a plain stride). a_k: op(A)(i, p) = a[i * (trans_a ? 1 :
 * lda) + map(p)]; b_k: op(B)(p, j) = b[j * (trans_b ? ldb : 1) + map(p)]; b_n (not with
 * b_k): op(B)(p, j) = b[p * (trans_b ? 1 : ldb) + map(j)]; c_n: C(i, j) = c[i * ldc + map(j)].
 * Mapped operands are packed in runs of consecutive positions (no fused packing), and with
 * c_n each tile goes through a register-tile buffer (the tile may span samples). */
typedef struct bt_gemm_maps {
    const bt_gemm_map *a_k, *b_k, *b_n, *c_n;
} bt_gemm_maps;

typedef void bt_sgemm_map_fn(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
                             const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                             float *c, int64_t ldc, const bt_gemm_blocking *blk, float *pack_a,
                             float *pack_b, const bt_gemm_maps *maps);

/* bt_sgemm with batched operands (maps NULL: exactly bt_sgemm). */
bt_sgemm_map_fn bt_sgemm_map_scalar, bt_sgemm_map_avx2, bt_sgemm_map_avx512;

/* C[m x mapped n] = beta * C + src[m x n] (row stride lds; beta == 0 does not read C): a
 * column block computed contiguously, scattered once (strided outputs). */
typedef void bt_gemm_store_map_fn(const float *src, int64_t lds, int64_t m, int64_t n, float beta,
                                  float *c, int64_t ldc, const bt_gemm_map *mp);
bt_gemm_store_map_fn bt_gemm_store_map_scalar, bt_gemm_store_map_avx2, bt_gemm_store_map_avx512;

/* The ISA's function. */
bt_sgemm_fn *bt_sgemm_for(bt_isa isa);

/* Dispatch on isa. */
void bt_sgemm(bt_isa isa, int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, const float *a,
              int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc,
              const bt_gemm_blocking *blk, float *pack_a, float *pack_b);

/* The ISA's register tile. Splitting C between threads on multiples of these keeps ragged
 * tiles at the matrix edges only. */
void bt_gemm_micro_tile(bt_isa isa, int64_t *mr, int64_t *nr);

/* Floats each pack buffer needs for blocking blk, rounded up to whole 64-byte lines so
 * per-thread buffers carved one after another from one allocation stay aligned. */
size_t bt_sgemm_pack_a_floats(const bt_gemm_blocking *blk, bt_isa isa);
size_t bt_sgemm_pack_b_floats(const bt_gemm_blocking *blk, bt_isa isa);

/* Blocking from cache sizes in bytes (l1d and l2 of one core; l3: the share one thread may
 * use, 0 if unknown), after BLIS's analytical model: a kc x NR panel of B fills half of L1
 * (it is reused by every A panel of the block), an mc x kc block of A half of L2, a
 * kc x nc block of B half of the L3 share. mc and nc are multiples of MR and NR. */
void bt_gemm_default_blocking(bt_isa isa, int64_t l1d, int64_t l2, int64_t l3,
                              bt_gemm_blocking *out);

/* Shrink blk to an m x n x k problem (no block larger than the problem rounded up to the
 * register tile), so pack buffers are no larger than needed. Blocks stay >= 1. */
void bt_gemm_fit_blocking(bt_isa isa, int64_t m, int64_t n, int64_t k, bt_gemm_blocking *blk);

/* C = beta * C over m x n (beta == 0 writes zeros without reading): the k == 0 case. */
void bt_gemm_scale_c(int64_t m, int64_t n, float beta, float *c, int64_t ldc);

#endif
