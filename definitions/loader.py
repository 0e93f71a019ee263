"""YAML -> `CycleDefinition`, with every problem located by file, line, column and key path.

The loader works in four passes, each collecting problems rather than stopping at the
first: (1) guard the bytes (size cap, binary garbage, UTF-8), (2) parse YAML with
positions and convert it to plain JSON-like data (duplicate keys, alias bombs and very
deep nesting are refused here), (3) validate with pydantic and translate its errors into
HR-readable messages, (4) load the referenced forms and run the semantic checks. Any
problem raises one `DefinitionError` carrying all of them; nothing else escapes.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import ConstructorError, RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import CollectionEndEvent, CollectionStartEvent

from definitions.errors import DefinitionError, Problem
from definitions.models import CycleDefinition

if TYPE_CHECKING:
    from definitions.pinned import PinnedDefinition

MAX_FILE_BYTES = 128 * 1024  # 7x the largest stock cycle; bounds pure-Python parse time
MAX_NODES = 50_000
MAX_DEPTH = 40
MAX_FORM_BYTES = 256 * 1024

PACKAGED_FORMS_DIR = Path(__file__).resolve().parent / "forms"

KeyPath = tuple[str | int, ...]


def format_path(path: Sequence[str | int]) -> str:
    """`("phases", 1, "reminders", 0)` -> `phases[1].reminders[0]`."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


@dataclass(frozen=True)
class LoadedDefinition:
    """A valid definition with the form schemas it references, ready to publish or pin."""

    definition: CycleDefinition
    form_schemas: Mapping[str, Mapping[str, Any]]
    source_text: str
    path: Path | None = None

    @property
    def ref(self) -> str:
        return self.definition.ref

    def canonical(self) -> dict[str, Any]:
        """The content that is hashed and stored: the definition and its forms."""
        return {
            "definition": self.definition.model_dump(mode="json", by_alias=True),
            "forms": {key: self.form_schemas[key] for key in sorted(self.form_schemas)},
        }

    @cached_property
    def sha256(self) -> str:
        return canonical_sha256(self.canonical())


def canonical_json(content: Any) -> str:
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_sha256(content: Any) -> str:
    return hashlib.sha256(canonical_json(content).encode("utf-8")).hexdigest()


# --- pass 1 and 2: bytes and YAML -----------------------------------------------------


@dataclass
class _Positions:
    """Line and column (1-based) of every key path seen while converting the YAML."""

    values: dict[KeyPath, tuple[int, int]] = field(default_factory=dict)
    keys: dict[KeyPath, tuple[int, int]] = field(default_factory=dict)

    def locate(self, path: KeyPath, *, prefer_key: bool = False) -> tuple[int | None, int | None]:
        probe = path
        while True:
            table = (self.keys, self.values) if prefer_key else (self.values, self.keys)
            for positions in table:
                if probe in positions:
                    return positions[probe]
            if not probe:
                return None, None
            probe = probe[:-1]
            prefer_key = False


class _ConversionError(Exception):
    def __init__(self, path: KeyPath, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message


class _Converter:
    """Ruamel's round-trip tree -> plain dicts, lists and scalars, recording positions."""

    def __init__(self) -> None:
        self.positions = _Positions()
        self.nodes = 0

    def convert(self, node: Any, path: KeyPath, depth: int) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _ConversionError(
                path,
                f"the document expands to more than {MAX_NODES} values (YAML aliases?); "
                "refusing to load it",
            )
        if depth > MAX_DEPTH:
            raise _ConversionError(path, f"nesting deeper than {MAX_DEPTH} levels")
        if isinstance(node, CommentedMap):
            out: dict[str, Any] = {}
            for key in node:
                child_path = (*path, str(key))
                key_pos = _lc(node, "key", key)
                if key_pos:
                    self.positions.keys[child_path] = key_pos
                if not isinstance(key, str):
                    raise _ConversionError(
                        child_path, f"keys must be text, got {type(key).__name__} {key!r}"
                    )
                # An empty value (`title:`) has no position of its own; ruamel reports the
                # next token's, often on a later line, so use the key's.
                value_pos = (None if node[key] is None else _lc(node, "value", key)) or key_pos
                if value_pos:
                    self.positions.values[child_path] = value_pos
                out[key] = self.convert(node[key], child_path, depth + 1)
            return out
        if isinstance(node, CommentedSeq):
            items: list[Any] = []
            for index, item in enumerate(node):
                child_path = (*path, index)
                item_pos = _lc(node, "item", index)
                if item_pos:
                    self.positions.values[child_path] = item_pos
                items.append(self.convert(item, child_path, depth + 1))
            return items
        if isinstance(node, dict | list):
            raise _ConversionError(path, "unsupported YAML structure")
        if node is None or isinstance(node, bool):
            return node
        if isinstance(node, int):
            return int(node)
        if isinstance(node, float):
            return float(node)
        if isinstance(node, datetime):
            return node.isoformat()
        if isinstance(node, date):
            return node.isoformat()
        if isinstance(node, str):
            return str(node)
        tag = getattr(node, "tag", None)
        if tag is not None:  # a TaggedScalar: `!!python/name:os.system x`, `!foo bar`
            tag = str(tag).replace("tag:yaml.org,2002:", "!!")
            raise _ConversionError(path, f"YAML tags are not supported here, got {tag}")
        raise _ConversionError(path, f"unsupported YAML value of type {type(node).__name__}")


def _lc(node: CommentedMap | CommentedSeq, kind: str, key: Any) -> tuple[int, int] | None:
    try:
        line, column = getattr(node.lc, kind)(key)
    except (KeyError, IndexError, TypeError, AttributeError):
        return None
    return int(line) + 1, int(column) + 1


class _Constructor(RoundTripConstructor):
    """Ruamel's round-trip constructor, with every construction failure located.

    Ruamel raises bare `ValueError`, `KeyError` or `IndexError` for scalars it cannot build
    (`!!int 0x`, `!!bool maybe`, `2027-02-30`): without a position, or escaping the loader.
    An impossible date stays text, so that validation reports it at its key; anything
    else becomes a `ConstructorError` at the node.
    """

    def construct_yaml_timestamp(self, node: Any, values: Any = None) -> Any:
        try:
            return super().construct_yaml_timestamp(node, values)
        except ValueError:
            return self.construct_scalar(node)

    def construct_non_recursive_object(self, node: Any, tag: str | None = None) -> Any:
        try:
            return super().construct_non_recursive_object(node, tag)
        except (ValueError, KeyError, IndexError, TypeError, OverflowError):
            tag = str(node.tag).replace("tag:yaml.org,2002:", "!!")
            raise ConstructorError(
                None, None, f'cannot read "{node.value}" as {tag}', node.start_mark
            ) from None


_Constructor.add_default_constructor("timestamp")


def _new_yaml() -> YAML:
    yaml = YAML(typ="rt", pure=True)
    yaml.Constructor = _Constructor
    yaml.allow_duplicate_keys = False
    return yaml


def _decode(raw: bytes, file: str) -> str:
    if len(raw) > MAX_FILE_BYTES:
        raise DefinitionError(
            [
                Problem(
                    file, None, None, "", f"file is {len(raw)} bytes; the limit is {MAX_FILE_BYTES}"
                )
            ]
        )
    if b"\x00" in raw:
        raise DefinitionError([Problem(file, None, None, "", "file is binary, not YAML text")])
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DefinitionError(
            [Problem(file, None, None, "", f"file is not UTF-8 text (byte {exc.start})")]
        ) from None


def _check_depth(text: str) -> None:
    """Refuse deep nesting from the event stream, before the recursive composer sees it."""
    depth = 0
    for event in _new_yaml().parse(text):
        if isinstance(event, CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                mark = event.start_mark
                raise _TooDeep(mark.line + 1 if mark else None, mark.column + 1 if mark else None)
        elif isinstance(event, CollectionEndEvent):
            depth -= 1


class _TooDeep(Exception):
    def __init__(self, line: int | None, column: int | None) -> None:
        super().__init__("too deep")
        self.line = line
        self.column = column


def _parse(text: str, file: str) -> tuple[Any, _Positions]:
    try:
        _check_depth(text)
        tree = _new_yaml().load(text)
    except _TooDeep as exc:
        raise DefinitionError(
            [Problem(file, exc.line, exc.column, "", f"nesting deeper than {MAX_DEPTH} levels")]
        ) from None
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        column = mark.column + 1 if mark is not None else None
        problem = (exc.problem or exc.context or "invalid YAML").strip()
        if "duplicate key" in problem or "found duplicate key" in str(exc):
            problem = f"duplicate key {_duplicate_key(str(exc))}".strip()
        raise DefinitionError(
            [Problem(file, line, column, "", f"invalid YAML: {problem}")]
        ) from None
    except (YAMLError, RecursionError, ValueError, TypeError) as exc:
        message = (
            "nesting too deep" if isinstance(exc, RecursionError) else str(exc).splitlines()[0]
        )
        raise DefinitionError([Problem(file, None, None, "", f"invalid YAML: {message}")]) from None
    converter = _Converter()
    try:
        data = converter.convert(tree, (), 0)
    except _ConversionError as exc:
        line, column = converter.positions.locate(exc.path)
        raise DefinitionError(
            [Problem(file, line, column, format_path(exc.path), exc.message)]
        ) from None
    except RecursionError:
        raise DefinitionError([Problem(file, None, None, "", "nesting too deep")]) from None
    return data, converter.positions


def _duplicate_key(message: str) -> str:
    for line in message.splitlines():
        if "found duplicate key" in line:
            return line.split("found duplicate key", 1)[1].split("with value")[0].strip()
    return ""


# --- pass 3: pydantic errors, in HR's words --------------------------------------------

_TYPE_NAMES = {
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "string_type": "text",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "a list",
    "tuple_type": "a list",
    "dict_type": "a mapping of keys to values",
    "model_type": "a mapping of keys to values",
    "model_attributes_type": "a mapping of keys to values",
    "date_type": "a date like 2027-01-04",
    "date_parsing": "a date like 2027-01-04",
    "date_from_datetime_parsing": "a date like 2027-01-04",
    "date_from_datetime_inexact": "a date like 2027-01-04 (no time of day)",
    "none_required": "nothing (null)",
}


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:57] + '..."'


def _message(
    error: ErrorDetails, allowed_keys: Callable[[KeyPath], list[str]], loc: KeyPath
) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    got = error.get("input")
    if kind == "missing":
        return f'missing required key "{loc[-1]}"' if loc else "missing required key"
    if kind == "extra_forbidden":
        key = str(loc[-1]) if loc else ""
        candidates = allowed_keys(loc[:-1])
        close = difflib.get_close_matches(key, candidates, n=1)
        hint = (
            f'; did you mean "{close[0]}"?'
            if close
            else (f"; expected one of: {', '.join(candidates)}" if candidates else "")
        )
        return f'unknown key "{key}"{hint}'
    if kind in _TYPE_NAMES:
        return f"expected {_TYPE_NAMES[kind]}, got {_show(got)}"
    if kind == "literal_error":
        return f"expected {ctx.get('expected', 'one of the allowed values')}, got {_show(got)}"
    if kind == "union_tag_invalid":
        return f"unknown kind {_show(ctx.get('tag'))}; expected one of {ctx.get('expected_tags')}"
    if kind == "union_tag_not_found":
        return f'missing required key "{ctx.get("discriminator", "kind").strip(chr(39))}"'
    if kind in {"greater_than_equal", "greater_than", "less_than_equal", "less_than"}:
        symbol = {
            "greater_than_equal": ">=",
            "greater_than": ">",
            "less_than_equal": "<=",
            "less_than": "<",
        }[kind]
        bound = next(iter(ctx.values()), "?")
        return f"expected a value {symbol} {bound}, got {_show(got)}"
    if kind == "too_short":
        return f"expected at least {ctx.get('min_length')} item(s), got {ctx.get('actual_length')}"
    if kind == "too_long":
        return f"expected at most {ctx.get('max_length')} item(s), got {ctx.get('actual_length')}"
    if kind == "string_too_short":
        return "expected non-empty text"
    if kind == "string_too_long":
        return f"text is longer than {ctx.get('max_length')} characters"
    if kind == "string_pattern_mismatch":
        return f"{_show(got)} does not match the expected format {ctx.get('pattern')}"
    message = str(error.get("msg", "invalid value"))
    return message.removeprefix("Value error, ")


def _clean_loc(loc: tuple[str | int, ...], data: Any) -> KeyPath:
    """Drop the union tags pydantic inserts (`phases.0.goal_setting.window`)."""
    out: list[str | int] = []
    node = data
    for part in loc:
        if part == "[key]":
            continue
        if isinstance(node, dict) and part not in node and node.get("kind") == part:
            continue
        out.append(part)
        if isinstance(node, dict) and isinstance(part, str):
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            node = None
    return tuple(out)


def _model_fields_at(path: KeyPath, data: Any) -> list[str]:
    """Allowed keys of the model standing at `path`, for "did you mean" hints."""
    annotation: Any = CycleDefinition
    node = data
    for part in path:
        annotation = _unwrap(annotation, node)
        if _is_model(annotation):
            info = annotation.model_fields.get(str(part))
            if info is None:
                for name, candidate in annotation.model_fields.items():
                    if candidate.alias == part or name == part:
                        info = candidate
                        break
            if info is None:
                return []
            annotation = info.annotation
        elif get_origin(annotation) in (tuple, list):
            annotation = get_args(annotation)[0]
        elif get_origin(annotation) is dict:
            annotation = get_args(annotation)[1]
        else:
            return []
        node = (
            node.get(part)
            if isinstance(node, dict)
            else (
                node[part]
                if isinstance(node, list) and isinstance(part, int) and part < len(node)
                else None
            )
        )
    annotation = _unwrap(annotation, node)
    if _is_model(annotation):
        return sorted((info.alias or name) for name, info in annotation.model_fields.items())
    return []


def _is_model(annotation: Any) -> bool:
    return (
        get_origin(annotation) is None
        and isinstance(annotation, type)
        and issubclass(annotation, BaseModel)
    )


def _unwrap(annotation: Any, node: Any) -> Any:
    """Strip Annotated and Optional; pick a union member by the data's `kind`."""
    for _ in range(10):
        origin = get_origin(annotation)
        if origin is None:
            return annotation
        args = [arg for arg in get_args(annotation) if arg is not type(None)]
        if origin is Annotated:
            annotation = get_args(annotation)[0]
            continue
        if origin in (tuple, list, dict):
            return annotation
        kind = node.get("kind") if isinstance(node, dict) else None
        models = [arg for arg in args if _is_model(arg)]
        chosen = next(
            (
                m
                for m in models
                if "kind" in m.model_fields and kind in get_args(m.model_fields["kind"].annotation)
            ),
            models[0] if len(models) == 1 else None,
        )
        if chosen is None:
            annotation = args[0] if len(args) == 1 else annotation
            if len(args) != 1:
                return annotation
            continue
        return chosen
    return annotation


def _validate(data: Any, positions: _Positions, file: str) -> CycleDefinition:
    if not isinstance(data, dict):
        raise DefinitionError(
            [
                Problem(
                    file,
                    1 if data is not None else None,
                    1 if data is not None else None,
                    "",
                    "expected a mapping with apiVersion, kind, metadata, calendar and phases"
                    if data is not None
                    else "the file is empty",
                )
            ]
        )
    try:
        return CycleDefinition.model_validate_json(json.dumps(data))
    except ValidationError as exc:
        problems: list[Problem] = []
        seen: set[tuple[str, str]] = set()
        errors = exc.errors(include_url=False)
        failing_items = {tuple(e["loc"][:-1]) for e in errors if len(e["loc"]) > 1}
        for error in errors:
            if error["type"] == "too_short" and any(
                loc[: len(error["loc"])] == tuple(error["loc"]) for loc in failing_items
            ):
                continue  # a list whose items failed is not also "too short"
            loc = _clean_loc(tuple(error["loc"]), data)
            message = _message(error, lambda p: _model_fields_at(p, data), loc)
            shown_path = loc
            if error["type"] == "missing" and loc:
                shown_path = loc[:-1]
            key = (format_path(loc), message)
            if key in seen:
                continue
            seen.add(key)
            line, column = positions.locate(
                shown_path, prefer_key=error["type"] in ("extra_forbidden", "missing")
            )
            problems.append(Problem(file, line, column, format_path(shown_path), message))
        raise DefinitionError(problems) from None


# --- pass 4: forms and semantic checks ------------------------------------------------


def _forms_dirs(path: Path | None, forms_dir: Path | None) -> list[Path]:
    if forms_dir is not None:
        return [forms_dir]
    dirs: list[Path] = []
    if path is not None:
        here = path.resolve().parent
        # cycles/<name>/v<N>.yaml sits two folders below the definitions root.
        dirs += [here / "forms", here.parent / "forms", here.parent.parent / "forms"]
    dirs.append(PACKAGED_FORMS_DIR)
    return dirs


def _load_forms(
    definition: CycleDefinition, dirs: list[Path], report: Callable[[KeyPath, str], None]
) -> dict[str, dict[str, Any]]:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    schemas: dict[str, dict[str, Any]] = {}
    for index, form in enumerate(definition.forms):
        where: KeyPath = ("forms", index, "schema_file")
        if ".." in Path(form.schema_file).parts:
            report(where, f'"{form.schema_file}" may not leave the forms folder')
            continue
        found = next((d / form.schema_file for d in dirs if (d / form.schema_file).is_file()), None)
        if found is None:
            report(where, f'form file "{form.schema_file}" not found in {dirs[0]}')
            continue
        raw = found.read_bytes()
        if len(raw) > MAX_FORM_BYTES:
            report(where, f'form file "{form.schema_file}" is larger than {MAX_FORM_BYTES} bytes')
            continue
        try:
            schema = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            report(where, f'form file "{form.schema_file}" is not valid JSON: {exc}')
            continue
        if not isinstance(schema, dict):
            report(where, f'form file "{form.schema_file}" must hold a JSON object')
            continue
        declared = schema.get("$schema")
        if declared not in (None, "https://json-schema.org/draft/2020-12/schema"):
            report(where, f'form "{form.id}" must use JSON Schema draft 2020-12, got {declared}')
            continue
        try:
            Draft202012Validator.check_schema(schema)
        except SchemaError as exc:
            report(where, f'form "{form.id}" is not a valid JSON Schema: {exc.message}')
            continue
        if schema.get("type") != "object":
            report(where, f'form "{form.id}" must describe an object ("type": "object")')
            continue
        schemas[form.id] = schema
    return schemas


def _check_file_name(
    definition: CycleDefinition, path: Path | None
) -> Iterator[tuple[KeyPath, str]]:
    """`cycles/<name>/v<N>.yaml` must hold name <name> and version N."""
    if path is None or path.parent.parent.name != "cycles":
        return
    if path.parent.name != definition.metadata.name:
        yield (
            ("metadata", "name"),
            (f'name "{definition.metadata.name}" does not match its folder "{path.parent.name}"'),
        )
    stem = path.stem
    if stem.startswith("v") and stem[1:].isdigit() and int(stem[1:]) != definition.metadata.version:
        yield (
            ("metadata", "version"),
            (f"version {definition.metadata.version} does not match the file name {path.name}"),
        )


def load_text(
    text: str | bytes,
    *,
    file: str = "<string>",
    path: Path | None = None,
    forms_dir: Path | None = None,
) -> LoadedDefinition:
    """Load a definition from text; raise `DefinitionError` with every problem found."""
    raw = text.encode("utf-8") if isinstance(text, str) else text
    source = _decode(raw, file)
    data, positions = _parse(source, file)
    definition = _validate(data, positions, file)

    problems: list[Problem] = []

    def report(where: KeyPath, message: str) -> None:
        line, column = positions.locate(where)
        problems.append(Problem(file, line, column, format_path(where), message))

    form_schemas = _load_forms(definition, _forms_dirs(path, forms_dir), report)
    for where, message in _check_file_name(definition, path):
        report(where, message)

    from definitions.checks import check_definition

    for where, message in check_definition(definition, form_schemas):
        report(where, message)
    if problems:
        raise DefinitionError(problems)
    return LoadedDefinition(definition, form_schemas, source, path)


def display_name(path: Path) -> str:
    """`definitions/cycles/annual-review/v2.yaml` -> `annual-review/v2.yaml`."""
    if path.parent.parent.name == "cycles":
        return f"{path.parent.name}/{path.name}"
    return str(path)


def load_file(path: str | Path, *, forms_dir: Path | None = None) -> LoadedDefinition:
    """Load a definition file; raise `DefinitionError` with every problem found."""
    file_path = Path(path)
    name = display_name(file_path)
    try:
        with file_path.open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise DefinitionError([Problem(name, None, None, "", "no such file")]) from None
    except IsADirectoryError:
        raise DefinitionError([Problem(name, None, None, "", "is a folder, not a file")]) from None
    except OSError as exc:
        raise DefinitionError(
            [Problem(name, None, None, "", f"cannot read: {exc.strerror}")]
        ) from None
    if len(raw) > MAX_FILE_BYTES:
        raise DefinitionError(
            [
                Problem(
                    name, None, None, "", f"file is larger than the limit of {MAX_FILE_BYTES} bytes"
                )
            ]
        )
    return load_text(raw, file=name, path=file_path, forms_dir=forms_dir)


def pin(loaded: LoadedDefinition) -> PinnedDefinition:
    """The loaded definition as a running cycle pins it."""
    from definitions.pinned import PinnedDefinition

    return PinnedDefinition(
        ref=loaded.ref,
        sha256=loaded.sha256,
        definition=loaded.definition,
        form_schemas={key: dict(value) for key, value in loaded.form_schemas.items()},
    )
