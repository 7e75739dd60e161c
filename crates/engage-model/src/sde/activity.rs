//! What the visitor does and meets: leads, service activities, errors and searches.
//! Same field names in both shapes.

use super::fields::{declare, object};
use crate::error::Errors;
use crate::read::array;
use crate::scalar::{Field, ServiceStatus, Text};
use crate::tape::Node;

declare! {
    /// `lead.lead`: a sales lead the visitor became.
    #[derive(Debug, Clone, PartialEq, Eq, Default)]
    pub struct Lead {
        pub topic: Field<Text> = text("topic"),
        pub value: Field<Text> = text("value"),
        pub currency: Field<Text> = text("currency" | "Currency"),
        pub lead_id: Field<Text> = text("leadId"),
    }
}

impl Lead {
    pub(crate) fn parse(json: Node<'_, '_>, errors: &mut Errors) -> Option<Lead> {
        object(json, errors, Lead::FIELDS, Lead::read)
    }
}

declare! {
    /// `service.service` on the page, `serviceActivity.serviceActivity` in history.
    #[derive(Debug, Clone, PartialEq, Eq, Default)]
    pub struct ServiceActivity {
        pub topic: Field<Text> = text("topic"),
        pub status: Field<ServiceStatus> = read("status", ServiceStatus::parse),
        pub category: Field<Text> = text("category"),
        pub service_id: Field<Text> = text("serviceId"),
    }
}

impl ServiceActivity {
    pub(crate) fn parse(json: Node<'_, '_>, errors: &mut Errors) -> Option<ServiceActivity> {
        object(json, errors, ServiceActivity::FIELDS, ServiceActivity::read)
    }
}

declare! {
    /// `error.error` on the page, `visitorError.visitorError` in history.
    #[derive(Debug, Clone, PartialEq, Eq, Default)]
    pub struct VisitorError {
        pub context_id: Field<Text> = text("contextId"),
        pub message: Field<Text> = text("message"),
        pub code: Field<Text> = text("code"),
        pub level: Field<Text> = text("level"),
        pub resolved: Field<Text> = flag("resolved"),
    }
}

impl VisitorError {
    pub(crate) fn parse(json: Node<'_, '_>, errors: &mut Errors) -> Option<VisitorError> {
        object(json, errors, VisitorError::FIELDS, VisitorError::read)
    }
}

declare! {
    /// `searchInfo` on the page, `searchContent` in history: what the visitor searched for.
    #[derive(Debug, Clone, PartialEq, Eq, Default)]
    pub struct SearchContent {
        pub keywords: Field<Vec<Text>> =
            read("keywords", |j, e| array(j, e, |k, e| Text::parse(k, e, false))),
    }
}
