/* threads.c -- how many threads the OpenMP kernels use.
 *
 * The binding calls tt_set_num_threads(1) in a child process right after fork(): GCC's
 * OpenMP runtime keeps a pool of worker threads, which a forked child does not inherit,
 * and the child's first parallel region would wait for them forever. One thread never
 * touches the pool.
 */
#include "kernels.h"

TT_API void tt_set_num_threads(int n) {
#ifdef _OPENMP
    omp_set_num_threads(n > 0 ? n : 1);
#else
    (void)n;
#endif
}

TT_API int tt_get_num_threads(void) { return omp_get_max_threads(); }
