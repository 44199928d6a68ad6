package io.vlm4j.eval;

/**
 * The Moré–Thuente line search (J. J. Moré and D. J. Thuente, "Line search algorithms with guaranteed sufficient
 * decrease", ACM TOMS 20(3), 1994), in the reverse-communication form of MINPACK-2 {@code dcsrch}/{@code dcstep}
 * that L-BFGS-B calls (and SciPy through it). It looks for a step {@code stp} satisfying the strong Wolfe conditions
 * <pre>  φ(stp) ≤ φ(0) + ftol·stp·φ'(0)   and   |φ'(stp)| ≤ gtol·|φ'(0)|</pre>
 * by safeguarded cubic/quadratic interpolation inside an interval of uncertainty that it extrapolates, then shrinks.
 *
 * <p>Use: construct with the first trial step and φ(0), φ'(0) ({@code φ'(0) < 0}); evaluate φ and φ' at
 * {@link #step()}; call {@link #next(double, double)} with them until it returns something other than
 * {@link Status#EVALUATE}. The warnings (rounding, xtol, step bounds) end the search at the best step found, as in
 * MINPACK-2; the caller decides whether that step is acceptable.
 */
final class MoreThuente {
    enum Status { EVALUATE, CONVERGED, WARNING_ROUNDING, WARNING_XTOL, WARNING_STPMAX, WARNING_STPMIN }

    private static final double XTRAPL = 1.1, XTRAPU = 4.0;

    private final double ftol, gtol, xtol, stpmin, stpmax;
    private final double finit, ginit, gtest;
    private double stp;
    private boolean brackt;
    private int stage = 1;
    private double width, width1;
    private double stx, fx, gx, sty, fy, gy, stmin, stmax;

    /**
     * @param stp   the first trial step, in [stpmin, stpmax]
     * @param f0    φ(0)
     * @param g0    φ'(0), negative (a descent direction)
     */
    MoreThuente(double stp, double f0, double g0, double ftol, double gtol, double xtol, double stpmin, double stpmax) {
        if (!(g0 < 0)) throw new IllegalArgumentException("line search: not a descent direction, φ'(0) = " + g0);
        if (!(stp >= stpmin && stp <= stpmax)) throw new IllegalArgumentException("line search: step " + stp + " outside [" + stpmin + ", " + stpmax + "]");
        this.ftol = ftol;
        this.gtol = gtol;
        this.xtol = xtol;
        this.stpmin = stpmin;
        this.stpmax = stpmax;
        this.stp = stp;
        this.finit = f0;
        this.ginit = g0;
        this.gtest = ftol * g0;
        this.width = stpmax - stpmin;
        this.width1 = width / 0.5;
        this.stx = 0;
        this.fx = f0;
        this.gx = g0;
        this.sty = 0;
        this.fy = f0;
        this.gy = g0;
        this.stmin = 0;
        this.stmax = stp + XTRAPU * stp;
    }

    /** The step at which φ is to be evaluated next (or, after a final status, the step found). */
    double step() { return stp; }

    /** Takes φ(step()) and φ'(step()); returns EVALUATE with a new step, or a final status. */
    Status next(double f, double g) {
        double ftest = finit + stp * gtest;
        if (stage == 1 && f <= ftest && g >= 0) stage = 2;

        Status status = Status.EVALUATE;
        if (brackt && (stp <= stmin || stp >= stmax)) status = Status.WARNING_ROUNDING;
        if (brackt && stmax - stmin <= xtol * stmax) status = Status.WARNING_XTOL;
        if (stp == stpmax && f <= ftest && g <= gtest) status = Status.WARNING_STPMAX;
        if (stp == stpmin && (f > ftest || g >= gtest)) status = Status.WARNING_STPMIN;
        if (f <= ftest && Math.abs(g) <= gtol * (-ginit)) status = Status.CONVERGED;
        if (status != Status.EVALUATE) return status;

        // In stage 1 a lower value that lacks sufficient decrease: step on the modified function ψ(s) = φ(s) − φ(0) − s·gtest.
        if (stage == 1 && f <= fx && f > ftest) {
            double fm = f - stp * gtest, gm = g - gtest;
            double[] st = {stx, fx - stx * gtest, gx - gtest, sty, fy - sty * gtest, gy - gtest};
            stp = cstep(st, stp, fm, gm);
            stx = st[0];
            fx = st[1] + stx * gtest;
            gx = st[2] + gtest;
            sty = st[3];
            fy = st[4] + sty * gtest;
            gy = st[5] + gtest;
        } else {
            double[] st = {stx, fx, gx, sty, fy, gy};
            stp = cstep(st, stp, f, g);
            stx = st[0];
            fx = st[1];
            gx = st[2];
            sty = st[3];
            fy = st[4];
            gy = st[5];
        }

        // Bisect when the interval did not shrink enough in two steps.
        if (brackt) {
            if (Math.abs(sty - stx) >= 0.66 * width1) stp = stx + 0.5 * (sty - stx);
            width1 = width;
            width = Math.abs(sty - stx);
        }
        if (brackt) {
            stmin = Math.min(stx, sty);
            stmax = Math.max(stx, sty);
        } else {
            stmin = stp + XTRAPL * (stp - stx);
            stmax = stp + XTRAPU * (stp - stx);
        }
        stp = Math.min(Math.max(stp, stpmin), stpmax);
        // No further progress possible: return the best step so far (the caller evaluates it once more).
        if (brackt && (stp <= stmin || stp >= stmax) || brackt && stmax - stmin <= xtol * stmax) stp = stx;
        return Status.EVALUATE;
    }

    /**
     * MINPACK-2 {@code dcstep}: a safeguarded step from the interval end points (stx: best so far, sty: other end)
     * and the trial point; updates {@code st = {stx, fx, dx, sty, fy, dy}} and {@link #brackt}, returns the new step.
     */
    private double cstep(double[] st, double stp, double fp, double dp) {
        double stx = st[0], fx = st[1], dx = st[2], sty = st[3], fy = st[4], dy = st[5];
        double lo = stmin, hi = stmax;
        double sgnd = dp * Math.signum(dx);
        double stpf;
        if (fp > fx) {
            // 1. A higher value: the minimum is bracketed. Cubic step, or halfway to the quadratic one.
            double theta = 3 * (fx - fp) / (stp - stx) + dx + dp;
            double s = max3(Math.abs(theta), Math.abs(dx), Math.abs(dp));
            double gamma = s * Math.sqrt((theta / s) * (theta / s) - (dx / s) * (dp / s));
            if (stp < stx) gamma = -gamma;
            double p = (gamma - dx) + theta, q = ((gamma - dx) + gamma) + dp;
            double stpc = stx + p / q * (stp - stx);
            double stpq = stx + ((dx / ((fx - fp) / (stp - stx) + dx)) / 2) * (stp - stx);
            stpf = Math.abs(stpc - stx) < Math.abs(stpq - stx) ? stpc : stpc + (stpq - stpc) / 2;
            brackt = true;
        } else if (sgnd < 0) {
            // 2. Lower value, derivatives of opposite sign: bracketed. The step farther from stp (cubic or secant).
            double theta = 3 * (fx - fp) / (stp - stx) + dx + dp;
            double s = max3(Math.abs(theta), Math.abs(dx), Math.abs(dp));
            double gamma = s * Math.sqrt((theta / s) * (theta / s) - (dx / s) * (dp / s));
            if (stp > stx) gamma = -gamma;
            double p = (gamma - dp) + theta, q = ((gamma - dp) + gamma) + dx;
            double stpc = stp + p / q * (stx - stp);
            double stpq = stp + (dp / (dp - dx)) * (stx - stp);
            stpf = Math.abs(stpc - stp) > Math.abs(stpq - stp) ? stpc : stpq;
            brackt = true;
        } else if (Math.abs(dp) < Math.abs(dx)) {
            // 3. Lower value, same sign, derivative shrinking: the cubic step only if it heads the right way.
            double theta = 3 * (fx - fp) / (stp - stx) + dx + dp;
            double s = max3(Math.abs(theta), Math.abs(dx), Math.abs(dp));
            double gamma = s * Math.sqrt(Math.max(0, (theta / s) * (theta / s) - (dx / s) * (dp / s)));
            if (stp > stx) gamma = -gamma;
            double p = (gamma - dp) + theta, q = (gamma + (dx - dp)) + gamma;
            double r = p / q;
            double stpc;
            if (r < 0 && gamma != 0) stpc = stp + r * (stx - stp);
            else if (stp > stx) stpc = hi;
            else stpc = lo;
            double stpq = stp + (dp / (dp - dx)) * (stx - stp);
            if (brackt) {
                stpf = Math.abs(stpc - stp) < Math.abs(stpq - stp) ? stpc : stpq;
                stpf = stp > stx ? Math.min(stp + 0.66 * (sty - stp), stpf) : Math.max(stp + 0.66 * (sty - stp), stpf);
            } else {
                stpf = Math.abs(stpc - stp) > Math.abs(stpq - stp) ? stpc : stpq;
                stpf = Math.max(lo, Math.min(hi, stpf));
            }
        } else {
            // 4. Lower value, same sign, derivative not shrinking: cubic towards sty if bracketed, else a bound.
            if (brackt) {
                double theta = 3 * (fp - fy) / (sty - stp) + dy + dp;
                double s = max3(Math.abs(theta), Math.abs(dy), Math.abs(dp));
                double gamma = s * Math.sqrt((theta / s) * (theta / s) - (dy / s) * (dp / s));
                if (stp > sty) gamma = -gamma;
                double p = (gamma - dp) + theta, q = ((gamma - dp) + gamma) + dy;
                stpf = stp + p / q * (sty - stp);
            } else {
                stpf = stp > stx ? hi : lo;
            }
        }
        // Update the interval of uncertainty.
        if (fp > fx) {
            sty = stp;
            fy = fp;
            dy = dp;
        } else {
            if (sgnd < 0) {
                sty = stx;
                fy = fx;
                dy = dx;
            }
            stx = stp;
            fx = fp;
            dx = dp;
        }
        st[0] = stx;
        st[1] = fx;
        st[2] = dx;
        st[3] = sty;
        st[4] = fy;
        st[5] = dy;
        return stpf;
    }

    private static double max3(double a, double b, double c) { return Math.max(a, Math.max(b, c)); }
}
