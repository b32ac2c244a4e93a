"""Property tests: `parse` never raises, whatever Slack sends, and run refs survive a round trip."""

from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.commands import USAGE, Command, ParseError, RunRef, Track, parse

FRAGMENTS = [
    *USAGE, "remove", "cancel", "now", "off", "at", "on", "for", "runs", "page", "lead", "steps", "as", "key=",
    "evals", '"', "“", "”", "&lt;", "&gt;", "&amp;", ">=", "<", "=>", ":", ",", "#", "-", "/",
    "experiment/", 'experiment/"', "mlflow:", "default", "https://", "file:///", "14:00", "2pm",
    "today", "tomorrow", "fri", "mon-fri", "2026-03-29", "1h30m", "nan", "inf", "1e999", "0", "9" * 30,
]  # fmt: skip
token = st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=12))
commandish = st.builds(
    lambda sub, parts, seps: sub + "".join(s + p for s, p in zip(seps, parts, strict=False)),
    st.sampled_from(list(USAGE)),
    st.lists(token, max_size=12),
    st.lists(st.sampled_from([" ", "", "  ", "\n", "\u00a0", ","]), min_size=12, max_size=12),
)


def assert_well_formed(result):
    assert isinstance(result, Command | ParseError)
    if isinstance(result, ParseError):
        assert result.message and result.usage


@settings(max_examples=500)
@given(st.text())
@example('"')
@example('track mlflow:experiment/"a" b"')
@example("\x1c\x1d track \x85 a")
def test_parse_never_raises_on_any_text(text):
    assert_well_formed(parse(text))


@settings(max_examples=1500)
@given(commandish)
def test_parse_never_raises_on_near_miss_commands(text):
    assert_well_formed(parse(text))


@given(st.sampled_from(list(USAGE)), st.sampled_from(["x", '"x ', "1,", "mon-", "9" * 5000, "&lt;" * 900]))
def test_parse_never_raises_on_huge_input(sub, filler):
    assert_well_formed(parse(f"{sub} {filler * (4000 // len(filler))}"))
    assert_well_formed(parse(f"{sub} {filler}" * 30))


_SMART = "“”„‟"
ref_char = st.characters(exclude_categories=("Cc", "Cs"), exclude_characters='",' + _SMART).filter(
    lambda c: not c.isspace()
)
name_char = st.characters(exclude_categories=("Cc", "Cs"), exclude_characters='"' + _SMART)
conn = st.none() | st.from_regex(r"[A-Za-z0-9_.-]{1,40}", fullmatch=True)


@st.composite
def run_refs(draw):
    conn_name = draw(conn)
    if draw(st.booleans()):
        name = draw(st.text(name_char, min_size=1, max_size=200).filter(lambda n: n == n.strip() and n))
        return RunRef(conn_name, name, True)
    ref = draw(st.text(ref_char, min_size=1, max_size=200))
    if ref.lower().startswith("experiment/") or (conn_name is None and ":" in ref):
        ref = "r" + ref.replace(":", "")  # not a plain run id in the grammar's terms
    return RunRef(conn_name, ref, False)


def slack_escape(text):
    # What Slack does to command text before sending it to us.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@settings(max_examples=500)
@given(run_refs())
@example(RunRef("mlflow", "my exp", True))
@example(RunRef(None, "a:b", True))
@example(RunRef("m", "steps", False))
@example(RunRef("m", "a, b", True))
def test_run_ref_round_trips_through_its_text(ref):
    assert parse(slack_escape(f"track {ref}")) == Track(ref, None)


@given(st.text(max_size=40))
def test_any_parsed_ref_prints_back_to_itself(text):
    parsed = parse(f"track {text}")
    if isinstance(parsed, Track):
        assert parse(slack_escape(f"track {parsed.target}")) == parsed
