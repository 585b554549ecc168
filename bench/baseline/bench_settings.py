"""Django settings of the benchmark's stand-in: the stand-in with seqr_s3 (tests/standin_settings_s3.py),
plus one extra route for the old-approach baseline (bench_urls). Used only by bench/."""

from standin_settings_s3 import *  # noqa: F403

ROOT_URLCONF = "bench_urls"

# Production seqr runs with DEBUG off (DEPLOYMENT_TYPE prod/dev); the stand-in's default (on) records every
# SQL query in memory. Cookies stay non-secure only because the benchmark speaks plain HTTP on loopback.
DEBUG = False
