/* threads.c -- how many threads the OpenMP kernels use, from what size they split a loop, and
 * fork() safety.
 *
 * GCC's OpenMP runtime keeps a pool of worker threads per thread that starts parallel
 * regions. fork() copies only the calling thread into the child, but the child's copy of the
 * runtime still believes that thread's pool exists: its first parallel region would hand work
 * to workers that are not there and wait for them forever. So a fork handler, registered when
 * the library loads, releases the forking thread's pool just before every fork()
 * (omp_pause_resource_all, OpenMP 5.0: the workers are joined and the pool freed). Parent and
 * child then each start a fresh pool at their next parallel region, so a child can use as
 * many threads as it likes; the cost is one pool start-up in the parent after each fork.
 */
#include <pthread.h>

#include "kernels.h"

#ifdef _OPENMP
static void release_pool_before_fork(void) {
    /* Inside a parallel region (a fork from a kernel) it refuses and returns nonzero; nothing
     * better can be done there, and no kernel of this library forks. */
    (void)omp_pause_resource_all(omp_pause_hard);
}

__attribute__((constructor)) static void register_fork_handler(void) {
    pthread_atfork(release_pool_before_fork, NULL, NULL);
}
#endif

/* The parallel thresholds of kernels.h. These defaults suit sleeping threads (OMP_WAIT_POLICY=passive),
 * where waking one costs tens of microseconds; the binding replaces them as it loads the library. */
int64_t tt_par_min = 1 << 21, tt_par_min_math = 1 << 17, tt_matmul_par_min = 200 * 200 * 200;

TT_API void tt_set_parallel_thresholds(int64_t par_min, int64_t par_min_math, int64_t matmul_par_min) {
    tt_par_min = par_min > 1 ? par_min : 1;
    tt_par_min_math = par_min_math > 1 ? par_min_math : 1;
    tt_matmul_par_min = matmul_par_min > 1 ? matmul_par_min : 1;
}

TT_API void tt_set_num_threads(int n) {
#ifdef _OPENMP
    omp_set_num_threads(n > 0 ? n : 1);
#else
    (void)n;
#endif
}

TT_API int tt_get_num_threads(void) { return omp_get_max_threads(); }
