"""gunicorn settings of the seqr stand-in, mirroring upstream's deploy/docker/seqr/config/gunicorn_config.py.

Upstream binds 0.0.0.0:8000 with sync workers and a one-hour timeout; older installs bind a unix socket, so
the bind address (``unix:/path`` works too) and the worker count come from the environment here.
"""

import os

bind = os.environ.get("SEQR_STANDIN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("SEQR_STANDIN_WORKERS", "1"))
worker_class = "sync"
loglevel = "info"
timeout = 3600  # seconds, as upstream (gunicorn's default is 30)
errorlog = "-"  # logs to stderr
