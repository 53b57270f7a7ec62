"""NumPy expressions written in an assignment's config, checked when the config is read and evaluated on a case.

A problem's feedback says in data what a mistake returns (``A * (1 - A) * dLdA``),
when an error sign applies (``np.max(Z) > 709.78``) or what a vectorised
implementation computes; the names are the case's arrays (its inputs and
expected values) and a few others the caller gives (``numbers``). Only a small
part of Python is allowed: arithmetic, comparisons, ``and``/``or``/``not``,
``x if c else y``, indexing and slicing, tuples and lists, calls of NumPy
functions (``np.NAME``) with positional and keyword arguments, and the
attributes ``shape``, ``ndim``, ``size`` and ``T``. No other name, attribute
or call: an expression computes a value and does nothing else.
"""

from __future__ import annotations

import ast
from functools import lru_cache
from typing import Any, Mapping

import numpy as np

ATTRIBUTES = {"shape", "ndim", "size", "T"}
# NumPy functions that read or write files, change an array in place or NumPy's settings: an expression
# computes a value and does nothing else (the case's arrays it reads are the grader's own).
NOT_ALLOWED = {"load", "save", "savez", "savez_compressed", "savetxt", "loadtxt", "genfromtxt", "fromfile", "memmap",
               "fromregex", "DataSource", "set_printoptions", "seterr", "setbufsize", "put", "putmask", "place",
               "copyto", "fill_diagonal", "put_along_axis", "seterrcall", "show_config", "info"}
_NODES = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare, ast.IfExp, ast.Call, ast.keyword,
          ast.Subscript, ast.Slice, ast.Tuple, ast.List, ast.Name, ast.Load, ast.Constant, ast.Attribute,
          ast.operator, ast.unaryop, ast.boolop, ast.cmpop)


class ExpressionError(ValueError):
    """An expression outside what a config may write (the message says what)."""


def _check(tree: ast.AST) -> None:
    for node in ast.walk(tree):
        if not isinstance(node, _NODES):
            raise ExpressionError(f"'{type(node).__name__}' is not allowed (only arithmetic, comparisons, "
                                  "indexing and np.FUNCTION(...) calls)")
        if isinstance(node, ast.Attribute):
            if isinstance(node.value, ast.Name) and node.value.id == "np":
                if node.attr in NOT_ALLOWED:
                    raise ExpressionError(f"np.{node.attr} is not allowed (it does more than compute a value)")
                if node.attr.startswith("_") or not callable(getattr(np, node.attr, None)):
                    raise ExpressionError(f"np.{node.attr} is not a NumPy function")
            elif node.attr not in ATTRIBUTES:
                raise ExpressionError(f"attribute '.{node.attr}' is not allowed (only {', '.join(sorted(ATTRIBUTES))})")
        if isinstance(node, ast.Call):
            func = node.func
            if not (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "np"):
                raise ExpressionError("only NumPy functions may be called, as np.NAME(...)")
            if any(k.arg is None or k.arg == "out" for k in node.keywords):
                raise ExpressionError("a call may not use **kwargs or out=")
        if isinstance(node, ast.Name) and node.id.startswith("_"):
            raise ExpressionError(f"name '{node.id}' is not allowed")


@lru_cache(maxsize=None)
def compiled(text: str) -> Any:
    """The expression compiled, after checking it is one a config may write (ExpressionError if not)."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(f"not a Python expression ({exc.msg})") from None
    _check(tree)
    return compile(tree, "<config expression>", "eval")


def names_in(text: str) -> set[str]:
    """The names an expression reads (but np)."""
    return {node.id for node in ast.walk(ast.parse(text.strip(), mode="eval"))
            if isinstance(node, ast.Name) and node.id != "np"}


def evaluate(text: str, names: Mapping[str, Any]) -> Any:
    """The expression's value with these names (NumPy's warnings silenced: a mistake may overflow)."""
    code = compiled(text)
    with np.errstate(all="ignore"):
        return eval(code, {"__builtins__": {}, "np": np}, dict(names))  # noqa: S307 - checked above
