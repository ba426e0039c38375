"""The part of CEL that JSON Schema can say exactly, for the OpenAPI document's request rules.

protovalidate's CEL rules about one value (`this`) often only compare it, measure it or match
it against a regular expression: those become JSON Schema keywords. Anything else (other
functions, other fields, conversions) raises `UnsupportedError`, and the rule is then only
described. Regular expressions are kept only when RE2 (protovalidate), ECMA-262 (JSON Schema)
and Python read them alike: literal characters, bracket classes, groups, alternation,
quantifiers and \\xHH escapes.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

Schema = dict[str, Any]


class UnsupportedError(ValueError):
    """The expression uses something this translation does not read."""


@dataclass(frozen=True)
class Literal:
    value: str | int | float | bool


@dataclass(frozen=True)
class Name:
    name: str


@dataclass(frozen=True)
class Call:
    target: Node | None
    function: str
    arguments: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    operand: Node


@dataclass(frozen=True)
class Binary:
    operator: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Conditional:
    condition: Node
    then: Node
    otherwise: Node


@dataclass(frozen=True)
class ListOf:
    items: tuple[Node, ...]


Node = Literal | Name | Call | Not | Binary | Conditional | ListOf

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<string>r?'(?:\\.|[^'\\])*'|r?"(?:\\.|[^"\\])*")
    | (?P<number>-?[0-9]+(?:\.[0-9]+)?u?)
    | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<operator>\|\||&&|==|!=|<=|>=|[!<>?:().,\[\]])
    )""",
    re.VERBOSE,
)
_ESCAPES = {"\\": "\\", "'": "'", '"': '"', "n": "\n", "t": "\t", "r": "\r"}
_RELATIONS = ("==", "!=", "<=", ">=", "<", ">", "in")


def _string_value(token: str) -> str:
    if token.startswith("r"):
        return token[2:-1]
    body, text, index = token[1:-1], [], 0
    while index < len(body):
        character = body[index]
        if character == "\\":
            escape = body[index + 1]
            if escape == "x" and re.fullmatch(r"[0-9A-Fa-f]{2}", body[index + 2 : index + 4]):
                text.append(chr(int(body[index + 2 : index + 4], 16)))
                index += 4
                continue
            if escape not in _ESCAPES:
                raise UnsupportedError(f"string escape \\{escape}")
            text.append(_ESCAPES[escape])
            index += 2
        else:
            text.append(character)
            index += 1
    return "".join(text)


class _Parser:
    """Recursive descent over CEL's conditional, logical, relational and call forms."""

    def __init__(self, expression: str) -> None:
        self._tokens: list[tuple[str, str]] = []
        position = 0
        expression = expression.rstrip()
        while position < len(expression):
            match = _TOKEN.match(expression, position)
            if match is None or match.lastgroup is None:
                raise UnsupportedError(f"cannot read {expression[position:]!r}")
            self._tokens.append((match.lastgroup, match.group(match.lastgroup)))
            position = match.end()
        self._index = 0

    def parse(self) -> Node:
        node = self._conditional()
        if self._index != len(self._tokens):
            raise UnsupportedError(f"unexpected {self._tokens[self._index][1]!r}")
        return node

    def _peek(self) -> str | None:
        return self._tokens[self._index][1] if self._index < len(self._tokens) else None

    def _take(self, expected: str | None = None) -> tuple[str, str]:
        if self._index >= len(self._tokens):
            raise UnsupportedError("the expression ends early")
        token = self._tokens[self._index]
        if expected is not None and token[1] != expected:
            raise UnsupportedError(f"expected {expected!r}, found {token[1]!r}")
        self._index += 1
        return token

    def _conditional(self) -> Node:
        condition = self._binary(0)
        if self._peek() != "?":
            return condition
        self._take("?")
        then = self._conditional()
        self._take(":")
        return Conditional(condition, then, self._conditional())

    # Lowest precedence first: ||, &&, then the relations (which do not chain).
    def _binary(self, level: int) -> Node:
        if level == 2:  # the relations' level
            left = self._unary()
            if self._peek() in _RELATIONS:
                operator = self._take()[1]
                return Binary(operator, left, self._unary())
            return left
        operator = ("||", "&&")[level]
        node = self._binary(level + 1)
        while self._peek() == operator:
            self._take()
            node = Binary(operator, node, self._binary(level + 1))
        return node

    def _unary(self) -> Node:
        if self._peek() == "!":
            self._take()
            return Not(self._unary())
        node = self._primary()
        while self._peek() == ".":
            self._take()
            kind, function = self._take()
            if kind != "name":
                raise UnsupportedError(f"a field or method named {function!r}")
            if self._peek() != "(":
                raise UnsupportedError(f"field selection .{function}")
            node = Call(node, function, self._arguments())
        return node

    def _arguments(self) -> tuple[Node, ...]:
        self._take("(")
        arguments: list[Node] = []
        while self._peek() != ")":
            arguments.append(self._conditional())
            if self._peek() == ",":
                self._take()
        self._take(")")
        return tuple(arguments)

    def _primary(self) -> Node:  # noqa: PLR0911  one return per form of primary
        kind, text = self._take()
        if kind == "string":
            return Literal(_string_value(text))
        if kind == "number":
            if "." in text:
                return Literal(float(text))
            return Literal(int(text.rstrip("u")))
        if kind == "name":
            if text in {"true", "false"}:
                return Literal(text == "true")
            if self._peek() == "(":
                return Call(None, text, self._arguments())
            return Name(text)
        if text == "(":
            node = self._conditional()
            self._take(")")
            return node
        if text == "[":
            items: list[Node] = []
            while self._peek() != "]":
                items.append(self._conditional())
                if self._peek() == ",":
                    self._take()
            self._take("]")
            return ListOf(tuple(items))
        raise UnsupportedError(f"unexpected {text!r}")


def parse(expression: str) -> Node:
    """The syntax tree of a CEL expression in the subset read here."""
    return _Parser(expression).parse()


_SAFE_ESCAPE = re.compile(r"\\(x[0-9A-Fa-f]{2}|[-\\.^$*+?(){}\[\]|/tnr])")


# Unicode's separators (general category Z: Zs, Zl, Zp), which only RE2 names as \p{Z}:
# spelled out, in a character class, for the engines that do not read it.
_SEPARATORS = "\u0020\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"


def portable_pattern(pattern: str) -> str:
    """The pattern as RE2, ECMA-262 and Python all read it alike; else UnsupportedError."""
    in_class = False
    index = 0
    while index < len(pattern):
        character = pattern[index]
        if in_class and pattern.startswith("\\p{Z}", index):
            pattern = pattern[:index] + _SEPARATORS + pattern[index + 5 :]
            index += len(_SEPARATORS)
            continue
        if character == "\\":
            match = _SAFE_ESCAPE.match(pattern, index)
            if match is None:
                raise UnsupportedError(f"regular expression escape {pattern[index : index + 2]}")
            index = match.end()
            continue
        if in_class:
            if character == "[":
                raise UnsupportedError("nested character classes")
            in_class = character != "]"
        elif character == "[":
            in_class = True
            if pattern.startswith("[^]", index) or pattern.startswith("[]", index):
                raise UnsupportedError("a class that starts with ]")
        elif character == "." or pattern.startswith("(?", index):
            # `.` excludes different line terminators; (?...) groups and flags differ.
            raise UnsupportedError(f"{character!r} reads differently across engines")
        index += 1
    return pattern


def escaped(text: str) -> str:
    """A regular expression matching `text` literally, in every engine above."""
    # Not '-' or '/': ECMA-262's unicode mode refuses escaping them outside a class.
    return re.sub(r"([\\^$.|?*+()\[\]{}])", r"\\\1", text)


class Kind(enum.Enum):
    """What `this` is: what a comparison or size() of it means in JSON."""

    STRING = "string"
    INTEGER = "integer"
    NUMBER = "number"
    ENUM = "enum"
    OTHER = "other"


@dataclass(frozen=True)
class Subject:
    """The value a rule is about: its kind and, for an enum, its values by number."""

    kind: Kind
    enum_names: dict[int, str] | None = None
    # The value of `rule` in a predefined rule's expression (the extension's own value).
    rule: str | int | float | bool | None = None
    # A repeated field: `this` is the list, of values of this kind.
    repeated: bool = False


def all_of(schemas: Sequence[Schema]) -> Schema:
    if len(schemas) == 1:
        return schemas[0]
    return {"allOf": list(schemas)} if schemas else {}


_BOUNDS = {
    "<": "exclusiveMaximum",
    "<=": "maximum",
    ">": "exclusiveMinimum",
    ">=": "minimum",
}
_SIZES = {"<": ("maxLength", -1), "<=": ("maxLength", 0), ">": ("minLength", 1)}
_SIZES |= {">=": ("minLength", 0)}
# A bound's negation: the opposite bound (sizes are integers: one past it).
_OPPOSITES = {
    "minLength": ("maxLength", -1),
    "maxLength": ("minLength", 1),
    "minItems": ("maxItems", -1),
    "maxItems": ("minItems", 1),
    "minimum": ("exclusiveMaximum", 0),
    "maximum": ("exclusiveMinimum", 0),
    "exclusiveMinimum": ("maximum", 0),
    "exclusiveMaximum": ("minimum", 0),
}
_FLIPPED = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}


class Translator:
    """Translates a rule about one value into JSON Schema keywords that must all hold."""

    def __init__(self, subject: Subject, *, this: str = "this") -> None:
        self._subject = subject
        self._this = this  # the name the value has: `this`, or a macro's variable

    def rule(self, expression: str) -> list[Schema]:
        """The schemas a valid value matches. An expression is a condition, or yields its
        violation's text ('' when valid) through a chain of conditionals."""
        node = self._folded(parse(expression))
        message_valued = (isinstance(node, Literal) and isinstance(node.value, str)) or (
            isinstance(node, Conditional)
            and isinstance(node.then, Literal)
            and isinstance(node.then.value, str)
        )
        return self._valid_when_empty(node) if message_valued else self.holds(node)

    def _folded(self, node: Node) -> Node:  # noqa: PLR0911  one return per node type
        """`rule` replaced by its value, and conditionals on constants resolved."""
        if isinstance(node, Name) and node.name == "rule" and self._subject.rule is not None:
            return Literal(self._subject.rule)
        if isinstance(node, Not):
            operand = self._folded(node.operand)
            if isinstance(operand, Literal) and isinstance(operand.value, bool):
                return Literal(not operand.value)
            return Not(operand)
        if isinstance(node, Conditional):
            condition = self._folded(node.condition)
            if isinstance(condition, Literal) and isinstance(condition.value, bool):
                return self._folded(node.then if condition.value else node.otherwise)
            return Conditional(condition, self._folded(node.then), self._folded(node.otherwise))
        if isinstance(node, Binary):
            return Binary(node.operator, self._folded(node.left), self._folded(node.right))
        return node

    def _valid_when_empty(self, node: Node) -> list[Schema]:
        """A message-valued expression: valid when it yields ''."""
        if isinstance(node, Literal) and isinstance(node.value, str):
            return [] if node.value == "" else [{"not": {}}]
        if isinstance(node, Conditional):
            if isinstance(node.then, Literal) and node.then.value == "":
                # Valid when the condition holds, else as the rest says.
                return [
                    {
                        "anyOf": [
                            all_of(self.holds(node.condition)),
                            all_of(self._valid_when_empty(node.otherwise)),
                        ]
                    }
                ]
            return [*self.fails(node.condition), *self._valid_when_empty(node.otherwise)]
        raise UnsupportedError("a message-valued expression other than a chain of conditionals")

    def holds(self, node: Node) -> list[Schema]:  # noqa: PLR0911  one return per form
        """The schemas a value keeps exactly when the condition holds."""
        if isinstance(node, Literal) and isinstance(node.value, bool):
            return [] if node.value else [{"not": {}}]
        if isinstance(node, Binary) and node.operator == "&&":
            return [*self.holds(node.left), *self.holds(node.right)]
        if isinstance(node, Binary) and node.operator == "||":
            return [{"anyOf": [all_of(self.holds(node.left)), all_of(self.holds(node.right))]}]
        if isinstance(node, Not):
            return self.fails(node.operand)
        if isinstance(node, Call) and node.function == "all" and self._subject.repeated:
            return [self._every_item(node)]
        if isinstance(node, Call):
            return [self._call(node)]
        if isinstance(node, Binary):
            return [self._relation(node)]
        raise UnsupportedError(f"{type(node).__name__} as a condition")

    def fails(self, node: Node) -> list[Schema]:  # noqa: PLR0911  one return per form
        """The schemas a value keeps exactly when the condition does not hold."""
        if isinstance(node, Not):
            return self.holds(node.operand)
        if isinstance(node, Binary) and node.operator == "||":
            return [*self.fails(node.left), *self.fails(node.right)]
        held = self.holds(node)
        if held == [{"enum": [""]}]:
            return [{"minLength": 1}]
        if held == [{"minLength": 1}]:
            return [{"enum": [""]}]
        if len(held) == 1 and len(held[0]) == 1:
            ((keyword, bound),) = held[0].items()
            if keyword in _OPPOSITES and isinstance(bound, int | float):
                opposite, offset = _OPPOSITES[keyword]
                integral = keyword.endswith(("Length", "Items"))
                return [{opposite: bound + offset if integral else bound}]
        names = self._subject.enum_names
        if names is not None and len(held) == 1 and set(held[0]) == {"enum"}:
            return [{"enum": [name for name in names.values() if name not in held[0]["enum"]]}]
        return [{"not": all_of(held)}]

    def _is_this(self, node: Node) -> bool:
        return isinstance(node, Name) and node.name == self._this

    def _every_item(self, node: Call) -> Schema:
        """`this.all(item, condition)`: every item of the list keeps the condition."""
        if node.target is None or not self._is_this(node.target) or len(node.arguments) != 2:
            raise UnsupportedError("all() of something other than this")
        variable, condition = node.arguments
        if not isinstance(variable, Name):
            raise UnsupportedError("all() without a variable")
        item = Subject(self._subject.kind, self._subject.enum_names, self._subject.rule)
        return {"items": all_of(Translator(item, this=variable.name).holds(condition))}

    def _call(self, node: Call) -> Schema:
        if node.target is None or not self._is_this(node.target):
            raise UnsupportedError(f"{node.function}() of something other than this")
        if self._subject.kind is not Kind.STRING or self._subject.repeated:
            raise UnsupportedError(f"{node.function}() here")
        if len(node.arguments) != 1:
            raise UnsupportedError(f"{node.function}() here")
        argument = node.arguments[0]
        if not isinstance(argument, Literal) or not isinstance(argument.value, str):
            raise UnsupportedError(f"{node.function}() of a non-literal")
        text = argument.value
        patterns = {
            "matches": lambda: portable_pattern(text),
            "startsWith": lambda: "^" + escaped(text),
            "endsWith": lambda: escaped(text) + "$",
            "contains": lambda: escaped(text),
        }
        if node.function not in patterns:
            raise UnsupportedError(f"the function {node.function}")
        return {"pattern": patterns[node.function]()}

    def _relation(self, node: Binary) -> Schema:  # noqa: PLR0911, PLR0912  one return per relation
        left, right, operator = node.left, node.right, node.operator
        if self._is_this(right) or self._is_size(right):
            left, right, operator = right, left, _FLIPPED.get(operator, "")
        if operator == "in" and self._is_this(left) and isinstance(right, ListOf):
            if self._subject.repeated:
                raise UnsupportedError("in of a list")
            return {"enum": [self._value(item) for item in right.items]}
        if not isinstance(right, Literal) or isinstance(right.value, bool):
            raise UnsupportedError("a comparison with something other than a literal")
        if self._is_size(left) and operator in _SIZES:
            if not isinstance(right.value, int):
                raise UnsupportedError("size() compared with a non-integer")
            keyword, offset = _SIZES[operator]
            if self._subject.repeated:
                keyword = keyword.replace("Length", "Items")
            elif self._subject.kind is not Kind.STRING:
                raise UnsupportedError("size() of a value that is not a string or a list")
            return {keyword: max(right.value + offset, 0)}
        if not self._is_this(left) or self._subject.repeated:
            raise UnsupportedError("a comparison of something other than this")
        if operator == "==":
            return {"enum": [self._value(right)]}
        if operator == "!=":
            if self._subject.kind is Kind.STRING and right.value == "":
                return {"minLength": 1}
            if self._subject.kind is Kind.ENUM:
                return self.fails(Binary("==", left, right))[0]
            return {"not": {"const": self._value(right)}}
        if operator in _BOUNDS and self._subject.kind in {Kind.INTEGER, Kind.NUMBER}:
            return {_BOUNDS[operator]: self._value(right)}
        raise UnsupportedError(f"the relation {operator} here")

    def _is_size(self, node: Node) -> bool:
        return (
            isinstance(node, Call)
            and node.function == "size"
            and (
                (
                    node.target is None
                    and len(node.arguments) == 1
                    and self._is_this(node.arguments[0])
                )
                or (node.target is not None and self._is_this(node.target) and not node.arguments)
            )
        )

    def _value(self, node: Node) -> str | int | float:
        if not isinstance(node, Literal) or isinstance(node.value, bool):
            raise UnsupportedError("a non-literal value")
        value = node.value
        kind = self._subject.kind
        if kind is Kind.ENUM:
            names = self._subject.enum_names or {}
            if not isinstance(value, int) or value not in names:
                raise UnsupportedError(f"{value!r} is not a value of the enum")
            return names[value]
        if (kind is Kind.STRING) != isinstance(value, str):
            raise UnsupportedError(f"{value!r} compared with a {kind.value}")
        return value
