//! [`declare!`]: an attribute type's fields, each written once with its member names and
//! how its value is read. The declaration generates the struct, its reader, the "expected
//! ..." hint of an unknown member, and its history-shape writer, so that adding a field is
//! one line.

use crate::error::Errors;
use crate::read::ObjReader;
use crate::tape::Node;

/// Declares an attribute type (or one of its parts) from one line per field:
///
/// ```text
/// declare! {
///     /// What the type is.
///     #[derive(Debug, Clone, PartialEq, Eq, Default)]
///     pub struct Name(shape) in "wrapper" {
///         /// What the field is.
///         pub field: Field<Text> = text("pageName" / "historyName" | "OtherSpelling"),
///         pub other: Field<Date> = read("member", Date::parse),
///     }
///     expected: "the hint, when listing the members would not do";
///     names: member_names;
///     merge: merge;
/// }
/// ```
///
/// - A field is read by `text` (a string or a number), `flag` (also a boolean) or
///   `read(..., parse)` (`parse` reads the value; `null` is kept as `Field::Null` first).
/// - Its member is named `"pageName" / "historyName"` when the two shapes name it
///   differently, which needs `(shape)` after the type's name: the reader then takes a
///   [`Shape`](super::Shape) argument of that name, which `parse` may use too. Further
///   accepted spellings follow as `| "Spelling"`; the hint names only the first.
/// - `in "wrapper"`: history writes the type wrapped as `{"wrapper": {...}}`.
/// - `expected:` replaces the generated hint (an expression of `&'static str`, which may
///   use the shape).
/// - `names: fn_name;` also generates `fn_name(shape)`: the members' names in the declared
///   order, for a check across fields that reports under one of them.
/// - `merge: fn_name;` also generates `pub fn fn_name(&mut self, later: Self)`: the
///   merge rule of docs/vocabulary.md (Visit rule), field by field.
///
/// Generated, beside the struct:
/// - `read(r, [shape,] errors)`: every field from the object `r` reads, in the declared
///   order. Declare fields in the documented order: it is the order inputs follow, and a
///   lookup looks for the member after the last one read first.
/// - `FIELDS` (or `fields(shape)`): the members as an unknown-field error lists them,
///   `` `a`, `b` or `c` ``.
/// - `members(o)` and `WriteJson`: the fields in history shape, in the declared order,
///   absent ones left out.
macro_rules! declare {
    (
        $(#[$attr:meta])*
        $vis:vis struct $name:ident $(($shape:ident))? $(in $wrapper:literal)? {
            $(
                $(#[$field_attr:meta])*
                $field_vis:vis $field:ident: $ty:ty = $kind:ident(
                    $page:literal $(/ $history:literal)? $(| $alias:literal)* $(, $parse:expr)?
                ),
            )*
        }
        $(expected: $expected:expr;)?
        $(names: $names:ident;)?
        $(merge: $merge:ident;)?
    ) => {
        $(#[$attr])*
        $vis struct $name {
            $(
                $(#[$field_attr])*
                $field_vis $field: $ty,
            )*
        }

        impl $name {
            $crate::sde::fields::declare!(@read_fn [$($shape)?] [$($shape)?] {
                $($field: $kind($page $(/ $history)? $(| $alias)* $(, $parse)?),)*
            });

            $crate::sde::fields::declare!(
                @hint [$($shape)?] [$($expected)?]
                [$($page),*]
                [$($crate::sde::fields::declare!(@history $page $(/ $history)?)),*]
            );

            $crate::sde::fields::declare!(
                @names [$($shape)?] [$($names)?]
                [$($page),*]
                [$($crate::sde::fields::declare!(@history $page $(/ $history)?)),*]
            );

            $crate::sde::fields::declare!(@merge [$($merge)?] [$($field),*]);

            /// The fields as history members, in the declared order.
            #[inline]
            pub(crate) fn members(&self, o: &mut $crate::write::JsonOut<'_>) {
                $(
                    self.$field.write_member(
                        $crate::write::key!(
                            $crate::sde::fields::declare!(@history $page $(/ $history)?)
                        ),
                        o,
                    );
                )*
            }
        }

        impl $crate::write::WriteJson for $name {
            fn write_json(&self, out: &mut $crate::write::JsonOut<'_>) {
                $crate::sde::fields::declare!(@write self, out, [$($wrapper)?]);
            }
        }
    };

    // The reader. The shape comes twice: once to declare the argument, once as a single
    // token tree that each field can carry (a repeated fragment cannot be used inside
    // another repetition).
    (@read_fn [$($shape:ident)?] $shape_tt:tt {
        $(
            $field:ident: $kind:ident(
                $page:literal $(/ $history:literal)? $(| $alias:literal)* $(, $parse:expr)?
            ),
        )*
    }) => {
        /// Reads every field, in the declared order (the documented one).
        #[inline]
        pub(crate) fn read(
            r: &mut $crate::read::ObjReader<'_, '_>,
            $($shape: $crate::sde::Shape,)?
            errors: &mut $crate::error::Errors,
        ) -> Self {
            Self {
                $(
                    $field: $crate::sde::fields::declare!(
                        @read r, errors, $kind,
                        $crate::sde::fields::declare!(@key $shape_tt $page $(/ $history)?),
                        [$($alias),*] $(, $parse)?
                    ),
                )*
            }
        }
    };

    // The member name a reader looks for.
    (@key [$shape:ident] $page:literal / $history:literal) => {
        $shape.key($page, $history)
    };
    (@key [$($shape:ident)?] $page:literal) => {
        $page
    };

    // The member name history writes.
    (@history $page:literal / $history:literal) => {
        $history
    };
    (@history $page:literal) => {
        $page
    };

    // One field's reader.
    (@read $r:ident, $errors:ident, text, $key:expr, []) => {
        $crate::scalar::Field::text($r, $key, $errors)
    };
    (@read $r:ident, $errors:ident, text, $key:expr, [$($alias:literal),+]) => {
        $crate::scalar::Field::text_any($r, &[$key, $($alias),+], $errors)
    };
    (@read $r:ident, $errors:ident, flag, $key:expr, []) => {
        $crate::scalar::Field::flag($r, $key, $errors)
    };
    (@read $r:ident, $errors:ident, read, $key:expr, [], $parse:expr) => {
        $crate::scalar::Field::read($r, &[$key], $errors, $parse)
    };

    // The hint: the members' names as `a`, `b` or `c`, per shape when they differ.
    (@hint [] [] [$($page:expr),*] [$($history:expr),*]) => {
        /// The members, as an unknown-field error lists them.
        pub(crate) const FIELDS: &'static str = $crate::sde::fields::declare!(@one_of $($page),*);
    };
    (@hint [$shape:ident] [] [$($page:expr),*] [$($history:expr),*]) => {
        /// The members in `shape`, as an unknown-field error lists them.
        pub(crate) fn fields($shape: $crate::sde::Shape) -> &'static str {
            match $shape {
                $crate::sde::Shape::Page => $crate::sde::fields::declare!(@one_of $($page),*),
                $crate::sde::Shape::History => {
                    $crate::sde::fields::declare!(@one_of $($history),*)
                }
            }
        }
    };
    (@hint [$shape:ident] [$expected:expr] [$($page:expr),*] [$($history:expr),*]) => {
        /// What an unknown-field error says is expected in `shape`.
        pub(crate) fn fields($shape: $crate::sde::Shape) -> &'static str {
            $expected
        }
    };

    // The member names in declared order, for checks across fields that report under one.
    (@names $shape:tt [] $page:tt $history:tt) => {};
    (@names [$shape:ident] [$names:ident] [$($page:expr),*] [$($history:expr),*]) => {
        /// The members' names in `shape`, in the declared order.
        pub(crate) fn $names($shape: $crate::sde::Shape) -> &'static [&'static str] {
            match $shape {
                $crate::sde::Shape::Page => &[$($page),*],
                $crate::sde::Shape::History => &[$($history),*],
            }
        }
    };

    // The merge rule, when asked for.
    (@merge [] [$($field:ident),*]) => {};
    (@merge [$merge:ident] [$($field:ident),*]) => {
        /// Later reports overwrite the fields they carry (docs/vocabulary.md, Visit rule).
        pub fn $merge(&mut self, later: Self) {
            $(self.$field.merge(later.$field);)*
        }
    };

    (@one_of $only:expr) => {
        concat!("`", $only, "`")
    };
    (@one_of $first:expr, $last:expr) => {
        concat!("`", $first, "` or `", $last, "`")
    };
    (@one_of $first:expr, $($rest:expr),+) => {
        concat!("`", $first, "`, ", $crate::sde::fields::declare!(@one_of $($rest),+))
    };

    // The writer: an object of the members, wrapped in one more when history wraps it.
    (@write $self:ident, $out:ident, []) => {
        $out.object(|o| $self.members(o))
    };
    (@write $self:ident, $out:ident, [$wrapper:literal]) => {
        $out.object(|o| {
            o.key($crate::write::key!($wrapper));
            o.object(|o| $self.members(o));
        })
    };
}
pub(crate) use declare;

/// Reads an object's fields with `read` (a declared type's `read`), then reports every
/// member it did not take as unknown or repeated, listing `expected`.
#[inline(always)]
pub(super) fn object<'t, 'a, T>(
    json: Node<'t, 'a>,
    errors: &mut Errors,
    expected: &'static str,
    read: impl FnOnce(&mut ObjReader<'t, 'a>, &mut Errors) -> T,
) -> Option<T> {
    let mut r = ObjReader::new(json, errors)?;
    let value = read(&mut r, errors);
    r.finish(errors, expected);
    Some(value)
}
