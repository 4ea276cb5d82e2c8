"""Schema changes while syncing (DES §6.9, §7.8, R7): unknown attributes refresh metadata and add the column
before the row is written; a type change is one failure entry and the other columns keep syncing; tables
and metadata tables are created at the start; DataOnly and MetadataOnly modes."""

from __future__ import annotations

from test_destination_support import K, attribute, simple_schema
from test_engine_support import CONTACT, Harness, contact_row, guid

from dataexport.domain.profile import ActivationMode
from dataexport.domain.schema import EntitySchema
from dataexport.domain.sync import EntityPhase
from dataexport.engine import StepStatus

pytest_plugins = ["test_engine_support"]


def with_attribute(schema: EntitySchema, name: str, kind: K, **kwargs: object) -> EntitySchema:
    return schema.model_copy(update={"attributes": (*schema.attributes, attribute(name, kind, **kwargs))})


def test_the_first_step_creates_the_metadata_tables_the_table_and_its_metadata_rows(harness: Harness) -> None:
    harness.source.script_baseline(CONTACT, [contact_row(1, 11)])
    harness.runner().run_once()
    memory = harness.memory
    assert memory.metadata_tables and memory.delete_log_table
    assert CONTACT in memory.tables
    assert {row.attribute for row in memory.metadata[CONTACT].attributes} >= {"fullname", "creditlimit"}
    assert harness.state().metadata_stamp


def test_a_row_with_an_unknown_attribute_refreshes_metadata_and_adds_the_column_first(harness: Harness) -> None:
    final = harness.source.script_baseline(CONTACT, [contact_row(1, 11)])
    runner = harness.runner()
    runner.run_once()
    harness.source.change_schema(with_attribute(simple_schema(CONTACT), "new_score", K.INTEGER))
    harness.source.script_delta(final, [contact_row(2, 12, new_score=7), contact_row(1, 13, new_score=3)])
    assert runner.run_once().ok

    rows = harness.memory.rows(CONTACT)
    assert (rows[guid(2)]["new_score"], rows[guid(1)]["new_score"]) == (7, 3)
    assert "new_score" in {row.attribute for row in harness.memory.metadata[CONTACT].attributes}
    assert harness.failure_lines() == []


def test_an_attribute_still_unknown_after_a_refresh_is_skipped_without_refreshing_again(harness: Harness) -> None:
    final = harness.source.script_baseline(CONTACT, [contact_row(1, 11)])
    runner = harness.runner()
    runner.run_once()
    final = harness.source.script_delta(final, [contact_row(2, 12, ghost="x")], [contact_row(3, 13, ghost="y")])
    assert runner.run_once().ok
    assert set(harness.names()) == {guid(1), guid(2), guid(3)}
    assert "ghost" not in harness.memory.rows(CONTACT)[guid(2)]


def test_a_type_change_is_one_failure_entry_and_the_other_columns_keep_syncing(harness: Harness) -> None:
    final = harness.source.script_baseline(CONTACT, [contact_row(1, 11, description="long text")])
    runner = harness.runner()
    runner.run_once()
    retyped = simple_schema(CONTACT).model_copy(
        update={
            "attributes": tuple(
                attribute("description", K.INTEGER) if a.logical_name == "description" else a
                for a in simple_schema(CONTACT).attributes
            )
        }
    )
    harness.source.change_schema(retyped)
    harness.clock.advance(16 * 60)  # past the metadata refresh interval (DES §7.8)
    final = harness.source.script_delta(final, [contact_row(1, 12, "Renamed", description=5)])
    assert runner.run_once().ok
    lines = harness.failure_lines()
    assert len(lines) == 1
    assert lines[0].startswith("Entity: contact, RecordId: N/A,") and "ChangeType: Update" in lines[0]
    assert "description" in lines[0]
    row = harness.memory.rows(CONTACT)[guid(1)]
    assert row["fullname"] == "Renamed" and row.get("description") != 5  # the frozen column is not written

    harness.clock.advance(16 * 60)
    harness.source.script_delta(final, [contact_row(1, 14, "Again")])
    runner.run_once()
    assert len(harness.failure_lines()) == 1  # not repeated at the next metadata check
    assert harness.names()[guid(1)] == "Again"


def test_metadata_only_mode_creates_tables_and_reads_no_rows(harness: Harness) -> None:
    harness.profile = harness.profile.model_copy(update={"activation_mode": ActivationMode.METADATA_ONLY})
    harness.source.script_baseline(CONTACT, [contact_row(1, 11)])
    outcome = harness.runner().run_once().outcomes[0]
    assert outcome.status is StepStatus.IDLE
    assert harness.memory.rows(CONTACT) == {}
    assert harness.source.reads == ()
    assert harness.state().phase is EntityPhase.NOT_STARTED


def test_data_only_mode_needs_the_table_and_fails_the_entity_without_it(harness: Harness) -> None:
    harness.profile = harness.profile.model_copy(update={"activation_mode": ActivationMode.DATA_ONLY})
    harness.source.script_baseline(CONTACT, [contact_row(1, 11)])
    outcome = harness.runner().run_once().outcomes[0]
    assert outcome.status is StepStatus.FAILED
    state = harness.state()
    assert state.phase is EntityPhase.FAILED and "DataOnly" in (state.last_error or "")
    lines = harness.failure_lines()
    assert len(lines) == 1 and "ChangeType: Trigger Initial Export" in lines[0]
    assert not harness.memory.metadata_tables


def test_an_entity_that_disappeared_from_dataverse_fails_alone(harness: Harness) -> None:
    harness.profile = harness.profile.model_copy(
        update={"entities": (*harness.profile.entities, harness.profile.entities[0].model_copy(update={"name": "x"}))}
    )
    harness.source.script_baseline(CONTACT, [contact_row(1, 11)])
    summary = harness.runner().run_once()
    assert summary.outcome(harness.key()) is not None
    contact = summary.outcome(harness.key())
    missing = summary.outcome(harness.key("x"))
    assert contact is not None and contact.status is StepStatus.DONE
    assert missing is not None and missing.status is StepStatus.FAILED
    assert harness.state("x").phase is EntityPhase.FAILED
