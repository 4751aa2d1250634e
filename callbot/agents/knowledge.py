"""Answer a caller's question about the offer from a folder of FAQ markdown files, offline.

The FAQ is split into chunks (one per heading, or per paragraph when a section is long).
Each chunk's heading, text, sentences and list items are embedded once, when the knowledge
base is built (a few seconds at start-up; build it once per process: ``shared_knowledge_base``).
A question then costs exactly one encoder call: its vector ranks the chunks (best cosine over
a chunk's texts, plus a light keyword boost, so "how much" finds the pricing section even
when the wording is far from it) and, within the best chunk, picks the one or two sentences
that answer it. The
answer is plain text meant to be *spoken*: no markdown, lists turned into sentences, under
~300 characters. Below a confidence threshold there is no answer at all: the bot then says
an advisor will follow up rather than reading out something unrelated.

Numbers, prices and e-mail addresses are left as written: the speech layer spells them.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

__all__ = [
    "DEFAULT_MIN_SCORE",
    "MAX_ANSWER_CHARS",
    "Encoder",
    "KnowledgeAnswer",
    "KnowledgeBase",
    "KnowledgeHit",
    "markdown_to_speech",
    "shared_knowledge_base",
    "split_sentences",
]

logger = logging.getLogger("callbot.agents.knowledge")

MAX_ANSWER_CHARS = 300
DEFAULT_MIN_SCORE = 0.40  # combined score (cosine + keyword boost) below which we do not answer
MAX_KEYWORD_BOOST = 0.2
KEYWORD_WEIGHT = 0.1  # boost per shared keyword, times its rarity (0..1) across chunks
TITLE_WEIGHT = 0.85  # "file title: heading" is shared by a whole file: weaker evidence than the heading
MIN_MATCH_WORDS = 4  # sentences shorter than this ("Yes.") do not match questions on their own
SECTION_CHUNK_CHARS = 700  # a section longer than this is split into one chunk per paragraph


class Encoder(Protocol):
    """What the knowledge base needs from a sentence encoder (``callbot.agents.nlu.embeddings``)."""

    def encode(self, texts: list[str]) -> np.ndarray:
        """Return an (n, dim) array of L2-normalised sentence vectors."""
        ...


@dataclass(frozen=True)
class KnowledgeHit:
    """One chunk of the FAQ that matched a question."""

    text: str  # the chunk as plain, speakable sentences
    source: str  # file name, relative to the FAQ folder (e.g. "pricing.md")
    heading: str  # the section heading (the file title for text before any heading)
    score: float  # cosine similarity plus keyword boost; higher is better
    title: str = ""  # the file's title (its "# " heading, else its name)


@dataclass(frozen=True)
class KnowledgeAnswer:
    """What the bot may say: one or two sentences of the best chunk."""

    text: str
    source: str
    heading: str
    score: float
    chunk_text: str = ""  # the whole chunk the answer comes from (context for an optional LLM)


@dataclass
class _Chunk:
    title: str
    heading: str
    source: str
    sentences: list[str]
    items: list[str] = field(default_factory=list)  # list items with their lead-in, matched on their own
    text: str = ""
    terms: set[str] = field(default_factory=set)  # keywords of the heading and text
    title_terms: set[str] = field(default_factory=set)  # keywords only the file's title has

    def __post_init__(self) -> None:
        self.text = " ".join(self.sentences)


# --- markdown → spoken text ---------------------------------------------------------------

_FRONT_MATTER = re.compile(r"\A---\s*\n.*?\n---\s*\n", re.S)
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_SETEXT = re.compile(r"^(=+|-+)\s*$")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+•]|\d{1,3}[.)])\s+(.*)$")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")
_HR = re.compile(r"^\s*([-*_])(\s*\1){2,}\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")

_INLINE_RULES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"<!--.*?-->", re.S), ""),
    (re.compile(r"!\[([^\]]*)\]\([^)]*\)"), r"\1"),  # images → alt text
    (re.compile(r"\[([^\]]+)\]\([^)]*\)"), r"\1"),  # links → their text
    (re.compile(r"\[([^\]]+)\]\[[^\]]*\]"), r"\1"),  # reference links
    (re.compile(r"<(https?://[^>]+)>"), r"\1"),  # autolinks
    (re.compile(r"<(mailto:)?([^@>\s]+@[^>\s]+)>"), r"\2"),
    (re.compile(r"</?[A-Za-z][^>]*>"), " "),  # html tags
    (re.compile(r"`+([^`]*)`+"), r"\1"),
    (re.compile(r"(\*\*|__)(.+?)\1"), r"\2"),
    (re.compile(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])"), r"\1"),
    (re.compile(r"(?<![\w_])_(?!\s)(.+?)(?<!\s)_(?![\w_])"), r"\1"),
    (re.compile(r"~~(.+?)~~"), r"\1"),
    (re.compile(r"\s*&\s*"), " and "),
    (re.compile(r"\\([\\`*_{}\[\]()#+\-.!>|])"), r"\1"),  # markdown escapes
    (re.compile(r"[*_#`|>\[\]{}~^]"), " "),  # anything left that a TTS would read out
    (re.compile(r"\s+"), " "),
]

# Sentence ends: . ! ? followed by space. Abbreviations and initials do not end a sentence.
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]?\s+")
_ABBREVIATIONS = {
    "e.g.", "i.e.", "etc.", "vs.", "mr.", "mrs.", "ms.", "dr.", "prof.", "st.", "approx.", "incl.",
    "a.m.", "p.m.", "no.", "min.", "hr.", "hrs.", "jan.", "feb.", "mar.", "apr.", "jun.", "jul.",
    "aug.", "sep.", "sept.", "oct.", "nov.", "dec.", "mon.", "tue.", "wed.", "thu.", "fri.", "sat.", "sun.",
}


def _inline(text: str) -> str:
    for pattern, replacement in _INLINE_RULES:
        text = pattern.sub(replacement, text)
    return text.strip()


def _end_sentence(text: str) -> str:
    text = text.strip().rstrip(",;:–—-").strip()
    if text and text[-1] not in ".!?":
        text += "."
    return text


def _capitalise(text: str) -> str:
    return text[:1].upper() + text[1:] if text else text


def _join_items(items: list[str]) -> str:
    """"a, b, and c"; "a: x, y; b: z; and c: w" when the items have commas or colons of their own."""
    items = [item.rstrip(".;,") for item in items if item]
    if len(items) <= 1:
        return "".join(items)
    separator = "; " if any(re.search(r"[:;,]", item) for item in items) else ", "
    if len(items) == 2 and separator == ", ":
        return f"{items[0]} and {items[1]}"
    return separator.join(items[:-1]) + f"{separator}and " + items[-1]


def _attach_short(sentences: list[str]) -> list[str]:
    """Glue a bare "Yes." or "No." to the sentence after it: it means nothing read on its own."""
    out: list[str] = []
    pending = ""
    for sentence in sentences:
        if len(_WORD.findall(sentence.lower())) <= 2 and sentence is not sentences[-1]:
            pending = f"{pending} {sentence}".strip()
            continue
        out.append(f"{pending} {sentence}".strip() if pending else sentence)
        pending = ""
    return out


def split_sentences(text: str) -> list[str]:
    """Split plain text into sentences, keeping "e.g.", "p.m.", "$4.50" and e-mails whole."""
    sentences: list[str] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        candidate = text[start : match.start()].strip()
        last_word = candidate.rsplit(" ", 1)[-1].lower()
        if last_word in _ABBREVIATIONS or re.fullmatch(r"(?:[a-z]\.)+", last_word):
            continue
        if candidate:
            sentences.append(candidate)
        start = match.end()
    tail = text[start:].strip()
    if tail:
        sentences.append(tail)
    return sentences


def _block_sentences(lines: list[str]) -> tuple[list[str], list[str]]:
    """One markdown block (paragraph, list, table) as spoken sentences, plus its list items.

    A list is read as one sentence, after its lead-in when it has one ("We offer: a, b, and c."),
    unless its items are sentences themselves. Table rows become "cell, cell." sentences. The
    items of a joined list are also returned ("lead-in item") so that each can match a question.
    """
    lead: list[str] = []
    items: list[str] = []
    table_rows: list[str] = []
    for line in lines:
        if _TABLE_RULE.match(line):
            if table_rows:
                table_rows.pop()  # the header row: "Plan, Price" means nothing said aloud
            continue
        if line.strip().startswith("|") or line.count("|") >= 2:
            cells = [_inline(cell) for cell in line.strip().strip("|").split("|")]
            table_rows.append(", ".join(cell for cell in cells if cell))
            continue
        item = _LIST_ITEM.match(line)
        if item:
            items.append(_inline(item.group(1)))
        elif items and line.startswith((" ", "\t")):
            items[-1] = f"{items[-1]} {_inline(line)}"  # a list item continued on the next line
        else:
            lead.append(_inline(line))
    items = [item for item in items if re.search(r"\w", item)]
    lead_sentences = split_sentences(" ".join(part for part in lead if part))
    joined_items: list[str] = []
    if items and not any(re.search(r"[.!?]\s", item) for item in items):
        intro = lead_sentences.pop() if lead_sentences and lead_sentences[-1].endswith(":") else ""
        sentences = [_end_sentence(s) for s in lead_sentences]
        listed = _join_items(items)
        if intro and len(intro) + len(listed) < MAX_ANSWER_CHARS:
            sentences.append(_end_sentence(f"{intro} {listed}"))
        else:  # too long to say in one breath: the lead-in is a sentence of its own
            sentences += [_end_sentence(intro), _end_sentence(_capitalise(listed))] if intro else \
                [_end_sentence(_capitalise(listed))]
        joined_items = [_end_sentence(f"{intro} {item}" if intro else item) for item in items]
    else:
        sentences = [_end_sentence(s) for s in lead_sentences]
        sentences += [_end_sentence(_capitalise(s)) for item in items for s in split_sentences(item)]
    sentences += [_end_sentence(row) for row in table_rows if row]
    return _attach_short([s for s in sentences if re.search(r"\w", s)]), joined_items


def markdown_to_speech(markdown: str) -> str:
    """Markdown as plain sentences a TTS engine can read (headings dropped, lists joined)."""
    blocks = _blocks(markdown.splitlines())
    return " ".join(s for block in blocks for s in _block_sentences(block)[0])


def _blocks(lines: Iterable[str]) -> list[list[str]]:
    """Split lines into blocks at blank lines; a lead-in ending with ':' stays with its list."""
    blocks: list[list[str]] = []
    current: list[str] = []
    in_fence = False
    for line in lines:
        if _FENCE.match(line):
            in_fence = not in_fence
            continue
        if in_fence or _HR.match(line):
            continue
        if not line.strip():
            if current:
                blocks.append(current)
                current = []
            continue
        if current and _LIST_ITEM.match(line) and not _LIST_ITEM.match(current[-1]) \
                and not current[-1].rstrip().endswith(":") and not current[-1].startswith((" ", "\t")):
            blocks.append(current)  # a list right under a paragraph that does not introduce it
            current = []
        current.append(line.rstrip())
    if current:
        blocks.append(current)
    merged: list[list[str]] = []
    for block in blocks:
        if merged and merged[-1][-1].rstrip().endswith(":") and _LIST_ITEM.match(block[0]):
            merged[-1] = merged[-1] + block
        else:
            merged.append(block)
    return merged


# --- files → chunks -------------------------------------------------------------------------


def _title_from_name(path: Path) -> str:
    return re.sub(r"[-_]+", " ", path.stem).strip().capitalize()


def _parse_file(path: Path, root: Path) -> list[_Chunk]:
    text = _FRONT_MATTER.sub("", path.read_text(encoding="utf-8", errors="replace"))
    lines = text.splitlines()
    source = path.relative_to(root).as_posix()
    title = ""
    sections: list[tuple[str, list[str]]] = [("", [])]
    skip_underline = False
    for index, line in enumerate(lines):
        if skip_underline:
            skip_underline = False
            continue
        heading = _HEADING.match(line)
        next_line = lines[index + 1] if index + 1 < len(lines) else ""
        if heading:
            level, heading_text = len(heading.group(1)), heading.group(2)
        elif line.strip() and _SETEXT.match(next_line) and not _LIST_ITEM.match(line) and "|" not in line:
            level, heading_text = (1 if next_line.strip().startswith("=") else 2), line  # "Title\n====="
            skip_underline = True
        else:
            sections[-1][1].append(line)
            continue
        heading_text = _inline(heading_text)
        if level == 1 and not title:
            title = heading_text
            continue
        sections.append((heading_text, []))
    title = title or _title_from_name(path)

    chunks: list[_Chunk] = []
    for heading, body in sections:
        heading = heading or title
        blocks = [parsed for block in _blocks(body) if (parsed := _block_sentences(block))[0]]
        if not blocks:
            continue
        total = sum(len(s) + 1 for sentences, _ in blocks for s in sentences)
        if total > SECTION_CHUNK_CHARS:
            groups = blocks
        else:
            groups = [([s for sentences, _ in blocks for s in sentences], [i for _, items in blocks for i in items])]
        chunks += [_Chunk(title=title, heading=heading, source=source, sentences=sentences, items=items)
                   for sentences, items in groups]
    return chunks


# --- keywords ---------------------------------------------------------------------------------

_STOPWORDS = frozenset(
    """a about above after again all also am an and any are as at be been before being below between both but
    by can could did do does doing down during each few for from further had has have having he her here hers
    him his how i if in into is it its itself just me more most my no nor not now of off on once only or other
    our ours out over own same she should so some such than that the their theirs them then there these they
    this those through to too under until up very was we were what when where which while who whom why will
    with would you your yours yourself ok okay please hi hello tell know like want get got let us im i'm it's
    what's there's thanks thank really maybe one any anything something""".split()
)

# Words that mean the same thing to a caller. Each maps to a shared concept token.
_CONCEPTS: dict[str, tuple[str, ...]] = {
    "#price": ("price", "pric", "cost", "fee", "tuition", "pay", "paying", "paid", "payment", "expensive", "cheap",
               "afford", "affordable", "how much", "installment", "instalment", "financ", "discount", "dollar", "euro",
               "budget", "$", "€", "£"),
    "#online": ("online", "remote", "remotely", "virtual", "virtually", "zoom", "in person", "in-person",
                "on campus", "campus", "classroom", "format", "distance", "from home", "live class"),
    "#schedule": ("evening", "night", "weekend", "schedule", "timetable", "part time", "part-time", "full time",
                  "full-time", "morning", "afternoon", "flexible", "self paced", "self-paced", "hours per week",
                  "after work", "around my job", "while working"),
    "#duration": ("how long", "duration", "length", "week", "weeks", "month", "months"),
    "#start": ("start", "begin", "intake", "cohort", "next class", "enrol", "enroll", "sign up", "join"),
    "#certificate": ("certificate", "certification", "certified", "diploma", "degree", "accredit", "credential"),
    "#requirement": ("requirement", "prerequisite", "prior experience", "beginner", "background", "qualify",
                     "eligible", "admission", "entry"),
    "#career": ("job", "career", "employment", "placement", "hire", "hiring", "salary", "guarantee"),
    "#refund": ("refund", "cancel", "cancellation", "money back", "withdraw"),
    "#contact": ("contact", "email", "e-mail", "phone number", "speak to", "talk to", "advisor", "adviser"),
}
_PHRASES = sorted(
    ((phrase, concept) for concept, phrases in _CONCEPTS.items() for phrase in phrases if " " in phrase
     or not phrase.isalnum()),
    key=lambda pair: -len(pair[0]),
)
_STEMS = {phrase: concept for concept, phrases in _CONCEPTS.items() for phrase in phrases
          if " " not in phrase and phrase.isalnum()}
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def _stem(word: str) -> str:
    for suffix in ("ing", "es", "ed", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


def _terms(text: str) -> set[str]:
    """Content words (lightly stemmed) plus the concepts their phrases name."""
    text = text.lower()
    terms: set[str] = set()
    for phrase, concept in _PHRASES:
        if phrase in text:
            terms.add(concept)
    for word in _WORD.findall(text):
        if word in _STOPWORDS or len(word) < 3:
            continue
        stem = _stem(word)
        terms.add(stem)
        concept = _STEMS.get(word) or _STEMS.get(stem)
        if concept is None:
            concept = next((c for prefix, c in _STEMS.items() if len(prefix) >= 5 and word.startswith(prefix)),
                           None)
        if concept:
            terms.add(concept)
    return terms


# --- the knowledge base -------------------------------------------------------------------------


class KnowledgeBase:
    """FAQ chunks and their vectors, built once per process and shared by every call (read-only)."""

    def __init__(self, chunks: Sequence[_Chunk], encoder: Encoder, *, min_score: float = DEFAULT_MIN_SCORE) -> None:
        self._chunks = list(chunks)
        self._encoder = encoder
        self.min_score = min_score
        # Keyword weights: a word found in every chunk says nothing about which chunk is meant.
        for chunk in self._chunks:
            chunk.terms = _terms(f"{chunk.heading} {chunk.text} {' '.join(chunk.items)}")
            chunk.title_terms = _terms(chunk.title) - chunk.terms
        df = Counter(term for chunk in self._chunks for term in chunk.terms | chunk.title_terms)
        n = len(self._chunks)
        self._idf = {term: math.log((n + 1) / count) / math.log(n + 1) for term, count in df.items()} if n else {}
        # Every chunk is matched by several texts; its score is the best of them (times a weight):
        # its heading (FAQ headings are questions, the closest thing to what a caller asks), its
        # whole text, each of its sentences with a few words or more and each list item (an answer
        # is often one line of a section). The file's title over a heading ("Pricing: Can I pay
        # monthly?") is discounted: it is shared by every chunk of the file, so it must not outvote
        # their text. Text right under the title (one-question files) has the title as heading.
        texts: list[str] = []
        owners: list[int] = []
        weights: list[float] = []

        def add(text: str, owner: int, weight: float) -> None:
            texts.append(text)
            owners.append(owner)
            weights.append(weight)

        for index, chunk in enumerate(self._chunks):
            add(f"{chunk.heading}. {chunk.text}", index, 1.0)
            if chunk.heading != chunk.title:
                add(chunk.heading, index, 1.0)
                add(f"{chunk.title}: {chunk.heading}", index, TITLE_WEIGHT)
            else:
                add(chunk.title, index, 1.0)  # text right under the title: the title is its heading
            for item in chunk.items:
                add(item, index, 1.0)
        sentence_owner = [index for index, chunk in enumerate(self._chunks) for _ in chunk.sentences]
        sentences = [sentence for chunk in self._chunks for sentence in chunk.sentences]
        # One batched encoder call, at build time only.
        vectors = np.asarray(encoder.encode(texts + sentences), dtype=np.float32) if texts else np.zeros((0, 1))
        self._sentence_vectors = vectors[len(texts) :]
        self._sentence_owner = np.asarray(sentence_owner, dtype=np.int64)
        matching = [i for i, sentence in enumerate(sentences) if len(_WORD.findall(sentence)) >= MIN_MATCH_WORDS]
        self._match_vectors = np.concatenate([vectors[: len(texts)], self._sentence_vectors[matching]])
        self._match_owner = np.asarray(owners + [sentence_owner[i] for i in matching], dtype=np.int64)
        self._match_weight = np.asarray(weights + [1.0] * len(matching), dtype=np.float32)

    @classmethod
    def from_directory(cls, path: str | Path, encoder: Encoder | None = None, *,
                       min_score: float = DEFAULT_MIN_SCORE) -> KnowledgeBase:
        """Read every ``*.md`` under ``path`` (sorted, recursively) and embed it.

        ``encoder`` defaults to the shared MiniLM encoder of ``callbot.agents.nlu.embeddings``.
        A missing folder is an error (a typo in the profile must not silently mean "no FAQ").
        """
        root = Path(path)
        if not root.is_dir():
            raise FileNotFoundError(f"FAQ folder not found: {root}")
        chunks = [chunk for file in sorted(root.rglob("*.md")) for chunk in _parse_file(file, root)]
        if encoder is None:
            from callbot.agents.nlu.embeddings import get_encoder

            encoder = get_encoder()
        logger.info("knowledge base: %d chunks from %s", len(chunks), root)
        return cls(chunks, encoder, min_score=min_score)

    def __len__(self) -> int:
        return len(self._chunks)

    @property
    def chunks(self) -> list[KnowledgeHit]:
        """Every chunk (score 0), e.g. for a prompt or a dashboard."""
        return [KnowledgeHit(c.text, c.source, c.heading, 0.0, c.title) for c in self._chunks]

    def _encode_question(self, question: str) -> np.ndarray:
        return np.asarray(self._encoder.encode([question]), dtype=np.float32)[0]

    def _keyword_boost(self, question_terms: set[str], chunk: _Chunk) -> float:
        weight = sum(self._idf.get(term, 0.0) for term in question_terms & chunk.terms)
        weight += 0.5 * sum(self._idf.get(term, 0.0) for term in question_terms & chunk.title_terms)
        return min(MAX_KEYWORD_BOOST, KEYWORD_WEIGHT * weight)

    def _scores(self, question: str, vector: np.ndarray) -> np.ndarray:
        cosine = np.full(len(self._chunks), -1.0, dtype=np.float32)
        np.maximum.at(cosine, self._match_owner, (self._match_vectors @ vector) * self._match_weight)
        terms = _terms(question)
        boost = np.array([self._keyword_boost(terms, c) for c in self._chunks], dtype=np.float32)
        return cosine + boost

    def search(self, question: str, k: int = 3) -> list[KnowledgeHit]:
        """The ``k`` best chunks for ``question``, best first (one encoder call)."""
        if not self._chunks or not question.strip() or k <= 0:
            return []
        return self._search(question, self._encode_question(question), k)

    def _search(self, question: str, vector: np.ndarray, k: int) -> list[KnowledgeHit]:
        scores = self._scores(question, vector)
        order = np.argsort(-scores, kind="stable")[:k]
        return [
            KnowledgeHit(self._chunks[i].text, self._chunks[i].source, self._chunks[i].heading,
                         float(scores[i]), self._chunks[i].title)
            for i in order
        ]

    def answer(self, question: str) -> KnowledgeAnswer | None:
        """One or two speakable sentences answering ``question``, or None when the FAQ does not cover it."""
        if not self._chunks or not question.strip():
            return None
        vector = self._encode_question(question)
        scores = self._scores(question, vector)
        best = int(np.argmax(scores))
        score = float(scores[best])
        if score < self.min_score:
            return None
        chunk = self._chunks[best]
        text = self._condense(best, vector)
        return KnowledgeAnswer(text=text, source=chunk.source, heading=chunk.heading, score=score,
                               chunk_text=chunk.text)

    async def answer_async(self, question: str, executor: Executor | None = None) -> KnowledgeAnswer | None:
        """``answer`` off the event loop (the encoder call is CPU-bound)."""
        return await asyncio.get_running_loop().run_in_executor(executor, self.answer, question)

    async def search_async(self, question: str, k: int = 3, executor: Executor | None = None) -> list[KnowledgeHit]:
        return await asyncio.get_running_loop().run_in_executor(executor, self.search, question, k)

    def _condense(self, index: int, vector: np.ndarray) -> str:
        """The sentences of chunk ``index`` that best answer the question, in their order, ≤ MAX_ANSWER_CHARS."""
        chunk = self._chunks[index]
        rows = np.flatnonzero(self._sentence_owner == index)
        relevance = self._sentence_vectors[rows] @ vector
        relevance[0] += 0.05  # FAQ answers tend to lead with the answer
        ranked = [int(i) for i in np.argsort(-relevance, kind="stable")]
        chosen = [ranked[0]]
        for candidate in ranked[1:]:
            if len(chosen) == 2:
                break
            length = sum(len(chunk.sentences[i]) + 1 for i in [*chosen, candidate])
            if length <= MAX_ANSWER_CHARS:
                chosen.append(candidate)
        return _shorten(" ".join(chunk.sentences[i] for i in sorted(chosen)), MAX_ANSWER_CHARS)


_shared: dict[tuple[Path, float], KnowledgeBase] = {}
_shared_lock = threading.Lock()


def shared_knowledge_base(path: str | Path) -> KnowledgeBase:
    """The process-wide knowledge base of an FAQ folder, built on first use with the shared encoder.

    Rebuilt only when a file in the folder changes (newest modification time), so the app's
    start-up and every call share one copy of the vectors.
    """
    root = Path(path).resolve()
    if not root.is_dir():
        raise FileNotFoundError(f"FAQ folder not found: {root}")
    stamp = max((file.stat().st_mtime for file in root.rglob("*.md")), default=0.0)
    with _shared_lock:
        kb = _shared.get((root, stamp))
        if kb is None:
            kb = KnowledgeBase.from_directory(root)
            for key in [key for key in _shared if key[0] == root]:
                del _shared[key]
            _shared[(root, stamp)] = kb
        return kb


def _shorten(text: str, limit: int) -> str:
    """Cut ``text`` to at most ``limit`` characters at a clause or word break, ending it as a sentence."""
    if len(text) <= limit:
        return text
    window = text[: limit - 1]
    for breaks in ((". ", "! ", "? "), ("; ",), (", ", " – ", " — ", ": ")):
        cut = max(window.rfind(mark) for mark in breaks)
        if cut >= limit // 2:
            return _end_sentence(window[: cut + 1])
    cut = window.rfind(" ")
    return _end_sentence(window[:cut] if cut > 0 else window)
