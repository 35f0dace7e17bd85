"""The verifier contract and its registry.

A verifier maps (response, ground_truth, prompt, metadata) to a :class:`VerifierResult`.
Built-in verifiers and third-party ones register the same way: by the
:func:`register` decorator at import time, and by an entry point in the
``rlvr.verifiers`` group so that ``get_verifier(name)`` can find them without
anyone importing the defining module first.
"""
from __future__ import annotations

import dataclasses
from importlib import metadata
from typing import Any, Callable, Protocol

ENTRY_POINT_GROUP = "rlvr.verifiers"


@dataclasses.dataclass
class VerifierResult:
    """What a verifier says about one response.

    reward: float in [0, 1] (a penalty may be subtracted later by the trainer, never here).
    correct: whether the response counts as right (accuracy metrics use this).
    details: free-form, JSON-serialisable explanation (extracted answer, stage that decided...).
    error: None, or why the item could not be scored (then reward is 0).
    """

    reward: float
    correct: bool
    details: dict[str, Any] = dataclasses.field(default_factory=dict)
    error: str | None = None

    @classmethod
    def failure(cls, error: str, **details: Any) -> "VerifierResult":
        return cls(reward=0.0, correct=False, details=dict(details), error=error)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class Verifier(Protocol):
    """Anything callable like this is a verifier. Classes are instantiated with keyword
    options (``get_verifier(name, **options)``); plain functions are used as they are."""

    def __call__(
        self,
        response: str,
        ground_truth: Any,
        prompt: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> VerifierResult: ...


_REGISTRY: dict[str, Callable[..., Any]] = {}


def register(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: ``@register("math")`` on a verifier class or function."""

    def wrap(obj: Callable[..., Any]) -> Callable[..., Any]:
        existing = _REGISTRY.get(name)
        if existing is not None and existing is not obj and _qualname(existing) != _qualname(obj):
            raise ValueError(f"verifier name {name!r} is already registered by {_qualname(existing)}")
        _REGISTRY[name] = obj
        obj.verifier_name = name  # type: ignore[attr-defined]
        return obj

    return wrap


def _qualname(obj: Any) -> str:
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', repr(obj))}"


def _entry_points() -> dict[str, metadata.EntryPoint]:
    return {ep.name: ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}


def _builtin_modules() -> dict[str, str]:
    # The same names pyproject.toml declares as entry points: used when the package is
    # imported from a source tree that was never pip-installed.
    return {
        "math": "verifiers.math",
        "code": "verifiers.code",
        "ifeval": "verifiers.ifeval",
        "random": "verifiers.random_reward",
        "format": "verifiers.format",
    }


def _lookup(name: str) -> Callable[..., Any]:
    if name in _REGISTRY:
        return _REGISTRY[name]
    eps = _entry_points()
    if name in eps:
        obj = eps[name].load()
        _REGISTRY.setdefault(name, obj)
        return _REGISTRY[name]
    module = _builtin_modules().get(name)
    if module is not None:
        import importlib

        importlib.import_module(module)
        if name in _REGISTRY:
            return _REGISTRY[name]
    raise KeyError(f"unknown verifier {name!r}; known: {', '.join(list_verifiers()) or '(none)'}")


def get_verifier(name: str, **options: Any) -> Verifier:
    """The verifier registered as ``name``; classes are instantiated with ``options``."""
    obj = _lookup(name)
    if isinstance(obj, type):
        return obj(**options)
    if options:
        raise TypeError(f"verifier {name!r} is a function and takes no options, got {sorted(options)}")
    return obj  # type: ignore[return-value]


def list_verifiers() -> list[str]:
    """Every name that get_verifier can resolve: registered, entry points and built-ins."""
    return sorted(set(_REGISTRY) | set(_entry_points()) | set(_builtin_modules()))
