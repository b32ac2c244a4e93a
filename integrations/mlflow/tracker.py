"""MLflow tracking server: many runs per runs/search request.

Requests per call (N = runs, E = experiments on the server, all measured on MLflow 3.17):
- fetch_runs: ceil(N / BATCH_SIZE) runs/search, plus one experiments/search (ceil(E / 1000))
  on the first call, every CACHE_SECONDS, after an answer that contradicts the cached list
  (an empty list, a listed run of an unknown experiment), and when a ref is newly not found.
- list_runs: 1 experiments/get-by-name + ceil(runs / PAGE_SIZE) runs/search.
- metric_history: ceil(N / 100) get-history-bulk-interval; per-run get-history only when the
  bulk endpoint is missing (MLflow < 2.11) or sampled its answer (> 2,500 steps).
- check: 1 experiments/search.
- stop_run: 1 runs/log-batch (the stop tags) + 1 runs/update (status KILLED).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta

from requests.auth import HTTPBasicAuth

from integrations.base import ConnectionInfo, MalformedAnswer, MetricPoint, RunSnapshot, StopAsk, TrackerError
from integrations.http import TrackerHttp
from integrations.mlflow import history, search
from integrations.mlflow.translate import latest_per_step, snapshot
from integrations.shape import maybe_run, obj

# How long the experiment list (and the refs known to be absent) is trusted: a lagging or
# faulty answer hides a run for at most this long, at one experiments/search per period.
CACHE_SECONDS = 600.0
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
# Tags a stop from Slack sets on the run; training code that polls them (MlflowClient().get_run)
# can stop itself. MLflow has no way to tell a running process anything.
STOP_TAG, STOP_BY_TAG, STOP_REASON_TAG = "readybot.stop_requested", "readybot.stop_requested_by", "readybot.stop_reason"
MAX_TAG_VALUE = 5000  # MLflow's tag value limit (MAX_TAG_VAL_LENGTH) before 2.x widened it to 8000


class MlflowTracker:
    def __init__(
        self,
        conn: ConnectionInfo,
        http: TrackerHttp | None = None,
        *,
        batch_size: int = search.BATCH_SIZE,
        page_size: int = search.PAGE_SIZE,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.base_url = conn.url.rstrip("/")
        self.http = http or TrackerHttp(self.base_url)
        self.http.guard(conn.outbound)
        _authenticate(self.http, conn.secret)
        self.batch_size = batch_size
        self.page_size = page_size
        self._clock = clock
        self._experiments: dict[str, str] = {}  # id -> name, learned on first use
        self._experiments_until = -math.inf  # when the list above stops being trusted
        self._absent: set[str] = set()  # refs missing even after a fresh experiment list
        self._bulk_history = True  # cleared when the server lacks get-history-bulk-interval

    def check(self) -> None:
        """One small experiments/search: proves the URL serves the MLflow API and the credentials work."""
        try:
            body = self.http.post(search.API + "experiments/search", {"max_results": 1})
        except TrackerError as exc:
            if exc.status == 404:  # a web server, but no MLflow under this path
                raise TrackerError("no MLflow tracking API at this URL", permanent=True, status=404) from None
            raise
        # MLflow answers {"experiments": [...]} ({} when there are none); another JSON API that
        # answers 200 to anything (e.g. {"ok": false, ...}) is not a tracker.
        if not isinstance(body, dict) or (body and "experiments" not in body):
            raise TrackerError("no MLflow tracking API at this URL", permanent=True)

    def fetch_runs(self, refs: Sequence[str]) -> dict[str, RunSnapshot]:
        wanted = [ref for ref in dict.fromkeys(refs) if search.is_run_id(ref)]
        if not wanted:
            return {}
        fresh = self._clock() >= self._experiments_until
        if fresh:
            self._relist_experiments()
        found = self._search_ids(wanted, list(self._experiments))
        unfound = [ref for ref in wanted if ref not in found]
        if not fresh and any(ref not in self._absent for ref in unfound):
            # Maybe a run in an experiment created since we last looked: learn the new ids and
            # search only those. Refs still missing are remembered, so a deleted run does not
            # cost an experiments/search on every poll; the list expires after CACHE_SECONDS,
            # so a run a lagging answer hid is found again within that time.
            known = dict(self._experiments)
            self._relist_experiments()
            new = [eid for eid in self._experiments if eid not in known]
            found.update(self._search_ids(unfound, new))
        self._absent = {ref for ref in unfound if ref not in found}
        return found

    def _relist_experiments(self) -> None:
        """Learn the experiment ids again. An empty list contradicts any poll that asks for runs
        (a run lives in an experiment): it is never cached, so the next poll asks again
        instead of searching nothing for the life of the process."""
        listed = search.list_experiments(self.http)
        if not listed:
            self._experiments_until = -math.inf
            return
        self._experiments = listed
        self._experiments_until = self._clock() + CACHE_SECONDS

    def list_runs(self, experiment: str, since: datetime | None = None) -> list[RunSnapshot]:
        experiment_id = self._experiment_id(experiment)
        clauses = []
        if since is not None:
            clauses.append(f"attributes.start_time >= {_ceil_ms(since)}")
        if experiment_id not in self._experiments:
            # The cache contradicts the server: list experiments again on the next fetch.
            self._experiments_until = -math.inf
        runs = search.search_runs(self.http, [experiment_id], " AND ".join(clauses), self.page_size)
        names = {experiment_id: experiment}
        snapshots = (maybe_run("MLflow", snapshot, run, self.base_url, names) for run in runs)
        return [snap for snap in snapshots if snap is not None]

    def metric_history(
        self, refs: Sequence[str], key: str, start_step: int | None = None
    ) -> dict[str, list[MetricPoint]]:
        """Every requested ref is a key; a run without points (or unknown) maps to []."""
        wanted = list(dict.fromkeys(refs))
        result: dict[str, list[MetricPoint]] = {ref: [] for ref in wanted}
        for chunk in search.chunks([ref for ref in wanted if search.is_run_id(ref)], history.BULK_RUNS):
            points = self._bulk(chunk, key, start_step)
            if points is None:
                points = {ref: history.full_history(self.http, ref, key) for ref in chunk}
            for ref, run_points in points.items():
                kept = (p for p in run_points if start_step is None or p.step >= start_step)
                result[ref] = latest_per_step(kept)
        return result

    def stop_run(self, ask: StopAsk) -> None:
        """Tag the run (who asked and why, for training code that polls), then set its status
        KILLED with runs/update (https://mlflow.org/docs/latest/rest-api.html#update-run).
        MLflow only records this: the training process keeps running unless it reads the tag."""
        if not search.is_run_id(ask.ref):
            raise TrackerError(f"{ask.ref!r} is not an MLflow run id", permanent=True)
        tags = [{"key": STOP_TAG, "value": "true"}, {"key": STOP_BY_TAG, "value": ask.requested_by[:MAX_TAG_VALUE]}]
        if ask.reason:
            tags.append({"key": STOP_REASON_TAG, "value": ask.reason[:MAX_TAG_VALUE]})
        # https://mlflow.org/docs/latest/rest-api.html#log-batch: tags alone are a valid batch.
        self.http.post(search.API + "runs/log-batch", {"run_id": ask.ref, "tags": tags})
        update: dict[str, object] = {"run_id": ask.ref, "status": "KILLED"}
        if ask.at is not None:
            update["end_time"] = -(-(ask.at - _EPOCH) // _MS)
        self.http.post(search.API + "runs/update", update)

    def _search_ids(self, refs: Sequence[str], experiment_ids: Sequence[str]) -> dict[str, RunSnapshot]:
        found: dict[str, RunSnapshot] = {}
        for chunk in search.chunks(refs, self.batch_size):
            runs = search.search_runs(self.http, experiment_ids, search.run_id_filter(chunk), self.page_size)
            for run in runs:
                if snap := maybe_run("MLflow", snapshot, run, self.base_url, self._experiments):
                    found[snap.ref] = snap
        return found

    def _experiment_id(self, name: str) -> str:
        try:
            body = self.http.get(search.API + "experiments/get-by-name", {"experiment_name": name})
        except TrackerError as exc:
            if exc.status == 404:  # RESOURCE_DOES_NOT_EXIST
                raise TrackerError(f"no experiment named {name!r}", permanent=True, status=404) from None
            raise
        experiment = obj(body, "MLflow", "experiments/get-by-name").get("experiment")
        experiment_id = obj(experiment, "MLflow", "an experiment", missing_ok=False).get("experiment_id")
        if not isinstance(experiment_id, str | int):
            raise MalformedAnswer("MLflow answered experiments/get-by-name without an experiment_id")
        return str(experiment_id)

    def _bulk(
        self, chunk: Sequence[str], key: str, start_step: int | None
    ) -> Mapping[str, list[MetricPoint]] | None:
        if not self._bulk_history:
            return None
        try:
            return history.bulk_history(self.http, chunk, key, start_step)
        except TrackerError as exc:
            # Servers older than 2.11 answer 404 (an HTML page, or ENDPOINT_NOT_FOUND) here;
            # unknown runs never 404 on this endpoint, so a 404 means the endpoint is missing.
            if exc.status != 404:
                raise
            self._bulk_history = False
            return None


def _authenticate(http: TrackerHttp, secret: str | None) -> None:
    """A secret of the form user:password is HTTP Basic (mlflow server --app-name basic-auth);
    anything else is a bearer token (Databricks personal access tokens, reverse proxies)."""
    if not secret:
        return
    user, sep, password = secret.partition(":")
    if sep:
        http.session.auth = HTTPBasicAuth(user, password)
    else:
        http.session.headers["Authorization"] = f"Bearer {secret}"


def _ceil_ms(moment: datetime) -> int:
    # Round up: a run that started within the same millisecond but before `since` is excluded.
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return -(-(moment - _EPOCH) // _MS)
