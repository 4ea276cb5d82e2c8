CREATE TABLE [dbo].[crm_OptionSetMetadata] (
	[EntityName] NVARCHAR(64) NOT NULL, 
	[OptionSetName] NVARCHAR(64) NOT NULL, 
	[Option] INTEGER NOT NULL, 
	[IsUserLocalizedLabel] BIT NOT NULL, 
	[LocalizedLabelLanguageCode] INTEGER NOT NULL, 
	[LocalizedLabel] NVARCHAR(350) NULL, 
	PRIMARY KEY ([EntityName], [OptionSetName], [Option], [IsUserLocalizedLabel], [LocalizedLabelLanguageCode])
)

CREATE TABLE [dbo].[crm_GlobalOptionSetMetadata] (
	[OptionSetName] NVARCHAR(64) NOT NULL, 
	[Option] INTEGER NOT NULL, 
	[IsUserLocalizedLabel] BIT NOT NULL, 
	[LocalizedLabelLanguageCode] INTEGER NOT NULL, 
	[LocalizedLabel] NVARCHAR(350) NULL, 
	PRIMARY KEY ([OptionSetName], [Option], [IsUserLocalizedLabel], [LocalizedLabelLanguageCode])
)

CREATE TABLE [dbo].[crm_StateMetadata] (
	[EntityName] NVARCHAR(64) NOT NULL, 
	[State] INTEGER NOT NULL, 
	[IsUserLocalizedLabel] BIT NOT NULL, 
	[LocalizedLabelLanguageCode] INTEGER NOT NULL, 
	[LocalizedLabel] NVARCHAR(350) NULL, 
	PRIMARY KEY ([EntityName], [State], [IsUserLocalizedLabel], [LocalizedLabelLanguageCode])
)

CREATE TABLE [dbo].[crm_StatusMetadata] (
	[EntityName] NVARCHAR(64) NOT NULL, 
	[State] INTEGER NOT NULL, 
	[Status] INTEGER NOT NULL, 
	[IsUserLocalizedLabel] BIT NOT NULL, 
	[LocalizedLabelLanguageCode] INTEGER NOT NULL, 
	[LocalizedLabel] NVARCHAR(350) NULL, 
	PRIMARY KEY ([EntityName], [State], [Status], [IsUserLocalizedLabel], [LocalizedLabelLanguageCode])
)

CREATE TABLE [dbo].[crm_TargetMetadata] (
	[EntityName] NVARCHAR(64) NOT NULL, 
	[AttributeName] NVARCHAR(64) NOT NULL, 
	[ReferencedEntity] NVARCHAR(64) NOT NULL, 
	[ReferencedAttribute] NVARCHAR(64) NULL, 
	PRIMARY KEY ([EntityName], [AttributeName], [ReferencedEntity])
)

CREATE TABLE [dbo].[crm_AttributeMetadata] (
	[Id] BIGINT NOT NULL IDENTITY, 
	[EntityName] NVARCHAR(64) NOT NULL, 
	[AttributeName] NVARCHAR(64) NOT NULL, 
	[AttributeType] NVARCHAR(64) NOT NULL, 
	[AttributeTypeCode] INTEGER NOT NULL, 
	[Version] BIGINT NULL, 
	[Timestamp] DATETIME NULL, 
	[MetadataId] NVARCHAR(64) NULL, 
	[Precision] INTEGER NULL, 
	PRIMARY KEY ([Id])
)

CREATE TABLE [dbo].[crm_DeleteLog] (
	[Id] BIGINT NOT NULL IDENTITY, 
	[EntityName] NVARCHAR(64) NOT NULL, 
	[RecordId] NVARCHAR(64) NOT NULL, 
	[SinkDeleteTime] DATETIME NOT NULL, 
	[VersionNumber] BIGINT NULL, 
	PRIMARY KEY ([Id])
)

