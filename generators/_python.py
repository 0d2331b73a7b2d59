"""Plain Python functions as a toolset.

A user's own functions (a lookup in their database, a calculator) are tools too.
Each function's input schema comes from its signature through pydantic, so
defaults and ``Annotated[int, Field(description=...)]`` read as they would on a
FastAPI endpoint, and the same pydantic model validates the arguments before
the call. The description is the docstring's first paragraph.

A function may write and the toolset cannot tell, so exploration must not call
it unless the user said so: every function is ``destructive`` (source
``python-default``) unless ``side_effects`` declares its class (source
``override``).

Sync functions run on the event loop's thread, as a plain call would (a
function holding a thread-bound handle such as a sqlite3 connection keeps
working); a slow one holds up other calls, so make such a function async.
"""

from __future__ import annotations

import functools
import inspect
import re
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, get_args

import pydantic
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model
from pydantic_core import PydanticSerializationError, to_jsonable_python

from schemas import ConfigError, SideEffect, Tool

from ._base import CallOutcome, Toolset
from ._outputs import raw_output, viewed_outcome

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_SIDE_EFFECTS = get_args(SideEffect)


@dataclass(frozen=True)
class _Function:
    """One function, the model that validates its arguments, and how to pass them."""

    func: Callable[..., Any]
    model: type[BaseModel]
    #: (model field, parameter name, positional-only) in signature order.
    params: tuple[tuple[str, str, bool], ...]
    tool: Tool


class PythonToolset(Toolset):
    """Python callables, sync or async, offered as tools."""

    def __init__(
        self,
        functions: Sequence[Callable[..., Any]] | Mapping[str, Callable[..., Any]],
        *,
        name: str = "python",
        side_effects: Mapping[str, SideEffect] | None = None,
        default_side_effect: SideEffect = "destructive",
    ) -> None:
        self.name = name
        if isinstance(functions, Mapping):
            items = list(functions.items())
        else:
            items = [(_function_name(f), f) for f in functions]
        names = [n for n, _ in items]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ConfigError(
                f"Python toolset {name!r}: duplicate tool name(s) {', '.join(duplicates)}; "
                "pass a mapping of distinct names to functions"
            )
        overrides = dict(side_effects or {})
        unknown = sorted(set(overrides) - set(names))
        if unknown:
            raise ConfigError(
                f"Python toolset {name!r}: side_effects names unknown tool(s) {', '.join(unknown)}; "
                f"known: {', '.join(names)}"
            )
        for tool_name, cls in [*overrides.items(), ("default_side_effect", default_side_effect)]:
            if cls not in _SIDE_EFFECTS:
                raise ConfigError(
                    f"Python toolset {name!r}: side effect {cls!r} for {tool_name} is not one of "
                    f"{', '.join(_SIDE_EFFECTS)}"
                )
        self._functions: dict[str, _Function] = {}
        for tool_name, func in items:
            if not _NAME.match(tool_name):
                raise ConfigError(
                    f"Python toolset {name!r}: tool name {tool_name!r} must match {_NAME.pattern}; "
                    "pass a mapping to name it"
                )
            side_effect, source = (
                (overrides[tool_name], "override") if tool_name in overrides
                else (default_side_effect, "python-default")
            )
            self._functions[tool_name] = _describe(name, tool_name, func, side_effect, source)

    def __repr__(self) -> str:
        return f"PythonToolset(name={self.name!r}, tools={list(self._functions)!r})"

    async def list_tools(self) -> list[Tool]:
        return [f.tool for f in self._functions.values()]

    async def call(self, tool: str, arguments: dict[str, Any]) -> CallOutcome:
        fn = self._functions.get(tool)
        if fn is None:
            return CallOutcome(is_error=True, error=f"unknown tool {tool!r} in toolset {self.name!r}")
        try:
            parsed = fn.model.model_validate(arguments)
        except ValidationError as exc:
            return CallOutcome(is_error=True, error=f"{tool}: invalid arguments: {_summarise(exc)}")
        args: list[Any] = []
        kwargs: dict[str, Any] = {}
        for field, param, positional in fn.params:
            value = getattr(parsed, field)
            if positional:
                args.append(value)
            else:
                kwargs[param] = value
        try:
            result = fn.func(*args, **kwargs)
            if inspect.isawaitable(result):
                result = await result
        except Exception as exc:  # the function's failure is an observation, not a crash
            return CallOutcome(is_error=True, error=f"{type(exc).__name__}: {str(exc) or '(no message)'}")
        try:
            value = to_jsonable_python(result)
            # A returned string is the tool's text; any other value is JSON (generators._outputs).
            return viewed_outcome(raw_output([value]) if isinstance(value, str) else raw_output(structured=value))
        except PydanticSerializationError as exc:
            return CallOutcome(
                is_error=True,
                error=f"{tool}: return value of type {type(result).__name__} is not JSON-serialisable ({exc})",
            )


def _function_name(func: Callable[..., Any]) -> str:
    name = getattr(func, "__name__", None)
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigError(
            f"cannot name tool {func!r} from its __name__ ({name!r}); pass a mapping of name to function"
        )
    return name


def _describe(
    toolset: str, name: str, func: Callable[..., Any], side_effect: SideEffect, source: str
) -> _Function:
    """Build the argument model and the Tool from the function's signature."""
    where = f"Python toolset {toolset!r}, tool {name!r}"
    if not callable(func):
        raise ConfigError(f"{where}: {func!r} is not callable")
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: cannot read its signature ({exc})") from exc
    target = func.func if isinstance(func, functools.partial) else func
    if not (inspect.isfunction(target) or inspect.ismethod(target)):
        target = type(target).__call__  # a callable object: its __call__ carries the hints
    try:
        hints = typing.get_type_hints(target, include_extras=True)
    except (NameError, TypeError, AttributeError) as exc:
        raise ConfigError(f"{where}: cannot resolve its type hints ({exc})") from exc

    fields: dict[str, Any] = {}
    params: list[tuple[str, str, bool]] = []
    for i, (pname, param) in enumerate(signature.parameters.items()):
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue  # *args/**kwargs have no schema; the tool takes only named parameters
        annotation = hints.get(pname, Any)
        default = ... if param.default is param.empty else param.default
        # Fields are named p0, p1... with the parameter name as alias, so a parameter
        # called `json` or `model_config` cannot clash with BaseModel's attributes.
        field = f"p{i}"
        fields[field] = (Annotated[annotation, Field(alias=pname)], default)
        params.append((field, pname, param.kind is param.POSITIONAL_ONLY))
    try:
        model = create_model("Arguments", __config__=ConfigDict(extra="forbid"), **fields)
        schema = model.model_json_schema(by_alias=True)
    except pydantic.PydanticUserError as exc:
        raise ConfigError(f"{where}: its parameters have no JSON Schema ({exc.message})") from exc
    schema.pop("title", None)
    for field, pname, _ in params:  # drop titles pydantic made up; keep ones the user wrote
        if model.model_fields[field].title is None:
            schema.get("properties", {}).get(pname, {}).pop("title", None)
    schema.setdefault("properties", {})

    tool = Tool(
        toolset=toolset,
        name=name,
        description=_first_paragraph(inspect.getdoc(func)),
        input_schema=schema,
        output_schema=_return_schema(hints.get("return")),
        side_effect=side_effect,
        side_effect_source=source,
    )
    return _Function(func, model, tuple(params), tool)


def _return_schema(annotation: Any) -> dict[str, Any] | None:
    """The return type's JSON Schema, when it is annotated with one that has a schema."""
    if annotation is None or annotation is Any or annotation is type(None):
        return None
    try:
        return pydantic.TypeAdapter(annotation).json_schema()
    except pydantic.PydanticUserError:
        return None


def _first_paragraph(doc: str | None) -> str:
    if not doc:
        return ""
    return " ".join(doc.strip().split("\n\n", 1)[0].split())


def _summarise(exc: ValidationError) -> str:
    """Pydantic's errors on one line: 'city: Field required; days: Input should be ...'."""
    parts = []
    for error in exc.errors(include_url=False):
        loc = ".".join(str(x) for x in error["loc"]) or "(arguments)"
        parts.append(f"{loc}: {error['msg']}")
    return "; ".join(parts)
