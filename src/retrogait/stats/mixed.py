"""Linear mixed model for a two-level factor with optional covariates, as lme4/lmerTest fit it.

``value ~ factor + covariate_c [+ ...] + (1 [+ factor] | subject)`` fitted by
REML with the package's profiled-REML engine (:mod:`retrogait.stats._reml`,
the criterion lme4 optimises), cross-checked against statsmodels
``MixedLM``; fixed-effect standard errors from lme4's ``vcov``, t tests and
CIs with Satterthwaite degrees of freedom as lmerTest computes them, and a
subject-level cluster bootstrap-t interval.

References
----------
.. [Harville1977] Harville DA (1977). Maximum likelihood approaches to
   variance component estimation and to related problems. J Am Stat Assoc
   72:320-338.
.. [Bates2015] Bates D, Mächler M, Bolker B, Walker S (2015). Fitting linear
   mixed-effects models using lme4. J Stat Softw 67(1):1-48.
   doi:10.18637/jss.v067.i01 (Section 3: profiled deviance / REML criterion
   in terms of the relative covariance factor; ``isSingular`` criterion).
.. [Kuznetsova2017] Kuznetsova A, Brockhoff PB, Christensen RHB (2017).
   lmerTest package: tests in linear mixed effects models. J Stat Softw
   82(13):1-26. doi:10.18637/jss.v082.i13
.. [Satterthwaite1946] Satterthwaite FE (1946). An approximate distribution
   of estimates of variance components. Biometrics Bull 2:110-114.
.. [Barr2013] Barr DJ, Levy R, Scheepers C, Tily HJ (2013). Random effects
   structure for confirmatory hypothesis testing: keep it maximal. J Mem Lang
   68:255-278.
.. [Field2007] Field CA, Welsh AH (2007). Bootstrapping clustered data. J R
   Stat Soc B 69:369-390.
.. [Davison1997] Davison AC, Hinkley DV (1997). Bootstrap Methods and their
   Application. Cambridge University Press, §3.8 (hierarchical data: resample
   the top-level units) and §5.2.1 (studentized bootstrap intervals).
.. [Cameron2008] Cameron AC, Gelbach JB, Miller DL (2008). Bootstrap-based
   improvements for inference with clustered errors. Rev Econ Stat
   90:414-427 (with few clusters, cluster bootstrap-t intervals studentized
   by the cluster-robust SE give an asymptotic refinement).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import statsmodels.formula.api as smf
from scipy import stats

import retrogait.stats._reml as _reml
from retrogait.stats.paired import _check_alpha, rounding_floor

__all__ = ["mixed_model", "SINGULAR_TOL", "SE_METHOD", "DF_METHOD", "BOOT_METHOD"]

_MIXED_COLUMNS = [
    "term", "estimate", "se", "df", "t", "p", "ci_low", "ci_high", "boot_ci_low", "boot_ci_high",
    "n_boot", "seed", "n_obs", "n_subjects", "random_effects", "converged", "method", "note",
    # additional columns
    "level", "reference", "alpha", "n_dropped", "n_boot_ok", "singular", "se_method", "df_method",
    "boot_method", "fitter", "reml_criterion", "sd_subject", "sd_slope", "corr_subject_slope", "sd_residual",
]

#: lme4's ``isSingular`` tolerance on the diagonal of the relative covariance factor [Bates2015]_.
SINGULAR_TOL = 1e-4
#: Convergence: max-norm of the projected gradient of the profiled REML criterion (scale-free).
_GTOL = 1e-6
SE_METHOD = "lme4 vcov: sigma^2 (X'V^-1 X)^-1 at the REML estimate"
DF_METHOD = "Satterthwaite (lmerTest)"
BOOT_METHOD = "cluster bootstrap-t (subjects resampled, studentized by the cluster-robust SE of each refit)"
_BOOT_METHODS = {"t": BOOT_METHOD,
                 "t_model": "cluster bootstrap-t studentized by the model-based (lme4) SE (for comparison only)",
                 "percentile": "cluster bootstrap percentile (subjects resampled; for comparison only)"}


# ======================================================================
# statsmodels cross-check
# ======================================================================
def _fit_statsmodels(dfm: pd.DataFrame, formula: str, re_formula: str | None):
    """statsmodels MixedLM (REML, its default optimizer chain bfgs -> lbfgs -> cg).

    Returns (result or None, messages).
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            res = smf.mixedlm(formula, dfm, groups=dfm["g"], re_formula=re_formula).fit(reml=True)
        except (np.linalg.LinAlgError, ValueError) as exc:
            return None, [f"fit failed: {exc}"]
    msgs = []
    for w in caught:
        text = str(w.message).strip().splitlines()[0] if str(w.message).strip() else w.category.__name__
        if text not in msgs:
            msgs.append(text)
    return res, msgs


def _theta_from_result(res, q: int) -> np.ndarray | None:
    """Relative covariance factor (lower-triangular Cholesky of cov_re / scale) of a statsmodels fit."""
    try:
        psi = np.asarray(res.cov_re, dtype=float) / float(res.scale)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    if psi.shape != (q, q) or not np.all(np.isfinite(psi)):
        return None
    w, V = np.linalg.eigh(0.5 * (psi + psi.T))
    L = np.linalg.cholesky(V @ np.diag(np.maximum(w, 1e-12)) @ V.T)
    return L[np.tril_indices(q)]


# ======================================================================
# one random-effects structure
# ======================================================================
@dataclass
class _Fit:
    q: int
    S: dict
    theta: np.ndarray
    dev: float
    beta: np.ndarray
    vcov: np.ndarray
    sigma: float
    converged: bool
    pgrad: float
    fitter: str
    notes: list

    @property
    def singular(self) -> bool:
        """lme4's isSingular: a diagonal element of the relative covariance factor below the tolerance."""
        r, c = np.tril_indices(self.q)
        return bool(np.any(self.theta[r == c] < SINGULAR_TOL))

    def diag(self) -> np.ndarray:
        r, c = np.tril_indices(self.q)
        return self.theta[r == c]


def _default_starts(q: int) -> np.ndarray:
    eye = np.eye(q)[np.tril_indices(q)]
    starts = [eye, 0.2 * eye, 5.0 * eye]
    if q == 2:
        starts += [np.array([1.0, 0.5, 1.0]), np.array([1.0, -0.5, 1.0])]
    return np.array(starts)


def _fit_structure(y, X, groups, G, q, dfm, formula, *, crosscheck: bool) -> _Fit:
    """REML fit of one structure: the engine from several starts (and statsmodels' optimum);
    the lowest finite REML criterion wins."""
    S = _reml.suff_stats(y, X, X[:, :q], groups, G)
    notes: list[str] = []
    sm_res, sm_theta, sm_dev = None, None, math.inf
    if crosscheck:
        sm_res, msgs = _fit_statsmodels(dfm, formula, None if q == 1 else "~x")
        if sm_res is not None:
            sm_theta = _theta_from_result(sm_res, q)
            llf = float(sm_res.llf)
            if math.isfinite(llf) and sm_theta is not None:
                # statsmodels' optimum judged by the same criterion as the engine's (its own llf can
                # differ by ~1e-6 on singular fits)
                sm_dev = float(_reml.reml_eval(sm_theta[None, :], S, np.ones((1, G)))["dev"][0])
            else:
                notes.append(f"statsmodels cross-check: non-finite REML log-likelihood ({llf}); not used")
            if not sm_res.converged:
                notes.append("statsmodels cross-check did not converge")
        else:
            notes.append(f"statsmodels cross-check: {'; '.join(msgs)}")
    starts = _default_starts(q)
    if sm_theta is not None:
        starts = np.vstack([sm_theta[None, :], starts])
    res = _reml.fit_reml(starts, S, np.ones((len(starts), G)), gtol=_GTOL)
    dev = np.where(np.isfinite(res["dev"]), res["dev"], np.inf)
    conv = res["converged"]
    pool = np.flatnonzero(conv) if conv.any() else np.flatnonzero(np.isfinite(dev))
    if pool.size == 0 and not math.isfinite(sm_dev):
        raise ValueError("no finite REML criterion at any start (engine) and no usable statsmodels fit")
    if pool.size:
        i = int(pool[np.argmin(dev[pool])])
        theta, eng_dev, converged, pgrad = res["theta"][i], float(dev[i]), bool(conv[i]), float(res["pgrad"][i])
    else:
        theta, eng_dev, converged, pgrad = None, math.inf, False, math.inf
    fitter = "REML engine"
    if math.isfinite(sm_dev) and sm_dev < eng_dev - 1e-6 * (1.0 + abs(sm_dev)):
        # statsmodels reached a higher REML log-likelihood: its optimum is used
        prev = eng_dev
        chk = _reml.fit_reml(sm_theta[None, :], S, np.ones((1, G)), maxit=0, gtol=_GTOL)
        theta, eng_dev = sm_theta, float(chk["dev"][0])
        converged, pgrad = bool(sm_res.converged), float(chk["pgrad"][0])
        fitter = "statsmodels MixedLM"
        notes.append(f"statsmodels MixedLM reached the higher REML log-likelihood ({-sm_dev / 2:.6f} vs the "
                     f"engine's {-prev / 2:.6f}); its optimum is used")
    elif crosscheck and math.isfinite(sm_dev) and sm_dev - eng_dev > 2e-3:
        notes.append(f"statsmodels cross-check stopped at REML log-lik {-sm_dev / 2:.4f} < engine "
                     f"{-eng_dev / 2:.4f}")
    vcov, beta, sigma = _reml.vcov_beta(theta, S)
    return _Fit(q=q, S=S, theta=np.asarray(theta, float), dev=eng_dev, beta=beta, vcov=vcov, sigma=sigma,
                converged=converged, pgrad=pgrad, fitter=fitter, notes=notes)


def _variance_components(fit: _Fit) -> dict:
    """lme4's VarCorr as SDs (and the intercept-slope correlation) in the outcome's units."""
    L = np.zeros((fit.q, fit.q))
    L[np.tril_indices(fit.q)] = fit.theta
    cov = fit.sigma ** 2 * (L @ L.T)
    out = dict(sd_subject=math.sqrt(cov[0, 0]), sd_slope=float("nan"), corr_subject_slope=float("nan"),
               sd_residual=fit.sigma)
    if fit.q == 2:
        out["sd_slope"] = math.sqrt(cov[1, 1])
        den = math.sqrt(cov[0, 0] * cov[1, 1])
        out["corr_subject_slope"] = cov[0, 1] / den if den > 0 else float("nan")
    return out


def _bootstrap_t(fit: _Fit, *, n_boot: int, seed: int, alpha: float, G: int,
                 interval: str = "t") -> tuple[np.ndarray, np.ndarray, int, int]:
    """Cluster bootstrap-t CIs of all fixed effects (except the intercept) [Davison1997]_ [Cameron2008]_.

    Subjects are drawn with replacement (a subject drawn twice counts as two subjects), the same
    structure is refitted by the engine (start: the full-sample optimum; replicates that do not
    converge or end on the boundary are refitted from the neutral starts too, lowest criterion
    wins), and for each fixed effect ``t*_b = (beta*_b - beta_hat) / se*_b`` with ``se`` the
    cluster-robust (CR1 sandwich) SE of the GLS estimate (:func:`retrogait.stats._reml.cluster_robust_se`);
    the interval is ``[beta_hat - t*_(1-alpha/2) se, beta_hat - t*_(alpha/2) se]``. Studentizing by
    the cluster-robust SE, which is estimated from the same 12-odd clusters as the bootstrap
    spread, makes the statistic (asymptotically) pivotal; studentizing by the model-based SE does
    not when the random-effects structure is wrong or its SE has many df, and then the interval
    under-covers like the percentile one (bench/bootstrap_coverage.py). ``interval="t_model"``
    studentizes by the model-based SE and ``interval="percentile"`` returns the ``alpha/2`` and
    ``1 - alpha/2`` quantiles of ``beta*`` (both for comparison only).
    """
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, G, size=(n_boot, G))
    W = np.zeros((n_boot, G))
    np.add.at(W, (np.repeat(np.arange(n_boot), G), draws.ravel()), 1.0)
    res = _reml.fit_reml(np.repeat(fit.theta[None, :], n_boot, axis=0), fit.S, W, gtol=_GTOL)
    beta, theta, dev = res["beta"], res["theta"], np.where(res["converged"], res["dev"], np.inf)
    # a random-slope criterion can have a local minimum on the boundary: replicates that did not
    # converge or ended singular are refitted from the neutral starts; the lowest criterion wins
    r, c = np.tril_indices(fit.q)
    redo = np.flatnonzero(~res["converged"] | np.any(res["theta"][:, r == c] < SINGULAR_TOL, axis=1))
    if redo.size:
        starts = _default_starts(fit.q)
        ns = len(starts)
        r2 = _reml.fit_reml(np.tile(starts, (redo.size, 1)), fit.S, np.repeat(W[redo], ns, axis=0), gtol=_GTOL)
        d2 = np.where(r2["converged"], r2["dev"], np.inf).reshape(redo.size, ns)
        j = d2.argmin(axis=1)
        pick = j + ns * np.arange(redo.size)
        better = d2[np.arange(redo.size), j] < dev[redo]
        beta[redo[better]] = r2["beta"][pick[better]]
        theta[redo[better]] = r2["theta"][pick[better]]
        dev[redo[better]] = d2[np.arange(redo.size), j][better]
    ok = np.isfinite(dev)
    se_b = _reml.cluster_robust_se(theta, fit.S, W)
    if interval == "t_model":
        fin = _reml.reml_eval(theta, fit.S, W)
        with np.errstate(invalid="ignore", divide="ignore"):
            se2_model = (fin["r2"] / (fin["N"] - fit.S["p"]))[:, None] * np.diagonal(fin["XtVXinv"], axis1=1, axis2=2)
        se_b = np.sqrt(se2_model)
    ok &= np.all(np.isfinite(se_b[:, 1:]) & (se_b[:, 1:] > 0), axis=1) & np.all(np.isfinite(beta), axis=1)
    # a resample that drew one subject only (1 in 64 with 4 subjects) has no cluster-robust SE: the one
    # cluster's score is the sum of all scores, zero at the GLS estimate, so se* is rounding noise and
    # t* = (beta* - beta) / se* of order 1e14 with an arbitrary sign; it cannot be studentized
    single = (W > 0).sum(axis=1) < 2 if interval == "t" else np.zeros(n_boot, dtype=bool)
    ok &= ~single
    n_ok = int(ok.sum())
    p = fit.beta.size
    lo, hi = np.full(p - 1, np.nan), np.full(p - 1, np.nan)
    if n_ok >= 2 and interval == "percentile":
        lo, hi = np.quantile(beta[ok][:, 1:], [alpha / 2.0, 1.0 - alpha / 2.0], axis=0)
    elif n_ok >= 2 and interval == "t_model":
        se = np.sqrt(np.diag(fit.vcov))[1:]
        tstar = (beta[ok][:, 1:] - fit.beta[1:]) / np.sqrt(se2_model[ok][:, 1:])
        qs = np.quantile(tstar, [alpha / 2.0, 1.0 - alpha / 2.0], axis=0)
        lo, hi = fit.beta[1:] - qs[1] * se, fit.beta[1:] - qs[0] * se
    elif n_ok >= 2:
        se = _reml.cluster_robust_se(fit.theta[None, :], fit.S, np.ones((1, G)))[0, 1:]
        tstar = (beta[ok][:, 1:] - fit.beta[1:]) / se_b[ok][:, 1:]
        qs = np.quantile(tstar, [alpha / 2.0, 1.0 - alpha / 2.0], axis=0)
        lo, hi = fit.beta[1:] - qs[1] * se, fit.beta[1:] - qs[0] * se
    return lo, hi, n_ok, int(single.sum())


# ======================================================================
# public API
# ======================================================================
def mixed_model(data: pd.DataFrame, *, value: str, factor: str, levels: Sequence,
                subject: str, covariates: Sequence[str] = (), random_slope: bool | str = "auto",
                alpha: float = 0.05, n_boot: int = 1000, seed: int = 0,
                min_subjects_slope: int = 6, confound_r: float = 0.9, crosscheck: bool = True,
                boot_interval: str = "t") -> pd.DataFrame:
    """Fixed effect of a two-level factor (and covariates) from a linear mixed model, as lme4/lmerTest.

    Model (docs/methods.md §6.2)::

        value = b0 + b1·[factor == levels[0]] + sum_k bk·(cov_k - mean(cov_k))
                + u0_subject [+ u1_subject·[factor == levels[0]]] + e

    i.e. ``lme4::lmer(value ~ x + cov_c + (1 [+ x] | subject), REML = TRUE)``
    with ``x`` the 0/1 indicator of ``levels[0]``, fitted by the package's
    profiled-REML engine [Bates2015]_ [Harville1977]_ (from several starts,
    including statsmodels' optimum; the lowest finite REML criterion wins and
    ``fitter`` says whose optimum it is). Standard errors are lme4's ``vcov``
    (``sigma^2 (X'V^-1X)^-1`` at the REML estimate); t tests and CIs use
    Satterthwaite degrees of freedom computed as lmerTest does
    [Kuznetsova2017]_ [Satterthwaite1946]_; the bootstrap CI is a subject-level
    cluster bootstrap-t [Davison1997]_ [Cameron2008]_.

    Parameters
    ----------
    data : pandas.DataFrame
        Long table, one row per observation (e.g. gait cycle).
    value, factor, subject : str, keyword-only
        Column names of the outcome, the two-level factor and the subject id.
    levels : sequence of 2, keyword-only
        ``(level, reference)``: the estimate is ``level − reference``
        (e.g. ``("BW", "FW")`` → BW − FW). Rows whose factor is neither level
        are not analysed (their number is stated in ``note``).
    covariates : sequence of str, keyword-only
        Numeric covariates (e.g. ``("speed_mps",)``), each centred on its mean
        over the analysed rows; their terms are named ``<cov>_c``. A covariate
        that is constant in the analysed rows (speed in a speed-matched
        contrast) is left out of the model; its row is NaN and ``note`` says
        so.
    random_slope : {"auto", True, False}, keyword-only
        ``"auto"``: try a random slope for the factor only when at least
        ``min_subjects_slope`` subjects have >= 2 observations in each level.
        ``True``: always try (needs >= 3 such subjects). A tried slope is kept
        only when its fit converged and is not singular (lme4's
        ``isSingular`` rule on the relative covariance factor, tolerance
        1e-4); otherwise the model is intercept-only. ``False``: intercept
        only. What happened is in ``note``.
    alpha : float, keyword-only
        1 − confidence level of ``ci_*`` and ``boot_ci_*``.
    n_boot : int, keyword-only
        Number of cluster-bootstrap resamples (0 = skip; boot columns NaN).
    seed : int, keyword-only
        Seed of ``numpy.random.default_rng``; same seed, same data → same
        numbers.
    min_subjects_slope : int, keyword-only
        Threshold used by ``random_slope="auto"`` (default 6).
    confound_r : float, keyword-only
        ``|corr(factor indicator, covariate)|`` at or above which ``note``
        warns "factor and covariate confounded" (default 0.9).
    crosscheck : bool, keyword-only
        Also fit statsmodels MixedLM and use its optimum if it is better
        (default True; the pipeline sets it from ``stats.statsmodels_crosscheck``, off by default).
    boot_interval : {"t", "t_model", "percentile"}, keyword-only
        Cluster bootstrap-t studentized by the cluster-robust SE (default)
        or, for comparison only, studentized by the model-based SE, or the
        percentile interval (both under-cover with about 12 subjects; see
        ``bench/bootstrap_coverage.py``).

    Returns
    -------
    pandas.DataFrame
        One row per term of interest: the factor (``term = factor``) and each
        covariate (``term = "<cov>_c"``); the intercept is not reported.
        Columns: ``term, estimate, se`` (lme4 vcov), ``df`` (Satterthwaite),
        ``t, p`` (two-sided, t with ``df``), ``ci_low, ci_high`` (t with
        ``df``), ``boot_ci_low, boot_ci_high`` (cluster bootstrap-t),
        ``n_boot, seed, n_obs, n_subjects, random_effects`` (``"intercept"``
        | ``"intercept+slope"``), ``converged`` (projected gradient of the
        REML criterion below 1e-6), ``method`` (``"REML"``), ``note`` (same
        text on every row), plus ``level, reference, alpha, n_dropped``,
        ``n_boot_ok`` (resamples whose refit converged and, for the bootstrap-t, that drew at least
        2 distinct subjects), ``singular``
        (lme4's isSingular on the reported structure), ``se_method``,
        ``df_method``, ``boot_method``, ``fitter`` (``"REML engine"`` or
        ``"statsmodels MixedLM"``), ``reml_criterion`` (lme4's ``REMLcrit``),
        ``sd_subject, sd_slope, corr_subject_slope, sd_residual`` (lme4's
        ``VarCorr``; outcome units).

    Raises
    ------
    ValueError
        Missing columns, a level absent from the data, non-numeric or
        infinite values, fewer than 3 subjects, a constant outcome, a
        rank-deficient design (factor and covariate perfectly confounded), an
        outcome the fixed effects determine up to rounding (residual SD <=
        :func:`retrogait.stats.paired.rounding_floor` of the values: a design
        variable such as treadmill speed), or no finite REML criterion.

    Notes
    -----
    *Why a random slope.* With hundreds of cycles per subject and condition,
    an intercept-only model treats cycles as independent replicates of the
    condition effect and its SE is far too small when subjects respond
    differently [Barr2013]_. The default threshold (6 subjects) is a
    compromise for GT23's 12 subjects.

    *Structure decided on the estimate, never on a warning.* A slope is
    dropped only when the REML optimisation did not converge or the fit is
    singular (a diagonal element of the relative covariance factor
    ``Lambda`` < 1e-4, lme4's ``isSingular`` [Bates2015]_). ``Lambda`` is
    relative to the residual SD and the convergence test is on the
    scale-free profiled criterion, so multiplying the outcome by any
    constant changes neither the structure nor t, df and p.

    *Satterthwaite df* [Kuznetsova2017]_: ``df = 2 (L'CL)^2 / (g'Ag)`` with
    ``C`` lme4's vcov, ``g`` its gradient with respect to the variance
    parameters ``(theta, sigma)`` and ``A = 2 H^+``, ``H`` the Hessian of the
    REML deviance in ``(theta, sigma)`` (lmerTest's ``devfun_vp``); see
    :func:`retrogait.stats._reml.satterthwaite`.

    *Cluster bootstrap-t* [Davison1997]_ [Field2007]_ [Cameron2008]_:
    subjects are resampled, the same structure is refitted by the engine,
    and the CI uses the quantiles of the refit estimates studentized by
    their cluster-robust SE (percentile intervals, and bootstrap-t intervals
    studentized by the model-based SE, under-cover with about 12 subjects;
    see ``bench/bootstrap_coverage.py`` for the coverage of each).
    """
    # ------------------------------------------------------------ inputs
    if not isinstance(data, pd.DataFrame):
        raise ValueError(f"mixed_model: data must be a pandas DataFrame; got {type(data).__name__}")
    if isinstance(covariates, str):
        covariates = (covariates,)
    covariates = tuple(covariates)
    for name, val in (("value", value), ("factor", factor), ("subject", subject)):
        if not isinstance(val, str):
            raise ValueError(f"mixed_model: {name} must be a column name (str); got {val!r}")
    needed = [value, factor, subject, *covariates]
    missing = [c for c in needed if c not in data.columns]
    if missing:
        raise ValueError(f"mixed_model: column(s) {missing} not in data; available: {list(data.columns)}")
    if len(set(needed)) != len(needed):
        raise ValueError(f"mixed_model: value, factor, subject and covariates must be distinct columns; got {needed}")
    if isinstance(levels, str) or len(levels) != 2 or levels[0] == levels[1]:
        raise ValueError(f"mixed_model: levels must be two distinct values (level, reference); got {levels!r}")
    alpha = _check_alpha(alpha)
    if random_slope not in (True, False, "auto"):
        raise ValueError(f"mixed_model: random_slope must be True, False or 'auto'; got {random_slope!r}")
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 0:
        raise ValueError(f"mixed_model: n_boot must be an integer >= 0; got {n_boot!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"mixed_model: seed must be an integer >= 0; got {seed!r}")
    if not isinstance(min_subjects_slope, (int, np.integer)) or min_subjects_slope < 3:
        raise ValueError(f"mixed_model: min_subjects_slope must be an integer >= 3; got {min_subjects_slope!r}")
    if not isinstance(crosscheck, bool):
        raise ValueError(f"mixed_model: crosscheck must be True or False; got {crosscheck!r}")
    if boot_interval not in _BOOT_METHODS:
        raise ValueError(f"mixed_model: boot_interval must be one of {sorted(_BOOT_METHODS)}; got {boot_interval!r}")
    n_boot, seed = int(n_boot), int(seed)
    level, reference = levels[0], levels[1]
    notes: list[str] = []

    df = data.loc[:, needed]
    in_levels = df[factor].isin([level, reference]).to_numpy()
    n_other = int((~in_levels).sum())
    if n_other:
        notes.append(f"{n_other} row(s) with {factor} not in {[level, reference]} not analysed")
    df = df.loc[in_levels]
    present = set(df[factor].unique().tolist())
    for lv in (level, reference):
        if lv not in present:
            raise ValueError(f"mixed_model: level {lv!r} of {factor!r} not found in data; "
                             f"present: {sorted(map(str, data[factor].dropna().unique()))}")
    num = {}
    for col in (value, *covariates):
        s = df[col]
        if not (pd.api.types.is_numeric_dtype(s) or s.isna().all()):
            raise ValueError(f"mixed_model: column {col!r} must be numeric; got dtype {s.dtype}")
        arr = s.to_numpy(dtype=float, na_value=np.nan)
        if np.isinf(arr).any():
            raise ValueError(f"mixed_model: column {col!r} has {int(np.isinf(arr).sum())} infinite value(s)")
        num[col] = arr
    nan_rows = np.zeros(len(df), dtype=bool)
    for arr in num.values():
        nan_rows |= np.isnan(arr)
    nan_rows |= df[subject].isna().to_numpy()
    n_dropped = int(nan_rows.sum())
    if n_dropped:
        notes.append(f"{n_dropped} row(s) with NaN in {value}/{subject}"
                     + (f"/{'/'.join(covariates)}" if covariates else "") + " dropped")
    keep = ~nan_rows
    subj = df[subject].to_numpy()[keep]
    fac = df[factor].to_numpy()[keep]
    y = num[value][keep]
    labels, groups = np.unique(subj.astype(str), return_inverse=True)
    G = int(labels.size)
    n_obs = int(y.size)
    if G < 3:
        raise ValueError(f"mixed_model needs at least 3 subjects; got {G} after dropping NaN rows")
    x = (fac == level).astype(float)
    if x.min() == x.max():
        raise ValueError(f"mixed_model: after dropping NaN rows only level {fac[0]!r} of {factor!r} remains")
    if np.ptp(y) == 0:
        raise ValueError(f"mixed_model: {value!r} is constant ({y[0]}); nothing to model")
    cov_c = []
    used = []
    for cov in covariates:
        c = num[cov][keep]
        if np.ptp(c) == 0:
            # e.g. speed in a speed-matched contrast: nothing to adjust for
            notes.append(f"covariate {cov} is constant ({c[0]:g}) in the analysed rows: not in the model")
            continue
        used.append(cov)
        cov_c.append(c - c.mean())
    X = np.column_stack([np.ones(n_obs), x, *cov_c])
    if np.linalg.matrix_rank(X) < X.shape[1]:
        raise ValueError(f"mixed_model: design is rank-deficient: factor and covariate confounded "
                         f"({factor} and {used} are linearly dependent); the {factor} "
                         "effect cannot be separated from the covariate")
    # an outcome that the fixed effects determine exactly (a design variable: treadmill speed against the
    # speed factor or the speed covariate) has residuals at rounding level; a fit would report an SE of ~0
    # and a t of ~1e15 (the paired analysis's rounding rule, retrogait.stats.paired.rounding_floor)
    resid_sd = float(np.std(y - X @ np.linalg.lstsq(X, y, rcond=None)[0]))
    if not resid_sd > rounding_floor(y):
        raise ValueError(f"mixed_model: {value!r} is determined by {factor}"
                         + (f" and {'/'.join(used)}" if used else "")
                         + f" up to rounding (residual SD {resid_sd:.2g}): a design variable, nothing to model")

    # covariate diagnostics (docs/methods.md §6.2 collinearity warning)
    for cov, c in zip(used, cov_c):
        varies = sum(np.ptp(c[groups == k]) > 1e-12 * max(1.0, np.abs(c).max()) for k in range(G))
        if varies == 0:
            notes.append(f"{cov} varies only between subjects")
        else:
            notes.append(f"{cov} varies within {varies}/{G} subjects")
        r = float(np.corrcoef(x, c)[0, 1])
        lo_a, hi_a = c[x == 1].min(), c[x == 1].max()
        lo_b, hi_b = c[x == 0].min(), c[x == 0].max()
        no_overlap = hi_a < lo_b or hi_b < lo_a
        if abs(r) >= confound_r or no_overlap:
            notes.append(f"WARNING factor and covariate confounded: |r({factor}, {cov})| = {abs(r):.2f}"
                         + ("; no overlap of the covariate between levels" if no_overlap else "")
                         + f"; the {factor} estimate extrapolates across {cov}")

    # ------------------------------------------------ random-effects structure
    cnt = pd.crosstab(groups, x)
    n_both = int(((cnt.get(0.0, 0) >= 2) & (cnt.get(1.0, 0) >= 2)).sum())
    try_slope = False
    if random_slope is True:
        if n_both >= 3:
            try_slope = True
        else:
            notes.append(f"random slope requested but only {n_both} subject(s) have >= 2 observations "
                         "in both levels; fitted intercept-only")
    elif random_slope == "auto":
        if n_both >= min_subjects_slope:
            try_slope = True
        else:
            notes.append(f"random slope not attempted: {n_both} subject(s) with >= 2 observations in both "
                         f"levels < min_subjects_slope={int(min_subjects_slope)}; fitted intercept-only")

    cov_names = [f"c{k}" for k in range(len(used))]
    # The fits use the outcome minus its mean. The model has an intercept, so theta, the REML criterion,
    # every other coefficient and the SEs are unchanged in exact arithmetic, while the sums of squares
    # of the criterion lose the cancellation a large mean causes (stance ~60 +- 2 %: the criterion's
    # rounding error was ~1e-9, enough to stop Newton short of the 1e-6 gradient tolerance).
    y_shift = float(y.mean())
    y_c = y - y_shift
    dfm = pd.DataFrame({"y": y_c, "x": x, "g": groups})
    for name, c in zip(cov_names, cov_c):
        dfm[name] = c
    formula = "y ~ " + " + ".join(["x", *cov_names])

    fit = None
    if try_slope:
        try:
            fs = _fit_structure(y_c, X, groups, G, 2, dfm, formula, crosscheck=crosscheck)
        except ValueError as exc:
            fs, problem = None, f"fit failed: {exc}"
        else:
            if not fs.converged:
                problem = (f"the REML optimisation did not converge (projected gradient {fs.pgrad:.2g} > "
                           f"{_GTOL:g})")
            elif fs.singular:
                d = fs.diag()
                problem = (f"singular fit: relative covariance factor diagonal [{d[0]:.3g}, {d[1]:.3g}] has an "
                           f"entry < {SINGULAR_TOL:g} (lme4 isSingular)")
            else:
                problem = None
        if problem is None:
            fit = fs
        else:
            notes.append(f"random slope for {factor} dropped ({problem}); fitted intercept-only")
    if fit is None:
        try:
            fit = _fit_structure(y_c, X, groups, G, 1, dfm, formula, crosscheck=crosscheck)
        except ValueError as exc:
            raise ValueError(f"mixed_model: the model could not be fitted ({exc})") from None
    fit.beta = fit.beta + np.eye(fit.beta.size)[0] * y_shift    # the intercept of the outcome itself
    notes.extend(fit.notes)
    if fit.singular:
        notes.append(f"singular fit: subject random-intercept SD estimated as 0 (theta = {fit.theta[0]:.3g} < "
                     f"{SINGULAR_TOL:g}, lme4 isSingular)" if fit.q == 1 else "singular fit")
    if not fit.converged:
        notes.append(f"REML optimisation did not converge (projected gradient {fit.pgrad:.2g} > {_GTOL:g})")

    # ------------------------------------------------ inference (lme4 vcov, Satterthwaite df)
    p_fe = X.shape[1]
    se_all = np.sqrt(np.diag(fit.vcov))
    df_all = np.full(p_fe, np.nan)
    for j in range(1, p_fe):
        L = np.zeros(p_fe)
        L[j] = 1.0
        df_all[j] = _reml.satterthwaite(fit.theta, fit.S, L)["df"]
    with np.errstate(invalid="ignore", divide="ignore"):
        t_all = fit.beta / se_all
    p_all = 2.0 * stats.t.sf(np.abs(t_all), df_all)
    crit = stats.t.isf(alpha / 2.0, df_all)
    ci_lo, ci_hi = fit.beta - crit * se_all, fit.beta + crit * se_all

    boot_lo = np.full(p_fe - 1, np.nan)
    boot_hi = np.full(p_fe - 1, np.nan)
    n_boot_ok = 0
    if n_boot > 0:
        boot_lo, boot_hi, n_boot_ok, n_single = _bootstrap_t(fit, n_boot=n_boot, seed=seed, alpha=alpha, G=G,
                                                             interval=boot_interval)
        if n_single:
            notes.append(f"{n_single} of {n_boot} bootstrap resamples drew a single subject (no cluster-robust "
                         "SE to studentize by) and were excluded")
        if n_boot_ok + n_single < n_boot:
            notes.append(f"{n_boot - n_boot_ok - n_single} of {n_boot} bootstrap refits failed or did not converge "
                         "and were excluded")

    vc = _variance_components(fit)
    rows = []
    note = "; ".join(notes)
    fitted = {factor: 1, **{f"{c}_c": i + 2 for i, c in enumerate(used)}}
    nan = float("nan")
    for term in [factor, *[f"{c}_c" for c in covariates]]:
        i = fitted.get(term)
        if i is None:  # constant covariate, not in the model
            vals = dict(estimate=nan, se=nan, df=nan, t=nan, p=nan, ci_low=nan, ci_high=nan,
                        boot_ci_low=nan, boot_ci_high=nan)
        else:
            vals = dict(estimate=float(fit.beta[i]), se=float(se_all[i]), df=float(df_all[i]),
                        t=float(t_all[i]), p=float(p_all[i]), ci_low=float(ci_lo[i]), ci_high=float(ci_hi[i]),
                        boot_ci_low=float(boot_lo[i - 1]), boot_ci_high=float(boot_hi[i - 1]))
        rows.append(dict(term=term, **vals,
                         n_boot=n_boot, seed=seed, n_obs=n_obs, n_subjects=G,
                         random_effects="intercept+slope" if fit.q == 2 else "intercept",
                         converged=bool(fit.converged), method="REML", note=note,
                         level=str(level), reference=str(reference), alpha=alpha,
                         n_dropped=n_dropped, n_boot_ok=n_boot_ok, singular=fit.singular,
                         se_method=SE_METHOD, df_method=DF_METHOD,
                         boot_method=_BOOT_METHODS[boot_interval] if n_boot > 0 else "",
                         fitter=fit.fitter, reml_criterion=float(fit.dev), **vc))
    return pd.DataFrame(rows, columns=_MIXED_COLUMNS)
