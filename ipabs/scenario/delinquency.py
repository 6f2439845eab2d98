"""Delinquency at transfer: the five-category loan classification (五级分类) and the roll rates
between its categories (docs/model.md, section 3.8, "Seasoning and delinquency")."""

from __future__ import annotations

from typing import Literal

from ipabs.scenario.base import Probability, Spec, _field

#: the five categories in order of worsening; the last (损失, loss) is default, absorbing
RISK_CLASSES = ("normal", "special_mention", "substandard", "doubtful", "loss")
RiskClass = Literal["normal", "special_mention", "substandard", "doubtful", "loss"]

_ROW = (
    "Probabilities of moving in one step to normal, special_mention, substandard, doubtful and "
    "loss (default), in that order; they add up to 1."
)


class RollRates(Spec):
    period_months: int = _field(
        1, unit="months", description="Length of one step of the roll-rate matrix.", ge=1, le=12
    )
    normal: tuple[Probability, ...] = _field(
        description="From normal (正常): " + _ROW, min_length=5, max_length=5
    )
    special_mention: tuple[Probability, ...] = _field(
        description="From special mention (关注): " + _ROW, min_length=5, max_length=5
    )
    substandard: tuple[Probability, ...] = _field(
        description="From substandard (次级): " + _ROW, min_length=5, max_length=5
    )
    doubtful: tuple[Probability, ...] = _field(
        description="From doubtful (可疑): " + _ROW, min_length=5, max_length=5
    )

    default_multiplier: float = _field(
        1.0,
        description="Multiplies each chain loan's cumulative default probability (capped at 1): what a default_multiplier stress sets (1 + level); leave it at 1 otherwise (docs/model.md 3.8).",
        ge=0,
        le=100,
    )

    def rows(self) -> list[tuple[float, ...]]:
        return [self.normal, self.special_mention, self.substandard, self.doubtful]
