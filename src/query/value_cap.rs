//! Per-value size caps for the built-in functions whose output can be far larger than their
//! input (issue 14, SQL safety): `repeat`, `lpad`, `rpad`, `array_repeat`, and the list forms of
//! `range` / `generate_series`. DataFusion's memory pool does not see a scalar function's
//! output buffer, so `SELECT repeat('x', 2000000000)` would allocate 2 GB past
//! `WAYLOG_QUERY_MEMORY`. Each is replaced on every session by a wrapper that estimates the
//! largest value a call can produce from its arguments, before running it, and refuses the
//! statement past `WAYLOG_QUERY_MAX_VALUE_BYTES` (`400 execution_error`, the detail names the
//! setting). The estimate is an upper bound over the batch (longest string × largest count),
//! so a batch mixing one long string and one large count elsewhere may be refused too.
//! Date and timestamp `range`s (interval steps) are not estimated.

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::{DataType, FieldRef, Int64Type};
use datafusion::common::{ScalarValue, exec_err};
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
};
use datafusion::prelude::SessionContext;

/// Default `WAYLOG_QUERY_MAX_VALUE_BYTES`.
pub const DEFAULT_MAX_VALUE_BYTES: usize = 16 << 20;

/// How a function's output size follows from its arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Growth {
    /// `repeat(s, n)`: bytes of `s` × `n`.
    Repeat,
    /// `lpad(s, n[, fill])` / `rpad`: `n` characters of at most 4 bytes.
    Pad,
    /// `array_repeat(x, n)`: `n` elements of the size of `x` (at least 8 bytes).
    ArrayRepeat,
    /// `range(stop)` / `range(start, stop[, step])` over integers: 8 bytes per element.
    Range,
}

/// Replace the growing built-ins on `ctx` by capped wrappers of themselves.
pub fn register(ctx: &SessionContext, max_bytes: usize) {
    let wrap = |inner: Arc<ScalarUDF>, growth| {
        ctx.register_udf(ScalarUDF::new_from_impl(Capped {
            inner: inner.as_ref().clone(),
            growth,
            max_bytes,
        }));
    };
    wrap(datafusion::functions::string::repeat(), Growth::Repeat);
    wrap(datafusion::functions::unicode::lpad(), Growth::Pad);
    wrap(datafusion::functions::unicode::rpad(), Growth::Pad);
    wrap(
        datafusion::functions_nested::repeat::array_repeat_udf(),
        Growth::ArrayRepeat,
    );
    wrap(
        datafusion::functions_nested::range::range_udf(),
        Growth::Range,
    );
    wrap(
        datafusion::functions_nested::range::gen_series_udf(),
        Growth::Range,
    );
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Capped {
    inner: ScalarUDF,
    growth: Growth,
    max_bytes: usize,
}

/// The longest value of a string argument, in bytes (0 for other types or all nulls).
fn longest_string(v: &ColumnarValue) -> usize {
    match v {
        ColumnarValue::Scalar(s) => match s {
            ScalarValue::Utf8(Some(x))
            | ScalarValue::LargeUtf8(Some(x))
            | ScalarValue::Utf8View(Some(x)) => x.len(),
            _ => 0,
        },
        ColumnarValue::Array(a) => {
            let lens: Box<dyn Iterator<Item = usize>> = match a.data_type() {
                DataType::Utf8 => Box::new(a.as_string::<i32>().iter().flatten().map(str::len)),
                DataType::LargeUtf8 => {
                    Box::new(a.as_string::<i64>().iter().flatten().map(str::len))
                }
                DataType::Utf8View => Box::new(a.as_string_view().iter().flatten().map(str::len)),
                _ => Box::new(std::iter::empty()),
            };
            lens.max().unwrap_or(0)
        }
    }
}

/// The largest value of an integer argument (0 for other types or all nulls).
fn largest_int(v: &ColumnarValue) -> i128 {
    let of_scalar = |s: &ScalarValue| match s.cast_to(&DataType::Int64) {
        Ok(ScalarValue::Int64(Some(n))) => i128::from(n),
        _ => 0,
    };
    match v {
        ColumnarValue::Scalar(s) => of_scalar(s),
        ColumnarValue::Array(a) => match datafusion::arrow::compute::cast(a, &DataType::Int64) {
            Ok(ints) => ints
                .as_primitive::<Int64Type>()
                .iter()
                .flatten()
                .map(i128::from)
                .max()
                .unwrap_or(0),
            Err(_) => 0,
        },
    }
}

/// The smallest value of an integer argument (0 for other types or all nulls).
fn smallest_int(v: &ColumnarValue) -> i128 {
    -largest_int(&negate(v))
}

fn negate(v: &ColumnarValue) -> ColumnarValue {
    match v {
        ColumnarValue::Scalar(s) => ColumnarValue::Scalar(
            s.arithmetic_negate()
                .unwrap_or_else(|_| ScalarValue::Int64(None)),
        ),
        ColumnarValue::Array(a) => match datafusion::arrow::compute::kernels::numeric::neg(a) {
            Ok(n) => ColumnarValue::Array(n),
            Err(_) => ColumnarValue::Scalar(ScalarValue::Int64(None)),
        },
    }
}

impl Capped {
    /// An upper bound of the largest value a call over `args` produces, in bytes.
    fn estimate(&self, args: &[ColumnarValue]) -> i128 {
        let int_args = || {
            args.iter().all(|a| {
                let t = a.data_type();
                t.is_integer() || t == DataType::Null
            })
        };
        match (self.growth, args) {
            (Growth::Repeat, [s, n, ..]) => longest_string(s) as i128 * largest_int(n).max(0),
            (Growth::Pad, [_, n, ..]) => largest_int(n).max(0) * 4,
            (Growth::ArrayRepeat, [x, n, ..]) => {
                (longest_string(x).max(8) as i128) * largest_int(n).max(0)
            }
            (Growth::Range, [stop]) if int_args() => largest_int(stop).max(0) * 8,
            (Growth::Range, [start, stop, rest @ ..]) if int_args() => {
                let span = largest_int(stop) - smallest_int(start);
                let step = rest.first().map_or(1, |s| {
                    let (lo, hi) = (smallest_int(s).abs(), largest_int(s).abs());
                    lo.min(hi).max(1)
                });
                span.abs() / step * 8
            }
            _ => 0,
        }
    }
}

impl ScalarUDFImpl for Capped {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn aliases(&self) -> &[String] {
        self.inner.aliases()
    }

    fn signature(&self) -> &Signature {
        self.inner.signature()
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        self.inner.return_type(arg_types)
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        self.inner.return_field_from_args(args)
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        self.inner.coerce_types(arg_types)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let size = self.estimate(&args.args);
        if size > self.max_bytes as i128 {
            return exec_err!(
                "{}() would produce a value of up to {size} bytes; the limit is {} bytes \
                 (WAYLOG_QUERY_MAX_VALUE_BYTES)",
                self.name(),
                self.max_bytes
            );
        }
        self.inner.invoke_with_args(args)
    }
}

#[cfg(test)]
mod tests;
