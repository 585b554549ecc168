"""Settings of the seqr STAND-IN (tests only): the parts of upstream seqr's checkout-root settings.py that
seqr_s3 touches, with the names and values of upstream seqr's settings.py at commit c5f3572.

Like upstream, values can be changed only by editing this file or through environment variables read with
``os.environ.get``; INSTALLED_APPS is a static list. Nothing here knows about seqr_s3: the role (or a test
settings module doing ``from settings import *``) adds it, exactly as it would on a real seqr.
"""

import os
import secrets

BASE_DIR = os.path.dirname(os.path.abspath(__file__))

# Upstream also lists admin, guardian, anymail, notifications and social_django; the stand-in keeps seqr's own
# app labels and only the Django apps its views need.
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.messages",
    "django.contrib.sessions",
    "django.contrib.staticfiles",
    "seqr",
    "reference_data",
    "matchmaker",
    "panelapp",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.middleware.common.CommonMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "seqr.utils.middleware.JsonErrorMiddleware",
]

DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

ALLOWED_HOSTS = ["*"]

CSRF_COOKIE_NAME = "csrf_token"
CSRF_COOKIE_HTTPONLY = False
SESSION_COOKIE_AGE = 86400  # seconds in 1 day
X_FRAME_OPTIONS = "SAMEORIGIN"

# Content-Security-Policy exactly as upstream seqr writes it for django-csp 3.7.
CSP_INCLUDE_NONCE_IN = ["script-src", "style-src", "style-src-elem"]
CSP_FONT_SRC = ("https://fonts.gstatic.com", "data:", "'self'")
CSP_CONNECT_SRC = (
    "'self'",
    "https://gtexportal.org",
    "https://www.google-analytics.com",
    "https://igv.org",
    "https://storage.googleapis.com",
    "https://s3.amazonaws.com",
    "https://igv-genepattern-org.s3.amazonaws.com",
    "https://hgdownload.soe.ucsc.edu",  # used by IGV
    "https://reg.genome.network",
)
CSP_SCRIPT_SRC = ("'self'", "'unsafe-eval'", "https://www.googletagmanager.com")
CSP_IMG_SRC = ("'self'", "https://www.google-analytics.com", "https://storage.googleapis.com", "data:")
CSP_OBJECT_SRC = "'none'"
CSP_BASE_URI = "'none'"
# igv.js 2.10.5 injects four <style> elements that cannot carry a nonce, so seqr allows them by hash.
IGV_CSS_HASHES = (
    "'sha256-dUpUK4yXR60CNDI/4ZeR/kpSqQ3HmniKj/Z7Hw9ZNTA='",
    "'sha256-s8l0U2/BsebhfOvm08Z+4w1MnftmnPeoOMbSi+f5hCI='",
    "'sha256-T9widob1zmlNnk3NzLRUfXFToG7AkPTuLDXaKU2tc6c='",
    "'sha256-ITHmamcImsZ/Je1xrdtDLZVvRSpj1Zokb6uHXORB824='",
)
# Kept in upstream's exact form (tuple + IGV_CSS_HASHES): the role's settings block must find it so.
CSP_STYLE_SRC = ("https://fonts.googleapis.com", "'self'") + IGV_CSS_HASHES  # noqa: RUF005
CSP_STYLE_SRC_ELEM = ("https://fonts.googleapis.com", "'self'") + IGV_CSS_HASHES  # noqa: RUF005

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = os.path.join(BASE_DIR, "static")

# Upstream logs JSON to the console; plain console logging keeps the same destination (gunicorn's stderr).
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"level": "INFO", "class": "logging.StreamHandler"}},
    "loggers": {"": {"handlers": ["console"], "level": "INFO"}},
}

AUTHENTICATION_BACKENDS = ("django.contrib.auth.backends.ModelBackend",)

# Same order as upstream: the DJANGO_KEY variable, else a key file generated once in the checkout.
SECRET_KEY = os.environ.get("DJANGO_KEY")
if not SECRET_KEY:
    SECRET_FILE = os.path.join(BASE_DIR, "django_key")
    try:
        with open(SECRET_FILE) as f:
            SECRET_KEY = f.read().strip()
    except OSError:
        SECRET_KEY = secrets.token_urlsafe(50)
        with open(SECRET_FILE, "w") as f:
            f.write(SECRET_KEY)

ROOT_URLCONF = "seqr.urls"
LOGOUT_URL = "/logout"

# Upstream uses PostgreSQL; the stand-in keeps one SQLite file whose path the environment chooses.
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("SEQR_STANDIN_DB", os.path.join(BASE_DIR, "db.sqlite3")),
    }
}

WSGI_APPLICATION = "wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "DIRS": [],
        "OPTIONS": {
            "context_processors": [
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.request",
            ],
        },
    },
]

# As upstream: only the prod and dev deployments turn DEBUG off (and then cookies are HTTPS-only).
DEPLOYMENT_TYPE = os.environ.get("DEPLOYMENT_TYPE")
if DEPLOYMENT_TYPE in {"prod", "dev"}:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    DEBUG = False
else:
    DEBUG = True

BASE_URL = os.environ.get("BASE_URL", "http://localhost/")
CSRF_TRUSTED_ORIGINS = [BASE_URL]

API_LOGIN_REQUIRED_URL = "/api/login-required-error"
LOGIN_URL = "/login"
