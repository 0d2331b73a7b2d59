"""OpenAPI 3.x documents as toolsets: one tool per operation, called over HTTP.

`start` loads the document once (file or URL, JSON or YAML), resolves its local
``$ref``s with jsonref and turns each operation into a `Tool` plus a private
`_Operation` that remembers where each argument goes (path, query, header or
body). The tool's input schema is one flat object, because that is what a
function-calling model fills in: parameters by name, and an object body's
properties beside them unless a name collides (then the body is one ``body``
argument).

Every request goes through `_send`, which retries by the shared `RetryPolicy`
within the call's timeout: 429 and 503 for any method (the server did not act
on the request, and Retry-After is honoured); 502, 504, lost connections and
timeouts only for idempotent methods (GET, HEAD, PUT, DELETE, OPTIONS, TRACE),
since a POST may have been applied before the answer was lost; a refused
connection always (nothing was sent). A 500 is not retried: it is usually the
same answer to the same arguments. What still fails is an outcome whose error
names the attempts, e.g. "HTTP 429 Too Many Requests after 4 attempts;
Retry-After 2 s: slow down", marked ``transient``.

Secrets: ``auth_headers`` maps a header to an environment variable *name*. The
value is read at call time, sent, and never stored; if a server echoes it back,
it is redacted from the outcome so it cannot reach a stored observation.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote, urljoin, urlsplit

import httpx
import jsonref  # type: ignore[import-untyped]
import yaml

from schemas import ConfigError, SpecError, Tool, ToolsetError, ToolsetUnreachable

from ._base import CallOutcome, Toolset
from ._outputs import raw_output, viewed_outcome
from ._retry import RetriesExhausted, RetryPolicy
from ._side_effects import classify_http

_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
# OpenAPI: header parameters with these names are ignored (content negotiation and auth).
_IGNORED_HEADERS = {"accept", "content-type", "authorization"}
_FORM = "application/x-www-form-urlencoded"
_REDACTED = "[REDACTED]"
_MAX_NAME = 64
# RFC 9110 idempotent methods: repeating one after a lost answer cannot apply it twice.
_IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"})

_Location = Literal["path", "query", "header", "body"]


@dataclass(frozen=True)
class _Operation:
    """Where each argument of one tool goes on the wire."""

    method: str
    path: str
    #: argument name -> (location, wire name); the wire name is None for a whole body.
    where: Mapping[str, tuple[_Location, str | None]]
    form: bool = False  # body sent as application/x-www-form-urlencoded rather than JSON
    #: A required body that was flattened: sent (maybe as {}) even when no field is given.
    always_body: bool = False


class OpenAPIToolset(Toolset):
    """The operations of an OpenAPI 3.x document, called against its server."""

    def __init__(
        self,
        spec: str | Path,
        *,
        base_url: str | None = None,
        name: str | None = None,
        auth_headers: Mapping[str, str] | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
    ) -> None:
        self._spec = spec
        self._base_url_arg = base_url
        # Known after start() when not given: a slug of info.title.
        self.name = name or ""
        self._name_given = name is not None
        self._auth_env = dict(auth_headers or {})
        self._timeout = timeout
        #: Retries of one call; all of them together stay within ``timeout``.
        self.retry = retry or RetryPolicy()
        self.base_url: str | None = None
        #: Operations or parameters left out, each with the reason (nothing is dropped silently).
        self.skipped: list[str] = []
        self._tools: list[Tool] = []
        self._operations: dict[str, _Operation] = {}
        self._client: httpx.AsyncClient | None = None

    def __repr__(self) -> str:
        return f"OpenAPIToolset(spec={str(self._spec)!r}, name={self.name!r}, base_url={self.base_url!r})"

    async def start(self) -> None:
        """Load the spec, build the tools and check that the base URL answers."""
        missing = [env for env in self._auth_env.values() if not os.environ.get(env)]
        if missing:
            raise ConfigError(f"OpenAPI toolset {self._spec}: auth header environment variable(s) "
                              f"{', '.join(missing)} not set; export them before running")
        await self.close()  # starting again must not leak the previous client
        self._client = httpx.AsyncClient(timeout=self._timeout)
        try:
            doc, spec_url = await self._load_document()
            info: dict[str, Any] = doc["info"] if isinstance(doc.get("info"), dict) else {}
            if not self._name_given:
                self.name = _slug(str(info.get("title") or "")) or "openapi"
            self.version = str(info["version"]) if info.get("version") is not None else None
            self.base_url = self._pick_base_url(doc, spec_url)
            self._build_tools(doc)
            try:  # any HTTP answer will do (even 404/405); only a connection failure is fatal
                await self._client.request("HEAD", self.base_url + "/")
            except httpx.TransportError as exc:
                raise ToolsetUnreachable(
                    f"OpenAPI toolset {self.name!r}: base URL {self.base_url} does not answer "
                    f"({_describe(exc)}); start the server or pass the right base_url") from exc
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    async def _load_document(self) -> tuple[dict[str, Any], str | None]:
        """The parsed, $ref-resolved document, and its URL when it came from one."""
        assert self._client is not None
        where = str(self._spec)
        spec_url = where if where.startswith(("http://", "https://")) else None
        try:
            if spec_url is not None:
                response = await self._client.get(spec_url)
                if response.status_code >= 400:
                    raise SpecError(f"OpenAPI spec {where}: HTTP {response.status_code} when fetching it")
                text = response.text
            else:
                text = Path(where).expanduser().read_text(encoding="utf-8")
        except httpx.HTTPError as exc:
            raise SpecError(f"OpenAPI spec {where}: cannot fetch it ({_describe(exc)})") from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise SpecError(f"OpenAPI spec {where}: cannot read it ({_describe(exc)})") from exc
        try:
            doc = json.loads(text)
        except ValueError:
            try:
                doc = yaml.safe_load(text)
            except yaml.YAMLError as exc:
                raise SpecError(f"OpenAPI spec {where}: neither JSON nor YAML ({_one_line(str(exc))})") from exc
        _check_openapi3(doc, where)

        def refuse_external(uri: str) -> Any:
            raise SpecError(f"external $ref {uri!r} is not supported; bundle the spec into one file")

        try:
            resolved = jsonref.replace_refs(doc, loader=refuse_external, merge_props=True, lazy_load=False)
        except jsonref.JsonRefError as exc:
            raise SpecError(f"OpenAPI spec {where}: {_one_line(str(exc))}") from exc
        # Only what the tools need becomes plain, acyclic dicts (a recursive schema is cut).
        return {**doc, "paths": _plain(resolved.get("paths") or {})}, spec_url

    def _pick_base_url(self, doc: dict[str, Any], spec_url: str | None) -> str:
        if self._base_url_arg is not None:
            if not _is_absolute_http(self._base_url_arg):
                raise ConfigError(f"base_url {self._base_url_arg!r} is not an absolute http(s) URL")
            return self._base_url_arg.rstrip("/")
        servers = doc.get("servers") or [{"url": "/"}]  # OpenAPI's default server is "/"
        server = servers[0] if isinstance(servers, list) and isinstance(servers[0], dict) else {}
        url = str(server.get("url", "/"))
        for var, spec in (server.get("variables") or {}).items():
            if isinstance(spec, dict) and "default" in spec:
                url = url.replace("{" + var + "}", str(spec["default"]))
        if spec_url is not None:
            url = urljoin(spec_url, url)
        if not _is_absolute_http(url):
            raise SpecError(f"OpenAPI spec {self._spec}: server URL {url!r} is not an absolute "
                            "http(s) URL; pass base_url")
        return url.rstrip("/")

    def _build_tools(self, doc: dict[str, Any]) -> None:
        tools: list[Tool] = []
        operations: dict[str, _Operation] = {}
        self.skipped = []
        for path, item in (doc.get("paths") or {}).items():
            if not isinstance(item, dict):
                continue
            for method in _METHODS:
                op = item.get(method)
                if not isinstance(op, dict):
                    continue
                label = f"{method.upper()} {path}"
                built = self._build_operation(method, path, item.get("parameters"), op, label)
                if built is None:
                    continue
                name = _unique(_tool_name(op.get("operationId"), method, path), operations)
                operations[name] = built[1]
                side_effect, source = classify_http(method)
                description = str(op.get("summary") or op.get("description") or "")
                tools.append(Tool(toolset=self.name, name=name, description=description,
                                  input_schema=built[0], output_schema=_output_schema(op),
                                  side_effect=side_effect, side_effect_source=source))
        self._tools, self._operations = tools, operations

    def _build_operation(
        self, method: str, path: str, shared: Any, op: dict[str, Any], label: str
    ) -> tuple[dict[str, Any], _Operation] | None:
        """The tool's input schema and its wire map; None when the operation cannot be called."""
        params: dict[tuple[str, str], dict[str, Any]] = {}
        for p in [*(shared if isinstance(shared, list) else []), *(op.get("parameters") or [])]:
            if isinstance(p, dict) and isinstance(p.get("name"), str):
                params[(str(p.get("in")), p["name"])] = p  # operation level overrides path level
        props: dict[str, Any] = {}
        required: list[str] = []
        where: dict[str, tuple[_Location, str | None]] = {}
        for (loc, wire), p in params.items():
            if loc not in ("path", "query", "header"):
                self.skipped.append(f"{label}: {loc} parameter {wire!r} is not supported; left out")
                continue
            if loc == "header" and wire.lower() in _IGNORED_HEADERS:
                continue
            prop = wire if wire not in props else f"{loc}_{wire}"
            props[prop] = _param_schema(p)
            where[prop] = (loc, wire)  # type: ignore[assignment]
            if p.get("required") or loc == "path":
                required.append(prop)

        form = always_body = False
        body = op.get("requestBody")
        if isinstance(body, dict):
            content = body.get("content") or {}
            media = next((m for m in content if _is_json(m)), _FORM if _FORM in content else None)
            if media is None:
                self.skipped.append(f"{label}: request body {', '.join(content)} is not supported; "
                                    "operation left out")
                return None
            form, body_required = media == _FORM, bool(body.get("required"))
            schema = (content[media] or {}).get("schema") or {}
            inner: dict[str, Any] = schema.get("properties") or {}
            flat = (
                isinstance(inner, dict) and bool(inner) and schema.get("type", "object") == "object"
                and not any(k in schema for k in ("oneOf", "anyOf", "allOf"))
                and not isinstance(schema.get("additionalProperties"), dict)
                and not set(inner) & set(props)
            )
            if flat:
                props.update(inner)
                where.update({k: ("body", k) for k in inner})
                always_body = body_required
                if body_required:
                    required += [k for k in schema.get("required", []) if k in inner]
            else:
                key = "body" if "body" not in props else "request_body"
                described = body.get("description") or schema.get("description") or "The request body."
                props[key] = {**schema, "description": described}
                where[key] = ("body", None)
                if body_required:
                    required.append(key)
        input_schema: dict[str, Any] = {"type": "object", "properties": props}
        if required:
            input_schema["required"] = required
        input_schema["additionalProperties"] = False
        return input_schema, _Operation(method.upper(), path, where, form, always_body)

    async def list_tools(self) -> list[Tool]:
        self._require_client()
        return list(self._tools)

    async def call(self, tool: str, arguments: dict[str, Any]) -> CallOutcome:
        client = self._require_client()
        op = self._operations.get(tool)
        if op is None:
            return CallOutcome(is_error=True, error=f"unknown tool {tool!r} in toolset {self.name!r}")
        unknown = sorted(set(arguments) - set(op.where))
        missing = [a for a, (loc, _) in op.where.items() if loc == "path" and arguments.get(a) is None]
        if unknown or missing:
            problems = [f"unknown argument(s) {', '.join(unknown)}"] * bool(unknown)
            problems += [f"missing path argument(s) {', '.join(missing)}"] * bool(missing)
            return CallOutcome(is_error=True, error=f"{tool}: {'; '.join(problems)}")

        url_path, query, headers = op.path, {}, {}
        body: Any = {} if op.always_body else None
        for arg, value in arguments.items():
            loc, wire = op.where[arg]
            if loc == "body":
                body = value if wire is None else {**(body or {}), wire: value}
            elif value is None:
                continue  # an absent optional parameter; null has no form in a URL or header
            elif loc == "path":
                url_path = url_path.replace("{" + str(wire) + "}", quote(_scalar(value), safe=""))
            elif loc == "query":
                query[str(wire)] = [_scalar(v) for v in value] if isinstance(value, list) else _scalar(value)
            else:
                headers[str(wire)] = _scalar(value)
        secrets = self._secret_headers()
        headers.update(secrets)
        url = f"{self.base_url}{url_path}"
        payload = {} if body is None else {"data": body} if op.form else {"json": body}
        try:
            request = client.build_request(op.method, url, params=query, headers=headers, **payload)
        except (TypeError, ValueError, httpx.InvalidURL) as exc:
            return CallOutcome(is_error=True, error=f"{tool}: cannot build request ({_describe(exc)})")
        retried: RetriesExhausted | None = None
        try:
            response = await self._send(request)
        except RetriesExhausted as exc:
            if exc.response is None:  # no answer on any attempt
                return self._no_answer(exc.last, op.method, url, exc.attempts)
            response, retried = exc.response, exc
        except httpx.RequestError as exc:
            return self._no_answer(exc, op.method, url, 1)
        output = _redact(_parse_body(response), _needles(secrets.values()))
        # A JSON body is structured, any other body one text block (generators._outputs).
        raw = raw_output([output]) if isinstance(output, str) else raw_output(structured=output)
        if response.status_code >= 400:
            short = output if isinstance(output, str) else json.dumps(output, ensure_ascii=False)
            reason = retried.describe() if retried else f"HTTP {response.status_code} {response.reason_phrase}"
            error = f"{reason}: {_one_line(short)[:200]}" if response.content else reason
            # 429 and 5xx say nothing about these arguments: not cached, a rerun asks again.
            transient = response.status_code == 429 or response.status_code >= 500
            return viewed_outcome(raw, is_error=True, error=error, transient=transient)
        return viewed_outcome(raw)

    async def _send(self, request: httpx.Request) -> httpx.Response:
        """Send one request, retrying by `self.retry` while the call's timeout allows.

        Returns the answer, even an error status that is not retried. Raises
        `RetriesExhausted` when retries ran out (its ``response`` is the last
        429/5xx, or None when no attempt got an answer), or the
        `httpx.RequestError` of a failure that is not retried.
        """
        client = self._require_client()
        started = time.monotonic()
        idempotent = request.method in _IDEMPOTENT

        async def attempt() -> httpx.Response:
            # Each attempt may use only what is left of the call's timeout.
            left = max(self._timeout - (time.monotonic() - started), 0.001)
            request.extensions["timeout"] = httpx.Timeout(min(left, self._timeout)).as_dict()
            response = await client.send(request)
            status = response.status_code
            if status in (429, 503) or (idempotent and status in (502, 504)):
                response.raise_for_status()  # the retry policy reads the response off the error
            return response

        def retryable(exc: BaseException) -> bool:
            if isinstance(exc, (httpx.HTTPStatusError, httpx.ConnectError, httpx.ConnectTimeout)):
                return True  # a status attempt() chose to retry, or nothing was sent
            return idempotent and isinstance(exc, (httpx.TimeoutException, httpx.NetworkError,
                                                   httpx.RemoteProtocolError))

        return await self.retry.run(attempt, retryable=retryable, budget=self._timeout)

    def _no_answer(self, exc: BaseException, method: str, url: str, attempts: int) -> CallOutcome:
        """The outcome of a call that got no HTTP answer at all (timeout, refused, lost connection)."""
        tries = f"; {attempts} attempts" if attempts > 1 else ""
        if isinstance(exc, httpx.TimeoutException):
            error = f"timed out after {self._timeout:g}s: {method} {url} ({_describe(exc)}{tries})"
        else:
            error = f"request failed: {method} {url} ({_describe(exc)}{tries})"
        return CallOutcome(is_error=True, transient=True, error=error)

    def _secret_headers(self) -> dict[str, str]:
        """Auth header values, read from the environment now and never kept."""
        return {h: os.environ[env] for h, env in self._auth_env.items() if os.environ.get(env)}

    def _require_client(self) -> httpx.AsyncClient:
        if self._client is None:
            raise ToolsetError(f"OpenAPI toolset {self.name or self._spec!s} is not started; use 'async with'")
        return self._client


def _check_openapi3(doc: Any, where: str) -> None:
    if not isinstance(doc, dict):
        problem = f"not a JSON/YAML object (got {type(doc).__name__})"
    elif "swagger" in doc:
        problem = f"is Swagger {doc['swagger']}, not OpenAPI 3.x; convert it first (e.g. with swagger2openapi)"
    elif doc.get("openapi") is None:
        problem = "no 'openapi' field; not an OpenAPI 3.x document"
    elif not str(doc["openapi"]).startswith("3."):  # YAML may read `openapi: 3.1` as a float
        problem = f"openapi {doc['openapi']}; only OpenAPI 3.x is supported"
    elif not isinstance(doc.get("paths", {}), dict):
        problem = "'paths' is not an object"
    else:
        return
    raise SpecError(f"OpenAPI spec {where}: {problem}")


def _plain(value: Any, _refs: frozenset[str] = frozenset()) -> Any:
    """A deep copy without jsonref proxies; a $ref inside its own expansion (recursion) is cut."""
    if isinstance(value, jsonref.JsonRef):
        ref = str(value.__reference__.get("$ref"))
        target = value.__subject__
        if ref in _refs:
            cut = {"description": f"recursive reference to {ref} (not expanded)"}
            return {"type": target["type"], **cut} if isinstance(target, dict) and "type" in target else cut
        return _plain(target, _refs | {ref})
    if isinstance(value, dict):
        return {str(k): _plain(v, _refs) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v, _refs) for v in value]
    return value


def _param_schema(param: dict[str, Any]) -> dict[str, Any]:
    schema = param.get("schema")
    if not isinstance(schema, dict):  # parameters may use `content` instead of `schema`
        media = next(iter((param.get("content") or {}).values()), None)
        schema = media.get("schema") if isinstance(media, dict) else None
    out = dict(schema) if isinstance(schema, dict) else {}
    if param.get("description") and "description" not in out:
        out["description"] = param["description"]
    if "example" in param and "examples" not in out:
        out["examples"] = [param["example"]]
    elif isinstance(param.get("examples"), dict) and "examples" not in out:
        values = [e["value"] for e in param["examples"].values() if isinstance(e, dict) and "value" in e]
        if values:
            out["examples"] = values
    return out


def _output_schema(op: dict[str, Any]) -> dict[str, Any] | None:
    """The JSON schema of the first 2xx response, when it declares one."""
    responses = op.get("responses") or {}
    for code in sorted(c for c in responses if c.startswith("2")):  # keys are str after _plain
        response = responses[code]
        content = response.get("content") if isinstance(response, dict) else None
        for media, spec in (content or {}).items():
            if _is_json(media) and isinstance(spec, dict) and isinstance(spec.get("schema"), dict):
                return dict(spec["schema"])
    return None


def _tool_name(operation_id: Any, method: str, path: str) -> str:
    raw = str(operation_id) if operation_id else f"{method} {path}"  # 'GET /a/{b}' -> get_a_b
    name = re.sub(r"[^A-Za-z0-9_]+", "_", raw).strip("_") or method
    if len(name) > _MAX_NAME:  # keep names distinct after truncation
        name = name[: _MAX_NAME - 9] + "_" + hashlib.sha1(raw.encode()).hexdigest()[:8]
    return name


def _unique(name: str, taken: Mapping[str, Any]) -> str:
    n, candidate = 2, name
    while candidate in taken:
        suffix = f"_{n}"
        candidate, n = name[: _MAX_NAME - len(suffix)] + suffix, n + 1
    return candidate


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _is_json(media: str) -> bool:
    media = media.split(";")[0].strip().lower()  # wildcards: springdoc writes */* for JSON APIs
    return media in ("application/json", "*/*", "application/*") or media.endswith("+json")


def _is_absolute_http(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value) if isinstance(value, (dict, list)) else str(value)


def _parse_body(response: httpx.Response) -> Any:
    if not response.content:
        return None
    if _is_json(response.headers.get("content-type", "")):
        try:
            return response.json()
        except ValueError:
            pass
    return response.text


def _needles(secrets: Iterable[str]) -> list[str]:
    """What to redact: each auth value and its token after a scheme ('Bearer abc' -> 'abc')."""
    found = {v.strip() for s in secrets for v in (s, s.strip().split(" ", 1)[-1])}
    return sorted((n for n in found if len(n) >= 4), key=len, reverse=True)  # whole value first


def _redact(value: Any, needles: list[str]) -> Any:
    if isinstance(value, str):
        return functools.reduce(lambda text, needle: text.replace(needle, _REDACTED), needles, value)
    if isinstance(value, list):
        return [_redact(v, needles) for v in value]
    if isinstance(value, dict):
        return {_redact(k, needles): _redact(v, needles) for k, v in value.items()}
    return value


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _describe(exc: BaseException) -> str:
    """'ExcType: message', never an empty message (httpx timeouts often carry none)."""
    return f"{type(exc).__name__}: {_one_line(str(exc)) or 'no details'}"
