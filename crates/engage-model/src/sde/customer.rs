//! Who the visitor is: customer info, marketing source and personal info. These are
//! the types whose page and history shapes differ by renames (docs/vocabulary.md,
//! Renames).

use super::fields::{declare, object};
use super::Shape;
use crate::error::{Errors, Token};
use crate::read::{array, ObjReader};
use crate::scalar::{days_in_month, Channel, Date, Field, Text};
use crate::tape::Node;

declare! {
    /// `ctmrinfo.info` on the page, `customerInfo.customerInfo` in history.
    #[derive(Debug, Clone, PartialEq, Eq, Default)]
    pub struct CustomerInfo(shape) {
        /// Page `cstatus`; matched against the account's customer status names, ignoring case.
        pub customer_status: Field<Text> = text("cstatus" / "customerStatus"),
        /// Page `ctype`; matched against the account's customer type names, ignoring case.
        pub customer_type: Field<Text> = text("ctype" / "customerType"),
        pub balance: Field<Text> = text("balance"),
        pub currency: Field<Text> = text("currency" | "Currency"),
        pub customer_id: Field<Text> = text("customerId"),
        pub social_id: Field<Text> = text("socialId"),
        pub imei: Field<Text> = text("imei"),
        pub user_name: Field<Text> = text("userName"),
        pub company_size: Field<Text> = text("companySize"),
        pub company_branch: Field<Text> = text("companyBranch"),
        pub account_name: Field<Text> = text("accountName"),
        pub role: Field<Text> = text("role"),
        pub last_payment_date: Field<Date> = read("lastPaymentDate", Date::parse),
        pub registration_date: Field<Date> = read("registrationDate", Date::parse),
        pub login_status: Field<Text> = flag("loginStatus"),
        pub store_zip_code: Field<Text> = text("storeZipCode"),
        pub store_number: Field<Text> = text("storeNumber"),
    }
    // Seventeen members are too many for one message: it names the usual ones.
    expected: match shape {
        Shape::Page => "a customer info field (`cstatus`, `ctype`, `balance`, `customerId`, ...)",
        Shape::History => {
            "a customer info field (`customerStatus`, `customerType`, `balance`, `customerId`, ...)"
        }
    };
    merge: merge;
}

impl CustomerInfo {
    pub(crate) fn parse(
        json: Node<'_, '_>,
        shape: Shape,
        errors: &mut Errors,
    ) -> Option<CustomerInfo> {
        object(json, errors, CustomerInfo::fields(shape), |r, e| {
            CustomerInfo::read(r, shape, e)
        })
    }
}

declare! {
    /// `mrktInfo.info` on the page, `marketingCampaignInfo.marketingCampaignInfo` in history.
    #[derive(Debug, Clone, PartialEq, Eq, Default)]
    pub struct MarketingInfo(shape) {
        /// Page `channel`.
        pub originating_channel: Field<Channel> =
            read("channel" / "originatingChannel", Channel::parse),
        pub affiliate: Field<Text> = text("affiliate"),
        pub campaign_id: Field<Text> = text("campaignId"),
    }
    merge: merge;
}

impl MarketingInfo {
    pub(crate) fn parse(
        json: Node<'_, '_>,
        shape: Shape,
        errors: &mut Errors,
    ) -> Option<MarketingInfo> {
        object(json, errors, MarketingInfo::fields(shape), |r, e| {
            MarketingInfo::read(r, shape, e)
        })
    }
}

declare! {
    /// `personal.personal` on the page, `personalInfo.personalInfo` in history.
    #[derive(Debug, Clone, PartialEq, Eq, Default)]
    pub struct PersonalInfo(shape) {
        /// Page `firstname`.
        pub name: Field<Text> = text("firstname" / "name"),
        /// Page `lastname`.
        pub surname: Field<Text> = text("lastname" / "surname"),
        /// Page `age`.
        pub customer_age: Field<Age> =
            read("age" / "customerAge", |j, e| Age::parse(j, shape, e)),
        /// Each contact is wrapped as `{"personalContact": {...}}` in history.
        pub contacts: Field<Vec<Contact>> =
            read("contacts", |j, e| array(j, e, |c, e| Contact::parse(c, shape, e))),
        pub gender: Field<Text> = text("gender"),
        pub company: Field<Text> = text("company"),
        pub language: Field<Text> = text("language"),
    }
    merge: merge;
}

impl PersonalInfo {
    pub(crate) fn parse(
        json: Node<'_, '_>,
        shape: Shape,
        errors: &mut Errors,
    ) -> Option<PersonalInfo> {
        object(json, errors, PersonalInfo::fields(shape), |r, e| {
            PersonalInfo::read(r, shape, e)
        })
    }
}

declare! {
    /// Page `age{age, year, month, day}`, history
    /// `customerAge{customerAgeInYears, customerYearOfBirth, customerMonthOfBirth, customerDateOfBirth}`.
    #[derive(Debug, Clone, PartialEq, Eq, Default)]
    pub struct Age(shape) {
        pub in_years: Field<Text> = text("age" / "customerAgeInYears"),
        pub year_of_birth: Field<Text> = text("year" / "customerYearOfBirth"),
        pub month_of_birth: Field<Text> = text("month" / "customerMonthOfBirth"),
        pub day_of_birth: Field<Text> = text("day" / "customerDateOfBirth"),
    }
    names: keys;
}

impl Age {
    fn parse(json: Node<'_, '_>, shape: Shape, errors: &mut Errors) -> Option<Age> {
        let age = object(json, errors, Age::fields(shape), |r, e| {
            Age::read(r, shape, e)
        })?;
        let keys = Age::keys(shape);
        // A birth date may be partial, but what it gives must be possible.
        let number = |f: &Field<Text>| f.text_value().map(|t| t.trim().parse::<u16>());
        let year = match number(&age.year_of_birth) {
            Some(Ok(y)) if (1..=9999).contains(&y) => Some(y),
            Some(_) => {
                errors.nested(Token::Key(keys[1]), |e| {
                    e.here("expected a year of birth 1-9999")
                });
                None
            }
            None => None,
        };
        let month = match number(&age.month_of_birth) {
            Some(Ok(m)) if (1..=12).contains(&m) => Some(m as u8),
            Some(_) => {
                errors.nested(Token::Key(keys[2]), |e| {
                    e.here("expected a month of birth 1-12")
                });
                None
            }
            None => None,
        };
        let max_day = match month {
            Some(m) => days_in_month(year.unwrap_or(2000), m),
            None => 31,
        };
        match number(&age.day_of_birth) {
            Some(Ok(d)) if d >= 1 && d <= u16::from(max_day) => {}
            Some(_) => errors.nested(Token::Key(keys[3]), |e| {
                e.here(format!("expected a day of birth 1-{max_day}"))
            }),
            None => {}
        }
        Some(age)
    }
}

declare! {
    /// One way to reach the visitor: history wraps it as `{"personalContact": {...}}`.
    #[derive(Debug, Clone, PartialEq, Eq, Default)]
    pub struct Contact in "personalContact" {
        pub email: Field<Text> = text("email"),
        pub phone: Field<Text> = text("phone"),
        pub phone_type: Field<Text> = text("phoneType"),
        pub address: Field<Address> = read("address", Address::parse),
    }
}

impl Contact {
    fn parse(json: Node<'_, '_>, shape: Shape, errors: &mut Errors) -> Option<Contact> {
        match shape {
            Shape::Page => Contact::parse_fields(json, errors),
            Shape::History => {
                let mut r = ObjReader::new(json, errors)?;
                let contact = r.field("personalContact", errors, Contact::parse_fields);
                let missing = contact.is_none() && json.get("personalContact").is_none();
                r.finish(errors, "`personalContact`");
                if missing {
                    errors.here("missing `personalContact`");
                }
                contact
            }
        }
    }

    fn parse_fields(json: Node<'_, '_>, errors: &mut Errors) -> Option<Contact> {
        object(json, errors, Contact::FIELDS, Contact::read)
    }
}

declare! {
    #[derive(Debug, Clone, PartialEq, Eq, Default)]
    pub struct Address {
        pub country: Field<Text> = text("country"),
        pub region: Field<Text> = text("region"),
    }
}

impl Address {
    fn parse(json: Node<'_, '_>, errors: &mut Errors) -> Option<Address> {
        object(json, errors, Address::FIELDS, Address::read)
    }
}
