#!/usr/bin/env python3
"""Feature sets and SciPy reference distances for tests/test_eval.cpp.

Run once with Debian's python3-numpy and python3-scipy:
    /usr/bin/python3 tests/data/frechet/make_cases.py
It writes the feature sets (float32 .npy) and cases.json next to itself.
The reference is pytorch-fid's calculate_frechet_distance: scipy.linalg.sqrtm
of S1 S2 (with its eps offset when the result is not finite, and the real
part when it comes out complex). A second, independent figure sums the square
roots of the eigenvalues of S1 S2 (numpy.linalg.eigvals, real parts clipped
at 0). Both lose accuracy on near-singular covariances (the square root of an
eigenvalue that rounding moved by e shifts by about sqrt(e)), so a third
figure repeats the symmetric form Tr((S1^1/2 S2 S1^1/2)^1/2) in 40-digit
arithmetic (mpmath), from the same float32 features: the value the tests
hold cudl to. (Identical sets are exactly 0 and need no such figure.)
"""
import json
import os

import mpmath
import numpy as np
import scipy
from scipy import linalg

HERE = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(20261201)
N, D = 500, 64


def save(name, x):
    x = np.ascontiguousarray(x, dtype=np.float32)
    np.save(os.path.join(HERE, name + ".npy"), x)
    return x.astype(np.float64)


sets = {}
# Standard normal features.
sets["normal"] = save("normal", rng.standard_normal((N, D)))
# Correlated and shifted: a random mixing matrix and a non-zero mean.
mix = rng.standard_normal((D, D)) / np.sqrt(D)
sets["correlated"] = save("correlated", rng.standard_normal((N, D)) @ mix + 0.5 + 0.01 * np.arange(D))
# Near-singular covariance: rank 8 plus noise 1e-3, on a large common offset
# (which a one-pass covariance would lose to cancellation).
basis = rng.standard_normal((8, D))
sets["near_singular"] = save("near_singular", 100.0 + rng.standard_normal((N, 8)) @ basis
                             + 1e-3 * rng.standard_normal((N, D)))
# A second draw of the same near-singular distribution, slightly shifted.
sets["near_singular_b"] = save("near_singular_b", 100.05 + rng.standard_normal((N, 8)) @ basis
                               + 1e-3 * rng.standard_normal((N, D)))
# Fewer samples than dimensions: the covariance has rank 39 < 64.
sets["few_samples"] = save("few_samples", rng.standard_normal((40, D)) * 2.0)
# ReLU features as a classifier's penultimate layer gives: many exact zeros.
sets["relu"] = save("relu", np.maximum(rng.standard_normal((N, D)) @ mix + 0.2, 0.0))


def stats(x):
    return x.mean(axis=0), np.cov(x, rowvar=False)


def fid_sqrtm(a, b, eps=1e-6):
    mu1, s1 = stats(a)
    mu2, s2 = stats(b)
    diff = mu1 - mu2
    covmean, _ = linalg.sqrtm(s1.dot(s2), disp=False)
    if not np.isfinite(covmean).all():
        offset = np.eye(s1.shape[0]) * eps
        covmean = linalg.sqrtm((s1 + offset).dot(s2 + offset))
    if np.iscomplexobj(covmean):
        covmean = covmean.real
    return float(diff.dot(diff) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean)), float(diff.dot(diff))


def fid_eigvals(a, b):
    mu1, s1 = stats(a)
    mu2, s2 = stats(b)
    diff = mu1 - mu2
    ev = np.linalg.eigvals(s1 @ s2).real
    return float(diff.dot(diff) + np.trace(s1) + np.trace(s2) - 2 * np.sqrt(np.clip(ev, 0, None)).sum())


def fid_mpmath(a, b):
    mpmath.mp.dps = 40

    def mp_stats(x):
        n, d = x.shape
        rows = [[mpmath.mpf(float(v)) for v in row] for row in x]
        mu = [mpmath.fsum(r[j] for r in rows) / n for j in range(d)]
        c = [[r[j] - mu[j] for j in range(d)] for r in rows]
        cov = mpmath.matrix(d, d)
        for j in range(d):
            for k in range(j, d):
                cov[j, k] = cov[k, j] = mpmath.fsum(r[j] * r[k] for r in c) / (n - 1)
        return mu, cov

    mu1, s1 = mp_stats(a)
    mu2, s2 = mp_stats(b)
    d = len(mu1)
    ev, q = mpmath.eigsy(s1)
    root = q * mpmath.diag([mpmath.sqrt(max(v, 0)) for v in ev]) * q.T
    m = root * s2 * root
    m = (m + m.T) / 2
    ev2 = mpmath.eigsy(m, eigvals_only=True)
    trace_sqrt = mpmath.fsum(mpmath.sqrt(max(v, 0)) for v in ev2)
    mean_term = mpmath.fsum((mu1[j] - mu2[j]) ** 2 for j in range(d))
    trace_term = mpmath.fsum(s1[j, j] + s2[j, j] for j in range(d)) - 2 * trace_sqrt
    return float(mean_term + trace_term), float(trace_term)


pairs = [("normal", "normal"), ("normal", "correlated"), ("correlated", "normal"), ("normal", "near_singular"),
         ("near_singular", "near_singular"), ("near_singular", "near_singular_b"), ("correlated", "relu"), ("few_samples", "normal"),
         ("relu", "relu")]
cases = []
for a, b in pairs:
    sqrtm_value, mean_term = fid_sqrtm(sets[a], sets[b])
    exact, exact_trace = (0.0, 0.0) if a == b else fid_mpmath(sets[a], sets[b])
    cases.append({"fid_mpmath": exact, "trace_term_mpmath": exact_trace, "a": a, "b": b, "fid_scipy_sqrtm": sqrtm_value, "fid_eigvals": fid_eigvals(sets[a], sets[b]),
                  "mean_term": mean_term,
                  "trace_term_scipy_sqrtm": sqrtm_value - mean_term})
with open(os.path.join(HERE, "cases.json"), "w") as f:
    json.dump({"generator": "tests/data/frechet/make_cases.py", "numpy": np.__version__, "scipy": scipy.__version__,
               "cases": cases}, f, indent=1)
    f.write("\n")
for c in cases:
    print(f"{c['a']:>15} vs {c['b']:<15} mpmath {c['fid_mpmath']:.12g}  sqrtm {c['fid_scipy_sqrtm']:.12g}  "
          f"eigvals {c['fid_eigvals']:.12g}")
