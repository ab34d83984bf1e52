/* Optimizer updates fused into one pass (an optional extension of the interface).
 *
 * Written with tensor ops, an Adam step is about ten elementwise passes over each parameter
 * (m = beta1 m + (1 - beta1) g; v = beta2 v + (1 - beta2) g^2; sqrt; divide; add eps; ...), and
 * each pass reads and writes a parameter-sized array: for the 784x256 weight of the book's MLP,
 * ten trips through 800 KB. Here every element is read once (p, g, m, v), updated in registers
 * and written once (p, m, v): the loop vectorizes (sqrt and divide are single instructions).
 *
 * The arithmetic follows torch.optim.Adam's single-tensor step, in the same order:
 *   g = g + weight_decay * p             (L2 penalty; AdamW instead: p = p * (1 - lr * weight_decay))
 *   m = m + (1 - beta1) * (g - m)        (torch's lerp of m towards g)
 *   v = v * beta2 + (1 - beta2) * g * g
 *   vmax = max(vmax, v)                  (AMSGrad only, when vmax is not NULL)
 *   p = p + (-step_size) * (m / (sqrt(v) / bias2_sqrt + eps))
 * in the parameter's precision. step_size = lr / (1 - beta1^t) and bias2_sqrt =
 * sqrt(1 - beta2^t) come from the caller, which also checked that the five arrays have n
 * elements each. A buffer may appear twice (g == p): each element is read before it is
 * written, and at the same index. */

#include <math.h>

#include "kernels.h"

/* one element: the update of p[i], m[i], v[i] (and vmax[i] when AMSGRAD is 1) */
#define ADAM_ELEMENT(T, SQRT, AMSGRAD)                                                                 \
    {                                                                                                  \
        const T gi = g[i] + l2 * p[i];                                                                 \
        const T mi = m[i] + one_m_b1 * (gi - m[i]);                                                    \
        const T vi = v[i] * b2 + one_m_b2 * gi * gi;                                                   \
        T vh = vi;                                                                                     \
        if (AMSGRAD) { vh = vmax[i] > vi ? vmax[i] : vi; vmax[i] = vh; }                               \
        p[i] = p[i] * decay + neg_step * (mi / (SQRT(vh) / b2s + e));                                  \
        m[i] = mi;                                                                                     \
        v[i] = vi;                                                                                     \
    }

/* decay multiplies p first (AdamW: 1 - lr * weight_decay; Adam: 1) and l2 adds l2 * p to the
 * gradient (Adam's weight_decay; AdamW: 0). The AMSGrad loop is separate so that the plain one
 * has no branch in it. */
#define ADAM_STEP(sfx, T, SQRT)                                                                        \
    TT_API void tt_adam_step_##sfx(T *p, const T *g, T *m, T *v, T *vmax, int64_t n, double step_size, \
                                   double beta1, double beta2, double eps, double bias2_sqrt,          \
                                   double decay_, double l2_) {                                         \
        const T one_m_b1 = (T)(1.0 - beta1), b2 = (T)beta2, one_m_b2 = (T)(1.0 - beta2);               \
        const T neg_step = (T)(-step_size), b2s = (T)bias2_sqrt, e = (T)eps;                           \
        const T decay = (T)decay_, l2 = (T)l2_;                                                        \
        if (vmax) {                                                                                    \
            PARALLEL_FOR(n, TT_PAR_MIN, ADAM_ELEMENT(T, SQRT, 1));                                     \
        } else {                                                                                       \
            PARALLEL_FOR(n, TT_PAR_MIN, ADAM_ELEMENT(T, SQRT, 0));                                     \
        }                                                                                              \
    }

ADAM_STEP(f32, float, sqrtf)
ADAM_STEP(f64, double, sqrt)
