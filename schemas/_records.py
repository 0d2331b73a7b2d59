"""The record shapes every stage passes along, defined once.

    Tool ──> Observation ──> Step/Trace ──> Task ──> Example ──> Judgement ──> Version

Records are pydantic models. Content-addressed ones (Observation, Trace,
Example) derive their id from a hash of their content, so identical content
always has the same key. JSON Schemas for all of them are generated into
``schemas/json/`` (``python -m schemas``).
"""

from __future__ import annotations

import datetime as _dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field, model_validator

from ._hashing import content_hash

JSONValue = Any
SideEffect = Literal["read", "write", "destructive"]
TaskKind = Literal["single", "parallel", "multi_step", "multi_turn", "error_recovery", "no_call"]
Writer = Literal["template", "llm"]
Status = Literal["accepted", "rejected", "judge_error"]


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Derived(_Record):
    """A record with computed ids: stored JSON carries them; they are derived again, not read back.

    Only these records pay for a Python-level validator: the many nested
    records without computed fields (tools, steps, sources) validate in pydantic's core.
    """

    @model_validator(mode="before")
    @classmethod
    def _drop_computed(cls, data: Any) -> Any:
        if isinstance(data, dict) and any(k in data for k in cls.model_computed_fields):
            return {k: v for k, v in data.items() if k not in cls.model_computed_fields}
        return data


class Tool(_Record):
    """A tool as a toolset lists it, with its side-effect class."""

    toolset: str = Field(description="Name of the toolset (server) that provides the tool.")
    name: str
    description: str = ""
    input_schema: dict[str, Any] = Field(description="JSON Schema of the arguments object.")
    output_schema: dict[str, Any] | None = None
    side_effect: SideEffect = Field(description="read, write or destructive.")
    side_effect_source: str = Field(
        description="Why: 'annotations', 'http-method', 'mcp-default', 'python-default' or 'override'."
    )

    def openai_schema(self) -> dict[str, Any]:
        """The function definition chat templates and training formats expect."""
        return {
            "name": self.name,
            "description": self.description,
            "parameters": self.input_schema,
        }


def call_key(toolset: str, toolset_version: str | None, tool: str, arguments: Any) -> str:
    """Hash of what a call asks: the key under which its result is cached."""
    return content_hash([toolset, toolset_version, tool, arguments])


RAW_TEXT = "text"
RAW_STRUCTURED = "structured"
RAW_CONTENT = "content"


def raw_text(raw: Any) -> str | None:
    """The text a tool answered with, from a recorded raw output (None when it sent no text).

    A raw output (``Observation.raw``, ``Step.raw``) is an object with any of:
    ``"text"``: the text blocks, in order (an MCP result's text content, an HTTP text body, a
    Python tool's returned string); ``"structured"``: a JSON value (MCP structured content, an
    HTTP JSON body, a Python tool's JSON result); ``"content"``: the other blocks, described
    (``{"type": "image", "mime_type": "image/png", "bytes": 5120, "sha256": ...}``).
    """
    if not isinstance(raw, dict):
        return None
    texts = raw.get(RAW_TEXT)
    if isinstance(texts, list) and texts and all(isinstance(t, str) for t in texts):
        return "\n".join(texts)
    return None


def shown_output(output: Any, raw: Any) -> Any:
    """What a tool message shows for a recorded output: the tool's own text when it answered in
    text (its view is what pointers address, not what the tool said), else the output."""
    text = raw_text(raw)
    if text is not None:
        return text
    if isinstance(raw, dict) and RAW_STRUCTURED in raw and raw[RAW_STRUCTURED] is not None:
        return raw[RAW_STRUCTURED]
    return output


class Observation(_Derived):
    """One executed call and exactly what came back, errors included.

    ``output`` is what JSON pointers resolve into: the tool's JSON as it came back, or, when the
    tool answered in text (or in JSON whose strings hold JSON, tables, CSV...), the *view* derived
    from it (generators.views), with ``parser`` naming the parser and version that made it and
    ``raw`` keeping what the tool sent (see `raw_text`). ``raw`` and ``parser`` are both None when
    the output is plain JSON that is its own view. ``error_inferred``: the tool did not flag an
    error (MCP is_error false, HTTP 2xx) but its output reads as one ("Error: ...", ``{"error":
    ...}``); ``is_error`` is then true and ``error`` holds the tool's text.
    """

    toolset: str
    toolset_version: str | None = None
    tool: str
    arguments: dict[str, JSONValue]
    output: JSONValue = None
    raw: JSONValue = Field(default=None, description="What the tool sent when output is a derived view.")
    parser: str | None = Field(default=None, description="Parser id of the view, e.g. 'json/1>csv/1'.")
    is_error: bool = False
    error: str | None = None
    error_inferred: bool = Field(
        default=False, description="The error was read from an output the tool did not flag as one."
    )
    latency_ms: float = 0.0
    started_at: _dt.datetime

    @computed_field  # type: ignore[prop-decorator]
    @property
    def call_key(self) -> str:
        """Hash of what was asked: the cache key of the call."""
        return call_key(self.toolset, self.toolset_version, self.tool, self.arguments)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def observation_id(self) -> str:
        """Hash of what was asked and what came back (not when, not how fast).

        What came back is the output (the view), the error, and, for a derived view, the raw
        output and the parser id: one raw output read by two parser versions is two observations.
        A plain-JSON observation hashes exactly as before views existed, so its id is unchanged.
        """
        if self.raw is None and self.parser is None and not self.error_inferred:
            return content_hash([self.call_key, self.output, self.is_error, self.error])
        return content_hash(
            [self.call_key, self.output, self.is_error, self.error, self.raw, self.parser, self.error_inferred]
        )


class ArgumentSource(_Record):
    """Where one argument value came from: the user, or an earlier step's output."""

    origin: Literal["user", "step"]
    how: str = Field(
        default="",
        description="How exploration chose it: seed, schema-enum, schema-default, schema-example, "
        "schema-type, schema-bounds, schema-format, description-example, sibling-example, catalogue, "
        "composed (an array or object built from its parts), llm, probe-typo, or pool.",
    )
    step: int | None = Field(default=None, description="Index of the earlier step (origin=step).")
    pointer: str | None = Field(
        default=None, description="JSON pointer into that step's output (origin=step)."
    )


class Step(_Record):
    """One call in a trace, carrying its recorded output."""

    toolset: str
    tool: str
    arguments: dict[str, JSONValue]
    sources: dict[str, ArgumentSource]
    observation_id: str
    output: JSONValue = None
    is_error: bool = False
    group: int | None = Field(
        default=None,
        description="Consecutive steps with the same group are parallel calls made in one "
        "assistant turn; None means a turn of its own.",
    )
    raw: JSONValue = Field(default=None, description="What the tool sent, when output is a derived view.")
    parser: str | None = Field(default=None, description="Parser id of the output's view (None: plain JSON).")

    @classmethod
    def from_observation(
        cls, observation: Observation, sources: dict[str, ArgumentSource], group: int | None = None
    ) -> Step:
        """The step that replays ``observation`` (its output, view, raw output and parser)."""
        return cls(
            toolset=observation.toolset, tool=observation.tool, arguments=observation.arguments,
            sources=sources, observation_id=observation.observation_id, output=observation.output,
            is_error=observation.is_error, group=group, raw=observation.raw, parser=observation.parser,
        )

    def shown(self) -> Any:
        """What the tool said, as a tool message shows it (see `shown_output`)."""
        return shown_output(self.output, self.raw)

    def hashed(self) -> dict[str, Any]:
        """The step's JSON for content hashes: without raw and parser when they are unset, so a
        step of plain JSON hashes as it did before views existed."""
        data = self.model_dump(mode="json")
        if self.raw is None and self.parser is None:
            del data["raw"], data["parser"]
        return data


class Trace(_Derived):
    """Executed calls in order; later arguments may come from earlier outputs.

    Empty only for a no_call task, where the right behaviour is not to call.
    """

    steps: list[Step] = Field(default_factory=list)

    def turns(self) -> list[list[int]]:
        """Step indices grouped into assistant turns (parallel calls share one)."""
        turns: list[list[int]] = []
        for i, step in enumerate(self.steps):
            if turns and step.group is not None and self.steps[turns[-1][0]].group == step.group:
                turns[-1].append(i)
            else:
                turns.append([i])
        return turns

    @computed_field  # type: ignore[prop-decorator]
    @property
    def trace_id(self) -> str:
        return content_hash([s.hashed() for s in self.steps])

    @property
    def signature(self) -> str:
        """The chain's shape: tools in order, e.g. 'country_info>timezone_at'."""
        return ">".join(s.tool for s in self.steps)


class Normaliser(_Record):
    """How a checker compares a model's answer to the recorded value."""

    kind: Literal["exact", "casefold", "number", "date"] = Field(
        default="casefold",
        description="exact; casefold (case and spacing); number (within tolerance); "
        "date (the same calendar date, or instant for date-times, in any common spelling).",
    )
    tolerance: float = Field(default=0.0, ge=0, description="Relative tolerance for numbers.")


class AnswerPointer(_Record):
    step: int = Field(ge=0)
    pointer: str = Field(
        description="RFC 6901 JSON pointer into the step's output: into its view when the step "
        "records a parser (e.g. '/rows/2/city', '/value', '/spans/0/value')."
    )


class Answer(_Record):
    """The answer as pointers into recorded outputs, plus the value they resolve to.

    With one pointer, ``value`` is that value. With several, ``value`` is either
    the list of their values in pointer order (parallel calls, one answer each)
    or one value every pointer must resolve to (the same fact recorded twice).
    """

    pointers: list[AnswerPointer] = Field(min_length=1)
    value: JSONValue
    normaliser: Normaliser = Normaliser()

    def values(self) -> list[JSONValue]:
        """One expected value per pointer."""
        n = len(self.pointers)
        if n > 1 and isinstance(self.value, list) and len(self.value) == n:
            return list(self.value)
        return [self.value] * n


class DialogueTurn(_Record):
    """A turn between the first request and the calls (multi_turn: the assistant asks, the user answers)."""

    role: Literal["user", "assistant"]
    content: str = Field(min_length=1)


class Task(_Record):
    """What the user asks and what counts as the right answer."""

    kind: TaskKind = "multi_step"
    user_request: str = Field(min_length=1, description="The user's first message.")
    dialogue: list[DialogueTurn] = Field(
        default_factory=list, description="Further turns before the calls (multi_turn)."
    )
    user_values: dict[str, JSONValue] = Field(
        description="Values the user supplies in the request, by parameter name."
    )
    answer: Answer | None = Field(default=None, description="None only for no_call tasks.")
    final_message: str
    writer: Writer
    writer_model: str | None = None
    writer_prompt_hash: str | None = Field(
        default=None, description="Hash of the prompt the writer saw (information barrier)."
    )
    writer_note: str | None = Field(
        default=None, description="Why this writer's text was used (e.g. a failed rewrite)."
    )
    writer_error: str | None = Field(
        default=None, description="Set when the writer's reply was unusable (not JSON, wrong shape)."
    )

    @model_validator(mode="after")
    def _answer_unless_no_call(self) -> Task:
        if self.kind != "no_call" and self.answer is None:
            raise ValueError(f"a {self.kind} task needs an answer")
        return self

    def opening(self) -> list[dict[str, Any]]:
        """The conversation before the first call, as chat messages: the request, then the
        dialogue turns of a multi_turn task. Every format and the solver start from this."""
        return [{"role": "user", "content": self.user_request},
                *({"role": t.role, "content": t.content} for t in self.dialogue)]

    def user_text(self) -> str:
        """Everything the user says: the request and any later user turns."""
        return "\n".join([self.user_request, *(t.content for t in self.dialogue if t.role == "user")])


class Example(_Derived):
    """A candidate training example: the task, the trace that answers it, the tools offered."""

    task: Task
    trace: Trace
    tools: list[Tool]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def example_id(self) -> str:
        return content_hash(
            [self.task.model_dump(mode="json"), self.trace.trace_id,
             [t.model_dump(mode="json") for t in self.tools]]
        )

    @property
    def task_key(self) -> str:
        """Same trace and kind: the same task, whatever its phrasing."""
        return content_hash([self.trace.trace_id, self.task.kind])


class LeafResult(_Record):
    """One rubric leaf's verdict on one example."""

    node_id: str
    kind: Literal["check", "judge"]
    critical: bool = False
    passed: bool | None = None
    score: float | None = Field(default=None, ge=0, le=1)
    p_yes: float | None = Field(default=None, ge=0, le=1)
    coverage: float | None = Field(default=None, ge=0)
    skipped: bool = False
    reason: str = ""


class Judgement(_Record):
    """The rubric tree's verdict on one example."""

    example_id: str
    rubric_id: str
    rubric_hash: str
    status: Status
    reason: str = ""
    score: float | None = None
    leaves: list[LeafResult]


class RubricNode(BaseModel):
    """A node of a rubric tree: a leaf (check or question) or an inner node."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9_.-]+$")
    description: str = ""
    check: str | None = Field(default=None, description="Name of a deterministic check.")
    question: str | None = Field(default=None, description="A yes/no question for the judge.")
    critical: bool = False
    weight: float = Field(default=1.0, ge=0)
    threshold: float = Field(default=0.5, ge=0, le=1, description="Below it, a leaf fails.")
    polarity: Literal["positive", "pitfall"] = "positive"
    strategy: Literal["parallel", "sequential"] = "parallel"
    children: list[RubricNode] = Field(default_factory=list)

    @model_validator(mode="after")
    def _leaf_or_inner(self) -> RubricNode:
        has_leaf = (self.check is not None) + (self.question is not None)
        if self.children and has_leaf:
            raise ValueError(f"node {self.id!r} has children, so it takes no check or question")
        if not self.children and has_leaf != 1:
            raise ValueError(f"leaf {self.id!r} needs exactly one of 'check' or 'question'")
        return self

    @property
    def is_leaf(self) -> bool:
        return not self.children


class JudgeExample(BaseModel):
    """A worked example the judge sees before every question: a context (as the judge sees
    one: tools, request, calls and results, final answer) and the right answer to some of
    the rubric's questions about it, by leaf id."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    context: str = Field(min_length=1)
    answers: dict[str, Literal["yes", "no"]] = Field(min_length=1)


class Rubric(BaseModel):
    """A rubric tree file (data/rubrics/*.yaml)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    description: str = ""
    min_score: float = Field(default=0.0, ge=0, le=1, description="Accept at or above.")
    root: RubricNode
    judge_examples: list[JudgeExample] = Field(
        default_factory=list,
        description="Worked examples shown to the judge before every question, in this order: the same "
        "prefix for every request, so a server evaluates it once. A small judge needs them.",
    )

    @property
    def rubric_hash(self) -> str:
        return content_hash(self.model_dump(mode="json"))

    def judge_shots(self) -> list[tuple[str, str, str]]:
        """(context, question, answer) for every worked answer: question by question in tree
        order, each question's examples in file order (so a yes and a no sit side by side)."""
        leaves = [n for n in _walk(self.root) if n.question is not None]
        return [(ex.context, leaf.question, ex.answers[leaf.id]) for leaf in leaves if leaf.question is not None
                for ex in self.judge_examples if leaf.id in ex.answers]


def _walk(node: RubricNode) -> list[RubricNode]:
    return [node, *(n for child in node.children for n in _walk(child))]


class ToolEdge(_Record):
    """A → B in the tool graph: a value from A's output (at ``field``) as B's ``param``.

    ``kind``: candidate (names and types fit, never tried), confirmed (B
    succeeded with the value), failed (B returned an error with it). ``n``
    counts the calls behind a confirmed or failed edge in one run.
    """

    from_toolset: str
    from_tool: str
    field: str = Field(description="JSON pointer in A's output, list indices as '*'.")
    to_toolset: str
    to_tool: str
    param: str
    kind: Literal["candidate", "confirmed", "failed"]
    n: int = Field(default=1, ge=0)


class VolatileField(_Record):
    """A tool output field that changed when the identical call was made again."""

    toolset: str
    tool: str
    pointer: str


class TaskDifficulty(_Derived):
    """K solver attempts at one task: how often it was solved, and the 0/1 reward's variance."""

    example_id: str
    solver_model: str
    attempts: int = Field(ge=0)
    passes: int = Field(ge=0)
    errors: int = Field(default=0, ge=0)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def pass_rate(self) -> float:
        return self.passes / self.attempts if self.attempts else 0.0

    @computed_field  # type: ignore[prop-decorator]
    @property
    def reward_variance(self) -> float:
        return self.pass_rate * (1.0 - self.pass_rate)


class VersionInfo(_Record):
    """A sealed dataset version as `backchain versions` shows it."""

    dataset: str
    version: int
    version_id: str
    parent_id: str | None
    created_at: _dt.datetime
    row_count: int
    content_hash: str
    run_id: str | None
    message: str
    tags: list[str]
