r"""Statistics of first-passage (escape) times with censoring, and the Arrhenius fit.

* :func:`censored_exponential_mle` - the rate of an exponential law from times of which
  some are right-censored (the run had not escaped when the budget ended).  With d escapes
  and total time at risk S = sum_i min(t_i, c_i), the log-likelihood is d log k - k S, so

  .. math:: \hat\tau = 1/\hat k = S / d, \qquad
            \mathrm{se}(\log\hat\tau) = 1/\sqrt{d}\ \text{(Fisher information } d/k^2).

  The naive mean of the escaped runs alone is biased low (it drops the slow runs); the
  mean with censored times counted as escapes is biased low too.
* :func:`kaplan_meier` - the survival curve S(t) without a parametric model (scipy's
  ``stats.ecdf`` on ``CensoredData``).
* :func:`arrhenius_fit` - weighted least squares of log tau_i = log tau_0 + kappa log T_i
  + Delta / T_i over temperatures, with kappa a *known* exponent of the prefactor (0 when
  the metastable state and the saddle have equally many zero modes, see
  :mod:`empirical.linear_landscape`), weights 1/se(log tau_i)^2; the slope Delta is the
  fitted barrier, its standard error scaled by sqrt(max(1, chi2/dof)) so that scatter
  beyond the counting error widens it.
  With the prefactor known (``log_tau0``, e.g. Kramers-Langer's from the Hessians at the
  minimum and the saddle, the T -> 0 limit) the intercept is fixed and a first-order
  finite-temperature correction is fitted instead:
  log tau_i = log tau_0 + kappa log T_i + Delta / T_i + c_1 T_i.  The prefactor of a real
  escape drifts with T (tau / tau_KL = 1 + O(T / Delta)); a straight line in 1/T absorbs
  that drift into its slope (a few percent low at Delta / T = 4..9), the fixed-intercept fit
  does not, and it is more precise (two free parameters whose regressors 1/T and T are
  far from collinear).

No torch here; tests hold the estimator to synthetic exponential data with censoring.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from l2phase.theory.checks import InputError

__all__ = ["CensoredRate", "ArrheniusFit", "censored_exponential_mle", "kaplan_meier", "arrhenius_fit"]


@dataclass(frozen=True)
class CensoredRate:
    """Exponential MLE from censored times: ``tau`` = S/d, ``log_tau_se`` = 1/sqrt(d)."""

    tau: float
    log_tau_se: float
    n_events: int
    n_censored: int
    time_at_risk: float


def _times(times, censored):
    t = np.asarray(times, dtype=float)
    if t.ndim != 1 or t.size == 0 or np.any(~np.isfinite(t)) or np.any(t < 0):
        raise InputError("times must be a non-empty 1-D array of finite values >= 0 (censoring times for censored runs)")
    cens = np.zeros(t.size, dtype=bool) if censored is None else np.asarray(censored, dtype=bool)
    if cens.shape != t.shape:
        raise InputError(f"censored must have the shape of times {t.shape}, got {cens.shape}")
    return t, cens


def censored_exponential_mle(times, censored=None) -> CensoredRate:
    """Mean escape time of an exponential law from right-censored first-passage times.

    Parameters
    ----------
    times : (R,) escape time of each run, or its censoring time (budget) if it did not escape.
    censored : (R,) bool, True where the run had not escaped.

    Returns ``tau = inf`` (and ``log_tau_se = inf``) when nothing escaped.

    Examples
    --------
    >>> r = censored_exponential_mle([1.0, 2.0, 5.0, 5.0], [False, False, True, True])
    >>> r.tau, r.n_events
    (6.5, 2)
    """
    t, cens = _times(times, censored)
    d = int((~cens).sum())
    S = float(t.sum())
    if d == 0:
        return CensoredRate(np.inf, np.inf, 0, int(cens.sum()), S)
    return CensoredRate(S / d, 1.0 / np.sqrt(d), d, int(cens.sum()), S)


def kaplan_meier(times, censored=None):
    """Kaplan-Meier survival curve: (event times (m,), S(t) just after each (m,)).

    Uses ``scipy.stats.ecdf`` with ``scipy.stats.CensoredData`` (right censoring; scipy >= 1.11).
    """
    from scipy import stats

    t, cens = _times(times, censored)
    if (~cens).sum() == 0:
        return np.zeros(0), np.zeros(0)
    data = stats.CensoredData(uncensored=t[~cens], right=t[cens])
    res = stats.ecdf(data)
    return np.asarray(res.sf.quantiles), np.asarray(res.sf.probabilities)


@dataclass(frozen=True)
class ArrheniusFit:
    """log tau = log_tau0 + kappa log T + barrier / T, weighted least squares.

    ``barrier``/``barrier_se`` (se inflated by sqrt(max(1, chi2_dof))); ``log_tau0`` and its
    se (0 when it was given); ``chi2_dof`` the reduced chi-square; ``decades`` =
    log10(max tau / min tau) over the fitted points; ``kappa`` the fixed prefactor exponent;
    ``finite_t`` the coefficient c_1 of the first-order correction c_1 T (0 unless the
    prefactor was given) and ``finite_t_se``.
    """

    barrier: float
    barrier_se: float
    log_tau0: float
    log_tau0_se: float
    chi2_dof: float
    decades: float
    kappa: float
    n_points: int
    finite_t: float = 0.0
    finite_t_se: float = 0.0

    def z_score(self, barrier: float) -> float:
        """(fit - barrier) / se: how many standard errors a proposed barrier is off."""
        return (self.barrier - barrier) / self.barrier_se


def arrhenius_fit(temperatures, tau, log_tau_se, *, kappa: float = 0.0, log_tau0: float | None = None) -> ArrheniusFit:
    """Fit log tau against 1/T with a known power kappa of T in the prefactor (see module).

    With ``log_tau0`` (the known T -> 0 prefactor, log tau = log_tau0 + kappa log T + ...)
    the intercept is fixed and ``barrier`` and the first-order correction ``finite_t`` (c_1 T)
    are fitted.

    Examples
    --------
    >>> import numpy as np
    >>> T = np.array([0.01, 0.0125, 0.015, 0.02])
    >>> tau = 2.0 * np.exp(0.05 / T) * (1 + 3.0 * T)  # a prefactor that drifts with T
    >>> round(arrhenius_fit(T, tau, [0.01] * 4, log_tau0=np.log(2.0)).barrier, 4)
    0.05
    """
    T = np.asarray(temperatures, dtype=float)
    tau = np.asarray(tau, dtype=float)
    se = np.asarray(log_tau_se, dtype=float)
    if not (T.shape == tau.shape == se.shape) or T.ndim != 1:
        raise InputError("temperatures, tau and log_tau_se must be 1-D arrays of one length")
    ok = np.isfinite(tau) & np.isfinite(se) & (se > 0) & (tau > 0) & (T > 0)
    if ok.sum() < 3:
        raise InputError(f"an Arrhenius fit needs >= 3 temperatures with escapes, got {int(ok.sum())}")
    T, tau, se = T[ok], tau[ok], se[ok]
    y = np.log(tau) - kappa * np.log(T)
    if log_tau0 is None:
        X = np.column_stack([np.ones_like(T), 1.0 / T])
    else:
        y = y - float(log_tau0)
        X = np.column_stack([1.0 / T, T])
    w = 1.0 / se**2
    XtW = X.T * w
    cov = np.linalg.inv(XtW @ X)
    coef = cov @ (XtW @ y)
    resid = y - X @ coef
    dof = max(1, T.size - 2)
    chi2 = float(np.sum(w * resid**2) / dof)
    scale = np.sqrt(max(1.0, chi2))
    if log_tau0 is None:
        ib, l0, l0_se, ft, ft_se = 1, float(coef[0]), float(np.sqrt(cov[0, 0]) * scale), 0.0, 0.0
    else:
        ib, l0, l0_se, ft, ft_se = 0, float(log_tau0), 0.0, float(coef[1]), float(np.sqrt(cov[1, 1]) * scale)
    return ArrheniusFit(
        barrier=float(coef[ib]),
        barrier_se=float(np.sqrt(cov[ib, ib]) * scale),
        log_tau0=l0,
        log_tau0_se=l0_se,
        chi2_dof=chi2,
        decades=float(np.log10(tau.max() / tau.min())),
        kappa=float(kappa),
        n_points=int(T.size),
        finite_t=ft,
        finite_t_se=ft_se,
    )
