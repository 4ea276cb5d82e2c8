"""Sales tables of the ``standard`` profile: account, contact, lead, opportunity."""

from __future__ import annotations

from dataverse_emulator.catalog import system_columns
from dataverse_emulator.catalog.choices import (
    active_inactive,
    boolean,
    named,
    option,
    picklist,
    state,
    state_status,
    status,
)
from dataverse_emulator.catalog.columns import (
    Columns,
    datetime,
    double,
    group,
    image,
    integer,
    lookup,
    memo,
    money,
    string,
    uniqueidentifier,
)
from dataverse_emulator.catalog.model import AttributeType, DateTimeBehavior
from dataverse_emulator.catalog.tables import TablePart, table

CUSTOMER_NAVIGATION = "{attribute}_{target}"


def _address1() -> Columns:
    return group(
        uniqueidentifier("Address1_AddressId", "Address 1: ID"),
        named(
            picklist(
                "Address1_AddressTypeCode",
                "Address 1: Address Type",
                [option(1, "Bill To"), option(2, "Ship To"), option(3, "Primary"), option(4, "Other")],
                default=1,
            )
        ),
        string("Address1_Line1", 250, "Address 1: Street 1", de="Adresse 1: Straße 1"),
        string("Address1_Line2", 250, "Address 1: Street 2"),
        string("Address1_City", 80, "Address 1: City", de="Adresse 1: Ort"),
        string("Address1_StateOrProvince", 50, "Address 1: State/Province"),
        string("Address1_PostalCode", 20, "Address 1: ZIP/Postal Code"),
        string("Address1_Country", 80, "Address 1: Country/Region"),
        string("Address1_Telephone1", 50, "Address 1: Phone", fmt="Phone"),
        double("Address1_Latitude", 5, "Address 1: Latitude", minimum=-90.0, maximum=90.0),
        double("Address1_Longitude", 5, "Address 1: Longitude", minimum=-180.0, maximum=180.0),
        memo("Address1_Composite", 1000, "Address 1", create=False, update=False),
    )


def _do_not(schema: str, display: str) -> Columns:
    return named(boolean(schema, display, "Do Not Allow", "Allow"))


def account() -> TablePart:
    return table(
        "Account",
        "accounts",
        1,
        ("Account", "Accounts"),
        uniqueidentifier("AccountId", "Account", primary=True),
        string("Name", 160, "Account Name", de="Firmenname", primary_name=True, required="ApplicationRequired"),
        string("AccountNumber", 20, "Account Number", de="Kontonummer"),
        memo("Description", 2000, "Description", de="Beschreibung"),
        string("EMailAddress1", 100, "Email", fmt="Email", de="E-Mail"),
        string("EMailAddress2", 100, "Email Address 2", fmt="Email"),
        string("Telephone1", 50, "Main Phone", fmt="Phone", de="Haupttelefon"),
        string("Telephone2", 50, "Other Phone", fmt="Phone"),
        string("Fax", 50, "Fax"),
        string("WebSiteURL", 200, "Website", fmt="Url", de="Website"),
        string("TickerSymbol", 10, "Ticker Symbol"),
        integer("NumberOfEmployees", "Number of Employees", minimum=0, maximum=1_000_000_000),
        money("Revenue", "Annual Revenue", de="Jahresumsatz"),
        money("CreditLimit", "Credit Limit"),
        named(
            picklist(
                "IndustryCode",
                "Industry",
                [
                    option(1, "Accounting", "Buchhaltung"),
                    option(2, "Agriculture"),
                    option(3, "Consulting", "Beratung"),
                    option(4, "Financial", "Finanzwesen"),
                    option(5, "Manufacturing"),
                    option(6, "Retail"),
                    option(7, "Transportation"),
                    option(8, "Wholesale"),
                ],
                de="Branche",
            )
        ),
        named(
            picklist(
                "AccountCategoryCode",
                "Category",
                [option(1, "Preferred Customer", "Bevorzugter Kunde"), option(2, "Standard", "Standard")],
            )
        ),
        named(
            picklist(
                "CustomerTypeCode",
                "Relationship Type",
                [
                    option(1, "Competitor"),
                    option(2, "Consultant"),
                    option(3, "Customer", "Kunde"),
                    option(4, "Investor"),
                    option(5, "Partner"),
                    option(6, "Influencer"),
                    option(7, "Press"),
                    option(8, "Prospect"),
                    option(9, "Reseller"),
                    option(10, "Supplier"),
                    option(11, "Vendor"),
                    option(12, "Other"),
                ],
            )
        ),
        named(
            picklist(
                "PreferredContactMethodCode",
                "Preferred Method of Contact",
                [
                    option(1, "Any"),
                    option(2, "Email"),
                    option(3, "Phone"),
                    option(4, "Fax"),
                    option(5, "Mail"),
                ],
                default=1,
            )
        ),
        _do_not("DoNotEMail", "Do not allow Emails"),
        _do_not("DoNotPhone", "Do not allow Phone Calls"),
        named(boolean("CreditOnHold", "Credit Hold", "Yes", "No")),
        lookup("PrimaryContactId", "Primary Contact", {"contact": "account_primary_contact"}, yomi=True),
        lookup(
            "ParentAccountId",
            "Parent Account",
            {"account": "account_parent_account"},
            name_length=160,
            yomi=True,
            de="Übergeordnete Firma",
        ),
        _address1(),
        system_columns.currency("account"),
        active_inactive(),
        image(),
        system_columns.standard("accountbase", "accounts"),
        de="Firma",
        de_plural="Firmen",
        description="Business that represents a customer or potential customer.",
    )


def contact() -> TablePart:
    return table(
        "Contact",
        "contacts",
        2,
        ("Contact", "Contacts"),
        uniqueidentifier("ContactId", "Contact", primary=True),
        string(
            "FullName",
            160,
            "Full Name",
            de="Vollständiger Name",
            primary_name=True,
            create=False,
            update=False,
        ),
        string("FirstName", 50, "First Name", de="Vorname"),
        string("MiddleName", 50, "Middle Name"),
        string("LastName", 50, "Last Name", de="Nachname", required="ApplicationRequired"),
        string("Salutation", 100, "Salutation"),
        string("JobTitle", 100, "Job Title"),
        string("EMailAddress1", 100, "Email", fmt="Email", de="E-Mail"),
        string("EMailAddress2", 100, "Email Address 2", fmt="Email"),
        string("Telephone1", 50, "Business Phone", fmt="Phone"),
        string("MobilePhone", 50, "Mobile Phone", fmt="Phone"),
        datetime("BirthDate", "Birthday", DateTimeBehavior.DATE_ONLY, de="Geburtstag"),
        named(picklist("GenderCode", "Gender", [option(1, "Male", "Männlich"), option(2, "Female", "Weiblich")])),
        named(
            picklist(
                "FamilyStatusCode",
                "Marital Status",
                [option(1, "Single"), option(2, "Married"), option(3, "Divorced"), option(4, "Widowed")],
            )
        ),
        integer("NumberOfChildren", "No. of Children", minimum=0, maximum=1_000_000_000),
        money("AnnualIncome", "Annual Income"),
        lookup(
            "ParentCustomerId",
            "Company Name",
            {"account": "contact_customer_accounts", "contact": "contact_customer_contacts"},
            kind=AttributeType.CUSTOMER,
            navigation=CUSTOMER_NAVIGATION,
            name_length=160,
            yomi=True,
            type_column="ParentCustomerIdType",
        ),
        _do_not("DoNotEMail", "Do not allow Emails"),
        named(boolean("CreditOnHold", "Credit Hold", "Yes", "No")),
        memo("Description", 2000, "Description", de="Beschreibung"),
        _address1(),
        system_columns.currency("contact"),
        active_inactive(),
        image(),
        system_columns.standard("contactbase", "contacts"),
        de="Kontakt",
        de_plural="Kontakte",
        description="Person with whom a business unit has a relationship, such as a customer or supplier.",
    )


def lead() -> TablePart:
    return table(
        "Lead",
        "leads",
        4,
        ("Lead", "Leads"),
        uniqueidentifier("LeadId", "Lead", primary=True),
        string("FullName", 160, "Name", primary_name=True, create=False, update=False),
        string("Subject", 300, "Topic", de="Thema", required="ApplicationRequired"),
        string("FirstName", 50, "First Name", de="Vorname"),
        string("LastName", 50, "Last Name", de="Nachname", required="ApplicationRequired"),
        string("CompanyName", 100, "Company Name"),
        string("JobTitle", 100, "Job Title"),
        string("EMailAddress1", 100, "Email", fmt="Email"),
        string("Telephone1", 50, "Business Phone", fmt="Phone"),
        string("MobilePhone", 20, "Mobile Phone", fmt="Phone"),
        string("WebSiteUrl", 200, "Website", fmt="Url"),
        named(
            picklist(
                "LeadSourceCode",
                "Lead Source",
                [
                    option(1, "Advertisement"),
                    option(2, "Employee Referral"),
                    option(3, "External Referral"),
                    option(4, "Partner"),
                    option(5, "Public Relations"),
                    option(6, "Seminar"),
                    option(7, "Trade Show"),
                    option(8, "Web"),
                    option(9, "Word of Mouth"),
                    option(10, "Other"),
                ],
            )
        ),
        named(
            picklist(
                "LeadQualityCode",
                "Rating",
                [option(1, "Hot", "Heiß"), option(2, "Warm", "Warm"), option(3, "Cold", "Kalt")],
                default=2,
            )
        ),
        integer("NumberOfEmployees", "No. of Employees", minimum=0, maximum=1_000_000_000),
        money("Revenue", "Annual Revenue"),
        money("EstimatedAmount", "Est. Value"),
        datetime("EstimatedCloseDate", "Est. Close Date", DateTimeBehavior.DATE_ONLY),
        lookup(
            "ParentAccountId",
            "Existing Account",
            {"account": "lead_parent_account"},
            name_length=160,
            yomi=True,
        ),
        lookup("ParentContactId", "Existing Contact", {"contact": "lead_parent_contact"}, yomi=True),
        lookup(
            "CustomerId",
            "Customer",
            {"account": "lead_customer_accounts", "contact": "lead_customer_contacts"},
            kind=AttributeType.CUSTOMER,
            navigation=CUSTOMER_NAVIGATION,
            name_length=160,
            yomi=True,
            type_column="CustomerIdType",
        ),
        lookup(
            "QualifyingOpportunityId",
            "Qualifying Opportunity",
            {"opportunity": "lead_qualifying_opportunity"},
            name_length=300,
        ),
        _do_not("DoNotEMail", "Do not allow Emails"),
        memo("Description", 2000, "Description"),
        system_columns.currency("lead"),
        state_status(
            [state(0, "Open", 1, "Offen"), state(1, "Qualified", 3), state(2, "Disqualified", 4)],
            [
                status(1, "New", 0, "Neu"),
                status(2, "Contacted", 0),
                status(3, "Qualified", 1),
                status(4, "Lost", 2),
                status(5, "Cannot Contact", 2),
                status(6, "No Longer Interested", 2),
                status(7, "Canceled", 2),
            ],
        ),
        system_columns.standard("leadbase", "leads"),
        de="Lead",
        de_plural="Leads",
    )


def opportunity() -> TablePart:
    return table(
        "Opportunity",
        "opportunities",
        3,
        ("Opportunity", "Opportunities"),
        uniqueidentifier("OpportunityId", "Opportunity", primary=True),
        string("Name", 300, "Topic", de="Thema", primary_name=True, required="ApplicationRequired"),
        money("EstimatedValue", "Est. Revenue", de="Gesch. Umsatz"),
        money("ActualValue", "Actual Revenue"),
        money("BudgetAmount", "Budget Amount"),
        datetime("EstimatedCloseDate", "Est. Close Date", DateTimeBehavior.DATE_ONLY),
        datetime("ActualCloseDate", "Actual Close Date", DateTimeBehavior.DATE_ONLY),
        integer("CloseProbability", "Probability", minimum=0, maximum=100),
        lookup(
            "CustomerId",
            "Potential Customer",
            {"account": "opportunity_customer_accounts", "contact": "opportunity_customer_contacts"},
            kind=AttributeType.CUSTOMER,
            navigation=CUSTOMER_NAVIGATION,
            name_length=160,
            yomi=True,
            type_column="CustomerIdType",
        ),
        lookup(
            "ParentAccountId",
            "Account",
            {"account": "opportunity_parent_account"},
            name_length=160,
            yomi=True,
        ),
        lookup("ParentContactId", "Contact", {"contact": "opportunity_parent_contact"}, yomi=True),
        lookup("OriginatingLeadId", "Originating Lead", {"lead": "opportunity_originating_lead"}, yomi=True),
        named(
            picklist(
                "OpportunityRatingCode",
                "Rating",
                [option(1, "Hot"), option(2, "Warm"), option(3, "Cold")],
                default=2,
            )
        ),
        named(
            picklist(
                "SalesStageCode",
                "Process Code",
                [option(0, "Qualify"), option(1, "Develop"), option(2, "Propose"), option(3, "Close")],
            )
        ),
        string("StepName", 200, "Pipeline Phase"),
        memo("Description", 2000, "Description"),
        system_columns.currency("opportunity"),
        state_status(
            [state(0, "Open", 1, "Offen"), state(1, "Won", 3, "Gewonnen"), state(2, "Lost", 4, "Verloren")],
            [
                status(1, "In Progress", 0),
                status(2, "On Hold", 0),
                status(3, "Won", 1),
                status(4, "Canceled", 2),
                status(5, "Out-Sold", 2),
            ],
        ),
        system_columns.standard("opportunitybase", "opportunities"),
        de="Verkaufschance",
        de_plural="Verkaufschancen",
    )
