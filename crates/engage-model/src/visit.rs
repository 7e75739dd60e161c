//! A visit's engagement attribute state and the rule for a type reported again
//! (docs/vocabulary.md, Visit rule): merge `personal`, `ctmrinfo`, `mrktInfo`; append the
//! list types; replace `cart`. This is the state targeting sees; every single report is
//! kept elsewhere.

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use crate::error::{Errors, Invalid, Token};
use crate::read::{array, ObjReader};
use crate::sde::{
    Cart, CustomerInfo, Lead, MarketingInfo, PersonalInfo, Purchase, RepeatRule, Sde, SdeType,
    SearchContent, ServiceActivity, Stamps, ViewedProduct, VisitorError,
};
use crate::tape::Node;

/// What a visit has reported so far, one slot per type.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VisitSdes {
    pub cart: Option<Cart>,
    pub customer_info: Option<CustomerInfo>,
    pub marketing_info: Option<MarketingInfo>,
    pub personal_info: Option<PersonalInfo>,
    pub purchases: Vec<Purchase>,
    pub viewed_products: Vec<ViewedProduct>,
    pub leads: Vec<Lead>,
    pub service_activities: Vec<ServiceActivity>,
    pub visitor_errors: Vec<VisitorError>,
    pub searches: Vec<SearchContent>,
}

impl VisitSdes {
    /// The state after one more report, by the type's [`RepeatRule`].
    #[must_use]
    pub fn with(mut self, sde: Sde) -> VisitSdes {
        self.record(sde);
        self
    }

    /// Applies one more report in place.
    pub fn record(&mut self, sde: Sde) {
        debug_assert!(match sde.sde_type().repeat_rule() {
            RepeatRule::Merge => matches!(
                sde,
                Sde::CustomerInfo(_) | Sde::MarketingInfo(_) | Sde::PersonalInfo(_)
            ),
            RepeatRule::Replace => matches!(sde, Sde::Cart(_)),
            RepeatRule::Append => true,
        });
        match sde {
            Sde::Cart(cart) => self.cart = Some(cart),
            Sde::CustomerInfo(info) => match &mut self.customer_info {
                Some(current) => current.merge(*info),
                None => self.customer_info = Some(*info),
            },
            Sde::MarketingInfo(info) => match &mut self.marketing_info {
                Some(current) => current.merge(info),
                None => self.marketing_info = Some(info),
            },
            Sde::PersonalInfo(info) => match &mut self.personal_info {
                Some(current) => current.merge(*info),
                None => self.personal_info = Some(*info),
            },
            Sde::Purchase(v) => self.purchases.push(v),
            Sde::ViewedProduct(v) => self.viewed_products.push(v),
            Sde::Lead(v) => self.leads.push(v),
            Sde::ServiceActivity(v) => self.service_activities.push(v),
            Sde::VisitorError(v) => self.visitor_errors.push(v),
            Sde::SearchContent(v) => self.searches.push(v),
        }
    }

    pub fn is_empty(&self) -> bool {
        *self == VisitSdes::default()
    }

    /// The state as a list of attributes; replaying them with [`VisitSdes::record`]
    /// rebuilds the same state.
    pub fn entries(&self) -> Vec<Sde> {
        let mut out = Vec::new();
        out.extend(self.cart.clone().map(Sde::Cart));
        out.extend(
            self.customer_info
                .clone()
                .map(|v| Sde::CustomerInfo(Box::new(v))),
        );
        out.extend(self.marketing_info.clone().map(Sde::MarketingInfo));
        out.extend(
            self.personal_info
                .clone()
                .map(|v| Sde::PersonalInfo(Box::new(v))),
        );
        out.extend(self.purchases.iter().cloned().map(Sde::Purchase));
        out.extend(self.viewed_products.iter().cloned().map(Sde::ViewedProduct));
        out.extend(self.leads.iter().cloned().map(Sde::Lead));
        out.extend(
            self.service_activities
                .iter()
                .cloned()
                .map(Sde::ServiceActivity),
        );
        out.extend(self.visitor_errors.iter().cloned().map(Sde::VisitorError));
        out.extend(self.searches.iter().cloned().map(Sde::SearchContent));
        out
    }

    /// Reads the form [`VisitSdes`] serializes to: `{"events": [history-shape SDEs]}`.
    pub fn read(json: Node<'_, '_>) -> Result<VisitSdes, Invalid> {
        let mut errors = Errors::new();
        let events = ObjReader::new(json, &mut errors).and_then(|mut r| {
            let events = r.field("events", &mut errors, |events, e| {
                array(events, e, |item, e| match Sde::read_history(item) {
                    Ok((sde, _)) => Some(sde),
                    Err(invalid) => {
                        e.absorb(invalid);
                        None
                    }
                })
            });
            if events.is_none() && json.get("events").is_none() {
                errors.nested(Token::Key("events"), |e| e.here("missing"));
            }
            r.finish(&mut errors, "`events`");
            events
        });
        let state = events.map(|events| {
            events
                .into_iter()
                .fold(VisitSdes::default(), VisitSdes::with)
        });
        errors.finish(state)
    }

    /// How many reports of `sde_type` the state holds (0 or 1 for merged and replaced types).
    pub fn count(&self, sde_type: SdeType) -> usize {
        match sde_type {
            SdeType::Cart => usize::from(self.cart.is_some()),
            SdeType::CustomerInfo => usize::from(self.customer_info.is_some()),
            SdeType::MarketingInfo => usize::from(self.marketing_info.is_some()),
            SdeType::PersonalInfo => usize::from(self.personal_info.is_some()),
            SdeType::Purchase => self.purchases.len(),
            SdeType::ViewedProduct => self.viewed_products.len(),
            SdeType::Lead => self.leads.len(),
            SdeType::ServiceActivity => self.service_activities.len(),
            SdeType::VisitorError => self.visitor_errors.len(),
            SdeType::SearchContent => self.searches.len(),
        }
    }
}

impl Serialize for VisitSdes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let entries = self.entries();
        let history: Vec<_> = entries
            .iter()
            .map(|sde| sde.to_history(Stamps::default()))
            .collect();
        let mut map = s.serialize_map(Some(1))?;
        map.serialize_entry("events", &history)?;
        map.end()
    }
}
