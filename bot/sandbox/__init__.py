"""A local stand-in for Slack, for the test suite and `readybot demo`.

FakeSlack answers the Web API on a local port; SlackSender sends the bot signed requests the way
Slack does; block_kit_errors checks Block Kit limits before Slack would reject a message.
"""

from bot.notify.blockkit import block_kit_errors, view_errors

from .signed import SlackSender
from .slack_api import Call, FakeSlack

__all__ = ["Call", "FakeSlack", "SlackSender", "block_kit_errors", "view_errors"]
