"""Implied ratings: a tranche's expected loss (or probability of loss) against a table by rating
and tenor, interpolated at the tranche's WAL (docs/model.md, section 5.1)."""

from ipabs.ratings.implied import implied_ratings
from ipabs.ratings.tables import BUILT_IN, RatingTable

__all__ = ["BUILT_IN", "RatingTable", "implied_ratings"]
