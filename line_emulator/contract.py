"""Validation against LINE's official OpenAPI documents (vendored in ``line_emulator/openapi``).

The documents declare message, action, Flex component, template and webhook event
subtypes as ``allOf: [base, {...}]`` plus a ``discriminator`` on the base, with no
``oneOf``. A plain JSON Schema validator therefore checks only the base: a
``{"type": "text"}`` without ``text`` passes. Here every schema with a discriminator
is rewritten before validation so that the discriminating property is required, must
be one of the mapped values, and selects the mapped subtype, which is then validated
in full (and so recursively: boxes inside bubbles, actions inside quick-reply items,
buttons inside footers...).

The OpenAPI documents also leave optional some fields that the Messaging API reference
marks required (a postback action's ``data``, a Flex text's ``text``...). The platform
rejects messages without them, so `REFERENCE_CONSTRAINTS` adds exactly those, each
named with the reference section it comes from. It also leaves out most of the
reference's limits (text length, quick-reply labels, ``altText``, postback data...):
`REFERENCE_LIMITS` adds them the same way, and `flex_size_errors` checks the JSON size
limits of Flex containers, which no schema keyword can express.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator, ValidationError
from jsonschema.validators import extend as validators_extend

SPEC_DIR_ENV = "FANBOT_LINE_OPENAPI_DIR"
MESSAGING_API_FILE = "messaging-api.yml"
WEBHOOK_FILE = "webhook.yml"

_SCHEMA_REF = "#/components/schemas/"
_DEFS_REF = "#/$defs/"

# Required by https://developers.line.biz/en/reference/messaging-api/ but optional in the
# OpenAPI documents (checked against line-openapi 6e4c2a2).
REFERENCE_CONSTRAINTS: dict[str, dict[str, Any]] = {
    # "#postback-action": data is required.
    "PostbackAction": {"required": ["data"]},
    # "#message-action": text is required.
    "MessageAction": {"required": ["text"]},
    # "#uri-action": uri is required.
    "URIAction": {"required": ["uri"]},
    # "#datetime-picker-action": data and mode are required.
    "DatetimePickerAction": {"required": ["data", "mode"]},
    # "#richmenu-switch-action": richMenuAliasId and data are required.
    "RichMenuSwitchAction": {"required": ["richMenuAliasId", "data"]},
    # "#f-text": text is required unless spans are given in contents.
    "FlexText": {"anyOf": [{"required": ["text"]}, {"required": ["contents"]}]},
    # "#span": text is required.
    "FlexSpan": {"required": ["text"]},
    # "#items-object": type ("action") and action are required.
    "QuickReplyItem": {"required": ["type", "action"]},
}

# Limits stated in https://developers.line.biz/en/reference/messaging-api/ that the OpenAPI
# documents leave out; LINE refuses a message that breaks one with 400.
REFERENCE_LIMITS: dict[str, dict[str, Any]] = {
    # "#text-message": text max 5,000 characters.
    "TextMessage": {"properties": {"text": {"maxLength": 5000}}},
    # "#text-message-v2": text max 5,000 characters.
    "TextMessageV2": {"properties": {"text": {"maxLength": 5000}}},
    # "#flex-message" / "#template-messages": altText max 1,500 characters.
    "FlexMessage": {"properties": {"altText": {"maxLength": 1500}}},
    "TemplateMessage": {"properties": {"altText": {"maxLength": 1500}}},
    # "#f-carousel": at most 12 bubbles.
    "FlexCarousel": {"properties": {"contents": {"maxItems": 12}}},
    # "#postback-action": data max 300 characters, displayText max 300 characters.
    "PostbackAction": {"properties": {"data": {"maxLength": 300}, "displayText": {"maxLength": 300}}},
    # "#message-action": text max 300 characters.
    "MessageAction": {"properties": {"text": {"maxLength": 300}}},
    # "#items-object": the label of a quick reply button's action is max 20 characters.
    "QuickReplyItem": {"properties": {"action": {"properties": {"label": {"maxLength": 20}}}}},
}
# Subtrees remembered as valid per validator (`_remembering_ref`): at most this many, each at most
# this many characters of JSON; the memory is dropped whole when full.
MEMO_ENTRIES = 20_000
MEMO_MAX_CHARS = 4_096
# "#f-bubble": a bubble's JSON is at most 30 KB; "#f-carousel": a carousel's at most 50 KB.
# Counted as UTF-8 bytes of compact JSON, with KB = 1,000 bytes (the stricter reading).
MAX_BUBBLE_BYTES = 30_000
MAX_CAROUSEL_BYTES = 50_000


@dataclass(frozen=True)
class ContractError:
    """One way a body departs from the contract, located like LINE's error ``details``."""

    property: str
    message: str

    def __str__(self) -> str:
        return f"{self.property}: {self.message}" if self.property else self.message


@dataclass(frozen=True)
class _Operation:
    method: str
    template: str
    pattern: re.Pattern[str]
    literal_segments: int
    body_schema: dict[str, Any] | None
    body_required: bool


@dataclass
class Contract:
    """The Messaging API and webhook contracts, loaded from one line-openapi folder."""

    spec_dir: Path
    messaging_api: dict[str, Any]
    webhook: dict[str, Any]
    _operations: list[_Operation] = field(init=False, repr=False)
    _api_defs: dict[str, Any] = field(init=False, repr=False)
    _webhook_defs: dict[str, Any] = field(init=False, repr=False)
    _validators: dict[tuple[str, str], tuple[Draft202012Validator, Draft202012Validator]] = field(
        init=False, repr=False, default_factory=dict
    )
    _lock: threading.Lock = field(init=False, repr=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._api_defs = prepare_schemas(self.messaging_api.get("components", {}).get("schemas", {}))
        self._webhook_defs = prepare_schemas(self.webhook.get("components", {}).get("schemas", {}))
        self._operations = _collect_operations(self.messaging_api)

    # -- public -----------------------------------------------------------------------

    def validate_request(self, method: str, path: str, body: Any) -> list[str]:
        """Problems with this Messaging API request body; empty when it conforms."""
        return [str(e) for e in self.request_errors(method, path, body)]

    def validate_webhook(self, body: Any) -> list[str]:
        """Problems with this webhook body (``CallbackRequest``); empty when it conforms."""
        return [str(e) for e in self.webhook_errors(body)]

    def request_errors(self, method: str, path: str, body: Any) -> list[ContractError]:
        operation = self._find_operation(method, path)
        if operation is None:
            return [ContractError("", f"no operation {method.upper()} {path} in {MESSAGING_API_FILE}")]
        if operation.body_schema is None:
            return []
        if body is None:
            if operation.body_required:
                return [ContractError("", f"{method.upper()} {operation.template} requires a JSON body")]
            return []
        validators = self._validator(
            "api", operation.method + " " + operation.template, operation.body_schema
        )
        return _errors(_pick(validators, body), body) + flex_size_errors(body)

    def expects_json(self, method: str, path: str) -> bool:
        """Whether this operation takes a JSON request body (so its Content-Type must say so)."""
        operation = self._find_operation(method, path)
        return operation is not None and operation.body_schema is not None

    def webhook_errors(self, body: Any) -> list[ContractError]:
        validators = self._validator("webhook", "CallbackRequest", {"$ref": _DEFS_REF + "CallbackRequest"})
        return _errors(_pick(validators, body), body)

    # -- internals --------------------------------------------------------------------

    def _find_operation(self, method: str, path: str) -> _Operation | None:
        method = method.lower()
        for operation in self._operations:
            if operation.method == method and operation.pattern.fullmatch(path):
                return operation
        return None

    def _validator(
        self, which: str, key: str, root: dict[str, Any]
    ) -> tuple[Draft202012Validator, Draft202012Validator]:
        """The plain validator of this root and one that remembers valid subtrees (same schema)."""
        with self._lock:
            validators = self._validators.get((which, key))
            if validators is None:
                defs = self._api_defs if which == "api" else self._webhook_defs
                schema = {**_rewrite_refs(root), "$defs": defs}
                remembering = validators_extend(  # type: ignore[no-untyped-call]
                    Draft202012Validator,
                    {
                        "$ref": _remembering_ref(set(), threading.Lock()),
                        "if": _discriminating_if,
                        "allOf": _discriminating_all_of,
                    },
                )
                validators = (Draft202012Validator(schema), remembering(schema))
                self._validators[(which, key)] = validators
            return validators


def _pick(validators: tuple[Draft202012Validator, Draft202012Validator], body: Any) -> Draft202012Validator:
    """The remembering validator for a body made of JSON types only (what ``json.loads`` gives),
    the plain one otherwise: the memory is keyed by JSON text, which cannot tell a tuple from a
    list or a key 1 from "1" though the schema can. Equality after a round trip says it can."""
    try:
        plain_json = json.loads(json.dumps(body)) == body
    except (TypeError, ValueError):
        plain_json = False
    return validators[1] if plain_json else validators[0]


_ORIGINAL_REF = Draft202012Validator.VALIDATORS["$ref"]


_TEXTS = threading.local()
_ORIGINAL_IF = Draft202012Validator.VALIDATORS["if"]


def _discriminating_if(validator: Any, if_schema: Any, instance: Any, schema: Any) -> Any:
    """The ``if`` keyword, answering the dispatch conditions `prepare_schemas` writes without a
    validator of their own.

    ``{"required": [p], "properties": {p: {"const": v}}}`` holds for anything but an object, and
    for an object whose ``p`` is ``v``: for a string ``v`` and a string ``p`` that is plain
    equality. Every other condition (and value) goes to jsonschema's own ``if``. A message type
    is chosen among a dozen or more such conditions, each a validator of its own otherwise.
    """
    prop, value = _dispatch_condition(if_schema)
    if prop is None or (
        isinstance(instance, dict) and prop in instance and not isinstance(instance[prop], str)
    ):
        yield from _ORIGINAL_IF(validator, if_schema, instance, schema)
        return
    holds = not isinstance(instance, dict) or (prop in instance and instance[prop] == value)
    if holds and "then" in schema:
        yield from validator.descend(instance, schema["then"], schema_path="then")
    elif not holds and "else" in schema:
        yield from validator.descend(instance, schema["else"], schema_path="else")


def _discriminating_all_of(validator: Any, all_of: Any, instance: Any, schema: Any) -> Any:
    """The ``allOf`` keyword, passing over the dispatch parts that cannot apply to this object.

    A part ``{"if": <dispatch condition>, "then": ...}`` (no ``else``) says nothing about an
    object whose property is missing or another string; jsonschema's ``allOf`` would still set
    up a validator for it. Every other part is checked as jsonschema checks it.
    """
    for index, subschema in enumerate(all_of):
        if isinstance(instance, dict) and isinstance(subschema, dict) and set(subschema) == {"if", "then"}:
            prop, value = _dispatch_condition(subschema["if"])
            if prop is not None and (
                prop not in instance or (isinstance(instance[prop], str) and instance[prop] != value)
            ):
                continue
        yield from validator.descend(instance, subschema, schema_path=index)


def _dispatch_condition(if_schema: Any) -> tuple[str | None, str | None]:
    """(p, v) when ``if_schema`` is exactly a dispatch condition on a string value, else (None, None)."""
    if not isinstance(if_schema, dict) or set(if_schema) != {"required", "properties"}:
        return None, None
    required, properties = if_schema["required"], if_schema["properties"]
    if not (isinstance(required, list) and len(required) == 1 and isinstance(properties, dict)):
        return None, None
    prop = required[0]
    if (
        set(properties) != {prop}
        or not isinstance(properties[prop], dict)
        or set(properties[prop]) != {"const"}
    ):
        return None, None
    value = properties[prop]["const"]
    return (prop, value) if isinstance(prop, str) and isinstance(value, str) else (None, None)


def _remembering_ref(valid: set[tuple[str, str]], lock: threading.Lock) -> Any:
    """The ``$ref`` keyword, remembering which (reference, subtree) pairs were found valid.

    Whether a subtree conforms to a ``$defs`` schema depends on nothing else (the documents have
    no ``$id``, ``$dynamicRef`` or ``unevaluated*``), so a subtree seen valid before is valid
    again, while one not remembered is checked in full, errors and all, every time. A
    personalised coupon card differs from the last one only in its code and QR image: the rest
    of it (boxes, texts, separators) is checked once instead of once per fan. Errors are never
    remembered; only small subtrees are, so memory stays bounded.
    """

    def ref(validator: Any, reference: str, instance: Any, schema: Any) -> Any:
        key = None
        if isinstance(instance, dict | list):
            # A subtree meets several references in a row (a base, then its subtype): its text
            # is made once per validation (`_errors` starts each with an empty table).
            texts: dict[int, str] | None = getattr(_TEXTS, "table", None)
            text = texts.get(id(instance)) if texts is not None else None
            if text is None:
                text = json.dumps(instance, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
                if texts is not None:
                    texts[id(instance)] = text
            if len(text) <= MEMO_MAX_CHARS:
                key = (reference, text)
                if key in valid:
                    return
        found = False
        for error in _ORIGINAL_REF(validator, reference, instance, schema):
            found = True
            yield error
        if key is not None and not found:
            with lock:
                if len(valid) >= MEMO_ENTRIES:
                    valid.clear()
                valid.add(key)

    return ref


def _errors(validator: Draft202012Validator, instance: Any) -> list[ContractError]:
    found: set[ContractError] = set()
    # Texts of the subtrees of this instance by id, for `_remembering_ref`; valid while the
    # instance (and so every id in it) is alive, which it is until this function returns.
    _TEXTS.table = {}
    try:
        errors = list(validator.iter_errors(instance))
    finally:
        _TEXTS.table = None
    for error in errors:
        location = _property_path(list(error.absolute_path))
        if error.validator == "required":
            missing = re.match(r"^'(.+)' is a required property$", error.message)
            if missing:
                location = f"{location}.{missing.group(1)}" if location else missing.group(1)
        found.add(ContractError(location, _message(error)))
    # A subtype re-checks its base, so the same problem can be reported twice.
    return sorted(found, key=lambda e: (e.property, e.message))


def flex_size_errors(body: Any) -> list[ContractError]:
    """Flex containers in ``body["messages"]`` over the reference's JSON size limits."""
    messages = body.get("messages") if isinstance(body, dict) else None
    if not isinstance(messages, list):
        return []
    found = []
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("type") != "flex":
            continue
        contents = message.get("contents")
        if not isinstance(contents, dict):
            continue
        where = f"messages[{index}].contents"
        if contents.get("type") == "carousel":
            if json_bytes(contents) > MAX_CAROUSEL_BYTES:
                found.append(ContractError(where, f"JSON size must be at most {MAX_CAROUSEL_BYTES} bytes"))
            bubbles = contents.get("contents")
            for number, bubble in enumerate(bubbles if isinstance(bubbles, list) else []):
                if json_bytes(bubble) > MAX_BUBBLE_BYTES:
                    found.append(
                        ContractError(
                            f"{where}.contents[{number}]",
                            f"JSON size must be at most {MAX_BUBBLE_BYTES} bytes",
                        )
                    )
        elif json_bytes(contents) > MAX_BUBBLE_BYTES:
            found.append(ContractError(where, f"JSON size must be at most {MAX_BUBBLE_BYTES} bytes"))
    return found


def json_bytes(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


def _message(error: ValidationError) -> str:
    if error.validator == "maxLength":
        return f"Length must be between 0 and {error.validator_value}"
    if error.validator == "maxItems":
        return f"Size must be at most {error.validator_value}"
    if error.validator == "minItems":
        return f"Size must be at least {error.validator_value}"
    if error.validator in {"anyOf", "oneOf"} and error.context:
        return "must satisfy one of: " + " | ".join(sorted({sub.message for sub in error.context}))
    message = error.message
    return message if len(message) <= 300 else message[:297] + "..."


def _property_path(parts: list[str | int]) -> str:
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def _collect_operations(document: dict[str, Any]) -> list[_Operation]:
    operations = []
    for template, item in document.get("paths", {}).items():
        regex = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template))
        pattern = re.compile(regex)
        literal = sum(1 for segment in template.split("/") if segment and "{" not in segment)
        for method, operation in item.items():
            if method not in {"get", "post", "put", "delete", "patch"}:
                continue
            schema, required = _json_body_schema(operation)
            operations.append(_Operation(method, template, pattern, literal, schema, required))
    # Literal paths win over templates: /v2/bot/richmenu/list is not /v2/bot/richmenu/{richMenuId}.
    operations.sort(key=lambda o: (o.template.count("{"), -o.literal_segments))
    return operations


def _json_body_schema(operation: dict[str, Any]) -> tuple[dict[str, Any] | None, bool]:
    request_body = operation.get("requestBody")
    if not request_body:
        return None, False
    content = request_body.get("content", {})
    media = content.get("application/json")
    if media is None or "schema" not in media:
        return None, False
    return media["schema"], bool(request_body.get("required", False))


def _rewrite_refs(node: Any) -> Any:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith(_SCHEMA_REF):
                out[key] = _DEFS_REF + value[len(_SCHEMA_REF) :]
            else:
                out[key] = _rewrite_refs(value)
        return out
    if isinstance(node, list):
        return [_rewrite_refs(v) for v in node]
    return node


def _apply_nullable(node: Any) -> Any:
    """OpenAPI 3.0 ``nullable: true`` becomes a JSON Schema type that admits null."""
    if isinstance(node, dict):
        out = {k: _apply_nullable(v) for k, v in node.items() if k != "nullable"}
        if node.get("nullable") is True:
            if isinstance(out.get("type"), str):
                out["type"] = [out["type"], "null"]
                if "enum" in out:
                    out["enum"] = [*out["enum"], None]
            else:
                out = {"anyOf": [out, {"type": "null"}]}
        return out
    if isinstance(node, list):
        return [_apply_nullable(v) for v in node]
    return node


def prepare_schemas(schemas: dict[str, Any]) -> dict[str, Any]:
    """``components.schemas`` as JSON Schema 2020-12 ``$defs`` with discriminators resolved.

    For a base ``B`` with ``discriminator: {propertyName: p, mapping: {v: T, ...}}``:
    ``B__base`` keeps B's own constraints; ``B`` becomes "B__base, p required and one of the
    mapped values, and if p == v then T". Each subtype's ``allOf`` entry that pointed to B
    now points to ``B__base``, so validating T does not dispatch back to itself.
    """
    defs: dict[str, Any] = _apply_nullable(_rewrite_refs(copy.deepcopy(schemas)))
    bases: dict[str, tuple[str, dict[str, str]]] = {}
    for name, schema in defs.items():
        discriminator = schema.get("discriminator") if isinstance(schema, dict) else None
        if discriminator and discriminator.get("mapping"):
            mapping = {k: _rewrite_refs({"$ref": v})["$ref"] for k, v in discriminator["mapping"].items()}
            bases[name] = (discriminator["propertyName"], mapping)
    # Re-point subtypes first, so that a subtype which is itself a base carries the
    # re-pointed allOf into its own __base copy below.
    for name, (_, mapping) in bases.items():
        own_ref = {"$ref": _DEFS_REF + name}
        for target_ref in set(mapping.values()):
            target = defs.get(target_ref[len(_DEFS_REF) :])
            if isinstance(target, dict) and isinstance(target.get("allOf"), list):
                target["allOf"] = [
                    {"$ref": _DEFS_REF + name + "__base"} if part == own_ref else part
                    for part in target["allOf"]
                ]
    for name, (prop, mapping) in bases.items():
        base_name = f"{name}__base"
        defs[base_name] = {k: v for k, v in defs[name].items() if k != "discriminator"}
        dispatch: list[dict[str, Any]] = [
            {"$ref": _DEFS_REF + base_name},
            {"required": [prop], "properties": {prop: {"enum": sorted(mapping)}}},
        ]
        for value, target_ref in sorted(mapping.items()):
            dispatch.append(
                {
                    "if": {"required": [prop], "properties": {prop: {"const": value}}},
                    "then": {"$ref": target_ref},
                }
            )
        defs[name] = {"allOf": dispatch}
    for constraints in (REFERENCE_CONSTRAINTS, REFERENCE_LIMITS):
        for name, extra in constraints.items():
            if name in defs:
                defs[name] = {"allOf": [defs[name], extra]}
    return defs


def _load_yaml(path: Path) -> dict[str, Any]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with path.open("rb") as handle:
        data = yaml.load(handle, Loader=loader)
    if not isinstance(data, dict):
        raise ValueError(f"{path} is not an OpenAPI document")
    return data


@functools.lru_cache(maxsize=8)
def _load_cached(spec_dir: Path) -> Contract:
    return Contract(
        spec_dir=spec_dir,
        messaging_api=_load_yaml(spec_dir / MESSAGING_API_FILE),
        webhook=_load_yaml(spec_dir / WEBHOOK_FILE),
    )


def load_contract(spec_dir: Path) -> Contract:
    """The contract in ``spec_dir`` (loaded once per folder; later calls share it)."""
    return _load_cached(Path(spec_dir).resolve())


VENDORED_SPEC_DIR = Path(__file__).resolve().parent / "openapi"


class SpecMissingError(RuntimeError):
    """The OpenAPI documents are not where they were expected: nothing can be validated."""


def default_spec_dir() -> Path:
    """Where the line-openapi documents are: ``$FANBOT_LINE_OPENAPI_DIR`` when set, else the
    copy vendored in this package. Raises `SpecMissingError` when the folder lacks them, since
    an emulator that validates nothing would let contract violations through silently."""
    configured = os.environ.get(SPEC_DIR_ENV, "").strip()
    return require_spec_dir(Path(configured) if configured else VENDORED_SPEC_DIR)


def require_spec_dir(candidate: Path) -> Path:
    """``candidate`` resolved, if it holds both documents; `SpecMissingError` otherwise."""
    missing = [name for name in (MESSAGING_API_FILE, WEBHOOK_FILE) if not (candidate / name).is_file()]
    if missing:
        raise SpecMissingError(f"LINE OpenAPI documents missing in {candidate}: {', '.join(missing)}")
    return candidate.resolve()
