"""The scenario format reference (key, type, unit, default, meaning), generated from the schema.

`docs/scenario-format.md` embeds this text between two marker lines; `ipabs schema --markdown`
prints it, and a test fails when the two differ.
"""

from __future__ import annotations

import enum
import types
import typing
from typing import Any

from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from ipabs.scenario.model import IDENTIFIER_PATTERN, Scenario, Spec, nested_specs

BEGIN = "<!-- BEGIN GENERATED KEY REFERENCE: ipabs schema --markdown -->"
END = "<!-- END GENERATED KEY REFERENCE -->"


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        names = [_type_name(a) for a in args if a is not type(None)]
        return " | ".join(dict.fromkeys(names))
    if origin is tuple:
        return f"array of {_type_name(args[0])}"
    if origin is typing.Annotated:
        return _type_name(args[0])
    if origin is typing.Literal:
        return " | ".join(repr(a) for a in args)
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return "string"
    if isinstance(annotation, type) and issubclass(annotation, Spec):
        return "table"
    if origin is typing.Annotated:
        return _type_name(args[0])
    return {int: "integer", float: "float", str: "string", bool: "boolean"}.get(
        annotation, getattr(annotation, "__name__", str(annotation))
    )


def _default(info: FieldInfo) -> str:
    if info.is_required():
        return "required"
    value = info.default
    if value is None:
        return "none"
    if isinstance(value, enum.Enum):
        return f'`"{value.value}"`'
    if isinstance(value, Spec):
        return "see table"
    if value is PydanticUndefined:
        return "required"
    if isinstance(value, tuple):
        return "`[" + ", ".join(f'"{v}"' if isinstance(v, str) else str(v) for v in value) + "]`"
    if isinstance(value, float | int) and not isinstance(value, bool):
        return f"`{value:_}`" if abs(value) >= 10_000 else f"`{value}`"
    if isinstance(value, str):
        return f'`"{value}"`'
    return f"`{value}`"


def _is_array(annotation: Any) -> bool:
    if typing.get_origin(annotation) is tuple:
        return True
    return any(_is_array(a) for a in typing.get_args(annotation))


def key_paths(model: type[Spec] = Scenario, prefix: str = "") -> list[tuple[str, FieldInfo]]:
    """Every key of the format as a dotted path, arrays of tables written `name[]`, and the
    variants of a tagged table written `name[kind = "..."]`."""
    out: list[tuple[str, FieldInfo]] = []
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        out.append((path, info))
        specs = nested_specs(info.annotation)
        if len(specs) == 1:
            sep = "[]." if _is_array(info.annotation) else "."
            out.extend(key_paths(specs[0], path + sep))
        for variant in specs if len(specs) > 1 else ():
            tag = typing.get_args(variant.model_fields["kind"].annotation)[0]
            out.extend(key_paths(variant, f'{path}[kind = "{tag}"].'))
    return out


def markdown() -> str:
    lines = [BEGIN, "", "| key | type | unit | default | meaning |", "|---|---|---|---|---|"]
    for path, info in key_paths():
        unit = (
            (info.json_schema_extra or {}).get("unit", "")
            if isinstance(info.json_schema_extra, dict)
            else ""
        )
        desc = (info.description or "").replace("|", "\\|")
        constraints = _constraints(info)
        if constraints:
            desc += f" Allowed: {constraints}."
        lines.append(
            f"| `{path}` | {_type_name(info.annotation)} | {unit} | {_default(info)} | {desc} |"
        )
    lines += ["", END]
    return "\n".join(lines)


def _constraints(info: FieldInfo) -> str:
    parts = []
    for item in info.metadata:
        for attr, sym in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
            v = getattr(item, attr, None)
            if v is not None:
                parts.append(
                    f"{sym} {v:_}" if isinstance(v, int) and abs(v) >= 10_000 else f"{sym} {v}"
                )
        if getattr(item, "pattern", None) == IDENTIFIER_PATTERN:
            parts.append("letters, digits, _ . - (at most 64)")
        if (
            getattr(item, "min_length", None)
            and getattr(item, "pattern", None) != IDENTIFIER_PATTERN
        ):
            parts.append(
                f"at least {item.min_length} item(s)"
                if _is_array(info.annotation)
                else f"length >= {item.min_length}"
            )
    ann = info.annotation
    for arg in (ann, *typing.get_args(ann)):
        if isinstance(arg, type) and issubclass(arg, enum.Enum):
            parts.append("one of " + ", ".join(f'"{m.value}"' for m in arg))
    return ", ".join(parts)


def replace_block(text: str, begin: str, end: str, block: str) -> str:
    """`text` with the part from `begin` to `end` (markers included) replaced by `block`."""
    start, stop = text.index(begin), text.index(end) + len(end)
    return text[:start] + block + text[stop:]


if __name__ == "__main__":
    # python -m ipabs.scenario.reference docs/scenario-format.md : regenerate the key table in place
    import sys
    from pathlib import Path

    for name in sys.argv[1:]:
        doc = Path(name)
        doc.write_text(replace_block(doc.read_text(), BEGIN, END, markdown()))
