//! What the visitor does and meets: leads, service activities, errors and searches.
//! Same field names in both shapes.

use crate::error::Errors;
use crate::read::{array, ObjReader};
use crate::scalar::{Field, ServiceStatus, Text};
use crate::tape::Node;
use crate::write::{key, JsonOut, WriteJson};

/// `lead.lead`: a sales lead the visitor became.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Lead {
    pub topic: Field<Text>,
    pub value: Field<Text>,
    pub currency: Field<Text>,
    pub lead_id: Field<Text>,
}

impl Lead {
    pub(crate) fn parse(json: Node<'_, '_>, errors: &mut Errors) -> Option<Lead> {
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
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServiceActivity {
    pub topic: Field<Text>,
    pub status: Field<ServiceStatus>,
    pub category: Field<Text>,
    pub service_id: Field<Text>,
}

impl ServiceActivity {
    pub(crate) fn parse(json: Node<'_, '_>, errors: &mut Errors) -> Option<ServiceActivity> {
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
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VisitorError {
    pub context_id: Field<Text>,
    pub message: Field<Text>,
    pub code: Field<Text>,
    pub level: Field<Text>,
    pub resolved: Field<Text>,
}

impl VisitorError {
    pub(crate) fn parse(json: Node<'_, '_>, errors: &mut Errors) -> Option<VisitorError> {
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
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SearchContent {
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

impl WriteJson for Lead {
    fn write_json(&self, out: &mut JsonOut<'_>) {
        out.object(|o| {
            self.topic.write_member(key!("topic"), o);
            self.value.write_member(key!("value"), o);
            self.currency.write_member(key!("currency"), o);
            self.lead_id.write_member(key!("leadId"), o);
        });
    }
}

impl WriteJson for ServiceActivity {
    fn write_json(&self, out: &mut JsonOut<'_>) {
        out.object(|o| {
            self.topic.write_member(key!("topic"), o);
            self.status.write_member(key!("status"), o);
            self.category.write_member(key!("category"), o);
            self.service_id.write_member(key!("serviceId"), o);
        });
    }
}

impl WriteJson for VisitorError {
    fn write_json(&self, out: &mut JsonOut<'_>) {
        out.object(|o| {
            self.context_id.write_member(key!("contextId"), o);
            self.message.write_member(key!("message"), o);
            self.code.write_member(key!("code"), o);
            self.level.write_member(key!("level"), o);
            self.resolved.write_member(key!("resolved"), o);
        });
    }
}

impl SearchContent {
    /// The history members, next to the time stamps.
    pub(crate) fn members(&self, o: &mut JsonOut<'_>) {
        self.keywords.write_member(key!("keywords"), o);
    }
}
