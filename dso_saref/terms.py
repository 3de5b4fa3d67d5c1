"""RDF terms: Python values <-> KE binding strings <-> rdflib terms; IRI minting; units; time.

The Knowledge Engine writes every bound value in SPARQL term syntax: IRIs as ``<http://...>`` (never
prefixed), typed literals as ``"21.2"^^<http://www.w3.org/2001/XMLSchema#double>``, plain strings as
``"abc"`` (equal to ``"abc"^^xsd:string``). This module is the one place that reads and writes them::

    >>> format_term(URIRef("https://example.org/a"))
    '<https://example.org/a>'
    >>> parse_term('"240.0"^^<http://www.w3.org/2001/XMLSchema#double>').toPython()
    240.0
    >>> mint_iri("https://dso.example.org/id/", "hems/{hems_id}", {"hems_id": "ID 1>"})
    'https://dso.example.org/id/hems/ID%201%3E'
"""

from __future__ import annotations

import difflib
import hashlib
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal
from urllib.parse import quote, unquote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from rdflib import Literal, URIRef
from rdflib.namespace import RDF, XSD, Namespace

from dso_saref.errors import DescriptionError
from dso_saref.payloads import Limits

__all__ = [
    "DEFAULT_BASE",
    "DPV",
    "DSO",
    "NONE",
    "OM",
    "PREFIXES",
    "QUDT_UNIT",
    "S4ENER",
    "S4GRID",
    "SAREF",
    "TIME",
    "UNITS",
    "UNRESERVED",
    "XSD",
    "Settings",
    "SettingsError",
    "TermError",
    "UnitVocabulary",
    "digest",
    "digests",
    "format_date",
    "format_datetime",
    "format_term",
    "lexical",
    "mint_iri",
    "parse_date",
    "parse_datetime",
    "parse_term",
    "percent_encode",
    "template_fields",
    "template_regex",
    "time_zone",
    "to_python",
    "unescape_literal",
]

SAREF = Namespace("https://saref.etsi.org/core/")
S4ENER = Namespace("https://saref.etsi.org/saref4ener/")
S4GRID = Namespace("https://saref.etsi.org/saref4grid/")
OM = Namespace("http://www.ontology-of-units-of-measure.org/resource/om-2/")
QUDT_UNIT = Namespace("http://qudt.org/vocab/unit/")
TIME = Namespace("http://www.w3.org/2006/time#")
DPV = Namespace("https://w3id.org/dpv#")
DSO = Namespace("https://w3id.org/dso-saref/ontology/")

#: The prefixes every graph pattern may use (a pattern file may declare a subset).
PREFIXES: dict[str, str] = {
    "rdf": str(RDF),
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "xsd": str(XSD),
    "saref": str(SAREF),
    "s4ener": str(S4ENER),
    "s4grid": str(S4GRID),
    "om": str(OM),
    "unit": str(QUDT_UNIT),
    "time": str(TIME),
    "dpv": str(DPV),
    "dso": str(DSO),
}

#: The marker bound to a variable whose value is absent (an optional field, an empty list): the KE
#: has no OPTIONAL, so every variable must be bound; ``rdf:nil`` stands for "nothing here" and never
#: produces a triple.
NONE = RDF.nil

#: Base under which identifiers are minted into IRIs unless the caller configures another.
DEFAULT_BASE = "https://dso.example.org/id/"


class TermError(ValueError):
    """A value that cannot be written as, or read from, the RDF term it should be."""


class SettingsError(TermError):
    """Settings that cannot be made: ``field`` names the setting (``base``, ``timezone``, ``strict``)."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)


@dataclass(frozen=True)
class Settings:
    """How payloads map to RDF: where IRIs are minted, the time zone of offset-less timestamps,
    whether unknown JSON keys are refused (strict, the default), and the :class:`Limits` on a
    payload's size, strings and arrays.

    ``timezone`` is a ``tzinfo`` or an IANA name (``"Europe/Lisbon"``, ``"UTC"``), read when the
    settings are made; a bad base or an unknown zone raises :class:`SettingsError` at once::

        >>> Settings(timezone="Europe/Lisbon").timezone
        zoneinfo.ZoneInfo(key='Europe/Lisbon')
        >>> Settings(timezone="Europe/Lisbonn")
        Traceback (most recent call last):
        ...
        dso_saref.terms.SettingsError: unknown time zone 'Europe/Lisbonn' (did you mean Europe/Lisbon?)
    """

    base: str = DEFAULT_BASE
    timezone: tzinfo = field(default=UTC)
    strict: bool = True
    limits: Limits = field(default_factory=Limits)

    def __post_init__(self) -> None:
        if not isinstance(self.base, str) or not re.fullmatch(r"https?://[^\s<>\"{}|\\^`]+[/#]", self.base):
            raise SettingsError("base", f"base {self.base!r} must be an http(s) IRI ending with '/' or '#'")
        if not isinstance(self.timezone, tzinfo):
            object.__setattr__(self, "timezone", time_zone(self.timezone))
        if not isinstance(self.strict, bool):
            raise SettingsError("strict", f"strict must be true or false, got {self.strict!r}")
        if not isinstance(self.limits, Limits):
            raise SettingsError("limits", f"limits must be a dso_saref.payloads.Limits, got {self.limits!r}")

    @classmethod
    def of(cls, *, base: str = DEFAULT_BASE, timezone: str | tzinfo = "UTC", strict: bool = True,
           limits: Limits | None = None) -> Settings:
        """Settings from names, as a configuration file or command line gives them
        (``Settings.of(base="https://dso.example.org/id/", timezone="Europe/Lisbon")``); raises
        :class:`SettingsError` naming the bad setting."""
        return cls(base=base, timezone=time_zone(timezone), strict=strict, limits=limits or Limits())


def time_zone(name: str | tzinfo) -> tzinfo:
    """The time zone of an IANA name (``"Europe/Lisbon"``; ``"UTC"`` and ``"Z"`` are UTC), or the
    ``tzinfo`` given; raises :class:`SettingsError` for an unknown name, with close names."""
    if isinstance(name, tzinfo):
        return name
    if not isinstance(name, str):
        raise SettingsError("timezone", f"a time zone is an IANA name such as 'Europe/Lisbon', got {name!r}")
    if name.strip().upper() in ("UTC", "Z"):
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        pass
    close = difflib.get_close_matches(name, sorted(available_timezones()), n=1, cutoff=0.75)
    hint = f" (did you mean {', '.join(close)}?)" if close else " (use an IANA name such as Europe/Lisbon)"
    raise SettingsError("timezone", f"unknown time zone {name!r}{hint}")


# ---------------------------------------------------------------------------------------------
# IRI minting


_FIELD = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def template_fields(template: str) -> list[str]:
    """Names of the ``{fields}`` in an IRI template, in order."""
    return _FIELD.findall(template)


def mint_iri(base: str, template: str, values: dict[str, str]) -> str:
    """The IRI ``base + template`` with each ``{field}`` replaced by its percent-encoded value.

    Every character outside RFC 3986's unreserved set (``A-Z a-z 0-9 - . _ ~``) is percent-encoded
    as UTF-8, so any string (spaces, ``>``, quotes, newlines, unicode) gives a safe, stable IRI; a
    value of dots only (``.``, ``..``) has its dots encoded too, so it is never a dot segment that
    RFC 3986's reference resolution would remove (``client/../voltage`` is not ``voltage``).
    """
    return base + _FIELD.sub(lambda match: percent_encode(values[match.group(1)]), template)


#: RFC 3986's unreserved characters: a text of these only is its own percent-encoding.
UNRESERVED = re.compile(r"[A-Za-z0-9._~-]*")


def percent_encode(value: str) -> str:
    """The text of one field of an IRI template (:func:`mint_iri`): every character outside RFC
    3986's unreserved set percent-encoded as UTF-8, and a value of dots only all encoded."""
    if UNRESERVED.fullmatch(value) is not None:
        return "%2E" * len(value) if value and value.strip(".") == "" else value
    return quote(value, safe="")


def digest(texts: Iterable[str | None]) -> str:
    """The ``{digest}`` of an IRI template: a short hash of the texts of the values that tell a node
    apart, stable across processes and platforms. An absent value and an empty text hash differently
    (a message without a reason is not one with an empty reason); the texts are percent-encoded, so
    neither the separator nor the absence mark can occur in them."""
    return digests([tuple(texts)])[0]


def digests(rows: Iterable[tuple[str | None, ...]]) -> list[str]:
    """The :func:`digest` of each tuple of texts."""
    sha256 = hashlib.sha256
    return [sha256("\x1f".join(texts if None not in texts else ["\x00" if t is None else t for t in texts])
                   .encode("utf-8", "surrogatepass")).hexdigest()[:20] for texts in rows]


def template_regex(base: str, template: str) -> re.Pattern[str]:
    """A regex that reads the field values back out of an IRI minted by :func:`mint_iri`."""
    parts = _FIELD.split(template)
    out = [re.escape(base)]
    for i, part in enumerate(parts):
        out.append(f"(?P<{part}>[A-Za-z0-9._~%-]*)" if i % 2 else re.escape(part))
    return re.compile("".join(out) + r"\Z")


def read_template(pattern: re.Pattern[str], iri: str) -> dict[str, str] | None:
    """The decoded field values of ``iri`` if it was minted from the template, else ``None``."""
    match = pattern.match(iri)
    if match is None:
        return None
    return {k: unquote(v, errors="strict") for k, v in match.groupdict().items()}


# ---------------------------------------------------------------------------------------------
# time


_SPEC_FORM = re.compile(r"(\d{4})/(\d{1,2})/(\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?\Z")


def parse_datetime(value: str, tz: tzinfo | None = UTC) -> datetime:
    """An aware datetime from ISO 8601 or the specification's ``2021/09/27 10:00`` form.

    A value without an offset is read in ``tz`` (left naive when ``tz`` is ``None``). Raises
    :class:`TermError` for anything else.
    """
    text = value.strip()
    match = _SPEC_FORM.match(text)
    try:
        if match:
            y, mo, d, h, mi, s = (int(x) if x else 0 for x in match.groups())
            result = datetime(y, mo, d, h, mi, s)
        else:
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?",
                                text):
                raise ValueError
            result = datetime.fromisoformat(text)
    except ValueError as exc:
        raise TermError(f"{value!r} is not an ISO 8601 timestamp nor of the form 2021/09/27 10:00") from exc
    if result.tzinfo is None and tz is not None:
        result = result.replace(tzinfo=tz)
    if result.tzinfo is not None:
        try:
            result.astimezone(UTC)
        except OverflowError:
            raise TermError(f"{value!r} is outside the years 1 to 9999 in UTC") from None
    return result


def parse_date(value: str) -> date:
    """A date from ``2021-09-27`` or ``2021/09/27``; raises :class:`TermError` otherwise."""
    text = value.strip()
    match = re.fullmatch(r"(\d{4})[-/](\d{1,2})[-/](\d{1,2})", text)
    if not match:
        raise TermError(f"{value!r} is not a date such as 2021-09-27 or 2021/09/27")
    try:
        return date(*(int(x) for x in match.groups()))
    except ValueError as exc:
        raise TermError(f"{value!r} is not a valid date: {exc}") from exc


def format_datetime(value: datetime) -> str:
    """ISO 8601 in UTC with a ``Z``: the canonical timestamp form of every payload."""
    utc = value.astimezone(UTC)
    text = utc.strftime("%Y-%m-%dT%H:%M:%S")
    if utc.microsecond:
        text += f".{utc.microsecond:06d}".rstrip("0")
    return text + "Z"


def format_date(value: date) -> str:
    """ISO 8601 calendar date (``2021-09-27``)."""
    return value.isoformat()


# ---------------------------------------------------------------------------------------------
# literals


def lexical(value: object, datatype: URIRef) -> str:
    """The canonical lexical form of a Python value for an XSD datatype; raises :class:`TermError`."""
    if datatype == XSD.string:
        if not isinstance(value, str):
            raise TermError(f"expected a string, got {type(value).__name__}")
        return value
    if datatype == XSD.boolean:
        if not isinstance(value, bool):
            raise TermError(f"expected a boolean, got {type(value).__name__}")
        return "true" if value else "false"
    if datatype == XSD.integer:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TermError(f"expected an integer, got {type(value).__name__}")
        return str(value)
    if datatype in (XSD.double, XSD.decimal):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TermError(f"expected a number, got {type(value).__name__}")
        number = float(value)
        if not math.isfinite(number):
            raise TermError("NaN and infinities are not numbers a payload may carry")
        if datatype == XSD.double:
            return repr(number)
        # xsd:decimal has no exponent: the exact positional form of the shortest round-trip repr
        text = format(Decimal(repr(number)), "f")
        return text if "." in text else text + ".0"
    if datatype in (XSD.dateTime, XSD.dateTimeStamp):
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise TermError("expected an aware datetime")
        return format_datetime(value)
    if datatype == XSD.date:
        if not isinstance(value, date) or isinstance(value, datetime):
            raise TermError("expected a date")
        return format_date(value)
    raise DescriptionError(f"datatype {datatype} is not one the catalog uses")


def to_python(term: Literal, datatype: URIRef) -> object:
    """The Python value of a literal read back for a variable of ``datatype``; raises :class:`TermError`."""
    if not isinstance(term, Literal):
        raise TermError(f"expected a literal, got {format_term(term)}")
    got = term.datatype or XSD.string
    if got != datatype:
        raise TermError(f"expected a literal of datatype <{datatype}>, got <{got}>")
    text = str(term)
    try:
        if datatype == XSD.string:
            return text
        if datatype == XSD.boolean:
            if text not in ("true", "false", "1", "0"):
                raise ValueError(text)
            return text in ("true", "1")
        if datatype == XSD.integer:
            if not re.fullmatch(r"[+-]?\d+", text):
                raise ValueError(text)
            return int(text)
        if datatype in (XSD.double, XSD.decimal):
            if not re.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?", text):
                raise ValueError(text)
            return float(text)
        if datatype in (XSD.dateTime, XSD.dateTimeStamp):
            if not re.fullmatch(r"-?\d{4,}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})"
                                + ("" if datatype == XSD.dateTimeStamp else "?"), text):
                raise ValueError(text)
            return parse_datetime(text)
        if datatype == XSD.date:
            return parse_date(text)
    except (ValueError, TermError) as exc:
        raise TermError(f"{text!r} is not a valid <{datatype}> literal") from exc
    raise DescriptionError(f"datatype {datatype} is not one the catalog uses")


# ---------------------------------------------------------------------------------------------
# KE term syntax


_IRI_BAD = re.compile(r'[\x00-\x20<>"{}|^`\\]')
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}
_ESCAPE_RE = re.compile(r'[\\"\n\r\t\b\f]')
_UNESCAPES = {"\\": "\\", '"': '"', "'": "'", "n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f"}
_LITERAL = re.compile(r'"((?:[^"\\]|\\.)*)"(?:\^\^<([^<>"\s]*)>|@([a-zA-Z]+(?:-[a-zA-Z0-9]+)*))?\Z', re.S)
_UNESCAPE_RE = re.compile(r"\\(?:u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8})|(.))", re.S)


def check_iri(iri: str) -> str:
    """``iri`` itself if it is an absolute IRI safe in N-Triples and KE bindings; else :class:`TermError`."""
    if _IRI_BAD.search(iri) or not re.match(r"[A-Za-z][A-Za-z0-9+.-]*:", iri):
        raise TermError(f"{iri!r} is not an absolute IRI")
    return iri


def escape_literal(text: str) -> str:
    """``text`` with the N-Triples / SPARQL string escapes applied (without the quotes)."""
    return _ESCAPE_RE.sub(lambda m: _ESCAPES[m.group(0)], text)


def format_term(term: URIRef | Literal) -> str:
    """The KE binding string of an rdflib term (``<iri>``, ``"lex"^^<dt>``, ``"text"``)."""
    if isinstance(term, URIRef):
        return f"<{check_iri(str(term))}>"
    if isinstance(term, Literal):
        body = f'"{escape_literal(str(term))}"'
        if term.language:
            return f"{body}@{term.language}"
        if term.datatype and term.datatype != XSD.string:
            return f"{body}^^<{term.datatype}>"
        return body
    raise TermError(f"{term!r} is neither an IRI nor a literal (blank nodes cannot be bound)")


def unescape_literal(text: str) -> str:
    """The text of a literal's body written with N-Triples / SPARQL escapes (without the quotes);
    raises :class:`TermError` for an unknown or out-of-range escape."""

    def one(match: re.Match[str]) -> str:
        if match.group(3) is not None:
            char = match.group(3)
            if char not in _UNESCAPES:
                raise TermError(f"unknown escape \\{char} in a literal")
            return _UNESCAPES[char]
        code = int(match.group(1) or match.group(2), 16)
        try:
            return chr(code)
        except ValueError as exc:
            raise TermError(f"escape for code point {code:#x} is out of range") from exc

    return _UNESCAPE_RE.sub(one, text)


def literal_text(text: str) -> str:
    """The lexical form of a quoted literal binding string (``"240"^^<...>`` -> ``240``); raises
    :class:`TermError` for anything malformed."""
    match = _LITERAL.match(text)
    if not match:
        raise TermError(f"{text[:80]!r} is not a quoted literal")
    return unescape_literal(match.group(1))


def parse_term(text: str) -> URIRef | Literal:
    """The rdflib term of a KE binding string; raises :class:`TermError` for anything malformed.

    ``"x"`` and ``"x"^^xsd:string`` both read as the same ``xsd:string`` literal.
    """
    if not isinstance(text, str):
        raise TermError(f"a binding value must be a string, got {type(text).__name__}")
    if text.startswith("<") and text.endswith(">"):
        return URIRef(check_iri(text[1:-1]))
    match = _LITERAL.match(text)
    if not match:
        raise TermError(f"{text[:80]!r} is neither <iri> nor a quoted literal")
    lexical_form, datatype, language = match.groups()
    value = unescape_literal(lexical_form)
    if language:
        return Literal(value, lang=language)
    if datatype:
        check_iri(datatype)
        if datatype == str(XSD.string):
            return Literal(value, datatype=XSD.string)
        return Literal(value, datatype=URIRef(datatype), normalize=False)
    return Literal(value, datatype=XSD.string)


# ---------------------------------------------------------------------------------------------
# units


@dataclass(frozen=True)
class UnitVocabulary:
    """A closed vocabulary of unit labels for one kind of field, each label mapping to one unit IRI.

    Several labels may map to one IRI (aliases); reading an IRI back gives its first label, the
    canonical one.
    """

    name: str
    labels: tuple[tuple[str, str], ...]

    def iri(self, label: str) -> str:
        """The unit IRI of ``label``; raises :class:`TermError` naming the accepted labels."""
        for known, iri in self.labels:
            if known == label:
                return iri
        raise TermError(f"unknown unit {label!r} (expected one of {', '.join(self.accepted())})")

    def label(self, iri: str) -> str:
        """The canonical label of a unit IRI; raises :class:`TermError` if the IRI is not in the vocabulary."""
        for known, candidate in self.labels:
            if candidate == iri:
                return known
        raise TermError(f"<{iri}> is not a unit of the {self.name} vocabulary")

    def accepted(self) -> list[str]:
        """Every label the vocabulary accepts, canonical labels first."""
        return [label for label, _ in self.labels]

    def canonical(self, label: str) -> str:
        """The canonical label for an accepted label (aliases collapse to the first label of their IRI)."""
        return self.label(self.iri(label))


def _vocab(name: str, *pairs: tuple[str, object]) -> UnitVocabulary:
    return UnitVocabulary(name, tuple((label, str(iri)) for label, iri in pairs))


KW = ("kW", OM.kilowatt)
MW = ("MW", OM.megawatt)
KVAR = ("kVAr", QUDT_UNIT["KiloV-A_Reactive"])
MVAR = ("MVAr", QUDT_UNIT["MegaV-A_Reactive"])

#: Every closed unit vocabulary, by the name graph patterns use (``unit = "power"``).
UNITS: dict[str, UnitVocabulary] = {
    v.name: v
    for v in (
        _vocab("power", KW, MW, ("W", OM.watt)),
        _vocab("active-power", KW, MW, ("W", OM.watt)),
        _vocab("reactive-power", KVAR, MVAR),
        _vocab("flexibility", KW, MW, KVAR, MVAR),
        _vocab("voltage", ("V", OM.volt), ("kV", OM.kilovolt), ("volts", OM.volt), ("Volts", OM.volt)),
        _vocab("hems-voltage", ("volts", OM.volt), ("V", OM.volt), ("Volts", OM.volt)),
        _vocab("current", ("A", OM.ampere)),
        _vocab("duration", ("seconds", OM["second-Time"]), ("s", OM["second-Time"]),
               ("minutes", OM["minute-Time"]), ("hours", OM.hour)),
        _vocab("hour", ("h", OM.hour)),
        _vocab("energy", ("kWh", OM.kilowattHour), ("MWh", OM.megawattHour), ("Wh", OM.wattHour)),
        _vocab("consumption", KW, ("W", OM.watt), ("kWh", OM.kilowattHour), ("Wh", OM.wattHour)),
        _vocab("energy-price", ("€/kWh", DSO.euroPerKilowattHour), ("EUR/kWh", DSO.euroPerKilowattHour)),
        _vocab("incentive", ("EUR/kWh", DSO.euroPerKilowattHour), ("€/kWh", DSO.euroPerKilowattHour),
               ("EUR", OM.euro), ("€", OM.euro)),
        _vocab("emission-factor", ("gCO2/kWh", OM.gramOfCarbonDioxideEquivalentPerKilowattHour)),
        _vocab("renewable-share", ("%/kWh", DSO.percentPerKilowattHour)),
        _vocab("temperature", ("degreesCelcius", OM.degreeCelsius), ("degreesCelsius", OM.degreeCelsius),
               ("°C", OM.degreeCelsius)),
        _vocab("percent", ("%", OM.percent)),
        _vocab("elasticity-estimate", KW, MW, ("W", OM.watt), ("%", OM.percent)),
    )
}
