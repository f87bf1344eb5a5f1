//! From an Arrow key column to the kernels' key type: the macros that pick a [`KeyAccess`]
//! implementation for a column's layout (integers, the three string layouts, short string
//! views as `u128` keys), so one generic kernel is monomorphised per layout.
//!
//! [`KeyAccess`]: super::keys::KeyAccess

use arrow_array::ArrayRef;
use arrow_schema::DataType;

/// Call `$body` with `$k` bound to a `KeyAccess` view of an Arrow key array; `$err` is the
/// expression returned for unsupported types.
#[macro_export]
macro_rules! with_keys {
    ($arr:expr, $k:ident, $body:expr, $err:expr) => {{
        use arrow_array::Array as _;
        use $crate::summary::keys::StrKeys;
        let arr: &arrow_array::ArrayRef = $arr;
        match arr.data_type() {
            arrow_schema::DataType::Int64 => {
                let a = arr
                    .as_any()
                    .downcast_ref::<arrow_array::Int64Array>()
                    .expect("Int64");
                let $k: &[i64] = a.values().as_ref();
                $body
            }
            arrow_schema::DataType::Utf8 => {
                let a = arr
                    .as_any()
                    .downcast_ref::<arrow_array::StringArray>()
                    .expect("Utf8");
                let $k = StrKeys(a);
                $body
            }
            arrow_schema::DataType::LargeUtf8 => {
                let a = arr
                    .as_any()
                    .downcast_ref::<arrow_array::LargeStringArray>()
                    .expect("LargeUtf8");
                let $k = StrKeys(a);
                $body
            }
            arrow_schema::DataType::Utf8View => {
                let a = arr
                    .as_any()
                    .downcast_ref::<arrow_array::StringViewArray>()
                    .expect("Utf8View");
                let $k = StrKeys(a);
                $body
            }
            _ => $err,
        }
    }};
}

/// Call `$body` with `$k` bound to a `Vec` of `KeyAccess` views, one per chunk of a key column;
/// `$err` is the expression returned for unsupported or mixed chunk types.
#[macro_export]
macro_rules! with_key_chunks {
    ($chunks:expr, $k:ident, $body:expr, $err:expr) => {{
        use arrow_array::Array as _;
        use $crate::summary::keys::StrKeys;
        let chunks: &[arrow_array::ArrayRef] = $chunks;
        match chunks.first().map(|a| a.data_type()) {
            Some(arrow_schema::DataType::Int64) => {
                let views: Option<Vec<&[i64]>> = chunks
                    .iter()
                    .map(|a| {
                        a.as_any()
                            .downcast_ref::<arrow_array::Int64Array>()
                            .map(|a| a.values().as_ref())
                    })
                    .collect();
                match views {
                    Some($k) => $body,
                    None => $err,
                }
            }
            Some(arrow_schema::DataType::Utf8) => {
                let views: Option<Vec<_>> = chunks
                    .iter()
                    .map(|a| {
                        a.as_any()
                            .downcast_ref::<arrow_array::StringArray>()
                            .map(StrKeys)
                    })
                    .collect();
                match views {
                    Some($k) => $body,
                    None => $err,
                }
            }
            Some(arrow_schema::DataType::LargeUtf8) => {
                let views: Option<Vec<_>> = chunks
                    .iter()
                    .map(|a| {
                        a.as_any()
                            .downcast_ref::<arrow_array::LargeStringArray>()
                            .map(StrKeys)
                    })
                    .collect();
                match views {
                    Some($k) => $body,
                    None => $err,
                }
            }
            Some(arrow_schema::DataType::Utf8View) => {
                let arrs: Option<Vec<&arrow_array::StringViewArray>> = chunks
                    .iter()
                    .map(|a| a.as_any().downcast_ref::<arrow_array::StringViewArray>())
                    .collect();
                match arrs {
                    // short ids: one u128 per key, the integer kernel's speed
                    Some(arrs) if arrs.iter().all(|a| $crate::summary::keys::all_inline(a)) => {
                        let $k: Vec<$crate::summary::keys::InlineViews> = arrs
                            .iter()
                            .map(|a| $crate::summary::keys::InlineViews(a.views().as_ref()))
                            .collect();
                        $body
                    }
                    Some(arrs) => {
                        let $k: Vec<_> = arrs.into_iter().map(StrKeys).collect();
                        $body
                    }
                    None => $err,
                }
            }
            _ => $err,
        }
    }};
}

/// Whether a key array has a layout the kernels accept.
pub fn supported_key_type(arr: &ArrayRef) -> bool {
    matches!(
        arr.data_type(),
        DataType::Int64 | DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
    )
}
