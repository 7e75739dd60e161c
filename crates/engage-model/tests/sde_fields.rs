//! One test per row of the seed's field tables (and the extra page fields of
//! docs/vocabulary.md, The ten types): the value, given in page shape and in history
//! shape, lands at its documented place in history output, as a string, exactly once.

// Helpers unwrap too: in a test, a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::*;
use engage_model::Stamps;
use serde_json::{json, Value};

/// Converts both inputs and checks where the value lands.
#[track_caller]
fn check_row(page: Value, history_input: Value, pointer: &str, expected: &str) {
    assert!(page.get("type").is_some(), "the page input has a `type`");
    assert!(
        history_input.get("type").is_none(),
        "the history input has none"
    );
    for (shape, input, input_leaves) in [
        ("page", &page, leaves(&page).len() - 1),
        ("history", &history_input, leaves(&history_input).len()),
    ] {
        let out = history(input);
        assert_string_at(&out, pointer, expected);
        assert_eq!(
            leaves(&out).len(),
            input_leaves,
            "{shape} input {input}: every value lands once, nothing is added: {out}"
        );
    }
}

macro_rules! rows {
    ($( $name:ident: page $page:tt, history $history:tt => $pointer:literal == $expected:literal; )*) => {
        $(
            #[test]
            fn $name() {
                check_row(json!($page), json!($history), $pointer, $expected);
            }
        )*
    };
}

// CartStatus: `cart` on the page, flat under `cartStatus`.
rows! {
    cart_total_lands_at_cart_status_total_as_a_string:
        page {"type": "cart", "total": 11.7},
        history {"cartStatus": {"total": 11.7}}
        => "/cartStatus/total" == "11.7";
    cart_num_items_lands_at_cart_status_num_items_as_a_string:
        page {"type": "cart", "numItems": 6},
        history {"cartStatus": {"numItems": 6}}
        => "/cartStatus/numItems" == "6";
    cart_product_quantity_lands_in_its_product_line:
        page {"type": "cart", "products": [{"quantity": 1}]},
        history {"cartStatus": {"products": [{"quantity": 1}]}}
        => "/cartStatus/products/0/quantity" == "1";
    cart_product_name_lands_in_its_product:
        page {"type": "cart", "products": [{"product": {"name": "prod1"}}]},
        history {"cartStatus": {"products": [{"product": {"name": "prod1"}}]}}
        => "/cartStatus/products/0/product/name" == "prod1";
    cart_product_category_lands_in_its_product:
        page {"type": "cart", "products": [{"product": {"category": "category"}}]},
        history {"cartStatus": {"products": [{"product": {"category": "category"}}]}}
        => "/cartStatus/products/0/product/category" == "category";
    cart_product_sku_lands_in_its_product:
        page {"type": "cart", "products": [{"product": {"sku": 4711}}]},
        history {"cartStatus": {"products": [{"product": {"sku": 4711}}]}}
        => "/cartStatus/products/0/product/sku" == "4711";
    cart_product_price_lands_in_its_product:
        page {"type": "cart", "products": [{"product": {"name": "a"}}, {"product": {"price": 7.8}}]},
        history {"cartStatus": {"products": [{"product": {"name": "a"}}, {"product": {"price": 7.8}}]}}
        => "/cartStatus/products/1/product/price" == "7.8";
    cart_currency_lands_at_cart_status_currency:
        page {"type": "cart", "currency": "USD"},
        history {"cartStatus": {"currency": "USD"}}
        => "/cartStatus/currency" == "USD";
}

// Purchase: flat under `purchase`, with the cart it emptied.
rows! {
    purchase_total_lands_at_purchase_total:
        page {"type": "purchase", "total": 11.7},
        history {"purchase": {"total": 11.7}}
        => "/purchase/total" == "11.7";
    purchase_order_id_lands_at_purchase_order_id:
        page {"type": "purchase", "orderId": "DRV1534XC"},
        history {"purchase": {"orderId": "DRV1534XC"}}
        => "/purchase/orderId" == "DRV1534XC";
    purchase_currency_lands_at_purchase_currency:
        page {"type": "purchase", "currency": "EUR"},
        history {"purchase": {"currency": "EUR"}}
        => "/purchase/currency" == "EUR";
    purchase_cart_total_lands_at_purchase_cart_total:
        page {"type": "purchase", "cart": {"total": 17.8}},
        history {"purchase": {"cart": {"total": 17.8}}}
        => "/purchase/cart/total" == "17.8";
    purchase_cart_currency_lands_at_purchase_cart_currency:
        page {"type": "purchase", "cart": {"currency": "USD"}},
        history {"purchase": {"cart": {"currency": "USD"}}}
        => "/purchase/cart/currency" == "USD";
    purchase_cart_num_items_lands_at_purchase_cart_num_items:
        page {"type": "purchase", "cart": {"numItems": 13}},
        history {"purchase": {"cart": {"numItems": 13}}}
        => "/purchase/cart/numItems" == "13";
    purchase_product_quantity_lands_in_the_carts_product_line:
        page {"type": "purchase", "cart": {"products": [{"quantity": 3}]}},
        history {"purchase": {"cart": {"products": [{"quantity": 3}]}}}
        => "/purchase/cart/products/0/quantity" == "3";
    purchase_product_name_lands_in_the_carts_product:
        page {"type": "purchase", "cart": {"products": [{"product": {"name": "antivirus pro plan"}}]}},
        history {"purchase": {"cart": {"products": [{"product": {"name": "antivirus pro plan"}}]}}}
        => "/purchase/cart/products/0/product/name" == "antivirus pro plan";
    purchase_product_category_lands_in_the_carts_product:
        page {"type": "purchase", "cart": {"products": [{"product": {"category": "software"}}]}},
        history {"purchase": {"cart": {"products": [{"product": {"category": "software"}}]}}}
        => "/purchase/cart/products/0/product/category" == "software";
    purchase_product_sku_lands_in_the_carts_product:
        page {"type": "purchase", "cart": {"products": [{"product": {"sku": "xyz001"}}]}},
        history {"purchase": {"cart": {"products": [{"product": {"sku": "xyz001"}}]}}}
        => "/purchase/cart/products/0/product/sku" == "xyz001";
    purchase_product_price_lands_in_the_carts_product:
        page {"type": "purchase", "cart": {"products": [{"product": {"price": 7.8}}]}},
        history {"purchase": {"cart": {"products": [{"product": {"price": 7.8}}]}}}
        => "/purchase/cart/products/0/product/price" == "7.8";
}

// viewedProduct: `prodView` on the page, flat under `viewedProduct`.
rows! {
    prod_view_currency_lands_at_viewed_product_currency:
        page {"type": "prodView", "currency": "RUB"},
        history {"viewedProduct": {"currency": "RUB"}}
        => "/viewedProduct/currency" == "RUB";
    prod_view_product_name_lands_in_its_product:
        page {"type": "prodView", "products": [{"product": {"name": "red high heel shoe"}}]},
        history {"viewedProduct": {"products": [{"product": {"name": "red high heel shoe"}}]}}
        => "/viewedProduct/products/0/product/name" == "red high heel shoe";
    prod_view_product_category_lands_in_its_product:
        page {"type": "prodView", "products": [{"product": {"category": "women shoes"}}]},
        history {"viewedProduct": {"products": [{"product": {"category": "women shoes"}}]}}
        => "/viewedProduct/products/0/product/category" == "women shoes";
    prod_view_product_sku_lands_in_its_product:
        page {"type": "prodView", "products": [{"product": {"sku": "xyz567"}}]},
        history {"viewedProduct": {"products": [{"product": {"sku": "xyz567"}}]}}
        => "/viewedProduct/products/0/product/sku" == "xyz567";
    prod_view_product_price_lands_in_its_product:
        page {"type": "prodView", "products": [{"product": {"price": 77.8}}]},
        history {"viewedProduct": {"products": [{"product": {"price": 77.8}}]}}
        => "/viewedProduct/products/0/product/price" == "77.8";
    prod_view_product_status_in_stock_lands_in_its_product:
        page {"type": "prodView", "products": [{"product": {"statusInStock": true}}]},
        history {"viewedProduct": {"products": [{"product": {"statusInStock": true}}]}}
        => "/viewedProduct/products/0/product/statusInStock" == "true";
    prod_view_product_quantity_in_stock_lands_in_its_product:
        page {"type": "prodView", "products": [{"product": {"quantityInStock": 5}}]},
        history {"viewedProduct": {"products": [{"product": {"quantityInStock": 5}}]}}
        => "/viewedProduct/products/0/product/quantityInStock" == "5";
}

// customerInfo: `ctmrinfo.info` on the page, `customerInfo.customerInfo` in history.
rows! {
    ctmrinfo_cstatus_becomes_customer_status_in_history:
        page {"type": "ctmrinfo", "info": {"cstatus": "cancelled"}},
        history {"customerInfo": {"customerInfo": {"customerStatus": "cancelled"}}}
        => "/customerInfo/customerInfo/customerStatus" == "cancelled";
    ctmrinfo_ctype_becomes_customer_type_in_history:
        page {"type": "ctmrinfo", "info": {"ctype": "vip"}},
        history {"customerInfo": {"customerInfo": {"customerType": "vip"}}}
        => "/customerInfo/customerInfo/customerType" == "vip";
    ctmrinfo_balance_lands_at_customer_info_balance:
        page {"type": "ctmrinfo", "info": {"balance": -400.99}},
        history {"customerInfo": {"customerInfo": {"balance": -400.99}}}
        => "/customerInfo/customerInfo/balance" == "-400.99";
    ctmrinfo_customer_id_lands_at_customer_info_customer_id:
        page {"type": "ctmrinfo", "info": {"customerId": "138766AC"}},
        history {"customerInfo": {"customerInfo": {"customerId": "138766AC"}}}
        => "/customerInfo/customerInfo/customerId" == "138766AC";
    ctmrinfo_social_id_lands_at_customer_info_social_id:
        page {"type": "ctmrinfo", "info": {"socialId": 4444}},
        history {"customerInfo": {"customerInfo": {"socialId": 4444}}}
        => "/customerInfo/customerInfo/socialId" == "4444";
    ctmrinfo_imei_lands_at_customer_info_imei:
        page {"type": "ctmrinfo", "info": {"imei": 3543546543545688_u64}},
        history {"customerInfo": {"customerInfo": {"imei": 3543546543545688_u64}}}
        => "/customerInfo/customerInfo/imei" == "3543546543545688";
    ctmrinfo_user_name_lands_at_customer_info_user_name:
        page {"type": "ctmrinfo", "info": {"userName": "user000"}},
        history {"customerInfo": {"customerInfo": {"userName": "user000"}}}
        => "/customerInfo/customerInfo/userName" == "user000";
    ctmrinfo_account_name_lands_at_customer_info_account_name:
        page {"type": "ctmrinfo", "info": {"accountName": "bank corp"}},
        history {"customerInfo": {"customerInfo": {"accountName": "bank corp"}}}
        => "/customerInfo/customerInfo/accountName" == "bank corp";
    ctmrinfo_role_lands_at_customer_info_role:
        page {"type": "ctmrinfo", "info": {"role": "broker"}},
        history {"customerInfo": {"customerInfo": {"role": "broker"}}}
        => "/customerInfo/customerInfo/role" == "broker";
    ctmrinfo_last_payment_date_year_lands_in_last_payment_date:
        page {"type": "ctmrinfo", "info": {"lastPaymentDate": {"year": 2011, "month": 3, "day": 21}}},
        history {"customerInfo": {"customerInfo": {"lastPaymentDate": {"year": 2011, "month": 3, "day": 21}}}}
        => "/customerInfo/customerInfo/lastPaymentDate/year" == "2011";
    ctmrinfo_last_payment_date_month_lands_in_last_payment_date:
        page {"type": "ctmrinfo", "info": {"lastPaymentDate": {"year": 2011, "month": 3, "day": 21}}},
        history {"customerInfo": {"customerInfo": {"lastPaymentDate": {"year": "2011", "month": "3", "day": "21"}}}}
        => "/customerInfo/customerInfo/lastPaymentDate/month" == "3";
    ctmrinfo_last_payment_date_day_lands_in_last_payment_date:
        page {"type": "ctmrinfo", "info": {"lastPaymentDate": {"year": 2011, "month": 3, "day": 21}}},
        history {"customerInfo": {"customerInfo": {"lastPaymentDate": {"year": 2011, "month": 3, "day": 21}}}}
        => "/customerInfo/customerInfo/lastPaymentDate/day" == "21";
    ctmrinfo_registration_date_year_lands_in_registration_date:
        page {"type": "ctmrinfo", "info": {"registrationDate": {"year": 2013, "month": 5, "day": 23}}},
        history {"customerInfo": {"customerInfo": {"registrationDate": {"year": 2013, "month": 5, "day": 23}}}}
        => "/customerInfo/customerInfo/registrationDate/year" == "2013";
    ctmrinfo_registration_date_month_lands_in_registration_date:
        page {"type": "ctmrinfo", "info": {"registrationDate": {"year": 2013, "month": 5, "day": 23}}},
        history {"customerInfo": {"customerInfo": {"registrationDate": {"year": "2013", "month": "5", "day": "23"}}}}
        => "/customerInfo/customerInfo/registrationDate/month" == "5";
    ctmrinfo_registration_date_day_lands_in_registration_date:
        page {"type": "ctmrinfo", "info": {"registrationDate": {"year": 2013, "month": 5, "day": 23}}},
        history {"customerInfo": {"customerInfo": {"registrationDate": {"year": 2013, "month": 5, "day": 23}}}}
        => "/customerInfo/customerInfo/registrationDate/day" == "23";
    ctmrinfo_company_size_lands_at_customer_info_company_size:
        page {"type": "ctmrinfo", "info": {"companySize": 500}},
        history {"customerInfo": {"customerInfo": {"companySize": 500}}}
        => "/customerInfo/customerInfo/companySize" == "500";
    ctmrinfo_company_branch_lands_at_customer_info_company_branch:
        page {"type": "ctmrinfo", "info": {"companyBranch": "Boston"}},
        history {"customerInfo": {"customerInfo": {"companyBranch": "Boston"}}}
        => "/customerInfo/customerInfo/companyBranch" == "Boston";
    ctmrinfo_store_number_lands_at_customer_info_store_number:
        page {"type": "ctmrinfo", "info": {"storeNumber": 123865}},
        history {"customerInfo": {"customerInfo": {"storeNumber": 123865}}}
        => "/customerInfo/customerInfo/storeNumber" == "123865";
    ctmrinfo_store_zip_code_lands_at_customer_info_store_zip_code:
        page {"type": "ctmrinfo", "info": {"storeZipCode": "20505"}},
        history {"customerInfo": {"customerInfo": {"storeZipCode": "20505"}}}
        => "/customerInfo/customerInfo/storeZipCode" == "20505";
    ctmrinfo_currency_lands_at_customer_info_currency:
        page {"type": "ctmrinfo", "info": {"currency": "USD"}},
        history {"customerInfo": {"customerInfo": {"currency": "USD"}}}
        => "/customerInfo/customerInfo/currency" == "USD";
    ctmrinfo_login_status_lands_at_customer_info_login_status:
        page {"type": "ctmrinfo", "info": {"loginStatus": true}},
        history {"customerInfo": {"customerInfo": {"loginStatus": true}}}
        => "/customerInfo/customerInfo/loginStatus" == "true";
}

// marketingCampaignInfo: `mrktInfo.info` on the page.
rows! {
    mrkt_info_channel_becomes_originating_channel_in_history:
        page {"type": "mrktInfo", "info": {"channel": 1}},
        history {"marketingCampaignInfo": {"marketingCampaignInfo": {"originatingChannel": 1}}}
        => "/marketingCampaignInfo/marketingCampaignInfo/originatingChannel" == "1";
    mrkt_info_affiliate_lands_at_marketing_campaign_info_affiliate:
        page {"type": "mrktInfo", "info": {"affiliate": "Yahoo"}},
        history {"marketingCampaignInfo": {"marketingCampaignInfo": {"affiliate": "Yahoo"}}}
        => "/marketingCampaignInfo/marketingCampaignInfo/affiliate" == "Yahoo";
    mrkt_info_campaign_id_lands_at_marketing_campaign_info_campaign_id:
        page {"type": "mrktInfo", "info": {"campaignId": 77}},
        history {"marketingCampaignInfo": {"marketingCampaignInfo": {"campaignId": 77}}}
        => "/marketingCampaignInfo/marketingCampaignInfo/campaignId" == "77";
}

// personalInfo: `personal.personal` on the page.
rows! {
    personal_firstname_becomes_name_in_history:
        page {"type": "personal", "personal": {"firstname": "John"}},
        history {"personalInfo": {"personalInfo": {"name": "John"}}}
        => "/personalInfo/personalInfo/name" == "John";
    personal_lastname_becomes_surname_in_history:
        page {"type": "personal", "personal": {"lastname": "Doe"}},
        history {"personalInfo": {"personalInfo": {"surname": "Doe"}}}
        => "/personalInfo/personalInfo/surname" == "Doe";
    personal_gender_lands_at_personal_info_gender:
        page {"type": "personal", "personal": {"gender": "MALE"}},
        history {"personalInfo": {"personalInfo": {"gender": "MALE"}}}
        => "/personalInfo/personalInfo/gender" == "MALE";
    personal_company_lands_at_personal_info_company:
        page {"type": "personal", "personal": {"company": "company"}},
        history {"personalInfo": {"personalInfo": {"company": "company"}}}
        => "/personalInfo/personalInfo/company" == "company";
    personal_language_lands_at_personal_info_language:
        page {"type": "personal", "personal": {"language": "English"}},
        history {"personalInfo": {"personalInfo": {"language": "English"}}}
        => "/personalInfo/personalInfo/language" == "English";
    personal_age_age_becomes_customer_age_in_years:
        page {"type": "personal", "personal": {"age": {"age": 34.0}}},
        history {"personalInfo": {"personalInfo": {"customerAge": {"customerAgeInYears": 34.0}}}}
        => "/personalInfo/personalInfo/customerAge/customerAgeInYears" == "34.0";
    personal_age_year_becomes_customer_year_of_birth:
        page {"type": "personal", "personal": {"age": {"year": 1980}}},
        history {"personalInfo": {"personalInfo": {"customerAge": {"customerYearOfBirth": 1980}}}}
        => "/personalInfo/personalInfo/customerAge/customerYearOfBirth" == "1980";
    personal_age_month_becomes_customer_month_of_birth:
        page {"type": "personal", "personal": {"age": {"month": 4}}},
        history {"personalInfo": {"personalInfo": {"customerAge": {"customerMonthOfBirth": 4}}}}
        => "/personalInfo/personalInfo/customerAge/customerMonthOfBirth" == "4";
    personal_age_day_becomes_customer_date_of_birth:
        page {"type": "personal", "personal": {"age": {"day": 15}}},
        history {"personalInfo": {"personalInfo": {"customerAge": {"customerDateOfBirth": "15"}}}}
        => "/personalInfo/personalInfo/customerAge/customerDateOfBirth" == "15";
    personal_contact_email_lands_in_its_personal_contact:
        page {"type": "personal", "personal": {"contacts": [{"email": "myname@example.com"}]}},
        history {"personalInfo": {"personalInfo": {"contacts": [{"personalContact": {"email": "myname@example.com"}}]}}}
        => "/personalInfo/personalInfo/contacts/0/personalContact/email" == "myname@example.com";
    personal_contact_phone_lands_in_its_personal_contact:
        page {"type": "personal", "personal": {"contacts": [{"email": "a@b.c"}, {"phone": 12127888877_u64}]}},
        history {"personalInfo": {"personalInfo": {"contacts": [{"personalContact": {"email": "a@b.c"}}, {"personalContact": {"phone": 12127888877_u64}}]}}}
        => "/personalInfo/personalInfo/contacts/1/personalContact/phone" == "12127888877";
    personal_contact_phone_type_lands_in_its_personal_contact:
        page {"type": "personal", "personal": {"contacts": [{"phoneType": "MOBILE"}]}},
        history {"personalInfo": {"personalInfo": {"contacts": [{"personalContact": {"phoneType": "MOBILE"}}]}}}
        => "/personalInfo/personalInfo/contacts/0/personalContact/phoneType" == "MOBILE";
    personal_contact_address_country_lands_in_its_personal_contact:
        page {"type": "personal", "personal": {"contacts": [{"address": {"country": "US"}}]}},
        history {"personalInfo": {"personalInfo": {"contacts": [{"personalContact": {"address": {"country": "US"}}}]}}}
        => "/personalInfo/personalInfo/contacts/0/personalContact/address/country" == "US";
    personal_contact_address_region_lands_in_its_personal_contact:
        page {"type": "personal", "personal": {"contacts": [{"address": {"region": "NY"}}]}},
        history {"personalInfo": {"personalInfo": {"contacts": [{"personalContact": {"address": {"region": "NY"}}}]}}}
        => "/personalInfo/personalInfo/contacts/0/personalContact/address/region" == "NY";
}

// lead: `lead.lead` in both shapes.
rows! {
    lead_topic_lands_at_lead_lead_topic:
        page {"type": "lead", "lead": {"topic": "luxury car test drive 2015"}},
        history {"lead": {"lead": {"topic": "luxury car test drive 2015"}}}
        => "/lead/lead/topic" == "luxury car test drive 2015";
    lead_value_lands_at_lead_lead_value:
        page {"type": "lead", "lead": {"value": 22.22}},
        history {"lead": {"lead": {"value": 22.22}}}
        => "/lead/lead/value" == "22.22";
    lead_lead_id_lands_at_lead_lead_lead_id:
        page {"type": "lead", "lead": {"leadId": "xyz123"}},
        history {"lead": {"lead": {"leadId": "xyz123"}}}
        => "/lead/lead/leadId" == "xyz123";
    lead_currency_lands_at_lead_lead_currency:
        page {"type": "lead", "lead": {"currency": "USD"}},
        history {"lead": {"lead": {"currency": "USD"}}}
        => "/lead/lead/currency" == "USD";
}

// serviceActivity: `service.service` on the page.
rows! {
    service_topic_lands_at_service_activity_topic:
        page {"type": "service", "service": {"topic": "order checkbook"}},
        history {"serviceActivity": {"serviceActivity": {"topic": "order checkbook"}}}
        => "/serviceActivity/serviceActivity/topic" == "order checkbook";
    service_status_lands_at_service_activity_status_as_its_code:
        page {"type": "service", "service": {"status": 10}},
        history {"serviceActivity": {"serviceActivity": {"status": "10"}}}
        => "/serviceActivity/serviceActivity/status" == "10";
    service_category_lands_at_service_activity_category:
        page {"type": "service", "service": {"category": "finance"}},
        history {"serviceActivity": {"serviceActivity": {"category": "finance"}}}
        => "/serviceActivity/serviceActivity/category" == "finance";
    service_service_id_lands_at_service_activity_service_id:
        page {"type": "service", "service": {"serviceId": 12}},
        history {"serviceActivity": {"serviceActivity": {"serviceId": 12}}}
        => "/serviceActivity/serviceActivity/serviceId" == "12";
}

// VisitorError: `error.error` on the page.
rows! {
    error_context_id_lands_at_visitor_error_context_id:
        page {"type": "error", "error": {"contextId": "checkout"}},
        history {"visitorError": {"visitorError": {"contextId": "checkout"}}}
        => "/visitorError/visitorError/contextId" == "checkout";
    error_message_lands_at_visitor_error_message:
        page {"type": "error", "error": {"message": "Expiration date missing"}},
        history {"visitorError": {"visitorError": {"message": "Expiration date missing"}}}
        => "/visitorError/visitorError/message" == "Expiration date missing";
    error_code_lands_at_visitor_error_code:
        page {"type": "error", "error": {"code": 100004}},
        history {"visitorError": {"visitorError": {"code": 100004}}}
        => "/visitorError/visitorError/code" == "100004";
    error_level_lands_at_visitor_error_level:
        page {"type": "error", "error": {"level": 2}},
        history {"visitorError": {"visitorError": {"level": 2}}}
        => "/visitorError/visitorError/level" == "2";
    error_resolved_lands_at_visitor_error_resolved:
        page {"type": "error", "error": {"resolved": false}},
        history {"visitorError": {"visitorError": {"resolved": false}}}
        => "/visitorError/visitorError/resolved" == "false";
}

// searchContent: `searchInfo` on the page, flat.
rows! {
    search_info_keywords_land_at_search_content_keywords_in_order:
        page {"type": "searchInfo", "keywords": ["apple", 7]},
        history {"searchContent": {"keywords": ["apple", 7]}}
        => "/searchContent/keywords/1" == "7";
}

/// `serverTimeStamp` (and `originalTimeStamp`): epoch ms as strings, beside the fields
/// of flat types and beside the inner object of nested ones.
#[track_caller]
fn check_stamps(page: Value, key: &str, nested: bool) {
    let stamps = Stamps {
        server_ms: Some(1_440_412_721_832),
        original_ms: Some(1_440_412_721_001),
    };
    let out = history_with_stamps(&page, stamps);
    assert_string_at(&out, &format!("/{key}/serverTimeStamp"), "1440412721832");
    assert_string_at(&out, &format!("/{key}/originalTimeStamp"), "1440412721001");
    if nested {
        assert!(
            out[key][key].is_object(),
            "{key} nests an inner {key}: {out}"
        );
        assert!(out[key][key].get("serverTimeStamp").is_none(), "{out}");
    }
    // History input: numbers or strings, both come back as strings.
    let mut input = out.clone();
    input[key]["serverTimeStamp"] = json!(1_440_412_721_832_u64);
    let back = history(&input);
    assert_eq!(back, out, "history input with a numeric serverTimeStamp");
    let without = history(&json!({ key: out[key].as_object().unwrap().iter()
        .filter(|(k, _)| !k.ends_with("TimeStamp"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect::<serde_json::Map<_, _>>() }));
    assert!(
        without[key].get("serverTimeStamp").is_none(),
        "none invented: {without}"
    );
}

#[test]
fn cart_status_server_time_stamp_is_a_string_beside_its_fields() {
    check_stamps(json!({"type": "cart", "total": 1}), "cartStatus", false);
}
#[test]
fn purchase_server_time_stamp_is_a_string_beside_its_fields() {
    check_stamps(json!({"type": "purchase", "orderId": 1}), "purchase", false);
}
#[test]
fn viewed_product_server_time_stamp_is_a_string_beside_its_fields() {
    check_stamps(
        json!({"type": "prodView", "currency": "RUB"}),
        "viewedProduct",
        false,
    );
}
#[test]
fn search_content_server_time_stamp_is_a_string_beside_its_fields() {
    check_stamps(
        json!({"type": "searchInfo", "keywords": ["a"]}),
        "searchContent",
        false,
    );
}
#[test]
fn customer_info_server_time_stamp_is_a_string_beside_the_inner_customer_info() {
    check_stamps(
        json!({"type": "ctmrinfo", "info": {"ctype": "vip"}}),
        "customerInfo",
        true,
    );
}
#[test]
fn marketing_campaign_info_server_time_stamp_is_a_string_beside_the_inner_object() {
    check_stamps(
        json!({"type": "mrktInfo", "info": {"affiliate": "Yahoo"}}),
        "marketingCampaignInfo",
        true,
    );
}
#[test]
fn personal_info_server_time_stamp_is_a_string_beside_the_inner_personal_info() {
    check_stamps(
        json!({"type": "personal", "personal": {"gender": "F"}}),
        "personalInfo",
        true,
    );
}
#[test]
fn lead_server_time_stamp_is_a_string_beside_the_inner_lead() {
    check_stamps(
        json!({"type": "lead", "lead": {"topic": "t"}}),
        "lead",
        true,
    );
}
#[test]
fn service_activity_server_time_stamp_is_a_string_beside_the_inner_object() {
    check_stamps(
        json!({"type": "service", "service": {"topic": "t"}}),
        "serviceActivity",
        true,
    );
}
#[test]
fn visitor_error_server_time_stamp_is_a_string_beside_the_inner_visitor_error() {
    check_stamps(
        json!({"type": "error", "error": {"code": "e"}}),
        "visitorError",
        true,
    );
}

#[test]
fn null_values_stay_null_in_history_output() {
    let out = history(&json!({"type": "ctmrinfo", "info": {
        "imei": null, "lastPaymentDate": null, "userName": null
    }}));
    for field in ["imei", "lastPaymentDate", "userName"] {
        assert_null_at(&out, &format!("/customerInfo/customerInfo/{field}"));
    }
    let out = history(&json!({"type": "cart", "products": [{"product": null, "quantity": null}]}));
    assert_null_at(&out, "/cartStatus/products/0/product");
    assert_null_at(&out, "/cartStatus/products/0/quantity");
    let out = history(&json!({"type": "personal", "personal": {"age": null, "contacts": null}}));
    assert_null_at(&out, "/personalInfo/personalInfo/customerAge");
    assert_null_at(&out, "/personalInfo/personalInfo/contacts");
}

#[test]
fn fields_left_out_are_left_out_of_history_output() {
    let out = history(&json!({"type": "lead", "lead": {}}));
    assert_eq!(out, json!({"lead": {"lead": {}}}));
    let out = history(&json!({"type": "cart"}));
    assert_eq!(out, json!({"cartStatus": {}}));
}
