"""The navigation guide's links lead somewhere: a guide that points at a missing page
sends a coordinator nowhere."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from pars.accounts.models import Role
from pars.testing import make_member, make_provider


@pytest.mark.django_db
def test_every_link_in_the_navigation_guide_opens(client: Client) -> None:
    client.force_login(make_member(make_provider(), role=Role.ADMIN))
    guide = client.get("/guide/")
    assert guide.status_code == 200
    text = guide.content.decode()
    for words in ("Sandbox", "Check the file only", "API changelog", "Learner Counts", "Inbox"):
        assert words in text
    links = set(re.findall(r'href="(/[^"#]*)"', text.split("<main", 1)[-1]))
    assert "/api/v1/changelog" in links
    broken = {link: client.get(link).status_code for link in sorted(links)}
    assert {link: code for link, code in broken.items() if code != 200} == {}
