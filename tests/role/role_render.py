"""Render the seqr_s3 role's templates with plain Jinja2, the way Ansible would, for tests and bench/.

Ansible resolves `{{ … }}` inside variables lazily; here the role defaults and the OS-family vars are resolved
by rendering them repeatedly until nothing changes, so the result equals what the role sees on a host that
sets no variables. The role's own filter plugin is registered, so a template needing anything else fails.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import shutil
import subprocess
import tempfile
import venv
from pathlib import Path
from typing import Any, Optional

import jinja2
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
ROLE_DIR = REPO_ROOT / "roles" / "seqr_s3"
# The role carries its own filters (filter_plugins/ inside the role); in the built collection they are the
# collection's (plugins/filter/, two folders up from the role) and the role names them by their full name.
FILTER_PLUGIN = Path("filter_plugins") / "seqr_s3_filters.py"
COLLECTION_FILTER_PLUGIN = Path("plugins") / "filter" / "seqr_s3_filters.py"
COLLECTION_NAME = "seqr_s3.seqr_s3"
# The headers-more module as Debian installs it (libnginx-mod-http-headers-more-filter), by absolute path: the
# package's own load_module line is relative to nginx's prefix, which tests replace with their own.
DEBIAN_MODULES = "/usr/lib/nginx/modules/ngx_http_headers_more_filter_module.so"


def _filter_plugin(role_dir: Path) -> Path:
    in_role = role_dir / FILTER_PLUGIN
    return in_role if in_role.exists() else role_dir.parents[1] / COLLECTION_FILTER_PLUGIN


def load_filters(role_dir: Path = ROLE_DIR) -> Any:
    """Import the role's filter plugin (or its collection's) by path, as Ansible does (not a package)."""
    spec = importlib.util.spec_from_file_location("seqr_s3_filters", _filter_plugin(role_dir))
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def jinja_environment(role_dir: Path = ROLE_DIR) -> jinja2.Environment:
    """A strict environment: an undefined variable is an error instead of an empty string in nginx config."""
    # No autoescape: the output is nginx config and Python source, not HTML (Ansible does not escape either).
    environment = jinja2.Environment(  # noqa: S701
        loader=jinja2.FileSystemLoader(str(role_dir / "templates")),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,  # Ansible's template module default, so whitespace matches what hosts get.
    )
    filters = load_filters(role_dir).FILTERS
    environment.filters.update(filters)
    environment.filters.update({f"{COLLECTION_NAME}.{name}": function for name, function in filters.items()})
    return environment


def _resolve(variables: dict[str, Any], environment: jinja2.Environment) -> dict[str, Any]:
    """Render templated string values against the whole mapping until a fixed point (bounded passes)."""

    def render_value(value: Any, context: dict[str, Any]) -> Any:
        if isinstance(value, str) and "{{" in value:
            return environment.from_string(value).render(context)
        if isinstance(value, list):
            return [render_value(item, context) for item in value]
        if isinstance(value, dict):
            return {key: render_value(item, context) for key, item in value.items()}
        return value

    resolved = dict(variables)
    for _ in range(10):
        updated = {key: render_value(value, resolved) for key, value in resolved.items()}
        if updated == resolved:
            return resolved
        resolved = updated
    raise AssertionError("role variables reference each other in a loop")


def role_variables(
    overrides: Optional[dict[str, Any]] = None, os_family: str = "Debian", role_dir: Path = ROLE_DIR
) -> dict[str, Any]:
    """Defaults + vars/<os_family>.yml + the IGV hash table + overrides, fully resolved.

    With authorize once on (accel) and no seqr_s3_nginx_session_cookie_name, the role reads seqr's
    SESSION_COOKIE_NAME from settings.py (tasks/nginx.yml); a render has no seqr, so it is what the role
    takes from a settings.py that sets none: Django's own name. A live nginx in front of a seqr
    (tests/fixtures) passes the name that seqr's settings give instead."""
    variables: dict[str, Any] = {}
    variables.update(yaml.safe_load((role_dir / "defaults" / "main.yml").read_text()))
    variables.update(yaml.safe_load((role_dir / "vars" / f"{os_family}.yml").read_text()))
    variables.update(yaml.safe_load((role_dir / "vars" / "igv_css_hashes.yml").read_text()))
    variables.update(overrides or {})
    resolved = _resolve(variables, jinja_environment(role_dir))
    if authorize_once(resolved) and not resolved["seqr_s3_nginx_session_cookie_name"]:
        resolved.setdefault("__seqr_s3_session_cookie_name", DJANGO_SESSION_COOKIE_NAME)
    return resolved


# What the role takes when seqr's settings.py sets no SESSION_COOKIE_NAME (Django's global default).
DJANGO_SESSION_COOKIE_NAME = "sessionid"


def authorize_once(variables: dict[str, Any]) -> bool:
    """Whether the site these (resolved) role variables render has authorize once on."""
    return variables["seqr_s3_mode"] == "accel" and int(variables["seqr_s3_nginx_authorize_ttl"]) > 0


def render_template(
    name: str,
    overrides: Optional[dict[str, Any]] = None,
    extra_context: Optional[dict[str, Any]] = None,
    role_dir: Path = ROLE_DIR,
) -> str:
    """Render <role_dir>/templates/<name> (default: the working tree's role) with the resolved variables."""
    context = role_variables(overrides, role_dir=role_dir)
    context.update(extra_context or {})
    return jinja_environment(role_dir).get_template(name).render(context)


def nginx_main_config(prefix: Path, site_file: Path, http_extra: str = "") -> str:
    """A main nginx.conf shaped like Debian's (the headers-more module loaded, sendfile and tcp_nopush
    on) that includes one site file. The site's accel location needs the headers-more module
    (libnginx-mod-http-headers-more-filter, installed by scripts/setup.sh as the role installs it on hosts).

    ``http_extra`` goes into the http block before the site (bench/ adds a timing log_format this way).
    """
    return (
        f"load_module {DEBIAN_MODULES};\n"
        f"pid {prefix}/nginx.pid;\n"
        f"error_log {prefix}/error.log;\n"
        "events { worker_connections 64; }\n"
        "http {\n"
        "    include /etc/nginx/mime.types;\n"
        "    sendfile on;\n"
        "    tcp_nopush on;\n"
        f"    access_log {prefix}/access.log;\n"
        f"{http_extra}"
        f"    include {site_file};\n"
        "}\n"
    )


def nginx_test(site_text: str, workdir: Optional[Path] = None) -> subprocess.CompletedProcess:
    """Run the real `nginx -t` on a main config that includes the rendered site; returns the process."""
    if shutil.which("nginx") is None:
        raise RuntimeError(
            "nginx is not installed (scripts/setup.sh installs it): the rendered site cannot be checked"
        )
    prefix = Path(workdir or tempfile.mkdtemp(prefix="seqr_s3_nginx_"))
    prefix.mkdir(parents=True, exist_ok=True)
    site_file = prefix / "site.conf"
    site_file.write_text(_caches_in(prefix, site_text))
    main_file = prefix / "nginx.conf"
    main_file.write_text(nginx_main_config(prefix, site_file))
    return subprocess.run(
        ["nginx", "-t", "-p", str(prefix), "-c", str(main_file)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _caches_in(prefix: Path, site_text: str) -> str:
    """The site with the role's default cache folders (the grants' under /run, the slice cache's under
    /var/cache) moved into ``prefix``: `nginx -t` creates the folders a site names, and a check must not
    create them on this machine. Folders a test names itself stay as they are."""
    defaults = role_variables()
    for name, folder in (
        ("grants", defaults["seqr_s3_nginx_authorize_cache_path"].rstrip("/")),
        ("slices", defaults["seqr_s3_nginx_slice_cache_path"].rstrip("/") + "/slices"),
    ):
        site_text = site_text.replace(f"proxy_cache_path {folder} ", f"proxy_cache_path {prefix / name} ")
    return site_text


def run_playbook(
    playbook: Path, variables: dict[str, Any], *extra: str, env: Optional[dict[str, str]] = None
) -> subprocess.CompletedProcess:
    """Run a playbook on this machine with the project's ansible.cfg and ``variables`` as extra vars;
    ``env`` adds to (or, with None values, removes from) this process's environment."""
    env = {
        key: value
        for key, value in {
            **os.environ,
            "ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg"),
            "ANSIBLE_NOCOLOR": "1",
            **(env or {}),
        }.items()
        if value is not None
    }
    ansible = REPO_ROOT / ".venv" / "bin" / "ansible-playbook"
    return subprocess.run(
        [
            str(ansible) if ansible.exists() else "ansible-playbook",
            str(playbook),
            "-e",
            json.dumps(variables),
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=REPO_ROOT,
        env=env,
        check=False,
    )


def changed_count(output: str) -> int:
    """The ``changed=`` number of the (single host's) PLAY RECAP."""
    recap = output[output.rindex("PLAY RECAP") :]
    return int(recap.split("changed=")[1].split()[0])


@functools.lru_cache(maxsize=1)
def built_wheel() -> Path:
    """The package wheel as `make wheel` builds it (scripts/build-wheel.sh, into dist/), once per session."""
    done = subprocess.run(
        ["bash", str(REPO_ROOT / "scripts" / "build-wheel.sh")],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return Path(done.stdout.strip().splitlines()[-1].split(" ", 1)[1])


def make_seqr_host(root: Path, user: str) -> dict[str, Any]:
    """A seqr checkout and virtualenv under ``root`` as the role's validate.yml expects them (no service to
    restart); returns the role variables that point at them."""
    seqr_dir = root / "seqr"
    (seqr_dir / "seqr" / "views" / "apis").mkdir(parents=True)
    (seqr_dir / "settings.py").write_text("DEBUG = False\n")
    (seqr_dir / "seqr" / "views" / "apis" / "igv_api.py").write_text("")
    venv.EnvBuilder(with_pip=True).create(root / "venv")
    return {
        "seqr_s3_seqr_dir": str(seqr_dir),
        "seqr_s3_venv": str(root / "venv"),
        "seqr_s3_home": str(root / "home"),
        "seqr_s3_user": user,
        "seqr_s3_service_manager": "none",
        "seqr_s3_manage_csp": False,
        # validate.yml judges the grants' folder (authorize once is on by default): this host's, not /run.
        "seqr_s3_nginx_authorize_cache_path": str(root / "run" / "seqr_s3_nginx_authorize"),
    }
