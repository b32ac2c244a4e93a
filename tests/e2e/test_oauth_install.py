"""Multi-workspace mode: Bolt's OAuth install flow, with installations in our own database."""

from __future__ import annotations

import requests

from bot.server import Server
from bot.services import build_services
from tests.conftest import make_settings


def test_install_page_and_redirect_guard(store, fake_slack, clock):
    settings = make_settings(
        fake_slack, store.url, slack_bot_token=None, slack_client_id="111.222", slack_client_secret="shh"
    )
    services = build_services(settings, store=store, clock=clock)
    server = Server(services, port=0, host="127.0.0.1", scheduler=False).start()
    try:
        page = requests.get(server.url + "/slack/install", timeout=5, allow_redirects=False)
        assert page.status_code in (200, 302)
        location = page.headers.get("Location", "") + page.text
        assert "oauth/v2/authorize" in location and "client_id=111.222" in location
        assert "shh" not in location  # the client secret never leaves the server
        bad = requests.get(server.url + "/slack/oauth_redirect?code=x&state=forged", timeout=5)
        assert bad.status_code >= 400
    finally:
        server.stop()
