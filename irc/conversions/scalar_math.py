"""Python arithmetic on the scalar SSA values of a linalg.generic body, so that the special functions
of irc/ir/special_functions.py (written once over an arithmetic `m`) emit their own lowering:

    >>> x = Scalar(block_argument)                  # an f32 or f64 value
    >>> y = ScalarMath.where(x < 0.5, 1 - x, x)     # arith.cmpf, arith.subf, arith.select

Every operation builds an arith or math op (inserted by the body's implicit builder); Python numbers
become constants of the value's float type (rounded to it: one beyond f32's range is inf there).
Comparisons are ordered, as numpy's (`!=` is unordered: NaN != NaN); `&`, `|` and `~` combine their
i1 results.
"""

from __future__ import annotations

import numpy as np
from xdsl.dialects import arith, math
from xdsl.dialects.builtin import FloatAttr, IntegerAttr, i1
from xdsl.ir import Attribute, SSAValue

from irc.ir.hl import numpy_dtype

Number = float | int


def _constant(value: Number, type_: Attribute) -> SSAValue:
    if type_ == i1:
        return arith.ConstantOp(IntegerAttr(int(bool(value)), i1)).result
    with np.errstate(over="ignore"):
        rounded = float(np.asarray(value, dtype=numpy_dtype(type_)))
    return arith.ConstantOp(FloatAttr(rounded, type_)).result


class Scalar:
    """A float (or i1) SSA value in a generic body, with Python's operators."""

    __slots__ = ("value",)

    def __init__(self, value: SSAValue):
        self.value = value

    def _other(self, other: Scalar | Number) -> SSAValue:
        return other.value if isinstance(other, Scalar) else _constant(other, self.value.type)

    def _binary(self, cls, other, reverse: bool = False) -> Scalar:
        a, b = self.value, self._other(other)
        return Scalar((cls(b, a) if reverse else cls(a, b)).result)

    def _compare(self, other, predicate: str) -> Scalar:
        return Scalar(arith.CmpfOp(self.value, self._other(other), predicate).result)

    def __neg__(self):
        return Scalar(arith.NegfOp(self.value).result)

    def __invert__(self):
        return self._binary(arith.XOrIOp, True)

    __hash__ = None  # type: ignore[assignment]


def _operator(cls, reverse: bool = False):
    return lambda self, other: self._binary(cls, other, reverse)


def _comparison(predicate: str):
    return lambda self, other: self._compare(other, predicate)


for _name, _cls in (("add", arith.AddfOp), ("sub", arith.SubfOp), ("mul", arith.MulfOp), ("truediv", arith.DivfOp)):
    setattr(Scalar, f"__{_name}__", _operator(_cls))
    setattr(Scalar, f"__r{_name}__", _operator(_cls, reverse=True))
for _name, _cls in (("and", arith.AndIOp), ("or", arith.OrIOp)):
    setattr(Scalar, f"__{_name}__", _operator(_cls))
for _name, _predicate in (("lt", "olt"), ("le", "ole"), ("gt", "ogt"), ("ge", "oge"), ("eq", "oeq"), ("ne", "une")):
    setattr(Scalar, f"__{_name}__", _comparison(_predicate))


def _unary(cls):
    return staticmethod(lambda x: Scalar(cls(x.value).result))


class ScalarMath:
    """The `m` of irc/ir/special_functions.py for a generic body: numpy's names, emitting math ops."""

    abs = _unary(math.AbsFOp)
    floor = _unary(math.FloorOp)
    ceil = _unary(math.CeilOp)
    rint = _unary(math.RoundEvenOp)  # half to even, as numpy's
    log = _unary(math.LogOp)
    log1p = _unary(math.Log1pOp)
    sqrt = _unary(math.SqrtOp)
    sin = _unary(math.SinOp)
    tan = _unary(math.TanOp)

    @staticmethod
    def copysign(x: Scalar | Number, sign: Scalar) -> Scalar:
        return Scalar(math.CopySignOp(sign._other(x), sign.value).result)

    @staticmethod
    def pow(x: Scalar, exponent: Number) -> Scalar:
        return x._binary(math.PowFOp, exponent)

    @staticmethod
    def where(condition: Scalar, a: Scalar | Number, b: Scalar | Number) -> Scalar:
        like = a if isinstance(a, Scalar) else b
        return Scalar(arith.SelectOp(condition.value, like._other(a), like._other(b)).result)
