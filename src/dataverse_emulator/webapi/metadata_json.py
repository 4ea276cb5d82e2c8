"""Catalog values as the Web API's metadata JSON (spec §4.1 to §4.5), with every property filled in.

Each ``*_json`` function returns the full object of one metadata item, keys in a stable order;
navigation properties (``Attributes``, ``OptionSet``...) are not included, the query layer in
:mod:`dataverse_emulator.webapi.metadata` adds them on ``$expand``. The metadata types and what can be
selected on them live in :mod:`dataverse_emulator.webapi.metadata_types`.
"""

from __future__ import annotations

from dataverse_emulator.catalog.model import (
    AttributeDef,
    AttributeType,
    Labels,
    ManyToManyDef,
    OneToManyDef,
    OptionDef,
    OptionSetDef,
    OptionSetType,
    TableDef,
    metadata_id,
)
from dataverse_emulator.webapi.metadata_types import NAMESPACE, attribute_type_of

JsonObject = dict[str, object]

USER_LANGUAGE = 1033
STANDARD_VERSION, CUSTOM_VERSION = "5.0.0.0", "1.0"


def label_json(labels: Labels, owner: str, *, managed: bool) -> JsonObject:
    """``{"LocalizedLabels": [...], "UserLocalizedLabel": ...}``; the user label is 1033 or the first."""
    localized = [
        {
            "Label": text,
            "LanguageCode": language,
            "IsManaged": managed,
            "MetadataId": metadata_id("label", owner, str(language)),
            "HasChanged": None,
        }
        for language, text in labels.items()
    ]
    user = next((item for item in localized if item["LanguageCode"] == USER_LANGUAGE), None)
    return {"LocalizedLabels": localized, "UserLocalizedLabel": user or (localized[0] if localized else None)}


def managed_property(value: object, name: str, *, can_change: bool = True) -> JsonObject:
    return {"Value": value, "CanBeChanged": can_change, "ManagedPropertyLogicalName": name}


def entity_json(table: TableDef) -> JsonObject:
    """An ``EntityMetadata`` object without its navigation collections."""
    owner, managed = table.metadata_id, not table.is_custom
    return {
        "MetadataId": owner,
        "LogicalName": table.logical_name,
        "SchemaName": table.schema_name,
        "EntitySetName": table.entity_set_name,
        "LogicalCollectionName": table.entity_set_name,
        "PrimaryIdAttribute": table.primary_id,
        "PrimaryNameAttribute": table.primary_name,
        "PrimaryImageAttribute": table.primary_image,
        "ObjectTypeCode": table.object_type_code,
        "ChangeTrackingEnabled": table.change_tracking,
        "CanChangeTrackingBeEnabled": managed_property(
            table.can_change_tracking_be_enabled, "canchangetrackingbeenabled", can_change=False
        ),
        "IsIntersect": table.is_intersect,
        "IsPrivate": table.is_private,
        "IsCustomEntity": table.is_custom,
        "IsActivity": table.is_activity,
        "IsLogicalEntity": table.is_logical,
        "IsValidForAdvancedFind": table.is_valid_for_advanced_find,
        "IsOptimisticConcurrencyEnabled": table.is_optimistic_concurrency_enabled,
        "IsManaged": managed,
        "OwnershipType": table.ownership,
        "TableType": table.table_type,
        "IntroducedVersion": CUSTOM_VERSION if table.is_custom else STANDARD_VERSION,
        "HasChanged": None,
        "DisplayName": label_json(table.display_name, f"{owner}.DisplayName", managed=managed),
        "DisplayCollectionName": label_json(
            table.display_collection_name, f"{owner}.DisplayCollectionName", managed=managed
        ),
        "Description": label_json(table.description, f"{owner}.Description", managed=managed),
    }


def attribute_json(table: TableDef, attribute: AttributeDef) -> JsonObject:
    """An attribute with ``@odata.type``, the common properties and those of its derived type."""
    owner = attribute.metadata_id_for(table.logical_name)
    managed = not attribute.is_custom
    body: JsonObject = {
        "@odata.type": f"#{NAMESPACE}.{attribute_type_of(attribute)}",
        "MetadataId": owner,
        "LogicalName": attribute.logical_name,
        "SchemaName": attribute.schema_name,
        "EntityLogicalName": table.logical_name,
        "AttributeType": attribute.type.value,
        "AttributeTypeName": {"Value": attribute.type_name},
        "IsPrimaryId": attribute.is_primary_id,
        "IsPrimaryName": attribute.is_primary_name,
        "IsValidForRead": attribute.is_valid_for_read,
        "IsValidForCreate": attribute.is_valid_for_create,
        "IsValidForUpdate": attribute.is_valid_for_update,
        "IsLogical": attribute.is_logical,
        "IsCustomAttribute": attribute.is_custom,
        "IsSecured": attribute.is_secured,
        "IsManaged": managed,
        "IsFilterable": attribute.is_valid_for_read,
        "IsRetrievable": attribute.is_valid_for_read,
        "IsSearchable": attribute.attribute_of is None,
        "IsValidODataAttribute": True,
        "AttributeOf": attribute.attribute_of,
        "SourceType": attribute.source_type,
        "ColumnNumber": attribute.column_number,
        "IntroducedVersion": CUSTOM_VERSION if attribute.is_custom else STANDARD_VERSION,
        "HasChanged": None,
        "RequiredLevel": managed_property(
            attribute.required_level,
            "canmodifyrequirementlevelsettings",
            can_change=attribute.required_level != "SystemRequired",
        ),
        "IsValidForAdvancedFind": managed_property(attribute.attribute_of is None, "canmodifysearchsettings"),
        "IsAuditEnabled": managed_property(True, "canmodifyauditsettings"),
        "DisplayName": label_json(attribute.display_name, f"{owner}.DisplayName", managed=managed),
        "Description": label_json(attribute.description, f"{owner}.Description", managed=managed),
    }
    body.update(_typed_properties(table, attribute))
    return body


def _typed_properties(table: TableDef, attribute: AttributeDef) -> JsonObject:
    kind = attribute.type
    if kind is AttributeType.STRING:
        length = attribute.max_length or 0
        return {
            "MaxLength": length,
            "DatabaseLength": 2 * length,
            "Format": attribute.format or "Text",
            "FormatName": {"Value": attribute.format_name or "Text"},
            "ImeMode": "Auto",
            "YomiOf": None,
            "IsLocalizable": False,
        }
    if kind is AttributeType.MEMO:
        return {
            "MaxLength": attribute.max_length or 2000,
            "Format": attribute.format or "TextArea",
            "ImeMode": "Auto",
            "IsLocalizable": False,
        }
    if kind in (AttributeType.INTEGER, AttributeType.BIGINT):
        bounds: JsonObject = {"MinValue": attribute.min_value, "MaxValue": attribute.max_value}
        return {**bounds, "Format": attribute.format or "None"} if kind is AttributeType.INTEGER else bounds
    if kind in (AttributeType.DECIMAL, AttributeType.DOUBLE, AttributeType.MONEY):
        return _numeric_properties(attribute)
    if kind is AttributeType.DATETIME:
        return {
            "DateTimeBehavior": {"Value": attribute.datetime_behavior or "UserLocal"},
            "Format": attribute.format or "DateAndTime",
            "ImeMode": "Inactive",
            "MinSupportedValue": "1753-01-01T00:00:00Z",
            "MaxSupportedValue": "9999-12-30T23:59:59Z",
            "CanChangeDateTimeBehavior": managed_property(False, "canchangedatetimebehavior"),
        }
    if attribute.is_lookup or kind is AttributeType.PARTYLIST:
        return {"Targets": list(attribute.targets), "Format": None}
    if kind is AttributeType.BOOLEAN:
        return {"DefaultValue": bool(attribute.default_value)}
    if kind in (AttributeType.PICKLIST, AttributeType.STATE, AttributeType.STATUS) or attribute.is_multiselect:
        default = attribute.default_value
        return {"DefaultFormValue": -1 if default is None else int(default)}
    if attribute.type_name in ("ImageType", "FileType"):
        return _file_properties(table, attribute)
    return {}


def _numeric_properties(attribute: AttributeDef) -> JsonObject:
    body: JsonObject = {
        "Precision": attribute.precision,
        "MinValue": attribute.min_value,
        "MaxValue": attribute.max_value,
        "ImeMode": "Auto",
    }
    if attribute.type is AttributeType.MONEY:
        base_of = attribute.logical_name.removesuffix("_base") if attribute.is_base_currency else None
        body |= {
            "PrecisionSource": attribute.precision_source,
            "IsBaseCurrency": bool(attribute.is_base_currency),
            "CalculationOf": base_of,
        }
    return body


def _file_properties(table: TableDef, attribute: AttributeDef) -> JsonObject:
    body: JsonObject = {"MaxSizeInKB": attribute.max_size_kb or 10240}
    if attribute.type_name == "ImageType":
        body |= {
            "IsPrimaryImage": table.primary_image == attribute.logical_name,
            "CanStoreFullImage": True,
            "MaxHeight": 144,
            "MaxWidth": 144,
        }
    return body


def option_set_json(option_set: OptionSetDef, *, typed: bool = False) -> JsonObject:
    """An ``OptionSetMetadata`` or ``BooleanOptionSetMetadata``; ``typed`` adds ``@odata.type``."""
    owner, managed = option_set.metadata_id, not option_set.is_custom
    body: JsonObject = {}
    if typed:
        kind = "BooleanOptionSetMetadata" if option_set.type is OptionSetType.BOOLEAN else "OptionSetMetadata"
        body["@odata.type"] = f"#{NAMESPACE}.{kind}"
    body |= {
        "MetadataId": owner,
        "HasChanged": None,
        "Name": option_set.name,
        "OptionSetType": option_set.type.value,
        "IsGlobal": option_set.is_global,
        "IsCustomOptionSet": option_set.is_custom,
        "IsManaged": managed,
        "IntroducedVersion": CUSTOM_VERSION if option_set.is_custom else STANDARD_VERSION,
        "ExternalTypeName": None,
        "ParentOptionSetName": None,
        "IsCustomizable": managed_property(True, "iscustomizable"),
        "DisplayName": label_json(option_set.display_name, f"{owner}.DisplayName", managed=managed),
        "Description": label_json({}, f"{owner}.Description", managed=managed),
    }
    if option_set.type is OptionSetType.BOOLEAN:
        body["TrueOption"] = option_json(option_set, option_set.true_option)
        body["FalseOption"] = option_json(option_set, option_set.false_option)
    else:
        body["Options"] = [option_json(option_set, option) for option in option_set.options]
    return body


def option_json(option_set: OptionSetDef, option: OptionDef | None) -> JsonObject | None:
    """One option as spec §4.3 shows it; State/Status options carry their typed extras."""
    if option is None:
        return None
    owner, managed = f"{option_set.metadata_id}.{option.value}", not option_set.is_custom
    body: JsonObject = {}
    if option_set.type is OptionSetType.STATE:
        body |= {
            "@odata.type": f"#{NAMESPACE}.StateOptionMetadata",
            "DefaultStatus": option.default_status,
            "InvariantName": option.invariant_name,
        }
    elif option_set.type is OptionSetType.STATUS:
        body |= {"@odata.type": f"#{NAMESPACE}.StatusOptionMetadata", "State": option.state, "TransitionData": None}
    return {
        **body,
        "Value": option.value,
        "Color": option.color,
        "IsManaged": managed,
        "ExternalValue": None,
        "ParentValues": [],
        "MetadataId": None,
        "HasChanged": None,
        "Label": label_json(option.labels, f"{owner}.Label", managed=managed),
        "Description": label_json({}, f"{owner}.Description", managed=managed),
    }


def _relationship_common(schema_name: str, relationship_type: str, is_custom: bool) -> JsonObject:
    return {
        "MetadataId": metadata_id("relationship", schema_name),
        "SchemaName": schema_name,
        "RelationshipType": relationship_type,
        "IsCustomRelationship": is_custom,
        "IsManaged": not is_custom,
        "IsValidForAdvancedFind": True,
        "SecurityTypes": "None",
        "IntroducedVersion": CUSTOM_VERSION if is_custom else STANDARD_VERSION,
        "HasChanged": None,
    }


CASCADE_ACTIONS = ("Assign", "Delete", "Merge", "Reparent", "Share", "Unshare")


def one_to_many_json(relationship: OneToManyDef) -> JsonObject:
    cascade = dict.fromkeys(CASCADE_ACTIONS, "NoCascade")
    cascade |= {"Delete": relationship.cascade_delete, "Merge": "NoCascade"}
    return {
        "@odata.type": f"#{NAMESPACE}.OneToManyRelationshipMetadata",
        **_relationship_common(relationship.schema_name, "OneToManyRelationship", relationship.is_custom),
        "ReferencedEntity": relationship.referenced_entity,
        "ReferencedAttribute": relationship.referenced_attribute,
        "ReferencingEntity": relationship.referencing_entity,
        "ReferencingAttribute": relationship.referencing_attribute,
        "ReferencedEntityNavigationPropertyName": relationship.referenced_navigation,
        "ReferencingEntityNavigationPropertyName": relationship.referencing_navigation,
        "IsHierarchical": relationship.referenced_entity == relationship.referencing_entity,
        "CascadeConfiguration": cascade,
    }


def many_to_many_json(relationship: ManyToManyDef) -> JsonObject:
    return {
        "@odata.type": f"#{NAMESPACE}.ManyToManyRelationshipMetadata",
        **_relationship_common(relationship.schema_name, "ManyToManyRelationship", relationship.is_custom),
        "IntersectEntityName": relationship.intersect_entity,
        "Entity1LogicalName": relationship.entity1,
        "Entity1IntersectAttribute": relationship.entity1_attribute,
        "Entity1NavigationPropertyName": relationship.entity1_navigation,
        "Entity2LogicalName": relationship.entity2,
        "Entity2IntersectAttribute": relationship.entity2_attribute,
        "Entity2NavigationPropertyName": relationship.entity2_navigation,
    }
