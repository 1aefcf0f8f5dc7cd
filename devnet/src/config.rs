//! Devnet configuration: subnets, block time and port, from a TOML file and flags.
//!
//! ```toml
//! block_time = "500ms"
//! port = 0                      # 0 = pick a free port
//! dev_accounts = ["Alice", "Bob"]   # funded at genesis (default: Alice … Ferdie)
//! dev_balance_tao = 1000000
//! state_pruning = 256            # blocks whose state is kept, or "archive"
//!
//! [[subnet]]
//! netuid = 1
//! pow_enabled = true
//! difficulty = 10000
//! min_difficulty = 1
//! max_difficulty = 18446744073709551615   # u64 beyond TOML's i64: also "18446744073709551615"
//! max_uids = 256
//! max_registrations_per_block = 3
//! burn_half_life = 360
//! burn_increase_mult = 1.26
//! ```
//!
//! Every error names the field (`subnet.difficulty (line 12): …`), and the block time is
//! bounded ([`MIN_BLOCK_TIME`] ..= [`MAX_BLOCK_TIME`]) wherever it comes from: the file, the
//! `--block-time` / `--devnet-block-time` flags ([`parse_block_time`]) or a config built in
//! code ([`DevnetConfig::validate`]).

use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

use crate::accounts::{dev_account, DEV_ACCOUNTS};
use thiserror::Error;

/// Why a configuration cannot be used (each one line, for exit code 2).
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ConfigError {
    /// The TOML could not be read or parsed.
    #[error("devnet config: {0}")]
    Parse(String),
    /// A value is out of range or inconsistent.
    #[error("devnet config: {0}")]
    Invalid(String),
}

/// Shortest block time: faster, and the devnet spends its time producing blocks.
pub const MIN_BLOCK_TIME: Duration = Duration::from_millis(50);
/// Longest block time: beyond it a rehearsal would wait for ever (and huge values overflow
/// the block timer).
pub const MAX_BLOCK_TIME: Duration = Duration::from_secs(3600);

/// One subnet as the devnet creates it at genesis.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SubnetConfig {
    /// Subnet id (1..65535; 0 is root and always exists without PoW).
    pub netuid: u16,
    /// `NetworkPowRegistrationAllowed`.
    #[serde(default = "yes")]
    pub pow_enabled: bool,
    /// Starting `Difficulty`.
    #[serde(default = "default_difficulty", deserialize_with = "big_u64")]
    pub difficulty: u64,
    /// `MinDifficulty`.
    #[serde(default = "one", deserialize_with = "big_u64")]
    pub min_difficulty: u64,
    /// `MaxDifficulty` (up to 18446744073709551615: TOML integers stop at i64, so larger
    /// values are read from the bare literal or a string).
    #[serde(default = "max_u64", deserialize_with = "big_u64")]
    pub max_difficulty: u64,
    /// `MaxAllowedUids`.
    #[serde(default = "default_max_uids")]
    pub max_uids: u16,
    /// `MaxRegistrationsPerBlock`.
    #[serde(default = "default_max_regs")]
    pub max_registrations_per_block: u16,
    /// `BurnHalfLife`: blocks for the difficulty to decay by half.
    #[serde(default = "default_half_life")]
    pub burn_half_life: u16,
    /// `BurnIncreaseMult`: factor applied to the difficulty after each PoW registration.
    #[serde(default = "default_mult")]
    pub burn_increase_mult: f64,
}

fn yes() -> bool {
    true
}
fn one() -> u64 {
    1
}
fn max_u64() -> u64 {
    u64::MAX
}
fn default_difficulty() -> u64 {
    10_000
}
fn default_max_uids() -> u16 {
    256
}
fn default_max_regs() -> u16 {
    3
}
fn default_half_life() -> u16 {
    360
}
fn default_mult() -> f64 {
    1.26
}

impl SubnetConfig {
    /// A subnet with every default and the given netuid and PoW flag.
    pub fn new(netuid: u16, pow_enabled: bool) -> Self {
        Self {
            netuid,
            pow_enabled,
            difficulty: default_difficulty(),
            min_difficulty: one(),
            max_difficulty: max_u64(),
            max_uids: default_max_uids(),
            max_registrations_per_block: default_max_regs(),
            burn_half_life: default_half_life(),
            burn_increase_mult: default_mult(),
        }
    }
}

/// Everything the devnet needs to start.
#[derive(Clone, Debug, PartialEq)]
pub struct DevnetConfig {
    /// Time between blocks.
    pub block_time: Duration,
    /// TCP port on 127.0.0.1 (0 = any free port).
    pub port: u16,
    /// Subnets at genesis.
    pub subnets: Vec<SubnetConfig>,
    /// Development accounts (`Alice` … `Ferdie`) funded at genesis.
    pub dev_accounts: Vec<String>,
    /// Free balance of each funded development account, in TAO.
    pub dev_balance_tao: u64,
    /// How many of the newest final blocks keep their state (queries at older blocks get
    /// the node's "State already discarded" error); blocks not final yet always keep
    /// theirs, as on a node.
    pub state_pruning: StatePruning,
    /// Which RPC methods are served, as a node's `--rpc-methods`.
    pub rpc_methods: RpcMethods,
    /// Connections served at once, as a node's `--rpc-max-connections` (1..=65536).
    pub rpc_max_connections: u32,
    /// A connection that has sent no request for this long and holds no subscription is
    /// closed (1s..1day), so quiet clients cannot hold every connection slot.
    pub rpc_idle_timeout: Duration,
    /// How many blocks behind the best the newest final block is, as a finality gadget
    /// (GRANDPA) lags the best block. Only blocks above it can be re-organised away; 0
    /// makes every block final as it is produced (no re-organisations).
    pub finality_lag: u32,
}

/// Connections served at once by default (a node's default is 100; a farm's shards and
/// test clients together need more).
pub const DEFAULT_RPC_MAX_CONNECTIONS: u32 = 512;

/// Blocks between the best block and the newest final one by default.
pub const DEFAULT_FINALITY_LAG: u32 = 3;

/// The most blocks finality may lag the best block (a longer lag is a stalled gadget, not
/// a configuration).
pub const MAX_FINALITY_LAG: u32 = 64;

/// How long a connection may sit without a request or a subscription by default.
pub const DEFAULT_RPC_IDLE_TIMEOUT: Duration = Duration::from_secs(300);

/// Which RPC methods the devnet serves, as a node's `--rpc-methods`: the unsafe ones change
/// the node's pool (`author_removeExtrinsic`) or dump whole storage prefixes at once
/// (`state_getKeys`, `state_getPairs`: use `state_getKeysPaged`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RpcMethods {
    /// Only the safe methods; an unsafe one answers "RPC call is unsafe to be called
    /// externally".
    #[default]
    Safe,
    /// Every method.
    Unsafe,
}

/// State pruning, as a node's `--state-pruning` sets it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatePruning {
    /// Keep the state of every block (`archive`).
    Archive,
    /// Keep the state of the newest N blocks (N ≥ 1; a node's default is 256).
    Keep(u32),
}

impl Default for StatePruning {
    /// 256 blocks, a node's default.
    fn default() -> Self {
        StatePruning::Keep(256)
    }
}

impl fmt::Display for StatePruning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StatePruning::Archive => f.write_str("archive"),
            StatePruning::Keep(n) => write!(f, "{n}"),
        }
    }
}

impl std::str::FromStr for StatePruning {
    type Err = ConfigError;

    /// `archive` or a number of blocks from 1 to 4294967295.
    fn from_str(text: &str) -> Result<Self, ConfigError> {
        let text = text.trim();
        if text == "archive" {
            return Ok(StatePruning::Archive);
        }
        match text.replace('_', "").parse::<u32>() {
            Ok(n) if n >= 1 => Ok(StatePruning::Keep(n)),
            _ => Err(ConfigError::Invalid(format!(
                "state pruning must be 'archive' or a number of blocks from 1 to 4294967295, \
                 got '{text}'"
            ))),
        }
    }
}

impl Default for DevnetConfig {
    /// netuid 1 with PoW (difficulty 10000, 256 uids, 3 registrations per block) and
    /// netuid 2 without, 12-second blocks, a free port.
    fn default() -> Self {
        Self {
            block_time: Duration::from_secs(12),
            port: 0,
            subnets: vec![SubnetConfig::new(1, true), SubnetConfig::new(2, false)],
            dev_accounts: DEV_ACCOUNTS.iter().map(|(n, _)| n.to_string()).collect(),
            dev_balance_tao: 1_000_000,
            state_pruning: StatePruning::default(),
            rpc_methods: RpcMethods::default(),
            rpc_max_connections: DEFAULT_RPC_MAX_CONNECTIONS,
            rpc_idle_timeout: DEFAULT_RPC_IDLE_TIMEOUT,
            finality_lag: DEFAULT_FINALITY_LAG,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    block_time: Option<String>,
    port: Option<u16>,
    #[serde(default)]
    subnet: Vec<SubnetConfig>,
    dev_accounts: Option<Vec<String>>,
    #[serde(default, deserialize_with = "some_big_u64")]
    dev_balance_tao: Option<u64>,
    state_pruning: Option<toml::Value>,
    finality_lag: Option<u32>,
}

/// A u64 from a TOML integer (i64) or a string of decimal digits (underscores allowed), so
/// values above i64::MAX can be written.
fn big_u64<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    struct BigU64;
    impl Visitor<'_> for BigU64 {
        type Value = u64;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an integer 0..18446744073709551615 (a number or a string of digits)")
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<u64, E> {
            u64::try_from(v).map_err(|_| {
                E::custom(format!("{v} is negative: expected 0..18446744073709551615"))
            })
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
            Ok(v)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<u64, E> {
            v.trim()
                .replace('_', "")
                .parse()
                .map_err(|_| E::custom(format!("'{v}' is not an integer 0..18446744073709551615")))
        }
    }
    deserializer.deserialize_any(BigU64)
}

fn some_big_u64<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    big_u64(deserializer).map(Some)
}

impl DevnetConfig {
    /// Reads a TOML configuration; anything it leaves out keeps the defaults (a file with
    /// `[[subnet]]` tables replaces the default subnets).
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let file: FileConfig = match toml::from_str(text) {
            Ok(file) => file,
            // TOML integers are i64: a bare u64 beyond it (the documented
            // `max_difficulty = 18446744073709551615`) is read as the string it spells.
            Err(first) => match quote_big_integers(text) {
                Some(quoted) => toml::from_str(&quoted).map_err(|e| parse_error(&quoted, &e))?,
                None => return Err(parse_error(text, &first)),
            },
        };
        let mut config = Self::default();
        if let Some(t) = file.block_time {
            config.block_time = parse_block_time(&t).map_err(|e| match e {
                ConfigError::Invalid(why) | ConfigError::Parse(why) => {
                    ConfigError::Invalid(format!("block_time: {why}"))
                }
            })?;
        }
        if let Some(port) = file.port {
            config.port = port;
        }
        if !file.subnet.is_empty() {
            config.subnets = file.subnet;
        }
        if let Some(accounts) = file.dev_accounts {
            config.dev_accounts = accounts;
        }
        if let Some(balance) = file.dev_balance_tao {
            config.dev_balance_tao = balance;
        }
        if let Some(pruning) = file.state_pruning {
            let text = match pruning {
                toml::Value::String(s) => s,
                other => other.to_string(),
            };
            config.state_pruning = text.parse().map_err(|e| match e {
                ConfigError::Invalid(why) | ConfigError::Parse(why) => {
                    ConfigError::Invalid(format!("state_pruning: {why}"))
                }
            })?;
        }
        if let Some(lag) = file.finality_lag {
            config.finality_lag = lag;
        }
        config.validate()?;
        Ok(config)
    }

    /// Public keys of the funded development accounts.
    pub fn funded_accounts(&self) -> impl Iterator<Item = [u8; 32]> + '_ {
        self.dev_accounts
            .iter()
            .filter_map(|name| dev_account(name))
    }

    /// Checks ranges and consistency.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Some(unknown) = self.dev_accounts.iter().find(|n| dev_account(n).is_none()) {
            return Err(ConfigError::Invalid(format!(
                "dev account '{unknown}' is not one of Alice, Bob, Charlie, Dave, Eve, Ferdie"
            )));
        }
        if self.state_pruning == StatePruning::Keep(0) {
            return Err(ConfigError::Invalid(
                "state_pruning: keep the state of at least 1 block".into(),
            ));
        }
        if !(1..=65_536).contains(&self.rpc_max_connections) {
            return Err(ConfigError::Invalid(format!(
                "rpc max connections must be from 1 to 65536, got {}",
                self.rpc_max_connections
            )));
        }
        if !(Duration::from_secs(1)..=Duration::from_secs(86_400)).contains(&self.rpc_idle_timeout)
        {
            return Err(ConfigError::Invalid(format!(
                "rpc idle timeout must be from 1s to 1day, got {}",
                humantime::format_duration(self.rpc_idle_timeout)
            )));
        }
        if self.finality_lag > MAX_FINALITY_LAG {
            return Err(ConfigError::Invalid(format!(
                "finality lag must be from 0 to {MAX_FINALITY_LAG} blocks, got {}",
                self.finality_lag
            )));
        }
        check_block_time(self.block_time).map_err(|why| {
            ConfigError::Invalid(format!(
                "block_time: {why}, got {}",
                humantime::format_duration(self.block_time)
            ))
        })?;
        let mut seen = std::collections::BTreeSet::new();
        for s in &self.subnets {
            let bad =
                |why: String| Err(ConfigError::Invalid(format!("subnet {}: {why}", s.netuid)));
            if s.netuid == 0 {
                return bad("netuid 0 is the root subnet and cannot be configured".into());
            }
            if !seen.insert(s.netuid) {
                return bad("listed twice".into());
            }
            if s.difficulty == 0 || s.min_difficulty == 0 {
                return bad("difficulties must be at least 1".into());
            }
            if s.min_difficulty > s.max_difficulty {
                return bad("min_difficulty is above max_difficulty".into());
            }
            if s.burn_half_life == 0 {
                return bad("burn_half_life must be at least 1".into());
            }
            if !(s.burn_increase_mult.is_finite() && s.burn_increase_mult >= 1.0) {
                return bad("burn_increase_mult must be a number >= 1".into());
            }
        }
        Ok(())
    }
}

/// `500ms`, `12s`, `1m` (humantime syntax), within [`MIN_BLOCK_TIME`] ..=
/// [`MAX_BLOCK_TIME`]: the one parser of every block time a user gives.
pub fn parse_block_time(text: &str) -> Result<Duration, ConfigError> {
    let text = text.trim();
    let time = humantime::parse_duration(text).map_err(|e| {
        ConfigError::Invalid(format!(
            "'{text}' is not a duration like 500ms or 12s ({e})"
        ))
    })?;
    check_block_time(time).map_err(|why| ConfigError::Invalid(format!("{why}, got '{text}'")))?;
    Ok(time)
}

/// Whether a block time is within bounds; the error says what the bounds are.
fn check_block_time(time: Duration) -> Result<(), String> {
    if (MIN_BLOCK_TIME..=MAX_BLOCK_TIME).contains(&time) {
        Ok(())
    } else {
        Err(format!(
            "must be between {} and {}",
            humantime::format_duration(MIN_BLOCK_TIME),
            humantime::format_duration(MAX_BLOCK_TIME)
        ))
    }
}

/// A TOML error as one line naming the field: `subnet.difficulty (line 9): invalid type…`.
fn parse_error(text: &str, error: &toml::de::Error) -> ConfigError {
    let message = error
        .message()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let Some(span) = error.span() else {
        return ConfigError::Parse(message);
    };
    let start = span.start.min(text.len());
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let line_number = text[..line_start].matches('\n').count() + 1;
    let line = text[line_start..].lines().next().unwrap_or("");
    let header = |l: &str| l.trim_matches(['[', ']', ' ']).to_string();
    let is_header = line.trim().starts_with('[');
    let table = if is_header {
        Some(header(line.trim()))
    } else {
        text[..line_start]
            .lines()
            .rev()
            .map(str::trim)
            .find(|l| l.starts_with('['))
            .map(header)
    };
    let key = line
        .split_once('=')
        .map(|(key, _)| key.trim().trim_matches('"').to_string())
        .filter(|key| !key.is_empty() && !is_header);
    let field = match (table, key) {
        (Some(table), Some(key)) => format!("{table}.{key}"),
        (None, Some(key)) => key,
        (Some(table), None) if is_header || line.trim().is_empty() => table,
        _ => String::new(),
    };
    if field.is_empty() {
        ConfigError::Parse(format!("line {line_number}: {message}"))
    } else {
        ConfigError::Parse(format!("{field} (line {line_number}): {message}"))
    }
}

/// The text with every bare `key = DIGITS` beyond i64 quoted (`key = "DIGITS"`), or `None`
/// when there is none (so the first error stands).
fn quote_big_integers(text: &str) -> Option<String> {
    let mut changed = false;
    let lines: Vec<String> = text
        .lines()
        .map(|line| {
            let Some((key, rest)) = line.split_once('=') else {
                return line.to_string();
            };
            let (value, comment) = match rest.split_once('#') {
                Some((value, comment)) => (value, Some(comment)),
                None => (rest, None),
            };
            let digits = value.trim().replace('_', "");
            let big = !digits.is_empty()
                && digits.chars().all(|c| c.is_ascii_digit())
                && digits.parse::<i64>().is_err();
            if !big || key.trim().starts_with('#') {
                return line.to_string();
            }
            changed = true;
            match comment {
                Some(comment) => format!("{key}= \"{}\" #{comment}", value.trim()),
                None => format!("{key}= \"{}\"", value.trim()),
            }
        })
        .collect();
    changed.then(|| lines.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_issue() {
        let c = DevnetConfig::default();
        assert_eq!(c.subnets.len(), 2);
        let s1 = &c.subnets[0];
        assert_eq!(
            (s1.netuid, s1.pow_enabled, s1.difficulty),
            (1, true, 10_000)
        );
        assert_eq!((s1.max_uids, s1.max_registrations_per_block), (256, 3));
        assert_eq!((c.subnets[1].netuid, c.subnets[1].pow_enabled), (2, false));
        assert_eq!(c.block_time, Duration::from_secs(12));
    }

    #[test]
    fn toml_overrides_and_validates() {
        let c = DevnetConfig::from_toml(
            "block_time = \"300ms\"\nport = 9944\n[[subnet]]\nnetuid = 7\ndifficulty = 50\n",
        )
        .unwrap();
        assert_eq!(c.block_time, Duration::from_millis(300));
        assert_eq!(c.port, 9944);
        assert_eq!(
            c.subnets,
            vec![SubnetConfig {
                difficulty: 50,
                ..SubnetConfig::new(7, true)
            }]
        );

        for (text, want) in [
            ("[[subnet]]\nnetuid = 0\n", "root subnet"),
            (
                "[[subnet]]\nnetuid = 3\n[[subnet]]\nnetuid = 3\n",
                "listed twice",
            ),
            ("[[subnet]]\nnetuid = 3\ndifficulty = 0\n", "at least 1"),
            (
                "block_time = \"5ms\"\n",
                "block_time: must be between 50ms and 1h, got '5ms'",
            ),
            (
                "block_time = \"2h\"\n",
                "block_time: must be between 50ms and 1h, got '2h'",
            ),
            (
                "block_time = \"soon\"\n",
                "block_time: 'soon' is not a duration",
            ),
            ("colour = 1\n", "colour (line 1): unknown field"),
            ("dev_accounts = [\"Mallory\"]\n", "dev account 'Mallory'"),
        ] {
            let err = DevnetConfig::from_toml(text).unwrap_err().to_string();
            assert!(err.contains(want), "{text:?}: {err}");
        }
    }

    #[test]
    fn the_documented_max_difficulty_parses() {
        let docs = "[[subnet]]\nnetuid = 1\nmax_difficulty = 18446744073709551615\n";
        let c = DevnetConfig::from_toml(docs).unwrap();
        assert_eq!(c.subnets[0].max_difficulty, u64::MAX);
        let with_comment = "[[subnet]]\nnetuid = 1\nmax_difficulty = 18446744073709551615 # u64\n";
        assert_eq!(
            DevnetConfig::from_toml(with_comment).unwrap().subnets[0].max_difficulty,
            u64::MAX
        );
        let quoted = "[[subnet]]\nnetuid = 1\nmax_difficulty = \"18_446_744_073_709_551_615\"\n";
        assert_eq!(
            DevnetConfig::from_toml(quoted).unwrap().subnets[0].max_difficulty,
            u64::MAX
        );
        let balance = "dev_balance_tao = \"10000000000000000000\"\n";
        assert_eq!(
            DevnetConfig::from_toml(balance).unwrap().dev_balance_tao,
            10_000_000_000_000_000_000
        );
    }

    #[test]
    fn every_toml_error_names_its_field() {
        for (text, want) in [
            (
                "[[subnet]]\nnetuid = 1\nmax_difficulty = 18446744073709551616\n",
                "subnet.max_difficulty (line 3)",
            ),
            (
                "[[subnet]]\nnetuid = 1\ndifficulty = -5\n",
                "subnet.difficulty (line 3): -5 is negative",
            ),
            (
                "[[subnet]]\nnetuid = 1\nmin_difficulty = \"lots\"\n",
                "subnet.min_difficulty (line 3): 'lots' is not an integer",
            ),
            ("port = 70000\n", "port (line 1)"),
            ("port = \"x\"\n", "port (line 1)"),
            (
                "[[subnet]]\nnetuid = 1\nmax_uids = \n",
                "subnet.max_uids (line 3)",
            ),
            ("[[subnet]]\npow_enabled = true\n", "subnet"),
            ("block_time = 5\n", "block_time (line 1)"),
            (
                "dev_balance_tao = -1\n",
                "dev_balance_tao (line 1): -1 is negative",
            ),
        ] {
            let err = DevnetConfig::from_toml(text).unwrap_err().to_string();
            assert!(err.contains(want), "{text:?}: {err} should say {want}");
            assert!(!err.contains('\n'), "{err}");
        }
    }

    #[test]
    fn block_times_are_bounded_from_flags_files_and_code() {
        for text in ["0s", "1ns", "49ms", "300000000000years", "61m"] {
            let err = parse_block_time(text).unwrap_err().to_string();
            assert!(err.contains("must be between 50ms and 1h"), "{text}: {err}");
        }
        assert!(parse_block_time("soon")
            .unwrap_err()
            .to_string()
            .contains("not a duration"));
        assert_eq!(parse_block_time("50ms").unwrap(), MIN_BLOCK_TIME);
        assert_eq!(parse_block_time("1h").unwrap(), MAX_BLOCK_TIME);
        for block_time in [
            Duration::ZERO,
            Duration::from_nanos(1),
            Duration::from_secs(u64::MAX),
        ] {
            let config = DevnetConfig {
                block_time,
                ..DevnetConfig::default()
            };
            let err = config.validate().unwrap_err().to_string();
            assert!(
                err.starts_with("devnet config: block_time: must be between"),
                "{err}"
            );
        }
    }

    #[test]
    fn state_pruning_is_a_number_of_blocks_or_archive() {
        let keep = DevnetConfig::from_toml("state_pruning = 1000\n").unwrap();
        assert_eq!(keep.state_pruning, StatePruning::Keep(1000));
        let archive = DevnetConfig::from_toml("state_pruning = \"archive\"\n").unwrap();
        assert_eq!(archive.state_pruning, StatePruning::Archive);
        assert_eq!(
            DevnetConfig::default().state_pruning,
            StatePruning::Keep(256)
        );
        for bad in [
            "state_pruning = 0\n",
            "state_pruning = -3\n",
            "state_pruning = \"all\"\n",
        ] {
            let e = DevnetConfig::from_toml(bad).unwrap_err().to_string();
            assert!(
                e.starts_with("devnet config: state_pruning: state pruning must be 'archive' or"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn finality_lags_the_best_block_by_0_to_64_blocks() {
        assert_eq!(DevnetConfig::default().finality_lag, DEFAULT_FINALITY_LAG);
        assert_eq!(
            DevnetConfig::from_toml("finality_lag = 0\n")
                .unwrap()
                .finality_lag,
            0
        );
        assert_eq!(
            DevnetConfig::from_toml("finality_lag = 64\n")
                .unwrap()
                .finality_lag,
            64
        );
        let e = DevnetConfig::from_toml("finality_lag = 65\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("finality lag must be from 0 to 64 blocks, got 65"),
            "{e}"
        );
        assert!(DevnetConfig::from_toml("finality_lag = -1\n").is_err());
    }
}
