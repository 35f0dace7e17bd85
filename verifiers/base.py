"""The verifier contract and its registry.

A verifier maps (response, ground_truth, prompt, metadata) to a :class:`VerifierResult`.
Built-in verifiers and third-party ones are found the same way: by an entry point in the
``rlvr.verifiers`` group (the built-ins' are in rlvr's pyproject.toml, so the package must be
installed, editable or not), which lets ``get_verifier(name)`` load them in any process, spawned
pool workers included, without anyone importing the defining module first. The :func:`register`
decorator also names a verifier defined in a module that is imported anyway (tests, scripts).
"""
from __future__ import annotations

import abc

import dataclasses
import json
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

    def __call__(self, response: str, ground_truth: Any, prompt: str | None = None,
                 metadata: dict[str, Any] | None = None) -> VerifierResult: ...


class TextVerifier(abc.ABC):
    """Base for class verifiers of a text response: the :class:`Verifier` call, which scores a
    response that is not a string as a failure (reward 0, ``error`` set) and hands every other one
    to :meth:`score`. ``ground_truth`` may be left out for verifiers that ignore it."""

    def __call__(self, response: str, ground_truth: Any = None, prompt: str | None = None,
                 metadata: dict[str, Any] | None = None) -> VerifierResult:
        if not isinstance(response, str):
            return VerifierResult.failure(f"response must be a string, got {type(response).__name__}")
        return self.score(response, ground_truth, prompt, metadata)

    @abc.abstractmethod
    def score(self, response: str, ground_truth: Any, prompt: str | None,
              metadata: dict[str, Any] | None) -> VerifierResult:
        """The verdict on a string response; every TextVerifier subclass defines it."""


def ground_truth_object(ground_truth: Any, *, error: type[ValueError], not_json: str, not_object: str) -> dict[str, Any]:
    """A ground truth given as an object or as its JSON text, as a dict. Otherwise raises ``error``
    with ``not_json`` (formatted with ``exc``, the JSON error) or ``not_object`` (with ``got``, a type name)."""
    if isinstance(ground_truth, str):
        try:
            ground_truth = json.loads(ground_truth)
        except ValueError as exc:
            raise error(not_json.format(exc=exc)) from None
    if not isinstance(ground_truth, dict):
        raise error(not_object.format(got=type(ground_truth).__name__))
    return ground_truth


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


def _lookup(name: str) -> Callable[..., Any]:
    if name in _REGISTRY:
        return _REGISTRY[name]
    eps = _entry_points()
    if name in eps:
        obj = eps[name].load()
        _REGISTRY.setdefault(name, obj)
        return _REGISTRY[name]
    # The built-ins are entry points too: none at all means rlvr itself is not installed.
    hint = "" if eps else f" (no {ENTRY_POINT_GROUP!r} entry points: install rlvr, e.g. `pip install -e .`)"
    raise KeyError(f"unknown verifier {name!r}; known: {', '.join(list_verifiers()) or '(none)'}{hint}")


def get_verifier(name: str, **options: Any) -> Verifier:
    """The verifier registered as ``name``; classes are instantiated with ``options``."""
    obj = _lookup(name)
    if isinstance(obj, type):
        return obj(**options)
    if options:
        raise TypeError(f"verifier {name!r} is a function and takes no options, got {sorted(options)}")
    return obj  # type: ignore[return-value]


def list_verifiers() -> list[str]:
    """Every name that get_verifier can resolve: registered and entry points (built-ins included)."""
    return sorted(set(_REGISTRY) | set(_entry_points()))
