"""The ``flask indox-media`` commands."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Any

import click
from flask.cli import AppGroup

from .exceptions import ConfigurationError, IndoxMediaError, InvalidKeyPartError
from .ops import backend as backend_ops
from .ops import bucket_rules
from .ops.backfill import backfill
from .ops.doctor import checks
from .ops.sweep import sweep
from .ops.users import erase_user, export_user
from .ops.worker import WorkerOptions, build_worker, metrics_server, run
from .state import current_state
from .storage.base import BucketRules
from .write_backend import REFRESH_SECONDS

cli = AppGroup(
    "indox-media", help="flask-indox-media: mirror workers and storage operations."
)


def _dumps(document: Any) -> str:
    return json.dumps(document, indent=2, default=str)


@cli.command("worker")
@click.option(
    "--queues",
    "queues",
    multiple=True,
    metavar="NAMES",
    help="Further queues to work too, repeatable or comma-separated, in priority "
    "order; the extension's queue comes first unless listed.",
)
@click.option("--name", help="The worker's name (default: a unique one).")
@click.option(
    "--max-jobs", type=click.IntRange(min=1), help="Exit after this many jobs."
)
@click.option(
    "--logging-level",
    default="INFO",
    show_default=True,
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
)
@click.option(
    "--worker-class",
    default="flask_indox_media.worker.IndoxWorker",
    show_default=True,
    help="Dotted path of an RQ worker class (IndoxForkingWorker: a fork per job).",
)
@click.option(
    "--with-scheduler/--without-scheduler",
    default=True,
    show_default=True,
    help="Also run RQ's scheduler, which the retries with intervals need.",
)
@click.option("--burst", is_flag=True, help="Drain the queues, then exit.")
@click.option(
    "--metrics-port",
    type=click.IntRange(min=1, max=65535),
    help="Serve the Prometheus metrics of this worker's jobs on this port.",
)
def worker(
    queues: tuple[str, ...],
    name: str | None,
    max_jobs: int | None,
    logging_level: str,
    worker_class: str,
    with_scheduler: bool,
    burst: bool,
    metrics_port: int | None,
) -> None:
    """Run an RQ worker in the app's context on the mirror queue (and the
    host's own queues), with the scheduler, so retries with intervals run."""
    options = WorkerOptions(
        queues=queues,
        name=name,
        worker_class=worker_class,
        max_jobs=max_jobs,
        logging_level=logging_level.upper(),
        with_scheduler=with_scheduler,
        burst=burst,
    )
    try:
        rq_worker = build_worker(current_state(), options)
        with metrics_server(metrics_port) as metrics_dir:
            click.echo(
                f"indox-media worker {rq_worker.name} on "
                f"{', '.join(rq_worker.queue_names())}"
                + (f"; metrics on :{metrics_port}" if metrics_port else "")
                + (f" (PROMETHEUS_MULTIPROC_DIR={metrics_dir})" if metrics_dir else "")
            )
            run(rq_worker, options)
    except ConfigurationError as exc:
        raise click.ClickException(str(exc)) from None


class Progress:
    """Progress of a long run: one updating line on a terminal, plain lines
    (every ``every`` items) otherwise."""

    def __init__(self, label: str, every: int = 1000) -> None:
        self.label = label
        self.every = every
        self.count = 0
        self._tty = sys.stdout.isatty()
        self._shown = 0

    def __call__(self, n: int) -> None:
        self.count += n
        if self.count - self._shown >= (1 if self._tty else self.every):
            self._shown = self.count
            if self._tty:
                click.echo(f"\r{self.label}: {self.count:,}", nl=False)
            else:
                click.echo(f"{self.label}: {self.count:,}")

    def done(self) -> None:
        if self._tty and self._shown:
            click.echo()


def _rules_names(backend: str | None) -> list[str]:
    backends = current_state().catalog.backends
    names = (
        [backend]
        if backend
        else [n for n, b in backends.items() if isinstance(b, BucketRules)]
    )
    if not names:
        raise click.ClickException(
            "no S3 or R2 backend is configured (the local backend has no bucket rules)"
        )
    return names


def _print_plan(name: str, plan: bucket_rules.Plan, what: str, source: str) -> None:
    if plan.in_sync:
        click.echo(f"{name}: {what} match {source} ({len(plan.desired)} rule(s))")
        return
    for label, ids in (
        ("add", plan.added),
        ("change", plan.changed),
        ("remove", plan.removed),
    ):
        for rule_id in ids:
            click.echo(f"{name}: {label} {rule_id}")
    for rule_id in plan.kept:
        click.echo(f"{name}: keep {rule_id} (not ours)")


def _bucket_rules(
    kind: str, source: str, fn: Any, action: str, backend: str | None, dry_run: bool
) -> None:
    for name in _rules_names(backend):
        plan = fn(current_state(), name, apply=action == "apply" and not dry_run)
        if action == "show":
            click.echo(_dumps({"backend": name, "rules": plan.current}))
        else:
            _print_plan(name, plan, kind, source)
            if action == "apply" and not plan.in_sync:
                click.echo(
                    f"{name}: {'would write' if dry_run else 'written'} ({len(plan.merged)} rule(s))"
                )


@cli.command("lifecycle")
@click.argument("action", type=click.Choice(["show", "plan", "apply"]))
@click.option("--backend", help="One backend (default: every S3/R2 backend).")
@click.option(
    "--dry-run", is_flag=True, help="With apply: print the plan, write nothing."
)
def lifecycle_command(action: str, backend: str | None, dry_run: bool) -> None:
    """Bucket lifecycle rules from the retention table: one per expiring prefix,
    none for permanent ones, incomplete multipart uploads aborted after a day.
    apply keeps rules the extension does not own."""
    _bucket_rules(
        "lifecycle rules",
        "the retention table",
        bucket_rules.lifecycle,
        action,
        backend,
        dry_run,
    )


@cli.command("cors")
@click.argument("action", type=click.Choice(["show", "plan", "apply"]))
@click.option("--backend", help="One backend (default: every S3/R2 backend).")
@click.option(
    "--dry-run", is_flag=True, help="With apply: print the plan, write nothing."
)
def cors_command(action: str, backend: str | None, dry_run: bool) -> None:
    """Bucket CORS rules for browser playback from INDOX_MEDIA_CORS_ORIGINS."""
    _bucket_rules(
        "CORS rules",
        "INDOX_MEDIA_CORS_ORIGINS",
        bucket_rules.cors,
        action,
        backend,
        dry_run,
    )


@cli.command("sweep")
@click.option(
    "--backend", "backends", multiple=True, help="Only this backend (repeatable)."
)
@click.option("--dry-run", is_flag=True, help="List what has expired, delete nothing.")
def sweep_command(backends: tuple[str, ...], dry_run: bool) -> None:
    """Delete objects past their expires_at (for backends without lifecycle
    rules, and as an audit of R2/S3: --dry-run shows what lifecycle has not yet
    removed; R2 removes expired objects typically within 24 hours)."""
    progress = Progress("objects checked")
    counts = sweep(
        current_state(), dry_run=dry_run, backends=backends or None, progress=progress
    )
    progress.done()
    for (name, prefix), count in sorted(counts.items()):
        click.echo(
            f"{name} {prefix}: {count} expired{' (not deleted: dry run)' if dry_run else ' deleted'}"
        )
    click.echo(
        f"total: {sum(counts.values())} expired object(s), {progress.count} checked"
    )


@cli.command("erase-user")
@click.argument("user_id")
@click.option("--dry-run", is_flag=True, help="Count what would be deleted.")
def erase_user_command(user_id: str, dry_run: bool) -> None:
    """Delete every object of USER_ID under every prefix, permanent ones
    included, on every configured backend, after cancelling the user's pending
    mirror jobs; then verify that nothing is left (exit 1 otherwise)."""
    progress = Progress("objects")
    try:
        result = erase_user(
            current_state(), user_id, dry_run=dry_run, progress=progress
        )
    except InvalidKeyPartError as exc:
        raise click.BadParameter(str(exc), param_hint="USER_ID") from None
    except IndoxMediaError as exc:  # Redis or storage down
        raise click.ClickException(
            f"{exc}; re-run when it is back (erasing is idempotent)"
        ) from None
    progress.done()
    verb = "would delete" if dry_run else "deleted"
    for (name, prefix), count in sorted(result.deleted.items()):
        click.echo(f"{name} {prefix}{user_id}/: {verb} {count}")
    click.echo(
        f"total: {verb} {sum(result.deleted.values())}; cancelled {result.cancelled_jobs} pending job(s)"
    )
    if dry_run:
        return
    if result.remaining:
        click.echo(
            f"verification FAILED: {len(result.remaining)} object(s) remain, e.g. {result.remaining[0]}",
            err=True,
        )
        sys.exit(1)
    click.echo("verified: no object of the user remains")


@cli.command("export-user")
@click.argument("user_id")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, writable=True),
    help="Write here (default: stdout).",
)
def export_user_command(user_id: str, output: str | None) -> None:
    """A JSON document of every asset of USER_ID, with presigned URLs."""
    try:
        document = _dumps(export_user(current_state(), user_id))
    except InvalidKeyPartError as exc:
        raise click.BadParameter(str(exc), param_hint="USER_ID") from None
    except IndoxMediaError as exc:
        raise click.ClickException(str(exc)) from None
    if output:
        with open(output, "w", encoding="utf-8") as fh:
            fh.write(document + "\n")
        click.echo(f"written to {output}", err=True)
    else:
        click.echo(document)


@cli.command("backfill")
@click.option("--from", "source", required=True, help="The backend to copy from.")
@click.option("--to", "target", required=True, help="The backend to copy to.")
@click.option("--prefix", default="", help="Only keys under this prefix.")
@click.option(
    "--since", help="Only objects created on or after this date (YYYY-MM-DD)."
)
@click.option("--dry-run", is_flag=True, help="Count what would be copied.")
def backfill_command(
    source: str, target: str, prefix: str, since: str | None, dry_run: bool
) -> None:
    """Copy objects the target lacks (streaming; key, type and metadata kept).
    Re-running resumes: what is there is skipped."""
    try:
        since_date = datetime.strptime(since, "%Y-%m-%d").date() if since else None
    except ValueError:
        raise click.BadParameter("use YYYY-MM-DD", param_hint="--since") from None
    progress = Progress("objects")
    try:
        counts = backfill(
            current_state(),
            source,
            target,
            prefix=prefix,
            since=since_date,
            dry_run=dry_run,
            progress=progress,
        )
    except ConfigurationError as exc:
        raise click.ClickException(str(exc)) from None
    progress.done()
    verb = "would copy" if dry_run else "copied"
    click.echo(
        f"{verb} {counts['copied']}, skipped {counts['skipped']}, failed {counts['failed']}"
    )
    if counts["failed"]:
        sys.exit(1)


@cli.group("backend")
def backend_group() -> None:
    """The write backend: show it, or switch it at runtime (a rollback without
    a restart: every process follows within seconds; old links keep working)."""


@backend_group.command("show")
def backend_show() -> None:
    """Print the write backend in force and where it comes from."""
    try:
        active = backend_ops.show(current_state())
    except IndoxMediaError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"new assets go to: {active.backend} (chosen by {active.source})")
    if active.override is not None:
        click.echo(
            f"override: set by {active.override.set_by} at {active.override.set_at}"
        )
    if active.ignored is not None:
        click.echo(f"warning: {active.ignored}", err=True)
    click.echo(f"start-up choice: {active.startup} (chosen by {active.startup_source})")
    click.echo(f"configured: {', '.join(active.configured)}")


@backend_group.command("use")
@click.argument("name")
def backend_use(name: str) -> None:
    """Send new assets to the configured backend NAME (r2, s3...) from now on,
    in every gateway process and worker, until `backend clear`."""
    try:
        override = backend_ops.use(current_state(), name)
    except IndoxMediaError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"new assets go to {override.backend} (override set by {override.set_by} "
        f"at {override.set_at}); every process follows within "
        f"{REFRESH_SECONDS:g} s"
    )


@backend_group.command("clear")
def backend_clear() -> None:
    """Remove the runtime override: new assets go to the start-up choice."""
    state = current_state()
    try:
        had = backend_ops.clear(state)
    except IndoxMediaError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        ("override removed" if had else "there was no override")
        + f"; new assets go to {state.settings.storage_backend} (chosen by "
        f"{state.settings.storage_backend_source})"
    )


@cli.command("doctor")
def doctor_command() -> None:
    """Check configuration, buckets, rules, Redis, workers and the upstream."""
    failed = False
    for check in checks(current_state()):
        line = f"[{check.status:>4}] {check.name}: {check.detail}"
        if check.fix:
            line += f"\n       -> {check.fix}"
        click.echo(line)
        failed = failed or check.status == "FAIL"
    if failed:
        sys.exit(1)
