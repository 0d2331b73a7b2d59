"""A recorded tool's JSON Schema as each RL consumer can take it: Python functions, verl's schema.

    python_tools(tools)   -> [PythonTool]: a Python identifier for each tool and argument, the
                             type hint and docstring text of each argument, for the generated
                             TRL tools module (exporters/_trl_tools.py)
    trl_schema(tool)      -> what ``transformers.utils.get_json_schema`` makes of that function;
                             the ``tools`` column of a ``--tools-module`` export holds exactly this
    verl_schema(tool)     -> the tool in verl's ``OpenAIFunctionToolSchema`` shape (tools.yaml)

TRL's GRPOTrainer renders the tools it is given as callables through ``get_json_schema``
(transformers/utils/chat_template_utils.py), which reads a function's name, its type hints and
a Google-style docstring with an ``Args:`` block. It can say: a description, per argument a type
(str, int, float, bool, None, list[T], dict[str, T], a Literal enum, unions, nullable) and its
description, and which arguments are required. It cannot say ``minimum``, ``pattern``,
``format``, ``default``, nested object properties and the like: those are written into the
argument's description instead, ``(minimum: -90; maximum: 90)``, so the model still reads them.
``trl_schema`` is that projection, computed here by the same rules and checked against
``get_json_schema`` itself in tests/exporters.

Names. A function's ``__name__`` is set to the recorded tool name (TRL maps a call to a tool by
``__name__``, and ``get_json_schema`` names the tool by it), so a tool name need not be a Python
identifier; the *attribute* (the name in the module, or the method of the environment class)
is ``python_identifier(name)``: non-word characters become ``_``, a leading digit or ``_`` gets
a ``t`` before it, a keyword or a reserved name (``reset``, ``get_reward``, the module's own
names) gets a ``_tool`` after it, and a clash a ``_2``, ``_3``... Arguments are keyword-only
parameters named the same way (``from`` becomes ``from_``, ``max-results`` becomes
``max_results``); an argument name that is not an identifier is therefore shown to the model
under its Python name, and the function maps it back to the recorded name before the replay
lookup. ``NAMES`` and ``PARAMETERS`` in the generated module list every mapping.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from schemas import Tool, compact_json

RESERVED = frozenset({
    "reset", "get_reward", "reward", "TOOLS", "NAMES", "PARAMETERS", "ReplayEnvironment", "self", "cls",
    "annotations", "Any", "Literal", "Path",
})
"""Names a tool or argument attribute may not take in the generated module (suffixed ``_tool``)."""

_NOTED = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minLength",
          "maxLength", "pattern", "format", "minItems", "maxItems", "uniqueItems", "default", "examples")
"""Schema keywords get_json_schema cannot express: written into the description, in this order."""
_DOC_SECTIONS = re.compile(r"(Args|Returns|Raises):")
_CHOICES_AT_END = re.compile(r"\(choices:\s*(.*?)\)\s*$", re.IGNORECASE)
_SCALARS = {bool: "boolean", int: "integer", float: "number", str: "string", type(None): "null"}
_BASIC = {"string": "str", "integer": "int", "number": "float", "boolean": "bool", "null": "None"}


@dataclass(frozen=True)
class Hint:
    """A type hint as get_json_schema reads it: its Python source and the schema it becomes."""

    source: str
    schema: dict[str, Any]
    parts: tuple[Hint, ...] = ()
    """A union's members (a union inside a union flattens, as typing's does)."""


@dataclass(frozen=True)
class PythonParam:
    """One argument of a generated tool function."""

    name: str
    """The recorded argument name (what the replay table holds)."""
    python: str
    """The keyword-only parameter name (what the model is shown)."""
    hint: Hint
    description: str
    """One line, as the docstring's Args: block gives it."""
    required: bool


@dataclass(frozen=True)
class PythonTool:
    """One tool as a generated Python function (TRL) or method (its environment class)."""

    tool: Tool
    python: str
    """The attribute name; the function's ``__name__`` is ``tool.name``."""
    description: str
    """The docstring's summary, as get_json_schema reads it back."""
    params: tuple[PythonParam, ...]


def python_identifier(name: str, taken: set[str]) -> str:
    """A Python identifier for ``name`` not in ``taken`` (see the module docstring); adds it."""
    ident = re.sub(r"\W", "_", name) or "t"
    if ident[0].isdigit() or ident[0] == "_":
        ident = "t" + ident
    if keyword.iskeyword(ident) or keyword.issoftkeyword(ident) or ident in RESERVED:
        ident += "_tool"
    base, n = ident, 2
    while ident in taken:
        ident, n = f"{base}_{n}", n + 1
    taken.add(ident)
    return ident


def _param_identifier(name: str, taken: set[str]) -> str:
    ident = re.sub(r"\W", "_", name) or "arg"
    if ident[0].isdigit():
        ident = "p_" + ident
    if keyword.iskeyword(ident) or keyword.issoftkeyword(ident) or ident in RESERVED:
        ident += "_"
    base, n = ident, 2
    while ident in taken:
        ident, n = f"{base}_{n}", n + 1
    taken.add(ident)
    return ident


def python_tools(tools: Iterable[Tool]) -> list[PythonTool]:
    """The tools, one per name (the first seen wins), as generated functions."""
    taken: set[str] = set()
    seen: set[str] = set()
    out: list[PythonTool] = []
    for tool in tools:
        if tool.name in seen:
            continue
        seen.add(tool.name)
        out.append(_python_tool(tool, python_identifier(tool.name, taken)))
    return out


def _python_tool(tool: Tool, python: str) -> PythonTool:
    schema = tool.input_schema if isinstance(tool.input_schema, dict) else {}
    defs = schema.get("$defs") or schema.get("definitions") or {}
    properties = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
    required = set(schema.get("required") or [])
    taken: set[str] = set()
    params = []
    for name, prop in (properties or {}).items():
        prop = _resolve(prop, defs)
        params.append(PythonParam(
            name=name, python=_param_identifier(name, taken), hint=_hint(prop, defs),
            description=_param_description(name, prop), required=name in required,
        ))
    return PythonTool(tool=tool, python=python, description=_summary(tool), params=tuple(params))


def trl_schema(tool: PythonTool) -> dict[str, Any]:
    """What ``get_json_schema`` returns for the generated function of ``tool``."""
    properties = {p.python: {**p.hint.schema, "description": p.description} for p in tool.params}
    parameters: dict[str, Any] = {"type": "object", "properties": properties}
    required = [p.python for p in tool.params if p.required]
    if required:
        parameters["required"] = required
    return {"type": "function", "function": {"name": tool.tool.name, "description": tool.description,
                                             "parameters": parameters}}


def docstring(tool: PythonTool, indent: str) -> str:
    """The function's docstring as source (a triple-quoted literal), lines after the first indented."""
    lines = tool.description.split("\n")
    if tool.params:
        lines += ["", "Args:", *(f"    {p.python}: {p.description}" for p in tool.params)]
    text = ("\n" + indent).join(lines).replace("\n" + indent + "\n", "\n\n")
    text = text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    if text.endswith('"'):
        text += " "
    return f'"""{text}"""'


# -- docstring text -----------------------------------------------------------------------------


def _clean(text: str) -> str:
    """Text get_json_schema reads back unchanged: no section headers, no trailing '(choices: ...)'."""
    text = _DOC_SECTIONS.sub(r"\1 -", text)
    if _CHOICES_AT_END.search(text):
        text += "."
    return text


def _summary(tool: Tool) -> str:
    lines = [line.strip() for line in (tool.description or "").strip().splitlines()]
    text = "\n".join(lines).strip()
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    return _clean(text) if text else f"The {tool.name} tool."


def _param_description(name: str, prop: dict[str, Any]) -> str:
    base = " ".join(str(prop.get("description") or prop.get("title") or "").split())
    notes = [f"{key}: {compact_json(prop[key])}" for key in _NOTED if key in prop]
    if notes:
        base = (base + " " if base else "") + "(" + "; ".join(notes) + ")"
    return _clean(" ".join(base.split())) if base else f"The {name} argument."


# -- type hints -------------------------------------------------------------------------------------


def _resolve(schema: Any, defs: dict[str, Any], depth: int = 0) -> dict[str, Any]:
    """A local ``$ref`` (``#/$defs/X``) replaced by its definition; anything else as given."""
    if not isinstance(schema, dict):
        return {}
    ref = schema.get("$ref")
    if isinstance(ref, str) and depth < 8:
        target = defs.get(ref.rsplit("/", 1)[-1])
        if isinstance(target, dict):
            return _resolve({**target, **{k: v for k, v in schema.items() if k != "$ref"}}, defs, depth + 1)
    return schema


_ANY = Hint("Any", {})


def _hint(schema: dict[str, Any], defs: dict[str, Any], depth: int = 0) -> Hint:
    """The type hint for a JSON Schema, and what get_json_schema's _parse_type_hint makes of it."""
    if depth > 6:
        return _ANY
    schema = _resolve(schema, defs)
    if "const" in schema:
        return _literal([schema["const"]]) or _ANY
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return _literal(schema["enum"]) or _ANY
    for key in ("anyOf", "oneOf"):
        if isinstance(schema.get(key), list) and schema[key]:
            return _union([_hint(s, defs, depth + 1) for s in schema[key]])
    kind = schema.get("type")
    if isinstance(kind, list) and kind:
        return _union([_hint({**schema, "type": k}, defs, depth + 1) for k in kind if isinstance(k, str)])
    if kind in _BASIC:
        return Hint(_BASIC[kind], {"type": kind})
    if kind == "array":
        items = schema.get("items")
        if isinstance(items, dict) and items:
            inner = _hint(items, defs, depth + 1)
            return Hint(f"list[{inner.source}]", {"type": "array", "items": inner.schema})
        return Hint("list", {"type": "array"})
    if kind == "object":
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict) and extra:
            inner = _hint(extra, defs, depth + 1)
            return Hint(f"dict[str, {inner.source}]", {"type": "object", "additionalProperties": inner.schema})
        return Hint("dict", {"type": "object"})
    return _ANY


def _literal(values: list[Any]) -> Hint | None:
    """``Literal[...]`` of JSON scalars (deduplicated by type and value, as typing does)."""
    unique: list[Any] = []
    keys: set[tuple[type, Any]] = set()
    for value in values:
        if type(value) not in _SCALARS:
            return None
        if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
            return None
        key = (type(value), value)
        if key not in keys:
            keys.add(key)
            unique.append(value)
    types = list(dict.fromkeys(_SCALARS[type(v)] for v in unique))
    source = "Literal[" + ", ".join(repr(v) for v in unique) + "]"
    return Hint(source, {"type": types[0] if len(types) == 1 else types, "enum": unique})


def _union(members: Sequence[Hint]) -> Hint:
    """``A | B | None`` as get_json_schema reads a Union (members deduplicated in order)."""
    flat: list[Hint] = []
    for member in members:
        for part in member.parts or (member,):
            if part.source not in {f.source for f in flat}:
                flat.append(part)
    if not flat:
        return _ANY
    if len(flat) == 1:
        return flat[0]
    nullable = any(m.source == "None" for m in flat)
    rest = [m for m in flat if m.source != "None"]
    source = " | ".join(m.source for m in flat)
    if len(rest) == 1:
        schema = dict(rest[0].schema)
    elif all(set(m.schema) == {"type"} and isinstance(m.schema["type"], str) for m in rest):
        names = sorted({m.schema["type"] for m in rest})
        schema = {"type": names[0] if len(names) == 1 else names}
    else:
        schema = {"anyOf": [m.schema for m in rest]}
    if nullable:
        schema["nullable"] = True
    return Hint(source, schema, tuple(flat))


# -- verl -------------------------------------------------------------------------------------------

_ALL_TYPES = ["string", "number", "integer", "boolean", "object", "array", "null"]


def verl_schema(tool: Tool) -> dict[str, Any]:
    """The tool as verl's ``OpenAIFunctionToolSchema`` (verl/tools/schemas.py) validates it.

    verl requires ``description`` to be a string, ``parameters.type`` and ``properties``, and a
    ``type`` (a string or a list of them) on every property; it keeps ``description`` and
    ``enum`` of a property and ignores its other keys when rendering. A property without a
    ``type`` gets the types its ``anyOf``/``oneOf``/``enum`` members have, else every JSON type;
    everything else of the recorded schema is kept as it was.
    """
    schema = tool.input_schema if isinstance(tool.input_schema, dict) else {}
    defs = schema.get("$defs") or schema.get("definitions") or {}
    properties = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
    typed = {name: _with_type(_resolve(prop, defs), defs) for name, prop in (properties or {}).items()}
    parameters = {**schema, "type": "object", "properties": typed, "required": list(schema.get("required") or [])}
    parameters.pop("$defs", None)
    parameters.pop("definitions", None)
    return {"type": "function",
            "function": {"name": tool.name, "description": tool.description or "", "parameters": parameters}}


def _with_type(prop: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    kind = prop.get("type")
    if isinstance(kind, str) or (isinstance(kind, list) and kind and all(isinstance(k, str) for k in kind)):
        return prop
    types: list[str] = []
    for key in ("anyOf", "oneOf"):
        for member in prop.get(key) or []:
            member_type = _resolve(member, defs).get("type")
            for name in member_type if isinstance(member_type, list) else [member_type]:
                if isinstance(name, str) and name not in types:
                    types.append(name)
    for value in prop.get("enum") or ([prop["const"]] if "const" in prop else []):
        name = _SCALARS.get(type(value), "object" if isinstance(value, dict) else "array")
        if name not in types:
            types.append(name)
    if not types:
        types = list(_ALL_TYPES)
    return {**prop, "type": types[0] if len(types) == 1 else types}
