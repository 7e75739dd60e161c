//! The memo of one decision: a byte per interned rule (the account's URL rules, then its
//! attribute conditions), so each rule is evaluated at most once per decision however
//! many engagements share it.
//!
//! A slot is [`UNKNOWN`] until its rule is evaluated, then [`FALSE`] or [`TRUE`]; the URL
//! matcher fills the slots of every rule it covers in one pass, the others are evaluated
//! on demand through [`memoized`].

/// What the memo of one interned rule holds during a decision.
pub(super) const UNKNOWN: u8 = 0;
pub(super) const FALSE: u8 = 1;
pub(super) const TRUE: u8 = 2;

pub(super) fn memoized(memo: &mut [u8], id: u32, evaluate: impl FnOnce() -> bool) -> bool {
    let Some(slot) = memo.get_mut(id as usize) else {
        return false;
    };
    match *slot {
        TRUE => true,
        FALSE => false,
        _ => {
            let result = evaluate();
            *slot = if result { TRUE } else { FALSE };
            result
        }
    }
}
