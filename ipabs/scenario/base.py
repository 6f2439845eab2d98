"""Building blocks of the scenario schema: the frozen table base and the common value types."""

from __future__ import annotations

import typing
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field


def _field(default: Any = ..., *, unit: str = "", description: str, **kw: Any) -> Any:
    extra = {"unit": unit} if unit else None
    return Field(default, description=description, json_schema_extra=extra, **kw)


class Spec(BaseModel):
    """Base of every scenario table: frozen, unknown keys refused, no NaN or infinity."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


IDENTIFIER_PATTERN = r"^[A-Za-z0-9_.\-]+$"
Identifier = Annotated[str, Field(min_length=1, max_length=64, pattern=IDENTIFIER_PATTERN)]
Amount = Annotated[float, Field(ge=0)]
Probability = Annotated[float, Field(ge=0, le=1)]
Loading = Annotated[float, Field(ge=0, le=1)]


def nested_specs(annotation: Any) -> list[type[Spec]]:
    """The table classes a field holds, through Optional, tuples and tagged unions."""
    found: list[type[Spec]] = []

    def walk(a: Any) -> None:
        if isinstance(a, type) and issubclass(a, Spec):
            found.append(a)
        for arg in typing.get_args(a):
            walk(arg)

    walk(annotation)
    return found
