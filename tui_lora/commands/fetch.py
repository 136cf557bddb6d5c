"""tui-lora fetch DIR --tags "…" — search a booru, show the count, download images with tag captions."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from tui_lora.commands._common import add_project_arg, emit, is_interactive, load_project, positive_int
from tui_lora.commands._fixes import say, step_words
from tui_lora.commands._progress import CliProgress
from tui_lora.core.booru.defaults import DEFAULT_JOBS, MAX_JOBS
from tui_lora.core.dataset.folders import concept_folder_for
from tui_lora.core.errors import UserError
from tui_lora.core.humanize import clock, file_size
from tui_lora.core.registry import boorus

if TYPE_CHECKING:
    from tui_lora.core import booru
    from tui_lora.core.project import Project

HELP = "search a booru and download images with their tags as captions"
DESCRIPTION = (
    f"Search {boorus.titles()}, show how many posts match and the first few, then (after "
    "asking, or with --yes) download them in parallel into the project's dataset/<N>_<name>/ folder, "
    "each image verified against the site's md5 and captioned with its tags. Re-running finishes an "
    "interrupted fetch. " + "; ".join(f"{s.title} {s.account_phrase}" for s in boorus.SITES.values()) + "."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_project_arg(p)
    p.add_argument("--tags", required=True, metavar="TAGS",
                   help='tags to search, booru style: "1girl solo -monochrome" (or comma-separated: "hatsune miku, 1girl")')
    p.add_argument("--source", default=boorus.DEFAULT_SOURCE, metavar="SITE", help=boorus.source_help())
    p.add_argument("--limit", type=positive_int, default=100, metavar="N", help="download at most N images (default 100)")
    p.add_argument("--rating", metavar="LIST", help="keep only these ratings: general,sensitive,questionable,explicit (or g,s,q,e)")
    p.add_argument("--min-score", type=int, metavar="N", help="keep only posts with at least this score")
    p.add_argument("--order", default="newest", metavar="ORDER", help="newest (default) or score (best first)")
    p.add_argument("--folder", metavar="N_NAME",
                   help="the dataset/<N>_<name> folder to fill (default: the project's first); created if new")
    p.add_argument("--jobs", type=positive_int, default=DEFAULT_JOBS, metavar="N",
                   help=f"parallel downloads (default {DEFAULT_JOBS}, at most {MAX_JOBS})")
    p.add_argument("--max-size", type=float, default=50, metavar="MB",
                   help="skip files larger than this, or use their sample (default 50; 0 = no cap)")
    p.add_argument("--sample-huge", action="store_true",
                   help="for originals over 3072×3072 px download the site's smaller sample instead")
    p.add_argument("--no-captions", action="store_true", help="do not write <image>.txt captions from the tags")
    p.add_argument("--preview", type=int, default=5, metavar="N", help="how many results to show before asking (default 5)")
    p.add_argument("--yes", action="store_true", help="download without asking")
    p.add_argument("--dry-run", action="store_true", help="only search and count; download nothing")
    p.add_argument("--user-id", metavar="ID", help="Gelbooru user id (a number) or Danbooru login")
    p.add_argument("--api-key", metavar="KEY",
                   help="the API key; better set TUI_LORA_<SITE>_USER_ID / TUI_LORA_<SITE>_API_KEY or pass it once "
                        "with --save-credentials, since other users of this machine can see a command line in `ps`")
    p.add_argument("--save-credentials", action="store_true",
                   help="remember --user-id/--api-key for this site and --base-url (user config, readable only "
                        "by you; sent only to that address)")
    p.add_argument("--base-url", metavar="URL", help="a mirror or self-hosted instance of the site, e.g. http://localhost:8080")


def run(args: argparse.Namespace) -> int:
    from tui_lora.core import booru

    project = load_project(args)
    query = booru.build_query(args.source, args.tags, rating=args.rating, min_score=args.min_score, order=args.order)
    if args.jobs > MAX_JOBS:
        raise UserError(f"--jobs {args.jobs} is more than sites tolerate; use at most {MAX_JOBS}.")
    if args.max_size < 0:
        raise UserError("--max-size must be 0 (no cap) or a size in MB.")
    folder = resolve_folder(project, args.folder, create=False)
    notes: list[str] = []
    if args.api_key:  # said once per run, on stderr so that --json output stays clean
        print("note: other users of this machine can see --api-key in `ps`; set "
              f"TUI_LORA_{query.source.upper()}_API_KEY instead, or pass it once with --save-credentials.",
              file=sys.stderr)
    site = boorus.SITES[query.source]
    if not site.takes_account:
        creds = None
        if args.user_id or args.api_key or args.save_credentials:
            notes.append(f"{site.title} needs no account; --user-id, --api-key and --save-credentials are ignored.")
    else:
        creds = booru.resolve_credentials(query.source, user_id=args.user_id, api_key=args.api_key,
                                          base_url=args.base_url)
        if args.save_credentials and not (args.user_id and args.api_key):
            raise UserError("--save-credentials stores --user-id and --api-key; pass both with it.")
        withheld = booru.withheld_note(query.source, args.base_url) if creds is None else None
        if withheld:
            notes.append(say(withheld))
    client = booru.open_client(query.source, base_url=args.base_url, credentials=creds)
    if not args.json:  # before the search, which may fail for want of the account held back
        for line in notes:
            print(line, flush=True)
    notes = []
    result = booru.search(query, client=client, preview=max(0, args.preview))
    if args.save_credentials and creds is not None:  # only once the site has accepted them
        path = booru.save_credentials(query.source, creds, base_url=args.base_url)
        notes.append(f"Saved the {query.source} credentials for {client.base_url} to {path} (readable only by you).")
    data: dict[str, Any] = {"search": result.to_dict(), "total_count": result.total_count,
                            "dry_run": bool(args.dry_run), "folder": str(folder)}
    if not args.json:
        for line in notes + search_lines(result):
            print(line)
    if args.dry_run or not result.preview and not result.first_page_size:
        if not args.json and not result.first_page_size:
            print("Nothing matches; check the spelling of the tags (booru tags use underscores) or loosen the filters.")
        emit(args, data)
        return 0
    if not args.yes:
        _confirm(args, folder, project)
    folder = resolve_folder(project, args.folder, create=True)

    # On a terminal a bar (with --json too: it goes to stderr); in a log a line every 5 s, unless --json.
    printer = CliProgress(log_every=None if args.json else 5.0, transient=False)
    try:
        coll = booru.collect(query, args.limit, client=client,
                             progress=lambda p: printer.update("Listing posts", p.found, p.wanted, f"page {p.pages}"))
    finally:
        printer.close()
    data["collect"] = coll.to_dict(step_words)
    if not args.json:
        for line in collect_lines(coll):
            print(line)
    options = booru.DownloadOptions(
        max_bytes=int(args.max_size * 1024 * 1024) or None,
        use_sample_for_huge=args.sample_huge,
        captions=not args.no_captions,
        caption_extension=project.get("dataset.caption_extension") or ".txt",
    )
    try:
        report = booru.download(coll.posts, folder, jobs=args.jobs, options=options,
                                progress=lambda p: printer.update("Downloading", p.done, p.total, _download_detail(p)),
                                session=client.http.session, base_url=client.base_url)
    finally:
        printer.close()
    data["download"] = report.to_dict()
    message, code = _outcome(report)
    if args.json:
        if message:
            data["error"], data["exit_code"] = message, code
        emit(args, data)
    else:
        for line in report_lines(report, args.dir):
            print(line)
        if message:
            print(f"error: {message}", file=sys.stderr)
    return code


# ----- folder ---------------------------------------------------------------------------------
def resolve_folder(project: Project, name: str | None, *, create: bool):
    """The dataset/<N>_<name> folder to fill: ``name`` (a folder or concept name) or the first one."""
    concepts = project.concepts()
    if not name:
        if not concepts:
            hint = project.get("project.trigger_word") or "subject"
            raise UserError(f"{project.dataset_dir} has no <repeats>_<name> folder; pass --folder 10_{hint} to create one.")
        return concepts[0].path
    return concept_folder_for(project, name, create=create)


def _confirm(args: argparse.Namespace, folder, project: Project) -> None:
    if args.json or not is_interactive():
        raise UserError("Not downloading without confirmation; add --yes to download (or --dry-run to only count).")
    where = folder.relative_to(project.root) if folder.is_relative_to(project.root) else folder
    try:
        answer = input(f"Download up to {args.limit} images into {where}? [y/N] ")
    except EOFError:
        answer = ""
    if answer.strip().lower() not in ("y", "yes"):
        raise UserError("Nothing downloaded; run again and answer y, or add --yes.", exit_code=1)


# ----- text output ----------------------------------------------------------------------------
def search_lines(result: booru.SearchResult) -> list[str]:
    q = result.query
    n = result.first_page_size if result.total_count is None else result.total_count
    verb = "post matches" if n == 1 else "posts match"
    head = f"{result.site}: {'at least ' if result.total_count is None else ''}{n:,} {verb} {q.describe()}."
    lines = [head]
    if q.local_filters:
        lines.append(f"  (the count ignores the {', '.join(q.local_filters)} filter, which {result.site} cannot "
                     "apply; results are filtered here)")
    for post in result.preview:
        size = f"{post.width}×{post.height}" if post.width and post.height else "?"
        score = "" if post.score is None else str(post.score)
        caption = post.caption()
        if len(caption) > 70:
            caption = caption[:67] + "..."
        lines.append(f"  #{post.id:<9} {post.rating or '?':12} score {score:>4}  {size:>11} {post.ext:4} {caption}")
    return lines


def collect_lines(coll: booru.Collection) -> list[str]:
    lines = [f"Listed {_count(len(coll.posts), 'usable post')} in {_count(coll.pages, 'page')}" + (
        "; passed over " + ", ".join(f"{n} {reason}" for reason, n in sorted(coll.skipped.items())) if coll.skipped else "")
        + "."]
    lines += [f"warning: {say(w)}" for w in coll.warnings]
    return lines


def report_lines(report: booru.DownloadReport, project_dir: str) -> list[str]:
    parts = [f"Downloaded {_count(len(report.downloaded), 'new image')} ({file_size(report.bytes)} in "
             f"{report.seconds:.1f} s) into {report.folder}"]
    if report.existing:
        parts.append(f"{len(report.existing)} already there")
    if report.skipped:
        reasons: dict[str, int] = {}
        for i in report.skipped:
            reasons[i.reason] = reasons.get(i.reason, 0) + 1
        parts.append(f"{len(report.skipped)} skipped (" + ", ".join(f"{n} {r}" for r, n in reasons.items()) + ")")
    if report.failed:
        shown = "; ".join(f"#{i.post_id}: {i.reason}" for i in report.failed[:3])
        more = f"; {len(report.failed) - 3} more" if len(report.failed) > 3 else ""
        parts.append(f"{len(report.failed)} failed ({shown}{more})")
    lines = ["; ".join(parts) + "."]
    if report.downloaded or report.existing:
        lines.append(f"Next: tui-lora check {project_dir}, then tui-lora tag {project_dir} "
                     "(the captions already hold the site's tags).")
    return lines


def _outcome(report: booru.DownloadReport) -> tuple[str, int]:
    failed = report.failed
    if not failed:
        return "", 0
    if not report.downloaded and all(i.connection_failed for i in failed):
        return ("Could not reach the image server for any file; check the internet connection and re-run "
                "the same command.", 2)
    return (f"{len(failed)} of {report.total} images could not be downloaded; re-run the same command to retry "
            "them (finished images are kept).", 1)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _download_detail(p: booru.Progress) -> str:
    text = f"{file_size(p.bytes)} · {file_size(int(p.bytes_per_s))}/s · ETA {clock(p.eta_s)}"
    return text + (f" · {p.failed} failed" if p.failed else "")
