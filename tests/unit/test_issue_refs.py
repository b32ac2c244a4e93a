"""Finding the Jira keys and GitHub references a standup answer mentions."""

from bot.core.issue_refs import MAX_REFS, IssueRef, find_refs, link_line
from integrations.issues import IssueInfo

BOTH = {"jira", "github"}


def test_jira_keys_and_github_references_are_found_in_the_order_written():
    text = "Fixed ML-42 and reviewed acme/trainer#7; next: DATA_2-1300 (see acme/trainer#7 again)"
    assert find_refs([text], BOTH) == [
        IssueRef("jira", "ML-42"), IssueRef("github", "acme/trainer#7"), IssueRef("jira", "DATA_2-1300"),
    ]


def test_only_connected_kinds_are_looked_for():
    text = "ML-42 and acme/trainer#7"
    assert find_refs([text], {"github"}) == [IssueRef("github", "acme/trainer#7")]
    assert find_refs([text], {"jira"}) == [IssueRef("jira", "ML-42")]
    assert find_refs([text], set()) == []


def test_things_that_only_look_like_keys_are_not_references():
    text = ("utf-8 and UTF-8, a lr of 1e-4, gpt-4 weights, resnet-50, x86-64, step A-0, "
            "https://example.com/ML-42/x, see #12 alone, a/b#0, ISO-8601-ish")
    # UTF-8 has the shape of a Jira key: it is asked for, and shown only if the site has such an issue.
    assert find_refs([text], BOTH) == [IssueRef("jira", "UTF-8")]


def test_references_are_capped_per_answer():
    text = " ".join(f"ML-{n}" for n in range(1, 40))
    refs = find_refs([text, "ML-1 again"], BOTH)
    assert len(refs) == MAX_REFS and refs[0] == IssueRef("jira", "ML-1")


def test_a_link_line_keeps_long_titles_short():
    line = link_line(IssueInfo("ML-1", "t" * 500, "In Progress", "Alice", "https://x.atlassian.net/browse/ML-1"))
    assert len(line["title"]) == 150 and line["detail"] == "In Progress · Alice"
    assert link_line(IssueInfo("a/b#1", "Fix", "open"))["detail"] == "open"
