"""Usage lines and `/ready help` text: the one statement of the `/ready` grammar (README
"Using it" shows examples of it)."""

from .types import RUNS_PER_PAGE

# Order matters: it is the order of the full help and of the grammar summary.
USAGE: dict[str, str] = {
    "connect": (
        "/ready connect <kind> <url> [as <name>] [key=<secret>]   kind: mlflow, wandb, comet, tensorboard\n"
        "/ready connect push [as <name>]\n"
        "/ready connect jira <site-url> key=<email>:<api-token>   (issue links in standups)\n"
        "/ready connect github [<api-url>] key=<token>   (issue links in standups)\n"
        "/ready connect   (opens a form, so the key stays out of the channel)"
    ),
    "track": "/ready track <conn>:<run-id> | <conn>:experiment/<name> [steps <n>]",
    "untrack": "/ready untrack <conn>:<ref>",
    "runs": "/ready runs [page <n>]",
    "stop": '/ready stop <conn>:<run-id> ["<reason>"]',
    "target": (
        "/ready target <metric> <op> <value> [on <conn>:<ref>] [for <n> evals]   op: >= > <= <\n"
        "/ready target remove <id>"
    ),
    "targets": "/ready targets",
    "review": (
        '/ready review "<title>" at <when> runs <ref>[,<ref>...] [lead <duration>]\n'
        "/ready review [runs <ref>,...]   (opens a form)\n"
        "/ready review cancel <id>"
    ),
    "reviews": "/ready reviews",
    "leaderboard": "/ready leaderboard [<metric>] [max|min] [on <conn>:experiment/<name>]",
    "decisions": (
        "/ready decisions [last <n>]\n"
        "/ready decisions edit <id>   (opens the form)\n"
        "/ready decisions remove <id>"
    ),
    "me": (
        "/ready me <tracker>:<username>   (tracker: a connection name or kind)\n"
        "/ready me remove <tracker>:<username>\n"
        "/ready me mentions on|off\n"
        "/ready me"
    ),
    "standup": "/ready standup at <HH:MM> [on <days>] | /ready standup now | /ready standup off",
    "digest": "/ready digest at <HH:MM> [on <days>] | /ready digest now | /ready digest off",
    "help": "/ready help [<command>]",
}

GRAMMAR = "\n".join(USAGE.values())

_SUMMARY = {
    "connect": "add a tracker connection (kind: mlflow, wandb, comet, tensorboard, push), or jira/github for standup links",
    "track": "watch one run, or every run of an experiment",
    "untrack": "stop watching a run or experiment",
    "runs": "runs tracked in this channel: state, progress, ETA, key metrics",
    "stop": "ask the run's tracker to stop it (W&B, MLflow, pushed runs), after a confirmation",
    "target": "alert the channel when a metric crosses a value; remove a target",
    "targets": "list this channel's targets",
    "review": "hold a results review until its runs have finished; cancel one",
    "reviews": "list upcoming reviews",
    "leaderboard": "this channel's best runs by a metric, with key params, step and the gap to the target",
    "decisions": "the decisions recorded on results reviews, with the metrics they rested on; edit or remove one",
    "me": "tell readybot which tracker usernames are you, so alerts about your runs mention you",
    "standup": "async standup prompts by DM on a schedule, now, or off",
    "digest": "a channel digest of the tracked runs on a schedule, now, or off",
    "help": "this help, or details on one command",
}

_DETAILS = {
    "connect": (
        "`<url>` is the tracker's http(s) address; W&B and Comet also take `default` for their cloud. "
        "TensorBoard takes an absolute log directory or a `file://` URL. Push takes no URL: your training "
        "code sends its runs to readybot with the token the reply gives. "
        "`<name>` defaults to the kind. Run `/ready connect` alone to enter the key in a private form. "
        "`jira` and `github` are issue trackers: once connected, a Jira key (`PROJ-123`) or a GitHub "
        "reference (`owner/repo#45`) in a standup answer is shown with its title and status. GitHub "
        "takes no URL for github.com, or a GitHub Enterprise API root.",
        "/ready connect mlflow https://mlflow.example.com as prod",
    ),
    "track": (
        "`<conn>` is a connection name; leave it out when the team has one connection. "
        'Quote experiment names with spaces: `experiment/"my exp"`. '
        "`steps <n>` gives the expected total steps, for the ETA.",
        "/ready track prod:3f2a9c steps 20000",
    ),
    "untrack": ("Takes the same reference as `track`.", "/ready untrack prod:experiment/ablations"),
    "runs": (f"Lists what this channel is tracking, {RUNS_PER_PAGE} runs a page (`page <n>` shows the next "
             "ones), with a Stop button on runs that can be stopped.", "/ready runs page 2"),
    "stop": (
        "Shows what stopping means on the run's tracker and a button to confirm. W&B stops the run at its "
        "next heartbeat; a pushed run is told in the answer to its next push; MLflow marks the run KILLED "
        "and tags it `readybot.stop_requested`, but the training process keeps running unless it checks "
        "that tag. Comet and TensorBoard runs cannot be stopped from Slack. Only whoever tracked the run "
        "here, its owner (see `/ready me`), or a workspace admin, can stop it.",
        '/ready stop prod:3f2a9c "reached the target"',
    ),
    "target": (
        "Metric names may contain letters, digits and `_ . / - :`. `for <n> evals` waits until the "
        "condition has held for n evaluations in a row (default 1). `<id>` is shown by `/ready targets`.",
        "/ready target val/acc >= 0.9 on prod:3f2a9c for 3 evals",
    ),
    "targets": ("Lists the targets of this channel with their ids, and the runs muted for one ("
                "*Mute for this run* on an \"unlikely to reach\" message; *Unmute* there undoes it).",
                "/ready targets"),
    "review": (
        "`<when>` is `YYYY-MM-DD HH:MM`, `today`/`tomorrow HH:MM` or a weekday like `fri 14:00` "
        "(2pm works too), in your Slack time zone. `lead` is how long before the review to check "
        "that its runs will be done (e.g. `2h`, `1h30m`, `1d`). A `<ref>` is a run, `<conn>:<run-id>`, or "
        "an experiment, `<conn>:experiment/<name>`: the review waits on the experiment's runs that are "
        "active when you schedule it (the reply names them). `/ready review` alone opens a form; "
        "`/ready review runs <ref>,...` opens it with those runs filled in.",
        '/ready review "Ablation results" at fri 14:00 runs prod:3f2a9c,prod:9c1d lead 2h',
    ),
    "reviews": ("Lists the upcoming reviews with their ids.", "/ready reviews"),
    "leaderboard": (
        "Ranks the runs tracked here by `<metric>`; leave it out when the channel has a target on one "
        "metric. Higher is better unless the channel's target on the metric says lower (`<=`, `<`) "
        "or you write `min` (or `max`). `on` ranks one watched experiment's runs only. The digest "
        "shows the top 3 and says when a new run took the lead.",
        "/ready leaderboard val_acc on prod:experiment/ablations",
    ),
    "decisions": (
        "Each results review offers *Record decision* (ship, continue training, stop, next experiment). "
        "This lists the newest decisions (5 unless `last <n>`, at most 20), with who decided, a link to "
        "the message and the metrics the runs had when it was made. The reply also gives the channel's "
        "export links (Markdown and CSV). `edit <id>` opens the form again to change the decision or its "
        "note (the runs and their metrics stay as recorded); `remove <id>` deletes it. Only whoever "
        "recorded a decision, or a workspace admin, can edit or remove it.",
        "/ready decisions last 10",
    ),
    "me": (
        "Runs name their owner as the tracker knows them (an MLflow user, a W&B username). Claim yours and "
        "readybot shows your runs as yours and mentions you when one fails, stalls or diverges. Owners that "
        "are emails find their Slack member by themselves where the workspace allows it. `mentions off` "
        "shows your name instead of notifying you. `/ready me` alone lists what you claimed. A username "
        "someone claimed is theirs until they (or a workspace admin) remove it.",
        "/ready me mlflow:alice",
    ),
    "standup": (
        "`<HH:MM>` is 24h in each member's time zone. `<days>`: `mon,wed,fri`, `mon-fri`, "
        "`weekdays`, `weekends` or `daily`; default Monday to Friday.",
        "/ready standup at 09:30 on mon-thu",
    ),
    "digest": (
        "`<HH:MM>` is 24h in the team's time zone; `<days>` as for standup, default Monday to Friday.",
        "/ready digest at 17:00 on weekdays",
    ),
    "help": ("Topics: " + ", ".join(USAGE) + ".", "/ready help review"),
}


def _escape(text: str) -> str:
    # Slack reads <...> as links and &... as entities, even inside code spans.
    # https://api.slack.com/reference/surfaces/formatting#escaping
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _code_lines(usage: str) -> str:
    return "\n".join(f"`{_escape(line)}`" for line in usage.splitlines())


def help_text(topic: str | None) -> str:
    """Slack mrkdwn: the whole grammar, or one command in detail (unknown topics get the whole)."""
    if topic not in USAGE:
        lines = [f"{_code_lines(usage)}\n      {_escape(_SUMMARY[name])}" for name, usage in USAGE.items()]
        return (
            "*`/ready` commands*\n"
            + "\n".join(lines)
            + "\nMore on one command: `/ready help &lt;command&gt;`"
        )
    details, example = _DETAILS[topic]
    return (
        f"*`/ready {topic}`*: {_escape(_SUMMARY[topic])}\n{_code_lines(USAGE[topic])}\n"
        f"{_escape(details)}\n*Example:* `{_escape(example)}`"
    )
