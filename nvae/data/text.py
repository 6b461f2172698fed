"""Text: WikiText normalisation, sentence splitting, user-text cleaning, the WordPiece tokenizer,
and text in and out of the model.

The tokenizer is a plain `tokenizers.Tokenizer` (uncased WordPiece, BERT normaliser and
pre-tokenizer). It has no post-processor: `collate` appends EOS (and the model uses BOS) itself.
Special token ids are fixed: [PAD]=0, [UNK]=1, [BOS]=2, [EOS]=3.

The model (`nvae.model.autoencoder.NVAE`) sees token ids only. Text in: `encode_batch` (texts -> a `Batch`
of ids and pad mask), `collate` (id lists -> a `Batch`); text out: `decode_batch` (id lists, as
`NVAE.generate` returns them -> texts). `encode_text` and `reconstruct_text` do the whole round
trip for a model that carries its tokenizer (as `load_checkpoint` returns it); `encoded_batches`
encodes many id lists a batch at a time.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

if TYPE_CHECKING:
    from ..model.autoencoder import NVAE
    from ..model.mixture import LatentMixture

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[BOS]", "[EOS]"]  # in id order: training gives them ids 0..3
PAD_ID, UNK_ID, BOS_ID, EOS_ID = range(len(SPECIAL_TOKENS))
UNK = SPECIAL_TOKENS[UNK_ID]
# The ModelConfig field that holds each special token's id (see `tokenizer_mismatch`).
SPECIAL_TOKEN_FIELDS = dict(zip(SPECIAL_TOKENS, ("pad_id", "unk_id", "bos_id", "eos_id")))

# -- WikiText normalisation -----------------------------------------------------------------------

# " @-@ ", " @,@ ", " @.@ ": the WikiText way of splitting "state-of", "1,000" and "2.5".
_AT_JOIN = re.compile(r"\s*@([-,.])@\s*")
# Punctuation that attaches to the word before it.
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([,.;:!?)\]%])")
# Brackets that attach to the word after them.
_SPACE_AFTER_OPEN = re.compile(r"([(\[])\s+")
# Clitics split off by the WikiText tokenizer: "it 's", "do n't", "don 't", "we 're", ...
_CLITIC = re.compile(r"\s+(n't|'(?:s|t|re|ve|m|ll|d))\b", re.IGNORECASE)
_HEADING = re.compile(r"^\s*(=\s+)+\S.*?(\s+=)+\s*$")


def _join_double_quotes(text: str) -> str:
    """Pair the `"` marks left to right and attach each to the text it encloses.

    `say " hello " now` -> `say "hello" now`. An unmatched last quote opens a quotation that
    runs to the end of the text.
    """
    parts = text.split('"')
    for i in range(1, len(parts), 2):  # odd parts lie between an opening and a closing quote
        parts[i] = parts[i].strip()
    return '"'.join(parts)


def normalize_wikitext(line: str) -> str:
    """Turn one line of tokenized WikiText into plain text as a person would type it.

    "state @-@ of" -> "state-of", "1 @,@ 000" -> "1,000", "it 's" -> "it's",
    "( 24 in )" -> "(24 in)", `" word "` -> `"word"`, "<unk>" -> "[UNK]".
    """
    text = line.replace("<unk>", UNK)
    text = _AT_JOIN.sub(r"\1", text)
    text = " ".join(text.split())
    text = _join_double_quotes(text)
    text = _CLITIC.sub(r"\1", text)
    text = _SPACE_BEFORE_PUNCT.sub(r"\1", text)
    text = _SPACE_AFTER_OPEN.sub(r"\1", text)
    return " ".join(text.split())


def is_heading(line: str) -> bool:
    """True for WikiText headings such as " = Title = " and " = = Section = = "."""
    return bool(_HEADING.match(line))


# -- sentences ------------------------------------------------------------------------------------

# Words that end with a period without ending the sentence (compared without the period).
ABBREVIATIONS = frozenset(
    {
        "mr",
        "mrs",
        "ms",
        "dr",
        "st",
        "jr",
        "sr",
        "prof",
        "rev",
        "fr",
        "gen",
        "col",
        "lt",
        "sgt",
        "capt",
        "cmdr",
        "adm",
        "maj",
        "gov",
        "sen",
        "rep",
        "pres",
        "hon",
        "mt",
        "ft",
        "no",
        "nos",
        "vol",
        "vols",
        "pp",
        "ed",
        "eds",
        "vs",
        "etc",
        "al",
        "approx",
        "ca",
        "cf",
        "inc",
        "ltd",
        "co",
        "corp",
        "bros",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
    }
)
# A candidate boundary: end punctuation, optional closing quotes or brackets, then whitespace.
_BOUNDARY = re.compile(r"""[.!?]["'”’)\]]*\s+""")
# Initials and dotted acronyms: "H.", "U.S.", "e.g."
_INITIALS = re.compile(r"^(?:[^\W\d_]\.)+$")
_OPENERS = "\"'“‘([{"


def _starts_sentence(char: str) -> bool:
    return char.isupper() or char.isdigit() or char in "\"'“‘["


def _is_abbreviation(text_before: str) -> bool:
    """True when the last word of `text_before` (which ends with ".") is an abbreviation."""
    words = text_before.split()
    if not words:
        return False
    word = words[-1].lstrip(_OPENERS)
    return word[:-1].lower() in ABBREVIATIONS or bool(_INITIALS.match(word))


def split_sentences(paragraph: str) -> list[str]:
    """Split a normalised paragraph into sentences.

    A sentence ends at . ! or ? (plus any closing quotes or brackets) followed by whitespace and
    an uppercase letter, a digit, a quote or "[" (as in "[UNK]"). A period after an abbreviation
    ("Mr.", "St.") or an initial ("H.", "U.S.") does not end a sentence.
    """
    sentences, start = [], 0
    for match in _BOUNDARY.finditer(paragraph):
        end = match.end()
        if end >= len(paragraph) or not _starts_sentence(paragraph[end]):
            continue
        punct_end = match.start() + 1
        if paragraph[match.start()] == "." and _is_abbreviation(paragraph[start:punct_end]):
            continue
        sentences.append(paragraph[start : match.end()].strip())
        start = end
    sentences.append(paragraph[start:].strip())
    return [s for s in sentences if s]


# -- user text ------------------------------------------------------------------------------------


def clean_user_text(text: str) -> str:
    """Make typed text safe to tokenize: never raises on any str.

    Control characters that are whitespace (tab, newline, ...) become spaces; other control,
    format (zero-width, direction marks) and surrogate characters are removed; the result is
    NFC-normalised, whitespace is collapsed to single spaces and the ends are stripped.
    """
    kept = []
    for char in text:
        category = unicodedata.category(char)
        if char.isspace():
            kept.append(" ")
        elif category in ("Cc", "Cf", "Cs"):
            continue
        else:
            kept.append(char)
    return " ".join(unicodedata.normalize("NFC", "".join(kept)).split())


# -- tokenizer ------------------------------------------------------------------------------------


def _untrained_tokenizer(vocab: dict[str, int] | None = None) -> Tokenizer:
    """An uncased WordPiece tokenizer (BERT normaliser and pre-tokenizer) with `vocab`."""
    tok = Tokenizer(models.WordPiece(vocab, unk_token=UNK))
    tok.normalizer = normalizers.BertNormalizer(
        lowercase=True, strip_accents=True, clean_text=True, handle_chinese_chars=True
    )
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece(prefix="##", cleanup=True)
    return tok


def _continuation_chars(tok: Tokenizer, sentences: list[str]) -> set[str]:
    """The characters that occur inside a word (not first) once `tok` normalises and splits."""
    chunks: set[str] = set()  # distinct whitespace-separated pieces: far fewer than words
    for start in range(0, len(sentences), 10_000):
        chunks.update(tok.normalizer.normalize_str("\n".join(sentences[start : start + 10_000])).split())
    chars: set[str] = set()
    for word, _ in tok.pre_tokenizer.pre_tokenize_str(" ".join(sorted(chunks))):
        chars.update(word[1:])
    return chars


def train_tokenizer(sentences: Iterable[str], vocab_size: int = 8000) -> Tokenizer:
    """Train an uncased WordPiece tokenizer on `sentences`; the same input gives the same tokenizer.

    Determinism needs one step beyond the documented recipe. The trainer of `tokenizers` gives
    its "##x" continuation tokens ids in hash-map order, and those ids break ties between merges
    of equal count, so two runs can pick different tokens (huggingface/tokenizers#1794). Here
    every "##x" token is listed up front, in sorted order, with the special tokens, which fixes
    its id. The tokenizer is then rebuilt from the trained vocabulary so that only [PAD], [UNK],
    [BOS] and [EOS] are special.
    """
    sentences = list(sentences)
    tok = _untrained_tokenizer()
    continuation_tokens = ["##" + c for c in sorted(_continuation_chars(tok, sentences))]
    trainer = trainers.WordPieceTrainer(
        vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS + continuation_tokens, min_frequency=2, show_progress=False
    )
    tok.train_from_iterator(sentences, trainer=trainer)

    trained = _untrained_tokenizer(tok.get_vocab())
    trained.add_special_tokens(SPECIAL_TOKENS)
    return trained


def load_tokenizer(path: str | Path) -> Tokenizer:
    """Read a tokenizer saved with `tok.save(path)`; ValueError naming the file if it can't."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"tokenizer file not found: {path}")
    try:
        return Tokenizer.from_file(str(path))
    except Exception as err:  # tokenizers raises a bare Exception for bad JSON
        raise ValueError(f"cannot read tokenizer file {path}: {err}") from err


def tokenizer_mismatch(tok: Tokenizer, cfg) -> str | None:
    """Why `tok` does not fit the model config `cfg` (its vocab_size and the four special token ids,
    SPECIAL_TOKEN_FIELDS), in words; None when it fits."""
    size = tok.get_vocab_size()
    if size != cfg.vocab_size:
        return f"vocabulary size {size} differs from the config's vocab_size {cfg.vocab_size}"
    for token, field in SPECIAL_TOKEN_FIELDS.items():
        got, want = tok.token_to_id(token), getattr(cfg, field)
        if got is None:
            return f"special token {token} is missing from the vocabulary"
        if got != want:
            return f"special token {token} has id {got}, the config's {field} is {want}"
    return None


def encode_texts(tok: Tokenizer, texts: list[str], max_tokens: int) -> tuple[list[list[int]], list[bool]]:
    """Clean and tokenize `texts`; keep at most `max_tokens` ids each (EOS not counted).

    Returns the id lists and, per text, whether it was truncated. An empty (or all-invisible)
    text gives an empty list.
    """
    if max_tokens < 0:
        raise ValueError(f"max_tokens must be >= 0, got {max_tokens}")
    cleaned = [clean_user_text(t) for t in texts]
    encodings = tok.encode_batch(cleaned, add_special_tokens=False)
    # "[PAD]", "[BOS]" or "[EOS]" typed literally are text, not control tokens: read them as unknown
    ids = [[UNK_ID if i in (PAD_ID, BOS_ID, EOS_ID) else i for i in enc.ids[:max_tokens]] for enc in encodings]
    truncated = [len(enc.ids) > max_tokens for enc in encodings]
    return ids, truncated


_LEADING_PIECE = re.compile(r"(^|\s)##(?=\S)")  # a continuation piece with nothing to continue
_SPLIT_CLITIC = re.compile(r"(\w) ' (t|s|re|ve|m|ll|d)\b")  # "don ' t" -> "don't"
_DECIMAL = re.compile(r"(\d)\. (\d)")  # "3. 50" -> "3.50"
_THOUSANDS = re.compile(r"\b(\d{1,3}), (\d{3})\b")  # "1, 000" -> "1,000" (not "1990, 200")
_CURRENCY = re.compile(r"([$£€]) (\d)")
_PERCENT = re.compile(r"(\d) %")
_HYPHEN = re.compile(r"(\w) - (?=\w)")
_OPEN_BRACKET = re.compile(r"([(\[]) ")
_CLOSE_BRACKET = re.compile(r" ([)\]])")


def tidy_spacing(text: str) -> str:
    """The spacing of decoded WordPiece text made as a person would write it.

    BERT's pre-tokenizer splits at every punctuation mark, so a plain decode reads
    "don ' t", "$ 3. 50", "state - of - the - art", "( 2011 )", a stray "##piece".
    """
    text = _LEADING_PIECE.sub(r"\1", text)
    text = _SPLIT_CLITIC.sub(r"\1'\2", text)
    text = _DECIMAL.sub(r"\1.\2", text)
    text = _THOUSANDS.sub(r"\1,\2", text)
    text = _CURRENCY.sub(r"\1\2", text)
    text = _PERCENT.sub(r"\1%", text)
    text = _HYPHEN.sub(r"\1-", text)
    text = _OPEN_BRACKET.sub(r"\1", text)
    text = _CLOSE_BRACKET.sub(r"\1", text)
    if text.count('"') % 2 == 0:
        text = _join_double_quotes(text)
    return text


def decode_ids(tok: Tokenizer, ids: list[int]) -> str:
    """Ids -> plain text: stops at the first EOS, drops PAD and BOS, shows unknowns as [UNK]."""
    ids = list(ids)
    if EOS_ID in ids:
        ids = ids[: ids.index(EOS_ID)]
    size = tok.get_vocab_size()
    ids = [i if 0 <= i < size else UNK_ID for i in ids if i not in (PAD_ID, BOS_ID)]
    return tidy_spacing(tok.decode(ids, skip_special_tokens=False))


def tokens_of(tok: Tokenizer, ids: list[int]) -> list[str]:
    """The token string of each id (unknown ids shown as [UNK])."""
    size = tok.get_vocab_size()
    return [(tok.id_to_token(i) if 0 <= i < size else None) or UNK for i in ids]


# -- batches: text in, text out -------------------------------------------------------------------


@dataclass
class Batch:
    """Token ids ready for the model: src [B, L] = tokens + EOS, right-padded; pad_mask True at pad;
    per sequence, whether it was cut to fit."""

    src: torch.Tensor
    pad_mask: torch.Tensor
    truncated: list[bool]


def collate(
    ids_list: list[list[int]],
    max_len: int | None = None,
    truncated: list[bool] | None = None,
    *,
    pad_id: int = PAD_ID,
    eos_id: int = EOS_ID,
    device: torch.device | str | None = None,
) -> Batch:
    """Id lists -> a Batch: each list cut to max_len - 1 ids (when max_len is given), EOS appended,
    right-padded with pad_id; pad_mask is True where src is pad_id.

    `truncated` (one flag per list) says which were cut before (as `encode_texts` reports it);
    without it a list counts as truncated when it is longer than max_len - 1.
    """
    if not ids_list:
        raise ValueError("collate needs at least one sequence")
    keep = None if max_len is None else max_len - 1
    seqs = [list(ids)[:keep] + [eos_id] for ids in ids_list]
    width = max(len(s) for s in seqs)
    src = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    for row, seq in enumerate(seqs):
        src[row, : len(seq)] = torch.tensor(seq, dtype=torch.long)
    if truncated is None:
        truncated = [keep is not None and len(ids) > keep for ids in ids_list]
    src = src.to(device) if device is not None else src
    return Batch(src, src == pad_id, list(truncated))


def encode_batch(
    tok: Tokenizer, texts: str | list[str], max_len: int, device: torch.device | str | None = None
) -> Batch:
    """Text -> Batch: cleaned, WordPiece, at most max_len - 1 tokens, then EOS (`encode_texts`)."""
    texts = [texts] if isinstance(texts, str) else list(texts)
    ids, truncated = encode_texts(tok, texts, max_len - 1)
    return collate(ids, max_len, truncated, device=device)


def decode_batch(tok: Tokenizer, ids_list: list[list[int]]) -> list[str]:
    """Id lists (as `NVAE.generate` returns them) -> plain texts (`decode_ids`)."""
    return [decode_ids(tok, ids) for ids in ids_list]


def _tokenizer_of(model: NVAE) -> Tokenizer:
    if getattr(model, "tokenizer", None) is None:
        raise ValueError("this model has no tokenizer: load it from a checkpoint, or use collate and decode_batch")
    return model.tokenizer


def encode_text(model: NVAE, texts: str | list[str], alpha_delta: float | torch.Tensor | None = None) -> LatentMixture:
    """Texts -> the model's latent, with the tokenizer it carries (`encode_batch`, `NVAE.encode`)."""
    batch = encode_batch(_tokenizer_of(model), texts, model.cfg.max_len, model.device)
    return model.encode(batch.src, batch.pad_mask, alpha_delta).latent


@torch.no_grad()
def encoded_batches(
    model: NVAE, ids: list[list[int]], alpha_delta: float | torch.Tensor | None = None, batch_size: int = 128
) -> Iterator[tuple[int, Batch, LatentMixture]]:
    """Encode token-id sentences (EOS not included) `batch_size` at a time, in the order given:
    (index of the batch's first sentence, its `collate`d batch, the model's latent) per batch.
    Eval mode is the caller's choice (`nvae.model.autoencoder.eval_mode`)."""
    for start in range(0, len(ids), batch_size):
        batch = collate(ids[start : start + batch_size], model.cfg.max_len, device=model.device)
        yield start, batch, model.encode(batch.src, batch.pad_mask, alpha_delta).latent


@torch.no_grad()
def reconstruct_text(model: NVAE, texts: str | list[str], alpha_delta: float | None = None) -> list[str]:
    """Encode and greedily decode texts (eval mode is the caller's choice)."""
    return decode_batch(_tokenizer_of(model), model.generate(encode_text(model, texts, alpha_delta)))
