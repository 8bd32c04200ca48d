"""A tiny randomly initialised BERT built at test time: tests train a real
transformer pipeline in seconds, with no model hub."""

from __future__ import annotations

from pathlib import Path

TINY_VOCAB_WORDS = (
    "the", "of", "and", "in", "to", "a", "on", "was", "were", "is", "by", "for", "from",
    "with", "at", "as", "that", "city", "forces", "army", "state", "group", "said", "syria",
    "syrian", "kurdish", "islamic", "people", "protection", "units", "al", "hasakah",
    "hassakeh", "ypg", "ndf", "isis", "sdf", "regime", "town", "province", "district",
)


def tiny_vocab() -> list[str]:
    """A WordPiece vocabulary: special tokens, characters (plain and ##) and a few words."""
    chars = [chr(c) for c in range(33, 127)]
    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    entries = [*special, *chars, *(f"##{c}" for c in chars), *TINY_VOCAB_WORDS]
    return list(dict.fromkeys(entries))  # a repeated entry leaves a hole in the ids


def build_tiny_transformer(out_dir: Path) -> Path:
    """Save a randomly initialised 2-layer, 32-wide BERT and its fast tokenizer to out_dir.

    Built from scratch here (no hub), so tests train a real transformer pipeline in seconds.
    """
    from transformers import BertConfig, BertModel, BertTokenizerFast

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    vocab_file = out_dir / "vocab.txt"
    vocab_file.write_text("\n".join(tiny_vocab()) + "\n", encoding="utf8")
    tok = BertTokenizerFast(vocab_file=str(vocab_file), do_lower_case=True, model_max_length=512)
    tok.save_pretrained(str(out_dir))
    config = BertConfig(
        vocab_size=len(tiny_vocab()),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
    )
    BertModel(config).save_pretrained(str(out_dir))
    return out_dir
