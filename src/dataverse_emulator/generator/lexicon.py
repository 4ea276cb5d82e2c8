"""Invented vocabulary for realistic-looking sample data.

Every name here is a combination of made-up syllables, so generated rows never name a real person or
company. Pools are built once from a fixed internal seed (the same on every run and every machine);
the caller's seeded RNG only chooses from them, so a row depends on the caller's seed alone. Domains use
the reserved ``.example`` top-level domain and phone numbers the fictional ``555-01xx`` range.
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass

_ONSETS: tuple[str, ...] = (
    "b",
    "br",
    "c",
    "d",
    "dr",
    "f",
    "fl",
    "g",
    "gr",
    "h",
    "k",
    "l",
    "m",
    "n",
    "p",
    "qu",
    "r",
    "s",
)
_ONSETS += ("st", "t", "tr", "v", "w", "z", "th", "sh", "cl", "pr")
_VOWELS = ("a", "e", "i", "o", "u", "a", "e", "o", "ae", "ei", "ou", "ia", "y")
_CODAS = ("", "", "", "n", "r", "l", "s", "th", "x", "m", "nd", "rk", "st", "v", "sk")

_FIRST_ENDINGS = ("a", "o", "en", "is", "ia", "el", "an", "ey", "", "ine", "ard")
_LAST_ENDINGS = ("son", "ley", "ford", "wick", "man", "er", "ardt", "ov", "ini", "berg", "eau", "ström")
_CITY_ENDINGS = ("ton", "haven", "ford", "dale", "mere", "port", "field", "burg", "", " Falls", " Springs")
_COUNTRY_ENDINGS = ("ia", "land", "ora", "eth", "ania", "ovia")
_REGION_ENDINGS = ("shire", " Province", " Region", " County", "")
_COMPANY_SUFFIXES = (
    "Works",
    "Labs",
    "Systems",
    "Holdings",
    "Trading",
    "Partners",
    "Group",
    "Logistics",
    "Foods",
    "Outfitters",
    "Analytics",
    "Industries",
    "Studios",
    "Supply",
    "Manufacturing",
    "Consulting",
)
_STREET_KINDS = ("Street", "Avenue", "Road", "Lane", "Way", "Boulevard", "Court", "Terrace")
_JOB_TITLES = (
    "Purchasing Manager",
    "Operations Director",
    "Account Executive",
    "Chief Financial Officer",
    "Office Manager",
    "IT Administrator",
    "Sales Representative",
    "Warehouse Supervisor",
    "Procurement Lead",
    "Marketing Coordinator",
    "Owner",
    "Logistics Planner",
)
_SALUTATIONS = ("Mr.", "Ms.", "Mx.", "Dr.")
_VERBS = ("Review", "Confirm", "Prepare", "Discuss", "Schedule", "Quote", "Renew", "Follow up on", "Update")
_NOUNS: tuple[str, ...] = (
    "order",
    "contract",
    "proposal",
    "renewal",
    "invoice",
    "shipment",
    "pricing",
    "demo",
    "onboarding",
)
_NOUNS += ("upgrade", "installation", "support plan", "warranty claim", "service visit", "inventory count")
_GLUE = (
    "the",
    "a",
    "our",
    "their",
    "new",
    "next",
    "quarterly",
    "annual",
    "review",
    "order",
    "shipment",
    "contract",
    "meeting",
    "proposal",
    "invoice",
    "renewal",
    "with",
    "for",
    "about",
    "after",
    "before",
    "team",
    "service",
    "update",
    "request",
    "pending",
    "approved",
    "delivery",
    "pricing",
    "support",
    "schedule",
    "call",
    "on",
    "of",
    "and",
    "to",
    "regarding",
    "customer",
    "site",
    "visit",
)


def invented_word(rng: random.Random, syllables: int) -> str:
    """A pronounceable made-up word, lower case."""
    return "".join(rng.choice(_ONSETS) + rng.choice(_VOWELS) + rng.choice(_CODAS) for _ in range(syllables))


def _pool(rng: random.Random, size: int, endings: tuple[str, ...]) -> tuple[str, ...]:
    words: dict[str, None] = {}
    while len(words) < size:
        stem = invented_word(rng, rng.randint(1, 2))
        words[stem.capitalize() + rng.choice(endings)] = None
    return tuple(words)


@dataclass(frozen=True)
class Lexicon:
    """Pools of invented names and text, and builders that combine them with a caller's RNG."""

    first_names: tuple[str, ...]
    last_names: tuple[str, ...]
    company_stems: tuple[str, ...]
    cities: tuple[str, ...]
    regions: tuple[str, ...]
    countries: tuple[str, ...]
    street_names: tuple[str, ...]
    proper_nouns: tuple[str, ...]
    sentences: tuple[str, ...]

    def company(self, rng: random.Random) -> str:
        """``"Velmora Logistics"``-style company name."""
        return f"{rng.choice(self.company_stems)} {rng.choice(_COMPANY_SUFFIXES)}"

    def street(self, rng: random.Random) -> str:
        return f"{rng.randint(1, 9999)} {rng.choice(self.street_names)} {rng.choice(_STREET_KINDS)}"

    def title(self, rng: random.Random) -> str:
        """A subject line such as ``"Confirm Quorvia shipment"``."""
        return f"{rng.choice(_VERBS)} {rng.choice(self.proper_nouns)} {rng.choice(_NOUNS)}"

    def job_title(self, rng: random.Random) -> str:
        return rng.choice(_JOB_TITLES)

    def salutation(self, rng: random.Random) -> str:
        return rng.choice(_SALUTATIONS)

    def words(self, rng: random.Random, count: int) -> str:
        """A short free-text value: ``count`` words, capitalized."""
        picked = [rng.choice(self.proper_nouns if i % 3 == 0 else _GLUE) for i in range(count)]
        return _sentence_case(" ".join(picked))

    def text(self, rng: random.Random, length: int) -> str:
        """Paragraphs of about ``length`` characters (never more), sentences from the pool."""
        paragraphs: list[str] = []
        sentences: list[str] = []
        size = 0
        while size < length:
            sentence = rng.choice(self.sentences)
            sentences.append(sentence)
            size += len(sentence) + 1
            if rng.random() < 0.2:
                paragraphs.append(" ".join(sentences))
                sentences = []
                size += 1
        if sentences:
            paragraphs.append(" ".join(sentences))
        return "\n\n".join(paragraphs)[:length].rstrip()


def phone_number(rng: random.Random) -> str:
    """A number in the fictional 555-0100..0199 range with a random area code."""
    return f"({rng.randint(201, 989)}) 555-01{rng.randint(0, 99):02d}"


def slug(text: str) -> str:
    """Lower-case letters and digits only, for domains and e-mail local parts."""
    return "".join(ch for ch in text.lower() if ch.isascii() and ch.isalnum())


def _sentence_case(text: str) -> str:
    return text[:1].upper() + text[1:]


def _sentence(rng: random.Random, nouns: tuple[str, ...]) -> str:
    count = rng.randint(6, 14)
    words = [rng.choice(nouns) if rng.random() < 0.3 else rng.choice(_GLUE) for _ in range(count)]
    return _sentence_case(" ".join(words)) + "."


@functools.cache
def default_lexicon() -> Lexicon:
    """The shared lexicon, built on first use from a fixed seed (identical on every run)."""
    rng = random.Random(0x5EED_1E71C0)
    proper_nouns = _pool(rng, 600, ("",))
    return Lexicon(
        first_names=_pool(rng, 300, _FIRST_ENDINGS),
        last_names=_pool(rng, 600, _LAST_ENDINGS),
        company_stems=_pool(rng, 900, ("", "a", "ix", "on", "ica", "ent")),
        cities=_pool(rng, 250, _CITY_ENDINGS),
        regions=_pool(rng, 40, _REGION_ENDINGS),
        countries=_pool(rng, 24, _COUNTRY_ENDINGS),
        street_names=_pool(rng, 300, ("", "wood", "brook", "hill", "gate")),
        proper_nouns=proper_nouns,
        sentences=tuple(_sentence(rng, proper_nouns) for _ in range(800)),
    )
