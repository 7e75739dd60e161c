//! The attribute paths targeting conditions name, and reading their values out of a
//! visit's merged attribute state ([`VisitSdes`]).
//!
//! A path is written in the Engagement History API's names: the history key, then the
//! fields (`cartStatus.total`, `customerInfo.customerType`,
//! `viewedProduct.products.product.category`). The inner object that the nested types
//! repeat in history (`customerInfo.customerInfo`) is left out. Lists are looked through:
//! a path under a list (products, contacts, keywords, the appended types) has one value
//! per entry, and a condition holds when it holds for any of them.
//!
//! Paths are checked when a rule is written and compiled to [`SdePath`], so reading a
//! value at decision time is a match on enums, never a lookup by name.

use std::sync::LazyLock;

use engage_model::scalar::{Field, Text};
use engage_model::sde::{
    Cart, CustomerInfo, Lead, MarketingInfo, PersonalInfo, ProductLine, Purchase, ServiceActivity,
    ViewedProduct, VisitorError,
};
use engage_model::VisitSdes;

/// A value visitor: answers whether the value it was given satisfies the condition.
pub type Visitor<'f> = &'f mut dyn FnMut(&str) -> bool;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SdePath {
    Cart(CartField),
    Purchase(PurchaseField),
    ViewedProduct(ViewedField),
    CustomerInfo(CustomerField),
    Marketing(MarketingField),
    Personal(PersonalField),
    Lead(LeadField),
    Service(ServiceField),
    VisitorError(ErrorField),
    SearchKeywords,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProductField {
    Name,
    Category,
    Sku,
    Price,
    StatusInStock,
    QuantityInStock,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineField {
    Product(ProductField),
    Quantity,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CartField {
    Total,
    Currency,
    NumItems,
    Products(LineField),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PurchaseField {
    Total,
    Currency,
    OrderId,
    Cart(CartField),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViewedField {
    Currency,
    Products(LineField),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatePart {
    Year,
    Month,
    Day,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CustomerField {
    CustomerStatus,
    CustomerType,
    Balance,
    Currency,
    CustomerId,
    SocialId,
    Imei,
    UserName,
    CompanySize,
    CompanyBranch,
    AccountName,
    Role,
    LoginStatus,
    StoreZipCode,
    StoreNumber,
    LastPaymentDate(DatePart),
    RegistrationDate(DatePart),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarketingField {
    OriginatingChannel,
    Affiliate,
    CampaignId,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PersonalField {
    Name,
    Surname,
    Gender,
    Company,
    Language,
    AgeInYears,
    YearOfBirth,
    MonthOfBirth,
    DateOfBirth,
    Email,
    Phone,
    PhoneType,
    Country,
    Region,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeadField {
    Topic,
    Value,
    Currency,
    LeadId,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceField {
    Topic,
    Status,
    Category,
    ServiceId,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorField {
    ContextId,
    Message,
    Code,
    Level,
    Resolved,
}

const PRODUCT_FIELDS: [(&str, ProductField); 6] = [
    ("name", ProductField::Name),
    ("category", ProductField::Category),
    ("sku", ProductField::Sku),
    ("price", ProductField::Price),
    ("statusInStock", ProductField::StatusInStock),
    ("quantityInStock", ProductField::QuantityInStock),
];

const DATE_PARTS: [(&str, DatePart); 3] = [
    ("year", DatePart::Year),
    ("month", DatePart::Month),
    ("day", DatePart::Day),
];

fn line_paths(prefix: &str, out: &mut Vec<(String, LineField)>) {
    for (name, field) in PRODUCT_FIELDS {
        out.push((
            format!("{prefix}.products.product.{name}"),
            LineField::Product(field),
        ));
    }
    out.push((format!("{prefix}.products.quantity"), LineField::Quantity));
}

fn cart_paths(prefix: &str) -> Vec<(String, CartField)> {
    let mut out = vec![
        (format!("{prefix}.total"), CartField::Total),
        (format!("{prefix}.currency"), CartField::Currency),
        (format!("{prefix}.numItems"), CartField::NumItems),
    ];
    let mut lines = Vec::new();
    line_paths(prefix, &mut lines);
    out.extend(lines.into_iter().map(|(p, l)| (p, CartField::Products(l))));
    out
}

fn build_paths() -> Vec<(String, SdePath)> {
    let mut out: Vec<(String, SdePath)> = Vec::new();
    out.extend(
        cart_paths("cartStatus")
            .into_iter()
            .map(|(p, f)| (p, SdePath::Cart(f))),
    );
    for (name, field) in [
        ("total", PurchaseField::Total),
        ("currency", PurchaseField::Currency),
        ("orderId", PurchaseField::OrderId),
    ] {
        out.push((format!("purchase.{name}"), SdePath::Purchase(field)));
    }
    out.extend(
        cart_paths("purchase.cart")
            .into_iter()
            .map(|(p, f)| (p, SdePath::Purchase(PurchaseField::Cart(f)))),
    );
    out.push((
        "viewedProduct.currency".into(),
        SdePath::ViewedProduct(ViewedField::Currency),
    ));
    let mut lines = Vec::new();
    line_paths("viewedProduct", &mut lines);
    out.extend(
        lines
            .into_iter()
            .map(|(p, l)| (p, SdePath::ViewedProduct(ViewedField::Products(l)))),
    );
    use CustomerField as C;
    for (name, field) in [
        ("customerStatus", C::CustomerStatus),
        ("customerType", C::CustomerType),
        ("balance", C::Balance),
        ("currency", C::Currency),
        ("customerId", C::CustomerId),
        ("socialId", C::SocialId),
        ("imei", C::Imei),
        ("userName", C::UserName),
        ("companySize", C::CompanySize),
        ("companyBranch", C::CompanyBranch),
        ("accountName", C::AccountName),
        ("role", C::Role),
        ("loginStatus", C::LoginStatus),
        ("storeZipCode", C::StoreZipCode),
        ("storeNumber", C::StoreNumber),
    ] {
        out.push((format!("customerInfo.{name}"), SdePath::CustomerInfo(field)));
    }
    for (part_name, part) in DATE_PARTS {
        out.push((
            format!("customerInfo.lastPaymentDate.{part_name}"),
            SdePath::CustomerInfo(C::LastPaymentDate(part)),
        ));
        out.push((
            format!("customerInfo.registrationDate.{part_name}"),
            SdePath::CustomerInfo(C::RegistrationDate(part)),
        ));
    }
    for (name, field) in [
        ("originatingChannel", MarketingField::OriginatingChannel),
        ("affiliate", MarketingField::Affiliate),
        ("campaignId", MarketingField::CampaignId),
    ] {
        out.push((
            format!("marketingCampaignInfo.{name}"),
            SdePath::Marketing(field),
        ));
    }
    use PersonalField as P;
    for (name, field) in [
        ("name", P::Name),
        ("surname", P::Surname),
        ("gender", P::Gender),
        ("company", P::Company),
        ("language", P::Language),
        ("customerAge.customerAgeInYears", P::AgeInYears),
        ("customerAge.customerYearOfBirth", P::YearOfBirth),
        ("customerAge.customerMonthOfBirth", P::MonthOfBirth),
        ("customerAge.customerDateOfBirth", P::DateOfBirth),
        ("contacts.personalContact.email", P::Email),
        ("contacts.personalContact.phone", P::Phone),
        ("contacts.personalContact.phoneType", P::PhoneType),
        ("contacts.personalContact.address.country", P::Country),
        ("contacts.personalContact.address.region", P::Region),
    ] {
        out.push((format!("personalInfo.{name}"), SdePath::Personal(field)));
    }
    for (name, field) in [
        ("topic", LeadField::Topic),
        ("value", LeadField::Value),
        ("currency", LeadField::Currency),
        ("leadId", LeadField::LeadId),
    ] {
        out.push((format!("lead.{name}"), SdePath::Lead(field)));
    }
    for (name, field) in [
        ("topic", ServiceField::Topic),
        ("status", ServiceField::Status),
        ("category", ServiceField::Category),
        ("serviceId", ServiceField::ServiceId),
    ] {
        out.push((format!("serviceActivity.{name}"), SdePath::Service(field)));
    }
    for (name, field) in [
        ("contextId", ErrorField::ContextId),
        ("message", ErrorField::Message),
        ("code", ErrorField::Code),
        ("level", ErrorField::Level),
        ("resolved", ErrorField::Resolved),
    ] {
        out.push((format!("visitorError.{name}"), SdePath::VisitorError(field)));
    }
    out.push(("searchContent.keywords".into(), SdePath::SearchKeywords));
    out
}

static PATHS: LazyLock<Vec<(String, SdePath)>> = LazyLock::new(build_paths);

const ROOTS: &str = "`cartStatus`, `purchase`, `viewedProduct`, `customerInfo`, `marketingCampaignInfo`, `personalInfo`, `lead`, `serviceActivity`, `visitorError` or `searchContent`";

/// Small codes as text, so that value sets compare like the text the page sent.
const CODES: [&str; 14] = [
    "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13",
];

impl SdePath {
    /// Every path, in documentation order.
    pub fn all() -> impl Iterator<Item = (&'static str, SdePath)> {
        PATHS.iter().map(|(name, path)| (name.as_str(), *path))
    }

    /// The path named `name`, or a message saying what the names look like.
    pub fn parse(name: &str) -> Result<SdePath, String> {
        if let Some((_, path)) = PATHS.iter().find(|(n, _)| n == name) {
            return Ok(*path);
        }
        let root = name.split('.').next().unwrap_or(name);
        let under: Vec<&str> = PATHS
            .iter()
            .filter_map(|(n, _)| n.strip_prefix(root).and_then(|r| r.strip_prefix('.')))
            .collect();
        if under.is_empty() {
            Err(format!(
                "unknown SDE path `{name}`: a path starts with {ROOTS} (history names, e.g. `cartStatus.total`)"
            ))
        } else {
            Err(format!(
                "unknown SDE path `{name}`: under `{root}` the paths are {}",
                under
                    .iter()
                    .map(|p| format!("`{p}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        }
    }

    /// The path's name, as [`SdePath::parse`] reads it.
    pub fn name(self) -> &'static str {
        PATHS
            .iter()
            .find(|(_, p)| *p == self)
            .map(|(n, _)| n.as_str())
            .unwrap_or("")
    }

    /// Whether `f` accepts any of the path's values in `sdes`; `false` when it has none.
    pub fn any(self, sdes: &VisitSdes, f: Visitor<'_>) -> bool {
        match self {
            SdePath::Cart(field) => sdes.cart.as_ref().is_some_and(|c| cart(c, field, f)),
            SdePath::Purchase(field) => sdes.purchases.iter().any(|p| purchase(p, field, f)),
            SdePath::ViewedProduct(field) => {
                sdes.viewed_products.iter().any(|v| viewed(v, field, f))
            }
            SdePath::CustomerInfo(field) => sdes
                .customer_info
                .as_ref()
                .is_some_and(|c| customer(c, field, f)),
            SdePath::Marketing(field) => sdes
                .marketing_info
                .as_ref()
                .is_some_and(|m| marketing(m, field, f)),
            SdePath::Personal(field) => sdes
                .personal_info
                .as_ref()
                .is_some_and(|p| personal(p, field, f)),
            SdePath::Lead(field) => sdes.leads.iter().any(|l| lead(l, field, f)),
            SdePath::Service(field) => sdes.service_activities.iter().any(|s| service(s, field, f)),
            SdePath::VisitorError(field) => sdes
                .visitor_errors
                .iter()
                .any(|e| visitor_error(e, field, f)),
            SdePath::SearchKeywords => sdes.searches.iter().any(|s| {
                s.keywords
                    .as_set()
                    .is_some_and(|keywords| keywords.iter().any(|k| f(k.as_str())))
            }),
        }
    }
}

fn text(field: &Field<Text>, f: Visitor<'_>) -> bool {
    field.text_value().is_some_and(f)
}

fn number(n: u16, f: Visitor<'_>) -> bool {
    match CODES.get(usize::from(n)) {
        Some(code) => f(code),
        None => f(&n.to_string()),
    }
}

fn lines(products: &Field<Vec<ProductLine>>, field: LineField, f: Visitor<'_>) -> bool {
    let Some(lines) = products.as_set() else {
        return false;
    };
    lines.iter().any(|line| match field {
        LineField::Quantity => text(&line.quantity, f),
        LineField::Product(p) => line.product.as_set().is_some_and(|product| {
            let value = match p {
                ProductField::Name => &product.name,
                ProductField::Category => &product.category,
                ProductField::Sku => &product.sku,
                ProductField::Price => &product.price,
                ProductField::StatusInStock => &product.status_in_stock,
                ProductField::QuantityInStock => &product.quantity_in_stock,
            };
            text(value, f)
        }),
    })
}

fn cart(c: &Cart, field: CartField, f: Visitor<'_>) -> bool {
    match field {
        CartField::Total => text(&c.total, f),
        CartField::Currency => text(&c.currency, f),
        CartField::NumItems => text(&c.num_items, f),
        CartField::Products(line) => lines(&c.products, line, f),
    }
}

fn purchase(p: &Purchase, field: PurchaseField, f: Visitor<'_>) -> bool {
    match field {
        PurchaseField::Total => text(&p.total, f),
        PurchaseField::Currency => text(&p.currency, f),
        PurchaseField::OrderId => text(&p.order_id, f),
        PurchaseField::Cart(c) => p.cart.as_set().is_some_and(|inner| cart(inner, c, f)),
    }
}

fn viewed(v: &ViewedProduct, field: ViewedField, f: Visitor<'_>) -> bool {
    match field {
        ViewedField::Currency => text(&v.currency, f),
        ViewedField::Products(line) => lines(&v.products, line, f),
    }
}

fn customer(c: &CustomerInfo, field: CustomerField, f: Visitor<'_>) -> bool {
    use CustomerField as C;
    let value = match field {
        C::CustomerStatus => &c.customer_status,
        C::CustomerType => &c.customer_type,
        C::Balance => &c.balance,
        C::Currency => &c.currency,
        C::CustomerId => &c.customer_id,
        C::SocialId => &c.social_id,
        C::Imei => &c.imei,
        C::UserName => &c.user_name,
        C::CompanySize => &c.company_size,
        C::CompanyBranch => &c.company_branch,
        C::AccountName => &c.account_name,
        C::Role => &c.role,
        C::LoginStatus => &c.login_status,
        C::StoreZipCode => &c.store_zip_code,
        C::StoreNumber => &c.store_number,
        C::LastPaymentDate(part) | C::RegistrationDate(part) => {
            let date = match field {
                C::LastPaymentDate(_) => &c.last_payment_date,
                _ => &c.registration_date,
            };
            return date.as_set().is_some_and(|d| match part {
                DatePart::Year => number(d.year, f),
                DatePart::Month => number(u16::from(d.month), f),
                DatePart::Day => number(u16::from(d.day), f),
            });
        }
    };
    text(value, f)
}

fn marketing(m: &MarketingInfo, field: MarketingField, f: Visitor<'_>) -> bool {
    match field {
        MarketingField::OriginatingChannel => m
            .originating_channel
            .as_set()
            .is_some_and(|c| number(u16::from(c.code()), f)),
        MarketingField::Affiliate => text(&m.affiliate, f),
        MarketingField::CampaignId => text(&m.campaign_id, f),
    }
}

fn personal(p: &PersonalInfo, field: PersonalField, f: Visitor<'_>) -> bool {
    use PersonalField as P;
    match field {
        P::Name => text(&p.name, f),
        P::Surname => text(&p.surname, f),
        P::Gender => text(&p.gender, f),
        P::Company => text(&p.company, f),
        P::Language => text(&p.language, f),
        P::AgeInYears | P::YearOfBirth | P::MonthOfBirth | P::DateOfBirth => {
            p.customer_age.as_set().is_some_and(|age| {
                let value = match field {
                    P::AgeInYears => &age.in_years,
                    P::YearOfBirth => &age.year_of_birth,
                    P::MonthOfBirth => &age.month_of_birth,
                    _ => &age.day_of_birth,
                };
                text(value, f)
            })
        }
        P::Email | P::Phone | P::PhoneType | P::Country | P::Region => {
            p.contacts.as_set().is_some_and(|contacts| {
                contacts.iter().any(|c| match field {
                    P::Email => text(&c.email, f),
                    P::Phone => text(&c.phone, f),
                    P::PhoneType => text(&c.phone_type, f),
                    P::Country => c.address.as_set().is_some_and(|a| text(&a.country, f)),
                    _ => c.address.as_set().is_some_and(|a| text(&a.region, f)),
                })
            })
        }
    }
}

fn lead(l: &Lead, field: LeadField, f: Visitor<'_>) -> bool {
    match field {
        LeadField::Topic => text(&l.topic, f),
        LeadField::Value => text(&l.value, f),
        LeadField::Currency => text(&l.currency, f),
        LeadField::LeadId => text(&l.lead_id, f),
    }
}

fn service(s: &ServiceActivity, field: ServiceField, f: Visitor<'_>) -> bool {
    match field {
        ServiceField::Topic => text(&s.topic, f),
        ServiceField::Status => s
            .status
            .as_set()
            .is_some_and(|status| number(u16::from(status.code()), f)),
        ServiceField::Category => text(&s.category, f),
        ServiceField::ServiceId => text(&s.service_id, f),
    }
}

fn visitor_error(e: &VisitorError, field: ErrorField, f: Visitor<'_>) -> bool {
    let value = match field {
        ErrorField::ContextId => &e.context_id,
        ErrorField::Message => &e.message,
        ErrorField::Code => &e.code,
        ErrorField::Level => &e.level,
        ErrorField::Resolved => &e.resolved,
    };
    text(value, f)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use engage_model::{Sde, Tape};

    fn state(page_sdes: &[&str]) -> VisitSdes {
        page_sdes.iter().fold(VisitSdes::default(), |s, text| {
            s.with(Sde::read_page(Tape::parse_str(text).unwrap().root()).unwrap())
        })
    }

    fn values(path: &str, sdes: &VisitSdes) -> Vec<String> {
        let mut out = Vec::new();
        SdePath::parse(path).unwrap().any(sdes, &mut |v| {
            out.push(v.to_owned());
            false
        });
        out
    }

    #[test]
    fn every_path_parses_back_to_itself_and_names_are_unique() {
        let all: Vec<_> = SdePath::all().collect();
        assert!(all.len() > 80, "{}", all.len());
        for (name, path) in &all {
            assert_eq!(SdePath::parse(name), Ok(*path), "{name}");
            assert_eq!(path.name(), *name);
        }
        let mut names: Vec<_> = all.iter().map(|(n, _)| *n).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), all.len());
    }

    #[test]
    fn unknown_paths_say_what_exists() {
        let e = SdePath::parse("cart.total").unwrap_err();
        assert!(e.contains("`cartStatus`"), "{e}");
        let e = SdePath::parse("cartStatus.totl").unwrap_err();
        assert!(
            e.contains("`total`") && e.contains("`products.product.category`"),
            "{e}"
        );
        assert!(SdePath::parse("customerInfo.customerInfo.customerType").is_err());
        assert!(SdePath::parse("").is_err());
    }

    #[test]
    fn values_come_from_the_merged_state_and_through_lists() {
        let sdes = state(&[
            r#"{"type":"cart","total":150.5,"products":[{"product":{"category":"shoes"}},{"product":{"category":"hats"}}]}"#,
            r#"{"type":"ctmrinfo","info":{"ctype":"VIP","lastPaymentDate":{"day":15,"month":10,"year":2014}}}"#,
            r#"{"type":"ctmrinfo","info":{"cstatus":"gold"}}"#,
            r#"{"type":"prodView","products":[{"product":{"category":"bags"}}]}"#,
            r#"{"type":"prodView","products":[{"product":{"category":"belts"}}]}"#,
            r#"{"type":"mrktInfo","info":{"channel":"5"}}"#,
            r#"{"type":"service","service":{"status":12}}"#,
            r#"{"type":"personal","personal":{"contacts":[{"email":"a@x"},{"address":{"country":"FR"}}]}}"#,
            r#"{"type":"searchInfo","keywords":["summer","shoes"]}"#,
        ]);
        assert_eq!(values("cartStatus.total", &sdes), ["150.5"]);
        assert_eq!(
            values("cartStatus.products.product.category", &sdes),
            ["shoes", "hats"]
        );
        assert_eq!(values("customerInfo.customerType", &sdes), ["VIP"]);
        assert_eq!(values("customerInfo.customerStatus", &sdes), ["gold"]);
        assert_eq!(values("customerInfo.lastPaymentDate.year", &sdes), ["2014"]);
        assert_eq!(values("customerInfo.lastPaymentDate.month", &sdes), ["10"]);
        assert_eq!(
            values("viewedProduct.products.product.category", &sdes),
            ["bags", "belts"]
        );
        assert_eq!(
            values("marketingCampaignInfo.originatingChannel", &sdes),
            ["5"]
        );
        assert_eq!(values("serviceActivity.status", &sdes), ["12"]);
        assert_eq!(
            values("personalInfo.contacts.personalContact.email", &sdes),
            ["a@x"]
        );
        assert_eq!(
            values(
                "personalInfo.contacts.personalContact.address.country",
                &sdes
            ),
            ["FR"]
        );
        assert_eq!(values("searchContent.keywords", &sdes), ["summer", "shoes"]);
        assert!(values("purchase.total", &sdes).is_empty());
        assert!(values("lead.topic", &sdes).is_empty());
    }

    #[test]
    fn any_stops_at_the_first_accepted_value() {
        let sdes = state(&[r#"{"type":"searchInfo","keywords":["a","b","c"]}"#]);
        let mut seen = 0;
        assert!(SdePath::SearchKeywords.any(&sdes, &mut |v| {
            seen += 1;
            v == "b"
        }));
        assert_eq!(seen, 2);
    }
}
