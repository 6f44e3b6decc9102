"""`assessment`: the operator's one command (公务员平时考核数据仓库).

    assessment demo                          generate the demo city and run everything
    assessment run --quarter 2025Q3          ingest, findings, dbt, publish, report; progress and summary
    assessment run --all                     every quarter folder in the landing area
    assessment status --quarter 2025Q3       who is on time, late, rejected, missing (--xlsx list.xlsx)
    assessment releases / restore --release  published releases, and going back to one
    assessment report --quarter 2025Q3       re-render a quarter's report from the published warehouse
    assessment generate … / bench …          the generator and the benchmark (their own options)

Typer (with rich, both already in the locked environment as dependencies of Dagster's tooling, now
declared directly): commands are plain type-annotated functions, `--help` comes from them, and its test
runner drives the real command in-process. Every mistake an operator can make ends in one line on
stderr and an exit code (pipelines/cli/errors.py), never a traceback.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from pipelines import runlock
from pipelines.cli import errors
from pipelines.cli.display import RichProgress, print_outputs, print_status, print_summary
from pipelines.cli.errors import RunFailedError, UserError, WarehouseLockedError
from pipelines.cli.summary import NotIngestedError, outputs, run_summary, status_table
from pipelines.domain.registry import RegistryError
from pipelines.ingest import prefetch
from pipelines.ingest.pseudonym import DEMO_ENV, refusal_for_run
from pipelines.paths import DATA_ENV, data_dir, landing_dir, new_log_path, using_data_dir
from pipelines.runlock import RunLockedError

app = typer.Typer(
    name="assessment",
    help="公务员平时考核数据仓库 assessment warehouse: run quarters, see who submitted, publish.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
F = TypeVar("F", bound=Callable[..., Any])
DEMO_QUARTERS = "2025Q1..2025Q4"


def out() -> Console:
    # Bound to the real stdout now: during a run the runner sends library output elsewhere.
    return Console(file=sys.stdout, soft_wrap=True)


def fail(message: str, code: int) -> typer.Exit:
    typer.echo(f"错误 error: {' '.join(message.split())}", err=True)
    return typer.Exit(code)


def one_line_errors(fn: F) -> F:
    """Every known failure as one line on stderr and its exit code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except UserError as exc:
            raise fail(str(exc), exc.code) from None
        except WarehouseLockedError as exc:
            raise fail(f"仓库文件被另一个进程占用 warehouse file locked: {exc}", errors.ENVIRONMENT) from None
        except RunLockedError as exc:
            raise fail(
                f"另一个运行正在写仓库 another run is writing the warehouse: {exc}", errors.ENVIRONMENT
            ) from None
        except RunFailedError as exc:
            outcome = (
                "运行失败，新版本已发布 run failed after publishing a new release"
                if exc.published
                else "运行失败，已发布的仓库未变 run failed, published warehouse unchanged"
            )
            raise fail(f"{outcome}: {exc}", errors.FAILED) from None
        except RegistryError as exc:  # `status` and `where` read the registry outside a run
            raise fail(f"单位名录有误 unit registry refused: {exc}", errors.ENVIRONMENT) from None
        except (KeyboardInterrupt, OSError) as exc:
            told = _dagster_home_is_a_file(exc) or errors.stopped_or_refused(exc)
            if told is None:
                raise
            raise fail(str(told), told.code) from None

    return wrapper  # type: ignore[return-value]


def _dagster_home_is_a_file(exc: BaseException) -> UserError | None:
    """The file system error about DAGSTER_HOME when a file stands there, said as such ("File exists"
    told the operator nothing)."""
    home = os.environ.get("DAGSTER_HOME", "")
    if not (isinstance(exc, OSError) and exc.filename is not None and home and Path(home).is_file()):
        return None
    if Path(str(exc.filename)).resolve() != Path(home).resolve():
        return None
    not_a_folder = f"DAGSTER_HOME 不是文件夹 is not a folder: {home} (Dagster's run history)"
    return UserError(not_a_folder, errors.ENVIRONMENT)


@app.callback()
def _options(
    ctx: typer.Context,
    data_dir: Annotated[
        str | None,  # as typed: a Path would turn "" into "."
        typer.Option("--data-dir", help="数据目录 data directory (default $ASSESSMENT_DATA_DIR or ./data)"),
    ] = None,
) -> None:
    configured = os.environ.get(DATA_ENV, "").strip()
    if data_dir is None and configured and Path(configured).exists() and not Path(configured).is_dir():
        # as --data-dir is checked: a file there made `status` say "not ingested", `run` "no landing"
        not_a_folder = f"数据目录不是文件夹 data directory is not a folder: {DATA_ENV}={configured}"
        raise fail(not_a_folder, errors.USAGE)
    if data_dir is not None:
        try:
            folder = errors.check_data_dir(data_dir)
        except UserError as exc:
            raise fail(str(exc), exc.code) from None
        ctx.with_resource(using_data_dir(folder))


def execute(quarters: list[str], report: bool = True) -> Path:
    """Pre-flight checks, the run with live progress, then the summary."""
    errors.check_not_pinned()
    errors.check_duckdb_memory()
    errors.check_landing(quarters)
    console = out()
    refused = refusal_for_run(lambda msg: console.print(f"[bold red]{msg}[/bold red]", highlight=False))
    if refused is not None:  # no key, the demo key outside demo mode, or a weak key
        raise UserError(refused, errors.ENVIRONMENT)
    # A second writer is refused here, before anything is read or written: the warehouse check opens the
    # files a run replaces, so it runs under the run lock (before it, a second command's check broke the
    # build of the run in progress). Archiving and parsing start before Dagster is imported.
    with runlock.hold(data_dir()):
        errors.check_warehouse_unlocked()
        console.print(f"运行 running {', '.join(quarters)} …", highlight=False)
        with prefetch.head_start(quarters, data_dir(), new_log_path) as log_path:
            from pipelines.cli.runner import run_quarters  # Dagster loads only for a run: --help is quick

            with RichProgress(console) as display:
                published = run_quarters(
                    quarters,
                    progress=lambda msg: console.print(msg, highlight=False),
                    report_quarters=None if report else [],
                    observer=display,
                    log_path=log_path,
                )
    print_summary(console, run_summary(quarters, published))
    return published


@app.command()
@one_line_errors
def run(
    quarter: Annotated[
        list[str] | None, typer.Option("--quarter", "-q", help="季度 e.g. 2025Q3 (repeatable)")
    ] = None,
    all_quarters: Annotated[
        bool, typer.Option("--all", help="报送目录里的每个季度 every landed quarter")
    ] = False,
    report: Annotated[
        bool, typer.Option(help="渲染最后一个季度的报告 render the last quarter's report")
    ] = True,
) -> None:
    """接收、计算、发布 ingest, score and publish quarters, with live progress and a summary."""
    if all_quarters == bool(quarter):
        raise UserError("给 --quarter 或 --all 之一 give --quarter or --all (one of them)")
    if all_quarters:
        from pipelines.cli.runner import landing_folders

        landed, ignored = landing_folders()
        for line in ignored:
            typer.echo(f"已忽略 ignored: {line}")
        if not landed:
            raise UserError(f"报送目录里没有季度 no quarter folder in {landing_dir()}", errors.ENVIRONMENT)
        quarters = sorted({errors.check_quarter(q) for q in landed})
    else:
        quarters = sorted({errors.check_quarter(q) for q in quarter or []})
    execute(quarters, report)


@app.command()
@one_line_errors
def demo(
    quarters: Annotated[str, typer.Option(help="季度范围 quarter range")] = DEMO_QUARTERS,
    seed: Annotated[int, typer.Option(help="随机种子 random seed")] = 7,
    units: Annotated[str | None, typer.Option(help="单位数 N units (default: the whole city)")] = None,
) -> None:
    """演示 generate the demo city and run the whole pipeline on it."""
    from pipelines.synthetic.__main__ import main as generate_main

    keys = errors.check_quarters(quarters)
    os.environ[DEMO_ENV] = "1"  # generated data: the public demo key is allowed, and announced
    console = out()
    # The lock before the generator rewrites the landing area: a run in progress reads it (re-entrant:
    # the run below takes it again in this process).
    with runlock.hold(data_dir(), "assessment demo"):
        generating = f"1/2 生成演示数据 generating the demo city ({quarters}, seed {seed}) …"
        console.print(generating, highlight=False)
        args = ["--quarters", quarters, "--seed", str(seed), *(["--units", units] if units else [])]
        generated = generate_main(args)
        if generated != 0:  # the generator's own code: 2 for a wrong argument (--units 0), as `generate`
            code = generated if generated == errors.USAGE else errors.FAILED
            raise UserError("生成失败 generation failed (see above)", code)
        console.print("2/2 运行流水线 running the pipeline through Dagster …")
        published = execute(keys)
    from pipelines.warehouse_summary import summary

    console.print("\n[bold]数据概览 warehouse overview[/bold]")
    console.print(summary(published), highlight=False)
    console.print(f"\nnotebooks: uv run jupyter lab notebooks/ (they open {published} read-only)")


@app.command()
@one_line_errors
def where() -> None:
    """输出位置 where the warehouse, county extracts, reports, receipts and logs are."""
    from pipelines.publish.warehouse import layout

    print_outputs(out(), outputs(layout().published))


@app.command()
@one_line_errors
def status(
    quarter: Annotated[str, typer.Option("--quarter", "-q", help="季度 e.g. 2025Q3")],
    xlsx: Annotated[Path | None, typer.Option(help="写出单位清单 write the unit list to this .xlsx")] = None,
    show_all: Annotated[bool, typer.Option("--all", help="列出所有单位 list on-time units too")] = False,
) -> None:
    """报送情况 who is on time, late, rejected or missing, with unit names and counties."""
    key = errors.check_quarter(quarter)
    if xlsx is not None:
        errors.check_output_file(xlsx)
    try:
        table = status_table(key)
    except NotIngestedError:
        raise UserError(
            f"{key} 还没有接收 has not been ingested yet: assessment run --quarter {key}"
        ) from None
    print_status(out(), key, table, show_all)
    if xlsx is not None:
        from xlsxwriter.exceptions import XlsxWriterException

        from pipelines.cli.xlsx import write_unit_list

        try:
            write_unit_list(table, xlsx)
        except (OSError, XlsxWriterException) as exc:  # a read-only folder, a path under /proc
            message = f"无法写出单位清单 cannot write the unit list: {xlsx}: {exc}"
            raise UserError(message, errors.ENVIRONMENT) from None
        out().print(f"单位清单 unit list: {xlsx}", highlight=False)


@app.command()
@one_line_errors
def releases() -> None:
    """已发布版本 published releases, newest first (* = what analysts read)."""
    from pipelines.publish.warehouse import DAMAGED, current_release, read_manifest
    from pipelines.publish.warehouse import releases as found_releases

    current, found = current_release(), found_releases()
    if not found:
        out().print("还没有发布 nothing has been published yet")
    for release in found:
        facts = read_manifest(release)
        mark = "*" if current is not None and release.resolve() == current else " "
        when = facts.get("published_at", "?")
        damaged = f"  release.json 已损坏 damaged ({facts[DAMAGED]})" if DAMAGED in facts else ""
        out().print(f"{mark} {release.name}  published {when}{damaged}", highlight=False)


@app.command()
@one_line_errors
def restore(release: Annotated[str, typer.Option(help="版本名 a name from `assessment releases`")]) -> None:
    """恢复 publish an earlier release again (analysts read it from then on)."""
    from pipelines.publish.warehouse import layout
    from pipelines.publish.warehouse import releases as found_releases
    from pipelines.publish.warehouse import restore as restore_release

    lay = layout()
    target = lay.releases / release
    # Under the run lock: publishing prunes unpublished releases, and a run in progress has one staged.
    with runlock.hold(data_dir()):
        if target not in found_releases(lay):
            raise UserError(f"没有这个版本 no published release {release!r} (see: assessment releases)")
        try:
            restore_release(target, lay)
        except FileNotFoundError as exc:
            raise UserError(f"版本文件不全，无法恢复 release incomplete, not restored: {exc}") from None
    out().print(f"分析人员现在读取 analysts now read {target.name} ({lay.published})", highlight=False)


@app.command()
@one_line_errors
def report(quarter: Annotated[str, typer.Option("--quarter", "-q", help="季度 e.g. 2025Q3")]) -> None:
    """季度报告 re-render a quarter's report from the published warehouse."""
    key = errors.check_quarter(quarter)  # before Dagster loads: a bad key is one line, nothing else
    from pipelines.paths import reports_dir  # not the Dagster definitions: their beta warnings
    from pipelines.publish.warehouse import layout
    from pipelines.report.render import ReportError, render_report

    published = layout().published
    if not published.exists():
        raise UserError(f"还没有发布 nothing published yet ({published}): assessment run --quarter {key}")
    try:
        html = render_report(key, published, reports_dir())
    except ReportError as exc:  # the quarter is not in the warehouse, a damaged file: its first line
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"报告未生成 report not rendered: {first}", errors.FAILED) from None
    out().print(f"季度报告 report: {html}", highlight=False)


PASS_THROUGH = {"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []}


@app.command(context_settings=PASS_THROUGH)
def generate(ctx: typer.Context) -> None:
    """生成数据 the synthetic generator (python -m pipelines.synthetic; --help for its options)."""
    from pipelines.synthetic.__main__ import main as generate_main

    raise typer.Exit(generate_main(list(ctx.args)))


@app.command(context_settings=PASS_THROUGH)
def bench(ctx: typer.Context) -> None:
    """性能测试 the benchmark (python -m pipelines.bench; --help for its options).

    In a process of its own: the benchmark drives this package's runner (and measures that process's
    memory), so importing it here would make the two packages import each other."""
    import subprocess

    raise typer.Exit(subprocess.call([sys.executable, "-m", "pipelines.bench", *ctx.args]))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `assessment` script (and of `python -m pipelines.ops`).

    A mistake the command-line parser finds (an unknown option, a missing value, an extra argument)
    would print Typer's boxed usage block; the operator gets one line naming `--help`, like every other
    mistake. Typer vendors its click privately and exports none of its exception classes, so they are
    recognised by their class names (click's UsageError family)."""
    args = list(argv) if argv is not None else sys.argv[1:]
    try:
        result = app(args=args, prog_name="assessment", standalone_mode=False)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except Exception as exc:
        names = {cls.__name__ for cls in type(exc).__mro__}
        if "NoArgsIsHelpError" in names:  # `assessment` alone: the help, as before
            exc.show()  # type: ignore[attr-defined]
            return errors.USAGE
        if "UsageError" not in names:
            raise
        ctx = getattr(exc, "ctx", None)
        where = getattr(ctx, "command_path", None) or "assessment"
        message = " ".join(exc.format_message().split())  # type: ignore[attr-defined]
        typer.echo(f"错误 error: {message} (see: {where} --help)", err=True)
        return errors.USAGE
    return result if isinstance(result, int) else 0
