"""What the solvers share: a target on one tranche's metric, tested on one simulation."""

from __future__ import annotations

from dataclasses import dataclass

from ipabs.errors import UserError
from ipabs.ratings.tables import table_for


@dataclass(frozen=True)
class Target:
    """At most `limit` of `metric` (expected_loss or prob_loss), or a rating: at most the limit
    of rating `rating` in the scenario's rating table at the tranche's WAL."""

    metric: str
    limit: float = 0.0
    rating: str | None = None

    @classmethod
    def of(
        cls,
        *,
        rating: str | None = None,
        expected_loss: float | None = None,
        loss_probability: float | None = None,
    ) -> Target:
        given = [x is not None for x in (rating, expected_loss, loss_probability)]
        if sum(given) != 1:
            raise UserError(
                "give exactly one target: a rating, an expected loss or a loss probability"
            )
        if rating is not None:
            return cls(metric="rating", rating=rating)
        value = expected_loss if expected_loss is not None else loss_probability
        if not 0.0 <= value <= 1.0:
            raise UserError(f"a target loss must be a fraction between 0 and 1, not {value}")
        return cls(
            metric="expected_loss" if expected_loss is not None else "prob_loss", limit=value
        )

    def describe(self) -> str:
        if self.rating is not None:
            return f"rating {self.rating} or better (95% upper bound of the table's metric)"
        name = "expected loss" if self.metric == "expected_loss" else "loss probability"
        if self.limit == 0.0:
            return f"{name} 0 (no loss on any path)"
        return f"{name} at most {self.limit:.6g} (95% upper bound)"

    def limit_for(self, results, tranche: str) -> tuple[str, float]:
        """(summary column, allowance) of the target for `tranche` in this run."""
        row = results.summary.set_index("tranche").loc[tranche]
        if self.rating is None:
            return self.metric, self.limit
        table = table_for(results.scenario.ratings)
        if self.rating not in table.ratings:
            raise UserError(
                f"rating {self.rating!r} is not in the rating table; it has: {', '.join(table.ratings)}"
            )
        tenor = table.tenor(float(row["wal_years"]), float(results.deal.t_years[-1]))
        limit = table.thresholds(tenor)[table.ratings.index(self.rating)]
        if table.metric == "expected_loss":
            column = "expected_loss"
        elif results.scenario.ratings.basis == "timely_interest":
            column = "prob_impaired"  # any interest shortfall or a principal loss
        else:
            column = "prob_loss"
        return column, float(limit)

    def excess(self, results, tranche: str, *, bound: bool = True) -> float:
        """The metric's one-sided 95% upper confidence bound (ipabs.ratings.implied; with
        `bound` False, the point estimate) minus its allowance for `tranche` (<= 0: the target is
        met with that confidence). Infinite when the run cannot bound it (no loss seen under
        importance sampling). A target of 0 ("no loss": expected_loss = 0 or loss_probability = 0)
        means no loss on any simulated path: no number of paths could bound a probability at 0,
        so it is read on the paths themselves. A rating's limit is always a bound."""
        column, limit = self.limit_for(results, tranche)
        row = results.summary.set_index("tranche").loc[tranche]
        if not bound or (self.rating is None and limit == 0.0):
            return float(row[column]) - limit
        return upper_bound(results, row, column) - limit


def upper_bound(results, row, column: str) -> float:
    """The one-sided 95% upper bound of a class's expected loss or loss probability."""
    from ipabs.ratings.implied import rating_bounds

    weighted = results.importance is not None and results.importance.enabled
    _, upper = rating_bounds(
        float(row[column]),
        float(row[f"{column}_se"]),
        int(row["paths_impaired" if column == "prob_impaired" else "paths_with_loss"]),
        results.paths_run,
        weighted,
        "expected_loss" if column == "expected_loss" else "loss_probability",
    )
    return upper
