//! The type-mapping modes of `[events]` (Debezium's `*.handling.mode` properties): how column
//! values are represented in events. Defined once, here; the event model reads them as they
//! are.

use serde::{Deserialize, Serialize};

/// Money's fraction digits (`money.fraction.digits`, default 2).
pub const MONEY_FRACTION_DIGITS: u32 = 2;

/// `decimal.handling.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecimalHandlingMode {
    /// Connect `Decimal` / `VariableScaleDecimal` (bytes).
    #[default]
    Precise,
    /// A JSON double (precision may be lost).
    Double,
    /// The decimal as a string.
    String,
}

/// `binary.handling.mode` (Debezium spells one value with dashes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum BinaryHandlingMode {
    /// Connect bytes (base64 in JSON).
    #[default]
    #[serde(rename = "bytes")]
    Bytes,
    /// A string, standard base64.
    #[serde(rename = "base64")]
    Base64,
    /// A string, URL-safe base64.
    #[serde(rename = "base64-url-safe")]
    Base64UrlSafe,
    /// A string, hex digits.
    #[serde(rename = "hex")]
    Hex,
}

/// `time.precision.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimePrecisionMode {
    /// Millisecond or microsecond types by column precision.
    #[default]
    Adaptive,
    /// Like adaptive, but `time` is always `MicroTime`.
    AdaptiveTimeMicroseconds,
    /// Kafka Connect's `Date`, `Time`, `Timestamp` (milliseconds).
    Connect,
    /// `isostring`: `IsoDate`, `IsoTime`, `IsoTimestamp`, ISO 8601 strings (Debezium 3.x).
    Isostring,
    /// `MicroTime` and `MicroTimestamp` whatever the column precision (dates stay `Date`).
    Microseconds,
    /// `NanoTime` and `NanoTimestamp` (dates stay `Date`).
    Nanoseconds,
}

/// `hstore.handling.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HstoreHandlingMode {
    /// `io.debezium.data.Json`: the map as a JSON object string.
    #[default]
    Json,
    /// A Connect map of string to optional string.
    Map,
}

/// `interval.handling.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IntervalHandlingMode {
    /// `MicroDuration`, microseconds.
    #[default]
    Numeric,
    /// `io.debezium.time.Interval`, an ISO 8601 string.
    String,
}

/// The type-mapping options of a connector, as the event builder takes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TypeModes {
    pub decimal: DecimalHandlingMode,
    pub binary: BinaryHandlingMode,
    pub time_precision: TimePrecisionMode,
    pub interval: IntervalHandlingMode,
    pub hstore: HstoreHandlingMode,
    /// `include.unknown.datatypes`: columns of types Debezium has no mapping for are emitted
    /// as the bytes of their text form (else left out of events altogether).
    pub include_unknown: bool,
    /// `money.fraction.digits`: the scale of money values.
    pub money_fraction_digits: u32,
}

impl Default for TypeModes {
    fn default() -> Self {
        TypeModes {
            decimal: DecimalHandlingMode::default(),
            binary: BinaryHandlingMode::default(),
            time_precision: TimePrecisionMode::default(),
            interval: IntervalHandlingMode::default(),
            hstore: HstoreHandlingMode::default(),
            include_unknown: false,
            money_fraction_digits: MONEY_FRACTION_DIGITS,
        }
    }
}
