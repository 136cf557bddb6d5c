"""A tiny random-weights BLIP captioner, saved with ``save_pretrained`` for the BLIP backend's tests."""

from __future__ import annotations

from pathlib import Path

BLIP_WORDS = ("a", "photo", "of", "woman", "man", "standing", "in", "the", "park", "red", "blue", "dress",
              "smiling", "with", "hair", "long", "sky", "street", "coat", "arafed", ".", ",")


def build_tiny_blip(folder: str | Path, *, seed: int = 0) -> Path:
    """A random-weights BlipForConditionalGeneration (32 px, 2 layers) and its processor, saved
    with ``save_pretrained`` so the real transformers loading and generation code runs on it."""
    import torch
    from transformers import BertTokenizer, BlipConfig, BlipForConditionalGeneration, BlipProcessor
    from transformers.models.blip import BlipImageProcessorPil

    folder = Path(folder)
    src = folder / "_vocab"
    src.mkdir(parents=True, exist_ok=True)
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[DEC]"]
    (src / "vocab.txt").write_text("\n".join(specials + list(BLIP_WORDS)) + "\n", encoding="utf-8")
    tok = BertTokenizer(str(src / "vocab.txt"), do_lower_case=True)
    tok.add_special_tokens({"bos_token": "[DEC]"})
    processor = BlipProcessor(image_processor=BlipImageProcessorPil(size={"height": 32, "width": 32}),
                              tokenizer=tok)
    config = BlipConfig(
        text_config=dict(vocab_size=len(tok), hidden_size=32, encoder_hidden_size=32, intermediate_size=64,
                         num_hidden_layers=2, num_attention_heads=2, max_position_embeddings=64,
                         bos_token_id=tok.bos_token_id, eos_token_id=tok.sep_token_id,
                         sep_token_id=tok.sep_token_id, pad_token_id=tok.pad_token_id),
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                           image_size=32, patch_size=8),
        projection_dim=32,
    )
    torch.manual_seed(seed)
    model = BlipForConditionalGeneration(config).eval()
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder
