/*
 * margin.c - the margin kernels: M += k x and min(0, min M) in one pass, scalar,
 * SSE2 and AVX (chosen once per engine; every variant gives the same bits).
 */
#include "engine_int.h"

#include <math.h>

/*
 * The margin kernel: M[0..n) += k x[0..n), returning min(0, min M), in one
 * pass. Each element is one multiply and one add, as in the scalar loop, so
 * every variant gives the same bits (no FMA; the minimum is exact); n covers
 * nscen rounded up to the variant's width, whose padding is 0 in both
 * vectors (0 + k 0) and so cannot lower the minimum. Chosen once per engine
 * (ch_engine_create): AVX where the CPU has it, else SSE2, else scalar.
 */

double chi_axpy_min_scalar(double *M, double k, const double *x, size_t n)
{
    double low = 0.0;
    for (size_t i = 0; i < n; i++) {
        M[i] += k * x[i];
        if (M[i] < low)
            low = M[i];
    }
    return low;
}

#if defined(CH_AXPY_SSE2)
/* 4 at a time (n a multiple of 4), two minimum chains */
double chi_axpy_min_sse2(double *M, double k, const double *x, size_t n)
{
    __m128d kk = _mm_set1_pd(k), lo0 = _mm_setzero_pd(), lo1 = _mm_setzero_pd();
    for (size_t i = 0; i < n; i += 4) {
        __m128d m0 = _mm_add_pd(_mm_load_pd(M + i), _mm_mul_pd(kk, _mm_load_pd(x + i)));
        __m128d m1 = _mm_add_pd(_mm_load_pd(M + i + 2), _mm_mul_pd(kk, _mm_load_pd(x + i + 2)));
        _mm_store_pd(M + i, m0);
        _mm_store_pd(M + i + 2, m1);
        lo0 = _mm_min_pd(lo0, m0);
        lo1 = _mm_min_pd(lo1, m1);
    }
    double l[2];
    _mm_storeu_pd(l, _mm_min_pd(lo0, lo1));
    return l[0] < l[1] ? l[0] : l[1];
}
#endif

#if defined(CH_AXPY_AVX)
/* 8 at a time (n a multiple of 8), two minimum chains */
__attribute__((target("avx"))) double chi_axpy_min_avx(double *M, double k, const double *x,
                                                       size_t n)
{
    __m256d kk = _mm256_set1_pd(k), lo0 = _mm256_setzero_pd(), lo1 = _mm256_setzero_pd();
    for (size_t i = 0; i < n; i += 8) {
        __m256d m0 = _mm256_add_pd(_mm256_load_pd(M + i), _mm256_mul_pd(kk, _mm256_load_pd(x + i)));
        __m256d m1 =
            _mm256_add_pd(_mm256_load_pd(M + i + 4), _mm256_mul_pd(kk, _mm256_load_pd(x + i + 4)));
        _mm256_store_pd(M + i, m0);
        _mm256_store_pd(M + i + 4, m1);
        lo0 = _mm256_min_pd(lo0, m0);
        lo1 = _mm256_min_pd(lo1, m1);
    }
    double l[4];
    _mm256_storeu_pd(l, _mm256_min_pd(lo0, lo1));
    double a = l[0] < l[1] ? l[0] : l[1], b = l[2] < l[3] ? l[2] : l[3];
    return a < b ? a : b;
}
#endif
