"""A stand-in for seqr's React page: one HTML page served under seqr's CSP, setting the CSRF cookie.

Upstream's page carries the CSP nonce on its inline script and sets the ``csrf_token`` cookie the UI sends
back on POSTs (such as ``/api/login``); this page does the same without the React bundle.
"""

from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.utils.html import format_html

PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>seqr stand-in</title>
<script nonce="{nonce}">window.initialJSON = {{}};</script></head>
<body><div id="reactjs-root">seqr stand-in (tests only)</div></body></html>
"""


def main_app(request: HttpRequest) -> HttpResponse:
    get_token(request)  # makes CsrfViewMiddleware set the csrf_token cookie
    return HttpResponse(format_html(PAGE, nonce=request.csp_nonce))
