"""CEL expressions in cycle definitions: where they may stand, what they may use.

A definition holds three kinds of expressions, each a CEL (Common Expression Language)
string evaluated by the `cel` package (a Rust extension; no I/O, no clock, no
randomness in anything an expression can reach):

Sites (the phase kind that has the key in parentheses):

- `phase.when` at `phases[].when` -> bool. Variables: `participant`.
- `anomaly_rule.when` at `phases[].anomaly_rules[].when` (monitoring) -> bool.
  Variables: `progress`, `expected_by_now`, `days_since_checkin`, `checkins_missed`,
  `confidence`, `confidence_trend`, `blocked_count`, `open_goals`, `overdue_tasks`,
  `collaboration_events`, `participant`.
- `bonus.formula` at `phases[].bonus.formula` (results) -> number. Variables:
  `base_salary`, `target_percent`, `rating`, `score`, `goal_attainment`,
  `compa_ratio`, `company_multiplier`, `department_multiplier`, `participant`.

`participant` is a map with `tenure_days`, `department`, `location`, `employment_type`,
`is_manager`, `direct_reports` and `level`. `EXPRESSION_SITES` below is the one table
of every variable, its type and its meaning; `describe_sites()` renders it as Markdown.

The dialect, in short:

- **Every number is a double.** Plain CEL refuses `int * double`, which would make
  `base_salary * target_percent / 100` an error. So numeric inputs are converted to
  doubles before evaluation, and integer literals are read as doubles (`100` is
  `100.0`), except map keys and list indexes, which CEL requires to be integers:
  `{1: 0.0, 2: 0.5}[int(rating)]`. `int(...)` and `size(...)` still give integers; they
  compare with doubles but need `double(...)` around them before arithmetic.
- **Functions**: the CEL operators, `size`, `int`, `double`, `string`, `contains`,
  `startsWith`, `endsWith`, `matches`, `has(participant.x)`, and `min(a, b, ...)` /
  `max(a, b, ...)` (Kubernetes' spelling). Nothing else: no `now()`, no timestamps.
- **No comprehensions** (`all`, `exists`, `exists_one`, `map`, `filter`): no variable
  holds a list, CEL's map iteration order is not deterministic (a workflow must
  replay identically), and they are the one way an expression could run long. Use
  `participant.department in ["Sales", "Support"]` for membership.
- **Bounded**: at most 2000 characters and 32 levels of brackets (counted in the raw
  text, string literals included: a conservative guard), checked before the parser
  sees the text, so a hostile expression fails fast. `// comments` are fine.

`compile_expression` checks all of that (and runs the expression once on sample values
of the right types, which catches type errors such as `participant.department * 2`
and a wrong result type); `evaluate`, `evaluate_condition` and `evaluate_number` run a
compiled expression and turn every CEL failure into an `ExpressionError`. Evaluation is
deterministic and pure, so workflows may call it (import this module through
`workflow.unsafe.imports_passed_through()`).
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from types import MappingProxyType
from typing import Any, Final, Literal

import cel

from definitions.errors import PerfloopError

MAX_LENGTH: Final = 2000
MAX_DEPTH: Final = 32

Site = Literal["phase.when", "anomaly_rule.when", "bonus.formula"]
ValueType = Literal["double", "string", "bool", "map"]


class ExpressionError(PerfloopError):
    """An expression that does not compile, uses what its site does not offer, or failed."""

    def __init__(self, message: str, *, site: str | None = None, source: str | None = None):
        super().__init__(message)
        self.message = message
        self.site = site
        self.source = source

    def __reduce__(self) -> tuple[Any, ...]:
        # keyword-only arguments do not survive the default exception pickling
        return (type(self), (self.message,), {"site": self.site, "source": self.source})


# --- the table of sites and their variables --------------------------------------------


@dataclass(frozen=True)
class Variable:
    name: str
    type: ValueType
    description: str
    sample: Any = field(repr=False)
    fields: tuple[Variable, ...] = ()


@dataclass(frozen=True)
class ExpressionSite:
    name: Site
    where: str
    title: str  # how messages name it: "a phase's when"
    result: Literal["bool", "double"]
    description: str
    variables: tuple[Variable, ...]

    @property
    def variable_names(self) -> tuple[str, ...]:
        return tuple(sorted(v.name for v in self.variables))

    def variable(self, name: str) -> Variable | None:
        return next((v for v in self.variables if v.name == name), None)

    def sample(self) -> dict[str, Any]:
        return {v.name: _sample(v) for v in self.variables}


def _sample(variable: Variable) -> Any:
    if variable.type == "map":
        return {f.name: _sample(f) for f in variable.fields}
    return variable.sample


PARTICIPANT: Final = Variable(
    "participant",
    "map",
    "The person the expression is evaluated for, from the HRIS.",
    None,
    fields=(
        Variable("tenure_days", "double", "Days since the hire date.", 400.0),
        Variable("department", "string", "Department name, as in the HRIS.", "Engineering"),
        Variable("location", "string", "Work location, as in the HRIS.", "Berlin"),
        Variable(
            "employment_type",
            "string",
            "One of full_time, part_time, contractor, intern.",
            "full_time",
        ),
        Variable("is_manager", "bool", "Has at least one direct report.", True),
        Variable("direct_reports", "double", "Number of direct reports.", 3.0),
        Variable("level", "double", "Job level from the HRIS (higher is more senior).", 3.0),
    ),
)

_PHASE_WHEN: Final = ExpressionSite(
    name="phase.when",
    where="phases[].when",
    title="a phase's when",
    result="bool",
    description="Whether the phase runs for a participant; the phase is skipped when false.",
    variables=(PARTICIPANT,),
)

_ANOMALY_WHEN: Final = ExpressionSite(
    name="anomaly_rule.when",
    where="phases[].anomaly_rules[].when",
    title="an anomaly rule's when",
    result="bool",
    description="Evaluated every `evaluate_rules_every` during monitoring; true fires the "
    "rule's action (then it rests for `cooldown`).",
    variables=(
        Variable(
            "progress",
            "double",
            "Weighted progress of the goals (draft, returned or approved), 0..1.",
            0.4,
        ),
        Variable(
            "expected_by_now",
            "double",
            "Progress a linear plan expects today, 0..1 (time elapsed in the monitoring window).",
            0.5,
        ),
        Variable(
            "days_since_checkin",
            "double",
            "Days since the last check-in (since the phase opened if none yet).",
            9.0,
        ),
        Variable(
            "checkins_missed",
            "double",
            "Check-ins missed in a row (closed unanswered), counting back from the latest.",
            1.0,
        ),
        Variable(
            "confidence",
            "double",
            "Mean confidence 1..5 over the goals of the last check-in; 0 if none yet.",
            3.0,
        ),
        Variable(
            "confidence_trend",
            "double",
            "Last check-in's confidence minus the previous one's; 0 with fewer than two check-ins.",
            -1.0,
        ),
        Variable(
            "blocked_count",
            "double",
            "Goals named by the last check-in's blockers (a blocker naming no goal counts once).",
            1.0,
        ),
        Variable("open_goals", "double", "Goals not yet completed (progress below 1).", 4.0),
        Variable(
            "overdue_tasks",
            "double",
            "Open tasks assigned to the participant past their due date.",
            2.0,
        ),
        Variable(
            "collaboration_events",
            "double",
            "Feedback and recognition events on the participant's timeline in the last 30 days.",
            5.0,
        ),
        PARTICIPANT,
    ),
)

_BONUS_FORMULA: Final = ExpressionSite(
    name="bonus.formula",
    where="phases[].bonus.formula",
    title="the bonus formula",
    result="double",
    description="The bonus amount, in the currency of the base salary.",
    variables=(
        Variable("base_salary", "double", "Annual base salary.", 80000.0),
        Variable(
            "target_percent",
            "double",
            "bonus.target_percent of the definition, in percent (10 means 10%).",
            10.0,
        ),
        Variable("rating", "double", "Final (calibrated) rating value.", 3.0),
        Variable("score", "double", "Weighted evaluation score before banding.", 3.2),
        Variable(
            "goal_attainment",
            "double",
            "Weighted goal attainment; 1 means every target met, above 1 is overachievement.",
            1.05,
        ),
        Variable("compa_ratio", "double", "Base salary / salary range midpoint.", 0.97),
        Variable("company_multiplier", "double", "Company performance factor, 1 = on plan.", 1.0),
        Variable(
            "department_multiplier", "double", "Department performance factor, 1 = on plan.", 1.1
        ),
        PARTICIPANT,
    ),
)

EXPRESSION_SITES: Final[Mapping[str, ExpressionSite]] = MappingProxyType(
    {site.name: site for site in (_PHASE_WHEN, _ANOMALY_WHEN, _BONUS_FORMULA)}
)
"""Every place a definition holds an expression, with the variables it may use."""


def describe_sites() -> str:
    """The site table as Markdown, for the definitions README."""
    lines = ["| site | YAML location | result | variable | type | meaning |", "| --- " * 6 + "|"]
    for site in EXPRESSION_SITES.values():
        for variable in site.variables:
            entries = [(variable.name, variable)] + [
                (f"{variable.name}.{f.name}", f) for f in variable.fields
            ]
            for name, var in entries:
                lines.append(
                    f"| `{site.name}` | `{site.where}` | {site.result} | `{name}` | {var.type} "
                    f"| {var.description} |"
                )
    return "\n".join(lines) + "\n"


# --- functions and macros -------------------------------------------------------------


def _numbers(args: tuple[Any, ...]) -> list[float | int]:
    items = list(args[0]) if len(args) == 1 and isinstance(args[0], list) else list(args)
    if not items:
        raise ValueError("needs at least one number")
    for item in items:
        if isinstance(item, bool) or not isinstance(item, int | float):
            raise TypeError(f"expects numbers, got {type(item).__name__}")
    return items


def _min(*args: Any) -> float | int:
    return min(_numbers(args))


def _max(*args: Any) -> float | int:
    return max(_numbers(args))


_FUNCTIONS: Final = MappingProxyType({"min": _min, "max": _max})
_OPERATORS: Final = frozenset(
    {
        "_+_", "_-_", "_*_", "_/_", "_%_", "-_",
        "_==_", "_!=_", "_<_", "_<=_", "_>_", "_>=_",
        "_&&_", "_||_", "!_", "_?_:_", "_[_]", "@in", "@not_strictly_false",
    }
)  # fmt: skip
_NAMED_FUNCTIONS: Final = frozenset(
    {"size", "int", "double", "string", "contains", "startsWith", "endsWith", "matches"}
    | set(_FUNCTIONS)
)
_COMPREHENSIONS: Final = frozenset(
    {"all", "exists", "exists_one", "map", "filter", "transformList", "transformMap"}
)


# --- a small CEL lexer: enough to guard, inspect and rewrite literals ------------------

_TOKEN_RE: Final = re.compile(
    r"""
      (?P<space>\s+)
    | (?P<comment>//[^\n]*)
    | (?P<string>(?:[rR][bB]?|[bB][rR]?)?(?:'''|\"\"\"|'|\"))
    | (?P<number>0[xX][0-9a-fA-F]+[uU]?
        |\d+\.\d+(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+|\.\d+(?:[eE][+-]?\d+)?
        |\d+[uU]?)
    | (?P<ident>[_a-zA-Z][_a-zA-Z0-9]*)
    | (?P<punct>.)
    """,
    re.VERBOSE | re.DOTALL,
)
_INT_RE: Final = re.compile(r"^(?:\d+|0[xX][0-9a-fA-F]+)$")


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    start: int


def _tokens(src: str) -> Iterator[_Token]:
    """Tokens of CEL text the parser has accepted; whitespace and comments dropped."""
    pos = 0
    while pos < len(src):
        match = _TOKEN_RE.match(src, pos)
        if match is None:  # pragma: no cover - the last alternative matches any character
            return
        kind = match.lastgroup or "punct"
        if kind == "string":
            end = _string_end(src, match.end(), match.group())
            yield _Token("string", src[pos:end], pos)
            pos = end
            continue
        if kind not in ("space", "comment"):
            yield _Token(kind, match.group(), pos)
        pos = match.end()


def _string_end(src: str, body: int, opening: str) -> int:
    quote = opening.lstrip("rRbB")
    raw = any(c in "rR" for c in opening[: len(opening) - len(quote)])
    pos = body
    while pos < len(src):
        if not raw and src[pos] == "\\":
            pos += 2
            continue
        if src.startswith(quote, pos):
            return pos + len(quote)
        pos += 1
    return len(src)


def _operand_end(token: _Token | None) -> bool:
    """Whether a `[` after this token indexes (rather than opens a list literal)."""
    if token is None:
        return False
    return token.kind in ("ident", "string", "number") or token.text in (")", "]", "}")


@dataclass
class _Frame:
    opener: str  # "(", "[" (list), "i" (index), "{"
    map_key: bool = False


@dataclass
class _Scan:
    """What the lexer learnt about an expression; `rewritten` has double literals."""

    rewritten: str
    macros: list[_Token]
    participant_fields: list[tuple[str, int]]


def _scan(src: str) -> _Scan:
    tokens = list(_tokens(src))
    out: list[str] = []
    last = 0
    stack: list[_Frame] = []
    macros: list[_Token] = []
    fields: list[tuple[str, int]] = []
    for index, token in enumerate(tokens):
        before = tokens[index - 1] if index else None
        after = tokens[index + 1] if index + 1 < len(tokens) else None
        text = token.text
        if text in ("(", "[", "{") and token.kind == "punct":
            opener = "i" if text == "[" and _operand_end(before) else text
            stack.append(_Frame(opener, map_key=text == "{"))
        elif text in (")", "]", "}") and token.kind == "punct":
            if stack:
                stack.pop()
        elif text == ":" and stack and stack[-1].opener == "{":
            stack[-1].map_key = False
        elif text == "," and stack and stack[-1].opener == "{":
            stack[-1].map_key = True
        elif token.kind == "ident":
            dotted = before is not None and before.text == "."
            if dotted and text in _COMPREHENSIONS and after is not None and after.text == "(":
                macros.append(token)
            if text == "participant" and not dotted and after is not None:
                follow = tokens[index + 2] if index + 2 < len(tokens) else None
                if after.text == "." and follow is not None and follow.kind == "ident":
                    fields.append((follow.text, follow.start))
                elif after.text == "[" and follow is not None and follow.kind == "string":
                    fields.append((_string_value(follow.text), follow.start))
        elif token.kind == "number" and _INT_RE.match(text):
            frame = stack[-1] if stack else None
            keep = frame is not None and (
                (frame.opener == "{" and frame.map_key)
                or (
                    frame.opener == "i"
                    and before is not None
                    and before.text == "["
                    and after is not None
                    and after.text == "]"
                )
            )
            if not keep:
                out.append(src[last : token.start])
                out.append(_as_double(text))
                last = token.start + len(text)
    out.append(src[last:])
    return _Scan("".join(out), macros, fields)


def _string_value(literal: str) -> str:
    body = literal.lstrip("rRbB")
    quote = body[:3] if body[:3] in ("'''", '"""') else body[:1]
    return body[len(quote) : len(body) - len(quote)]


def _as_double(text: str) -> str:
    if text[:2] in ("0x", "0X"):
        return repr(float(int(text, 16)))
    return f"{text}.0"


def _bracket_depth(src: str) -> int:
    """Bracket depth of raw text (strings included: a cheap, conservative pre-parse guard)."""
    depth = deepest = 0
    for char in src:
        if char in "([{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in ")]}":
            depth -= 1
    return deepest


# --- compiling ------------------------------------------------------------------------


@dataclass(frozen=True)
class CompiledExpression:
    """A checked expression, ready to evaluate; safe to share between threads."""

    source: str
    site: Site
    variables: frozenset[str]
    program: Any = field(repr=False, compare=False)

    @property
    def spec(self) -> ExpressionSite:
        return EXPRESSION_SITES[self.site]


def site_spec(site: str) -> ExpressionSite:
    spec = EXPRESSION_SITES.get(site)
    if spec is None:
        raise ExpressionError(
            f'unknown expression site "{site}"; sites: {", ".join(EXPRESSION_SITES)}', site=site
        )
    return spec


def compile_expression(src: str, site: str) -> CompiledExpression:
    """Check `src` for `site` and compile it; raise `ExpressionError` saying what is wrong."""
    if not isinstance(src, str):
        raise ExpressionError(f"expected an expression text, got {type(src).__name__}")
    return _compile(src, site)


@lru_cache(maxsize=1024)
def _compile(src: str, site: str) -> CompiledExpression:
    spec = site_spec(site)

    def fail(message: str) -> ExpressionError:
        return ExpressionError(message, site=site, source=src)

    if len(src) > MAX_LENGTH:
        raise fail(f"expression is {len(src)} characters; the limit is {MAX_LENGTH}")
    if not src.strip():
        raise fail("expression is empty")
    if _bracket_depth(src) > MAX_DEPTH:
        raise fail(f"expression nests brackets deeper than {MAX_DEPTH} levels")
    try:
        cel.compile(src)  # the text as written, so syntax errors point at HR's columns
    except ValueError as exc:
        raise fail(_syntax_message(str(exc))) from None
    except BaseException as exc:  # the parser's other failures, a Rust panic included
        if not _is_failure(exc):
            raise
        raise fail(f"CEL syntax error: {_first_line(str(exc))}") from None

    scan = _scan(src)
    if scan.macros:
        macro = scan.macros[0]
        raise fail(
            f'"{macro.text}(...)" at {_where(src, macro.start)} is not allowed: expressions have '
            "no comprehensions (all, exists, exists_one, map, filter); use "
            '`x in ["a", "b"]` for membership'
        )
    try:
        program = cel.compile(scan.rewritten)
        used_variables = set(program.variables())
        used_functions = set(program.functions())
    except ValueError as exc:  # pragma: no cover - literal rewriting keeps the syntax valid
        raise fail(_syntax_message(str(exc))) from None

    unknown = sorted(used_variables - set(spec.variable_names))
    if unknown:
        name = unknown[0]
        raise fail(
            f'unknown variable "{name}"{_did_you_mean(name, spec.variable_names)}; '
            f"{spec.title} may use: {', '.join(spec.variable_names)}"
        )
    participant = spec.variable("participant")
    known_fields = sorted(f.name for f in participant.fields) if participant else []
    for name, start in scan.participant_fields:
        if name not in known_fields:
            raise fail(
                f'unknown participant field "{name}" at {_where(src, start)}'
                f"{_did_you_mean(name, known_fields)}; participant has: {', '.join(known_fields)}"
            )
    functions = sorted(used_functions - _OPERATORS - _NAMED_FUNCTIONS)
    if functions:
        name = functions[0]
        raise fail(
            f'unknown function "{name}"{_did_you_mean(name, sorted(_NAMED_FUNCTIONS))}; '
            f"expressions may call: {', '.join(sorted(_NAMED_FUNCTIONS))}"
        )

    compiled = CompiledExpression(src, spec.name, frozenset(used_variables), program)
    _dry_run(compiled, spec, fail)
    return compiled


def _dry_run(
    compiled: CompiledExpression, spec: ExpressionSite, fail: Callable[[str], ExpressionError]
) -> None:
    """Run once on sample values of the right types: catches type errors and result types.

    Only failures that do not depend on the values are reported; a division by zero or a
    missing map key on the samples says nothing about the real inputs.
    """
    try:
        result = _execute(compiled.program, spec.sample())
    except TypeError as exc:
        raise fail(_type_message(str(exc))) from None
    except RuntimeError as exc:
        raise fail(_first_sentence(str(exc))) from None
    except BaseException as exc:
        if not _is_failure(exc):
            raise
        return
    expected_bool = spec.result == "bool"
    if expected_bool and not isinstance(result, bool):
        raise fail(f"{spec.title} must give true or false, got {_describe(result)}")
    if not expected_bool and (isinstance(result, bool) or not isinstance(result, int | float)):
        raise fail(f"{spec.title} must give a number, got {_describe(result)}")


def _syntax_message(raw: str) -> str:
    # cel reports "... ERROR: <input>:1:4: Syntax error: mismatched input ... expecting {...}"
    matches = re.findall(r"ERROR: <input>:(\d+):(\d+): (.*)", raw)
    # cel-rust sometimes leads with an internal note; the parser's own error says more
    useful = [m for m in matches if "Incomplete `ExprContext`" not in m[2]] or matches
    if not useful:
        return f"CEL syntax error: {_first_line(raw)}"
    line, column, message = useful[0]
    message = message.removeprefix("Syntax error: ").strip()
    expected = ""
    cut = message.find(" expecting ")
    if cut >= 0:
        options = message[cut + len(" expecting ") :].strip("{} ")
        expected = f" (expected {options})" if options.count(",") < 5 else ""
        message = message[:cut]
    if message == "mismatched input '<EOF>'":
        message = "the expression ends too early"
    else:
        for prefix in ("mismatched input ", "extraneous input ", "no viable alternative at input "):
            if message.startswith(prefix):
                message = "unexpected " + message.removeprefix(prefix)
        message = message.replace("token recognition error at: ", "unexpected character ")
    where = f"column {column}" if line == "1" else f"line {line}, column {column}"
    return f"CEL syntax error at {where}: {message}{expected}"


def _type_message(raw: str) -> str:
    return (
        f"type error: {_first_sentence(raw)} (every number is a double: wrap int(...) and "
        "size(...) in double(...) for arithmetic; map keys need int(...))"
    )


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "unknown error"


def _first_sentence(text: str) -> str:
    line = _first_line(text)
    cut = line.find(". ")
    return (line[:cut] if cut > 0 else line.rstrip(".")).strip()


def _where(src: str, offset: int) -> str:
    line = src.count("\n", 0, offset) + 1
    column = offset - (src.rfind("\n", 0, offset) + 1) + 1
    return f"column {column}" if line == 1 else f"line {line}, column {column}"


def _did_you_mean(name: str, candidates: list[str] | tuple[str, ...]) -> str:
    close = difflib.get_close_matches(name, list(candidates), n=1)
    return f' (did you mean "{close[0]}"?)' if close else ""


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int | float):
        return f"a number ({value})"
    if isinstance(value, str):
        return f"text ({value[:40]!r})"
    if value is None:
        return "null"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a map"
    return type(value).__name__


# --- evaluating -----------------------------------------------------------------------


def _as_cel(value: Any) -> Any:
    """Numbers to doubles, recursively; bools stay bools (a bool is an int in Python)."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, Mapping):
        return {str(k): _as_cel(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_as_cel(v) for v in value]
    return value


def _execute(program: Any, variables: Mapping[str, Any]) -> Any:
    context = cel.Context(
        variables={name: _as_cel(value) for name, value in variables.items()},
        functions=dict(_FUNCTIONS),
    )
    return program.execute(context)


def evaluate(compiled: CompiledExpression, variables: Mapping[str, Any]) -> Any:
    """Run a compiled expression; every failure becomes an `ExpressionError`."""
    spec = compiled.spec
    missing = sorted(compiled.variables - set(variables))
    if missing:
        raise ExpressionError(
            f"{spec.title} needs {', '.join(missing)}, which the caller did not provide",
            site=compiled.site,
            source=compiled.source,
        )
    try:
        return _execute(compiled.program, variables)
    except BaseException as exc:
        if not _is_failure(exc):
            raise
        raise ExpressionError(
            f"{spec.title} failed: {_runtime_message(exc)}",
            site=compiled.site,
            source=compiled.source,
        ) from None


def _is_failure(exc: BaseException) -> bool:
    """An error of the expression: any Exception, or a Rust panic (pyo3 raises those as a
    BaseException); interrupts and exits must pass."""
    return isinstance(exc, Exception) or type(exc).__name__ == "PanicException"


def _runtime_message(exc: BaseException) -> str:
    if isinstance(exc, KeyError):
        return f"no such key {exc.args[0]!r}" if exc.args else "no such key"
    if isinstance(exc, ZeroDivisionError):
        return "division by zero"
    return _first_sentence(str(exc)) or type(exc).__name__


def evaluate_condition(compiled: CompiledExpression, variables: Mapping[str, Any]) -> bool:
    """Evaluate a `when`; anything but true or false is an `ExpressionError`."""
    result = evaluate(compiled, variables)
    if not isinstance(result, bool):
        raise ExpressionError(
            f"{compiled.spec.title} must give true or false, got {_describe(result)}",
            site=compiled.site,
            source=compiled.source,
        )
    return result


def evaluate_number(compiled: CompiledExpression, variables: Mapping[str, Any]) -> float:
    """Evaluate a formula to a finite float; anything else is an `ExpressionError`."""
    result = evaluate(compiled, variables)
    if isinstance(result, bool) or not isinstance(result, int | float):
        raise ExpressionError(
            f"{compiled.spec.title} must give a number, got {_describe(result)}",
            site=compiled.site,
            source=compiled.source,
        )
    number = float(result)
    if not math.isfinite(number):
        raise ExpressionError(
            f"{compiled.spec.title} gave {number} (a division by zero?)",
            site=compiled.site,
            source=compiled.source,
        )
    return number
