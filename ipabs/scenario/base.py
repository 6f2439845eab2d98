"""Building blocks of the scenario schema: the frozen table base and the common value types."""

from __future__ import annotations

import typing
from collections.abc import Iterable
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, Strict


def _field(default: Any = ..., *, unit: str = "", description: str, **kw: Any) -> Any:
    extra = {"unit": unit} if unit else None
    return Field(default, description=description, json_schema_extra=extra, **kw)


class Spec(BaseModel):
    """Base of every scenario table: frozen, unknown keys refused, no NaN or infinity."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


IDENTIFIER_PATTERN = r"^[A-Za-z0-9_.\-]+$"
Identifier = Annotated[str, Field(min_length=1, max_length=64, pattern=IDENTIFIER_PATTERN)]
#: a label for people (tables, charts): any script, Chinese included, no control characters
#: text shown on pages (a class's or the deal's name, a provider): any script, but no control
#: characters (line breaks, tabs, NUL, ESC) and no bidirectional overrides or isolates
#: (U+202A-U+202E, U+2066-U+2069), which would reverse the sentences a name is put in
DISPLAY_NAME_PATTERN = r"^[^\x00-\x1f\x7f\u202a-\u202e\u2066-\u2069]+$"
DisplayName = Annotated[str, Field(min_length=1, max_length=80, pattern=DISPLAY_NAME_PATTERN)]
#: The largest money amount a scenario may give (an income, a balance, a fee, a cap, a limit), in
#: the deal's currency units: 10^15, several times China's annual GDP in yuan, so no real deal is
#: refused. The engine's results do not depend on the scale below it (the shipped scenarios scaled
#: so that their largest amount is 10^17 give the same losses, prices and ratings to 1e-13), and
#: sums and growth of such amounts stay far from the float range, so results stay finite.
MAX_AMOUNT = 10**15
Amount = Annotated[float, Field(ge=0, le=MAX_AMOUNT)]
#: a principal balance: above zero, at most MAX_AMOUNT
Balance = Annotated[float, Field(gt=0, le=MAX_AMOUNT)]
#: a boolean: TOML's true or false only (a tape cell "true"/"false" is converted before); no
#: "yes", "on" or 1
Flag = Annotated[bool, Strict()]
Probability = Annotated[float, Field(ge=0, le=1)]
Loading = Annotated[float, Field(ge=0, le=1)]


class Names(tuple[str, ...]):
    """Names in their order (for listing and "did you mean") with a set's constant-time `in`,
    so that checking n references against n ids stays linear."""

    _index: frozenset[str]

    def __new__(cls, names: Iterable[str]) -> Names:
        self = super().__new__(cls, names)
        self._index = frozenset(self)
        return self

    def __contains__(self, name: object) -> bool:
        return name in self._index


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
