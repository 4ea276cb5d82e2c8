"""Generators for String and Memo columns, chosen from the column's name and format.

A column named like a first name, an e-mail address, a phone number or an address part gets a value of
that kind, drawn from the row's :class:`~dataverse_emulator.generator.context.Persona` so that the
names, e-mail addresses and web site of one row agree. Everything is cut to ``MaxLength``.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable

from dataverse_emulator.catalog.model import AttributeDef, AttributeType, TableDef
from dataverse_emulator.generator.context import RowContext
from dataverse_emulator.generator.encode import StorageValue, truncate
from dataverse_emulator.generator.lexicon import phone_number, slug

TextGen = Callable[[RowContext], str]
ColumnGen = Callable[[RowContext], StorageValue | None]

#: Tables with at least this many row columns get multi-kilobyte memo values (page-size tests).
WIDE_TABLE_COLUMNS = 150

_ADDRESS = re.compile(r"^(address\d)_(line1|line2|line3|city|stateorprovince|county|postalcode|country|name)$")
_PERSON_NAMES = {
    "firstname": lambda ctx: ctx.persona.first,
    "yomifirstname": lambda ctx: ctx.persona.first,
    "nickname": lambda ctx: ctx.persona.first,
    "lastname": lambda ctx: ctx.persona.last,
    "yomilastname": lambda ctx: ctx.persona.last,
    "middlename": lambda ctx: ctx.rng.choice(ctx.lexicon.first_names),
    "yomimiddlename": lambda ctx: ctx.rng.choice(ctx.lexicon.first_names),
    "jobtitle": lambda ctx: ctx.lexicon.job_title(ctx.rng),
    "salutation": lambda ctx: ctx.lexicon.salutation(ctx.rng),
}
_COMPANY_NAMES = frozenset({"companyname", "yomicompanyname", "company"})
_MAIL_ROLES = ("info", "sales", "office", "contact", "hello")


def is_person_table(table: TableDef) -> bool:
    return table.attribute("firstname") is not None and table.attribute("lastname") is not None


def is_company_table(table: TableDef) -> bool:
    return table.logical_name == "account" or table.attribute("tickersymbol") is not None


def _company(ctx: RowContext) -> str:
    return ctx.persona.company(ctx.rng, ctx.lexicon)


def _domain(ctx: RowContext) -> str:
    return ctx.persona.domain(ctx.rng, ctx.lexicon)


def _person_email(ctx: RowContext) -> str:
    persona = ctx.persona
    local = f"{slug(persona.first)}.{slug(persona.last)}"
    if ctx.rng.random() < 0.7:
        return f"{local}@{_domain(ctx)}"
    return f"{local}{ctx.rng.randint(1, 99)}@{slug(ctx.rng.choice(ctx.lexicon.proper_nouns))}mail.example"


def _company_email(ctx: RowContext) -> str:
    return f"{ctx.rng.choice(_MAIL_ROLES)}@{_domain(ctx)}"


def _phone(ctx: RowContext) -> str:
    return phone_number(ctx.rng)


def _url(ctx: RowContext) -> str:
    return f"https://www.{_domain(ctx)}"


def _code(prefix: str) -> TextGen:
    def generate(ctx: RowContext) -> str:
        letters = "".join(ctx.rng.choice(string.ascii_uppercase) for _ in range(4))
        return f"{prefix}-{ctx.rng.randint(10000, 99999)}-{letters}"

    return generate


def _ticker(ctx: RowContext) -> str:
    return "".join(ctx.rng.choice(string.ascii_uppercase) for _ in range(ctx.rng.randint(3, 5)))


def _address_part(prefix: str, part: str) -> TextGen:
    def generate(ctx: RowContext) -> str:
        address = ctx.persona.address(prefix, ctx.rng, ctx.lexicon)
        values = {
            "line1": address.line1,
            "line2": address.line2,
            "line3": "Building " + ctx.rng.choice("ABCDEFG"),
            "city": address.city,
            "stateorprovince": address.region,
            "county": address.region,
            "postalcode": address.postal_code,
            "country": address.country,
            "name": ctx.rng.choice(("Head office", "Warehouse", "Branch office", "Billing", "Shipping")),
        }
        return values[part]

    return generate


def _memo(wide: bool) -> TextGen:
    low, high = (2_000, 8_000) if wide else (60, 600)
    return lambda ctx: ctx.lexicon.text(ctx.rng, ctx.rng.randint(low, high))


def _free_text(ctx: RowContext) -> str:
    return ctx.lexicon.words(ctx.rng, ctx.rng.randint(1, 4))


def _title(ctx: RowContext) -> str:
    return ctx.lexicon.title(ctx.rng)


def _named_text(table: TableDef, attribute: AttributeDef) -> TextGen | None:
    name = attribute.logical_name
    fmt = (attribute.format_name or attribute.format or "").lower()
    person = is_person_table(table)
    address = _ADDRESS.match(name)
    if address:
        return _address_part(address.group(1), address.group(2))
    if "email" in name or fmt == "email" or name == "domainname":
        return _person_email if person else _company_email
    if "url" in name or "website" in name or fmt == "url":
        return _url
    if fmt == "phone" or any(k in name for k in ("telephone", "phone", "fax", "mobile", "pager")):
        return _phone
    if person and name in _PERSON_NAMES:
        return _PERSON_NAMES[name]
    if person and name == "title":
        return _PERSON_NAMES["jobtitle"]
    if name in _COMPANY_NAMES or (name in ("name", "yominame") and is_company_table(table)):
        return _company
    if fmt == "tickersymbol" or name == "tickersymbol":
        return _ticker
    if name.endswith(("number", "code")) and attribute.type is AttributeType.STRING:
        return _code(slug(table.logical_name)[:3].upper() or "REF")
    return None


def text_generator(table: TableDef, attribute: AttributeDef) -> ColumnGen:
    """The generator of a String or Memo column, cutting values to its ``MaxLength``."""
    make = _named_text(table, attribute)
    if make is None:
        if attribute.type is AttributeType.MEMO:
            make = _memo(len(table.row_attributes()) >= WIDE_TABLE_COLUMNS)
        elif attribute.is_primary_name or attribute.logical_name in ("subject", "title", "name"):
            make = _title
        else:
            make = _free_text
    text_of = make
    return lambda ctx: truncate(attribute, text_of(ctx))


def derived_text_generator(table: TableDef, attribute: AttributeDef) -> ColumnGen | None:
    """Columns computed from others of the same row (``fullname``, ``address1_composite``), or ``None``."""
    name = attribute.logical_name
    if name in ("fullname", "yomifullname") and is_person_table(table):
        prefix = "yomi" if name.startswith("yomi") else ""
        return lambda ctx: truncate(attribute, _full_name(ctx, prefix))
    composite = re.match(r"^(address\d)_composite$", name)
    if composite:
        return _composite_generator(attribute, composite.group(1))
    return None


def _full_name(ctx: RowContext, prefix: str) -> str:
    parts = [ctx.data.get(f"{prefix}firstname"), ctx.data.get(f"{prefix}lastname")]
    present = [p for p in parts if isinstance(p, str)]
    return " ".join(present) if present else ctx.persona.full


def _composite_generator(attribute: AttributeDef, prefix: str) -> ColumnGen:
    def generate(ctx: RowContext) -> str | None:
        def part(name: str) -> str:
            value = ctx.data.get(f"{prefix}_{name}")
            return value if isinstance(value, str) else ""

        region_line = " ".join(p for p in (part("stateorprovince"), part("postalcode")) if p)
        city_line = ", ".join(p for p in (part("city"), region_line) if p)
        lines = (part("line1"), part("line2"), part("line3"), city_line, part("country"))
        return truncate(attribute, "\n".join(line for line in lines if line))

    return generate
