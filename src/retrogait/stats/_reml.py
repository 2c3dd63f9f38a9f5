"""Profiled REML engine for a linear mixed model with one grouping factor.

Model ``y = X beta + Z b + e`` with ``e ~ N(0, sigma^2 I)`` and, per subject
``i``, ``b_i ~ N(0, sigma^2 Lambda Lambda')``: ``Lambda`` is the lower
triangular *relative covariance factor* (q x q, q = 1 for a random intercept,
2 for intercept + slope), parametrised as in lme4 by ``theta`` = its lower
triangle (row-major; for q = 2, ``[L11, L21, L22]``, the same order as
lme4's column-major ``getME(m, "theta")``) with the diagonal >= 0
[Bates2015]_ (section 3).

Everything here works on per-subject sufficient statistics (``X_i'X_i``,
``Z_i'Z_i``, ``Z_i'X_i``, ...), so a cluster-bootstrap resample is only a
vector of subject weights (a subject drawn twice counts as two independent
subjects), and a batch of parameter vectors / resamples is evaluated at
once (leading axis ``B``).

With ``A_i = I + Lambda' Z_i'Z_i Lambda`` and ``K_i = Lambda A_i^-1 Lambda'``
the Woodbury identity gives ``V_i^-1 = I - Z_i K_i Z_i'`` (``V_i`` the
marginal covariance of subject i in units of sigma^2), hence
``X'V^-1X = sum_i w_i (X_i'X_i - X_i'Z_i K_i Z_i'X_i)`` and so on.

* Profiled REML criterion (lme4's ``devfun`` with ``REML = TRUE``)::

      d(theta) = sum_i w_i log|A_i| + log|X'V^-1X| + (N-p) (1 + log(2 pi r^2 / (N-p)))

  with ``r^2 = y'Py`` the penalised residual sum of squares [Bates2015]_.
* Not profiled over sigma (lmerTest's ``devfun_vp``, used for the
  Satterthwaite df)::

      f(theta, sigma) = sum_i w_i log|A_i| + log|X'V^-1X| + r^2/sigma^2 + (N-p) log(2 pi sigma^2)

* Analytic gradient [Harville1977]_: with ``P = V^-1 - V^-1 X (X'V^-1X)^-1 X'V^-1``,
  ``d d / d Psi = sum_i w_i Z_i'P_ii Z_i - c sum_i w_i (Z_i'Py)(Z_i'Py)'``
  (``c = (N-p)/r^2`` profiled, ``1/sigma^2`` otherwise), ``Psi = Lambda Lambda'``,
  and ``d d / d Lambda = 2 (d d / d Psi) Lambda``.

The optimiser (:func:`fit_reml`) is a projected Newton method with bound
constraints (diagonal of Lambda >= 0, as lme4's lower bounds) [Bertsekas1982]_:
analytic Hessian, eigenvalue-modified
so the Newton direction descends, an Armijo line search along the projected
path, a projected-gradient step when the Newton step does not descend, and
convergence declared only when the projected gradient is below a tolerance.

References
----------
.. [Bates2015] Bates D, Mächler M, Bolker B, Walker S (2015). Fitting linear
   mixed-effects models using lme4. J Stat Softw 67(1):1-48.
   doi:10.18637/jss.v067.i01
.. [Harville1977] Harville DA (1977). Maximum likelihood approaches to variance
   component estimation and to related problems. J Am Stat Assoc 72:320-338.
.. [Bertsekas1982] Bertsekas DP (1982). Projected Newton methods for
   optimization problems with simple constraints. SIAM J Control Optim
   20:221-246.
.. [Kuznetsova2017] Kuznetsova A, Brockhoff PB, Christensen RHB (2017).
   lmerTest package: tests in linear mixed effects models. J Stat Softw
   82(13):1-26. doi:10.18637/jss.v082.i13
.. [Satterthwaite1946] Satterthwaite FE (1946). An approximate distribution of
   estimates of variance components. Biometrics Bull 2:110-114.
.. [Cameron2008] Cameron AC, Gelbach JB, Miller DL (2008). Bootstrap-based
   improvements for inference with clustered errors. Rev Econ Stat 90:414-427.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

__all__ = ["suff_stats", "reml_eval", "fit_reml", "vcov_beta", "satterthwaite", "n_theta", "cluster_robust_se"]

_LOG2PI = math.log(2.0 * math.pi)


def n_theta(q: int) -> int:
    """Number of free parameters of a q x q lower-triangular factor."""
    return q * (q + 1) // 2


@lru_cache(maxsize=None)
def _tril(q: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row and column indices of the lower triangle of a q x q matrix and its diagonal mask.

    Cached (the solver asks for them tens of thousands of times per run); the
    arrays are read-only so that no caller can change the shared copies.
    """
    r, c = np.tril_indices(q)
    d = r == c
    for a in (r, c, d):
        a.setflags(write=False)
    return r, c, d


@lru_cache(maxsize=None)
def _unit_tril(q: int) -> np.ndarray:
    """``E[a]``: the q x q matrix with a one at the a-th lower-triangle entry (read-only, cached)."""
    r, c, _ = _tril(q)
    E = np.zeros((r.size, q, q))
    E[np.arange(r.size), r, c] = 1.0
    E.setflags(write=False)
    return E


def suff_stats(y: np.ndarray, X: np.ndarray, Z: np.ndarray, groups: np.ndarray, G: int) -> dict:
    """Per-subject cross-products; the criterion depends on the data only through these.

    ``groups`` holds subject indices 0..G-1 (one per row).

    The cross-products with ``y`` are taken of the ordinary least-squares residual
    ``y - X b0`` (``b0`` kept as ``S["b0"]``; the GLS estimate of any weighted resample
    is then ``b0`` plus that of the residual). This changes neither the criterion nor
    any estimate, since ``P X = 0`` [Harville1977]_, but ``r^2 = y'V^-1y - beta'X'V^-1y``
    no longer cancels: with a fixed effect large against the residual SD (33 deg between
    directions against 0.09 deg) ``y'V^-1y`` is ~10^4 times ``r^2``, the criterion is then
    known to only ~1e-9, and a resample whose Newton step is worth less than that could not
    be told converged.
    """
    y = np.asarray(y, float)
    X = np.asarray(X, float)
    Z = np.asarray(Z, float)
    p, q = X.shape[1], Z.shape[1]
    b0 = np.linalg.lstsq(X, y, rcond=None)[0] if len(y) else np.zeros(p)
    y = y - X @ b0
    S = {"XtX": np.zeros((G, p, p)), "Xty": np.zeros((G, p)), "yty": np.zeros(G), "C": np.zeros((G, q, q)),
         "F": np.zeros((G, q, p)), "h": np.zeros((G, q)), "n": np.zeros(G)}
    for k in range(G):
        m = groups == k
        Xk, Zk, yk = X[m], Z[m], y[m]
        S["XtX"][k] = Xk.T @ Xk
        S["Xty"][k] = Xk.T @ yk
        S["yty"][k] = yk @ yk
        S["C"][k] = Zk.T @ Zk
        S["F"][k] = Zk.T @ Xk
        S["h"][k] = Zk.T @ yk
        S["n"][k] = m.sum()
    S["p"], S["q"], S["G"], S["b0"] = p, q, G, b0
    S["soa"] = _soa(S)
    return S


def _lam(theta: np.ndarray, q: int) -> np.ndarray:
    r, c, _ = _tril(q)
    L = np.zeros((theta.shape[0], q, q))
    L[:, r, c] = theta
    return L


def _soa(S: dict) -> dict:
    """The per-subject statistics in structure-of-arrays layout (small axes first, subjects last).

    ``C`` (q, q, 1, G), ``F`` (q, p, 1, G), ``h`` (q, 1, 1, G), and the products used by the criterion:
    ``FF[i, j]`` = F_i' F_j (q, q, G, p*p), ``Fh[i, j]`` = F_i h_j (q, q, G, p), ``hh[i, j]`` = h_i h_j
    (q, q, G, 1), with ``F_i`` the i-th row of Z_g'X_g.
    """
    G, p = S["G"], S["p"]
    Fg, hg = S["F"], S["h"]                                                      # (G, q, p), (G, q)
    q = Fg.shape[1]
    return {"C": np.ascontiguousarray(S["C"].transpose(1, 2, 0))[:, :, None, :],
            "F": np.ascontiguousarray(Fg.transpose(1, 2, 0))[:, :, None, :],
            "h": np.ascontiguousarray(hg.T)[:, None, None, :],
            "FF": np.einsum("gic,gjd->ijgcd", Fg, Fg).reshape(q, q, G, p * p),
            "Fh": np.einsum("gic,gj->ijgc", Fg, hg),
            "hh": np.einsum("gi,gj->ijg", hg, hg)[..., None],
            "XtX": S["XtX"].reshape(G, p * p)}


def _mm(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Product of small matrices held in the two leading axes, elementwise over the trailing (batch, subject) axes."""
    return np.einsum("ij...,jk...->ik...", A, B)


def _wsum(W: np.ndarray, X: np.ndarray) -> np.ndarray:
    """sum_g W[b, g] X[..., b, g] (subjects weighted by their bootstrap counts)."""
    return np.einsum("...bg,bg->...b", X, W)


def _inv_logdet(A: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inverse and log-determinant of the q x q (q = 1 or 2) symmetric positive-definite
    ``A_i = I + Lambda' Z_i'Z_i Lambda`` in structure-of-arrays layout, in closed form."""
    if A.shape[0] == 1:
        return 1.0 / A, np.log(A[0, 0])
    a, b, d = A[0, 0], 0.5 * (A[0, 1] + A[1, 0]), A[1, 1]
    det = a * d - b * b
    inv = np.stack([np.stack([d, -b]), np.stack([-b, a])]) / det
    return inv, np.log(det)


def _k_factor(Lb: np.ndarray, C: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``K_i = Lambda A_i^-1 Lambda'`` (q, q, B, G) and ``log|A_i|`` (B, G), ``A_i = I + Lambda' Z_i'Z_i Lambda``,
    for a batch of factors ``Lb`` (B, q, q) and ``C`` = Z_i'Z_i in structure-of-arrays layout (q, q, 1, G)."""
    q = Lb.shape[1]
    L = Lb.transpose(1, 2, 0)[..., None]                            # (q,q,B,1)
    Lt = L.swapaxes(0, 1)
    A = _mm(Lt, _mm(C, L)) + np.eye(q)[:, :, None, None]
    Ainv, ldA = _inv_logdet(A)
    return _mm(_mm(L, Ainv), Lt), ldA


def _subject_sum(WK: np.ndarray, P: np.ndarray) -> np.ndarray:
    """``sum_{i,j,g} WK[i, j, b, g] P[i, j, g, c]`` (B, c): one matrix product."""
    return np.tensordot(WK.transpose(2, 0, 1, 3), P, axes=([1, 2, 3], [0, 1, 2]))


def reml_eval(theta: np.ndarray, S: dict, W: np.ndarray, *, sigma: np.ndarray | None = None,
              grad: bool = False, hess: bool = False, hess_later: bool = False, parts: bool = False) -> dict:
    """REML criterion (and optionally its gradient) for a batch of parameter vectors.

    Parameters
    ----------
    theta : ndarray (B, k)
        Lower triangles of Lambda (see module docstring).
    S : dict
        :func:`suff_stats`.
    W : ndarray (B, G)
        Subject weights (1 = subject used once; bootstrap counts).
    sigma : ndarray (B,) or None
        None: profiled criterion ``d(theta)``; else ``f(theta, sigma)``.
    grad : bool
        Also return ``grad_theta`` (B, k) and, with ``sigma``, ``grad_sigma`` (B,).
    hess : bool
        Also return ``hess_theta`` (B, k, k), the analytic Hessian of the profiled
        criterion (needs ``sigma=None``)::

            d2 d / da db = -tr(P V_a P V_b) + (N-p) (2 y'P V_a P V_b P y / r^2 - (y'P V_a P y)(y'P V_b P y) / r^4)
                           + tr(dd/dPsi  d2Psi/da db)

        with ``V_a = Z (dPsi/da) Z'`` [Harville1977]_.
    hess_later : bool
        Also return ``hess_rows``, a function of row indices that computes
        ``hess_theta`` for those rows only, from the quantities this call
        already holds (the line search needs the Hessian only where it
        accepts a step; the values are those ``hess=True`` gives).
    parts : bool
        Also return the per-subject matrices needed by :func:`vcov_beta` derivatives.

    Returns
    -------
    dict
        ``dev`` (B,) (+inf where infeasible), ``beta`` (B, p), ``beta_resid`` (B, p)
        (``beta - b0``: the estimate for the residual that ``S`` holds), ``r2`` (B,),
        ``XtVXinv`` (B, p, p), ``N`` (B,), ``ok`` (B,), and the gradients.

    Notes
    -----
    The per-subject q x q and q x p matrices are held in structure-of-arrays
    layout (small axes first, batch and subject axes last), so every product
    of them is one vectorised operation over all batches and subjects, and
    the q x q inverse and determinant are in closed form (q <= 2).
    """
    q, p, G = S["q"], S["p"], S["G"]
    if q not in (1, 2):
        raise ValueError(f"reml_eval: q must be 1 or 2 (random intercept [+ slope]); got {q}")
    theta = np.atleast_2d(np.asarray(theta, float))
    W = np.asarray(W, float)
    B = theta.shape[0]
    D = S["soa"]
    C, F, h = D["C"], D["F"], D["h"]
    Lb = _lam(theta, q)                                             # (B,q,q)
    K, ldA = _k_factor(Lb, C)
    WK = K * W                                                      # weighted by the bootstrap counts
    XtVX = (W @ D["XtX"] - _subject_sum(WK, D["FF"])).reshape(B, p, p)
    XtVy = W @ S["Xty"] - _subject_sum(WK, D["Fh"])
    ytVy = W @ S["yty"] - _subject_sum(WK, D["hh"])[:, 0]
    N = W @ S["n"]
    dof = N - p
    sign, ldX = np.linalg.slogdet(XtVX)
    ok = (sign > 0) & np.isfinite(ldX) & (dof > 0)
    safe = np.where(ok[:, None, None], XtVX, np.eye(p))
    XtVXinv = np.linalg.inv(safe)
    beta = (XtVXinv @ XtVy[..., None])[..., 0]                      # of the residual y - X b0
    r2 = ytVy - (beta * XtVy).sum(axis=1)
    ok &= np.isfinite(r2) & (r2 > 0)
    r2s = np.where(ok, r2, 1.0)
    dofs = np.where(dof > 0, dof, 1.0)
    base = _wsum(W, ldA) + ldX
    with np.errstate(divide="ignore", invalid="ignore"):
        if sigma is None:
            dev = base + dof * (1.0 + _LOG2PI + np.log(r2s / dofs))
        else:
            s2 = np.asarray(sigma, float) ** 2
            dev = base + r2s / s2 + dof * (_LOG2PI + np.log(s2))
    ok &= np.isfinite(dev)
    out = {"dev": np.where(ok, dev, np.inf), "beta": beta + S["b0"], "beta_resid": beta, "r2": r2,
           "XtVXinv": XtVXinv, "N": N, "ok": ok}
    if hess or hess_later:
        grad = True
    if grad or parts:
        CK = _mm(C, K)
        M = C - _mm(CK, C)                                          # Z_i'V_i^-1 Z_i        (q,q,B,G)
        Nm = F - _mm(CK, F)                                         # Z_i'V_i^-1 X_i        (q,p,B,G)
        m = h - _mm(CK, h)                                          # Z_i'V_i^-1 y_i        (q,1,B,G)
        out["Nm"] = Nm.transpose(2, 3, 0, 1)                        # (B,G,q,p)
        out["L"] = Lb
    if grad:
        u = m - _mm(Nm, beta.T[:, None, :, None])                   # Z_i'V_i^-1 (y_i - X_i beta)
        XI = XtVXinv.transpose(1, 2, 0)[..., None]                  # (p,p,B,1)
        R = _mm(_mm(Nm, XI), Nm.swapaxes(0, 1))                     # N_i A^-1 N_i'         (q,q,B,G)
        T1 = _wsum(W, M - R)                                        # (q,q,B)
        T2 = _wsum(W, _mm(u, u.swapaxes(0, 1)))
        if sigma is None:
            c = dof / r2s
        else:
            c = 1.0 / np.asarray(sigma, float) ** 2
        Gpsi = (T1 - c * T2).transpose(2, 0, 1)                     # dd/dPsi  (B,q,q)
        r, cc, _ = _tril(q)
        dL = 2.0 * (Gpsi @ Lb)
        g = dL[:, r, cc]
        out["grad_theta"] = np.where(ok[:, None], g, np.nan)
        if hess or hess_later:
            args = (Lb, W, M, R, Nm, u, T2, XtVXinv, Gpsi, dof, r2s, ok)
            if hess:
                out["hess_theta"] = _hessian(*args)
            if hess_later:
                out["hess_rows"] = lambda rows: _hessian(*(np.take(a, rows, axis=ax)
                                                           for a, ax in zip(args, _HESS_BATCH_AXES)))
        if sigma is not None:
            sg = np.asarray(sigma, float)
            out["grad_sigma"] = np.where(ok, -2.0 * r2s / sg ** 3 + 2.0 * dof / sg, np.nan)
    return out


#: batch axis of each argument of :func:`_hessian` (structure-of-arrays ones have it third)
_HESS_BATCH_AXES = (0, 0, 2, 2, 2, 2, 2, 0, 0, 0, 0, 0)


def _hessian(L, W, M, R, Nm, u, T2, XtVXinv, Gpsi, dof, r2, ok):
    """Analytic Hessian of the profiled criterion (see :func:`reml_eval`).

    ``D_a = dPsi/da`` does not depend on the subject, so every trace is a contraction of
    ``D_x``, ``D_y`` with subject-weighted sums of products of ``M_i = Z_i'V_i^-1 Z_i``,
    ``R_i = N_i (X'V^-1X)^-1 N_i'``, ``N_i = Z_i'V_i^-1 X_i`` and ``u_i = Z_i'V_i^-1 (y_i - X_i beta)``
    (``Q_ij = Z_i'PZ_j = delta_ij M_i - N_i A^-1 N_j'``). Batch index n, parameters x/y.
    """
    q = L.shape[1]
    E = _unit_tril(q)
    D = E[None] @ L.transpose(0, 2, 1)[:, None] + L[:, None] @ E.transpose(0, 2, 1)[None]   # dPsi/da (n,k,q,q)
    MM = _wsum(W, M[:, :, None, None] * M[None, None])                                 # sum_i w_i M_aj M_bi
    MR = _wsum(W, M[:, :, None, None] * R[None, None])
    t1 = np.einsum("nxia,nyjb,ajbin->nxy", D, D, MM)                                   # sum_i w_i tr(D_x M_i D_y M_i)
    t2 = np.einsum("nxia,nyjb,ajbin->nxy", D, D, MR)                                   # sum_i w_i tr(D_x M_i D_y R_ii)
    NN = _wsum(W, Nm[:, :, None, None] * Nm[None, None])                               # (q,p,q,p,n)
    Y = np.einsum("nkij,icjdn->nkcd", D, NN)                                           # sum_i N_i' D_a N_i
    AY = XtVXinv[:, None] @ Y
    t3 = np.einsum("nxij,nyji->nxy", AY, AY)
    trPVPV = t1 - t2 - t2.transpose(0, 2, 1) + t3
    s = np.einsum("nkij,ijn->nk", D, T2)                                               # y'P V_a P y
    uu = u[:, 0]                                                                       # (q,n,g)
    UMU = _wsum(W, uu[:, None, None, None] * M[None, :, :, None] * uu[None, None, None])  # (l,i,j,m,n)
    yq1 = np.einsum("nxil,nyjm,lijmn->nxy", D, D, UMU)                                 # sum_i w_i (D_x u_i)' M_i D_y u_i
    NU = _wsum(W, Nm[:, :, None] * uu[None, None])                                     # (i,c,j,n)
    z = np.einsum("nkij,icjn->nkc", D, NU)                                             # sum_i N_i' D_a u_i
    yq2 = np.einsum("nxp,npr,nyr->nxy", z, XtVXinv, z)
    yPVPVPy = yq1 - yq2
    dof, r2 = dof[:, None, None], r2[:, None, None]
    H = -trPVPV + dof * (2.0 * yPVPVPy / r2 - s[:, :, None] * s[:, None, :] / r2 ** 2)
    EE = np.einsum("xij,ykj->xyik", E, E)                                              # E_a E_b'
    H = H + np.einsum("nij,xyji->nxy", Gpsi, EE + EE.transpose(1, 0, 3, 2))
    return np.where(ok[:, None, None], 0.5 * (H + H.transpose(0, 2, 1)), np.nan)


def _project(theta: np.ndarray, diag: np.ndarray) -> np.ndarray:
    out = theta.copy()
    out[:, diag] = np.maximum(out[:, diag], 0.0)
    return out


def fit_reml(theta0: np.ndarray, S: dict, W: np.ndarray, *, maxit: int = 100, gtol: float = 1e-6) -> dict:
    """Minimise the profiled REML criterion for a batch of starts / resamples.

    Projected Newton iteration (module docstring) on ``theta`` with the
    diagonal of Lambda bounded below by 0. A replicate converges when the
    projected gradient ``theta - P(theta - grad)`` has max-norm <= ``gtol``
    (the criterion is invariant to the scale of ``y``, and so are theta and
    this test) and no diagonal entry sits at the bound with negative
    curvature (``theta_j = 0`` is always stationary in ``theta_j`` because
    ``Psi`` depends on ``theta_j^2``; if the criterion falls into the interior
    the iteration steps off the bound). A replicate whose line searches fail
    with a larger projected gradient, or that is still moving after
    ``maxit`` iterations, is returned with ``converged = False``. The
    criterion, gradient and Hessian at an accepted step are those the line
    search evaluated there (:func:`_line_search`), not evaluated a second time.

    Returns
    -------
    dict
        ``theta`` (B, k), ``dev`` (B,), ``beta`` (B, p), ``se2`` (B, p)
        (squared lme4-type standard errors ``sigma^2 diag((X'V^-1X)^-1)``),
        ``converged`` (B,) bool, ``pgrad`` (B,) projected-gradient max-norm,
        ``iterations`` (B,).
    """
    q = S["q"]
    _, _, diag = _tril(q)
    theta = _project(np.atleast_2d(np.asarray(theta0, float)), diag)
    W = np.atleast_2d(np.asarray(W, float))
    B, k = theta.shape
    f = np.full(B, np.inf)
    g = np.full((B, k), np.nan)
    dead = np.zeros(B, dtype=bool)
    done = np.zeros(B, dtype=bool)
    stalled = np.zeros(B, dtype=bool)
    iters = np.zeros(B, dtype=int)
    pg_norm = np.full(B, np.inf)
    hs = np.full((B, k, k), np.nan)
    known = np.zeros(B, dtype=bool)   # f, g, hs hold the values at theta (carried from the accepted step)
    for it in range(maxit + 1):
        act = np.flatnonzero(~done & ~dead & ~stalled)
        if act.size == 0:
            break
        new = act[~known[act]]
        if new.size:
            ev = reml_eval(theta[new], S, W[new], hess=True)
            f[new], g[new], hs[new] = ev["dev"], ev["grad_theta"], ev["hess_theta"]
            known[new] = True
        T, Wa = theta[act], W[act]
        fa, ga, H = f[act], g[act], hs[act]
        bad = ~np.isfinite(fa) | ~np.all(np.isfinite(ga), axis=1)
        dead[act[bad]] = True
        pg = T - _project(T - np.where(np.isfinite(ga), ga, 0.0), diag)
        pgn = np.where(bad, np.inf, np.abs(pg).max(axis=1))
        pg_norm[act] = pgn
        # a diagonal entry at the bound where the criterion curves downwards into the interior is a
        # stationary point that is not a minimum (the gradient in theta vanishes there, Psi = theta^2)
        hdiag = np.diagonal(H, axis1=1, axis2=2)
        viol = diag[None, :] & (T <= 0.0) & (hdiag < -1e-9 * (1.0 + np.abs(fa))[:, None]) \
            & (np.abs(ga) <= gtol)
        conv = ~bad & (pgn <= gtol) & ~viol.any(axis=1)
        done[act[conv]] = True
        work = np.flatnonzero(~conv & ~bad)
        if work.size == 0 or it == maxit:
            break
        iters[act[work]] += 1
        T, fa, ga, H, Wa, viol, pgn = T[work], fa[work], ga[work], H[work], Wa[work], viol[work], pgn[work]
        n = work.size
        # epsilon-active set: diagonal entries at (or within eps of) the bound with the gradient
        # pushing outwards are moved to the bound; Newton on the others [Bertsekas1982]
        eps = np.minimum(1e-3, pgn)[:, None]
        bound = diag[None, :] & (T <= eps) & (ga > 0)
        # Newton direction on the free components (bound ones decoupled: identity rows/columns)
        Hm = np.where(np.isfinite(H), H, 0.0)
        free = ~bound
        Hm = np.where(free[:, :, None] & free[:, None, :], Hm, 0.0) + np.eye(k) * bound[:, :, None]
        gm = np.where(free, ga, 0.0)
        w, V = np.linalg.eigh(Hm)
        wmax = np.abs(w).max(axis=1, keepdims=True)
        wc = np.maximum(np.abs(w), 1e-10 * wmax + 1e-14)
        d = -np.einsum("bij,bj->bi", V / wc[:, None, :], np.einsum("bji,bj->bi", V, gm))
        nonfinite = ~np.all(np.isfinite(H), axis=(1, 2))
        d[nonfinite] = -gm[nonfinite]
        d = np.where(bound, -T, d)
        # escape from a stationary non-minimum at the bound: move into the interior
        esc = viol.any(axis=1)
        d[esc] = np.where(viol[esc], 1.0, 0.0)
        newT, newf, newg, newH, accepted = _line_search(T, fa, ga, d, S, Wa, diag)
        # fall back to a (scaled) projected-gradient step where Newton did not descend
        retry = np.flatnonzero(~accepted & ~esc)
        if retry.size:
            scale = np.maximum(np.abs(np.diagonal(H[retry], axis1=1, axis2=2)).max(axis=1), 1e-8)
            scale = np.where(np.isfinite(scale), scale, 1.0)
            dg = -ga[retry] / scale[:, None]
            t2, f2, g2, h2, acc2 = _line_search(T[retry], fa[retry], ga[retry], dg, S, Wa[retry], diag)
            hit = retry[acc2]
            newT[hit], newf[hit], newg[hit], newH[hit] = t2[acc2], f2[acc2], g2[acc2], h2[acc2]
            accepted[hit] = True
        idx = act[work]
        acc_idx = idx[accepted]
        theta[acc_idx] = newT[accepted]
        f[acc_idx], g[acc_idx], hs[acc_idx] = newf[accepted], newg[accepted], newH[accepted]
        stalled[idx[~accepted]] = True
    fin = reml_eval(theta, S, W)
    dof = fin["N"] - S["p"]
    with np.errstate(invalid="ignore", divide="ignore"):
        sigma2 = np.where(fin["ok"], fin["r2"] / dof, np.nan)
    se2 = sigma2[:, None] * np.diagonal(fin["XtVXinv"], axis1=1, axis2=2)
    ok = done & ~dead & fin["ok"] & np.all(np.isfinite(fin["beta"]), axis=1)
    return {"theta": theta, "dev": fin["dev"], "beta": fin["beta"], "se2": se2, "sigma2": sigma2,
            "converged": ok, "pgrad": pg_norm, "iterations": iters}


def _line_search(T, fa, ga, d, S, Wa, diag, *, max_halvings: int = 40, serial: int = 2, width: int = 8):
    """Armijo backtracking along the projected path ``P(T + t d)``, ``t = 1, 1/2, 1/4, ...``.

    A step is accepted when the criterion decreases by at least 1e-4 of the
    first-order prediction, or, once the change is at the level of rounding
    error, when it does not increase and the projected gradient shrinks; the
    first (largest) acceptable ``t`` of at most ``max_halvings`` is taken.
    The first ``serial`` step sizes are tried one at a time (most rows accept
    ``t = 1``); a row still pending then has its next ``width`` step sizes
    evaluated in one batch and takes the first acceptable one, which is the
    step the one-at-a-time search would take, in a few calls instead of up
    to ``max_halvings`` (rows near the rounding level of the criterion may
    try all of them).
    Returns the new points with their criterion, gradient and Hessian (the
    Hessian computed only where a step is accepted, for the next Newton
    iteration) and which rows were accepted.
    """
    n, k = T.shape
    t = np.ones(n)
    newT, newf, newg = T.copy(), fa.copy(), ga.copy()
    newH = np.full((n, k, k), np.nan)
    accepted = np.zeros(n, dtype=bool)
    pending = np.ones(n, dtype=bool)
    pg0 = np.abs(T - _project(T - ga, diag)).max(axis=1)
    tried = 0
    while tried < max_halvings:
        pi = np.flatnonzero(pending)
        if pi.size == 0:
            break
        m = 1 if tried < serial else min(width, max_halvings - tried)
        tried += m
        halves = 0.5 ** np.arange(m)                                   # exact powers of two
        row = np.repeat(pi, m)                                        # candidate j of row i at i*m + j
        tc = (t[pi, None] * halves[None, :]).ravel()
        cand = _project(T[row] + tc[:, None] * d[row], diag)
        ev = reml_eval(cand, S, Wa[row], hess_later=True)
        fc, gc = ev["dev"], ev["grad_theta"]
        finite = np.isfinite(fc) & np.all(np.isfinite(gc), axis=1)
        pred = np.einsum("bk,bk->b", ga[row], cand - T[row])
        noise = 1e-12 * (1.0 + np.abs(fa[row]))
        pgc = np.abs(cand - _project(cand - np.where(np.isfinite(gc), gc, 0.0), diag)).max(axis=1)
        moved = np.abs(cand - T[row]).max(axis=1) > 0
        armijo = (fc <= fa[row] + 1e-4 * np.minimum(pred, 0.0)) & (fc < fa[row])
        flat = (np.abs(fc - fa[row]) <= noise) & (pgc < pg0[row])
        ok = (finite & moved & (armijo | flat)).reshape(pi.size, m)
        got = ok.any(axis=1)
        pick = np.flatnonzero(got) * m + ok.argmax(axis=1)[got]       # the first acceptable step of each row
        hit = pi[got]
        newT[hit], newf[hit], newg[hit] = cand[pick], fc[pick], gc[pick]
        if hit.size:
            newH[hit] = ev["hess_rows"](pick)
        accepted[hit] = True
        pending[hit] = False
        t[pi[~got]] *= 0.5 ** m
    return newT, newf, newg, newH, accepted


def cluster_robust_se(theta: np.ndarray, S: dict, W: np.ndarray) -> np.ndarray:
    """Cluster-robust (sandwich) SEs of the GLS fixed effects at ``theta``, for a batch.

    ``Var = G/(G-1) A^-1 (sum_i w_i s_i s_i') A^-1`` with ``A = X'V^-1X`` and the subject
    scores ``s_i = X_i'V_i^-1 (y_i - X_i beta)`` (``V`` in units of sigma^2, which cancels),
    ``G = sum_i w_i`` clusters (a subject drawn twice counts twice) and the CR1 small-sample
    factor ``G/(G-1)`` [Cameron2008]_. Unlike the model-based SE it does not assume the
    random-effects structure is right, which makes the bootstrap-t statistic pivotal.

    Returns (B, p) standard errors (NaN where the criterion is infeasible).
    """
    theta = np.atleast_2d(np.asarray(theta, float))
    W = np.atleast_2d(np.asarray(W, float))
    ev = reml_eval(theta, S, W)
    beta, Ainv = ev["beta_resid"], ev["XtVXinv"]                                        # S holds y - X b0
    D = S["soa"]
    K, _ = _k_factor(_lam(theta, S["q"]), D["C"])                                      # (q,q,B,G)
    resid_z = D["h"] - _mm(D["F"], beta.T[:, None, :, None])                           # Z_i'(y_i - X_i b)  (q,1,B,G)
    resid_x = S["Xty"][None] - np.einsum("gij,bj->bgi", S["XtX"], beta)                # X_i'(y_i - X_i b)  (B,G,p)
    score = resid_x - _mm(D["F"].swapaxes(0, 1), _mm(K, resid_z))[:, 0].transpose(1, 2, 0)   # (B,G,p)
    meat = np.einsum("bg,bgi,bgj->bij", W, score, score)
    Gn = W.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        var = (Gn / (Gn - 1.0))[:, None, None] * (Ainv @ meat @ Ainv)
        se = np.sqrt(np.diagonal(var, axis1=1, axis2=2))
    return np.where(ev["ok"][:, None], se, np.nan)


def vcov_beta(theta: np.ndarray, S: dict) -> tuple[np.ndarray, np.ndarray, float]:
    """lme4's ``vcov``: ``sigma^2 (X'V^-1X)^-1`` at ``theta``, with sigma^2 = r^2 / (N - p) (REML).

    Returns (vcov (p, p), beta (p,), sigma).
    """
    W = np.ones((1, S["G"]))
    ev = reml_eval(np.atleast_2d(theta), S, W)
    sigma2 = float(ev["r2"][0] / (ev["N"][0] - S["p"]))
    return sigma2 * ev["XtVXinv"][0], ev["beta"][0], math.sqrt(sigma2)


def _vp_gradient(vp: np.ndarray, S: dict) -> np.ndarray:
    """Gradient of f(theta, sigma) (non-profiled REML deviance) for a batch of (theta, sigma)."""
    vp = np.atleast_2d(vp)
    W = np.ones((vp.shape[0], S["G"]))
    ev = reml_eval(vp[:, :-1], S, W, sigma=vp[:, -1], grad=True)
    return np.column_stack([ev["grad_theta"], ev["grad_sigma"]])


def vp_hessian(vp: np.ndarray, S: dict) -> np.ndarray:
    """Hessian of f(theta, sigma) at ``vp``: central differences of the analytic gradient with one
    Richardson extrapolation step (error O(h^4)); h = 1e-4 max(|x|, 0.1) as numDeriv's default
    relative step (lmerTest computes this Hessian with numDeriv::hessian); for sigma (> 0) the
    step is always relative, so the result does not depend on the outcome's unit."""
    vp = np.asarray(vp, float)
    m = vp.size
    h = 1e-4 * np.maximum(np.abs(vp), 0.1)
    h[-1] = 1e-4 * abs(vp[-1])
    pts = []
    for j in range(m):
        for s in (h[j], h[j] / 2.0):
            e = np.zeros(m)
            e[j] = s
            pts.extend([vp + e, vp - e])
    g = _vp_gradient(np.array(pts), S)
    H = np.empty((m, m))
    for j in range(m):
        d1 = (g[4 * j] - g[4 * j + 1]) / (2 * h[j])
        d2 = (g[4 * j + 2] - g[4 * j + 3]) / h[j]
        H[:, j] = (4.0 * d2 - d1) / 3.0
    return 0.5 * (H + H.T)


def satterthwaite(theta: np.ndarray, S: dict, L: np.ndarray, *, tol: float = 1e-8) -> dict:
    """Satterthwaite degrees of freedom of ``L'beta`` as lmerTest computes them [Kuznetsova2017]_.

    ``df = 2 (L'CL)^2 / (g' A g)`` [Satterthwaite1946]_ with ``C = sigma^2 (X'V^-1X)^-1``
    (lme4's vcov), ``g`` the gradient of ``L'C(theta, sigma)L`` with respect to the
    variance parameters ``(theta, sigma)`` (analytic here; numDeriv::jacobian in lmerTest)
    and ``A = 2 H^+``, the Moore-Penrose inverse (eigenvalues > ``tol``) of the Hessian of
    ``f(theta, sigma)`` at the REML estimate.

    Returns dict with ``df``, ``var`` (L'CL), ``grad`` and ``hessian_eigenvalues``.
    """
    theta = np.asarray(theta, float)
    L = np.asarray(L, float)
    C, beta, sigma = vcov_beta(theta, S)
    W = np.ones((1, S["G"]))
    ev = reml_eval(theta[None], S, W, sigma=np.array([sigma]), parts=True)
    Ainv = ev["XtVXinv"][0]
    Nm = ev["Nm"][0]                                  # (G, q, p)
    Lam = ev["L"][0]
    v = np.einsum("gqp,p->gq", Nm, Ainv @ L)          # N_i A^-1 L
    dPsi = sigma ** 2 * np.einsum("gi,gj->ij", v, v)  # d(L'CL)/dPsi
    r, c, _ = _tril(S["q"])
    g_theta = (2.0 * dPsi @ Lam)[r, c]
    g_sigma = 2.0 * sigma * float(L @ Ainv @ L)
    grad = np.append(g_theta, g_sigma)
    H = vp_hessian(np.append(theta, sigma), S)
    w, V = np.linalg.eigh(H)
    pos = w > tol
    Hinv = (V[:, pos] / w[pos]) @ V[:, pos].T
    A = 2.0 * Hinv
    var = float(L @ C @ L)
    denom = float(grad @ A @ grad)
    df = 2.0 * var ** 2 / denom if denom > 0 else float("nan")
    return {"df": df, "var": var, "grad": grad, "hessian_eigenvalues": w, "sigma": sigma, "beta": beta}
