"""numerics.ode.integrate_to_norm against solve_ivp's terminal event and a closed-form flow."""
import numpy as np
import pytest
from scipy.integrate import solve_ivp

from numerics.ode import integrate_to_norm

# a linear gradient flow dx/dt = -A x with a non-normal start: the norm decays at several rates
A = np.diag([1.0, 3.0, 0.2])
X0 = np.array([1.0, -2.0, 0.5])


def _fun(_t, x):
    return -(A @ x)


def _norm(_t, x):  # the gradient norm |A x|
    return float(np.linalg.norm(A @ x))


def _norm_of_f(_t, f):
    return float(np.linalg.norm(f))


@pytest.mark.parametrize("method", ["LSODA", "RK45", "DOP853"])
@pytest.mark.parametrize("read_f", [False, True])
def test_same_stop_as_solve_ivp_terminal_event(method, read_f):
    """Bit for bit the end of solve_ivp with a terminal event of direction -1, whether the
    norm is evaluated at every step or read off the last right-hand-side evaluation."""
    target = 1e-6

    def event(t, x):
        return _norm(t, x) - target
    event.terminal, event.direction = True, -1
    ref = solve_ivp(_fun, (0.0, 100.0), X0, method=method, rtol=1e-10, atol=1e-12, events=event)
    run = integrate_to_norm(_fun, (0.0, 100.0), X0, norm=_norm, target=target,
                            norm_of_f=_norm_of_f if read_f else None, method=method, rtol=1e-10, atol=1e-12)
    assert ref.status == 1 and run.status == "converged"
    assert np.array_equal(run.t, ref.t)
    assert np.array_equal(run.y, ref.y)


def test_crossing_time_matches_the_closed_form():
    """dx/dt = -x: |x(t)| = |x0| e^-t reaches the target at t = log(|x0| / target)."""
    x0 = np.array([3.0, 4.0])
    run = integrate_to_norm(lambda t, x: -x, (0.0, 50.0), x0, norm=lambda t, x: float(np.linalg.norm(x)),
                            target=1e-3, norm_of_f=_norm_of_f, rtol=1e-12, atol=1e-14)
    assert run.status == "converged"
    assert run.t[-1] == pytest.approx(np.log(5.0 / 1e-3), rel=1e-9)
    assert np.linalg.norm(run.y[:, -1]) == pytest.approx(1e-3, rel=1e-9)


def test_cap_and_finished_and_bad_method():
    calls = [0]

    def fun(t, x):
        calls[0] += 1
        return _fun(t, x)
    run = integrate_to_norm(fun, (0.0, 100.0), X0, norm=_norm, target=1e-12, cap=lambda: calls[0] >= 20,
                            rtol=1e-10, atol=1e-12)
    assert run.status == "cap" and calls[0] >= 20 and _norm(0, run.y[:, -1]) > 1e-12
    run = integrate_to_norm(_fun, (0.0, 1.0), X0, norm=_norm, target=1e-12)
    assert run.status == "finished" and run.t[-1] == 1.0
    with pytest.raises(ValueError, match="method"):
        integrate_to_norm(_fun, (0.0, 1.0), X0, norm=_norm, target=1.0, method="Euler")


def test_a_norm_read_too_high_misses_the_stop():
    """The rule needs ``norm_of_f`` to be a lower bound: one that reads every evaluation as
    large never lets the exact norm be checked, and the flow runs to the end of its span."""
    run = integrate_to_norm(_fun, (0.0, 100.0), X0, norm=_norm, target=1e-6,
                            norm_of_f=lambda t, f: 1e300, rtol=1e-10, atol=1e-12)
    assert run.status == "finished"


def test_a_crossing_inside_unchecked_steps_stops_at_a_step_with_the_norm_below_target():
    """``norm_of_f`` hides the norm (reads it as large) until t = 80, after the norm fell
    below the target (at t = log(0.1 / 1e-6) / 0.2 = 57.6, the slowest mode): the first exact check finds the norm below the target
    at both ends of its step, and the integration ends at the step's start, whose norm is
    already at most the target."""
    target = 1e-6
    run = integrate_to_norm(_fun, (0.0, 100.0), X0, norm=_norm, target=target,
                            norm_of_f=lambda t, f: 1e300 if t < 80.0 else _norm_of_f(t, f),
                            rtol=1e-10, atol=1e-12)
    assert run.status == "converged"
    assert "unchecked" in run.message
    assert np.log(0.1 / target) / 0.2 < run.t[-1] < 80.0
    assert _norm(0, run.y[:, -1]) <= target
    assert np.all(np.diff(run.t) > 0)


def test_a_start_at_the_target_stops_at_once_and_other_solvers_and_a_jacobian():
    run = integrate_to_norm(_fun, (0.0, 10.0), X0, norm=_norm, target=10.0)
    assert run.status == "converged" and run.t.tolist() == [0.0] and "start" in run.message
    from scipy.integrate import Radau

    # an OdeSolver class as the method, and the exact Jacobian -A: the same crossing
    a = integrate_to_norm(_fun, (0.0, 100.0), X0, norm=_norm, target=1e-6, method=Radau,
                          rtol=1e-10, atol=1e-12, jac=lambda t, x: -A)
    b = integrate_to_norm(_fun, (0.0, 100.0), X0, norm=_norm, target=1e-6, method="LSODA",
                          rtol=1e-10, atol=1e-12)
    assert a.status == b.status == "converged"
    assert a.t[-1] == pytest.approx(b.t[-1], rel=1e-6)


def test_a_failing_solver_is_reported():
    def blow_up(_t, x):  # dx/dt = x^2 from 1 reaches infinity at t = 1
        return x * x
    run = integrate_to_norm(blow_up, (0.0, 2.0), np.array([1.0]), norm=lambda t, x: float(abs(x[0])),
                            target=1e-3, method="RK45")
    assert run.status == "failed"
