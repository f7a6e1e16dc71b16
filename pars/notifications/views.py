"""The inbox and the email choices: each user's own, nobody else's (another's item: 404)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from pars.accounts.models import User
from pars.notifications.models import Notification, kinds_for
from pars.notifications.services import (
    email_choices,
    mark_read,
    set_email_choices,
    unread_count,
    user_notifications,
)

PER_PAGE = 25


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


def _own(request: HttpRequest, pk: int) -> Notification:
    """The signed-in user's notification, or 404 (also for anyone else's)."""
    try:
        return user_notifications(_user(request)).get(pk=pk)
    except Notification.DoesNotExist:
        raise Http404("No such notification.") from None


@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    rows = user_notifications(user).select_related("provider")
    show = request.GET.get("show", "")
    if show == "unread":
        rows = rows.filter(read_at__isnull=True)
    page = Paginator(rows, PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "notifications/inbox.html",
        {"page": page, "show": show, "unread": unread_count(user)},
    )


@login_required
def read(request: HttpRequest, pk: int) -> HttpResponse:
    """Mark one read; ``open`` goes on to what it is about; htmx swaps the row only."""
    notification = _own(request, pk)  # first: anyone else's is 404 whatever the method
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    mark_read(Notification.objects.filter(pk=notification.pk))
    notification.refresh_from_db(fields=["read_at"])
    link = notification.link
    if request.POST.get("open") and link and url_has_allowed_host_and_scheme(link, None):
        return redirect(link)
    if request.htmx:  # type: ignore[attr-defined]
        unread = unread_count(_user(request))
        return render(request, "notifications/_item.html", {"n": notification, "unread": unread})
    return redirect("notifications:inbox")


@login_required
@require_POST
def read_all(request: HttpRequest) -> HttpResponse:
    count = mark_read(user_notifications(_user(request)))
    messages.success(request, f"Marked {count} notification{'s' if count != 1 else ''} read.")
    return redirect("notifications:inbox")


@login_required
def preferences(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    offered = kinds_for(user.is_staff)
    if request.method == "POST":
        set_email_choices(user, [kind for kind, _ in offered], request.POST.getlist("email"))
        messages.success(request, "Your email choices are saved.")
        return redirect("notifications:preferences")
    choices = email_choices(user)
    kinds = [(kind, label, choices[kind]) for kind, label in offered]
    return render(request, "notifications/preferences.html", {"kinds": kinds})
