"""What ``?`` explains: a sentence or two per parameter, the why as the community guides put it.

Settings keys take their text from ``tui_lora.core.settings.KEYS`` (the same words the preset
files and ``tui-lora --help`` use); :data:`PLAIN` adds a beginner's reading where the schema's
sentence assumes kohya jargon, and :data:`FIELDS` explains the wizard's fields that are not keys.
"""

from __future__ import annotations

from tui_lora.core import settings as S
from tui_lora.core.registry import boorus

_ACCOUNT_SITES = [s for s in boorus.SITES.values() if s.takes_account]

# Extra plain-language sentences appended to a key's schema help.
PLAIN: dict[str, str] = {
    "training.max_train_epochs": "Each epoch saves a LoRA file (see save_every_n_epochs), so you can pick "
                                 "the best one in Compare instead of guessing the right length up front.",
    "training.train_batch_size": "Start with 2 at 512 px on an 8 GB card; if VRAM allows, 4 trains faster.",
    "network.network_dim": "The file is about 1 MB per unit of dim on SD1.5 (about 3.5 MB on SDXL).",
    "network.network_alpha": "Keep alpha at half of dim unless a guide says otherwise.",
    "training.unet_lr": "Written in scientific notation: 5e-4 means 0.0005. If samples look fried, halve it.",
    "training.text_encoder_lr": "0 freezes the text encoder (the same as training the UNet only).",
    "training.optimizer_type": "AdamW8bit is the safe default; Prodigy is good when you do not want to tune "
                               "rates (then set both rates to 1.0).",
}

# Fields of the wizard that are not project.toml keys.
FIELDS: dict[str, tuple[str, str]] = {
    "repeats": ("Repeats",
                "How often each image is shown per epoch. It lives in the folder name, kohya-style: "
                "dataset/10_ohwx means 10 repeats, so changing it renames the folder. With few images "
                "raise repeats rather than epochs; images × repeats ≈ 200-400 per epoch is typical."),
    "steps": ("Total steps",
              "images × repeats × epochs ÷ batch. This, not epochs alone, decides how much the LoRA "
              "learns; the planner warns when it is far from the usual range for this kind of LoRA."),
    "vram": ("VRAM estimate",
             "Peak GPU memory the run needs (weights, the LoRA and its optimizer, activations). If it "
             "exceeds your card: lower the batch, turn on gradient_checkpointing, or lower resolution."),
    "folder": ("Folder",
               "Where the project lives: project.toml, dataset/, output/ and logs/. It must be new or empty; "
               "~ means your home folder and relative paths start from where you ran tui-lora."),
    "name": ("Name", "The project's name and the default name of its LoRA files; empty uses the folder's name."),
    "preset": ("Preset",
               "A starting point with community-guide values for one family and kind of LoRA; everything "
               "stays editable and the Steps screen shows what you changed."),
    "base_model": ("Base model",
                   "A Hugging Face repo id (owner/name), a diffusers folder or a .safetensors checkpoint. "
                   "Its family (SD1.5 or SDXL) is read from local models and guessed from a repo's name; "
                   "train on the model you will generate with."),
    "trigger": ("Trigger word",
                "A rare word (ohwx, sks, or a made-up name) that the LoRA binds your subject to; type it in "
                "prompts later. Leave it empty for a style that should apply without a word."),
    "open_path": ("Project folder", "A folder holding project.toml, made by `tui-lora new` or this wizard."),
    # ----- Fetch ---------------------------------------------------------------------------------
    "fetch_tags": ("Tags",
                   "Booru search syntax: tags with underscores separated by spaces (hakurei_reimu solo), "
                   "-tag excludes (-monochrome -comic). Search for your character plus solo: pictures "
                   "with several people teach the LoRA a mix of faces."),
    # (the sites' own sentences come from the booru registry)
    "fetch_source": ("Source", " ".join(f"{s.title}: {s.help}" for s in boorus.wizard_order())),
    "fetch_account": (" / ".join(dict.fromkeys(s.user_label for s in _ACCOUNT_SITES)) + " and API key",
                      " ".join(f"{s.title}: {s.account_help}" for s in _ACCOUNT_SITES)
                      + " With Remember on, they are saved once the site accepts them, in a file only you can "
                        "read, and sent only to the address they were saved for; the key is never shown again. "
                        "The TUI_LORA_<SITE>_USER_ID and TUI_LORA_<SITE>_API_KEY environment variables work too."),
    "fetch_rating": ("Rating",
                     "The site's content rating. general (or general+sensitive) keeps a character LoRA from "
                     "learning NSFW by accident; the guides start there."),
    "fetch_min_score": ("Min score",
                        "Keep posts with at least this many votes: a quick quality filter (5-10 cuts most "
                        "sketches and low-effort art). Empty keeps every score."),
    "fetch_order": ("Order", "newest lists recent posts first; best score takes the most liked first, a good "
                             "pick when the limit is lower than the count."),
    "fetch_limit": ("Limit",
                    "How many images to download at most. 15-50 good, varied images make a character LoRA; "
                    "more helps only if they are different shots (Review drops duplicates and bad ones)."),
    "fetch_folder": ("Folder",
                     "The dataset/<repeats>_<name>/ folder the images go into, kohya-style (10_reimu: 10 "
                     "repeats). A new name creates the folder; images already there are skipped."),
    "fetch_base_url": ("Base URL (advanced)",
                       "Another address for the site: a mirror or a self-hosted instance (Gelbooru, Danbooru "
                       "and Moebooru-style software). Empty uses the site's own address. A saved account is "
                       "not sent to another address, and images come only from the site's own hosts."),
    # ----- Tags ----------------------------------------------------------------------------------
    "tag_table": ("Tag frequency",
                  "How many images carry each tag. The guides' rule: tags on nearly every image that describe "
                  "your subject (hair colour, eye colour, a fixed outfit) should be removed so the trigger "
                  "word absorbs them; tags you want to vary at prompt time (background, pose, clothes you "
                  "change) stay. Mark rows with space, then d removes them from every caption."),
    "tag_mode": ("Mode",
                 "overwrite replaces every caption with the tagger's tags; append keeps yours and adds the new "
                 "ones; missing tags only images without a caption. Every run can be undone."),
    "tag_merge": ("Merge (m)",
                  "Several tags that mean the same become one (striped shirt, vertical stripes → striped "
                  "shirt), so the LoRA learns one word for one thing."),
    "tag_trigger": ("Trigger word (t)",
                    "Put the word first in every caption. keep_tokens is set to at least 1 so shuffle_caption "
                    "never moves it: the word stays bound to your subject."),
    "tag_junk": ("Junk (j)",
                 "Tags about the file or the website (highres, commentary, watermark…) teach the LoRA "
                 "nothing it can draw; remove them. The list is the project's tags.junk_tags; globs work."),
    "tag_pattern": ("Remove by pattern (p)",
                    "A glob removes every tag it matches: \"* (azur lane)\" drops the series names, "
                    "\"*_background\" the background tags. The trigger word is never matched."),
    "tag_caption": ("Edit one caption (e)",
                    "Pick an image carrying the tag under the cursor and fix its caption by hand: tags "
                    "separated by commas. Saved atomically, undoable like the rest."),
    "tag_undo": ("Undo (u) and history (h)",
                 "Every change to captions is snapshotted first; u restores the last one byte for byte, "
                 "again for the one before. A caption edited elsewhere since is never overwritten silently."),
    "tag_tokens": ("Caption length",
                   "The text encoder reads at most training.max_token_length tokens (75 by default); tags past "
                   "that never train. Prune tags, or raise max_token_length to 150 or 225."),
    # ----- Review ------------------------------------------------------------------------------
    "review_grid": ("The grid",
                    "Every file in dataset/. ✗ marks an error training cannot use (corrupt, not an image, "
                    "outside a <repeats>_<name> folder), ! a warning (too small, transparent, no caption…), "
                    "★ the suggested keeper of a duplicate group, ● a marked file. space marks, a marks all; "
                    "d moves the marked files, or the one under the cursor, to dataset/.trash/ with their "
                    "captions. Nothing is deleted: u undoes the last action."),
    "review_problems": ("Problems (f)",
                        "f shows one kind at a time. Corrupt or truncated files and error pages saved as "
                        "images break training or are skipped; images under the training resolution are "
                        "upscaled and come out soft; transparent pixels train as black or noise; only an "
                        "animation's first frame is trained; an image without a caption teaches the LoRA "
                        "nothing about what is in it (tag it on the Tags step)."),
    "review_fix": ("Fix (x) and fix everything (X)",
                   "x repairs the marked files (or the one under the cursor) the way `tui-lora check --fix` "
                   "does: transparency flattened onto white (and the caption's transparent background tag "
                   "replaced), the first frame of an animation kept, CMYK or palette images converted to "
                   "RGB, EXIF rotation applied, GIF/TIFF converted to PNG; unreadable files go to the "
                   "trash. Each original is kept in the trash, so u (or restoring it) undoes the fix."),
    "review_crop": ("Crop (c)",
                    "Crops the marked images (or the one under the cursor) in place to 1:1, 2:3 or 3:2 with "
                    "the short side at the size you give: focus keeps the most detailed region (edges, "
                    "colour, skin), center cuts both sides equally, pad cuts nothing and fills with white. "
                    "With buckets on, training takes any shape and cropping only changes the framing; with "
                    "them off, crop everything to the one shape. Originals go to the trash: u undoes it."),
    "review_dupes": ("Duplicates",
                     "Near-copies (resized, recompressed, slightly cropped or mirrored) make the LoRA learn "
                     "one picture several times over, which overfits it. Each group shows its images side by "
                     "side, the suggested keeper (★: the most pixels, then the largest file) first. k keeps "
                     "the image under the cursor and moves the rest of its group to the trash (a keeper "
                     "without a caption gets a copy's); K keeps every ★; n keeps all of a group that is not "
                     "really duplicates, and that answer is remembered."),
    "review_trash": ("Trash",
                     "dataset/.trash/ holds what Review, Fix, dedupe and crop removed or replaced, each "
                     "entry with its caption and where it came from. r restores the marked entries (or the "
                     "one under the cursor), R everything; a file that took the name since is never "
                     "overwritten (the restored one gets a new name). Empty it by hand when you are sure."),
    "review_pictures": ("Pictures",
                        "Drawn with kitty or sixel graphics where the terminal supports them, with coloured "
                        "half-blocks elsewhere (tmux, most SSH sessions); TUI_LORA_IMAGES=kitty, sixel, "
                        "halfcell or text forces one. Only the cells on screen load their thumbnails (cached "
                        "in .cache/thumbs), so scrolling stays quick with thousands of images. + and - change "
                        "the thumbnail size, p hides the side panel for more columns, enter (or v) shows the "
                        "image full screen."),
    # ----- Compare -----------------------------------------------------------------------------
    "compare_prompt": ("Prompt and negative",
                       "What every cell draws. Use the trigger word and a prompt unlike your training captions "
                       "(another outfit, place or pose): a LoRA that can only redraw its training images is "
                       "overcooked. kohya's options work after the text: --w 768 --h 512 --l 7 --ss euler_a."),
    "compare_epochs": ("Epochs (rows)",
                       "Which saved files to compare, e.g. 2,4,final; empty means all of them. Early epochs are "
                       "undertrained (the subject comes and goes), late ones overcooked (stiff poses, burnt "
                       "colours, the same face whatever the prompt); the best is usually in between."),
    "compare_weights": ("Weights (columns)",
                        "The strength the LoRA is applied with, as in <lora:name:0.8>. A good epoch looks right "
                        "at 0.6-1.0; one that only works at 0.5 or less is overtrained, one that needs more "
                        "than 1 is undertrained. The no-LoRA column shows the base model for reference."),
    "compare_seed": ("Seed and steps",
                     "Every cell starts from this seed, so only the LoRA differs between them. Try two or three "
                     "seeds before you decide; 20-30 steps is what webui users sample with."),
    "compare_pick": ("Pick (p)",
                     "Copies the epoch under the cursor to output/<name>-best.safetensors, unchanged, with the "
                     "epoch and weight recorded in its metadata (ss_tui_lora_best_epoch / _weight). Use it in "
                     "webui as <lora:name-best:W> with the weight you picked."),
}


def explain(item: str) -> tuple[str, str]:
    """(title, text) for a settings key (``section.name``) or a field of :data:`FIELDS`."""
    if item in FIELDS:
        return FIELDS[item]
    k = S.key(item)
    text = k.help
    if item in PLAIN:
        text += " " + PLAIN[item]
    allowed = k.describe_allowed()
    default = k.default if not isinstance(k.default, str) or k.default else '""'
    return f"{k.name}  ({item})", f"{text} Allowed: {allowed}; default {default}."
