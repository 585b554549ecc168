"""Create the scenario's users, projects, families, individuals and IgvSample rows in a real seqr database.

Run inside seqr's own Django, not as a command of ours (seqr must stay untouched)::

    SEQR_S3_SEED_FILE=/path/seed.json python manage.py shell -c \
        "import runpy; runpy.run_path('/path/seed_seqr.py', run_name='__main__')"

It reads the same seed document as the stand-in's ``standin_seed`` (molecule/default/scenario_data.py writes
it), so both scenarios verify the same tracks. Unlike the stand-in, real seqr computes a GUID from the row id
when a row is first saved, so the scenario's fixed GUIDs are written afterwards; access is granted the way
seqr does it: the project's creator is put in all of its groups, other collaborators in its view group, and
every user accepts the current privacy and terms versions (seqr's views refuse users who have not).
Rows are found by GUID (users by username) and updated in place, so a second run changes nothing.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from seqr.models import Family, IgvSample, Individual, Project, UserPolicy

SEED_FILE_VARIABLE = "SEQR_S3_SEED_FILE"


class SeedError(Exception):
    """The seed document is unusable; the message says which entry and why."""


def _required(entry: dict[str, Any], key: str, kind: str) -> Any:
    if not entry.get(key):
        raise SeedError(f"every {kind} needs a non-empty {key!r}: {sorted(entry)}")
    return entry[key]


def _set_guid(model: Any, row: Any, guid: str) -> None:
    """Give a freshly created row the scenario's GUID (seqr's save() always computes its own)."""
    model.objects.filter(pk=row.pk).update(guid=guid)
    row.guid = guid


def _by_guid(model: Any, guid: str, kind: str) -> Any:
    try:
        return model.objects.get(guid=guid)
    except model.DoesNotExist as e:
        raise SeedError(f"{kind} {guid!r} is referenced but not in the seed document") from e


def seed_users(entries: list[dict[str, Any]]) -> dict[str, User]:
    """Users with passwords (hashed by Django) and the policies seqr's login_and_policies_required wants."""
    users = {}
    for entry in entries:
        username = _required(entry, "username", "user")
        user, _created = User.objects.get_or_create(username=username)
        user.email = entry.get("email", "")
        # is_staff makes a seqr data manager, who may view every project.
        user.is_staff = bool(entry.get("is_staff", False))
        user.is_superuser = bool(entry.get("is_superuser", False))
        if "password" in entry and not user.check_password(entry["password"]):
            user.set_password(entry["password"])
        user.save()
        UserPolicy.objects.update_or_create(
            user=user,
            defaults={
                "privacy_version": settings.SEQR_PRIVACY_VERSION,
                "tos_version": settings.SEQR_TOS_VERSION,
            },
        )
        users[username] = user
    return users


def seed_projects(entries: list[dict[str, Any]], users: dict[str, User]) -> None:
    """Projects created by their first collaborator, so seqr's own save() makes and fills the groups."""
    for entry in entries:
        guid = _required(entry, "guid", "project")
        collaborators = entry.get("collaborators") or []
        unknown = [name for name in collaborators if name not in users]
        if unknown or not collaborators:
            raise SeedError(f"project {guid} needs collaborators from the users list; unknown: {unknown}")
        project = Project.objects.filter(guid=guid).first()
        if project is None:
            project = Project(name=entry.get("name", guid), created_by=users[collaborators[0]])
            project.save()
            _set_guid(Project, project, guid)
        elif project.name != entry.get("name", guid):
            project.name = entry.get("name", guid)
            project.save()
        for name in collaborators:
            users[name].groups.add(project.can_view_group)


def seed_rows(seed: dict[str, Any]) -> None:
    """Families, individuals and IgvSample rows, each under the parent the document names."""
    for entry in seed.get("families", []):
        guid = _required(entry, "guid", "family")
        project = _by_guid(Project, _required(entry, "project", "family"), "project")
        family = Family.objects.filter(guid=guid).first()
        if family is None:
            family = Family.objects.create(project=project, family_id=_required(entry, "family_id", "family"))
            _set_guid(Family, family, guid)

    for entry in seed.get("individuals", []):
        guid = _required(entry, "guid", "individual")
        family = _by_guid(Family, _required(entry, "family", "individual"), "family")
        individual = Individual.objects.filter(guid=guid).first()
        if individual is None:
            individual = Individual.objects.create(
                family=family, individual_id=_required(entry, "individual_id", "individual")
            )
            _set_guid(Individual, individual, guid)

    sample_types = {choice for choice, _label in IgvSample.SAMPLE_TYPE_CHOICES}
    # seqr before 2024-08 (merge of PR 4272) has no IgvSample.index_file_path: igv.js then finds indexes
    # beside the file (x.bam.bai / x.bai, x.cram.crai), as the seed's fixtures are named.
    has_index_field = any(field.name == "index_file_path" for field in IgvSample._meta.get_fields())
    for entry in seed.get("igv_samples", []):
        guid = _required(entry, "guid", "IGV sample")
        sample_type = _required(entry, "sample_type", "IGV sample")
        if sample_type not in sample_types:
            raise SeedError(
                f"IGV sample {guid}: sample_type {sample_type!r} is not in {sorted(sample_types)}"
            )
        individual = _by_guid(Individual, _required(entry, "individual", "IGV sample"), "individual")
        values = {
            "file_path": _required(entry, "file_path", "IGV sample"),
            "sample_id": entry.get("sample_id"),
        }
        if has_index_field:
            values["index_file_path"] = entry.get("index_file_path")
        sample = IgvSample.objects.filter(guid=guid).first()
        if sample is None:
            sample = IgvSample.objects.create(individual=individual, sample_type=sample_type, **values)
            _set_guid(IgvSample, sample, guid)
        elif any(getattr(sample, field) != value for field, value in values.items()):
            for field, value in values.items():
                setattr(sample, field, value)
            sample.save()


def main() -> int:
    """Load the document named by SEQR_S3_SEED_FILE and apply it in one transaction."""
    path_text = os.environ.get(SEED_FILE_VARIABLE)
    if not path_text:
        print(f"{SEED_FILE_VARIABLE} must name the seed JSON document", file=sys.stderr)
        return 2
    path = Path(path_text)
    try:
        seed = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        print(f"cannot read seed document {path}: {e}", file=sys.stderr)
        return 2
    try:
        with transaction.atomic():
            users = seed_users(seed.get("users", []))
            seed_projects(seed.get("projects", []), users)
            seed_rows(seed)
    except SeedError as e:
        print(f"seed document {path}: {e}", file=sys.stderr)
        return 2
    counts = {
        "users": len(seed.get("users", [])),
        "projects": len(seed.get("projects", [])),
        "IGV samples": len(seed.get("igv_samples", [])),
    }
    print("seeded " + ", ".join(f"{count} {kind}" for kind, count in counts.items()))
    return 0


if __name__ == "__main__":
    status = main()
    if status:
        # `manage.py shell -c` ignores a script's return value; exiting makes a failed seed fail the task.
        sys.exit(status)
