"""The role's filter plugin: CSP hash sources, CSP source lists, S3 origins, Python literals, resolvers.

Known answers come from outside the code under test: seqr's own IGV_CSS_HASHES are hashes of igv 2.10.5's
<style> texts, and CSP/botocore rules fix what the origins must be.
"""

from __future__ import annotations

import ast
import base64
import hashlib
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from role_render import REPO_ROOT, built_wheel

PLUGIN = REPO_ROOT / "roles" / "seqr_s3" / "filter_plugins" / "seqr_s3_filters.py"


def _load_plugin():
    spec = importlib.util.spec_from_file_location("seqr_s3_filters_under_test", PLUGIN)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


filters = _load_plugin()


def test_ansible_sees_every_filter_under_a_role_prefixed_name() -> None:
    names = filters.FilterModule().filters()
    assert set(names) == {
        "seqr_s3_csp_hash",
        "seqr_s3_csp_sources",
        "seqr_s3_origins",
        "seqr_s3_python_literal",
        "seqr_s3_nginx_resolvers",
        "seqr_s3_settings_errors",
        "seqr_s3_redact",
        "seqr_s3_missing_wheels",
        "seqr_s3_versions_after_removal",
    }


# --- seqr_s3_csp_hash --------------------------------------------------------------------------------


def test_css_hash_matches_the_csp_definition_on_a_known_text() -> None:
    # CSP: 'sha256-' + base64(sha256(UTF-8 bytes of the element text)); computed here independently.
    css = ".igv-popover { position: absolute; }\n"
    expected = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
    assert filters.csp_hash_source(css) == f"'sha256-{expected}'"


def test_css_hash_of_empty_style_is_the_well_known_empty_sha256() -> None:
    # sha256("") is a published constant; browsers use it for an empty <style>.
    assert filters.csp_hash_source("") == "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='"


def test_css_hash_keeps_whitespace_and_unicode_exactly() -> None:
    assert filters.csp_hash_source("a{}") != filters.csp_hash_source("a{} ")
    text = "a::before { content: 'ä→'; }"
    digest = base64.b64encode(hashlib.sha384(text.encode("utf-8")).digest()).decode()
    assert filters.csp_hash_source(text, "sha384") == f"'sha384-{digest}'"


@pytest.mark.parametrize("bad", [None, b"a{}", 3])
def test_css_hash_refuses_non_text(bad: object) -> None:
    with pytest.raises(filters.SeqrS3FilterError, match="must be a string"):
        filters.csp_hash_source(bad)


def test_css_hash_refuses_unknown_algorithm() -> None:
    with pytest.raises(filters.SeqrS3FilterError, match="md5"):
        filters.csp_hash_source("a{}", "md5")


# --- seqr_s3_csp_sources -----------------------------------------------------------------------------


def test_sources_quote_keywords_and_hashes_and_leave_hosts_bare() -> None:
    assert filters.csp_sources(
        ["self", "'unsafe-eval'", "sha256-AbC+/=", "https://igv.org", "data:", "*.example.org:443"]
    ) == ["'self'", "'unsafe-eval'", "'sha256-AbC+/='", "https://igv.org", "data:", "*.example.org:443"]


def test_sources_are_merged_in_order_without_repeats() -> None:
    merged = filters.csp_sources(
        ["'self'", "https://S3.amazonaws.com"], ["self", "https://s3.amazonaws.com", "'sha256-x='"], None
    )
    assert merged == ["'self'", "https://S3.amazonaws.com", "'sha256-x='"]


def test_hash_case_is_significant_when_merging() -> None:
    assert filters.csp_sources(["'sha256-abc='", "'sha256-ABC='"]) == ["'sha256-abc='", "'sha256-ABC='"]


@pytest.mark.parametrize(
    "bad",
    [
        "https://a.org https://b.org",  # two sources in one entry
        "https://a.org;script-src *",  # directive injection
        "'https://a.org'",  # a quoted host is not a host
        "'self",  # unbalanced quote
        "",
        "ht tp://x",
        5,
    ],
)
def test_sources_refuse_entries_that_would_corrupt_the_header(bad: object) -> None:
    with pytest.raises(filters.SeqrS3FilterError):
        filters.csp_sources([bad])


def test_sources_accept_a_single_string() -> None:
    assert filters.csp_sources("self") == ["'self'"]


@given(
    st.lists(st.sampled_from(["self", "'self'", "https://a.org", "https://A.org", "'sha256-q='", "blob:"]))
)
def test_sources_never_hold_duplicates_and_are_idempotent(entries: list[str]) -> None:
    once = filters.csp_sources(entries)
    assert len({s.lower() if not s.startswith("'") else s for s in once}) == len(once)
    assert filters.csp_sources(once) == once


# --- seqr_s3_origins ---------------------------------------------------------------------------------


def test_aws_regional_bucket_gets_virtual_and_path_origins() -> None:
    assert filters.s3_origins(["s3://reads/"], region="eu-west-1") == [
        "https://reads.s3.eu-west-1.amazonaws.com",
        "https://s3.eu-west-1.amazonaws.com",
    ]


def test_aws_without_region_uses_the_global_endpoint() -> None:
    assert filters.s3_origins("s3://reads/x/", addressing_style="virtual") == [
        "https://reads.s3.amazonaws.com"
    ]
    assert filters.s3_origins("s3://reads/x/", addressing_style="path") == ["https://s3.amazonaws.com"]


def test_us_east_1_lists_regional_and_global_hosts() -> None:
    assert filters.s3_origins(["s3://reads/"], region="us-east-1") == [
        "https://reads.s3.us-east-1.amazonaws.com",
        "https://reads.s3.amazonaws.com",
        "https://s3.us-east-1.amazonaws.com",
        "https://s3.amazonaws.com",
    ]


def test_dotted_bucket_falls_back_to_path_style_on_aws() -> None:
    # A dotted name breaks the *.s3 wildcard certificate, so only the path-style origin is usable.
    assert filters.s3_origins(["s3://my.reads/"], region="eu-west-1") == [
        "https://s3.eu-west-1.amazonaws.com"
    ]
    with pytest.raises(filters.SeqrS3FilterError, match="virtual-hosted"):
        filters.s3_origins(["s3://my.reads/"], region="eu-west-1", addressing_style="virtual")


def test_custom_endpoint_keeps_scheme_and_port() -> None:
    assert filters.s3_origins(
        ["s3://reads/", "s3://more/"], endpoint_url="http://ceph.internal:7480", addressing_style="auto"
    ) == ["http://reads.ceph.internal:7480", "http://ceph.internal:7480", "http://more.ceph.internal:7480"]


def test_custom_endpoint_on_an_ip_address_is_path_style_only() -> None:
    assert filters.s3_origins(["s3://reads/"], endpoint_url="https://10.0.0.5:8333/") == [
        "https://10.0.0.5:8333"
    ]


def test_custom_endpoint_accepts_any_region_name() -> None:
    # Ceph zone groups are free-form names; only AWS region names have a fixed shape.
    assert filters.s3_origins(["s3://reads/"], endpoint_url="https://rgw.example.org", region="default") != []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"s3_urls": ["gs://reads/"]}, "not an s3://"),
        # Bucket names are the package's rule (seqr_s3_settings_errors); the origin is still no CSP source.
        ({"s3_urls": ["s3://Bad_Bucket/"]}, "is not a keyword, hash, nonce, scheme or host source"),
        ({"s3_urls": ["s3:///key"]}, "names no bucket"),
        ({"s3_urls": ["s3://reads/"], "region": "Europe"}, "region"),
        ({"s3_urls": ["s3://reads/"], "addressing_style": "dns"}, "addressing style"),
        ({"s3_urls": ["s3://reads/"], "endpoint_url": "ftp://x"}, "endpoint URL"),
        ({"s3_urls": ["s3://reads/"], "endpoint_url": "https://u:p@x.org"}, "credentials"),
        ({"s3_urls": ["s3://reads/"], "endpoint_url": "https://x.org/bucket"}, "path"),
    ],
)
def test_origins_refuse_bad_input_with_a_reason(kwargs: dict, message: str) -> None:
    with pytest.raises(filters.SeqrS3FilterError, match=message):
        filters.s3_origins(**kwargs)


def test_origins_are_valid_csp_sources() -> None:
    origins = filters.s3_origins(["s3://a-b/", "s3://c.d/"], region="ap-southeast-2")
    assert filters.csp_sources(origins) == origins


# --- seqr_s3_python_literal --------------------------------------------------------------------------


def test_python_literal_round_trips_settings_values() -> None:
    value = {
        "MODE": "accel",
        "ALLOWED_PREFIXES": ["s3://b/", "s3://c/p q/"],
        "PROFILE": None,
        "CHUNK_SIZE": 1048576,
        "READ_TIMEOUT": 2.5,
        "FLAG": True,
        "QUOTE": 'it\'s "quoted"\n\\',
    }
    assert ast.literal_eval(filters.python_literal(value)) == value


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(),
        lambda children: st.lists(children) | st.dictionaries(st.text(), children),
        max_leaves=20,
    )
)
def test_python_literal_is_always_valid_python(value: object) -> None:
    assert ast.literal_eval(filters.python_literal(value)) == value


def test_python_literal_refuses_objects() -> None:
    with pytest.raises(filters.SeqrS3FilterError, match="cannot write"):
        filters.python_literal({"a": object()})


# --- seqr_s3_nginx_resolvers -------------------------------------------------------------------------


def test_resolvers_bracket_ipv6_and_skip_zone_ids() -> None:
    assert filters.nginx_resolvers(["10.88.0.1", "fe80::1%eth0", "2001:db8::53", "10.88.0.1"]) == [
        "10.88.0.1",
        "[2001:db8::53]",
    ]


def test_resolvers_refuse_host_names() -> None:
    with pytest.raises(filters.SeqrS3FilterError, match="not an IP address"):
        filters.nginx_resolvers(["dns.example.org"])


# --- seqr_s3_settings_errors: the package's own SEQR_S3 validation, imported from a given path -------------

PACKAGE_SOURCE = REPO_ROOT / "python" / "src"


@pytest.fixture(scope="module")
def package_wheel() -> Path:
    """The package built as a wheel, the form the role installs."""
    return built_wheel()


@pytest.mark.parametrize("form", ["source", "wheel"])
def test_settings_errors_are_the_packages_own(form: str, package_wheel: Path) -> None:
    location = PACKAGE_SOURCE if form == "source" else package_wheel
    good = {"MODE": "accel", "ALLOWED_PREFIXES": ["s3://reads/"], "REGION": "eu-west-1"}
    assert filters.settings_errors(good, str(location)) == []
    assert filters.settings_errors({**good, "PRESIGN_EXPIRY": 0}, str(location)) == [
        "SEQR_S3['PRESIGN_EXPIRY'] must be between 1 and 604800; got 0"
    ]
    (chunk,) = filters.settings_errors({**good, "CHUNK_SIZE": 64 * 1024 * 1024 + 1}, str(location))
    assert chunk.startswith("SEQR_S3['CHUNK_SIZE'] must be between")
    injected = {**good, "REGION": "eu-west-1\ncredential_process = x"}
    (region,) = filters.settings_errors(injected, str(location))
    assert region.startswith("SEQR_S3['REGION'] must be one name")


def test_settings_errors_use_the_given_path_and_leave_the_process_as_it_was(tmp_path: Path) -> None:
    """A different seqr_s3 on the given path (here: one whose validator refuses everything) is the one asked,
    even in a process that has the installed package imported; afterwards that import is back in place."""
    import seqr_s3.config as installed

    other = tmp_path / "seqr_s3"
    other.mkdir()
    (other / "__init__.py").write_text("")
    (other / "config.py").write_text(
        "class ConfigError(ValueError):\n    pass\n\n\n"
        "def parse_settings(raw):\n    raise ConfigError('refused by the copy on the given path')\n"
    )
    path_before = list(sys.path)
    assert filters.settings_errors({}, str(tmp_path)) == ["refused by the copy on the given path"]
    assert sys.modules["seqr_s3.config"] is installed
    assert sys.path == path_before


def test_settings_errors_import_no_django() -> None:
    """The role's controller has no Django: the validator's import chain must not need it."""
    program = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('plugin', {str(PLUGIN)!r})\n"
        "plugin = importlib.util.module_from_spec(spec); spec.loader.exec_module(plugin)\n"
        f"assert plugin.settings_errors({{'MODE': 'proxy'}}, {str(PACKAGE_SOURCE)!r}) == []\n"
        "assert not any(name.split('.')[0] == 'django' for name in sys.modules), 'django was imported'\n"
    )
    subprocess.run([sys.executable, "-I", "-c", program], check=True, timeout=60)


def test_settings_errors_name_a_path_without_the_package(tmp_path: Path) -> None:
    """Never judged by some other copy of the package (here: the one installed in this virtualenv)."""
    with pytest.raises(filters.SeqrS3FilterError, match=re.escape(f"not from {str(tmp_path)!r}")):
        filters.settings_errors({}, str(tmp_path))


# --- seqr_s3_redact ------------------------------------------------------------------------------------


def test_redact_hides_the_secret_and_each_of_its_parts() -> None:
    secret = "--index-url=https://deploy:t0ken@pypi.internal/simple --trusted-host pypi.internal"
    text = "Looking in indexes: https://deploy:t0ken@pypi.internal/simple\nERROR: pypi.internal refused"
    hidden = filters.redact(text, secret, "<args>")
    assert "t0ken" not in hidden and "pypi.internal" not in hidden
    assert hidden.startswith("Looking in indexes: <args>")
    assert filters.redact("nothing to hide", "", "<args>") == "nothing to hide"


# --- seqr_s3_missing_wheels -----------------------------------------------------------------------------

WHEELHOUSE_FOR_PY39 = [
    "/wh/boto3-1.42.97-py3-none-any.whl",
    "/wh/urllib3-1.26.20-py2.py3-none-any.whl",
    "/wh/python_dateutil-2.9.0.post0-py2.py3-none-any.whl",
    "/wh/README.txt",
]


def test_missing_wheels_names_each_version_the_wheelhouse_cannot_put_back() -> None:
    wanted = {"urllib3": "2.6.3", "python-dateutil": "2.9.0.post0", "Django": "4.2.16"}
    assert filters.missing_wheels(wanted, WHEELHOUSE_FOR_PY39) == ["Django==4.2.16", "urllib3==2.6.3"]


def test_missing_wheels_can_ignore_distributions_the_wheelhouse_has_no_wheel_of() -> None:
    # pip without an index cannot replace Django from this wheelhouse; urllib3 it can, to 1.26.20.
    wanted = {"urllib3": "2.6.3", "Django": "4.2.16", "Python_DateUtil": "2.9.0.post0"}
    assert filters.missing_wheels(wanted, WHEELHOUSE_FOR_PY39, True) == ["urllib3==2.6.3"]
    assert filters.missing_wheels({"urllib3": "1.26.20"}, WHEELHOUSE_FOR_PY39, True) == []


def test_missing_wheels_refuses_a_list_where_a_mapping_belongs() -> None:
    with pytest.raises(filters.SeqrS3FilterError, match="name -> version"):
        filters.missing_wheels(["urllib3==2.6.3"], WHEELHOUSE_FOR_PY39)


# --- seqr_s3_versions_after_removal ---------------------------------------------------------------------


def test_versions_after_removal_drops_what_the_role_added_and_restores_what_it_replaced() -> None:
    installed = {
        "Django": "4.2.16",
        "urllib3": "1.26.20",
        "boto3": "1.42.97",
        "jmespath": "1.0.1",
        "seqr-s3": "0.2.0",
    }
    before = {"Django": "4.2.16", "urllib3": "2.2.0", "seqr-s3": "0.1.0"}
    assert filters.versions_after_removal(installed, before, ["boto3", "JMESPath"]) == {
        "Django": "4.2.16",
        "urllib3": "2.2.0",
    }


def test_versions_after_removal_keeps_everything_but_seqr_s3_without_records() -> None:
    assert filters.versions_after_removal({"urllib3": "2.2.0", "seqr_s3": "0.2.0"}, {}, []) == {
        "urllib3": "2.2.0"
    }


def test_versions_after_removal_refuses_a_record_that_is_not_a_mapping() -> None:
    with pytest.raises(filters.SeqrS3FilterError, match="name -> version"):
        filters.versions_after_removal({"urllib3": "2.2.0"}, ["urllib3==2.2.0"], [])
