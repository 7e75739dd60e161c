//! Who the visitor is: customer info, marketing source and personal info. These are
//! the types whose page and history shapes differ by renames (SPEC §3.1).

use super::Shape;
use crate::error::{Errors, Token};
use crate::read::{array, ObjReader};
use crate::scalar::{days_in_month, Channel, Date, Field, Text};
use crate::tape::Node;
use crate::write::{key, JsonOut, WriteJson};

/// `ctmrinfo.info` on the page, `customerInfo.customerInfo` in history.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CustomerInfo {
    /// Page `cstatus`; matched against the account's customer status names, ignoring case.
    pub customer_status: Field<Text>,
    /// Page `ctype`; matched against the account's customer type names, ignoring case.
    pub customer_type: Field<Text>,
    pub balance: Field<Text>,
    pub currency: Field<Text>,
    pub customer_id: Field<Text>,
    pub social_id: Field<Text>,
    pub imei: Field<Text>,
    pub user_name: Field<Text>,
    pub company_size: Field<Text>,
    pub company_branch: Field<Text>,
    pub account_name: Field<Text>,
    pub role: Field<Text>,
    pub last_payment_date: Field<Date>,
    pub registration_date: Field<Date>,
    pub login_status: Field<Text>,
    pub store_zip_code: Field<Text>,
    pub store_number: Field<Text>,
}

impl CustomerInfo {
    pub(crate) fn parse(
        json: Node<'_, '_>,
        shape: Shape,
        errors: &mut Errors,
    ) -> Option<CustomerInfo> {
        let mut r = ObjReader::new(json, errors)?;
        let r = &mut r;
        let info = CustomerInfo {
            customer_status: Field::text(r, shape.key("cstatus", "customerStatus"), errors),
            customer_type: Field::text(r, shape.key("ctype", "customerType"), errors),
            balance: Field::text(r, "balance", errors),
            currency: Field::text_any(r, &["currency", "Currency"], errors),
            customer_id: Field::text(r, "customerId", errors),
            social_id: Field::text(r, "socialId", errors),
            imei: Field::text(r, "imei", errors),
            user_name: Field::text(r, "userName", errors),
            company_size: Field::text(r, "companySize", errors),
            company_branch: Field::text(r, "companyBranch", errors),
            account_name: Field::text(r, "accountName", errors),
            role: Field::text(r, "role", errors),
            last_payment_date: Field::read(r, &["lastPaymentDate"], errors, Date::parse),
            registration_date: Field::read(r, &["registrationDate"], errors, Date::parse),
            login_status: Field::flag(r, "loginStatus", errors),
            store_zip_code: Field::text(r, "storeZipCode", errors),
            store_number: Field::text(r, "storeNumber", errors),
        };
        let expected = match shape {
            Shape::Page => "a customer info field (`cstatus`, `ctype`, `balance`, `customerId`, ...)",
            Shape::History => {
                "a customer info field (`customerStatus`, `customerType`, `balance`, `customerId`, ...)"
            }
        };
        r.finish(errors, expected);
        Some(info)
    }

    /// Later reports overwrite the fields they carry (SPEC §3.3).
    pub fn merge(&mut self, later: CustomerInfo) {
        self.customer_status.merge(later.customer_status);
        self.customer_type.merge(later.customer_type);
        self.balance.merge(later.balance);
        self.currency.merge(later.currency);
        self.customer_id.merge(later.customer_id);
        self.social_id.merge(later.social_id);
        self.imei.merge(later.imei);
        self.user_name.merge(later.user_name);
        self.company_size.merge(later.company_size);
        self.company_branch.merge(later.company_branch);
        self.account_name.merge(later.account_name);
        self.role.merge(later.role);
        self.last_payment_date.merge(later.last_payment_date);
        self.registration_date.merge(later.registration_date);
        self.login_status.merge(later.login_status);
        self.store_zip_code.merge(later.store_zip_code);
        self.store_number.merge(later.store_number);
    }
}

/// `mrktInfo.info` on the page, `marketingCampaignInfo.marketingCampaignInfo` in history.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MarketingInfo {
    /// Page `channel`.
    pub originating_channel: Field<Channel>,
    pub affiliate: Field<Text>,
    pub campaign_id: Field<Text>,
}

impl MarketingInfo {
    pub(crate) fn parse(
        json: Node<'_, '_>,
        shape: Shape,
        errors: &mut Errors,
    ) -> Option<MarketingInfo> {
        let mut r = ObjReader::new(json, errors)?;
        let channel_key = shape.key("channel", "originatingChannel");
        let info = MarketingInfo {
            originating_channel: Field::read(&mut r, &[channel_key], errors, Channel::parse),
            affiliate: Field::text(&mut r, "affiliate", errors),
            campaign_id: Field::text(&mut r, "campaignId", errors),
        };
        let expected = match shape {
            Shape::Page => "`channel`, `affiliate` or `campaignId`",
            Shape::History => "`originatingChannel`, `affiliate` or `campaignId`",
        };
        r.finish(errors, expected);
        Some(info)
    }

    pub fn merge(&mut self, later: MarketingInfo) {
        self.originating_channel.merge(later.originating_channel);
        self.affiliate.merge(later.affiliate);
        self.campaign_id.merge(later.campaign_id);
    }
}

/// `personal.personal` on the page, `personalInfo.personalInfo` in history.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PersonalInfo {
    /// Page `firstname`.
    pub name: Field<Text>,
    /// Page `lastname`.
    pub surname: Field<Text>,
    /// Page `age`.
    pub customer_age: Field<Age>,
    /// Each contact is wrapped as `{"personalContact": {...}}` in history.
    pub contacts: Field<Vec<Contact>>,
    pub gender: Field<Text>,
    pub company: Field<Text>,
    pub language: Field<Text>,
}

impl PersonalInfo {
    pub(crate) fn parse(
        json: Node<'_, '_>,
        shape: Shape,
        errors: &mut Errors,
    ) -> Option<PersonalInfo> {
        let mut r = ObjReader::new(json, errors)?;
        let r = &mut r;
        let info = PersonalInfo {
            name: Field::text(r, shape.key("firstname", "name"), errors),
            surname: Field::text(r, shape.key("lastname", "surname"), errors),
            customer_age: Field::read(r, &[shape.key("age", "customerAge")], errors, |j, e| {
                Age::parse(j, shape, e)
            }),
            contacts: Field::read(r, &["contacts"], errors, |j, e| {
                array(j, e, |c, e| Contact::parse(c, shape, e))
            }),
            gender: Field::text(r, "gender", errors),
            company: Field::text(r, "company", errors),
            language: Field::text(r, "language", errors),
        };
        let expected = match shape {
            Shape::Page => {
                "`firstname`, `lastname`, `age`, `contacts`, `gender`, `company` or `language`"
            }
            Shape::History => {
                "`name`, `surname`, `customerAge`, `contacts`, `gender`, `company` or `language`"
            }
        };
        r.finish(errors, expected);
        Some(info)
    }

    pub fn merge(&mut self, later: PersonalInfo) {
        self.name.merge(later.name);
        self.surname.merge(later.surname);
        self.customer_age.merge(later.customer_age);
        self.contacts.merge(later.contacts);
        self.gender.merge(later.gender);
        self.company.merge(later.company);
        self.language.merge(later.language);
    }
}

/// Page `age{age, year, month, day}`, history
/// `customerAge{customerAgeInYears, customerYearOfBirth, customerMonthOfBirth, customerDateOfBirth}`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Age {
    pub in_years: Field<Text>,
    pub year_of_birth: Field<Text>,
    pub month_of_birth: Field<Text>,
    pub day_of_birth: Field<Text>,
}

impl Age {
    fn parse(json: Node<'_, '_>, shape: Shape, errors: &mut Errors) -> Option<Age> {
        let mut r = ObjReader::new(json, errors)?;
        let keys = [
            shape.key("age", "customerAgeInYears"),
            shape.key("year", "customerYearOfBirth"),
            shape.key("month", "customerMonthOfBirth"),
            shape.key("day", "customerDateOfBirth"),
        ];
        let age = Age {
            in_years: Field::text(&mut r, keys[0], errors),
            year_of_birth: Field::text(&mut r, keys[1], errors),
            month_of_birth: Field::text(&mut r, keys[2], errors),
            day_of_birth: Field::text(&mut r, keys[3], errors),
        };
        r.finish(
            errors,
            format_args!(
                "`{}`, `{}`, `{}` or `{}`",
                keys[0], keys[1], keys[2], keys[3]
            ),
        );
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

/// One way to reach the visitor: history wraps it as `{"personalContact": {...}}`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Contact {
    pub email: Field<Text>,
    pub phone: Field<Text>,
    pub phone_type: Field<Text>,
    pub address: Field<Address>,
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
        let mut r = ObjReader::new(json, errors)?;
        let contact = Contact {
            email: Field::text(&mut r, "email", errors),
            phone: Field::text(&mut r, "phone", errors),
            phone_type: Field::text(&mut r, "phoneType", errors),
            address: Field::read(&mut r, &["address"], errors, Address::parse),
        };
        r.finish(errors, "`email`, `phone`, `phoneType` or `address`");
        Some(contact)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Address {
    pub country: Field<Text>,
    pub region: Field<Text>,
}

impl Address {
    fn parse(json: Node<'_, '_>, errors: &mut Errors) -> Option<Address> {
        let mut r = ObjReader::new(json, errors)?;
        let address = Address {
            country: Field::text(&mut r, "country", errors),
            region: Field::text(&mut r, "region", errors),
        };
        r.finish(errors, "`country` or `region`");
        Some(address)
    }
}

impl WriteJson for CustomerInfo {
    fn write_json(&self, out: &mut JsonOut<'_>) {
        out.object(|o| {
            self.customer_status.write_member(key!("customerStatus"), o);
            self.customer_type.write_member(key!("customerType"), o);
            self.balance.write_member(key!("balance"), o);
            self.currency.write_member(key!("currency"), o);
            self.customer_id.write_member(key!("customerId"), o);
            self.social_id.write_member(key!("socialId"), o);
            self.imei.write_member(key!("imei"), o);
            self.user_name.write_member(key!("userName"), o);
            self.company_size.write_member(key!("companySize"), o);
            self.company_branch.write_member(key!("companyBranch"), o);
            self.account_name.write_member(key!("accountName"), o);
            self.role.write_member(key!("role"), o);
            self.last_payment_date
                .write_member(key!("lastPaymentDate"), o);
            self.registration_date
                .write_member(key!("registrationDate"), o);
            self.login_status.write_member(key!("loginStatus"), o);
            self.store_zip_code.write_member(key!("storeZipCode"), o);
            self.store_number.write_member(key!("storeNumber"), o);
        });
    }
}

impl WriteJson for MarketingInfo {
    fn write_json(&self, out: &mut JsonOut<'_>) {
        out.object(|o| {
            self.originating_channel
                .write_member(key!("originatingChannel"), o);
            self.affiliate.write_member(key!("affiliate"), o);
            self.campaign_id.write_member(key!("campaignId"), o);
        });
    }
}

impl WriteJson for PersonalInfo {
    fn write_json(&self, out: &mut JsonOut<'_>) {
        out.object(|o| {
            self.name.write_member(key!("name"), o);
            self.surname.write_member(key!("surname"), o);
            self.customer_age.write_member(key!("customerAge"), o);
            self.contacts.write_member(key!("contacts"), o);
            self.gender.write_member(key!("gender"), o);
            self.company.write_member(key!("company"), o);
            self.language.write_member(key!("language"), o);
        });
    }
}

impl WriteJson for Age {
    fn write_json(&self, out: &mut JsonOut<'_>) {
        out.object(|o| {
            self.in_years.write_member(key!("customerAgeInYears"), o);
            self.year_of_birth
                .write_member(key!("customerYearOfBirth"), o);
            self.month_of_birth
                .write_member(key!("customerMonthOfBirth"), o);
            self.day_of_birth
                .write_member(key!("customerDateOfBirth"), o);
        });
    }
}

impl WriteJson for Contact {
    /// History wraps each contact: `{"personalContact": {...}}`.
    fn write_json(&self, out: &mut JsonOut<'_>) {
        out.object(|o| {
            o.key(key!("personalContact"));
            o.object(|o| {
                self.email.write_member(key!("email"), o);
                self.phone.write_member(key!("phone"), o);
                self.phone_type.write_member(key!("phoneType"), o);
                self.address.write_member(key!("address"), o);
            });
        });
    }
}

impl WriteJson for Address {
    fn write_json(&self, out: &mut JsonOut<'_>) {
        out.object(|o| {
            self.country.write_member(key!("country"), o);
            self.region.write_member(key!("region"), o);
        });
    }
}
