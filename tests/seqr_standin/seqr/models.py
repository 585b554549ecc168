"""The models behind IGV tracks, with the names and fields of upstream seqr's seqr/models.py (commit c5f3572).

Upstream grants access with django-guardian object permissions on the groups a Project points to; the stand-in
keeps the group (``can_view_group``) and checks membership directly, which gives the same answers for viewing.
"""

import secrets

from django.contrib.auth.models import Group
from django.db import models


class ModelWithGUID(models.Model):
    """seqr's base model: every row has a unique, URL-safe ``guid`` that the API uses instead of the id."""

    GUID_PREFIX = ""

    guid = models.CharField(max_length=30, db_index=True, unique=True)

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        # seqr derives guids at creation; any unique value of the same shape serves the stand-in.
        if not self.guid:
            self.guid = f"{self.GUID_PREFIX}{secrets.token_hex(8)}"
        super().save(*args, **kwargs)


class Project(ModelWithGUID):
    GUID_PREFIX = "R"

    name = models.TextField()
    can_view_group = models.ForeignKey(Group, null=True, blank=True, on_delete=models.SET_NULL)

    def __str__(self) -> str:
        return self.name


class Family(ModelWithGUID):
    GUID_PREFIX = "F"

    project = models.ForeignKey(Project, on_delete=models.PROTECT)
    family_id = models.CharField(max_length=100)

    def __str__(self) -> str:
        return self.family_id


class Individual(ModelWithGUID):
    GUID_PREFIX = "I"

    family = models.ForeignKey(Family, on_delete=models.PROTECT)
    individual_id = models.TextField()

    def __str__(self) -> str:
        return self.individual_id


class IgvSample(ModelWithGUID):
    GUID_PREFIX = "S"

    SAMPLE_TYPE_ALIGNMENT = "alignment"
    SAMPLE_TYPE_COVERAGE = "wig"
    SAMPLE_TYPE_JUNCTION = "spliceJunctions"
    SAMPLE_TYPE_GCNV = "gcnv"
    SAMPLE_TYPE_CHOICES = (
        (SAMPLE_TYPE_ALIGNMENT, "Bam/Cram"),
        (SAMPLE_TYPE_COVERAGE, "RNAseq Coverage"),
        (SAMPLE_TYPE_JUNCTION, "RNAseq Junction"),
        (SAMPLE_TYPE_GCNV, "gCNV"),
    )
    # The suffixes update_individual_igv_sample accepts for each type, as upstream.
    SAMPLE_TYPE_FILE_EXTENSIONS = {
        SAMPLE_TYPE_ALIGNMENT: ("bam", "cram"),
        SAMPLE_TYPE_COVERAGE: ("bigWig",),
        SAMPLE_TYPE_JUNCTION: ("junctions.bed.gz",),
        SAMPLE_TYPE_GCNV: ("bed.gz",),
    }

    individual = models.ForeignKey(Individual, on_delete=models.PROTECT)
    sample_type = models.CharField(max_length=15, choices=SAMPLE_TYPE_CHOICES)
    file_path = models.TextField()
    index_file_path = models.TextField(null=True, blank=True)
    sample_id = models.TextField(null=True)

    class Meta:
        unique_together = ("individual", "sample_type")

    def __str__(self) -> str:
        return self.file_path
