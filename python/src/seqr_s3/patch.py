"""Extend a running seqr so that s3:// paths work, without editing seqr's files.

Three functions are wrapped: ``seqr.utils.file_utils.does_file_exist`` and ``file_iter`` (s3:// goes to
files.py, everything else to seqr's original, arguments untouched), and
``seqr.views.apis.igv_api._stream_file`` (s3:// goes to serving.py). seqr modules copy the first two with
``from seqr.utils.file_utils import ...``, so replacing the attribute in file_utils alone would miss them:
every already-imported seqr module whose attribute is the original function object is rebound too (modules
imported later pick the wrapper up from file_utils).
igv_api looks ``_stream_file`` and ``does_file_exist`` up in its own namespace at call time, so rebinding them
there reroutes fetch_igv_track. igv_api gets a ``does_file_exist`` of its own: called by fetch_igv_track for
an s3:// path it answers True without asking S3, so the path reaches ``_stream_file`` unchanged and serving.py
decides the ``.bam.bai`` -> ``.bai`` fallback after the access check; called by anything else in igv_api (the
sample registration) it is the ordinary wrapper. No wrapper makes an S3 request for a path outside
ALLOWED_PREFIXES.

Before touching anything the targets' parameters are compared with what the wrappers rely on (by capability:
every shape seqr shipped since 2021, and any that only adds optional parameters, passes); when a relied-on
parameter is gone, renamed or reordered nothing is patched and the system checks (checks.py) report why. The
wrappers bind callers' arguments against seqr's own signature, so a does_file_exist without ``user`` (seqr
before 2021-06) gets none.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import logging
import sys
from dataclasses import dataclass
from typing import Any, Callable, Optional

from .paths import is_s3_path

logger = logging.getLogger(__name__)

FILE_UTILS = "seqr.utils.file_utils"
IGV_API = "seqr.views.apis.igv_api"
# Top-level packages of a seqr checkout whose modules may hold copies of the patched functions.
SEQR_PACKAGES = ("seqr", "reference_data", "matchmaker", "panelapp")
# Set on each wrapper; holds the original, so applying the patch twice wraps nothing twice.
ORIGINAL_ATTRIBUTE = "__seqr_s3_original__"


@dataclass(frozen=True)
class Target:
    """One seqr function the patch relies on, described by what it relies on, not by an exact signature.

    ``leading`` are the parameters the patch (or seqr's callers, whose arguments the wrapper reads) uses, in
    this order at the start of the signature, each passable by position and by keyword. ``optional`` follow
    them, in this order, and may be absent (older seqr); when present they must sit at their place. Any other
    parameter must be optional (a default, ``*args`` or ``**kwargs``): a new required one has a meaning the
    wrapper does not know.
    """

    module: str
    name: str
    leading: tuple[str, ...]
    optional: tuple[str, ...] = ()

    @property
    def expected(self) -> str:
        """The shape in words, for messages: ``(file_path, byte_range, raw_content[, user], ...)``."""
        optional = "".join(f"[, {name}]" for name in self.optional)
        return f"({', '.join(self.leading)}{optional}, then only optional parameters)"


# seqr's shapes over time (python/tests/unit/seqr_release_facts.py records them): does_file_exist gained
# ``user`` in 2021-06 and file_iter ``**kwargs`` in 2024-04; _stream_file and fetch_igv_track never changed.
DOES_FILE_EXIST = Target(FILE_UTILS, "does_file_exist", ("file_path",), ("user",))
FILE_ITER = Target(FILE_UTILS, "file_iter", ("file_path", "byte_range", "raw_content"), ("user",))
STREAM_FILE = Target(IGV_API, "_stream_file", ("request", "path"))
TARGETS = (DOES_FILE_EXIST, FILE_ITER, STREAM_FILE)
FETCH_IGV_TRACK = "fetch_igv_track"
# Only inspected, never wrapped: _stream_file's wrapper takes the project from the URL keyword
# fetch_igv_track receives, and fetch_igv_track must call does_file_exist itself (fetch_igv_track_problems).
FETCH_IGV_TRACK_TARGET = Target(IGV_API, FETCH_IGV_TRACK, ("request", "project_guid", "igv_track_path"))
_POSITIONAL = (inspect.Parameter.POSITIONAL_OR_KEYWORD,)
_CATCH_ALL = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)


@dataclass(frozen=True)
class Problem:
    """Why the patch cannot be applied; ``check_id`` is the system check id that reports it."""

    check_id: str
    message: str
    hint: str


def describe_signature(function: Callable[..., Any]) -> str:
    """A function's signature without annotations, so type hints added upstream do not count as a change."""
    signature = inspect.signature(function)
    bare = [param.replace(annotation=inspect.Parameter.empty) for param in signature.parameters.values()]
    return str(signature.replace(parameters=bare, return_annotation=inspect.Signature.empty))


def shape_faults(target: Target, function: Callable[..., Any]) -> list[str]:
    """What in ``function``'s parameters the patch cannot work with (empty: it can be wrapped)."""
    try:
        parameters = list(inspect.signature(function).parameters.values())
    except (TypeError, ValueError) as error:
        return [f"its signature cannot be read ({error})"]
    names = [parameter.name for parameter in parameters]
    faults = []
    for place, name in enumerate(target.leading):
        faults.extend(_place_faults(parameters, names, name, place, required=True))
    place = len(target.leading)
    for name in target.optional:
        if name in names:
            faults.extend(_place_faults(parameters, names, name, place, required=False))
            place += 1
    known = set(target.leading) | set(target.optional)
    for parameter in parameters:
        if parameter.name in known or parameter.kind in _CATCH_ALL:
            continue
        if parameter.default is inspect.Parameter.empty:
            faults.append(f"it requires a parameter '{parameter.name}' that seqr_s3 does not know")
    return faults


def _place_faults(
    parameters: list[Any], names: list[str], name: str, place: int, required: bool
) -> list[str]:
    if name not in names:
        return [f"it has no parameter '{name}'"] if required else []
    parameter = parameters[names.index(name)]
    if not required and parameter.kind == inspect.Parameter.KEYWORD_ONLY:
        return []  # the wrappers read it by name wherever it is
    if names.index(name) != place:
        return [f"'{name}' is parameter {names.index(name) + 1}, expected {place + 1} (reordered)"]
    if parameter.kind not in _POSITIONAL:
        return [f"'{name}' can no longer be passed both by position and by keyword"]
    return []


def shape_problems(target: Target, function: Any) -> list[Problem]:
    """The Problem(s) for one target as found in seqr (``function`` None or not callable: missing)."""
    if not callable(function):
        return [
            Problem(
                "seqr_s3.E001",
                f"seqr_s3 patch target {target.module}.{target.name} is missing",
                "seqr changed shape; this seqr_s3 version cannot serve s3:// paths here. Update seqr_s3.",
            )
        ]
    faults = shape_faults(target, function)
    if not faults:
        return []
    return [
        Problem(
            "seqr_s3.E002",
            f"seqr_s3 cannot wrap {target.module}.{target.name}{describe_signature(function)}: "
            f"{'; '.join(faults)}. seqr_s3 needs {target.expected}",
            "seqr changed this function; wrapping it could break seqr. Update seqr_s3 for this seqr.",
        )
    ]


def find_problems() -> list[Problem]:
    """Compare seqr's modules with what the patch relies on; an empty list means it is safe to patch."""
    problems = []
    modules: dict[str, Any] = {}
    for module_name in (FILE_UTILS, IGV_API):
        try:
            modules[module_name] = importlib.import_module(module_name)
        except Exception as error:
            problems.append(
                Problem(
                    "seqr_s3.E001",
                    f"seqr_s3 cannot import {module_name}: {type(error).__name__}: {error}",
                    "seqr_s3 patches this module of seqr; is this a seqr checkout, and has seqr moved it?",
                )
            )
    for target in TARGETS:
        module = modules.get(target.module)
        if module is not None:
            problems.extend(shape_problems(target, _original_of(getattr(module, target.name, None))))
    igv_api = modules.get(IGV_API)
    if igv_api is not None:
        problems.extend(fetch_igv_track_problems(getattr(igv_api, FETCH_IGV_TRACK, None)))
    if igv_api is not None and not callable(getattr(igv_api, "does_file_exist", None)):
        problems.append(
            Problem(
                "seqr_s3.E001",
                f"seqr_s3 expects {IGV_API}.does_file_exist, which is missing",
                "IGV track reads would no longer pass through seqr_s3. Update seqr_s3 for this seqr.",
            )
        )
    return problems


def _original_of(function: Any) -> Any:
    return getattr(function, ORIGINAL_ATTRIBUTE, function)


def is_patched(module_name: str, name: str) -> bool:
    """True when the module's attribute is one of our wrappers."""
    module = sys.modules.get(module_name)
    return module is not None and hasattr(getattr(module, name, None), ORIGINAL_ATTRIBUTE)


def _mark(wrapper: Callable[..., Any], original: Callable[..., Any]) -> Callable[..., Any]:
    functools.update_wrapper(wrapper, original)
    setattr(wrapper, ORIGINAL_ATTRIBUTE, original)
    return wrapper


def _wrap_does_file_exist(original: Callable[..., Any]) -> Callable[..., Any]:
    from .files import s3_does_file_exist

    signature = inspect.signature(original)

    def does_file_exist(file_path: Any, *args: Any, **kwargs: Any) -> Any:
        if is_s3_path(file_path):
            arguments = signature.bind(file_path, *args, **kwargs)
            return s3_does_file_exist(file_path, user=arguments.arguments.get("user"))
        return original(file_path, *args, **kwargs)

    return _mark(does_file_exist, original)


def _is_fetch_igv_track(frame: Any) -> bool:
    """True when ``frame`` runs seqr's fetch_igv_track (the function of that name in igv_api's module)."""
    return frame.f_code.co_name == FETCH_IGV_TRACK and frame.f_globals.get("__name__") == IGV_API


def _wrap_igv_does_file_exist(
    original: Callable[..., Any], general: Callable[..., Any]
) -> Callable[..., Any]:
    """igv_api's does_file_exist: defers fetch_igv_track's .bam.bai test for s3:// paths to serve_track."""

    def does_file_exist(file_path: Any, *args: Any, **kwargs: Any) -> Any:
        if is_s3_path(file_path) and _is_fetch_igv_track(sys._getframe(1)):
            # fetch_igv_track has only checked the project: the access check and, after it, the fallback
            # happen in serve_track. True keeps the path as asked; nothing is read here.
            return True
        return general(file_path, *args, **kwargs)

    return _mark(does_file_exist, original)


def _wrap_file_iter(original: Callable[..., Any]) -> Callable[..., Any]:
    from .files import s3_file_iter

    signature = inspect.signature(original)

    def file_iter(file_path: Any, *args: Any, **kwargs: Any) -> Any:
        if is_s3_path(file_path):
            # Bind against seqr's own signature so positional and keyword callers both work.
            arguments = signature.bind(file_path, *args, **kwargs)
            arguments.apply_defaults()
            return s3_file_iter(
                file_path,
                byte_range=arguments.arguments.get("byte_range"),
                raw_content=bool(arguments.arguments.get("raw_content")),
                user=arguments.arguments.get("user"),
            )
        return original(file_path, *args, **kwargs)

    return _mark(file_iter, original)


def _wrap_stream_file(original: Callable[..., Any]) -> Callable[..., Any]:
    from .serving import authorize_seconds, decline_response, serve_track

    def _stream_file(request: Any, path: Any, *args: Any, **kwargs: Any) -> Any:
        # Parameters a later seqr may add (optional, or the check would have refused) pass through unread.
        if is_s3_path(path):
            # fetch_igv_track does not pass the project on; Django records the URL's kwargs on the request.
            match = getattr(request, "resolver_match", None)
            project_guid: Optional[str] = match.kwargs.get("project_guid") if match is not None else None
            return serve_track(request, path, project_guid)
        if authorize_seconds(request) is not None:
            # nginx's authorization covers s3:// tracks only; seqr's own files are streamed the ordinary way
            # (never into nginx's authorization request, which would discard them).
            return decline_response()
        return original(request, path, *args, **kwargs)

    return _mark(_stream_file, original)


def _rebind_everywhere(original: Callable[..., Any], wrapper: Callable[..., Any]) -> list[str]:
    """Replace the original function object by the wrapper in every loaded seqr module; return where."""
    rebound = []
    for module_name, module in list(sys.modules.items()):
        if module is None or module_name.split(".", 1)[0] not in SEQR_PACKAGES:
            continue
        for attribute, value in list(vars(module).items()):
            if value is original:
                setattr(module, attribute, wrapper)
                rebound.append(f"{module_name}.{attribute}")
    return rebound


_WRAPPERS = {
    (FILE_UTILS, "does_file_exist"): _wrap_does_file_exist,
    (FILE_UTILS, "file_iter"): _wrap_file_iter,
    (IGV_API, "_stream_file"): _wrap_stream_file,
}


def apply_patch() -> list[Problem]:
    """Patch seqr (idempotent); return what prevented it, also logged (gunicorn runs no checks)."""
    problems = find_problems()
    if problems:
        for problem in problems:
            logger.error("seqr_s3: not patching seqr, s3:// paths will not be served: %s", problem.message)
        return problems
    for target in TARGETS:
        module = sys.modules[target.module]
        current = getattr(module, target.name)
        original = _original_of(current)
        wrapper = current if original is not current else _WRAPPERS[(target.module, target.name)](original)
        setattr(module, target.name, wrapper)
        rebound = _rebind_everywhere(original, wrapper)
        logger.debug("seqr_s3: %s.%s patched (also in %s)", target.module, target.name, ", ".join(rebound))
    igv_api = sys.modules[IGV_API]
    general = sys.modules[FILE_UTILS].does_file_exist
    if igv_api.does_file_exist is general:
        igv_api.does_file_exist = _wrap_igv_does_file_exist(_original_of(general), general)
    return []


def _find_function(function: Any, name: str, seen: set[int]) -> Any:
    """The function named ``name`` inside a (decorated) view: through __wrapped__ and closure cells."""
    if id(function) in seen or not callable(function):
        return None
    seen.add(id(function))
    code = getattr(function, "__code__", None)
    if code is not None and code.co_name == name:
        return function
    for inner in [getattr(function, "__wrapped__", None)] + [
        cell.cell_contents for cell in (getattr(function, "__closure__", None) or ()) if _has_contents(cell)
    ]:
        found = _find_function(inner, name, seen)
        if found is not None:
            return found
    return None


def _has_contents(cell: Any) -> bool:
    try:
        cell.cell_contents  # noqa: B018  (an empty cell raises ValueError)
    except ValueError:
        return False
    return True


def fetch_igv_track_problems(view: Any) -> list[Problem]:
    """seqr's fetch_igv_track (behind its decorators) must keep its parameters, and call does_file_exist
    itself: that call is how its .bam.bai test is deferred until after the access check. If seqr moves it
    elsewhere, say so instead of asking S3 too early."""
    if not callable(view):
        return shape_problems(FETCH_IGV_TRACK_TARGET, None)
    inner = _find_function(view, FETCH_IGV_TRACK, set())
    if inner is not None and "does_file_exist" in inner.__code__.co_names:
        return shape_problems(FETCH_IGV_TRACK_TARGET, inner)
    return [
        Problem(
            "seqr_s3.E002",
            f"seqr_s3 expects {IGV_API}.{FETCH_IGV_TRACK} to call does_file_exist for its .bam.bai fallback, "
            "and it does not (or cannot be found behind its decorators)",
            "seqr changed fetch_igv_track; seqr_s3 could ask S3 before its access check. Update seqr_s3.",
        )
    ]
