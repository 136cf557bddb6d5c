"""What the Tags screen says about the captions: its title line and the side panel's facts."""

from __future__ import annotations

from rich.text import Text

from tui_lora.core.safepath import printable


def title_text(table) -> str:
    uncaptioned = table.images - table.captioned - len(table.unreadable)
    text = f"Tags · {table.images} images, {table.captioned} captioned, {table.unique_tags} tags"
    if uncaptioned and table.images:
        text += f" · {uncaptioned} without caption"
    return text


def info_text(project, summary) -> Text:
    s = project.settings
    table, t = summary.table, Text()
    trigger = s["project"]["trigger_word"]
    t.append("Trigger ", style="bold")
    if trigger:
        t.append(f"{trigger}", style="bold")
        t.append(f" · keep_tokens {s['dataset']['keep_tokens']}\n")
        if table.without_trigger_first:
            t.append(f"  {table.without_trigger_first} captions do not start with it (t)\n", style="yellow")
    else:
        t.append("none (t sets one)\n", style="dim")
    t.append("Junk    ", style="bold")
    if summary.junk_here:
        shown = ", ".join(printable(tag) for tag, _ in summary.junk_here[:3])
        shown += " …" if len(summary.junk_here) > 3 else ""
        t.append(f"{len(summary.junk_here)} here: {shown} (j)\n", style="yellow")
    else:
        t.append(f"none of the {len(s['tags']['junk_tags'])} list tags\n", style="dim")
    tokens = summary.tokens
    t.append("Length  ", style="bold")
    if tokens is not None and tokens.longest:
        approx = "≈" if not tokens.exact else ""
        t.append(f"longest {approx}{tokens.longest} of {tokens.limit} tokens\n")
        if tokens.warning:
            n = len(tokens.over)
            t.append(f"⚠ {n} caption{' is' if n == 1 else 's are'} longer: tags past {tokens.limit} never train; "
                     "prune, or raise training.max_token_length.\n", style="yellow")
    else:
        t.append("no captions yet\n", style="dim")
    if table.needs_cleaning:
        n = table.needs_cleaning
        t.append(f"{n} caption{' needs' if n == 1 else 's need'} cleaning (c)\n", style="yellow")
    for path, reason in table.unreadable[:2]:
        t.append(f"{path.name} {reason}\n", style="red")
    last = summary.last_undoable
    t.append("Last    ", style="bold")
    if last is not None:
        t.append(f"{last.op} #{last.id} (u undo, h list)")
    else:
        t.append("nothing to undo", style="dim")
    return t
