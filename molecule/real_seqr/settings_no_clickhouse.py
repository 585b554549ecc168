"""seqr's own settings without its two ClickHouse database aliases, for running seqr's IGV API tests.

seqr's test cases declare ``databases = '__all__'``, so Django's test runner would connect to every alias,
ClickHouse included, although the IGV code never uses it. Pointing DJANGO_SETTINGS_MODULE at this module
(on PYTHONPATH, outside the checkout) drops those aliases for the test run only; seqr's files stay untouched,
and whatever the seqr_s3 role appended to settings.py is imported with the rest.
"""

from settings import *  # noqa: F403 -- all of seqr's settings, as seqr itself would see them
from settings import DATABASES

DATABASES = {alias: config for alias, config in DATABASES.items() if not alias.startswith("clickhouse")}
