"""Rewrites an assert test so that the program under test cannot make it pass by trickery.

The test (statements, usually one ``assert``, maybe setup lines or a HumanEval-style
``def check(candidate): ...`` plus ``check(f)``) becomes the body of a function

    def __rlvr_test__(__rlvr_chk__=__rlvr_chk__, __rlvr_b__=__rlvr_b__): ...

whose two defaults the runner injects after the program has run:

* ``__rlvr_b__`` is a snapshot of the builtins taken before the program ran. Every builtin name
  the test does not bind itself reads from it, so a program that rebinds ``builtins.sorted`` or
  defines a global ``len`` does not change what the test calls.
* ``__rlvr_chk__`` returns plain builtin data (numbers, strings, bytes, None, and lists/tuples/
  sets/dicts of them; an instance of a subclass of one of these, like a Counter or an int whose
  ``__eq__`` always says True, becomes a copy of its builtin base) and raises on anything else
  (see _plain_data_checker in _inside.py). Inside an assert's test it wraps every value that
  is tested for truth, compared (except by ``is``, which cannot be faked), combined by an
  operator, or returned by a call, except call arguments and method receivers (``sorted(f(x))``,
  ``Solution().solve(x)``): those are consumed by the call, whose own result is checked. An
  object whose ``__eq__`` returns True, or whose ``__sub__``/``__abs__`` make a tolerance check
  pass, therefore never reaches a comparison.

The rewritten source is compiled inside the sandbox by the supervisor, never by the process that
ran the program (see verifiers/sandbox/__init__.py).
"""
from __future__ import annotations

import ast
import builtins

TEST_FUNCTION = "__rlvr_test__"
CHECK_NAME = "__rlvr_chk__"
BUILTINS_NAME = "__rlvr_b__"

_CHECK, _NEUTRAL, _EXEMPT = "check", "neutral", "exempt"


def _bound_names(tree: ast.AST) -> set[str]:
    bound: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            bound.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.alias):
            bound.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
    return bound


class _Rewriter:
    def __init__(self, builtin_names: set[str]):
        self.builtin_names = builtin_names

    @staticmethod
    def _check(node: ast.expr, active: bool) -> ast.expr:
        if not active or isinstance(node, ast.Constant):  # literals are plain by construction
            return node
        return ast.Call(func=ast.Name(CHECK_NAME, ast.Load()), args=[node], keywords=[])

    def rewrite(self, node: ast.AST, mode: str, active: bool) -> ast.AST:
        """mode: must the value here be plain data (check), only if it is a call's result
        (neutral), or not at all (exempt)? active: inside an assert's test (setup statements
        only get the builtins rewrite)."""
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id in self.builtin_names:
            new = ast.Subscript(ast.Name(BUILTINS_NAME, ast.Load()), ast.Constant(node.id), ast.Load())
            return self._check(new, active) if mode == _CHECK else new
        if isinstance(node, ast.Call):
            if isinstance(node.func, ast.Attribute):
                node.func.value = self.rewrite(node.func.value, _EXEMPT, active)
            else:
                node.func = self.rewrite(node.func, _EXEMPT, active)
            node.args = [self.rewrite(arg, _EXEMPT, active) for arg in node.args]
            for keyword in node.keywords:
                keyword.value = self.rewrite(keyword.value, _EXEMPT, active)
            return node if mode == _EXEMPT else self._check(node, active)
        if isinstance(node, ast.Compare):
            by_identity = all(isinstance(op, (ast.Is, ast.IsNot)) for op in node.ops)
            sub = _EXEMPT if by_identity else _CHECK  # identity cannot be faked
            node.left = self.rewrite(node.left, sub, active)
            node.comparators = [self.rewrite(c, sub, active) for c in node.comparators]
            return node
        if isinstance(node, ast.BoolOp):
            node.values = [self.rewrite(v, _CHECK, active) for v in node.values]
            return node
        if isinstance(node, ast.UnaryOp):
            node.operand = self.rewrite(node.operand, _CHECK, active)
            return node
        if isinstance(node, ast.BinOp):
            node.left = self.rewrite(node.left, _CHECK, active)
            node.right = self.rewrite(node.right, _CHECK, active)
            return node
        if isinstance(node, ast.IfExp):
            node.test = self.rewrite(node.test, _CHECK, active)
            node.body = self.rewrite(node.body, mode, active)
            node.orelse = self.rewrite(node.orelse, mode, active)
            return node
        if isinstance(node, ast.comprehension):
            node.target = self.rewrite(node.target, _NEUTRAL, active)
            node.iter = self.rewrite(node.iter, _NEUTRAL, active)
            node.ifs = [self.rewrite(cond, _CHECK, active) for cond in node.ifs]
            return node
        if isinstance(node, ast.Assert):
            node.test = self.rewrite(node.test, _CHECK, True)
            if node.msg is not None:
                node.msg = self.rewrite(node.msg, _NEUTRAL, False)
            return node
        for field, value in ast.iter_fields(node):
            if isinstance(value, list):
                setattr(node, field, [self.rewrite(v, _NEUTRAL, active) if isinstance(v, ast.AST) else v
                                      for v in value])
            elif isinstance(value, ast.AST):
                setattr(node, field, self.rewrite(value, _NEUTRAL, active))
        if mode == _CHECK and isinstance(node, ast.expr):
            return self._check(node, active)
        return node


def harden_test(source: str, *, filename: str = "<test>") -> str:
    """The test rewritten as described in the module docstring, as source text.
    Raises SyntaxError (with ``filename``) if the test does not parse or cannot be wrapped."""
    tree = ast.parse(source, filename, "exec")
    builtin_names = (set(dir(builtins)) | {"exit", "quit"}) - _bound_names(tree)
    rewriter = _Rewriter(builtin_names)
    body = [rewriter.rewrite(stmt, _NEUTRAL, False) for stmt in tree.body] or [ast.Pass()]
    parameters = ast.arguments(
        posonlyargs=[],
        args=[ast.arg(CHECK_NAME), ast.arg(BUILTINS_NAME)],
        kwonlyargs=[],
        kw_defaults=[],
        defaults=[ast.Name(CHECK_NAME, ast.Load()), ast.Name(BUILTINS_NAME, ast.Load())],
    )
    function = ast.FunctionDef(name=TEST_FUNCTION, args=parameters, body=body, decorator_list=[], returns=None)
    if "type_params" in ast.FunctionDef._fields:  # Python >= 3.12
        function.type_params = []
    module = ast.fix_missing_locations(ast.Module(body=[function], type_ignores=[]))
    text = ast.unparse(module)
    compile(text, filename, "exec", dont_inherit=True)  # e.g. `from m import *` is illegal in a function
    return text
