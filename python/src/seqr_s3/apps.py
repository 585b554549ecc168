"""The Django app: adding ``"seqr_s3"`` to INSTALLED_APPS applies the patch once Django has loaded seqr."""

from __future__ import annotations

from django.apps import AppConfig


class SeqrS3Config(AppConfig):
    """Applies the patch in ready(), when every seqr module that binds file_utils names is importable."""

    name = "seqr_s3"
    verbose_name = "seqr S3 reads"

    def ready(self) -> None:
        """Register the system checks and patch seqr; problems are logged and reported by the checks."""
        from . import checks  # noqa: F401  (importing registers the checks)
        from .patch import apply_patch

        apply_patch()
