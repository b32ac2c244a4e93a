from datetime import date, time, timedelta

import pytest

from bot.commands import (
    GRAMMAR,
    USAGE,
    Connect,
    ConnectModal,
    DigestAt,
    DigestNow,
    DigestOff,
    Help,
    Me,
    MeClaim,
    MeMentions,
    MeRemove,
    ParseError,
    ReviewAdd,
    ReviewCancel,
    ReviewList,
    ReviewModal,
    RunRef,
    Runs,
    StandupAt,
    StandupNow,
    StandupOff,
    Stop,
    TargetAdd,
    TargetList,
    TargetRemove,
    Track,
    Untrack,
    When,
    help_text,
    parse,
)

WORKWEEK = frozenset(range(5))
M1, M2 = RunRef("mlflow", "3f2a", False), RunRef("mlflow", "9c1d", False)
FRI_1430 = When(None, 4, None, time(14, 30))

GOOD = [
    # stop
    ("stop mlflow:3f2a", Stop(M1)),
    ('STOP mlflow:3f2a  "reached  the target"', Stop(M1, "reached the target")),
    # help
    ("", Help(None)),
    ("   ", Help(None)),
    ("help", Help(None)),
    ("HELP Track", Help("track")),
    ("help targets", Help("targets")),
    # connect
    ("connect", ConnectModal()),
    (
        "connect mlflow https://mlflow.example.com",
        Connect("mlflow", "https://mlflow.example.com", None, None),
    ),
    (
        "Connect MLflow http://10.0.0.5:5000/ as prod",
        Connect("mlflow", "http://10.0.0.5:5000/", "prod", None),
    ),
    ("connect wandb default as wb key=AbC123", Connect("wandb", "default", "wb", "AbC123")),
    ("connect comet DEFAULT", Connect("comet", "default", None, None)),
    ("connect wandb key=s3cr3t https://wandb.corp", Connect("wandb", "https://wandb.corp", None, "s3cr3t")),
    (
        "connect mlflow <https://m.example.com|m.example.com>",
        Connect("mlflow", "https://m.example.com", None, None),
    ),
    ("connect tensorboard /data/tb-logs as tb", Connect("tensorboard", "/data/tb-logs", "tb", None)),
    ("connect tensorboard file:///data/tb", Connect("tensorboard", "file:///data/tb", None, None)),
    ("connect push as ci-runs", Connect("push", "", "ci-runs", None)),
    ("connect push", Connect("push", "", None, None)),
    # track / untrack
    ("track mlflow:3f2a", Track(M1, None)),
    ("track 3f2a", Track(RunRef(None, "3f2a", False), None)),
    ("track Prod.EU:ABC:def", Track(RunRef("Prod.EU", "ABC:def", False), None)),
    ("track wandb:team/proj/run1 steps 20000", Track(RunRef("wandb", "team/proj/run1", False), 20000)),
    ("track mlflow:abc steps 9223372036854775807", Track(RunRef("mlflow", "abc", False), 2**63 - 1)),
    ("TRACK mlflow:3f2a STEPS 100_000", Track(M1, 100_000)),
    ("track mlflow:experiment/ablations", Track(RunRef("mlflow", "ablations", True), None)),
    ('track mlflow:experiment/"my exp"', Track(RunRef("mlflow", "my exp", True), None)),
    ('track mlflow:Experiment/"a, b"', Track(RunRef("mlflow", "a, b", True), None)),
    ("track experiment/x:y", Track(RunRef(None, "x:y", True), None)),
    ("untrack mlflow:3f2a", Untrack(M1)),
    # runs, targets, reviews
    ("runs", Runs()),
    ("runs page 2", Runs(2)),
    ("RUNS Page 10000", Runs(10_000)),
    ("Targets", TargetList()),
    ("reviews", ReviewList()),
    # target
    ("target val_acc >= 0.9", TargetAdd("val_acc", ">=", 0.9, None, 1)),
    ("target val_acc>=0.9", TargetAdd("val_acc", ">=", 0.9, None, 1)),
    ("target val_acc &gt;= 0.9", TargetAdd("val_acc", ">=", 0.9, None, 1)),
    ("target eval.loss&lt;0.25", TargetAdd("eval.loss", "<", 0.25, None, 1)),
    ("target val/acc >0.9 on mlflow:3f2a", TargetAdd("val/acc", ">", 0.9, M1, 1)),
    ("target loss <= -1e-3 for 3 evals", TargetAdd("loss", "<=", -0.001, None, 3)),
    ("target loss ≤ −2", TargetAdd("loss", "<=", -2.0, None, 1)),
    (
        "target eval:f1-macro> 0.5 for 1 eval on wandb:r1",
        TargetAdd("eval:f1-macro", ">", 0.5, RunRef("wandb", "r1"), 1),
    ),
    (
        "target acc >= 1 ON mlflow:experiment/base FOR 1000 evals",
        TargetAdd("acc", ">=", 1.0, RunRef("mlflow", "base", True), 1000),
    ),
    ("target remove 3", TargetRemove(3)),
    ("target remove #12", TargetRemove(12)),
    ("target remove >= 3", TargetAdd("remove", ">=", 3.0, None, 1)),
    # review
    ("review", ReviewModal()),
    ("review runs mlflow:3f2a, mlflow:9c1d", ReviewModal((M1, M2))),
    ("review cancel 4", ReviewCancel(4)),
    ("review cancel #4", ReviewCancel(4)),
    (
        'review "Ablation results" at fri 14:30 runs mlflow:3f2a',
        ReviewAdd("Ablation results", FRI_1430, (M1,), None),
    ),
    (
        "review “Ablation results” at Friday 2:30pm runs mlflow:3f2a,mlflow:9c1d lead 2h",
        ReviewAdd("Ablation results", FRI_1430, (M1, M2), timedelta(hours=2)),
    ),
    (
        'review "x" runs mlflow:3f2a , mlflow:9c1d lead 1h30m at 2026-04-01 09:00',
        ReviewAdd("x", When(date(2026, 4, 1), None, None, time(9)), (M1, M2), timedelta(minutes=90)),
    ),
    (
        'review "x" at tomorrow 9 am runs mlflow:3f2a lead 45 min',
        ReviewAdd("x", When(None, None, 1, time(9)), (M1,), timedelta(minutes=45)),
    ),
    (
        'review "x" at 12am today runs mlflow:3f2a,mlflow:3f2a lead 1d',
        ReviewAdd("x", When(None, None, 0, time(0)), (M1,), timedelta(days=1)),
    ),
    (
        'review "x" at 17:00 runs mlflow:3f2a lead 1 minute',
        ReviewAdd("x", When(None, None, 0, time(17)), (M1,), timedelta(minutes=1)),
    ),
    (
        'review "  two\n  lines " at sun 12pm runs a',
        ReviewAdd("two lines", When(None, 6, None, time(12)), (RunRef(None, "a"),), None),
    ),
    # standup / digest
    ("standup at 09:30", StandupAt(time(9, 30), WORKWEEK)),
    ("standup at 9:05 on mon,wed,fri", StandupAt(time(9, 5), frozenset({0, 2, 4}))),
    ("standup at 00:00 on mon, tue - thu", StandupAt(time(0), frozenset({0, 1, 2, 3}))),
    ("standup at 23:59 on fri-mon", StandupAt(time(23, 59), frozenset({4, 5, 6, 0}))),
    ("standup at 8am on weekends", StandupAt(time(8), frozenset({5, 6}))),
    ("standup now", StandupNow()),
    ("standup OFF", StandupOff()),
    ("digest at 17:00 on daily", DigestAt(time(17), frozenset(range(7)))),
    ("digest on every day at 17:00", DigestAt(time(17), frozenset(range(7)))),
    ("digest at 17:00 on weekdays", DigestAt(time(17), WORKWEEK)),
    ("digest at 17:00 on Sunday", DigestAt(time(17), frozenset({6}))),
    ("digest now", DigestNow()),
    ("digest off", DigestOff()),
]


@pytest.mark.parametrize(("text", "expected"), GOOD, ids=[t for t, _ in GOOD])
def test_parses(text, expected):
    assert parse(text) == expected


BAD = [
    # (text, fragments the message must contain, usage key or None for the whole grammar)
    ("trak mlflow:1", ["`trak` is not a /ready command", "did you mean `track`"], None),
    ("frobnicate", ["`frobnicate` is not a /ready command"], None),
    ("help trak", ["no help on `trak`", "connect, track"], "help"),
    ("help track now", ["unexpected `now`"], "help"),
    ("connect mlfow https://x", ["`mlfow` is not a tracker kind", "did you mean `mlflow`"], "connect"),
    ("connect mlflow", ["missing the URL after `mlflow`"], "connect"),
    ("connect mlflow ftp://x", ["`ftp://x` is not an http(s) URL"], "connect"),
    ("connect mlflow http://", ["is not an http(s) URL"], "connect"),
    ("connect mlflow http://[::1", ["is not an http(s) URL"], "connect"),
    ("connect mlflow default", ["`default` is not an http(s) URL"], "connect"),
    ("connect tensorboard ./logs", ["`./logs` is not an absolute path"], "connect"),
    ("connect tensorboard file://host/logs", ["is not an absolute path"], "connect"),
    ("connect mlflow https://x as bad/name", ["`bad/name` is not a connection name"], "connect"),
    ("connect mlflow https://x as " + "n" * 41, ["is not a connection name"], "connect"),
    ("connect mlflow https://x as", ["missing a name after `as`"], "connect"),
    ("connect mlflow https://x key=a key=b", ["`key=` is given twice"], "connect"),
    ("connect mlflow https://x key=", ["missing the secret"], "connect"),
    ("connect mlflow https://x extra", ["unexpected `extra`"], "connect"),
    ("track", ["missing a run after `track`"], "track"),
    ("track mlflow:", ["missing the run id after `mlflow:`"], "track"),
    ("track :abc", ["missing the connection name"], "track"),
    ("track my/conn:abc", ["`my/conn` is not a connection name"], "track"),
    ("track mlflow:experiment/", ["missing the experiment name"], "track"),
    ('track mlflow:experiment/"  "', ["missing the experiment name"], "track"),
    ('track mlflow:"abc"', ["quotes are only allowed around experiment names"], "track"),
    ("track mlflow:“abc”", ["quotes are only allowed around experiment names"], "track"),
    ("track mlflow:a,b", ["contains a comma"], "track"),
    ("track mlflow:abc steps", ["missing the number after `steps`"], "track"),
    ("track mlflow:abc steps 0", ["`0` is not a step count"], "track"),
    ("track mlflow:abc steps lots", ["`lots` is not a step count"], "track"),
    ("track mlflow:abc steps 9223372036854775808", ["is not a step count", "9,223,372,036,854,775,807"], "track"),
    ("track mlflow:abc steps 99999999999999999999999", ["is not a step count"], "track"),
    ("track mlflow:abc mlflow:def", ["unexpected `mlflow:def`"], "track"),
    ('track mlflow:experiment/"open', ["double quote is not closed"], "track"),
    ("untrack", ["missing a run after `untrack`"], "untrack"),
    ("runs now", ["unexpected `now` at the end"], "runs"),
    ("runs page", ["missing the page number after `page`"], "runs"),
    ("runs page 0", ["`0` is not a page number", "1 to 10,000"], "runs"),
    ("runs page two", ["`two` is not a page number"], "runs"),
    ("runs page 10001", ["`10001` is not a page number"], "runs"),
    ("runs page 2 3", ["unexpected `3` at the end"], "runs"),
    ("targets all", ["unexpected `all`"], "targets"),
    ("target", ["missing `<metric> <op> <value>`"], "target"),
    ("target val_acc >=< 0.9", ["`>=<` is not a comparison; use one of >= > <= <"], "target"),
    ("target val_acc == 0.9", ["`==` is not a comparison"], "target"),
    ("target val_acc => 0.9", ["`=>` is not a comparison"], "target"),
    ("target val_acc 0.9", ["missing the comparison after `val_acc`"], "target"),
    ("target val acc >= 0.9", ["metric names cannot contain spaces"], "target"),
    (">= 0.9", ["is not a /ready command"], None),
    ("target >= 0.9", ["missing the metric name"], "target"),
    ("target val_acc >=", ["missing the value after `>=`"], "target"),
    ("target val_acc >= nan", ["finite number", "`nan`"], "target"),
    ("target val_acc >= inf", ["finite number", "`inf`"], "target"),
    ("target val_acc >= -Infinity", ["finite number"], "target"),
    ("target val_acc >= 1e999", ["finite number"], "target"),
    ("target val_acc >= high", ["`high` is not a number"], "target"),
    ("target val_acc >= 0.9 0.8", ["unexpected `0.8`"], "target"),
    ("target val#acc >= 0.9", ["`val#acc` is not a metric name"], "target"),
    ("target acc >= 0.9 for 0 evals", ["1 to 1000 evals", "`0`"], "target"),
    ("target acc >= 0.9 for 1001 evals", ["1 to 1000 evals"], "target"),
    ("target acc >= 0.9 for 3 steps", ["expected `for <n> evals`"], "target"),
    ("target acc >= 0.9 for", ["missing the count after `for`"], "target"),
    ("target acc >= 0.9 on", ["missing a run after `on`"], "target"),
    ("target acc >= 0.9 on a:1 on b:2", ["`on` is given twice"], "target"),
    ("target remove", ["missing the id after `target remove`"], "target"),
    ("target remove x", ["`x` is not an id"], "target"),
    ("target remove #0", ["`#0` is not an id"], "target"),
    ('review "x" at fri 14:00', ["missing `runs"], "review"),
    ('review "x" runs a', ["missing `at <when>`"], "review"),
    (
        "review Ablation results at fri 14:00 runs a",
        ["put the title in double quotes", '"Ablation results"'],
        "review",
    ),
    ('review "" at fri 14:00 runs a', ["the title is empty"], "review"),
    ('review "' + "t" * 151 + '" at fri 14:00 runs a', ["title is too long", "151"], "review"),
    ('review "x" junk at fri 14:00 runs a', ["unexpected `junk`"], "review"),
    ('review "x" at at fri', ["`at` is given twice"], "review"),
    ('review "x" at someday 14:00 runs a', ["`someday` is not a day"], "review"),
    ('review "x" at fri runs a', ["missing the time after `fri`"], "review"),
    ('review "x" at fri 25:00 runs a', ["`25:00` is not a time of day"], "review"),
    ('review "x" at fri 13pm runs a', ["`13pm` is not a time of day"], "review"),
    ('review "x" at fri noonish runs a', ["`noonish` is not a time"], "review"),
    ('review "x" at 2026-02-30 10:00 runs a', ["`2026-02-30` is not a date on the calendar"], "review"),
    ('review "x" at fri 14:00 later runs a', ["unexpected `later`"], "review"),
    ('review "x" at fri 14:00 runs a b', ["separate runs with commas"], "review"),
    ('review "x" at fri 14:00 runs a,,b', ["empty entry"], "review"),
    ('review "x" at fri 14:00 runs a,', ["empty entry"], "review"),
    ('review "x" at fri 14:00 runs', ["missing the runs after `runs`"], "review"),
    ('review "x" at fri 14:00 runs a lead 30s', ["`30s` is not a duration"], "review"),
    ('review "x" at fri 14:00 runs a lead 1.5h', ["is not a duration"], "review"),
    ('review "x" at fri 14:00 runs a lead 8d', ["between 1 minute and 7 days"], "review"),
    ('review "x" at fri 14:00 runs a lead 0m', ["between 1 minute and 7 days"], "review"),
    ('review "x" at fri 14:00 runs a lead', ["missing the duration after `lead`"], "review"),
    ("review cancel", ["missing the id after `review cancel`"], "review"),
    ("review cancel 1 2", ["unexpected `2`"], "review"),
    ("standup", ["missing `at <HH:MM>`, `now` or `off`"], "standup"),
    ("standup at", ["missing the time after `at`"], "standup"),
    ("standup at 24:00", ["`24:00` is not a time of day", "00:00 to 23:59"], "standup"),
    ("standup at 9:60", ["`9:60` is not a time of day"], "standup"),
    ("standup at 9.30", ["`9.30` is not a time"], "standup"),
    ("standup at 9:30 10:30", ["unexpected `10:30`"], "standup"),
    ("standup at 9:30 on", ["missing the days after `on`"], "standup"),
    ("standup at 9:30 on mon-funday", ["`funday` is not a day of the week"], "standup"),
    ("standup on mon", ["missing `at <HH:MM>`"], "standup"),
    ("standup daily", ["expected `at <HH:MM>`, `now` or `off`", "`daily`"], "standup"),
    ("standup now please", ["unexpected `please`"], "standup"),
    ("digest at 9:30 on tuesdays", ["`tuesdays` is not a day of the week"], "digest"),
    ("stop", ["missing a run after `stop`"], "stop"),
    ("stop mlflow:experiment/sweep", ["one run, not an experiment"], "stop"),
    ("stop mlflow:3f2a reached the target", ["put the reason in double quotes", '"reached the target"'], "stop"),
    ('stop mlflow:3f2a "why" again', ["unexpected `again`"], "stop"),
    ('stop mlflow:3f2a "' + "r" * 201 + '"', ["reason is too long", "201"], "stop"),
]


@pytest.mark.parametrize(("text", "fragments", "usage_key"), BAD, ids=[t[:60] for t, _, _ in BAD])
def test_rejects(text, fragments, usage_key):
    result = parse(text)
    assert isinstance(result, ParseError), result
    for fragment in fragments:
        assert fragment in result.message
    assert result.usage == (GRAMMAR if usage_key is None else USAGE[usage_key])


@pytest.mark.parametrize(
    "text",
    [
        "connect mlflow https://x key=TOPSECRET extra",
        "connect mlflow ftp://x key=TOPSECRET",
        "connect x key=TOPSECRET",
    ],
)
def test_secrets_never_echoed(text):
    result = parse(text)
    assert isinstance(result, ParseError)
    assert "TOPSECRET" not in result.message


def test_connect_repr_hides_key():
    command = parse("connect mlflow https://x key=TOPSECRET")
    assert command == Connect("mlflow", "https://x", None, "TOPSECRET")
    assert "TOPSECRET" not in repr(command) and "TOPSECRET" not in str(command)


def test_oversized_input_is_rejected_cheaply():
    result = parse("track " + "a" * 100_000)
    assert isinstance(result, ParseError)
    assert "too long" in result.message
    assert result.usage == USAGE["track"]


def test_echoed_input_is_short_and_cannot_break_code_spans():
    result = parse("target x >= `" + "9" * 200)
    assert isinstance(result, ParseError)
    assert len(result.message) < 120
    assert result.message.count("`") % 2 == 0


def test_usage_covers_every_subcommand():
    assert set(USAGE) == {
        "connect", "track", "untrack", "runs", "stop", "target", "targets",
        "review", "reviews", "leaderboard", "decisions", "me", "standup", "digest", "help",
    }  # fmt: skip
    assert all(line.startswith("/ready ") for usage in USAGE.values() for line in usage.splitlines())


def test_help_text_lists_every_command_escaped_for_slack():
    text = help_text(None)
    for name in USAGE:
        assert f"/ready {name}" in text
    assert "<" not in text and "&lt;metric&gt;" in text


@pytest.mark.parametrize("topic", list(USAGE))
def test_help_text_for_each_topic_has_an_example(topic):
    text = help_text(topic)
    assert text.startswith(f"*`/ready {topic}`*")
    assert "*Example:*" in text


def test_help_text_unknown_topic_falls_back_to_everything():
    assert help_text("nope") == help_text(None)


def test_when_requires_exactly_one_day_field():
    with pytest.raises(ValueError):
        When(None, None, None, time(9))
    with pytest.raises(ValueError):
        When(date(2026, 1, 1), 4, None, time(9))


@pytest.mark.parametrize("text, expected", [
    ("me", Me()),
    ("me prod:alice", MeClaim("prod", "alice")),
    ('me wandb:"Alice  Smith"', MeClaim("wandb", "Alice Smith")),
    ("me mlflow:alice@example.com", MeClaim("mlflow", "alice@example.com")),
    ("me remove prod:alice", MeRemove("prod", "alice")),
    ("me mentions OFF", MeMentions(False)),
    ("me mentions on", MeMentions(True)),
])
def test_me_forms(text, expected):
    assert parse(text) == expected


@pytest.mark.parametrize("text", ["me alice", "me :alice", "me prod:", "me bad/name:alice", "me prod:a b",
                                  "me mentions", "me mentions loud", "me remove", "me prod:alice more",
                                  'me prod:"al"ice"', "me prod:" + "x" * 201])
def test_me_refusals_say_what_is_wrong_and_show_the_usage(text):
    result = parse(text)
    assert isinstance(result, ParseError) and result.message, text
    assert "/ready me <tracker>:<username>" in result.usage
