"""``manage.py standin_seed <file.json>``: create the stand-in's users, projects and IGV rows, idempotently.

The JSON document (every list optional)::

    {"users": [{"username": "u1", "email": "u1@example.org", "password": "...", "is_superuser": false}],
     "projects": [{"guid": "R0001_p1", "name": "Project 1", "collaborators": ["u1"]}],
     "families": [{"guid": "F0001", "project": "R0001_p1", "family_id": "fam1"}],
     "individuals": [{"guid": "I0001", "family": "F0001", "individual_id": "NA12878"}],
     "igv_samples": [{"guid": "S0001", "individual": "I0001", "sample_type": "alignment",
                      "file_path": "s3://bucket/reads/x.bam", "index_file_path": null, "sample_id": null}]}

Rows are matched by username or guid and updated in place: a second run changes nothing.
A project's collaborators become the members of its view group (how seqr grants read access).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from seqr.models import Family, IgvSample, Individual, Project

SAMPLE_TYPES = {choice for choice, _label in IgvSample.SAMPLE_TYPE_CHOICES}


def _required(entry: dict, key: str, kind: str) -> Any:
    if not entry.get(key):
        raise CommandError(f"every {kind} needs a non-empty {key!r}: {entry!r}")
    return entry[key]


class Command(BaseCommand):
    help = "Create or update stand-in users, projects, families, individuals and IgvSample rows from JSON."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("seed_file", help="path of the JSON seed document")

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["seed_file"])
        try:
            seed = json.loads(path.read_text(encoding="utf-8"))
        except OSError as e:
            raise CommandError(f"cannot read seed file {path}: {e.strerror}") from e
        except json.JSONDecodeError as e:
            raise CommandError(f"seed file {path} is not valid JSON: {e}") from e
        if not isinstance(seed, dict):
            raise CommandError(f"seed file {path} must hold a JSON object")
        with transaction.atomic():
            counts = self._seed(seed)
        self.stdout.write("seeded " + ", ".join(f"{n} {kind}" for kind, n in counts.items()))

    def _seed(self, seed: dict) -> dict:
        for entry in seed.get("users", []):
            user, _ = User.objects.get_or_create(username=_required(entry, "username", "user"))
            user.email = entry.get("email", "")
            user.is_superuser = bool(entry.get("is_superuser", False))
            user.is_staff = bool(entry.get("is_staff", False))
            if "password" in entry:
                user.set_password(entry["password"])  # hashed: the JSON's plain text never reaches the DB
            user.save()

        for entry in seed.get("projects", []):
            guid = _required(entry, "guid", "project")
            group, _ = Group.objects.get_or_create(name=f"{guid}_can_view")
            Project.objects.update_or_create(
                guid=guid, defaults={"name": entry.get("name", guid), "can_view_group": group}
            )
            members = []
            for username in entry.get("collaborators", []):
                try:
                    members.append(User.objects.get(username=username))
                except User.DoesNotExist as e:
                    raise CommandError(f"project {guid}: unknown collaborator {username!r}") from e
            group.user_set.set(members)

        for entry in seed.get("families", []):
            guid = _required(entry, "guid", "family")
            project = self._get(Project, _required(entry, "project", "family"), f"family {guid}")
            Family.objects.update_or_create(
                guid=guid, defaults={"project": project, "family_id": entry.get("family_id", guid)}
            )

        for entry in seed.get("individuals", []):
            guid = _required(entry, "guid", "individual")
            family = self._get(Family, _required(entry, "family", "individual"), f"individual {guid}")
            Individual.objects.update_or_create(
                guid=guid, defaults={"family": family, "individual_id": entry.get("individual_id", guid)}
            )

        for entry in seed.get("igv_samples", []):
            guid = _required(entry, "guid", "IGV sample")
            individual = self._get(
                Individual, _required(entry, "individual", "IGV sample"), f"IGV sample {guid}"
            )
            sample_type = _required(entry, "sample_type", "IGV sample")
            if sample_type not in SAMPLE_TYPES:
                raise CommandError(f"IGV sample {guid}: sample_type must be one of {sorted(SAMPLE_TYPES)}")
            IgvSample.objects.update_or_create(
                guid=guid,
                defaults={
                    "individual": individual,
                    "sample_type": sample_type,
                    "file_path": _required(entry, "file_path", "IGV sample"),
                    "index_file_path": entry.get("index_file_path"),
                    "sample_id": entry.get("sample_id"),
                },
            )

        return {
            kind: len(seed.get(kind, []))
            for kind in ("users", "projects", "families", "individuals", "igv_samples")
        }

    @staticmethod
    def _get(model: type, guid: str, who: str) -> Any:
        try:
            return model.objects.get(guid=guid)
        except model.DoesNotExist as e:
            raise CommandError(f"{who}: no {model.__name__} with guid {guid!r}") from e
