//! Validation errors: every problem found in one input, each at a JSON pointer.

use std::fmt;

use serde::Serialize;

/// One problem in an input: where (an RFC 6901 JSON pointer into the input) and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub path: String,
    pub message: String,
}

impl FieldError {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// An input that failed validation, with every problem found in it (never empty).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Invalid {
    pub errors: Vec<FieldError>,
}

impl Invalid {
    /// One problem at one place.
    pub fn single(path: impl Into<String>, message: impl Into<String>) -> Self {
        Invalid {
            errors: vec![FieldError::new(path, message)],
        }
    }

    /// The same problems seen from an enclosing document: `prefix` is the pointer of the
    /// validated value inside it (for example `/sdes/3/sde`).
    pub fn within(mut self, prefix: &str) -> Self {
        for error in &mut self.errors {
            error.path.insert_str(0, prefix);
        }
        self
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

/// Appends one reference token to a JSON pointer, escaping `~` and `/` (RFC 6901).
pub fn push_pointer_token(pointer: &mut String, token: &str) {
    pointer.push('/');
    for c in token.chars() {
        match c {
            '~' => pointer.push_str("~0"),
            '/' => pointer.push_str("~1"),
            c => pointer.push(c),
        }
    }
}

/// The collector the validators write into while they walk an input.
///
/// Validators report relative to the value they were handed; `nested` rewrites what a
/// child reported so that paths come out absolute without building a path on the
/// success path.
#[derive(Debug, Default)]
pub struct Errors {
    list: Vec<FieldError>,
}

impl Errors {
    pub fn new() -> Self {
        Errors::default()
    }

    /// A problem with the value being validated itself.
    pub fn here(&mut self, message: impl Into<String>) {
        self.list.push(FieldError::new(String::new(), message));
    }

    /// A problem at `pointer`, a JSON pointer below the value being validated (`""` is
    /// the value itself).
    pub fn at(&mut self, pointer: impl Into<String>, message: impl Into<String>) {
        self.list.push(FieldError::new(pointer, message));
    }

    /// Whether nothing was reported.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// How many problems were reported: compare before and after reading a part to know
    /// whether that part was sound.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Everything reported, in the order it was found.
    pub fn into_vec(self) -> Vec<FieldError> {
        self.list
    }

    /// Takes over what a separate validation of the current value found.
    pub fn absorb(&mut self, invalid: Invalid) {
        self.list.extend(invalid.errors);
    }

    /// Runs `f` for the child at `token`; what it reports is placed under that token.
    #[inline(always)]
    pub fn nested<T>(&mut self, token: Token<'_>, f: impl FnOnce(&mut Self) -> T) -> T {
        let start = self.list.len();
        let out = f(self);
        if self.list.len() > start {
            self.place_under(token, start);
        }
        out
    }

    /// Puts what was reported from `start` on under `token`: off the success path.
    #[cold]
    #[inline(never)]
    fn place_under(&mut self, token: Token<'_>, start: usize) {
        let mut prefix = String::new();
        match token {
            Token::Key(k) => push_pointer_token(&mut prefix, k),
            Token::Index(i) => push_pointer_token(&mut prefix, &i.to_string()),
        }
        for error in &mut self.list[start..] {
            error.path.insert_str(0, &prefix);
        }
    }

    /// The value parsed, or everything that was wrong with it.
    pub fn finish<T>(self, value: Option<T>) -> Result<T, Invalid> {
        match value {
            Some(v) if self.list.is_empty() => Ok(v),
            _ if !self.list.is_empty() => Err(Invalid { errors: self.list }),
            _ => Err(Invalid::single("", "invalid value")),
        }
    }
}

/// One step of a JSON pointer.
#[derive(Debug, Clone, Copy)]
pub enum Token<'a> {
    Key(&'a str),
    Index(usize),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_escape_tilde_and_slash() {
        let mut p = String::new();
        push_pointer_token(&mut p, "a/b~c");
        push_pointer_token(&mut p, "0");
        assert_eq!(p, "/a~1b~0c/0");
    }

    #[test]
    fn nested_errors_get_absolute_paths() {
        let mut errors = Errors::new();
        errors.nested(Token::Key("info"), |e| {
            e.nested(Token::Key("lastPaymentDate"), |e| e.here("not a date"));
            e.nested(Token::Index(2), |e| e.here("bad"));
        });
        let invalid = errors.finish(None::<()>).unwrap_err().within("/sdes/1/sde");
        let paths: Vec<_> = invalid.errors.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            ["/sdes/1/sde/info/lastPaymentDate", "/sdes/1/sde/info/2"]
        );
        assert_eq!(
            invalid.to_string(),
            "/sdes/1/sde/info/lastPaymentDate: not a date\n/sdes/1/sde/info/2: bad"
        );
    }
}
