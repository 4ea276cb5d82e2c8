"""Generators of values coupled inside a row: owners, currencies and ``_base`` amounts, state and status, images.

Each reads or makes a choice the :class:`~.context.RowContext` keeps for the row, so ``ownerid`` agrees
with ``owninguser``/``owningteam``, ``statuscode`` belongs to ``statecode``, ``exchangerate`` and the
``_base`` twins follow ``transactioncurrencyid``, and the three image companions describe one image.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from decimal import Decimal

from dataverse_emulator.catalog.model import AttributeDef, AttributeType, Catalog, TableDef
from dataverse_emulator.generator.context import Image, RowContext
from dataverse_emulator.generator.encode import StorageValue, allowed_range, decimal_text

ColumnGen = Callable[[RowContext], StorageValue | None]
StateChooser = Callable[[random.Random], tuple[int | None, int | None]]
OWNER_FAMILY = frozenset({"ownerid", "owninguser", "owningteam"})

_TICKS_AT_UNIX_EPOCH = 621_355_968_000_000_000
_IMAGE_SHARE = 1 / 3


def lookup(attribute: AttributeDef) -> ColumnGen:
    """A Lookup/Customer/Owner column: ``[target, id]`` of an existing row; the owner family agrees."""
    name, targets = attribute.logical_name, attribute.targets
    owner_targets = ("systemuser", "team")
    if attribute.type is AttributeType.OWNER or name == "ownerid":
        return lambda ctx: ctx.owner(targets)
    if name in ("owninguser", "owningteam"):
        wanted = "systemuser" if name == "owninguser" else "team"

        def owning(ctx: RowContext) -> list[str] | None:
            owner = ctx.owner(owner_targets)
            return owner if owner is not None and owner[0] == wanted else None

        return owning
    return lambda ctx: ctx.lookup(targets)


def currency_lookup(ctx: RowContext) -> list[str] | None:
    """``transactioncurrencyid``: the row's currency."""
    currency = ctx.currency()
    return ["transactioncurrency", currency[0]] if currency else None


def exchange_rate(attribute: AttributeDef) -> ColumnGen:
    """``exchangerate``: the rate of the row's currency, null when the rate is unknown."""

    def generate(ctx: RowContext) -> str | None:
        currency = ctx.currency()
        if currency is None or currency[1] is None:
            return None
        return decimal_text(attribute, currency[1])

    return generate


def base_source(table: TableDef, attribute: AttributeDef) -> AttributeDef | None:
    """The Money column whose base-currency twin ``attribute`` is, or ``None``."""
    name = attribute.logical_name
    if not name.endswith("_base") and not attribute.is_base_currency:
        return None
    source = table.attribute(name.removesuffix("_base"))
    return source if source is not None and source.type is AttributeType.MONEY and source is not attribute else None


def base_amount_generator(attribute: AttributeDef, source: AttributeDef) -> ColumnGen:
    """``<money>_base`` = amount / exchange rate (units of the transaction currency per base unit)."""

    def generate(ctx: RowContext) -> str | None:
        amount = ctx.data.get(source.logical_name)
        if not isinstance(amount, str):
            return None
        currency = ctx.currency()
        rate = Decimal(1) if currency is None else currency[1]
        if rate is None or rate == 0:
            return None
        return base_amount(attribute, Decimal(amount), rate)

    return generate


def base_amount(attribute: AttributeDef, amount: Decimal, exchange_rate: Decimal) -> str:
    """The base-currency twin of ``amount`` in storage form.

    ``amount / exchange_rate`` (the rate counts transaction-currency units per base unit, as in Dataverse),
    quantized to the twin's own precision and clamped into its range.
    """
    return decimal_text(attribute, amount / exchange_rate)


def state_chooser(catalog: Catalog, table: TableDef) -> StateChooser:
    """Picks ``(statecode, statuscode)``: mostly the first (active) state, a status of that state."""
    state_attr = next((a for a in table.attributes if a.type is AttributeType.STATE), None)
    status_attr = next((a for a in table.attributes if a.type is AttributeType.STATUS), None)
    state_set = catalog.option_set_of(state_attr) if state_attr else None
    status_set = catalog.option_set_of(status_attr) if status_attr else None
    states = tuple(o.value for o in state_set.options) if state_set else ()
    statuses = tuple((o.value, o.state) for o in status_set.options) if status_set else ()

    def choose(rng: random.Random) -> tuple[int | None, int | None]:
        state = None
        if states:
            state = states[0] if rng.random() < 0.7 else rng.choice(states)
        matching = [value for value, of_state in statuses if state is None or of_state == state] or [
            value for value, _ in statuses
        ]
        status = None
        if matching:
            status = matching[0] if rng.random() < 0.7 else rng.choice(matching)
        return state, status

    return choose


def status_for_state(catalog: Catalog, table: TableDef) -> dict[int, int]:
    """``{state: its first status}``, to pair a status with a state a fixed row sets."""
    status_attr = next((a for a in table.attributes if a.type is AttributeType.STATUS), None)
    status_set = catalog.option_set_of(status_attr) if status_attr else None
    pairs: dict[int, int] = {}
    for option in status_set.options if status_set else ():
        if option.state is not None:
            pairs.setdefault(option.state, option.value)
    return pairs


def image_companion(table: TableDef, attribute: AttributeDef) -> ColumnGen:
    """``entityimageid``, ``entityimage_url`` or ``entityimage_timestamp`` (.NET ticks of the row's creation)."""
    image_attribute = table.primary_image or "entityimage"
    stamp = table.attribute("entityimage_timestamp")
    stamp_max = allowed_range(stamp)[1] if stamp is not None else float(2**63 - 1)

    def make(ctx: RowContext) -> Image | None:
        if ctx.rng.random() >= _IMAGE_SHARE:
            return None
        seconds = int(ctx.created.timestamp())
        ticks = _TICKS_AT_UNIX_EPOCH + seconds * 10_000_000
        image_id = str(uuid.UUID(int=ctx.rng.getrandbits(128), version=4))
        return Image(image_id, ticks if ticks <= stamp_max else seconds)

    def generate(ctx: RowContext) -> StorageValue | None:
        image = ctx.image(make)
        if image is None:
            return None
        if attribute.logical_name == "entityimageid":
            return image.image_id
        if attribute.logical_name == "entityimage_timestamp":
            return image.timestamp
        url = (
            f"/Image/download.aspx?Entity={table.logical_name}&Attribute={image_attribute}"
            f"&Id={ctx.row_id}&Timestamp={image.timestamp}"
        )
        return url if attribute.max_length is None or len(url) <= attribute.max_length else None

    return generate
