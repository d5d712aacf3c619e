"""Deterministic synthetic pricing world with exported ground truth.

What is planted (per business unit):

* **Order lines** grouped in deals. A line's discount is

  ``d = clip(mu(x) + s(segment) * (sqrt(rho) * u_deal + sqrt(1 - rho) * e_line), 0, 0.6)``

  with ``u_deal, e_line ~ N(0, 1)`` independent, ``mu`` a function of quantity
  (log), product family, region, customer tier and the customer relationship
  (a per-customer random effect), and a noise scale ``s`` that depends on the
  segment (customer tier × product family): the discounts are heteroscedastic.
  Lines of one deal share ``u_deal`` (their errors are partially correlated,
  ``rho`` = :data:`DEAL_SHARE`). The marginal of one line given ``mu`` is
  ``N(mu, s^2)`` clipped; clipping is monotone, so every true quantile is
  exactly ``clip(mu + s * z_q, 0, 0.6)`` — exported for q = 5/10/50/90/95 %.
* **Quotes** won or lost with probability
  ``sigmoid(a + b * discount - c * log(list_value / 10_000) + segment + k * w_c)``
  where ``w_c`` is a latent customer propensity (visible to models only through
  the customer's past win rate). :func:`true_win_probability` evaluates it at
  any discount.

Sizes: ``tiny`` (2 business units, ~6 months; unit tests), ``demo`` (3 business
units, 18 months, ~5,600 lines in the last 30 days), ``large`` (benchmarks).

Variants (config ``world_variant``): ``shipped`` (above) and ``segment_median``, a
deliberately different world where ``mu`` is a constant per segment (business unit ×
product family × customer tier: ``bu_base + family + tier``) — no quantity, region,
product or customer signal — so the optimal discount is the segment median plus noise
(the same heteroscedastic, deal-correlated noise) and the segment-median rule is
near-optimal. Every other draw is the same as in the shipped world of that seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl
from scipy.special import expit
from scipy.stats import norm

MAX_DISCOUNT = 0.6
DEAL_SHARE = 0.4  # share of the noise variance common to every line of a deal
TRUE_QUANTILES = (0.05, 0.10, 0.50, 0.90, 0.95)
WORLD_VARIANTS = ("shipped", "segment_median")

FAMILIES = ("hardware", "software", "services", "support")
REGIONS = ("north", "south", "east", "west")
TIERS = ("strategic", "enterprise", "mid", "smb")

FAMILY_EFFECT = {"hardware": 0.05, "software": 0.10, "services": 0.00, "support": 0.03}
FAMILY_SIGMA = {"hardware": 1.0, "software": 1.35, "services": 0.7, "support": 0.9}
FAMILY_PRICE = {"hardware": 900.0, "software": 400.0, "services": 1500.0, "support": 250.0}
FAMILY_COST = {"hardware": 0.55, "software": 0.15, "services": 0.45, "support": 0.30}
REGION_EFFECT = {"north": 0.02, "south": -0.01, "east": 0.0, "west": -0.02}
TIER_EFFECT = {"strategic": 0.08, "enterprise": 0.05, "mid": 0.02, "smb": 0.0}
TIER_SIGMA = {"strategic": 0.030, "enterprise": 0.040, "mid": 0.050, "smb": 0.065}
TIER_SHARE = {"strategic": 0.10, "enterprise": 0.25, "mid": 0.35, "smb": 0.30}
TIER_QTY = {"strategic": 3.0, "enterprise": 2.5, "mid": 1.8, "smb": 1.2}  # lognormal mean of qty

# Win probability: sigmoid(A + B * discount - C * log(value / 10k) + SEG + K * w_c)
WIN_A, WIN_B, WIN_C, WIN_K = -1.2, 6.0, 0.35, 1.0
SEGMENT_WIN = {"strategic": 0.4, "enterprise": 0.2, "mid": 0.0, "smb": -0.3}


@dataclass(frozen=True)
class SizeSpec:
    bus: tuple[str, ...]
    start: date
    end: date
    deals_per_day: float
    quotes_per_day: float
    customers: int
    products_per_family: int


SIZES: dict[str, SizeSpec] = {
    "tiny": SizeSpec(("na", "emea"), date(2023, 7, 1), date(2024, 6, 30), 6.0, 5.0, 300, 8),
    "demo": SizeSpec(
        ("na", "emea", "apac"), date(2023, 1, 1), date(2024, 6, 30), 28.0, 10.0, 1500, 25
    ),
    "large": SizeSpec(
        ("na", "emea", "apac", "latam"), date(2022, 1, 1), date(2024, 6, 30), 120.0, 40.0, 8000, 60
    ),
}


@dataclass
class PricingWorld:
    """The contract tables plus ground truth of one synthetic pricing world."""

    order_lines: pl.DataFrame
    quotes: pl.DataFrame
    line_truth: pl.DataFrame  # order_line_id, mu, sigma, q05, q10, q50, q90, q95
    quote_truth: pl.DataFrame  # quote_id, base_logit, discount_slope, true_win_prob
    as_of: date
    business_units: tuple[str, ...]

    def tables(self) -> dict[str, pl.DataFrame]:
        """The input-contract tables (what a user's source would hold)."""
        return {"order_lines": self.order_lines, "quotes": self.quotes}

    def truth_tables(self) -> dict[str, pl.DataFrame]:
        return {"line_truth": self.line_truth, "quote_truth": self.quote_truth}


def true_quantile(mu: np.ndarray, sigma: np.ndarray, q: float) -> np.ndarray:
    """Exact q-quantile of ``clip(N(mu, sigma^2), 0, MAX_DISCOUNT)``."""
    return np.clip(mu + sigma * norm.ppf(q), 0.0, MAX_DISCOUNT)


def true_win_probability(quotes: pl.DataFrame, discount: float | np.ndarray) -> np.ndarray:
    """True P(win) of each quote at ``discount`` (a scalar or one value per row).

    ``quotes`` must carry ``base_logit`` and ``discount_slope`` (join the world's
    ``quote_truth`` on ``quote_id``, or pass ``quote_truth`` itself).
    """
    base = quotes["base_logit"].to_numpy()
    slope = quotes["discount_slope"].to_numpy()
    return expit(base + slope * np.asarray(discount, dtype=float))


def _bu_world(
    bu: str, bu_index: int, spec: SizeSpec, rng: np.random.Generator, variant: str = "shipped"
):
    n_days = (spec.end - spec.start).days + 1
    n_cust = spec.customers
    # --- customers -----------------------------------------------------------
    tiers = rng.choice(len(TIERS), size=n_cust, p=[TIER_SHARE[t] for t in TIERS])
    regions = rng.integers(0, len(REGIONS), size=n_cust)
    relationship = rng.normal(0.0, 0.035, size=n_cust)  # customer-specific discount habit
    win_latent = rng.normal(0.0, 1.0, size=n_cust)
    activity = rng.gamma(1.5, 1.0, size=n_cust) * np.array([4, 2.5, 1.5, 1.0])[tiers]
    activity = activity / activity.sum()
    bu_base = 0.08 + 0.02 * bu_index
    # --- products --------------------------------------------------------------
    n_prod = spec.products_per_family * len(FAMILIES)
    prod_family = np.repeat(np.arange(len(FAMILIES)), spec.products_per_family)
    prod_price = np.array([FAMILY_PRICE[FAMILIES[f]] for f in prod_family]) * rng.lognormal(
        0.0, 0.6, size=n_prod
    )
    prod_price = np.round(prod_price, 2)
    prod_cost_ratio = np.array([FAMILY_COST[FAMILIES[f]] for f in prod_family]) * rng.uniform(
        0.85, 1.15, size=n_prod
    )
    prod_floor_disc = rng.uniform(0.45, 0.58, size=n_prod)
    prod_effect = rng.normal(0.0, 0.015, size=n_prod)
    # --- deals ------------------------------------------------------------------
    day_idx = np.arange(n_days)
    season = 1.0 + 0.25 * np.sin(2 * np.pi * day_idx / 91.0)  # quarter-end pushes
    n_deals_day = rng.poisson(spec.deals_per_day * season)
    deal_day = np.repeat(day_idx, n_deals_day)
    n_deals = deal_day.size
    deal_cust = rng.choice(n_cust, size=n_deals, p=activity)
    deal_lines = 1 + rng.poisson(1.6, size=n_deals)
    deal_shock = rng.normal(size=n_deals)
    # --- lines --------------------------------------------------------------------
    line_deal = np.repeat(np.arange(n_deals), deal_lines)
    n_lines = line_deal.size
    cust = deal_cust[line_deal]
    tier = tiers[cust]
    product = rng.integers(0, n_prod, size=n_lines)
    fam = prod_family[product]
    qty = np.maximum(1, np.round(rng.lognormal(np.array([TIER_QTY[t] for t in TIERS])[tier], 0.8)))
    qty = np.minimum(qty, 500).astype(np.int64)
    fam_eff = np.array([FAMILY_EFFECT[f] for f in FAMILIES])[fam]
    reg_eff = np.array([REGION_EFFECT[r] for r in REGIONS])[regions[cust]]
    tier_eff = np.array([TIER_EFFECT[t] for t in TIERS])[tier]
    mu = (
        bu_base
        + fam_eff
        + reg_eff
        + tier_eff
        + 0.03 * np.log(qty)
        + relationship[cust]
        + prod_effect[product]
    )
    if variant == "segment_median":  # the segment alone: the segment-median rule is optimal
        mu = bu_base + fam_eff + tier_eff + np.zeros(n_lines)
    sigma = (
        np.array([TIER_SIGMA[t] for t in TIERS])[tier]
        * np.array([FAMILY_SIGMA[f] for f in FAMILIES])[fam]
    )
    eps = np.sqrt(DEAL_SHARE) * deal_shock[line_deal] + np.sqrt(1 - DEAL_SHARE) * rng.normal(
        size=n_lines
    )
    discount = np.clip(mu + sigma * eps, 0.0, MAX_DISCOUNT)
    list_price = prod_price[product]
    sell_price = list_price * (1.0 - discount)
    unit_cost = np.round(list_price * prod_cost_ratio[product], 2)
    floor_price = np.round(list_price * (1.0 - prod_floor_disc[product]), 2)
    dates = np.datetime64(spec.start, "D") + np.arange(n_days).astype("timedelta64[D]")
    prefix = f"{bu}-"
    lines = pl.DataFrame(
        {
            "bu_id": bu,
            "deal_id": [f"{prefix}D{i:07d}" for i in line_deal],
            "order_line_id": [f"{prefix}L{i:08d}" for i in range(n_lines)],
            "customer_id": [f"{prefix}C{c:05d}" for c in cust],
            "product_id": [f"{prefix}P{p:04d}" for p in product],
            "product_family": np.array(FAMILIES)[fam],
            "region": np.array(REGIONS)[regions[cust]],
            "customer_tier": np.array(TIERS)[tier],
            "order_date": dates[deal_day[line_deal]],
            "list_price": list_price,
            "sell_price": sell_price,
            "quantity": qty,
            "unit_cost": unit_cost,
            "floor_price": floor_price,
        }
    ).with_columns(pl.col("order_date").cast(pl.Date))
    truth = {"order_line_id": lines["order_line_id"], "mu": mu, "sigma": sigma}
    for q in TRUE_QUANTILES:
        truth[f"q{round(q * 100):02d}"] = true_quantile(mu, sigma, q)
    line_truth = pl.DataFrame(truth)

    # --- quotes -----------------------------------------------------------------
    n_q_day = rng.poisson(spec.quotes_per_day * season)
    q_day = np.repeat(day_idx, n_q_day)
    n_q = q_day.size
    q_cust = rng.choice(n_cust, size=n_q, p=activity)
    q_tier = tiers[q_cust]
    value = np.round(
        np.exp(rng.normal(np.log(8000.0) + 0.5 * (3 - q_tier), 0.9, size=n_q)), 2
    )  # strategic deals are bigger
    offered = np.clip(
        0.05
        + np.array([TIER_EFFECT[t] for t in TIERS])[q_tier]
        + rng.uniform(0.0, 0.3, size=n_q)
        + 0.5 * relationship[q_cust],
        0.0,
        MAX_DISCOUNT,
    )
    seg = np.array([SEGMENT_WIN[t] for t in TIERS])[q_tier]
    base_logit = WIN_A - WIN_C * np.log(value / 10_000.0) + seg + WIN_K * win_latent[q_cust]
    p_win = expit(base_logit + WIN_B * offered)
    won = rng.uniform(size=n_q) < p_win
    close_lag = rng.integers(3, 31, size=n_q)
    q_dates = dates[q_day]
    close_dates = q_dates + close_lag.astype("timedelta64[D]")
    quotes = pl.DataFrame(
        {
            "bu_id": bu,
            "quote_id": [f"{prefix}Q{i:07d}" for i in range(n_q)],
            "customer_id": [f"{prefix}C{c:05d}" for c in q_cust],
            "quote_date": q_dates,
            "list_value": value,
            "discount_offered": np.round(offered, 4),
            "region": np.array(REGIONS)[regions[q_cust]],
            "segment": np.array(TIERS)[q_tier],
            "outcome": np.where(won, "won", "lost"),
            "close_date": close_dates,
        }
    ).with_columns(pl.col("quote_date").cast(pl.Date), pl.col("close_date").cast(pl.Date))
    # Quotes still open at the world's end have no outcome yet: drop them.
    keep = quotes["close_date"] <= spec.end
    quotes = quotes
    quote_truth = pl.DataFrame(
        {
            "quote_id": quotes["quote_id"],
            "base_logit": base_logit,
            "discount_slope": np.full(n_q, WIN_B),
            "true_win_prob": p_win,
        }
    ).filter(keep)
    return lines, line_truth, quotes.filter(keep), quote_truth


def generate_world(size: str = "demo", seed: int = 42, variant: str = "shipped") -> PricingWorld:
    """Generate the world of ``size`` (``tiny``/``demo``/``large``) and ``variant``
    (:data:`WORLD_VARIANTS`, see the module docstring) from ``seed``.

    The same size, seed and variant always give the same tables (row for row).
    """
    if size not in SIZES:
        raise ValueError(f"unknown pricing world size {size!r}; use one of {sorted(SIZES)}")
    if variant not in WORLD_VARIANTS:
        raise ValueError(f"unknown pricing world variant {variant!r}; use one of {WORLD_VARIANTS}")
    spec = SIZES[size]
    parts = []
    for i, bu in enumerate(spec.bus):
        rng = np.random.default_rng([seed, i, 7])
        parts.append(_bu_world(bu, i, spec, rng, variant))
    lines = pl.concat([p[0] for p in parts])
    return PricingWorld(
        order_lines=lines,
        quotes=pl.concat([p[2] for p in parts]),
        line_truth=pl.concat([p[1] for p in parts]),
        quote_truth=pl.concat([p[3] for p in parts]),
        as_of=spec.end,
        business_units=spec.bus,
    )
