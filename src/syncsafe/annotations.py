"""
Kubernetes annotation and label keys, parsed and validated exactly.

A key is ``[prefix/]name``. The split is on the one slash, never on dots:
``fluxcd.io/checksum`` has the prefix ``fluxcd.io`` and the name
``checksum``. Splitting it on dots, as the incident's checksum calculator did,
looks up an annotation called ``fluxcd`` that never exists.

The rules are the API server's (``IsQualifiedName`` and ``IsDNS1123Subdomain``
in ``k8s.io/apimachinery``), with one deliberate difference: syncsafe accepts
ASCII only. The API server lowercases annotation keys with Go's Unicode-aware
``strings.ToLower`` before validating, so a handful of non-ASCII characters
whose lowercase form is ASCII (the Kelvin sign ``K`` becomes ``k``) pass
there and fail here.

!!! note "Added in version 0.1.0"
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final, Literal, TypeVar, final, overload

import attrs

from syncsafe.errors import AnnotationsTooLarge, InvalidAnnotationKey, InvalidLabelValue

__all__ = [
    "TOTAL_ANNOTATION_SIZE_LIMIT",
    "AnnotationKey",
    "KeyKind",
    "annotations_size",
    "check_annotations_size",
    "get_annotation",
    "validate_label_value",
]

KeyKind = Literal["annotation", "label"]
"""Which rules a key is checked against: annotation keys are lowercased first."""

TOTAL_ANNOTATION_SIZE_LIMIT: Final = 256 * 1024
"""The API server's limit on an object's annotations: bytes of all keys plus all values."""

_NAME_MAX: Final = 63
_PREFIX_MAX: Final = 253
_LABEL_VALUE_MAX: Final = 63

# The API server's regular expressions, used with ``fullmatch`` so that a
# trailing newline is not silently accepted (``$`` would match before it).
_NAME_RE: Final = re.compile(r"[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?")
_DNS1123_LABEL: Final = r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN_RE: Final = re.compile(rf"{_DNS1123_LABEL}(?:\.{_DNS1123_LABEL})*")
_LABEL_VALUE_RE: Final = re.compile(r"(?:(?:[A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
_ASCII_LOWER: Final = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")

_NAME_RULE: Final = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', "
    "and must start and end with an alphanumeric character "
    "(e.g. 'MyName', or 'my.name', or '123-abc')"
)
_PREFIX_RULE: Final = (
    "prefix part must be a lowercase RFC 1123 subdomain: lower case alphanumeric "
    "characters, '-' or '.', each dot-separated label starting and ending with an "
    "alphanumeric character (e.g. 'example.com')"
)
_SLASH_RULE: Final = (
    "a qualified name must be a name with an optional DNS subdomain prefix and "
    "one '/' (e.g. 'example.com/MyName'), but it has {slashes} slashes"
)
_LABEL_VALUE_RULE: Final = (
    "a label value must be empty or consist of alphanumeric characters, '-', '_' "
    "or '.', and must start and end with an alphanumeric character "
    "(e.g. 'MyValue', or 'my_value', or '12345')"
)


def _prefix_problems(prefix: str) -> list[str]:
    if not prefix:
        return ["prefix part must be non-empty"]
    problems = []
    if len(prefix) > _PREFIX_MAX:
        problems.append(f"prefix part must be no more than {_PREFIX_MAX} characters")
    if not _DNS1123_SUBDOMAIN_RE.fullmatch(prefix):
        problems.append(_PREFIX_RULE)
    return problems


def _name_problems(name: str) -> list[str]:
    problems = []
    if not name:
        problems.append("name part must be non-empty")
    elif len(name) > _NAME_MAX:
        problems.append(f"name part must be no more than {_NAME_MAX} characters")
    if not _NAME_RE.fullmatch(name):
        problems.append(_NAME_RULE)
    return problems


def _key_problems(prefix: str | None, name: str, kind: KeyKind) -> list[str]:
    """Every rule ``prefix/name`` breaks, in the API server's order."""
    if kind == "annotation":
        # The API server validates ``strings.ToLower(key)`` for annotations
        # (annotation maps stay case-sensitive; only the check is folded).
        prefix = None if prefix is None else prefix.translate(_ASCII_LOWER)
        name = name.translate(_ASCII_LOWER)
    problems = [] if prefix is None else _prefix_problems(prefix)
    return problems + _name_problems(name)


@final
@attrs.frozen
class AnnotationKey:
    """
    A valid Kubernetes annotation (or label) key: ``[prefix/]name``.

    Build one with [`parse`][syncsafe.annotations.AnnotationKey.parse]; constructing it directly
    validates too. ``str(key)`` gives the key back exactly as it was written: syncsafe never
    normalises a key, because annotation and label maps are case-sensitive
    (``Example.com/abc`` and ``example.com/abc`` are two different keys).

    Unlike ``text.split(".")``, which is what the incident's lookup did, the
    only separator is the single ``/``:

        >>> key = AnnotationKey.parse("fluxcd.io/checksum")
        >>> key.prefix, key.name
        ('fluxcd.io', 'checksum')
    """

    prefix: str | None
    """The DNS-subdomain prefix before the slash, or ``None`` when there is no slash."""
    name: str
    """The name after the slash (the whole key when there is no prefix)."""
    kind: KeyKind = attrs.field(default="annotation", eq=False, repr=False)
    """The rules the key was checked against (not part of equality: a key is its text)."""

    def __attrs_post_init__(self) -> None:
        problems = _key_problems(self.prefix, self.name, self.kind)
        if problems:
            raise InvalidAnnotationKey(str(self), problems)

    @classmethod
    def parse(cls, text: str, *, kind: KeyKind = "annotation") -> AnnotationKey:
        r"""
        Parse and validate *text* as a key.

        *kind* ``"annotation"`` (the default) checks the key lowercased, as the
        API server does for annotations, so ``Example.com/abc`` is valid;
        ``"label"`` checks it as written, as the API server does for labels.

        Raises [`InvalidAnnotationKey`][syncsafe.errors.InvalidAnnotationKey] listing every rule the
        key breaks. Matching is on the whole string: ``"a\n"`` is invalid.
        """
        given: object = text  # the annotation is a promise; check it for callers without mypy
        if not isinstance(given, str):
            msg = f"an annotation key must be a str, not {type(given).__name__}"
            raise TypeError(msg)
        slashes = text.count("/")
        if slashes > 1:
            raise InvalidAnnotationKey(text, [_SLASH_RULE.format(slashes=slashes)])
        prefix, sep, name = text.rpartition("/")
        return cls(prefix if sep else None, name, kind)

    def __str__(self) -> str:
        return self.name if self.prefix is None else f"{self.prefix}/{self.name}"

    @property
    def jsonpath(self) -> str:
        r"""
        The kubectl JSONPath that reads this annotation, dots escaped.

        ``fluxcd.io/checksum`` gives ``{.metadata.annotations.fluxcd\.io/checksum}``:
        an unescaped dot would be read as a path separator, the same mistake
        as the incident's split.
        """
        section = "labels" if self.kind == "label" else "annotations"
        return "{.metadata.%s.%s}" % (section, str(self).replace(".", "\\."))  # noqa: UP031


_D = TypeVar("_D")


@overload
def get_annotation(obj: Mapping[str, object], key: str | AnnotationKey) -> str | None: ...
@overload
def get_annotation(
    obj: Mapping[str, object], key: str | AnnotationKey, default: _D
) -> str | _D: ...
def get_annotation(
    obj: Mapping[str, object], key: str | AnnotationKey, default: object = None
) -> object:
    """
    Return the value of annotation *key* on the Kubernetes object *obj*, exactly.

    *obj* is the object as a mapping (``json.load`` of ``kubectl get -o json``).
    A missing or null ``metadata`` or ``metadata.annotations`` gives *default*;
    a present one of the wrong type raises ``TypeError``, since that is not a
    Kubernetes object. The key is looked up whole: it is never split on dots.
    A ``str`` key is validated first, so that a typo such as a trailing
    newline fails loudly instead of never matching.
    """
    text = str(key if isinstance(key, AnnotationKey) else AnnotationKey.parse(key))
    metadata = obj.get("metadata")
    if metadata is None:
        return default
    if not isinstance(metadata, Mapping):
        msg = f"metadata must be a mapping, not {type(metadata).__name__}"
        raise TypeError(msg)
    annotations = metadata.get("annotations")
    if annotations is None:
        return default
    if not isinstance(annotations, Mapping):
        msg = f"metadata.annotations must be a mapping, not {type(annotations).__name__}"
        raise TypeError(msg)
    value = annotations.get(text)
    if value is None:
        return default
    if not isinstance(value, str):
        msg = f"annotation {text!r} must be a string, not {type(value).__name__}"
        raise TypeError(msg)
    return value


def annotations_size(annotations: Mapping[str, str]) -> int:
    """The size the API server counts: UTF-8 bytes of every key plus every value."""
    return sum(len(k.encode()) + len(v.encode()) for k, v in annotations.items())


def check_annotations_size(
    annotations: Mapping[str, str], limit: int = TOTAL_ANNOTATION_SIZE_LIMIT
) -> int:
    """
    Return the annotations' total size, or raise if it is over *limit*.

    Raises [`AnnotationsTooLarge`][syncsafe.errors.AnnotationsTooLarge] when the keys and values
    together take more than *limit* bytes (the API server's 256 KiB by
    default): a checksum manifest stored in an annotation must fit.
    """
    size = annotations_size(annotations)
    if size > limit:
        raise AnnotationsTooLarge(size, limit)
    return size


def validate_label_value(value: str) -> str:
    """
    Return *value* if it is a valid label value, else raise.

    A label value is empty, or at most 63 characters of alphanumerics, ``-``,
    ``_`` and ``.`` that start and end alphanumeric. Raises
    [`InvalidLabelValue`][syncsafe.errors.InvalidLabelValue] listing every rule broken.
    """
    problems = []
    if len(value) > _LABEL_VALUE_MAX:
        problems.append(f"must be no more than {_LABEL_VALUE_MAX} characters")
    if not _LABEL_VALUE_RE.fullmatch(value):
        problems.append(_LABEL_VALUE_RULE)
    if problems:
        raise InvalidLabelValue(value, problems)
    return value
