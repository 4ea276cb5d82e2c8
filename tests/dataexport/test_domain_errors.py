"""The product's exception tree (``dataexport.errors``): families, identifiers, messages."""

from __future__ import annotations

import pickle

import pytest

from dataexport import errors


@pytest.mark.parametrize(
    ("error_type", "family"),
    [
        (errors.DestinationBusy, errors.TransientError),
        (errors.DestinationUnavailable, errors.TransientError),
        (errors.SourceUnavailable, errors.TransientError),
        (errors.InvalidIdentifier, errors.TerminalError),
        (errors.TableNotUsable, errors.TerminalError),
        (errors.DestinationAccessDenied, errors.TerminalError),
        (errors.DestinationFault, errors.TerminalError),
        (errors.UnsupportedDestination, errors.TerminalError),
        (errors.InvalidTransition, errors.TerminalError),
        (errors.RecordRejected, errors.SkippableError),
    ],
)
def test_every_error_belongs_to_exactly_one_family(error_type: type[errors.DataExportError], family: type) -> None:
    families = (errors.TransientError, errors.TerminalError, errors.SkippableError)
    assert [f for f in families if issubclass(error_type, f)] == [family]


def test_identifiers_are_attributes_and_part_of_the_message() -> None:
    error = errors.RecordRejected("value too long", entity="account", profile_id="p1", record_id="r1")
    assert (error.message, error.entity, error.profile_id, error.record_id) == ("value too long", "account", "p1", "r1")
    assert str(error) == "value too long (entity=account, profile_id=p1, record_id=r1)"
    assert str(errors.DestinationBusy("database is locked")) == "database is locked"


def test_errors_survive_pickling_with_their_identifiers() -> None:
    error = errors.ValueConversionError("expected an integer", attribute="numberofemployees", entity="account")
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is errors.ValueConversionError
    assert (copy.attribute, copy.entity, str(copy)) == ("numberofemployees", "account", str(error))
