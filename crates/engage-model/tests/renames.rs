//! docs/vocabulary.md, The ten types and Renames, row by row: each page `type`, its
//! history key, flat or nested, and the renames between the two shapes. Each test converts
//! a full page-shape SDE and compares the whole history output, so a value in the wrong
//! place or under the wrong name fails.

// Helpers unwrap too: in a test, a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::*;
use engage_model::{Json, Sde, SdeType};
use serde_json::json;

#[test]
fn cart_is_flat_under_cart_status_with_no_renames() {
    let out = history(&json!({
        "type": "cart", "total": 11.7, "currency": "USD", "numItems": 6,
        "products": [{"product": {"name": "prod1", "category": "category", "sku": "sku", "price": 7.8}, "quantity": 1}]
    }));
    assert_eq!(
        out,
        json!({"cartStatus": {
            "total": "11.7", "currency": "USD", "numItems": "6",
            "products": [{"product": {"name": "prod1", "category": "category", "sku": "sku", "price": "7.8"}, "quantity": "1"}]
        }})
    );
}

#[test]
fn purchase_is_flat_under_purchase_with_no_renames() {
    let out = history(&json!({
        "type": "purchase", "total": 11.7, "currency": "USD", "orderId": "DRV1534XC",
        "cart": {"products": [{"product": {"name": "antivirus pro plan", "category": "software", "sku": "xyz001", "price": 7.8}, "quantity": 3}], "numItems": 13}
    }));
    assert_eq!(
        out,
        json!({"purchase": {
            "total": "11.7", "currency": "USD", "orderId": "DRV1534XC",
            "cart": {"products": [{"product": {"name": "antivirus pro plan", "category": "software", "sku": "xyz001", "price": "7.8"}, "quantity": "3"}], "numItems": "13"}
        }})
    );
}

#[test]
fn prod_view_is_flat_under_viewed_product_with_no_renames() {
    let out = history(&json!({
        "type": "prodView", "currency": "RUB",
        "products": [{"product": {"name": "red high heel shoe", "category": "women shoes", "sku": "xyz567", "price": 77.8, "statusInStock": true, "quantityInStock": 3}}]
    }));
    assert_eq!(
        out,
        json!({"viewedProduct": {
            "currency": "RUB",
            "products": [{"product": {"name": "red high heel shoe", "category": "women shoes", "sku": "xyz567", "price": "77.8", "statusInStock": "true", "quantityInStock": "3"}}]
        }})
    );
}

#[test]
fn view_product_is_accepted_as_an_alias_on_history_input_and_output_as_viewed_product() {
    let out =
        history(&json!({"viewProduct": {"serverTimeStamp": "1434394466093", "currency": "RUB"}}));
    assert_eq!(
        out,
        json!({"viewedProduct": {"serverTimeStamp": "1434394466093", "currency": "RUB"}})
    );
    assert_eq!(
        SdeType::from_history_key("viewProduct"),
        Some(SdeType::ViewedProduct)
    );
    // Only on history input: it is not a page type.
    let invalid = parse_err(&json!({"type": "viewProduct"}));
    assert_eq!(pointers(&invalid), ["/type"]);
}

#[test]
fn ctmrinfo_info_nests_under_customer_info_customer_info_with_cstatus_and_ctype_renamed() {
    let out = history(&json!({"type": "ctmrinfo", "info": {
        "cstatus": "cancelled", "ctype": "vip", "balance": -400.99, "currency": "USD",
        "customerId": "138766AC", "socialId": "11256324780", "imei": "3543546543545688",
        "userName": "user000", "companySize": 500, "companyBranch": "east", "accountName": "bank corp",
        "role": "broker", "lastPaymentDate": {"day": 15, "month": 10, "year": 2014},
        "registrationDate": {"day": 23, "month": 5, "year": 2013}, "loginStatus": true,
        "storeZipCode": "20505", "storeNumber": "123865"
    }}));
    assert_eq!(
        out,
        json!({"customerInfo": {"customerInfo": {
            "customerStatus": "cancelled", "customerType": "vip", "balance": "-400.99", "currency": "USD",
            "customerId": "138766AC", "socialId": "11256324780", "imei": "3543546543545688",
            "userName": "user000", "companySize": "500", "companyBranch": "east", "accountName": "bank corp",
            "role": "broker", "lastPaymentDate": {"day": "15", "month": "10", "year": "2014"},
            "registrationDate": {"day": "23", "month": "5", "year": "2013"}, "loginStatus": "true",
            "storeZipCode": "20505", "storeNumber": "123865"
        }}})
    );
}

#[test]
fn mrkt_info_info_nests_under_marketing_campaign_info_with_channel_renamed_originating_channel() {
    let out = history(
        &json!({"type": "mrktInfo", "info": {"channel": "1", "affiliate": "Yahoo", "campaignId": "US coupon campaign"}}),
    );
    assert_eq!(
        out,
        json!({"marketingCampaignInfo": {"marketingCampaignInfo": {
            "originatingChannel": "1", "affiliate": "Yahoo", "campaignId": "US coupon campaign"
        }}})
    );
}

#[test]
fn personal_nests_under_personal_info_with_names_age_and_contacts_renamed() {
    let out = history(&json!({"type": "personal", "personal": {
        "firstname": "John", "lastname": "Doe",
        "age": {"age": 34, "year": 1980, "month": 4, "day": 15},
        "contacts": [
            {"email": "myname@example.com", "phone": "+1 212-788-8877", "phoneType": "MOBILE", "address": {"country": "US", "region": "NY"}},
            {"email": "other@example.com"}
        ],
        "gender": "MALE", "company": "company", "language": "en-US"
    }}));
    assert_eq!(
        out,
        json!({"personalInfo": {"personalInfo": {
            "name": "John", "surname": "Doe",
            "customerAge": {"customerAgeInYears": "34", "customerYearOfBirth": "1980", "customerMonthOfBirth": "4", "customerDateOfBirth": "15"},
            "contacts": [
                {"personalContact": {"email": "myname@example.com", "phone": "+1 212-788-8877", "phoneType": "MOBILE", "address": {"country": "US", "region": "NY"}}},
                {"personalContact": {"email": "other@example.com"}}
            ],
            "gender": "MALE", "company": "company", "language": "en-US"
        }}})
    );
}

#[test]
fn lead_nests_under_lead_lead_with_no_renames() {
    let out = history(
        &json!({"type": "lead", "lead": {"topic": "luxury car test drive 2015", "value": 22.22, "currency": "USD", "leadId": "xyz123"}}),
    );
    assert_eq!(
        out,
        json!({"lead": {"lead": {"topic": "luxury car test drive 2015", "value": "22.22", "currency": "USD", "leadId": "xyz123"}}})
    );
}

#[test]
fn service_nests_under_service_activity_service_activity_with_no_renames() {
    let out = history(
        &json!({"type": "service", "service": {"topic": "order checkbook", "status": 0, "category": "finance", "serviceId": "service12"}}),
    );
    assert_eq!(
        out,
        json!({"serviceActivity": {"serviceActivity": {"topic": "order checkbook", "status": "0", "category": "finance", "serviceId": "service12"}}})
    );
}

#[test]
fn error_nests_under_visitor_error_visitor_error_with_no_renames() {
    let out = history(
        &json!({"type": "error", "error": {"contextId": "ctx", "message": "Expiration date missing", "code": "er100004", "level": 3, "resolved": true}}),
    );
    assert_eq!(
        out,
        json!({"visitorError": {"visitorError": {"contextId": "ctx", "message": "Expiration date missing", "code": "er100004", "level": "3", "resolved": "true"}}})
    );
}

#[test]
fn search_info_is_flat_under_search_content_with_no_renames() {
    let out = history(&json!({"type": "searchInfo", "keywords": ["apple", "banana"]}));
    assert_eq!(
        out,
        json!({"searchContent": {"keywords": ["apple", "banana"]}})
    );
}

#[test]
fn type_names_and_history_keys_match_the_spec_table() {
    let table = [
        (SdeType::Cart, "cart", "cartStatus", false),
        (SdeType::Purchase, "purchase", "purchase", false),
        (SdeType::ViewedProduct, "prodView", "viewedProduct", false),
        (SdeType::CustomerInfo, "ctmrinfo", "customerInfo", true),
        (
            SdeType::MarketingInfo,
            "mrktInfo",
            "marketingCampaignInfo",
            true,
        ),
        (SdeType::PersonalInfo, "personal", "personalInfo", true),
        (SdeType::Lead, "lead", "lead", true),
        (SdeType::ServiceActivity, "service", "serviceActivity", true),
        (SdeType::VisitorError, "error", "visitorError", true),
        (SdeType::SearchContent, "searchInfo", "searchContent", false),
    ];
    assert_eq!(table.len(), SdeType::ALL.len());
    for (sde_type, page, key, nested) in table {
        assert_eq!(sde_type.page_type(), page);
        assert_eq!(sde_type.history_key(), key);
        assert_eq!(sde_type.is_nested_in_history(), nested, "{page}");
        assert_eq!(SdeType::from_page_type(page), Some(sde_type));
        assert_eq!(SdeType::from_history_key(key), Some(sde_type));
    }
}

#[test]
fn page_names_are_unknown_fields_in_history_shape() {
    let invalid =
        parse_err(&json!({"customerInfo": {"customerInfo": {"cstatus": "a", "ctype": "b"}}}));
    assert_eq!(
        pointers(&invalid),
        [
            "/customerInfo/customerInfo/cstatus",
            "/customerInfo/customerInfo/ctype"
        ]
    );
    let invalid =
        parse_err(&json!({"marketingCampaignInfo": {"marketingCampaignInfo": {"channel": 1}}}));
    assert_eq!(
        pointers(&invalid),
        ["/marketingCampaignInfo/marketingCampaignInfo/channel"]
    );
    let invalid = parse_err(&json!({"personalInfo": {"personalInfo": {
        "firstname": "a", "lastname": "b", "age": {"age": 3}, "contacts": [{"email": "x"}]
    }}}));
    assert_eq!(
        pointers(&invalid),
        // Schema fields first (the contact lacks its `personalContact` wrapper), then
        // the unknown members in input order (`json!` sorts keys).
        [
            "/personalInfo/personalInfo/contacts/0/email",
            "/personalInfo/personalInfo/contacts/0",
            "/personalInfo/personalInfo/age",
            "/personalInfo/personalInfo/firstname",
            "/personalInfo/personalInfo/lastname",
        ]
    );
}

#[test]
fn history_names_are_unknown_fields_in_page_shape() {
    let invalid = parse_err(
        &json!({"type": "ctmrinfo", "info": {"customerStatus": "a", "customerType": "b"}}),
    );
    assert_eq!(
        pointers(&invalid),
        ["/info/customerStatus", "/info/customerType"]
    );
    let invalid = parse_err(&json!({"type": "mrktInfo", "info": {"originatingChannel": 1}}));
    assert_eq!(pointers(&invalid), ["/info/originatingChannel"]);
    let invalid = parse_err(&json!({"type": "personal", "personal": {
        "name": "a", "surname": "b", "customerAge": {}, "contacts": [{"personalContact": {}}]
    }}));
    assert_eq!(
        pointers(&invalid),
        [
            "/personal/contacts/0/personalContact",
            "/personal/customerAge",
            "/personal/name",
            "/personal/surname",
        ]
    );
    let invalid =
        parse_err(&json!({"type": "personal", "personal": {"age": {"customerAgeInYears": 3}}}));
    assert_eq!(pointers(&invalid), ["/personal/age/customerAgeInYears"]);
}

#[test]
fn a_nested_type_in_page_shape_keeps_its_fields_in_its_body_member() {
    for (page_type, body) in [
        ("ctmrinfo", "info"),
        ("mrktInfo", "info"),
        ("personal", "personal"),
        ("lead", "lead"),
        ("service", "service"),
        ("error", "error"),
    ] {
        let invalid = parse_err(&json!({"type": page_type}));
        assert_eq!(pointers(&invalid), [format!("/{body}")], "{page_type}");
        assert!(message_at(&invalid, &format!("/{body}")).starts_with("missing"));
    }
}

#[test]
fn page_and_history_shapes_of_the_same_attribute_are_the_same_sde() {
    let page = br#"{"type":"personal","personal":{"firstname":"John","age":{"year":1980},"contacts":[{"email":"e"}]}}"#;
    let history = br#"{"personalInfo":{"personalInfo":{"name":"John","customerAge":{"customerYearOfBirth":"1980"},"contacts":[{"personalContact":{"email":"e"}}]}}}"#;
    let from_page = Sde::from_page(&Json::parse(page).unwrap()).unwrap();
    let (from_history, _) = Sde::from_history(&Json::parse(history).unwrap()).unwrap();
    assert_eq!(from_page, from_history);
}
