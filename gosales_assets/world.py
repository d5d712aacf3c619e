"""Deterministic synthetic gosales world with exact ground truth.

The world is a monthly purchase process per customer × division. In month ``t``
customer ``i`` buys into division ``d`` with probability ``sigmoid(eta)``::

    eta = base[d] + industry[ind_i, d] + region[reg_i] + size * log_size_i
          + u_i * load[d] + v[i, d]                 # latent propensity (v correlated across
                                                    #   divisions: cross-division affinity)
          + season[d, month_of_year(t)]             # seasonality (Q4, quarter ends, summer)
          + habit[d] * exp(-(k - 1) / 4)            # recency: k months since the last purchase
          + freq[d] * log1p(n24)                    # frequency: purchase months in the last 24
          + renew[src, d] * expiring(src, t)        # install-base expiries drive renewals
          + onboarding[d] * (tenure < 6 months)

Every term is either static, a calendar function, the customer's own history
in ``d`` before ``t``, or install-base expiries. That is what makes the ground
truth exact: on the path where the customer does *not* buy ``d`` inside the
label window, ``d``'s own history is frozen (``k`` grows by one a month, ``n24``
loses months that fall out of 24), and assets bought inside the window have
terms longer than any window, so their expiries fall outside it. Hence::

    P(buy d in (C, C + W]) = 1 - prod_{m=c+1..c+W} (1 - sigmoid(eta_m | frozen history))

computed by the same :func:`_eta` that drives the simulation (one hazard, two uses).
The latent ``u``/``v`` are what even a perfect model cannot see; they are kept
moderate so that history reveals most of them (the oracle gap is small but real).

Output tables follow the gosales input contract (docs/data_contracts.md):
``customers``, ``transactions``, ``assets`` (install base), plus ``truth``
(customer_id, division, cutoff_date, window_months, true_prob) at every month
end whose window is inside the data.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import polars as pl

DIVISIONS = ("hardware", "software", "services", "maintenance", "training", "printers")

# Monthly base log-odds. `training` is the sparse division (< 1% buy in 6 months).
_BASE = np.array([-4.0, -3.7, -4.5, -4.6, -7.6, -4.9])
_HABIT = np.array([1.4, 1.1, 1.5, 1.2, 1.2, 1.3])
_FREQ = np.array([0.6, 0.55, 0.6, 0.65, 0.5, 0.6])
_LOAD = np.array([1.0, 0.9, 1.0, 0.7, 0.8, 0.9])
_ONBOARD = np.array([0.8, 0.9, 0.6, 0.0, 1.0, 0.3])
_PRICE = np.array([900.0, 350.0, 1400.0, 450.0, 250.0, 600.0])
_MARGIN = np.array([0.18, 0.65, 0.35, 0.55, 0.5, 0.22])
# Install base: divisions whose purchases create assets, asset term (months), and
# the probability that a purchase creates one. Terms exceed any supported window
# (<= 10 months), which keeps the truth exact.
_ASSET_TERM = {0: 36, 1: 12, 5: 24}
_ASSET_PROB = {0: 0.8, 1: 0.9, 5: 0.7}
# Renewal lift on division d when an asset of source division s expires this or next month.
_RENEW = {0: {0: 0.9, 3: 1.6}, 1: {1: 2.0}, 5: {5: 0.9, 3: 0.9}}


@dataclass(frozen=True)
class WorldParams:
    """The hazard's coefficients (module docstring) and the scales of its random effects."""

    base: np.ndarray
    habit: np.ndarray
    freq: np.ndarray
    load: np.ndarray
    onboard: np.ndarray
    renew: dict
    industry_sd: float = 0.6
    region_sd: float = 0.15
    size_coef: float = 0.15
    u_sd: float = 0.2
    v_sd: float = 0.12
    season_scale: float = 1.0


VARIANTS: dict[str, WorldParams] = {
    # The shipped world: strong habit/frequency, install-base renewals, onboarding bursts.
    "shipped": WorldParams(_BASE, _HABIT, _FREQ, _LOAD, _ONBOARD, _RENEW),
    # `world_variant: weak_signal`: six-month base rates from ~1% (training, printers: sparse)
    # to ~25% (software); weak habit and frequency, no renewal lift and no onboarding burst
    # (the install base and tenure carry no signal: fewer interactions, a hazard close to
    # linear in static attributes), and a larger latent propensity no model sees.
    "weak_signal": WorldParams(
        base=np.array([-4.3, -3.3, -4.6, -5.0, -6.6, -6.3]),
        habit=np.array([0.45, 0.35, 0.4, 0.5, 0.3, 0.4]),
        freq=np.array([0.2, 0.15, 0.2, 0.25, 0.15, 0.2]),
        load=np.array([1.0, 0.9, 1.0, 0.8, 0.9, 0.9]),
        onboard=np.zeros(6),
        renew={},
        industry_sd=0.35,
        region_sd=0.1,
        size_coef=0.1,
        u_sd=0.45,
        v_sd=0.3,
        season_scale=0.4,
    ),
}
MAX_WINDOW_MONTHS = 10

INDUSTRIES = {
    "manufacturing": ["discrete", "process"],
    "healthcare": ["hospital", "clinic"],
    "education": ["k12", "higher_ed"],
    "finance": ["banking", "insurance"],
    "retail": ["store", "ecommerce"],
    "government": ["federal", "local"],
    "technology": ["software", "hardware"],
    "construction": ["commercial", "residential"],
}
REGIONS = ("north", "south", "east", "west", "central")

SIZES = {
    # customers, first month, months, lines per purchase event (1 + Poisson(mean))
    "tiny": {"customers": 700, "start": date(2022, 1, 1), "months": 36, "extra_lines": 1.0},
    "small": {"customers": 4000, "start": date(2021, 1, 1), "months": 48, "extra_lines": 1.0},
    "demo": {"customers": 12000, "start": date(2019, 1, 1), "months": 72, "extra_lines": 1.0},
    "large": {"customers": 200_000, "start": date(2021, 1, 1), "months": 48, "extra_lines": 5.0},
}


@dataclass
class GosalesWorld:
    """A generated world: contract tables, exact truth and what made them."""

    customers: pl.DataFrame
    transactions: pl.DataFrame
    assets: pl.DataFrame
    truth: pl.DataFrame
    divisions: tuple[str, ...]
    as_of: date
    seed: int
    size: str
    params: dict = field(default_factory=dict)

    def tables(self) -> dict[str, pl.DataFrame]:
        """The input-contract tables (what a user's source would hold)."""
        return {
            "customers": self.customers,
            "transactions": self.transactions,
            "assets": self.assets,
        }


def _month_start(start: date, t: int) -> date:
    y, m = divmod(start.month - 1 + t, 12)
    return date(start.year + y, m + 1, 1)


def _month_end(start: date, t: int) -> date:
    d = _month_start(start, t)
    return date(d.year, d.month, calendar.monthrange(d.year, d.month)[1])


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _season(rng: np.random.Generator, scale: float = 1.0) -> np.ndarray:
    """Month-of-year effect per division, shape (12, D), multiplied by ``scale``."""
    shape = np.zeros(12)
    shape[11] += 0.55  # December budget flush
    shape[[2, 5, 8]] += 0.2  # quarter ends
    shape[[6, 7]] -= 0.3  # summer
    amp = rng.uniform(0.6, 1.4, len(DIVISIONS))
    season = shape[:, None] * amp[None, :]
    season[[0, 8], 4] += 0.6  # training: January and September
    return season * scale


def demo_cutoffs() -> list[str]:
    """The demo config's cutoffs (labels and holdout both inside the demo history)."""
    return ["2023-09-30", "2023-12-31"]


class _Process:
    """Static parameters of the world and the one hazard used for simulation and truth."""

    def __init__(
        self,
        n: int,
        months: int,
        start: date,
        rng: np.random.Generator,
        params: WorldParams = VARIANTS["shipped"],
    ):
        D = len(DIVISIONS)
        self.n, self.months, self.start, self.p = n, months, start, params
        ind_names = list(INDUSTRIES)
        self.industry = rng.integers(0, len(ind_names), n)
        self.region = rng.integers(0, len(REGIONS), n)
        self.log_size = rng.normal(0.0, 1.0, n)
        # Created between six years before the history and three months before its end.
        self.created_t = rng.integers(-72, months - 3, n)
        self.created_dom = rng.integers(0, 28, n)  # day of month (0-based) of creation
        ind_eff = rng.normal(0.0, params.industry_sd, (len(ind_names), D))
        reg_eff = rng.normal(0.0, params.region_sd, len(REGIONS))
        u = rng.normal(0.0, params.u_sd, n)
        # Cross-division affinity: hardware/maintenance/printers and software/services/training
        # share factors, so buying one reveals propensity for the others.
        corr = np.eye(D)
        for a, b, r in [
            (0, 3, 0.6),
            (0, 5, 0.5),
            (3, 5, 0.4),
            (1, 2, 0.6),
            (1, 4, 0.5),
            (2, 4, 0.4),
        ]:
            corr[a, b] = corr[b, a] = r
        v = rng.multivariate_normal(np.zeros(D), corr * params.v_sd**2, n)
        self.static = (
            params.base[None, :]
            + ind_eff[self.industry]
            + reg_eff[self.region][:, None]
            + params.size_coef * self.log_size[:, None]
            + u[:, None] * params.load[None, :]
            + v
        )
        self.season = _season(rng, params.season_scale)
        self.moy = np.array([(start.month - 1 + t) % 12 for t in range(months)])
        # expiring[s][t, i]: assets of source division s expiring at month t (count).
        self.expiring = {s: np.zeros((months + 40, n), dtype=np.int16) for s in _ASSET_TERM}

    def eta(self, t: int, last_t: np.ndarray, n24: np.ndarray) -> np.ndarray:
        """Log-odds of buying each division at month ``t``, shape (n, D).

        ``last_t`` (n, D): month of the last purchase before ``t`` (very negative if never);
        ``n24`` (n, D): purchase months in ``[t-24, t-1]``.
        """
        k = t - last_t
        out = self.static + self.season[self.moy[t]][None, :]
        out = out + self.p.habit[None, :] * np.where(k < 400, np.exp(-(k - 1) / 4.0), 0.0)
        out = out + self.p.freq[None, :] * np.log1p(n24)
        for s, targets in self.p.renew.items():
            soon = (self.expiring[s][t] + self.expiring[s][t + 1]) > 0
            for d, lift in targets.items():
                out[:, d] += lift * soon
        tenure = t - self.created_t
        out = out + self.p.onboard[None, :] * (tenure < 6)[:, None]
        return np.where((self.created_t <= t)[:, None], out, -50.0)


def generate_world(
    size: str = "demo",
    seed: int = 42,
    window_months: int = 6,
    truth_cutoffs: list[date] | None = None,
    variant: str = "shipped",
    truth_windows: tuple[int, ...] = (),
) -> GosalesWorld:
    """Generate the world of ``size`` ("tiny", "small", "demo", "large") from ``seed``.

    Args:
        variant: a key of :data:`VARIANTS` (config ``world_variant``): ``shipped`` or the
            weaker, sparser ``weak_signal`` world; both have exact truth.
        truth_windows: further label windows to export truth for (a sparse division's
            widened window), each 1..10 months, at its own default cutoffs.
        window_months: label window of the exported truth (1..10 months).
        truth_cutoffs: month ends to export truth at; default every month end whose
            window closes inside the history (none for ``large``, the benchmark world).

    Returns:
        A :class:`GosalesWorld`; ``as_of`` is the last day of the history, which is
        also the last order date (the last month always has an order on its last day).
    """
    if variant not in VARIANTS:
        raise ValueError(f"unknown world variant {variant!r}; choose one of {sorted(VARIANTS)}")
    if size not in SIZES:
        raise ValueError(f"unknown world size {size!r}; choose one of {sorted(SIZES)}")
    windows = sorted({window_months, *truth_windows})
    if not all(1 <= w <= MAX_WINDOW_MONTHS for w in windows):
        raise ValueError(
            f"window_months={windows}: exact truth needs 1..{MAX_WINDOW_MONTHS} months"
        )
    spec = SIZES[size]
    rng = np.random.default_rng(seed)
    n, T, start = spec["customers"], spec["months"], spec["start"]
    D = len(DIVISIONS)
    proc = _Process(n, T, start, rng, VARIANTS[variant])

    bought = np.zeros((T, n, D), dtype=bool)
    cum = np.zeros((T + 1, n, D), dtype=np.int16)  # cum[t] = purchase months before t
    last_t = np.full((n, D), -10_000, dtype=np.int64)
    asset_rows: list[tuple[np.ndarray, np.ndarray, int, int]] = []
    for t in range(T):
        n24 = cum[t] - cum[max(0, t - 24)]
        p = _sigmoid(proc.eta(t, last_t, n24))
        buy = rng.random((n, D)) < p
        bought[t] = buy
        cum[t + 1] = cum[t] + buy
        last_t[buy] = t
        for s, term in _ASSET_TERM.items():
            who = np.nonzero(buy[:, s] & (rng.random(n) < _ASSET_PROB[s]))[0]
            if who.size:
                np.add.at(proc.expiring[s], (np.full(who.size, t + term), who), 1)
                asset_rows.append((who, np.full(who.size, s), t, term))

    customers = _customers(proc, rng)
    transactions = _transactions(proc, bought, rng, spec["extra_lines"])
    assets = _assets(proc, asset_rows, rng)
    as_of = _month_end(start, T - 1)

    truth = pl.concat(
        [
            _truth(
                proc,
                bought,
                cum,
                (
                    ([] if size == "large" else [_month_end(start, c) for c in range(12, T - w)])
                    if truth_cutoffs is None
                    else truth_cutoffs
                ),
                w,
            )
            for w in windows
        ]
    )
    return GosalesWorld(
        customers=customers,
        transactions=transactions,
        assets=assets,
        truth=truth,
        divisions=DIVISIONS,
        as_of=as_of,
        seed=seed,
        size=size,
        params={"customers": n, "months": T, "start": start.isoformat(), "variant": variant},
    )


def _customers(proc: _Process, rng: np.random.Generator) -> pl.DataFrame:
    ind_names = list(INDUSTRIES)
    subs = [
        INDUSTRIES[ind_names[i]][j]
        for i, j in zip(proc.industry, rng.integers(0, 2, proc.n), strict=True)
    ]
    created = [
        _month_start(proc.start, int(t)).replace(day=int(1 + d))
        for t, d in zip(proc.created_t, proc.created_dom, strict=True)
    ]
    ids = np.arange(1, proc.n + 1)
    return pl.DataFrame(
        {
            "customer_id": ids,
            "customer_name": [
                f"Customer {i:06d} {ind_names[k].title()}"
                for i, k in zip(ids, proc.industry, strict=True)
            ],
            "industry": [ind_names[k] for k in proc.industry],
            "industry_sub": subs,
            "region": [REGIONS[r] for r in proc.region],
            "territory": [
                f"{REGIONS[r]}-{1 + int(x)}" for r, x in zip(proc.region, ids % 3, strict=True)
            ],
            "rep_id": [f"rep{int(x):03d}" for x in (ids * 7919) % 97],
            "created_date": created,
        },
        schema_overrides={"customer_id": pl.Int64, "created_date": pl.Date},
    )


def _transactions(
    proc: _Process, bought: np.ndarray, rng: np.random.Generator, extra_lines: float
) -> pl.DataFrame:
    """One invoice per purchase event, 1 + Poisson(extra_lines) lines each."""
    T = bought.shape[0]
    t_idx, cust, div = np.nonzero(bought)
    n_events = t_idx.size
    month_start = np.array([np.datetime64(_month_start(proc.start, t)) for t in range(T)])
    days_in = np.array(
        [
            calendar.monthrange(m.year, m.month)[1]
            for m in (_month_start(proc.start, t) for t in range(T))
        ]
    )
    day = (rng.random(n_events) * days_in[t_idx]).astype(np.int64)
    last = np.nonzero(t_idx == T - 1)[0]
    if last.size:  # the history ends on its last day: one order is placed that day
        day[last[0]] = days_in[T - 1] - 1
    # A customer created mid-month buys on or after its creation day.
    first_month = t_idx == proc.created_t[cust]
    day = np.where(first_month, np.maximum(day, proc.created_dom[cust]), day)
    order = month_start[t_idx] + day.astype("timedelta64[D]")
    n_lines = 1 + rng.poisson(extra_lines, n_events)
    ev = np.repeat(np.arange(n_events), n_lines)
    size = np.exp(proc.log_size[cust[ev]])
    sku_no = rng.integers(1, 16, ev.size)
    qty = 1 + rng.poisson(0.6 * np.sqrt(size))
    unit = _PRICE[div[ev]] * np.exp(0.08 * sku_no - 0.6)
    revenue = np.round(qty * unit * rng.uniform(0.85, 1.0, ev.size), 2)
    gp = np.round(revenue * np.clip(_MARGIN[div[ev]] + rng.normal(0, 0.05, ev.size), 0.02, 0.9), 2)
    prefixes = np.array(["HW", "SW", "SV", "MT", "TR", "PR"])
    return pl.DataFrame(
        {
            "transaction_id": np.arange(1, ev.size + 1, dtype=np.int64),
            "invoice_id": (ev + 1).astype(np.int64),
            "customer_id": (cust[ev] + 1).astype(np.int64),
            "order_date": order[ev].astype("datetime64[D]"),
            "sku": np.char.add(
                np.char.add(prefixes[div[ev]], "-"), np.char.zfill(sku_no.astype(str), 3)
            ),
            "division": np.array(DIVISIONS)[div[ev]],
            "quantity": qty.astype(np.float64),
            "revenue": revenue,
            "gross_profit": gp,
        }
    ).with_columns(pl.col("order_date").cast(pl.Date))


def _assets(proc: _Process, rows: list, rng: np.random.Generator) -> pl.DataFrame:
    """Install base: one row per asset bought (purchase date inside its month, term from division)."""
    schema = {
        "customer_id": pl.Int64,
        "sku": pl.String,
        "division": pl.String,
        "purchase_date": pl.Date,
        "expiration_date": pl.Date,
        "quantity": pl.Float64,
    }
    if not rows:
        return pl.DataFrame(schema=schema)
    who = np.concatenate([r[0] for r in rows])
    src = np.concatenate([r[1] for r in rows])
    t = np.concatenate([np.full(r[0].size, r[2]) for r in rows])
    term = np.concatenate([np.full(r[0].size, r[3]) for r in rows])
    starts = np.array([np.datetime64(_month_start(proc.start, int(x))) for x in range(proc.months)])
    day = rng.integers(0, 28, who.size).astype("timedelta64[D]")
    purchase = starts[t] + day
    exp_start = np.array(
        [np.datetime64(_month_start(proc.start, int(a + b))) for a, b in zip(t, term, strict=True)]
    )
    prefixes = np.array(["HW", "SW", "SV", "MT", "TR", "PR"])
    return pl.DataFrame(
        {
            "customer_id": (who + 1).astype(np.int64),
            "sku": np.char.add(prefixes[src], "-BASE"),
            "division": np.array(DIVISIONS)[src],
            "purchase_date": purchase.astype("datetime64[D]"),
            "expiration_date": (exp_start + day).astype("datetime64[D]"),
            "quantity": (1 + rng.poisson(1.0, who.size)).astype(np.float64),
        }
    ).with_columns(pl.col("purchase_date").cast(pl.Date), pl.col("expiration_date").cast(pl.Date))


def _truth(
    proc: _Process,
    bought: np.ndarray,
    cum: np.ndarray,
    cutoffs: list[date],
    window: int,
) -> pl.DataFrame:
    """Exact P(buy d in (C, C+W]) for customers created by C (see the module docstring)."""
    T = bought.shape[0]
    index = {_month_end(proc.start, t): t for t in range(T)}
    frames = []
    for cutoff in cutoffs:
        if cutoff not in index:
            raise ValueError(f"truth cutoff {cutoff} is not a month end inside the history")
        c = index[cutoff]
        if c + window >= T:
            raise ValueError(
                f"truth cutoff {cutoff}: the {window}-month window ends after the data"
            )
        hist = bought[: c + 1]
        any_b = hist.any(axis=0)
        last_c = np.where(any_b, c - np.argmax(hist[::-1], axis=0), -10_000)
        log_none = np.zeros((proc.n, len(DIVISIONS)))
        for m in range(c + 1, c + window + 1):
            n24 = cum[c + 1] - cum[max(0, m - 24)]  # m - 24 <= c: windows are <= 10 months
            p = _sigmoid(proc.eta(m, last_c, n24))
            log_none += np.log1p(-np.minimum(p, 1 - 1e-12))
        prob = 1.0 - np.exp(log_none)
        # Population: customers created on or before the cutoff date.
        alive = proc.created_t <= c  # created in an earlier month or during month c
        ids = np.nonzero(alive)[0]
        frames.append(
            pl.DataFrame(
                {
                    "customer_id": np.repeat(ids + 1, len(DIVISIONS)).astype(np.int64),
                    "division": np.tile(np.array(DIVISIONS), ids.size),
                    "true_prob": prob[ids].reshape(-1),
                }
            ).with_columns(
                cutoff_date=pl.lit(cutoff, pl.Date), window_months=pl.lit(window, pl.Int32)
            )
        )
    if not frames:
        return pl.DataFrame(
            schema={
                "customer_id": pl.Int64,
                "division": pl.String,
                "cutoff_date": pl.Date,
                "window_months": pl.Int32,
                "true_prob": pl.Float64,
            }
        )
    return pl.concat(frames).select(
        "customer_id", "division", "cutoff_date", "window_months", "true_prob"
    )
