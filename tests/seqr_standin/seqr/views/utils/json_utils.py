"""seqr's JSON response helper (sorted keys, indented), used by every API view."""

from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.http import JsonResponse


def create_json_response(obj: Any, **kwargs: Any) -> JsonResponse:
    """Serialise ``obj`` the way seqr does; ``kwargs`` go to JsonResponse (status, reason)."""
    return JsonResponse(
        obj, json_dumps_params={"sort_keys": True, "indent": 4}, encoder=DjangoJSONEncoder, **kwargs
    )
