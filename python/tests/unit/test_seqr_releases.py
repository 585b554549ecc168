"""The package's compatibility rules held against the recorded shape of every seqr release since 2021.

seqr_release_facts.json records, per first-parent commit of broadinstitute/seqr, the signatures of the
functions seqr_s3 wraps or inspects and IgvSample's fields (facts, not seqr's code). Each test builds
function objects with those signatures and asks the patch for its decision, so a change that would refuse a
release sites run fails here, without a seqr checkout or network.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any, Callable

import pytest
from django.db.models import Q
from seqr_s3 import access, patch

FACTS = json.loads((Path(__file__).with_name("seqr_release_facts.json")).read_text())["releases"]
RELEASE_IDS = [f"{release['date']}-{release['commit'][:9]}" for release in FACTS]
WRAPPED = {
    "does_file_exist": patch.DOES_FILE_EXIST,
    "file_iter": patch.FILE_ITER,
    "_stream_file": patch.STREAM_FILE,
}


def function_with(name: str, signature: str, body: str = "return (locals(), None)") -> Callable[..., Any]:
    """A function named ``name`` with exactly ``signature``; by default it returns the arguments it got."""
    namespace: dict[str, Any] = {}
    exec(f"def {name}{signature}:\n    {body}\n", namespace)  # noqa: S102 (builds a recorded signature)
    return namespace[name]


def decorated_view(signature: str, calls_does_file_exist: bool) -> Callable[..., Any]:
    """fetch_igv_track as seqr declares it: behind a decorator that keeps __wrapped__, like seqr's login
    decorators; its body calls does_file_exist when the release's does."""
    body = "return does_file_exist(igv_track_path)" if calls_does_file_exist else "return igv_track_path"
    view = function_with("fetch_igv_track", signature, body)

    def login_required(function: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(function)
        def checked(request: Any, *args: Any, **kwargs: Any) -> Any:
            return function(request, *args, **kwargs)

        return checked

    return login_required(view)


def decision(release: dict[str, Any]) -> list[patch.Problem]:
    problems = []
    for name, target in WRAPPED.items():
        problems.extend(patch.shape_problems(target, function_with(name, release[name])))
    view = decorated_view(release["fetch_igv_track"], release["fetch_igv_track_calls_does_file_exist"])
    problems.extend(patch.fetch_igv_track_problems(view))
    return problems


@pytest.mark.parametrize("release", FACTS, ids=RELEASE_IDS)
def test_every_recorded_release_is_accepted(release: dict[str, Any]) -> None:
    assert decision(release) == []


def lookups(condition: Q) -> list[str]:
    found = []
    for child in condition.children:
        found.extend(lookups(child) if isinstance(child, Q) else [child[0]])
    return found


@pytest.mark.parametrize("release", FACTS, ids=RELEASE_IDS)
def test_the_registration_query_names_only_fields_the_release_has(release: dict[str, Any]) -> None:
    fields = set(release["igv_sample_fields"])
    has_index = access.INDEX_FIELD in fields
    for requested in ("s3://b/x.bam", "s3://b/x.bam.bai", "s3://b/x.crai"):
        named = lookups(access.registration_match(requested, has_index))
        named.append(access.PROJECT_LOOKUP)
        assert {lookup.split("__", 1)[0] for lookup in named} <= fields, (requested, named)
    # The derived-index rule applies in every release: an index is served for a registered file.
    derived = lookups(access.registration_match("s3://b/x.bam.bai", has_index))
    assert "file_path__in" in derived
    assert (access.INDEX_FIELD in derived) == has_index


def test_the_releases_cover_every_shape_change() -> None:
    """The facts hold the last commit before and the first after each change the patch adapts to."""
    shapes = {
        (r["does_file_exist"], r["file_iter"], "index_file_path" in r["igv_sample_fields"]) for r in FACTS
    }
    assert len(shapes) == 4, shapes
    dates = [release["date"] for release in FACTS]
    assert dates == sorted(dates) and dates[0] <= "2021-06-25" and dates[-1] >= "2026-06-18"


FUTURE_ACCEPTED = [
    ("does_file_exist", "(file_path, user=None, check_permissions=False)"),
    ("does_file_exist", "(file_path, *, user=None)"),
    ("file_iter", "(file_path, byte_range=None, raw_content=False, user=None, encoding='utf-8', **kwargs)"),
    ("file_iter", "(file_path, byte_range=None, raw_content=False, *args, **kwargs)"),
    ("_stream_file", "(request, path, chunk_size=65536)"),
]


@pytest.mark.parametrize(("name", "signature"), FUTURE_ACCEPTED)
def test_a_future_shape_that_only_adds_optional_parameters_is_accepted(name: str, signature: str) -> None:
    assert patch.shape_problems(WRAPPED[name], function_with(name, signature)) == []


def test_the_stream_file_wrapper_passes_a_future_optional_parameter_on() -> None:
    original = function_with("_stream_file", "(request, path, chunk_size=65536)")
    wrapper = patch._wrap_stream_file(original)
    assert wrapper("request", "/data/x.bam", chunk_size=1)[0] == {
        "request": "request",
        "path": "/data/x.bam",
        "chunk_size": 1,
    }


REFUSED = [
    (
        "file_iter",
        "(file_path, byte_range=None, raw=False, user=None, **kwargs)",
        "it has no parameter 'raw_content'",
    ),
    (
        "file_iter",
        "(file_path, raw_content=False, byte_range=None, user=None, **kwargs)",
        "'byte_range' is parameter 3, expected 2 (reordered)",
    ),
    ("file_iter", "(path, byte_range=None, raw_content=False, user=None)", "it has no parameter 'file_path'"),
    (
        "file_iter",
        "(file_path, *, byte_range=None, raw_content=False)",
        "'byte_range' can no longer be passed",
    ),
    (
        "does_file_exist",
        "(file_path, project, user=None)",
        "it requires a parameter 'project' that seqr_s3 does not know",
    ),
    (
        "does_file_exist",
        "(file_path, bucket=None, user=None)",
        "'user' is parameter 3, expected 2 (reordered)",
    ),
    ("_stream_file", "(request, file_path)", "it has no parameter 'path'"),
]


@pytest.mark.parametrize(("name", "signature", "fault"), REFUSED)
def test_a_shape_missing_what_the_patch_relies_on_is_refused(name: str, signature: str, fault: str) -> None:
    problems = patch.shape_problems(WRAPPED[name], function_with(name, signature))
    assert [problem.check_id for problem in problems] == ["seqr_s3.E002"]
    message = problems[0].message
    assert message.startswith(f"seqr_s3 cannot wrap {WRAPPED[name].module}.{name}{signature}: ")
    assert fault in message and "seqr_s3 needs (" in message


def test_fetch_igv_track_must_keep_the_project_parameter_and_its_fallback_call() -> None:
    renamed = patch.fetch_igv_track_problems(decorated_view("(request, guid, igv_track_path)", True))
    assert len(renamed) == 1 and "it has no parameter 'project_guid'" in renamed[0].message
    moved = patch.fetch_igv_track_problems(decorated_view("(request, project_guid, igv_track_path)", False))
    assert len(moved) == 1 and "to call does_file_exist for its .bam.bai fallback" in moved[0].message
    assert patch.fetch_igv_track_problems(None)[0].check_id == "seqr_s3.E001"


@pytest.mark.parametrize("release", FACTS, ids=RELEASE_IDS)
def test_wrappers_pass_arguments_through_as_each_release_takes_them(release: dict[str, Any]) -> None:
    """Non-s3 paths reach seqr's own function with the caller's arguments, nothing added: a does_file_exist
    without ``user`` never gets one, and a caller passing one fails exactly as seqr itself would."""
    original = function_with("does_file_exist", release["does_file_exist"])
    wrapper = patch._wrap_does_file_exist(original)
    assert wrapper("/data/x.bam")[0] == original("/data/x.bam")[0]
    if "user" in release["does_file_exist"]:
        assert wrapper("/data/x.bam", user="u")[0]["user"] == "u"
    else:
        with pytest.raises(TypeError):
            original("/data/x.bam", user="u")
        with pytest.raises(TypeError):
            wrapper("/data/x.bam", user="u")
    iterate = function_with("file_iter", release["file_iter"])
    wrapped_iter = patch._wrap_file_iter(iterate)
    got = wrapped_iter("/data/x.vcf", (0, 9), True)[0]
    assert (got["byte_range"], got["raw_content"]) == ((0, 9), True)
    if "**kwargs" in release["file_iter"]:
        assert wrapped_iter("/data/x.vcf", user="u", no_project=True)[0]["kwargs"] == {"no_project": True}
