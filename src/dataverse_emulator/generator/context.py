"""The state shared by the column generators of one row, and where lookups find their targets.

Some columns must agree with each other inside a row: ``ownerid`` with ``owninguser``/``owningteam``,
``statecode`` with ``statuscode``, ``transactioncurrencyid`` with ``exchangerate`` and the ``_base``
twins, the image companions with each other, names with e-mail addresses. The first column that needs
such a choice makes it and :class:`RowContext` keeps it, so column order never matters.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from dataverse_emulator.generator.lexicon import Lexicon, slug


class Resolver(Protocol):
    """Where lookup values point. Implementations must be deterministic for a given RNG state."""

    def pick(self, table: str, rng: random.Random) -> str | None:
        """The id of an existing row of ``table``, or ``None`` when ``table`` has no rows."""
        ...

    def pick_currency(self, rng: random.Random) -> tuple[str, Decimal | None] | None:
        """A ``transactioncurrency`` id and its exchange rate (``None`` if unknown), or ``None``."""
        ...


class PoolResolver:
    """Resolves lookups through a caller's ``lookup_pool`` (the workload generator's live rows)."""

    def __init__(self, lookup_pool: Callable[[str], str | None], currencies: Mapping[str, Decimal] | None) -> None:
        self._lookup_pool = lookup_pool
        self._currencies = tuple((currencies or {}).items())

    def pick(self, table: str, rng: random.Random) -> str | None:
        return self._lookup_pool(table)

    def pick_currency(self, rng: random.Random) -> tuple[str, Decimal | None] | None:
        if self._currencies:
            return rng.choice(self._currencies)
        currency_id = self._lookup_pool("transactioncurrency")
        return (currency_id, None) if currency_id else None


@dataclass(frozen=True, slots=True)
class Address:
    line1: str
    line2: str
    city: str
    region: str
    postal_code: str
    country: str


class Persona:
    """The person or company a row is about; every name-like column of the row draws from it."""

    __slots__ = ("_address", "_company", "first", "last")

    def __init__(self, rng: random.Random, lexicon: Lexicon) -> None:
        self.first = rng.choice(lexicon.first_names)
        self.last = rng.choice(lexicon.last_names)
        self._company: str | None = None
        self._address: dict[str, Address] = {}

    @property
    def full(self) -> str:
        return f"{self.first} {self.last}"

    def company(self, rng: random.Random, lexicon: Lexicon) -> str:
        if self._company is None:
            self._company = lexicon.company(rng)
        return self._company

    def domain(self, rng: random.Random, lexicon: Lexicon) -> str:
        return slug(self.company(rng, lexicon).split(" ")[0]) + ".example"

    def address(self, prefix: str, rng: random.Random, lexicon: Lexicon) -> Address:
        """The row's address number ``prefix`` (``address1``...), the same for all its columns."""
        if prefix not in self._address:
            self._address[prefix] = Address(
                line1=lexicon.street(rng),
                line2=rng.choice(("Suite ", "Floor ", "Unit ")) + str(rng.randint(1, 40)),
                city=rng.choice(lexicon.cities),
                region=rng.choice(lexicon.regions),
                postal_code=f"{rng.randint(10000, 99999)}",
                country=rng.choice(lexicon.countries),
            )
        return self._address[prefix]


@dataclass(frozen=True, slots=True)
class Image:
    image_id: str
    timestamp: int


class RowContext:
    """One row being generated: its RNG, id, data so far, and the choices its columns share."""

    __slots__ = (
        "_currency",
        "_image",
        "_owner",
        "_persona",
        "_state",
        "created",
        "data",
        "epoch",
        "lexicon",
        "resolver",
        "rng",
        "row_id",
        "table",
    )

    def __init__(
        self,
        *,
        rng: random.Random,
        lexicon: Lexicon,
        resolver: Resolver,
        table: str,
        row_id: str,
        created: datetime,
        epoch: datetime,
    ) -> None:
        self.rng = rng
        self.lexicon = lexicon
        self.resolver = resolver
        self.table = table
        self.row_id = row_id
        self.created = created
        self.epoch = epoch
        self.data: dict[str, object] = {}
        self._persona: Persona | None = None
        # False = not chosen yet; None = chosen, and there is nothing to point at.
        self._owner: list[str] | bool | None = False
        self._state: tuple[int | None, int | None] | None = None
        self._currency: tuple[str, Decimal | None] | bool | None = False
        self._image: Image | bool | None = False

    @property
    def persona(self) -> Persona:
        if self._persona is None:
            self._persona = Persona(self.rng, self.lexicon)
        return self._persona

    def lookup(self, targets: tuple[str, ...]) -> list[str] | None:
        """``[table, id]`` of an existing row of one of ``targets``, trying them from a random start."""
        if not targets:
            return None
        start = self.rng.randrange(len(targets))
        for offset in range(len(targets)):
            table = targets[(start + offset) % len(targets)]
            row_id = self.resolver.pick(table, self.rng)
            if row_id is not None:
                return [table, row_id]
        return None

    def owner(self, targets: tuple[str, ...]) -> list[str] | None:
        """The row's owner, mostly a user: ``[systemuser|team, id]``."""
        if self._owner is False:
            preferred = ("systemuser", "team") if self.rng.random() < 0.85 else ("team", "systemuser")
            ordered = tuple(t for t in preferred if t in targets) + tuple(t for t in targets if t not in preferred)
            self._owner = next((value for value in (self._single(t) for t in ordered) if value is not None), None)
        # A copy per column: rows must not share mutable values between keys.
        return list(self._owner) if isinstance(self._owner, list) else None

    def _single(self, table: str) -> list[str] | None:
        row_id = self.resolver.pick(table, self.rng)
        return [table, row_id] if row_id is not None else None

    def state_status(
        self, choose: Callable[[random.Random], tuple[int | None, int | None]]
    ) -> tuple[int | None, int | None]:
        """The row's ``(statecode, statuscode)``, chosen once by ``choose``."""
        if self._state is None:
            self._state = choose(self.rng)
        return self._state

    def currency(self) -> tuple[str, Decimal | None] | None:
        """The row's transaction currency id and exchange rate."""
        if self._currency is False:
            self._currency = self.resolver.pick_currency(self.rng)
        return self._currency if isinstance(self._currency, tuple) else None

    def image(self, make: Callable[[RowContext], Image | None]) -> Image | None:
        """The row's primary image (about a third of rows have one), chosen once by ``make``."""
        if self._image is False:
            self._image = make(self)
        return self._image if isinstance(self._image, Image) else None
