/* SGEMM GFLOP/s of a CBLAS library at n = 256, 512, 1024, 2048 (best of several
 * calls), used to choose cudl's CPU BLAS (benchmarks/README.md). Build against each:
 *   cc -O2 benchmarks/sgemm_probe.c -I/usr/include/x86_64-linux-gnu/openblas-pthread \
 *      /usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so -o probe_openblas
 *   cc -O2 benchmarks/sgemm_probe.c -I/usr/include/x86_64-linux-gnu/blis-openmp \
 *      /usr/lib/x86_64-linux-gnu/blis-openmp/libblis.so -o probe_blis
 * and choose threads and kernels through the environment (OPENBLAS_NUM_THREADS,
 * OPENBLAS_CORETYPE, BLIS_NUM_THREADS). */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(void) {
  const int sizes[] = {256, 512, 1024, 2048};
  for (int s = 0; s < 4; ++s) {
    const int n = sizes[s];
    const long count = (long)n * n;
    float *a = malloc(sizeof(float) * count), *b = malloc(sizeof(float) * count), *c = malloc(sizeof(float) * count);
    for (long i = 0; i < count; ++i) {
      a[i] = (float)(i % 7) - 3;
      b[i] = (float)(i % 5) - 2;
      c[i] = 0;
    }
    /* The first call starts the library's threads and sizes its buffers. */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.f, a, n, b, n, 0.f, c, n);
    /* Best of several calls: on a shared machine the best call is the least disturbed. */
    const int calls = n <= 512 ? 50 : (n == 1024 ? 10 : 4);
    double best = 1e30;
    for (int r = 0; r < calls; ++r) {
      const double start = now();
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.f, a, n, b, n, 0.f, c, n);
      const double t = now() - start;
      if (t < best) best = t;
    }
    printf("%d %.1f\n", n, 2.0 * n * n * n / best * 1e-9);
    fflush(stdout);
    free(a);
    free(b);
    free(c);
  }
  return 0;
}
