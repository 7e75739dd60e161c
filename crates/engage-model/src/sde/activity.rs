//! What the visitor does and meets: leads, service activities, errors and searches.
//! Same field names in both shapes.

use serde::Serialize;

use crate::error::Errors;
use crate::json::Json;
use crate::read::{array, ObjReader};
use crate::scalar::{Field, ServiceStatus, Text};

/// `lead.lead`: a sales lead the visitor became.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Lead {
    #[serde(skip_serializing_if = "Field::is_absent")]
    pub topic: Field<Text>,
    #[serde(skip_serializing_if = "Field::is_absent")]
    pub value: Field<Text>,
    #[serde(skip_serializing_if = "Field::is_absent")]
    pub currency: Field<Text>,
    #[serde(skip_serializing_if = "Field::is_absent")]
    pub lead_id: Field<Text>,
}

impl Lead {
    pub(crate) fn parse(json: &Json<'_>, errors: &mut Errors) -> Option<Lead> {
        let mut r = ObjReader::new(json, errors)?;
        let lead = Lead {
            topic: Field::text(&mut r, "topic", errors),
            value: Field::text(&mut r, "value", errors),
            currency: Field::text_any(&mut r, &["currency", "Currency"], errors),
            lead_id: Field::text(&mut r, "leadId", errors),
        };
        r.finish(errors, "`topic`, `value`, `currency` or `leadId`");
        Some(lead)
    }
}

/// `service.service` on the page, `serviceActivity.serviceActivity` in history.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceActivity {
    #[serde(skip_serializing_if = "Field::is_absent")]
    pub topic: Field<Text>,
    #[serde(skip_serializing_if = "Field::is_absent")]
    pub status: Field<ServiceStatus>,
    #[serde(skip_serializing_if = "Field::is_absent")]
    pub category: Field<Text>,
    #[serde(skip_serializing_if = "Field::is_absent")]
    pub service_id: Field<Text>,
}

impl ServiceActivity {
    pub(crate) fn parse(json: &Json<'_>, errors: &mut Errors) -> Option<ServiceActivity> {
        let mut r = ObjReader::new(json, errors)?;
        let service = ServiceActivity {
            topic: Field::text(&mut r, "topic", errors),
            status: Field::read(&mut r, &["status"], errors, ServiceStatus::parse),
            category: Field::text(&mut r, "category", errors),
            service_id: Field::text(&mut r, "serviceId", errors),
        };
        r.finish(errors, "`topic`, `status`, `category` or `serviceId`");
        Some(service)
    }
}

/// `error.error` on the page, `visitorError.visitorError` in history.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VisitorError {
    #[serde(skip_serializing_if = "Field::is_absent")]
    pub context_id: Field<Text>,
    #[serde(skip_serializing_if = "Field::is_absent")]
    pub message: Field<Text>,
    #[serde(skip_serializing_if = "Field::is_absent")]
    pub code: Field<Text>,
    #[serde(skip_serializing_if = "Field::is_absent")]
    pub level: Field<Text>,
    #[serde(skip_serializing_if = "Field::is_absent")]
    pub resolved: Field<Text>,
}

impl VisitorError {
    pub(crate) fn parse(json: &Json<'_>, errors: &mut Errors) -> Option<VisitorError> {
        let mut r = ObjReader::new(json, errors)?;
        let error = VisitorError {
            context_id: Field::text(&mut r, "contextId", errors),
            message: Field::text(&mut r, "message", errors),
            code: Field::text(&mut r, "code", errors),
            level: Field::text(&mut r, "level", errors),
            resolved: Field::flag(&mut r, "resolved", errors),
        };
        r.finish(
            errors,
            "`contextId`, `message`, `code`, `level` or `resolved`",
        );
        Some(error)
    }
}

/// `searchInfo` on the page, `searchContent` in history: what the visitor searched for.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct SearchContent {
    #[serde(skip_serializing_if = "Field::is_absent")]
    pub keywords: Field<Vec<Text>>,
}

impl SearchContent {
    pub(crate) const FIELDS: &'static str = "`keywords`";

    pub(crate) fn read(r: &mut ObjReader<'_, '_>, errors: &mut Errors) -> SearchContent {
        SearchContent {
            keywords: Field::read(r, &["keywords"], errors, |j, e| {
                array(j, e, |k, e| Text::parse(k, e, false))
            }),
        }
    }
}
