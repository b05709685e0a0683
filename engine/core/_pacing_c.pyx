# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""The predictive pacer's arithmetic — the compiled implementation. Same API and same results (to rounding) as
``_pacing_py.py``, the reference, which documents every formula and method.

Each decision converts its input sequences (lists of floats, possibly empty) once into one malloc'd C buffer; the
``QUANTILES`` x (talking + wrapping + ringing) loops are then pure C (libc ``erfc`` / ``log`` / ``exp``). The parts
of each term that do not depend on the ring-time quantile (an agent's survival so far, a ringing call's answer
probability so far) are computed once per call instead of once per quantile: the same expressions, so the same
doubles as the reference's.
"""

from libc.math cimport erfc, exp, isfinite, isinf, log, pow, sqrt
from libc.stdlib cimport free, malloc

__all__ = ["OUTCOME_BUSY", "OUTCOME_HUMAN", "OUTCOME_MACHINE", "OUTCOME_NO_ANSWER", "QUANTILES", "Pacer"]

OUTCOME_HUMAN, OUTCOME_MACHINE, OUTCOME_BUSY, OUTCOME_NO_ANSWER = range(4)

cdef enum:
    K = 8
QUANTILES = K

cdef double _SQRT2 = sqrt(2.0)
cdef double _MIN_SIGMA = 0.05
cdef double _MIN_VAR = 0.25

# Acklam's rational approximation of the normal quantile (the reference's constants)
cdef double _A[6]
cdef double _B[5]
cdef double _C[6]
cdef double _D[4]
_A[:] = [-3.969683028665376e01, 2.209460984245205e02, -2.759285104469687e02, 1.383577518672690e02,
         -3.066479806614716e01, 2.506628277459239e00]
_B[:] = [-5.447609879822406e01, 1.615858368580409e02, -1.556989798598866e02, 6.680131188771972e01,
         -1.328068155288572e01]
_C[:] = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e00, -2.549732539343734e00,
         4.374664141464968e00, 2.938163982698783e00]
_D[:] = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00, 3.754408661907416e00]


cdef double _probit(double p) noexcept:
    cdef double q, r
    if p < 0.02425:
        q = sqrt(-2.0 * log(p))
        return (((((_C[0] * q + _C[1]) * q + _C[2]) * q + _C[3]) * q + _C[4]) * q + _C[5]) / \
            ((((_D[0] * q + _D[1]) * q + _D[2]) * q + _D[3]) * q + 1.0)
    if p > 1.0 - 0.02425:
        return -_probit(1.0 - p)
    q = p - 0.5
    r = q * q
    return (((((_A[0] * r + _A[1]) * r + _A[2]) * r + _A[3]) * r + _A[4]) * r + _A[5]) * q / \
        (((((_B[0] * r + _B[1]) * r + _B[2]) * r + _B[3]) * r + _B[4]) * r + 1.0)


cdef double _Z[K]
for _k in range(K):
    _Z[_k] = _probit((_k + 0.5) / K)
del _k


cdef inline double _exp(double x) except? -1.0:
    """``exp``, raising like ``math.exp`` when a finite argument overflows."""
    cdef double y = exp(x)
    if isinf(y) and isfinite(x):
        raise OverflowError("math range error")
    return y


cdef inline double _lognormal_cdf(double x, double mu, double sigma) noexcept nogil:
    if x <= 0.0:
        return 0.0
    return 0.5 * erfc(-(log(x) - mu) / (sigma * _SQRT2))


cdef inline double _normal_cdf(double z) noexcept nogil:
    return 0.5 * erfc(-z / _SQRT2)


# ------------------------------------------------------------------ log moments (the reference's _LogMoments)

cdef struct LogMoments:
    double alpha
    double mean
    double var
    long long n


cdef int _lm_init(LogMoments* m, double mean_s, double sd_s, double alpha) except -1:
    cdef double ratio = sd_s / mean_s
    cdef double square = pow(ratio, 2.0)
    if isinf(square) and isfinite(ratio):  # as the reference's float ** 2
        raise OverflowError(34, "Numerical result out of range")
    m.alpha = alpha
    m.var = log(1.0 + square)
    m.mean = log(mean_s) - m.var / 2.0
    m.n = 0


cdef void _lm_add(LogMoments* m, double x) noexcept:
    cdef double y, a, d
    if x < 1e-3:
        x = 1e-3
    y = log(x)
    m.n += 1
    a = 1.0 / (m.n + 1)  # max(alpha, 1 / (n + 1)), with Python's max's tie-breaking
    if not (a > m.alpha):
        a = m.alpha
    d = y - m.mean
    m.mean += a * d
    m.var = (1.0 - a) * (m.var + a * d * d)


cdef double _lm_sigma(const LogMoments* m) except? -1.0:
    cdef double s
    if m.var < 0.0:  # only with a weight > 1; the reference's math.sqrt raises the same
        raise ValueError("math domain error")
    s = sqrt(m.var)
    return s if s > _MIN_SIGMA else _MIN_SIGMA


cdef inline double _lm_mean_s(const LogMoments* m) except? -1.0:
    return _exp(m.mean + m.var / 2.0)


# ------------------------------------------------------------------ sequences -> C

cdef object _as_fast(object seq):
    if type(seq) is list or type(seq) is tuple:
        return seq
    return list(seq)


cdef void _fill(object seq, double* buf, Py_ssize_t n) except *:
    cdef Py_ssize_t i
    cdef list lst
    cdef tuple tup
    if type(seq) is list:
        lst = <list>seq
        for i in range(n):
            buf[i] = lst[i]
    else:
        tup = <tuple>seq
        for i in range(n):
            buf[i] = tup[i]


cdef class Pacer:
    """Online estimates of one campaign's dials and agents, and the dial decision (see ``_pacing_py.Pacer``)."""

    cdef double _short[3]
    cdef double _long[3]
    cdef LogMoments _ring
    cdef LogMoments _talk
    cdef LogMoments _wrap
    cdef public double short_alpha
    cdef public double long_alpha
    cdef public double busy_s
    cdef public double no_answer_s
    cdef public long long outcomes_seen

    def __init__(self, *, double p_human=0.3, double p_machine=0.15, double p_busy=0.05,
                 object ring_s=(8.0, 4.0), object talk_s=(120.0, 60.0), object wrap_s=(15.0, 1.0),
                 double busy_s=3.0, double no_answer_s=25.0, double short_alpha=1.0 / 60.0,
                 double long_alpha=1.0 / 400.0, double duration_alpha=1.0 / 200.0):
        if not (0.0 < p_human <= 1.0) or p_machine < 0 or p_busy < 0 or p_human + p_machine + p_busy > 1.0 + 1e-9:
            raise ValueError("outcome priors must be probabilities adding up to at most 1, with p_human > 0")
        for name, (m, s) in (("ring_s", ring_s), ("talk_s", talk_s), ("wrap_s", wrap_s)):
            if not (m > 0.0 and s >= 0.0):
                raise ValueError(f"{name}: mean must be > 0 and sd >= 0")
        self._short[0] = p_human
        self._short[1] = p_machine
        self._short[2] = p_busy
        self._long[0] = p_human
        self._long[1] = p_machine
        self._long[2] = p_busy
        self.short_alpha = short_alpha
        self.long_alpha = long_alpha
        _lm_init(&self._ring, ring_s[0], ring_s[1], duration_alpha)
        _lm_init(&self._talk, talk_s[0], talk_s[1], duration_alpha)
        _lm_init(&self._wrap, wrap_s[0], wrap_s[1], duration_alpha)
        self.busy_s = busy_s
        self.no_answer_s = no_answer_s
        self.outcomes_seen = 0

    # ------------------------------------------------------------------------------------------- estimates ----

    def observe_outcome(self, outcome, ring_s):
        """One dial ended: ``outcome`` is an ``OUTCOME_*`` code; ``ring_s`` the time from dial to answer (used for
        a person's answer only)."""
        cdef double hit[3]
        cdef double a
        cdef int k
        if not 0 <= outcome <= OUTCOME_NO_ANSWER:
            raise ValueError(f"unknown outcome code {outcome}")
        for k in range(3):
            hit[k] = 1.0 if outcome == k else 0.0
        self.outcomes_seen += 1
        a = 1.0 / (self.outcomes_seen + 1)
        if not (a > self.short_alpha):
            a = self.short_alpha
        for k in range(3):
            self._short[k] += a * (hit[k] - self._short[k])
        a = 1.0 / (self.outcomes_seen + 1)
        if not (a > self.long_alpha):
            a = self.long_alpha
        for k in range(3):
            self._long[k] += a * (hit[k] - self._long[k])
        if outcome == OUTCOME_HUMAN:
            _lm_add(&self._ring, ring_s)

    def observe_talk(self, double seconds):
        """A conversation with a person lasted ``seconds`` (connect to hang-up)."""
        _lm_add(&self._talk, seconds)

    def observe_wrap(self, double seconds):
        """An agent's wrap-up after an outbound call lasted ``seconds``."""
        _lm_add(&self._wrap, seconds)

    def estimates(self):
        """The current estimates, for figures and tests."""
        return {"p_human": self._p_human(), "p_human_short": self._short[0], "p_human_long": self._long[0],
                "p_machine": self._long[1], "p_busy": self._long[2], "ring_s": _lm_mean_s(&self._ring),
                "talk_s": _lm_mean_s(&self._talk), "wrap_s": _lm_mean_s(&self._wrap)}

    def p_human(self):
        """The person-answer rate the pacer plans with: the larger of the short and long estimates."""
        return self._p_human()

    def state(self):
        """Everything the pacer has learnt and is set to, as plain data (see ``_pacing_py.Pacer.state``)."""
        return {"short": [self._short[0], self._short[1], self._short[2]],
                "long": [self._long[0], self._long[1], self._long[2]],
                "ring": [self._ring.alpha, self._ring.mean, self._ring.var, self._ring.n],
                "talk": [self._talk.alpha, self._talk.mean, self._talk.var, self._talk.n],
                "wrap": [self._wrap.alpha, self._wrap.mean, self._wrap.var, self._wrap.n],
                "short_alpha": self.short_alpha, "long_alpha": self.long_alpha, "busy_s": self.busy_s,
                "no_answer_s": self.no_answer_s, "outcomes_seen": self.outcomes_seen}

    def set_state(self, state):
        """Load what ``state()`` returned (``KeyError`` / ``ValueError`` if it is not such data)."""
        cdef int k
        short = [float(x) for x in state["short"]]
        long_ = [float(x) for x in state["long"]]
        if len(short) != 3 or len(long_) != 3:
            raise ValueError("pacer state: short and long hold three rates each")
        moments = []
        for name in ("ring", "talk", "wrap"):
            alpha, mean, var, n = state[name]
            moments.append((float(alpha), float(mean), float(var), int(n)))
        short_alpha, long_alpha = float(state["short_alpha"]), float(state["long_alpha"])
        busy_s, no_answer_s = float(state["busy_s"]), float(state["no_answer_s"])
        outcomes_seen = int(state["outcomes_seen"])
        for k in range(3):
            self._short[k] = short[k]
            self._long[k] = long_[k]
        self._ring.alpha, self._ring.mean, self._ring.var, self._ring.n = moments[0]
        self._talk.alpha, self._talk.mean, self._talk.var, self._talk.n = moments[1]
        self._wrap.alpha, self._wrap.mean, self._wrap.var, self._wrap.n = moments[2]
        self.short_alpha, self.long_alpha = short_alpha, long_alpha
        self.busy_s, self.no_answer_s = busy_s, no_answer_s
        self.outcomes_seen = outcomes_seen

    cdef inline double _p_human(self) noexcept:
        return self._long[0] if self._long[0] > self._short[0] else self._short[0]

    # ------------------------------------------------------------------------------------------- decisions ----

    def expected_free(self, double horizon_s, idle, talk_elapsed, wrap_elapsed):
        """Expected number of agents free ``horizon_s`` from now: ``idle`` now, plus every talking agent (by
        seconds into its talk) and wrapping agent (by seconds into its wrap-up) whose work ends by then."""
        cdef double total = float(idle)
        for e in talk_elapsed:
            total += self._talk_done(e, horizon_s)
        for w in wrap_elapsed:
            total += self._wrap_done(w, horizon_s)
        return total

    def abandon_probability(self, n, idle, talk_elapsed, wrap_elapsed, ringing_elapsed, waiting, double grace_s):
        """Probability that the ``n``-th new dial placed now (n >= 1), if a person answers it, finds no agent
        within ``grace_s``: see ``_pacing_py``."""
        cdef double mean[K]
        cdef double var[K]
        cdef double pf[K]
        if n < 1:
            raise ValueError("n counts from 1")
        self._margins(float(idle - waiting), talk_elapsed, wrap_elapsed, ringing_elapsed, grace_s, mean, var, pf)
        return _abandon(mean, var, pf, <double>(n - 1))

    def lines_to_dial(self, idle, talk_elapsed, wrap_elapsed, ringing_elapsed, waiting, double grace_s,
                      double threshold, long long max_lines):
        """How many new dials to place now, at most ``max_lines``: the largest ``n`` whose marginal abandonment
        probability (``abandon_probability(n, ...)``) is at most ``threshold`` (see ``_pacing_py``)."""
        cdef double mean[K]
        cdef double var[K]
        cdef double pf[K]
        cdef long long n = 0
        if max_lines <= 0:
            return 0
        self._margins(float(idle - waiting), talk_elapsed, wrap_elapsed, ringing_elapsed, grace_s, mean, var, pf)
        while n < max_lines and _abandon(mean, var, pf, <double>n) <= threshold:
            n += 1
        return n

    # ---------------------------------------------------------------------------------------------- helpers ----

    cdef double _talk_done(self, double elapsed, double horizon) except? -1.0:
        cdef double mu = self._talk.mean
        cdef double sigma = _lm_sigma(&self._talk)
        cdef double survive = 1.0 - _lognormal_cdf(elapsed, mu, sigma)
        cdef double end
        if survive < 1e-12:
            return 1.0 if horizon >= _lm_mean_s(&self._wrap) else 0.0
        end = elapsed + horizon - _lm_mean_s(&self._wrap)
        if end <= elapsed:
            return 0.0
        return (_lognormal_cdf(end, mu, sigma) - (1.0 - survive)) / survive

    cdef double _wrap_done(self, double elapsed, double horizon) except? -1.0:
        cdef double mu = self._wrap.mean
        cdef double sigma = _lm_sigma(&self._wrap)
        cdef double survive = 1.0 - _lognormal_cdf(elapsed, mu, sigma)
        if survive < 1e-12:
            return 1.0
        return (_lognormal_cdf(elapsed + horizon, mu, sigma) - (1.0 - survive)) / survive

    cdef int _margins(self, double base, object talk_elapsed, object wrap_elapsed, object ringing_elapsed,
                      double grace_s, double* out_mean, double* out_var, double* out_pf) except -1:
        """For each ring-time quantile ``R_k``: (mean margin, its variance, F_R(R_k) * p_human), as the
        reference's ``_margins``."""
        cdef double p_h = self._p_human()
        cdef double p_m = self._long[1]
        cdef double p_b = self._long[2]
        cdef double mu_r = self._ring.mean
        cdef double sigma_r = _lm_sigma(&self._ring)
        cdef double mu_t = self._talk.mean
        cdef double sigma_t = _lm_sigma(&self._talk)
        cdef double mu_w = self._wrap.mean
        cdef double sigma_w = _lm_sigma(&self._wrap)
        cdef double wrap_mean = _lm_mean_s(&self._wrap)
        cdef double t_max = self.no_answer_s
        cdef double busy_s = self.busy_s
        cdef Py_ssize_t nt, nw, nr, i, k
        cdef double *buf
        cdef double *talk
        cdef double *talk_survive
        cdef double *wrap
        cdef double *wrap_survive
        cdef double *ring
        cdef double *ring_now
        cdef double *ring_still
        cdef double r, h, mean, var, q, e, x, f_now, still, p, survive, end

        talk_elapsed = _as_fast(talk_elapsed)
        wrap_elapsed = _as_fast(wrap_elapsed)
        ringing_elapsed = _as_fast(ringing_elapsed)
        nt = len(talk_elapsed)
        nw = len(wrap_elapsed)
        nr = len(ringing_elapsed)
        buf = <double*>malloc((2 * nt + 2 * nw + 3 * nr + 1) * sizeof(double))
        if buf == NULL:
            raise MemoryError()
        talk = buf
        talk_survive = talk + nt
        wrap = talk_survive + nt
        wrap_survive = wrap + nw
        ring = wrap_survive + nw
        ring_now = ring + nr
        ring_still = ring_now + nr
        try:
            _fill(talk_elapsed, talk, nt)
            _fill(wrap_elapsed, wrap, nw)
            _fill(ringing_elapsed, ring, nr)
            # the parts of each term that do not depend on the quantile
            for i in range(nt):
                talk_survive[i] = 1.0 - _lognormal_cdf(talk[i], mu_t, sigma_t)
            for i in range(nw):
                wrap_survive[i] = 1.0 - _lognormal_cdf(wrap[i], mu_w, sigma_w)
            for i in range(nr):
                e = ring[i]
                x = t_max if t_max < e else e
                f_now = _lognormal_cdf(x, mu_r, sigma_r)
                ring_now[i] = f_now
                ring_still[i] = 1.0 - (p_h + p_m) * f_now - (p_b if e >= busy_s else 0.0)
            for k in range(K):
                r = _exp(mu_r + sigma_r * _Z[k])
                h = r + grace_s
                mean = base
                var = 0.0
                for i in range(nt):
                    e = talk[i]
                    survive = talk_survive[i]
                    if survive < 1e-12:
                        q = 1.0 if h >= wrap_mean else 0.0
                    else:
                        end = e + h - wrap_mean
                        if end <= e:
                            q = 0.0
                        else:
                            q = (_lognormal_cdf(end, mu_t, sigma_t) - (1.0 - survive)) / survive
                    mean += q
                    var += q * (1.0 - q)
                for i in range(nw):
                    survive = wrap_survive[i]
                    if survive < 1e-12:
                        q = 1.0
                    else:
                        q = (_lognormal_cdf(wrap[i] + h, mu_w, sigma_w) - (1.0 - survive)) / survive
                    mean += q
                    var += q * (1.0 - q)
                for i in range(nr):
                    still = ring_still[i]
                    if still <= 1e-9:
                        continue
                    f_now = ring_now[i]
                    x = ring[i] + r
                    if t_max < x:
                        x = t_max
                    p = p_h * (_lognormal_cdf(x, mu_r, sigma_r) - f_now) / still
                    if p > 1.0:
                        p = 1.0
                    mean -= p
                    var += p * (1.0 - p)
                out_mean[k] = mean
                out_var[k] = var
                out_pf[k] = p_h * _lognormal_cdf(r, mu_r, sigma_r)
        finally:
            free(buf)
        return 0


cdef inline double _abandon(const double* mean, const double* var, const double* pf, double others) noexcept:
    cdef double total = 0.0
    cdef double m, v
    cdef int k
    for k in range(K):
        m = mean[k] - others * pf[k]
        v = var[k] + others * pf[k] * (1.0 - pf[k])
        if v < _MIN_VAR:
            v = _MIN_VAR
        total += _normal_cdf((0.5 - m) / sqrt(v))
    return total / K
