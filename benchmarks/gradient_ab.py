# A/B timing in one process: main's weighted_loss_grad vs this worktree's, interleaved.
import sys, time, timeit, numpy as np
def load(path):
    for k in [k for k in sys.modules if k == 'numerics' or k.startswith('numerics.') or k=='vocabulary' or k.startswith('vocabulary.')]:
        del sys.modules[k]
    sys.path.insert(0, path)
    import numerics.gradients as g, numerics.moments as m
    sys.path.remove(path)
    return g.weighted_loss_grad, m.fixed_task, m.sphere_task
A = load(sys.argv[1]); B = load(sys.argv[2])
rng = np.random.default_rng(0)
ra, rb = [], []
for d in (2, 5, 10):
    D = d + 2
    V, W = 0.3 * rng.standard_normal((D, D)), 0.3 * rng.standard_normal((D, D))
    th = rng.standard_normal(d); th /= np.linalg.norm(th)
    for kind in ("fixed", "sphere"):
        fa = [None, None]
        for j, (wg, ft, st) in enumerate((A, B)):
            tm = ft(th, 0.1) if kind == "fixed" else st(d, 0.1)
            terms = ((0, tm, 1.0), (20, tm, 1.0))
            fa[j] = (lambda wg=wg, terms=terms: wg(V, W, terms))
        ta, tb = [], []
        for _ in range(int(sys.argv[3]) if len(sys.argv) > 3 else 40):
            ta.append(timeit.timeit(fa[0], number=50, timer=time.process_time) / 50)
            tb.append(timeit.timeit(fa[1], number=50, timer=time.process_time) / 50)
        ra.append(1e6 * min(ta)); rb.append(1e6 * min(tb))
        print(f"d={d:2d} {kind:6s} A {ra[-1]:6.1f} us  B {rb[-1]:6.1f} us  B/A {rb[-1]/ra[-1]:.3f}")
print(f"mean B/A {np.mean(np.array(rb)/np.array(ra)):.3f}")
