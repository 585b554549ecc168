"""seqr's login and project permission checks, as far as the IGV views use them.

Upstream: ``login_and_policies_required`` redirects an anonymous API call to ``/api/login-required-error``,
which answers 401 JSON; ``get_project_and_check_permissions`` loads the project (missing → 404) and raises
PermissionDenied (→ 403) unless the user may view it. The stand-in leaves out seqr's policy acceptance step.
"""

from __future__ import annotations

from typing import Any, Callable

from django.contrib.auth.decorators import login_required, user_passes_test
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied

from seqr.models import Project

API_LOGIN_REQUIRED_URL = "/api/login-required-error"


def _is_active(user: AbstractBaseUser) -> bool:
    return user.is_active


def login_and_policies_required(view_func: Callable, login_url: str = API_LOGIN_REQUIRED_URL) -> Callable:
    """Only logged-in, active users reach ``view_func``; others are redirected to the 401 JSON endpoint."""
    return login_required(user_passes_test(_is_active, login_url=login_url)(view_func), login_url=login_url)


def login_active_required(login_url: str) -> Callable[[Callable], Callable]:
    """Upstream's decorator for its pages: an anonymous visitor is redirected to ``login_url?next=<page>``."""

    def decorator(view_func: Callable) -> Callable:
        return login_and_policies_required(view_func, login_url=login_url)

    return decorator


def user_is_data_manager(user: Any) -> bool:
    return user.is_staff


def user_is_pm(user: Any) -> bool:
    # Upstream: members of PM_USER_GROUP, or superusers when no such group is set (the stand-in's case).
    return user.is_superuser


def has_project_permissions(project: Project, user: Any, can_edit: bool = False) -> bool:
    """True when ``user`` may view ``project``: a superuser, a data manager or a member of its view group."""
    if user.is_superuser or user_is_data_manager(user):
        return True
    if can_edit:
        return False
    return project.can_view_group_id is not None and user.groups.filter(id=project.can_view_group_id).exists()


def check_project_permissions(project: Project, user: Any, **kwargs: Any) -> None:
    if has_project_permissions(project, user, **kwargs):
        return
    raise PermissionDenied(f"{user} does not have sufficient permissions for {project}")


def get_project_and_check_permissions(project_guid: str, user: Any, **kwargs: Any) -> Project:
    """The project named ``project_guid`` (Project.DoesNotExist → 404), after checking ``user`` may see it."""
    project = Project.objects.get(guid=project_guid)
    check_project_permissions(project, user, **kwargs)
    return project
