"""WSGI entry point of the seqr stand-in, named and shaped like upstream's checkout-root wsgi.py."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings")

from django.core.wsgi import get_wsgi_application

application = get_wsgi_application()
