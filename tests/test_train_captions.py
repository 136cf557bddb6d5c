"""Caption handling (shuffle + keep_tokens, dropout, flip draws, tag counts) and kohya's token chunking."""

import random
from collections import Counter

import pytest

from tui_lora.core.train.captions import process_caption, read_caption, split_tags, step_rng, tag_frequency

CAPTION = "ohwx, 1girl, red hair, smile, outdoors, hat, blue eyes"


def test_shuffle_keeps_the_first_tokens_and_every_tag():
    seen_orders = set()
    for n in range(30):
        out = process_caption(CAPTION, shuffle=True, keep_tokens=2, dropout_rate=0.0, rng=random.Random(n))
        tags = split_tags(out)
        assert tags[:2] == ["ohwx", "1girl"]
        assert Counter(tags) == Counter(split_tags(CAPTION))
        seen_orders.add(tuple(tags))
    assert len(seen_orders) > 10  # it really shuffles


def test_no_shuffle_is_verbatim_and_keep_zero_shuffles_everything():
    assert process_caption(CAPTION, shuffle=False, keep_tokens=1, dropout_rate=0.0, rng=random.Random(0)) == CAPTION
    firsts = {split_tags(process_caption(CAPTION, shuffle=True, keep_tokens=0, dropout_rate=0.0,
                                         rng=random.Random(n)))[0] for n in range(40)}
    assert len(firsts) > 2


def test_dropout_rate():
    rng = random.Random(1)
    outs = [process_caption(CAPTION, shuffle=True, keep_tokens=1, dropout_rate=0.25, rng=rng) for _ in range(2000)]
    dropped = sum(1 for o in outs if o == "")
    assert 400 < dropped < 600
    assert all(process_caption(CAPTION, shuffle=False, keep_tokens=1, dropout_rate=1.0, rng=random.Random(n)) == ""
               for n in range(10))


def test_step_randomness_is_a_function_of_position():
    a = [step_rng(42, 3, 7, p).random() for p in range(4)]
    assert a == [step_rng(42, 3, 7, p).random() for p in range(4)]
    assert a != [step_rng(42, 3, 8, p).random() for p in range(4)]
    assert len(set(a)) == 4


def test_flip_draws_are_balanced():
    from tui_lora.core.train.data import CaptionOptions, batch_items

    opts = CaptionOptions(shuffle=False, keep_tokens=1, dropout_rate=0.0, flip=True)
    flips = [it.flip for b in range(400) for it in batch_items([0, 1], [CAPTION, CAPTION], opts, seed=1, epoch=0,
                                                              batch_index=b)]
    assert 300 < sum(flips) < 500
    off = CaptionOptions(shuffle=False, keep_tokens=1, dropout_rate=0.0, flip=False)
    assert not any(it.flip for it in batch_items([0, 1], [CAPTION] * 2, off, seed=1, epoch=0, batch_index=0))


def test_read_caption_and_tag_frequency(tmp_path):
    img = tmp_path / "a.png"
    img.write_bytes(b"")
    assert read_caption(img) is None
    (tmp_path / "a.txt").write_text("\n\n  ohwx, smile  \nsecond line\n", encoding="utf-8")
    assert read_caption(img) == "ohwx, smile"
    (tmp_path / "a.caption").write_text("   \n", encoding="utf-8")
    assert read_caption(img, ".caption") is None
    freq = tag_frequency({"10_ohwx": ["ohwx, smile, smile", "ohwx, hat"], "1_x": ["hat"]})
    assert freq == {"10_ohwx": {"ohwx": 2, "smile": 1, "hat": 1}, "1_x": {"hat": 1}}


# ----- tokens --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tokenizers(tiny_sdxl):
    from transformers import CLIPTokenizer

    return (CLIPTokenizer.from_pretrained(tiny_sdxl, subfolder="tokenizer"),
            CLIPTokenizer.from_pretrained(tiny_sdxl, subfolder="tokenizer_2"))


LONG = ", ".join(f"tag{i}" for i in range(90))  # far more than 75 tokens


@pytest.mark.parametrize("max_len,chunks", [(75, 1), (150, 2), (225, 3)])
def test_chunking_like_kohya(tokenizers, max_len, chunks):
    from tui_lora.core.train.text import tokenize

    tok = tokenizers[0]  # pads with <|endoftext|> (= EOS), like SD1.x
    ids = tokenize(tok, [LONG, "ohwx"], max_len)
    assert tuple(ids.shape) == (2, chunks, 77)
    flat = tok(LONG, truncation=True, max_length=max_len + 2, padding="max_length").input_ids
    for c in range(chunks):
        assert ids[0, c, 0] == tok.bos_token_id and ids[0, c, -1] == tok.eos_token_id
        assert ids[0, c, 1:76].tolist() == flat[1 + 75 * c:76 + 75 * c]
    # the short caption fits the first chunk; later chunks are BOS + EOS padding
    if chunks > 1:
        assert ids[1, -1, 0] == tok.bos_token_id and (ids[1, -1, 1:] == tok.eos_token_id).all()


def test_chunking_with_a_separate_pad_token(tokenizers):
    from tui_lora.core.train.text import tokenize

    tok = tokenizers[1]  # SDXL's second tokenizer pads with "!"
    ids = tokenize(tok, [LONG, "ohwx"], 225)
    eos, pad = tok.eos_token_id, tok.pad_token_id
    assert pad != eos
    for c in range(3):
        row = ids[0, c]
        # a chunk cut in the middle of the text ends in EOS instead of a text token
        assert row[-1] == eos or row[-2] in (eos, pad)
    empty = ids[1, 2]  # "<BOS> <PAD> <PAD> …" becomes "<BOS> <EOS> <PAD> …"
    assert empty[1] == eos and empty[2] == pad


@pytest.mark.parametrize("max_len", [75, 225])
def test_encoding_shapes_and_clip_skip(tiny_sd15, max_len):
    import torch
    from transformers import CLIPTextModel, CLIPTokenizer

    from tui_lora.core.train.text import TextEncoding

    tok = CLIPTokenizer.from_pretrained(tiny_sd15, subfolder="tokenizer")
    te = CLIPTextModel.from_pretrained(tiny_sd15, subfolder="text_encoder")
    enc1 = TextEncoding("sd15", [tok], [te], clip_skip=1, max_token_length=max_len)
    enc2 = TextEncoding("sd15", [tok], [te], clip_skip=2, max_token_length=max_len)
    with torch.no_grad():
        h1 = enc1.encode([LONG]).hidden
        h2 = enc2.encode([LONG]).hidden
        assert tuple(h1.shape) == (1, max_len + 2, 32)
        ids = tok(["ohwx, smile"], padding="max_length", max_length=77, truncation=True, return_tensors="pt").input_ids
        out = te(ids, output_hidden_states=True)
        ref2 = te.final_layer_norm(out.hidden_states[-2])
        got2 = TextEncoding("sd15", [tok], [te], clip_skip=2).encode(["ohwx, smile"]).hidden
        got1 = TextEncoding("sd15", [tok], [te], clip_skip=1).encode(["ohwx, smile"]).hidden
    assert torch.allclose(got2, ref2, atol=1e-6)
    assert torch.allclose(got1, out.last_hidden_state, atol=1e-6)
    assert not torch.allclose(h1, h2)


def test_sdxl_encoding_concatenates_penultimate_layers(tiny_sdxl):
    import torch
    from diffusers import StableDiffusionXLPipeline

    from tui_lora.core.train.text import TextEncoding

    pipe = StableDiffusionXLPipeline.from_pretrained(tiny_sdxl)
    enc = TextEncoding("sdxl", [pipe.tokenizer, pipe.tokenizer_2], [pipe.text_encoder, pipe.text_encoder_2])
    with torch.no_grad():
        got = enc.encode(["ohwx, red hair"])
        ref_embeds, _, ref_pooled, _ = pipe.encode_prompt("ohwx, red hair", do_classifier_free_guidance=False)
        long = TextEncoding("sdxl", enc.tokenizers, enc.text_encoders, max_token_length=150).encode([LONG])
    # exactly what diffusers' SDXL pipeline feeds its UNet for a short prompt
    assert torch.allclose(got.hidden, ref_embeds, atol=1e-6)
    assert torch.allclose(got.pooled, ref_pooled, atol=1e-6)
    assert tuple(long.hidden.shape) == (1, 152, 64) and tuple(long.pooled.shape) == (1, 32)
