# pragma version 0.4.3
"""
@title Kinked utilisation interest curve and linear index growth (a stateless library module)
@notice Below the optimal utilisation the borrow rate climbs from the base rate by slope1;
        above it, by slope2 over the rest of the way to 100%. Rates are per year in basis
        points at the interface and in rays (10**27) inside.
"""

RAY: constant(uint256) = 10**27
MAX_BPS: constant(uint256) = 10_000
SECONDS_PER_YEAR: constant(uint256) = 365 * 86_400


@internal
@pure
def utilisation(debt: uint256, supplied: uint256) -> uint256:
    """@notice Debt over supply in rays, at most one ray; zero with nothing supplied."""
    if supplied == 0:
        return 0
    return min(debt * RAY // supplied, RAY)


@internal
@pure
def borrow_rate(
    utilisation_ray: uint256,
    base_bps: uint256,
    slope1_bps: uint256,
    slope2_bps: uint256,
    optimal_bps: uint256,
) -> uint256:
    """@notice Yearly borrow rate in rays at utilisation_ray (0 < optimal_bps < 10000)."""
    optimal: uint256 = optimal_bps * RAY // MAX_BPS
    rate: uint256 = base_bps * RAY // MAX_BPS
    if utilisation_ray <= optimal:
        return rate + slope1_bps * RAY // MAX_BPS * utilisation_ray // optimal
    rate += slope1_bps * RAY // MAX_BPS
    return rate + slope2_bps * RAY // MAX_BPS * (utilisation_ray - optimal) // (RAY - optimal)


@internal
@pure
def grow(index: uint256, rate_ray: uint256, seconds: uint256) -> uint256:
    """@notice index after `seconds` at the yearly rate_ray, simple (linear) interest."""
    return index + index * rate_ray * seconds // (SECONDS_PER_YEAR * RAY)
