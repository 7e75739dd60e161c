//! Ids the server makes: visitors, sessions, pages and the client ids of items that
//! arrive without one (Monitoring API attributes). UUIDv7, so they sort by time and keep
//! the store's unique indexes append-friendly.

pub fn new_id() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

pub fn now_ms() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(now.as_millis()).unwrap_or(i64::MAX)
}
